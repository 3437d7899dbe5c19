"""The rulebook loader: the built-in rules are complete and legally anchored, bad files fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.codes import Channel, Disposition
from routing.engine import match_rules
from routing.errors import RulebookError
from routing.rulebook import DEFAULT_RULEBOOK_DIR, FLAGS, MANIFEST_NAME, Rulebook, load_rulebook
from routing.schemas import Letter

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "xinfang-gongzuo-tiaoli-2022.md"
REGULATION = "信访工作条例（2022）"

MANIFEST = """\
version: test-1
negation: {window: 6, cues: [没有, 不想]}
hypothetical: {window: 12, scope: sentence, cues: [如果]}
terms:
  court: [法院, 法庭]
"""

GOOD_RULE = """\
  - id: R-T-01
    title: 测试规则
    kind: channel
    channel: litigation
    priority: 50
    legal_basis: {article: 第二十二条第二款, quote: 涉法涉诉信件}
    triggers:
      - keywords: [起诉]
    examples:
      match: [我已向法院起诉。, 我们起诉了公司。]
      no_match: [我没有起诉。, 请修路灯。]
"""


@pytest.fixture(scope="module")
def rulebook() -> Rulebook:
    return load_rulebook()


def write_rulebook(tmp_path: Path, rules: str, manifest: str = MANIFEST, name: str = "rules.yaml") -> Path:
    (tmp_path / MANIFEST_NAME).write_text(manifest, encoding="utf-8")
    (tmp_path / name).write_text("rules:\n" + rules, encoding="utf-8")
    return tmp_path


# ------------------------------------------------------------------------------ built-in rulebook


def test_builtin_rulebook_loads_through_the_same_loader(rulebook: Rulebook) -> None:
    other = load_rulebook(DEFAULT_RULEBOOK_DIR)
    assert rulebook == other
    match_rules(other, Letter(text="我已向法院起诉。"))  # compiling one of them changes nothing
    assert rulebook == other
    assert rulebook.version
    assert len(rulebook.digest) == 64
    assert MANIFEST_NAME in rulebook.sources


def test_builtin_rulebook_covers_the_checklist(rulebook: Rulebook) -> None:
    """Every rule family of legal-routing-notes §D has at least one active rule."""
    active = {r.id for r in rulebook.active_rules}
    families = {"-".join(i.split("-")[:2]) for i in active}
    expected = {
        "R-JJ",
        "R-ZF",
        "R-ZC",
        "R-DY",
        "R-XZ",
        "R-LZ",
        "R-RD",
        "R-FY",
        "R-JC",
        "R-ZXGK",
        "R-JY",
        "R-DB",
        "R-ZD",
    }
    assert expected <= families
    assert {"R-BYSL-1", "R-BYSL-2", "R-BZSL-1", "R-BZSL-2"} <= active
    # A pending lawsuit is routed to the court (R-ZF-05), not refused: R-BYSL-3 is retired.
    assert "R-BYSL-3" not in active and "R-ZF-05" in active


def test_every_rule_has_a_legal_basis_and_examples(rulebook: Rulebook) -> None:
    """A rule without its anchor in law, or without examples to test it, must not ship."""
    missing = []
    for rule in rulebook.active_rules:
        lb = rule.legal_basis
        if not (lb.source.strip() and lb.article.strip() and lb.quote.strip()):
            missing.append(f"{rule.id}: legal_basis")
        if rule.examples is None or len(rule.examples.match) < 2 or len(rule.examples.no_match) < 2:
            missing.append(f"{rule.id}: examples")
        if not rule.note.strip():
            missing.append(f"{rule.id}: note (why the rule reads the letter this way)")
    assert not missing, missing


def test_every_flag_is_documented(rulebook: Rulebook) -> None:
    used = {f for r in rulebook.rules for f in r.flags}
    assert used <= set(FLAGS)
    assert all(desc.strip() for desc in FLAGS.values())


def test_codes_are_from_the_label_sets(rulebook: Rulebook) -> None:
    for rule in rulebook.rules:
        assert rule.channel is None or rule.channel in set(Channel)
        assert rule.disposition is None or rule.disposition in set(Disposition)
        if rule.kind == "channel":
            assert rule.channel is not None and rule.disposition is not None
            assert rule.target_body, f"{rule.id} sets a route but names no body"


def test_discipline_rules_are_confidential(rulebook: Rulebook) -> None:
    """第三十条第三款: an accusation must never reach the accused, so every discipline hit says so."""
    for rule in rulebook.active_rules:
        if rule.channel == Channel.discipline:
            assert "confidential" in rule.flags, rule.id


def test_regulation_quotes_are_exact() -> None:
    """Quotes attributed to the 2022 条例 appear verbatim in its text (when the reference is present)."""
    if not REFERENCE.exists():
        pytest.skip(f"needs the 条例 text at {REFERENCE}")
    text = REFERENCE.read_text(encoding="utf-8")
    wrong = [
        (r.id, r.legal_basis.quote)
        for r in load_rulebook().rules
        if r.legal_basis.source == REGULATION and r.legal_basis.quote not in text
    ]
    assert not wrong


def test_regulation_articles_are_named_like_the_regulation(rulebook: Rulebook) -> None:
    for rule in rulebook.rules:
        if rule.legal_basis.source == REGULATION:
            assert rule.legal_basis.article.startswith("第"), rule.id


def test_a_pending_case_is_routed_to_the_court_not_refused(rulebook: Rulebook) -> None:
    """第二十二条第二款 orders 转送 to the 政法部门 and 第三十一条第一项 keeps the case in the court's
    procedure: a route, not 不予受理. R-BYSL-3 (the refusal) is retired and kept for the proposals
    that cite it; R-ZF-05 redirects the same letters to the court."""
    retired = rulebook.get("R-BYSL-3")
    assert retired.retired and "R-ZF-05" in retired.note
    rule = rulebook.get("R-ZF-05")
    assert (rule.kind, rule.channel, rule.disposition) == ("channel", "litigation", "redirect")
    assert rule.legal_basis.source == REGULATION
    assert rule.legal_basis.article == "第三十一条第一项"
    assert "涉法涉诉信访事项未依法终结的，按照法律法规规定的程序处理" in rule.legal_basis.quote
    assert "人民法院" in (rule.target_body or "")


def test_a_concluded_court_matter_is_no_longer_accepted_on_the_practice_rule(rulebook: Rulebook) -> None:
    """R-BZSL-2: no article of the 条例 says 不再受理 for a 涉法涉诉 matter 依法终结 (第三十七条第三款 is
    about counselling the writers), so the basis is the practice rule, marked as such."""
    basis = rulebook.get("R-BZSL-2").legal_basis
    assert basis.source != REGULATION and "两个不再受理" in basis.source
    assert "关于依法处理涉法涉诉信访问题的意见" in basis.source
    assert (basis.article, basis.quote) == ("清单第63项", "已依法终结的涉法涉诉信访事项")


def test_court_complaints_cite_the_article_that_routes_them(rulebook: Rulebook) -> None:
    """R-FY-01: 第二条 only says the 条例 binds the courts; 第二十二条第二款 sends 涉法涉诉信件 there."""
    basis = rulebook.get("R-FY-01").legal_basis
    assert basis.article.split("；")[0] == "第二十二条第二款"
    assert "第二条" in basis.article.split("；")
    assert basis.quote == "对收到的涉法涉诉信件，应当转送同级政法部门依法处理"


def test_the_secrecy_clause_flags_accusations_but_routes_none(rulebook: Rulebook) -> None:
    """第三十条第三款 is why discipline hits are confidential, never where they go."""
    for rule in rulebook.active_rules:
        if rule.channel == Channel.discipline:
            assert not rule.legal_basis.article.startswith("第三十条第三款"), rule.id
            assert "不得将信访人的检举、揭发材料" not in rule.legal_basis.quote, rule.id
    jj03 = rulebook.get("R-JJ-03")
    assert jj03.legal_basis.article == "第二十二条第二款"
    assert "第三十条第三款" in jj03.note and "confidential" in jj03.flags


# ----------------------------------------------------------------------------------- validation


def test_a_minimal_custom_rulebook_loads(tmp_path: Path) -> None:
    rb = load_rulebook(write_rulebook(tmp_path, GOOD_RULE))
    assert [r.id for r in rb.rules] == ["R-T-01"]
    # the channel fixes the disposition when the file leaves it out (litigation is redirected)
    assert rb.rules[0].disposition == Disposition.redirect
    assert rb.terms["court"] == ("法院", "法庭")


def test_a_rare_rule_keeps_its_reason(tmp_path: Path) -> None:
    why = "Only a visit can take this route; online letters never are visits."
    rb = load_rulebook(
        write_rulebook(tmp_path, GOOD_RULE.replace("priority: 50", f"priority: 50\n    rare: {why}"))
    )
    assert rb.get("R-T-01").rare == why
    assert load_rulebook().get("R-BYSL-2").rare and not load_rulebook().get("R-ZF-01").rare


def test_a_single_file_rulebook_loads(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(MANIFEST + "rules:\n" + GOOD_RULE, encoding="utf-8")
    assert load_rulebook(path).rules[0].id == "R-T-01"


def _without(rule: str, line_start: str) -> str:
    return "\n".join(x for x in rule.splitlines() if not x.strip().startswith(line_start)) + "\n"


# fmt: off
INVALID = [
    ("no-legal-basis", _without(GOOD_RULE, "legal_basis"),
     r"rule R-T-01: field 'legal_basis': Field required"),
    ("no-quote", GOOD_RULE.replace(", quote: 涉法涉诉信件", ""), r"rule R-T-01: field 'legal_basis.quote'"),
    ("no-examples", GOOD_RULE.split("    examples:")[0], r"rule R-T-01: .*needs 'examples'"),
    ("one-example", GOOD_RULE.replace("[我已向法院起诉。, 我们起诉了公司。]", "[我已向法院起诉。]"),
     r"rule R-T-01: field 'examples.match': .*at least 2"),
    ("unknown-channel", GOOD_RULE.replace("channel: litigation", "channel: court"),
     r"rule R-T-01: field 'channel': Input should be 'litigation'"),
    ("channel-rule-without-channel", _without(GOOD_RULE, "channel:"), r"rule R-T-01: .*needs 'channel'"),
    ("exclusion-without-disposition", GOOD_RULE.replace("kind: channel", "kind: exclusion"),
     r"rule R-T-01: .*'not_accepted' or 'no_longer_accepted'"),
    ("flag-without-flags", GOOD_RULE.replace("kind: channel", "kind: flag"),
     r"rule R-T-01: .*at least one flag"),
    ("unknown-flag", GOOD_RULE.replace("priority: 50", "priority: 50\n    flags: [secret]"),
     r"rule R-T-01: field 'flags': .*unknown flag.*confidential"),
    ("bad-id", GOOD_RULE.replace("R-T-01", "rule1"), r"rule rule1: field 'id': .*must look like R-ZF-01"),
    ("unknown-field", GOOD_RULE.replace("priority: 50", "priority: 50\n    route: x"),
     r"rule R-T-01: field 'route': Extra inputs are not permitted"),
    ("no-triggers", GOOD_RULE.replace("      - keywords: [起诉]\n", "").replace("triggers:", "triggers: []"),
     r"rule R-T-01: .*at least one trigger"),
    ("empty-trigger", GOOD_RULE.replace("keywords: [起诉]", "negation: false"),
     r"rule R-T-01: field 'triggers.0': .*needs 'keywords', 'regex'"),
    ("bad-regex", GOOD_RULE.replace("keywords: [起诉]", "regex: ['(起诉']"),
     r"rule R-T-01: field 'triggers.0.regex': invalid regex"),
    ("empty-match-regex", GOOD_RULE.replace("keywords: [起诉]", "regex: ['(?:起诉)?']"),
     r"rule R-T-01: field 'triggers.0.regex': .*matches the empty string"),
    ("unknown-term", GOOD_RULE.replace("keywords: [起诉]", "keywords: ['@courts']"),
     r"rule R-T-01: field 'triggers.0.keywords': unknown term list '@courts'.*court"),
    ("unknown-term-in-regex", GOOD_RULE.replace("keywords: [起诉]", "regex: ['{{courts}}起诉']"),
     r"rule R-T-01: field 'triggers.0.regex': unknown term list"),
    ("bad-priority", GOOD_RULE.replace("priority: 50", "priority: high"), r"rule R-T-01: field 'priority'"),
    ("rare-without-reason", GOOD_RULE.replace("priority: 50", "priority: 50\n    rare: 'yes'"),
     r"rule R-T-01: field 'rare': .*gives the reason the rule may never fire"),
]
# fmt: on


@pytest.mark.parametrize(
    ("rules", "message"), [(r, m) for _, r, m in INVALID], ids=[i for i, _, _ in INVALID]
)
def test_invalid_rules_are_refused_naming_file_rule_and_field(
    tmp_path: Path, rules: str, message: str
) -> None:
    root = write_rulebook(tmp_path, rules)
    with pytest.raises(RulebookError, match=message) as info:
        load_rulebook(root)
    assert "rules.yaml" in str(info.value)


def test_duplicate_ids_fail_naming_both_files(tmp_path: Path) -> None:
    root = write_rulebook(tmp_path, GOOD_RULE, name="a.yaml")
    (root / "b.yaml").write_text("rules:\n" + GOOD_RULE, encoding="utf-8")
    with pytest.raises(
        RulebookError, match=r"b\.yaml: rule R-T-01: duplicate id, already defined in .*a\.yaml"
    ):
        load_rulebook(root)


def _manifest(old: str, new: str) -> dict[str, str]:
    assert old in MANIFEST
    return {MANIFEST_NAME: MANIFEST.replace(old, new), "r.yaml": "rules: []\n"}


# fmt: off
BAD_FILES = [
    ("no-version", {MANIFEST_NAME: MANIFEST.replace("version: test-1\n", ""),
                    "r.yaml": "rules:\n" + GOOD_RULE},
     r"no rulebook version; put 'version: \.\.\.'"),
    ("not-yaml", {MANIFEST_NAME: MANIFEST, "r.yaml": "rules: [\n"}, r"r\.yaml: not valid YAML"),
    ("not-a-mapping", {MANIFEST_NAME: MANIFEST, "r.yaml": "- id: R-T-01\n"},
     r"r\.yaml: a rulebook file must be a mapping"),
    ("unknown-top-key", {MANIFEST_NAME: MANIFEST, "r.yaml": "rulez: []\n"},
     r"r\.yaml: unknown top-level key\(s\) \['rulez'\]"),
    ("rules-not-a-list", {MANIFEST_NAME: MANIFEST, "r.yaml": "rules: {a: 1}\n"},
     r"r\.yaml: 'rules' must be a list"),
    ("two-manifests", {MANIFEST_NAME: MANIFEST, "r.yaml": "version: x\nrules: []\n"},
     r"manifest keys .* already set"),
    ("bad-cues", _manifest("cues: [没有, 不想]", "cues: []"), r"rulebook\.yaml: field 'negation\.cues'"),
    ("bad-cue-regex", _manifest("cues: [没有, 不想]", "cues: ['(没有']"),
     r"rulebook\.yaml: field 'negation\.cues': invalid regex"),
    ("empty-cue", _manifest("cues: [如果]", "cues: ['(?:如果)?']"),
     r"field 'hypothetical\.cues': .*matches the empty string"),
    ("term-cycle", _manifest("court: [法院, 法庭]", "court: ['@court']"),
     r"term lists include each other: court -> court"),
    ("term-unknown-include", _manifest("court: [法院, 法庭]", "court: ['@x']"),
     r"term list 'court' includes unknown list '@x'"),
    ("bad-terms", _manifest("court: [法院, 法庭]", "court: 法院"),
     r"'terms' must map names to non-empty lists"),
]
# fmt: on


@pytest.mark.parametrize(
    ("files", "message"), [(f, m) for _, f, m in BAD_FILES], ids=[i for i, _, _ in BAD_FILES]
)
def test_malformed_files_are_refused(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(RulebookError, match=message):
        load_rulebook(tmp_path)


def test_missing_and_empty_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RulebookError, match=r"does not exist; pass a directory"):
        load_rulebook(tmp_path / "nowhere")
    with pytest.raises(RulebookError, match=r"holds no \*\.yaml files"):
        load_rulebook(tmp_path)


def test_retired_rule_is_kept_by_id_but_never_fires(tmp_path: Path) -> None:
    retired = GOOD_RULE.replace("priority: 50", "priority: 50\n    retired: true").split("    examples:")[0]
    rb = load_rulebook(write_rulebook(tmp_path, retired))
    assert rb.get("R-T-01").retired
    assert rb.active_rules == ()
    assert match_rules(rb, Letter(text="我已向法院起诉。")) == []


def test_unknown_rule_id_lists_the_known_ones(rulebook: Rulebook) -> None:
    with pytest.raises(RulebookError, match=r"no rule with id 'R-XX-99'.*R-ZF-01"):
        rulebook.get("R-XX-99")
