"""The statutory rulebook: rules as data (``data/rulebook/*.yaml``) loaded into frozen models.

A rule says which statutory route, exclusion or flag a letter gets when certain phrases appear in
it, and why (``legal_basis``: an article of the 2022 《信访工作条例》 with a short exact quote, or
the practice rule it comes from). Rules carry their own examples, which the test suite runs.

Layout of a rulebook directory:

- ``rulebook.yaml``: the manifest with ``version``, the negation and hypothetical cue lists and
  named ``terms`` (reusable phrase lists referred to as ``@name`` in keyword lists and as
  ``{{name}}`` inside regexes);
- every other ``*.yaml`` file: ``rules:``, a list of rules, grouped by theme.

A single YAML file holding both the manifest keys and ``rules`` is accepted too, so a custom
rulebook can be one file. The built-in rulebook goes through the same loader as a custom one.

Rule ids are stable. A rule that should no longer apply is marked ``retired: true`` and kept, so
stored proposals that cite it stay explainable; an id is never reused for a different rule.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from routing.codes import REDIRECT_CHANNELS, Channel, Disposition
from routing.errors import RulebookError
from routing.schemas import LegalBasis, Letter

DEFAULT_RULEBOOK_DIR = Path(__file__).resolve().parent.parent / "data" / "rulebook"
MANIFEST_NAME = "rulebook.yaml"

RULE_ID = re.compile(r"^R-[A-Z]+(?:-[A-Z0-9]+)*$")
_TERM_REF = re.compile(r"\{\{([a-z_][a-z0-9_]*)\}\}")

#: Flags a rule may set, with what each one asks of the intake office. A flag is a fact about the
#: letter's handling, not a route: it never changes the channel by itself.
FLAGS: dict[str, str] = {
    "confidential": (
        "检举控告材料不得透露或者转给被检举、揭发的人员或者单位（第三十条第三款、第四十六条第五项）"
    ),
    "urgent": "重大、紧急信访事项，应当及时报告本级党委和政府（第二十五条）",
    "representatives_over_limit": "多人走访应当推选代表，代表人数不得超过5人（第二十条第三款）",
    "procedural": "程序性提示：由接待人员核实后处理，不改变办理途径",
    "information_disclosure": "政府信息公开申请，导入依申请公开程序（《政府信息公开条例》）",
    "court_competence": "属于人民法院职权范围，由人民法院信访工作机构处理（第二条、第十五条第一款）",
    "procuratorate_competence": (
        "属于人民检察院职权范围，由人民检察院信访工作机构处理（第二条、第十五条第一款）"
    ),
    "npc_competence": "属于人大及其常委会职权范围，由人大常委会信访工作机构处理（第二条、第十五条第一款）",
    "skipped_levels": "越级走访：应到有权处理的本级或者上一级机关提出（第二十条第一款）",
    "multiple_matters": (
        "一信多事：涉及两个以上机关、单位的，由所涉及的机关、单位协商受理（第二十四条）；"
        "建议拆分为多件分别登记"
    ),
    "review_request": (
        "可能是对信访处理意见不服的复查／复核请求（第三十五条、第三十六条），应关联原案，不作为新事项登记"
    ),
    "pending_elsewhere": ("同一事项可能已由其他机关受理或正在办理（第十九条第三款），请核实原案及办理期限"),
}

Kind = Literal["channel", "exclusion", "flag"]
FieldName = Literal["title", "text"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Context(_Frozen):
    """A co-occurrence requirement around a match: one of ``any``/``regex`` within ``within`` chars.

    ``scope`` bounds the window by the clause (，；。…), the sentence (。！？；, line breaks) or
    nothing (``text``); ``side`` says whether the term must come before, after or either side.
    """

    any: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    within: int = Field(default=30, ge=0, le=2000)
    scope: Literal["clause", "sentence", "text"] = "sentence"
    side: Literal["before", "after", "both"] = "both"

    @model_validator(mode="after")
    def _needs_terms(self) -> Context:
        if not self.any and not self.regex:
            raise ValueError("a context needs 'any' (phrases) or 'regex'")
        return self


class LetterCondition(_Frozen):
    """A condition on the letter's metadata rather than its words (e.g. a visit of 6 people)."""

    form: tuple[Literal["letter", "online", "visit", "call"], ...] = ()
    min_visitors: int | None = Field(default=None, ge=1)

    def holds(self, letter: Letter) -> bool:
        if self.form and letter.form not in self.form:
            return False
        return self.min_visitors is None or (
            letter.visitors is not None and letter.visitors >= self.min_visitors
        )


