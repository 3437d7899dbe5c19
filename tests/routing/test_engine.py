"""The matching engine: every rule against its own examples, negation, offsets, order, batching."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from classifier.normalize import normalize
from routing.codes import Channel, Disposition
from routing.engine import (
    _anchors,
    _AnchorScanner,
    _compile,
    hit_flags,
    match_rules,
    match_rules_many,
    parse_count,
    primary_channel_hit,
    primary_exclusion_hit,
)
from routing.rulebook import (
    MANIFEST_NAME,
    ExampleLetter,
    Rule,
    Rulebook,
    example_facts,
    example_letter,
    load_rulebook,
)
from routing.schemas import Letter, RuleHit

RULEBOOK = load_rulebook()


def examples_of(rule: Rule, kind: str = "both") -> tuple[str | ExampleLetter, ...]:
    assert rule.examples is not None
    match, no_match = rule.examples.match, rule.examples.no_match
    return match if kind == "match" else no_match if kind == "no_match" else (*match, *no_match)


def _example_cases() -> list[Any]:
    cases = []
    for rule in RULEBOOK.active_rules:
        assert rule.examples is not None
        for kind in ("match", "no_match"):
            for example in getattr(rule.examples, kind):
                text = (
                    example
                    if isinstance(example, str)
                    else f"{example.form}:{example.title}{example.text}{sorted(example.facts)}"
                )
                cases.append(
                    pytest.param(rule.id, kind == "match", example, id=f"{rule.id}-{kind}-{text[:24]}")
                )
    return cases


@pytest.mark.parametrize(("rule_id", "should_fire", "example"), _example_cases())
def test_rule_examples(rule_id: str, should_fire: bool, example: str | ExampleLetter) -> None:
    """Each rule fires on every one of its ``match`` examples and on none of its ``no_match`` ones."""
    letter = example_letter(example)
    # An example states its facts in its whole text: a fact trigger's context and exclude read it.
    facts = {tag: (p, "text", 0, len(letter.text)) for tag, p in example_facts(example).items()}
    hits = [h for h in match_rules(RULEBOOK, letter, facts) if h.rule_id == rule_id]
    assert bool(hits) is should_fire, hits


# ------------------------------------------------------------------------------------- negation

LITIGATION_RULES = {r.id for r in RULEBOOK.active_rules if r.channel == Channel.litigation}


def litigation_hits(text: str) -> list[RuleHit]:
    return [h for h in match_rules(RULEBOOK, Letter(text=text)) if h.rule_id in LITIGATION_RULES]


# fmt: off
NEGATED = [
    "我们不想打官司，只希望社区调解。",
    "我没有起诉，想先请劳动监察处理。",
    "我们不愿意去法院，太耗时间。",
    "我并未向法院提起诉讼。",
    "此事尚未起诉。",
    "如果再不解决，我们将向法院起诉。",
    "协商不成可向甲方所在地人民法院诉讼解决。",
    "本人保留向法院起诉的权利。",
    "派出所叫我们自己去法院起诉。",
    "我们也想到法院起诉，但是耗不起。",
    "请问这种情况我们是向法院起诉还是找住建局？",
    "试问哪家法院会受理这样的起诉？",
]
ASSERTED = [
    "我已向法院起诉。",
    "已向法院起诉，至今没有开庭。",
    "我们将C市中心医院起诉至A5区人民法院。",
    "我不服一审判决，已经上诉至中院。",
    "法院判决至今未执行。",  # a denial after the act is the complaint itself
    "请问领导，我已向法院起诉半年，至今没有开庭，还要等多久？",  # the question is not the filing
]
# fmt: on


@pytest.mark.parametrize("text", NEGATED)
def test_denied_or_supposed_litigation_does_not_fire(text: str) -> None:
    assert litigation_hits(text) == []


@pytest.mark.parametrize("text", ASSERTED)
def test_asserted_litigation_fires(text: str) -> None:
    assert litigation_hits(text)


def test_bare_negation_characters_are_not_cues() -> None:
    """不服判决, 无故辞退 assert something; only phrases such as 没有/不想 negate."""
    assert litigation_hits("我不服法院的判决。")
    hits = match_rules(RULEBOOK, Letter(text="我怀孕后被公司无故辞退。"))
    assert any(h.channel == Channel.arbitration for h in hits)


# -------------------------------------------------------------------------------------- offsets


@pytest.mark.parametrize(
    "raw",
    [
        "尊敬的领导：我已向法院起诉，法院至今没有开庭。",
        "我 已 向 法 院 起 诉 ， 至今没有开庭。",  # OCR spaces between characters
        "见（２０１６）楚３１民终６８３号民事判决书。",  # full-width digits are normalised
        "\u3000\u3000我们村的承包地被村委会强行收回。",
    ],
)
def test_offsets_highlight_exactly_the_matched_text(raw: str) -> None:
    hits = match_rules(RULEBOOK, Letter(title="关于一件事", text=raw))
    assert hits
    norm = normalize(raw)
    assert len(norm) == len(raw)
    for h in hits:
        assert h.field == "text"
        assert 0 <= h.start < h.end <= len(raw)
        assert norm[h.start : h.end] == h.matched
        assert h.matched.strip() == h.matched  # the span starts and ends on matched characters


def test_spaced_text_matches_and_maps_back_over_the_spaces() -> None:
    hit = litigation_hits("我 已 向 法 院 起 诉 。")[0]
    assert hit.matched.replace(" ", "") in {"已向法院起诉", "向法院起诉", "起诉"}
    assert " " in hit.matched or len(hit.matched) == 2


def test_title_hits_point_into_the_title() -> None:
    hits = match_rules(RULEBOOK, Letter(title="关于增设公交站点的建议", text="希望在学校门口增设一个站点。"))
    jy = [h for h in hits if h.rule_id == "R-JY-01"]
    assert jy and jy[0].field == "title" and jy[0].matched == "关于增设公交站点的建议"


def test_metadata_hit_highlights_nothing() -> None:
    hits = match_rules(RULEBOOK, Letter(text="我们来反映征地补偿问题。", form="visit", visitors=8))
    db = [h for h in hits if h.rule_id == "R-DB-01"]
    assert db and (db[0].start, db[0].end, db[0].matched) == (0, 0, "")
    assert "representatives_over_limit" in hit_flags(hits)
    assert not [
        h
        for h in match_rules(RULEBOOK, Letter(text="我们来反映征地补偿问题。", form="visit", visitors=5))
        if h.rule_id == "R-DB-01"
    ]


# ------------------------------------------------------------------------ order and precedence


def test_hits_are_sorted_by_priority_and_deterministic() -> None:
    letter = Letter(
        title="村支书贪污扶贫款",
        text="我实名举报村支书王某利用职务之便贪污扶贫款。我已向法院起诉。他还扬言要把我家炸了。",
    )
    hits = match_rules(RULEBOOK, letter)
    assert [h.priority for h in hits] == sorted((h.priority for h in hits), reverse=True)
    assert hits == match_rules(RULEBOOK, letter)
    assert len({h.rule_id for h in hits}) == len(hits)  # at most one hit per rule
    # The accusation (priority 90) outranks the pending lawsuit (redirected to the court, R-ZF-05),
    # whose hit stays in the list: channels that differ are a conflict for the officer, and flags
    # add up whatever decides the route.
    primary = primary_channel_hit(hits)
    assert primary is not None and primary.channel == Channel.discipline
    assert any(h.rule_id == "R-ZF-05" and h.channel == Channel.litigation for h in hits)
    assert {"confidential", "urgent"} <= hit_flags(hits)


def test_exclusions_outrank_channel_rules() -> None:
    hits = match_rules(
        RULEBOOK, Letter(text="我的涉法涉诉信访事项已经依法终结，现再次反映，我不服法院判决。")
    )
    exclusion = primary_exclusion_hit(hits)
    assert exclusion is not None and exclusion.disposition == Disposition.no_longer_accepted
    assert primary_channel_hit(hits) is exclusion
    assert hits[0].kind == "exclusion"


def test_flags_never_decide_the_channel() -> None:
    hits = match_rules(RULEBOOK, Letter(text="楼下液化气供应站经常漏气，住户提心吊胆。"))
    assert hits and all(h.kind == "flag" for h in hits)
    assert primary_channel_hit(hits) is None


def test_batch_equals_single() -> None:
    letters = [example_letter(e) for r in RULEBOOK.active_rules for e in examples_of(r, "match")]
    assert match_rules_many(RULEBOOK, letters) == [match_rules(RULEBOOK, x) for x in letters]
    assert match_rules_many(RULEBOOK, []) == []


def test_patterns_are_compiled_once_per_rulebook() -> None:
    rb = load_rulebook()
    first = _compile(rb)
    match_rules(rb, Letter(text="我已向法院起诉。"))
    assert _compile(rb) is first


def test_empty_letter_has_no_hits() -> None:
    assert match_rules(RULEBOOK, Letter()) == []


# ---------------------------------------------------------------------------- literal prefilter


@pytest.mark.parametrize(
    ("pattern", "anchors"),
    [
        ("(?:罚款|处罚|罚单)", {"罚款", "处罚", "罚单"}),
        ("(?:对|给)(?:我|我们)[^。]{0,12}(?:罚款|处罚)", {"罚款", "处罚"}),
        ("上诉(?:至|到)?[^。]{0,10}(?:法院|中院)", {"上诉"}),
        ("(?:申请)?仲裁", {"仲裁"}),
        ("[^。]{0,3}", None),
        ("(?:起诉|[^。]诉讼)", {"起诉", "诉讼"}),
        ("(?:起诉)?|判决", None),
    ],
)
def test_anchor_extraction(pattern: str, anchors: set[str] | None) -> None:
    found = _anchors(pattern)
    assert (None if found is None else set(found)) == anchors


def test_prefilter_finds_exactly_the_anchors_present() -> None:
    """The scanner must report every anchor in the text, or a rule would silently not fire."""
    compiled = _compile(RULEBOOK)
    anchors = {
        a for cr in compiled.rules for t in cr.triggers for p in t.patterns if p.anchors for a in p.anchors
    }
    scanner = _AnchorScanner(anchors)
    texts = [example_letter(e).text for r in RULEBOOK.active_rules for e in examples_of(r)]
    texts += ["判决书记", "人民法院法庭", "号号", ""]
    for text in texts:
        assert scanner.present(text) == {a for a in anchors if a in text}, text


# ------------------------------------------------------------------------- trigger semantics

MANIFEST = """\
version: t
negation: {window: 4, cues: [没有]}
hypothetical: {window: 10, scope: sentence, cues: [如果]}
"""


def custom(tmp_path: Path, trigger: str) -> Rulebook:
    (tmp_path / MANIFEST_NAME).write_text(MANIFEST, encoding="utf-8")
    rule = f"""\
