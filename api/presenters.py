"""How a proposal is shown to an officer: highlighted letter text, strongest words, scannable case number.

These functions only arrange what the routing package already decided; they compute no route and no
deadline. Offsets in a :class:`~routing.schemas.RuleHit` point into
:func:`classifier.normalize.normalize` of the field, which has the same length as the raw text, so
the characters highlighted are exactly the ones the officer reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import segno

from classifier.normalize import normalize
from routing.schemas import Deadline, FeatureWeight, RuleHit


@dataclass(frozen=True)
class Segment:
    """A run of letter text and what marks it: the rules that matched it and the model's words in it."""

    text: str
    rules: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    hit_numbers: tuple[int, ...] = field(default=())

    @property
    def marked(self) -> bool:
        return bool(self.rules or self.words)


def _word_spans(normalized: str, words: Iterable[str]) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    for word in words:
        # Features may be word n-grams joined by a space; the letter has no spaces between them.
        needle = normalize(word).replace(" ", "")
        if len(needle) < 2:
            continue  # single characters would light up half the letter and tell nothing
        start = normalized.find(needle)
        while start != -1:
            spans.append((start, start + len(needle), word))
            start = normalized.find(needle, start + len(needle))
    return spans


def highlight(
    text: str,
    hits: Sequence[RuleHit],
    field_name: str = "text",
    words: Iterable[str] = (),
) -> list[Segment]:
    """Cut ``text`` into segments at every boundary of a rule match or a strong model word.

    Args:
        text: the raw field as stored (the officer sees this).
        hits: rule hits of the proposal; only those on ``field_name`` are used. Their number in
            ``hits`` (from 1) is kept so the page can link a mark to its reason.
        field_name: ``"text"`` or ``"title"``.
        words: the model's strongest words; every occurrence is marked.

    Returns:
        Segments whose texts, joined, are ``text`` exactly.

    Raises:
        ValueError: a hit's offsets lie outside ``text`` (the proposal belongs to another text).
    """
    normalized = normalize(text)
    rule_spans: list[tuple[int, int, str, int]] = []
    for number, hit in enumerate(hits, 1):
        if hit.field != field_name:
            continue
        if not 0 <= hit.start < hit.end <= len(text):
            raise ValueError(
                f"rule {hit.rule_id} matched at {hit.start}:{hit.end}, outside the {field_name} "
                f"({len(text)} characters); the proposal was made for a different text, "
                "route the letter again"
            )
        rule_spans.append((hit.start, hit.end, hit.rule_id, number))
    word_spans = _word_spans(normalized, words)
    cuts = {0, len(text)}
    for s, e, *_ in rule_spans:
        cuts.update((s, e))
    for s, e, _ in word_spans:
        cuts.update((s, e))
    points = sorted(cuts)
    segments: list[Segment] = []
    for a, b in zip(points, points[1:], strict=False):
        if a == b:
            continue
        rules = tuple(dict.fromkeys(r for s, e, r, _ in rule_spans if s <= a and b <= e))
        # The reference number goes once, after the last character a rule matched.
        numbers = tuple(dict.fromkeys(n for s, e, _, n in rule_spans if s <= a and b == e))
        ws = tuple(dict.fromkeys(w for s, e, w in word_spans if s <= a and b <= e))
        segments.append(Segment(text[a:b], rules, ws, numbers))
    return segments


# The featurizer names its features by kind: "词:物业公司" (a word or word n-gram), "字:物业" (a
# character n-gram). The officer sees only the text.
FEATURE_PREFIXES = ("词:", "字:")


def feature_text(feature: str) -> str:
    """The letter text a feature stands for, without its kind prefix."""
    for prefix in FEATURE_PREFIXES:
        if feature.startswith(prefix):
            return feature[len(prefix) :]
    return feature


@dataclass(frozen=True)
class StrongWord:
    text: str
    weight: float


def strongest_words(
    evidence: dict[str, tuple[FeatureWeight, ...]], head: str = "department", limit: int = 8
) -> list[StrongWord]:
    """The words that pushed the model most towards its answer for ``head``, strongest first.

    A word that is both a word feature and a character n-gram is listed once, with its larger weight.
    """
    best: dict[str, float] = {}
    for w in evidence.get(head, ()):
        text = feature_text(w.feature).strip()
        if w.weight > 0 and text and w.weight > best.get(text, 0.0):
            best[text] = w.weight
    ranked = sorted(best.items(), key=lambda kv: -kv[1])[:limit]
    return [StrongWord(text, weight) for text, weight in ranked]


def qr_svg(case_no: str) -> str:
    """The case number as an inline SVG QR code (一事一码), scannable from the screen or a print-out."""
    return str(segno.make(case_no, error="m").svg_inline(scale=4, title=case_no))


def deadline_state(deadline: Deadline, today: dt.date) -> str:
    """``overdue``, ``soon`` (three days or fewer left), ``open``, or ``not_started`` without a date."""
    if deadline.due is None:
        return "not_started"
    if deadline.due < today:
        return "overdue"
    if (deadline.due - today).days <= 3:
        return "soon"
    return "open"


UNIT_NAMES = {"calendar_days": "日", "working_days": "个工作日", "months": "个月"}