class FactCondition(_Frozen):
    """Conditions on the letter's legal facts (``classifier.facts``): tag -> probability floor.

    ``all`` must each reach their floor, at least one of ``any`` must (when given), and none of
    ``none`` may. A fact the model does not report counts as probability 0.
    """

    all: dict[str, float] = Field(default_factory=dict)
    any: dict[str, float] = Field(default_factory=dict)
    none: dict[str, float] = Field(default_factory=dict)

    @field_validator("all", "any", "none")
    @classmethod
    def _known_facts(cls, v: dict[str, float]) -> dict[str, float]:
        # Imported here: the fact layer pulls in scikit-learn and the segmenter, which reading a
        # rulebook (the rule check, the tests of the examples) does not otherwise need.
        from classifier.facts import FACT_NAMES, LETTER_HEADS

        unknown = [t for t in v if t not in FACT_NAMES and t not in LETTER_HEADS]
        if unknown:
            raise ValueError(f"unknown fact tag(s) {unknown}; known: {', '.join(FACT_NAMES)}")
        bad = [t for t, p in v.items() if not 0.0 < p <= 1.0]
        if bad:
            raise ValueError(f"fact floors must lie in (0, 1]: {bad}")
        return v

    @model_validator(mode="after")
    def _needs_a_fact(self) -> FactCondition:
        if not self.all and not self.any:
            raise ValueError("a facts condition needs 'all' or 'any' (the facts the rule stands on)")
        return self

    def holds(self, p: Mapping[str, float]) -> bool:
        if any(p.get(t, 0.0) < floor for t, floor in self.all.items()):
            return False
        if self.any and not any(p.get(t, 0.0) >= floor for t, floor in self.any.items()):
            return False
        return not any(p.get(t, 0.0) >= floor for t, floor in self.none.items())

    def shown_by(self, p: Mapping[str, float]) -> str:
        """The fact whose span the hit highlights: the likeliest of those the rule stands on."""
        held = [t for t in self.all] + [t for t, floor in self.any.items() if p.get(t, 0.0) >= floor]
        return max(held, key=lambda t: p.get(t, 0.0))


class CountCondition(_Frozen):
    """The number captured by the named group ``group`` of the trigger's regex must be >= ``min``."""

    group: str = "n"
    min: int = Field(ge=0)


class Trigger(_Frozen):
    """What must appear for the rule to fire. A rule fires when any one of its triggers matches.

    ``keywords`` are literal phrases, ``regex`` are Python regexes; both run over the normalised,
    compacted text. All ``context`` entries must hold around the match and no ``exclude`` entry may.
    With ``negation`` a match preceded in its clause by a negation cue (没有, 不想, 未…) is dropped;
    ``hypothetical: block`` drops a match in a sentence that only supposes or asks (如果, 是否…).
    A trigger with only ``letter`` fires on the letter's metadata and highlights no text.
    ``facts`` requires legal facts (with a probability floor each); a trigger with ``facts`` and no
    pattern highlights the sentence that shows the fact, and reads its ``context`` and ``exclude``
    around that sentence.
    """

    keywords: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    context: tuple[Context, ...] = ()
    exclude: tuple[Context, ...] = ()
    negation: bool = True
    hypothetical: Literal["block", "allow"] = "block"
    count: CountCondition | None = None
    letter: LetterCondition | None = None
    facts: FactCondition | None = None

    @model_validator(mode="after")
    def _needs_pattern(self) -> Trigger:
        if not self.keywords and not self.regex and self.letter is None and self.facts is None:
            raise ValueError("a trigger needs 'keywords', 'regex', a 'letter' or a 'facts' condition")
        if self.count is not None and not self.regex:
            raise ValueError("'count' reads a named group, so the trigger needs a 'regex'")
        return self


class ExampleLetter(_Frozen):
    """An example given as a letter (when metadata such as ``form``/``visitors`` matters)."""

    title: str = ""
    text: str = ""
    form: Literal["letter", "online", "visit", "call"] = "letter"
    visitors: int | None = Field(default=None, ge=1)
    #: The fact layer's output the example stands for (tag -> probability), for fact rules.
    facts: dict[str, float] = Field(default_factory=dict)

    def as_letter(self) -> Letter:
        return Letter(title=self.title, text=self.text, form=self.form, visitors=self.visitors)


class Examples(_Frozen):
    """Sentences the rule must fire on (``match``) and must stay silent on (``no_match``)."""

    match: tuple[str | ExampleLetter, ...] = Field(min_length=2)
    no_match: tuple[str | ExampleLetter, ...] = Field(min_length=2)


