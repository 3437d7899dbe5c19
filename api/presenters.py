"""How a proposal is shown to an officer: highlighted letter text, strongest words, scannable case number.

These functions only arrange what the routing package already decided; they compute no route and no
deadline. Offsets in a :class:`~routing.schemas.RuleHit` point into
:func:`classifier.normalize.normalize` of the field, which has the same length as the raw text, so
the characters highlighted are exactly the ones the officer reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import segno

from classifier.normalize import compact, normalize
from routing.schemas import Deadline, FeatureWeight, RuleHit
from service.words import feature_text, telling

Tokenize = Callable[[str], Sequence[tuple[str, int, int]]]


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


@lru_cache(maxsize=1)
def _default_tokenize() -> Tokenize:
    # The shipped dictionary and backend; the engine is built on the first letter shown, once.
    from classifier.segment import Segmenter

    return Segmenter().tokenize


@dataclass(frozen=True)
class WordBounds:
    """Where the words of one field lie, so a highlight can be widened to whole words.

    A rule's pattern or a model's character n-gram may end inside a word (调查处 in 调查处理); a
    mark that cuts a word in two reads as another word. ``inside[i]`` is true when offset ``i``
    falls strictly between two characters of one word.
    """

    inside: bytes

    @classmethod
    def of(cls, text: str, tokenize: Tokenize | None = None) -> WordBounds:
        """The words of ``text`` as the segmenter cuts them (the shipped one unless ``tokenize``).

        The segmenter drops white space next to Chinese characters before cutting (a scan's line
        break inside a word), so its offsets are mapped back through :func:`compact`.
        """
        inside = bytearray(len(text) + 1)
        _, offsets = compact(normalize(text))
        for _word, start, end in (tokenize or _default_tokenize())(text):
            if end - start < 2 or end > len(offsets):
                continue
            first, last = offsets[start], offsets[end - 1]
            inside[first + 1 : last + 1] = b"\x01" * (last - first)
        return cls(bytes(inside))

    def widen(self, start: int, end: int) -> tuple[int, int]:
        """``start``..``end`` widened to the nearest word boundaries around it."""
        inside = self.inside
        while 0 < start < len(inside) and inside[start]:
            start -= 1
        while 0 < end < len(inside) - 1 and inside[end]:
            end += 1
        return start, end


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
    bounds: WordBounds | None = None,
) -> list[Segment]:
    """Cut ``text`` into segments at every boundary of a rule match or a strong model word.

    Every match is widened to whole words (:class:`WordBounds`), so no mark splits a word.

    Args:
        text: the raw field as stored (the officer sees this).
        hits: rule hits of the proposal; only those on ``field_name`` are used. Their number in
            ``hits`` (from 1) is kept so the page can link a mark to its reason.
        field_name: ``"text"`` or ``"title"``.
        words: the model's strongest words; every occurrence is marked.
        bounds: the words of ``text``; segmented here with the shipped segmenter when omitted.

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
    if rule_spans or word_spans:
        bounds = bounds or WordBounds.of(text)
        rule_spans = [(*bounds.widen(s, e), r, n) for s, e, r, n in rule_spans]
        word_spans = [(*bounds.widen(s, e), w) for s, e, w in word_spans]
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


@dataclass(frozen=True)
class StrongWord:
    text: str
    weight: float


def strongest_words(
    evidence: dict[str, tuple[FeatureWeight, ...]], head: str = "department", limit: int = 8
) -> list[StrongWord]:
    """The words that pushed the model most towards its answer for ``head``, strongest first.

    A word that is both a word feature and a character n-gram is listed once, with its larger weight.
    Pronouns and function words (:func:`telling`) are left out.
    """
    best: dict[str, float] = {}
    for w in evidence.get(head, ()):
        text = feature_text(w.feature).strip()
        if w.weight > 0 and telling(text) and w.weight > best.get(text, 0.0):
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