rules:
  - id: R-T-01
    title: 测试
    kind: flag
    flags: [procedural]
    priority: 1
    legal_basis: {{article: 第二十条第三款, quote: 不得超过5人}}
    triggers:
{trigger}
    examples: {{match: [a, b], no_match: [c, d]}}
"""
    (tmp_path / "r.yaml").write_text(rule, encoding="utf-8")
    return load_rulebook(tmp_path)


def fires(rb: Rulebook, text: str, **letter: Any) -> bool:
    return bool(match_rules(rb, Letter(text=text, **letter)))


def test_context_window_side_and_scope(tmp_path: Path) -> None:
    rb = custom(
        tmp_path,
        "      - keywords: [开除]\n        context: [{any: [公司], within: 5, scope: clause, side: before}]",
    )
    assert fires(rb, "公司把我开除了")
    assert not fires(rb, "我被开除了，公司不管")  # after, and in another clause
    assert not fires(rb, "公司在没有任何理由的情况下开除了我")  # further than 5 chars


def test_exclude_context_drops_the_match(tmp_path: Path) -> None:
    rb = custom(
        tmp_path, "      - keywords: [开除]\n        exclude: [{any: [学籍], within: 3, side: after}]"
    )
    assert fires(rb, "被公司开除")
    assert not fires(rb, "被学校开除学籍")


def test_negation_and_hypothetical_switches(tmp_path: Path) -> None:
    rb = custom(tmp_path, "      - keywords: [起诉]")
    assert not fires(rb, "我没有起诉")
    assert not fires(rb, "如果不赔，我们起诉")
    rb = custom(tmp_path, "      - keywords: [起诉]\n        negation: false\n        hypothetical: allow")
    assert fires(rb, "我没有起诉")
    assert fires(rb, "如果不赔，我们起诉")


def test_negation_stays_in_its_clause(tmp_path: Path) -> None:
    rb = custom(tmp_path, "      - keywords: [起诉]")
    assert fires(rb, "没有，起诉了")


def test_count_and_letter_conditions(tmp_path: Path) -> None:
    rb = custom(
        tmp_path,
        "      - letter: {form: [visit]}\n        regex: ['(?P<n>[0-9一二三四五六七八九十几数]+)名村民']\n"
        "        count: {group: n, min: 6}",
    )
    assert fires(rb, "今天三十名村民来访", form="visit")
    assert not fires(rb, "今天三名村民来访", form="visit")
    assert not fires(rb, "今天三十名村民来访", form="letter")


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("30", 30),
        ("三十", 30),
        ("十几", 10),
        ("数十", 10),
        ("几十", 10),
        ("上百", 100),
        ("两百", 200),
        ("二十五", 25),
        ("一百二十", 120),
        ("几", 2),
        ("五", 5),
        ("", None),
        ("多", None),
    ],
)
def test_parse_count(text: str, n: int | None) -> None:
    assert parse_count(text) == n


# ------------------------------------------------------------------- fact triggers in context

AGENCY_STEP = "法院判决对方赔偿，至今没有执行。街道办已申请法院强制执行它的拆除决定。"


@pytest.mark.parametrize(
    ("span", "fires"),
    [
        ((0, AGENCY_STEP.index("。") + 1), True),  # the judgment's sentence: the writer's own case
        ((AGENCY_STEP.index("。") + 1, len(AGENCY_STEP)), False),  # the body's enforcement step
        ((0, 0), True),  # no sentence to read around: the exclude cannot apply
    ],
    ids=["own-judgment", "agency-step", "no-span"],
)
def test_a_fact_triggers_exclude_reads_the_sentence_that_shows_the_fact(
    span: tuple[int, int], fires: bool
) -> None:
    facts = {"court_decided": (0.9, "text", *span)}
    hits = [h for h in match_rules(RULEBOOK, Letter(text=AGENCY_STEP), facts) if h.rule_id == "R-SS-03"]
    assert bool(hits) is fires
    if fires and span[1] > span[0]:
        assert hits[0].matched == AGENCY_STEP[span[0] : span[1]]