def example_letter(example: str | ExampleLetter) -> Letter:
    """The letter an example stands for: a plain string is the letter's text."""
    return Letter(text=example) if isinstance(example, str) else example.as_letter()


def example_facts(example: str | ExampleLetter) -> dict[str, float]:
    """The fact probabilities an example stands for (none for a plain string)."""
    return {} if isinstance(example, str) else dict(example.facts)


class Rule(_Frozen):
    """One statutory rule. ``priority``: higher numbers take precedence (see ``routing.engine``)."""

    id: str
    title: str = Field(min_length=2)
    kind: Kind
    channel: Channel | None = None
    disposition: Disposition | None = None
    target_body: str | None = None
    #: The catalogue code of the body the route goes to, where the law fixes it (行政诉讼 after
    #: 复议 goes to the court whatever the matter's own department).
    department: str | None = None
    flags: tuple[str, ...] = ()
    priority: int = Field(ge=0, le=1000)
    legal_basis: LegalBasis
    note: str = ""
    triggers: tuple[Trigger, ...] = ()
    applies_to: tuple[FieldName, ...] = ("title", "text")
    examples: Examples | None = None
    retired: bool = False
    #: Why the rule may stay silent on the annotated letters although it is law (a route only a
    #: visit can take, a dispute the letters hold no case of). The rule check lets a rule with a
    #: reason here never fire; a rule without one that never fires fails the check.
    rare: str = ""

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not RULE_ID.match(v):
            raise ValueError(f"rule id {v!r} must look like R-ZF-01 (R-, capital letters, digits, hyphens)")
        return v

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [f for f in v if f not in FLAGS]
        if unknown:
            raise ValueError(f"unknown flag(s) {unknown}; allowed flags: {', '.join(FLAGS)}")
        return v

    @field_validator("rare")
    @classmethod
    def _rare_says_why(cls, v: str) -> str:
        if v and len(v.strip()) < 20:
            raise ValueError("'rare' gives the reason the rule may never fire on the letters, in a sentence")
        return v.strip()

    @model_validator(mode="after")
    def _kind_consistent(self) -> Rule:
        if self.kind == "channel":
            if self.channel is None:
                raise ValueError("a 'channel' rule needs 'channel'")
            if self.disposition is None:
                # The route fixes the disposition: 第三十一条(一)–(四) are redirected into their own
                # procedure, the rest are accepted (and forwarded) as 信访事项.
                derived = Disposition.redirect if self.channel in REDIRECT_CHANNELS else Disposition.accept
                object.__setattr__(self, "disposition", derived)
        elif self.kind == "exclusion":
            if self.disposition not in (Disposition.not_accepted, Disposition.no_longer_accepted):
                raise ValueError(
                    "an 'exclusion' rule needs disposition 'not_accepted' or 'no_longer_accepted'"
                )
        elif not self.flags:
            raise ValueError("a 'flag' rule needs at least one flag")
        if self.kind != "exclusion" and self.disposition in (
            Disposition.not_accepted,
            Disposition.no_longer_accepted,
        ):
            raise ValueError(f"disposition {self.disposition!r} is only for 'exclusion' rules")
        if not self.retired:
            if not self.triggers:
                raise ValueError("an active rule needs at least one trigger")
            if self.examples is None:
                raise ValueError(
                    "an active rule needs 'examples' with 'match' and 'no_match' (2 or more each)"
                )
        return self


class CueList(_Frozen):
    """Regexes that, found within ``window`` chars before a match in its clause/sentence, drop it."""

    cues: tuple[str, ...] = Field(min_length=1)
    window: int = Field(ge=1, le=100)
    scope: Literal["clause", "sentence"] = "clause"


class Rulebook(_Frozen):
    """A versioned set of rules plus the cue lists the engine applies to every trigger."""

    version: str = Field(min_length=1)
    description: str = ""
    negation: CueList
    hypothetical: CueList
    terms: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    rules: tuple[Rule, ...]
    digest: str = ""
    sources: tuple[str, ...] = ()

    # The engine keeps the compiled patterns here, so a rulebook is compiled once however many
    # letters it routes.
    _compiled: Any = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        # Two rulebooks are equal when their content is; whether one of them has been compiled
        # already (the private cache) does not count.
        if not isinstance(other, Rulebook):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # the terms mapping is mutable, so no hash

    @property
    def active_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if not r.retired)

    def get(self, rule_id: str) -> Rule:
        """The rule with this id (retired ones included)."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise RulebookError(
            f"no rule with id {rule_id!r} in rulebook {self.version}; "
            f"known ids: {', '.join(r.id for r in self.rules)}"
        )


# --------------------------------------------------------------------------------------- loading


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(rule)"
        parts.append(f"field '{loc}': {err['msg']}")
    return "; ".join(parts)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulebookError(f"{path}: cannot read the rulebook file ({exc})") from exc
    except yaml.YAMLError as exc:
        raise RulebookError(f"{path}: not valid YAML ({exc}); fix the syntax and reload") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RulebookError(
            f"{path}: a rulebook file must be a mapping with 'rules' (and, in {MANIFEST_NAME}, 'version'), "
            f"got {type(raw).__name__}"
        )
    return raw


_MANIFEST_KEYS = {"version", "description", "negation", "hypothetical", "terms"}


def _check_terms(path: Path, rule_id: str, trigger_no: int, trig: Trigger, terms: dict[str, Any]) -> None:
    where = f"{path}: rule {rule_id}: field 'triggers.{trigger_no}"
    contexts = [("context", c) for c in trig.context] + [("exclude", c) for c in trig.exclude]
    phrase_lists = [("keywords", trig.keywords)] + [(f"{n}.any", c.any) for n, c in contexts]
    regex_lists = [("regex", trig.regex)] + [(f"{n}.regex", c.regex) for n, c in contexts]
    for name, phrases in phrase_lists:
        for p in phrases:
            if p.startswith("@") and p[1:] not in terms:
                raise RulebookError(
                    f"{where}.{name}': unknown term list {p!r}; "
                    f"defined in {MANIFEST_NAME}: {', '.join(sorted(terms))}"
                )
            if not p:
                raise RulebookError(f"{where}.{name}': empty phrase; remove it")
    for name, patterns in regex_lists:
        for pattern in patterns:
            for ref in _TERM_REF.findall(pattern):
                if ref not in terms:
                    raise RulebookError(
                        f"{where}.{name}': unknown term list '{{{{{ref}}}}}' in {pattern!r}; "
                        f"defined in {MANIFEST_NAME}: {', '.join(sorted(terms))}"
                    )
            try:
                compiled = re.compile(expand_terms(pattern, terms))
            except re.error as exc:
                raise RulebookError(f"{where}.{name}': invalid regex {pattern!r} ({exc})") from exc
            if compiled.match(""):
                raise RulebookError(f"{where}.{name}': regex {pattern!r} matches the empty string; anchor it")
    if trig.count is not None and not any(f"(?P<{trig.count.group}>" in r for r in trig.regex):
        raise RulebookError(f"{where}.count': no regex defines the named group (?P<{trig.count.group}>...)")


def expand_terms(pattern: str, terms: dict[str, tuple[str, ...]]) -> str:
    """Replace ``{{name}}`` in a regex by a group matching any phrase of the term list ``name``."""

    def sub(m: re.Match[str]) -> str:
        phrases = sorted(terms[m.group(1)], key=len, reverse=True)
        return "(?:" + "|".join(re.escape(p) for p in phrases) + ")"

    return _TERM_REF.sub(sub, pattern)


def expand_phrases(phrases: tuple[str, ...], terms: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Replace ``@name`` items by the phrases of that term list; other items stay."""
    out: list[str] = []
    for p in phrases:
        out.extend(terms[p[1:]] if p.startswith("@") else (p,))
    return tuple(out)


def _resolve_terms(path: Path, terms: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Expand ``@name`` items inside term lists (a list may include another), refusing cycles."""
    resolved: dict[str, tuple[str, ...]] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> tuple[str, ...]:
        if name in resolved:
            return resolved[name]
        if name in chain:
            raise RulebookError(f"{path}: term lists include each other: {' -> '.join((*chain, name))}")
        out: list[str] = []
        for item in terms[name]:
            if item.startswith("@"):
                if item[1:] not in terms:
                    raise RulebookError(
                        f"{path}: term list {name!r} includes unknown list {item!r}; "
                        f"defined: {', '.join(sorted(terms))}"
                    )
                out.extend(resolve(item[1:], (*chain, name)))
            else:
                out.append(item)
        resolved[name] = tuple(dict.fromkeys(out))
        return resolved[name]

    for name in terms:
        resolve(name, ())
    return resolved


def _parse_rule(path: Path, index: int, raw: Any) -> Rule:
    if not isinstance(raw, dict):
        raise RulebookError(f"{path}: rules[{index}] must be a mapping, got {type(raw).__name__}")
    rule_id = raw.get("id", f"rules[{index}]")
    try:
        return Rule.model_validate(raw)
    except ValidationError as exc:
        raise RulebookError(f"{path}: rule {rule_id}: {_describe(exc)} (fix the rule and reload)") from exc


def _rule_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise RulebookError(
            f"rulebook path {path} does not exist; pass a directory of *.yaml files or one YAML file"
        )
    files = sorted(p for p in path.glob("*.yaml") if p.is_file())
    if not files:
        raise RulebookError(f"rulebook directory {path} holds no *.yaml files")
    return files


def load_rulebook(path: Path | None = None) -> Rulebook:
    """Load and validate a rulebook directory (or one YAML file).

    Args:
        path: a directory with ``rulebook.yaml`` and themed ``*.yaml`` rule files, or a single YAML
            file holding both; ``None`` loads the built-in rulebook in ``data/rulebook``.

    Returns:
        The validated rulebook, with ``digest`` (sha256 of the files) for provenance.

    Raises:
        RulebookError: a file is unreadable or malformed, a rule is invalid, or two rules share an
            id. The message names the file, the rule id and the field.
    """
    root = Path(path) if path is not None else DEFAULT_RULEBOOK_DIR
    files = _rule_files(root)
    digest = hashlib.sha256()
    manifest: dict[str, Any] = {}
    manifest_file: Path | None = None
    rules: list[Rule] = []
    seen: dict[str, Path] = {}
    parsed: list[tuple[Path, dict[str, Any]]] = []
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
        raw = _read_yaml(f)
        unknown = set(raw) - _MANIFEST_KEYS - {"rules"}
        if unknown:
            raise RulebookError(
                f"{f}: unknown top-level key(s) {sorted(unknown)}; "
                f"allowed: rules, {', '.join(sorted(_MANIFEST_KEYS))}"
            )
        if _MANIFEST_KEYS & set(raw):
            if manifest_file is not None:
                raise RulebookError(
                    f"{f}: manifest keys {sorted(_MANIFEST_KEYS & set(raw))} are already set in "
                    f"{manifest_file}; "
                    f"keep them in {MANIFEST_NAME} only"
                )
            manifest_file = f
            manifest = {k: raw[k] for k in _MANIFEST_KEYS & set(raw)}
        parsed.append((f, raw))
    if manifest_file is None or "version" not in manifest:
        raise RulebookError(f"{root}: no rulebook version; put 'version: ...' in {root / MANIFEST_NAME}")
    terms_raw = manifest.get("terms") or {}
    if not isinstance(terms_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and v and all(isinstance(x, str) and x for x in v)
        for k, v in terms_raw.items()
    ):
        raise RulebookError(f"{manifest_file}: 'terms' must map names to non-empty lists of phrases")
    terms = _resolve_terms(manifest_file, {k: tuple(v) for k, v in terms_raw.items()})

    for f, raw in parsed:
        entries = raw.get("rules") or []
        if not isinstance(entries, list):
            raise RulebookError(f"{f}: 'rules' must be a list of rules, got {type(entries).__name__}")
        for i, entry in enumerate(entries):
            rule = _parse_rule(f, i, entry)
            if rule.id in seen:
                raise RulebookError(
                    f"{f}: rule {rule.id}: duplicate id, already defined in {seen[rule.id]}; "
                    "ids are stable, give the new rule a new id (retire the old one with 'retired: true')"
                )
            seen[rule.id] = f
            for t, trig in enumerate(rule.triggers):
                _check_terms(f, rule.id, t, trig, terms)
            rules.append(rule)
    try:
        rulebook = Rulebook.model_validate(
            {
                **manifest,
                "terms": terms,
                "rules": rules,
                "digest": digest.hexdigest(),
                "sources": tuple(f.name for f in files),
            }
        )
    except ValidationError as exc:
        raise RulebookError(f"{manifest_file}: {_describe(exc)}") from exc
    for name in ("negation", "hypothetical"):
        for cue in getattr(rulebook, name).cues:
            try:
                compiled = re.compile(cue)
            except re.error as exc:
                raise RulebookError(
                    f"{manifest_file}: field '{name}.cues': invalid regex {cue!r} ({exc})"
                ) from exc
            if compiled.match(""):
                raise RulebookError(
                    f"{manifest_file}: field '{name}.cues': {cue!r} matches the empty string and would "
                    "drop every match; make it match at least one character"
                )
    return rulebook
