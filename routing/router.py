"""The pipeline every shell calls: letters in, route proposals out.

``Router.propose_many`` is the only implementation; ``Router.propose`` is its one-letter form, so
the API, the batch triage and evaluation all run the same code path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from classifier.facts import FactFinding
from classifier.features import letter_text
from classifier.model import HeadOutput, TriageModel
from classifier.normalize import (
    HAN_RANGES,
    code_points,
    compact_text,
    encodes,
    han_count,
    han_pairs,
    is_han,
    normalize,
)
from classifier.persistence import load_model
from classifier.segment import dictionary_pairs
from routing.catalogue import DEFAULT_CATALOGUE, Catalogue, load_catalogue
from routing.engine import match_rules_many
from routing.proposal import ProposalConfig, Scores, arbiter_features, propose
from routing.rulebook import Rulebook, load_rulebook
from routing.schemas import Letter, ReviewReason, RouteProposal, RuleHit

EVIDENCE_HEADS = ("category", "domain", "department", "channel")


_MOJIBAKE_MARKS = ("锟斤拷", "烫烫烫", "屯屯屯")


def looks_garbled(text: str) -> bool:
    """Whether a text looks like Chinese decoded with the wrong encoding.

    UTF-8 bytes read as GBK give runs of rare characters (鏉戞敮涔…) that neither the common
    simplified set (GB2312) nor the traditional one (Big5) holds; a real letter, simplified or
    traditional, has nearly all its characters in one of them. Replacement characters (U+FFFD) and
    the classic marks of broken conversions (锟斤拷) count too.
    """
    if any(mark in text for mark in _MOJIBAKE_MARKS):
        return True
    # Lone surrogates are bytes no codec could read (surrogateescape), like U+FFFD.
    if text.count("\ufffd") + len(_SURROGATE.findall(text)) > max(3, len(text) // 50):
        return True
    # The first few thousand characters tell; a whole 200,000-character letter need not be read.
    p = code_points(text[:_GARBLE_SAMPLE])
    han = p[is_han(p, compatibility=False)]
    if len(han) < 8:
        return False
    rare = int(np.count_nonzero(~_common_han()[han - _HAN_FIRST]))
    return rare / len(han) > 0.15


_SURROGATE = re.compile("[\ud800-\udfff]")
_GARBLE_SAMPLE = 4000
# The table spans the code points ``is_han(compatibility=False)`` admits (and the few between).
_HAN_FIRST, _HAN_LAST = HAN_RANGES[0][0], HAN_RANGES[-1][1]


@cache
def _han_sets() -> tuple[np.ndarray, np.ndarray]:
    """For each code point from _HAN_FIRST to _HAN_LAST, whether GB2312 holds it (the common
    simplified characters) and whether Big5 does (the traditional ones).

    Built once (about 27,000 characters, a few tens of milliseconds): encoding each letter's
    characters one by one to find the rare ones cost more than the rest of the input checks.
    """
    size = _HAN_LAST - _HAN_FIRST + 1
    gb2312, big5 = np.zeros(size, dtype=bool), np.zeros(size, dtype=bool)
    for i in range(size):
        c = chr(_HAN_FIRST + i)
        gb2312[i], big5[i] = encodes(c, "gb2312"), encodes(c, "big5")
    return gb2312, big5


@cache
def _common_han() -> np.ndarray:
    """For each code point from _HAN_FIRST to _HAN_LAST, whether GB2312 or Big5 holds it."""
    gb2312, big5 = _han_sets()
    common: np.ndarray = gb2312 | big5
    return common


#: Neighbouring Chinese characters of real prose are mostly pairs found inside dictionary words.
#: A text is noise when its share of such pairs lies more than MEANINGLESS_Z standard errors below
#: WORD_PAIR_SHARE (a one-sided binomial test, normal approximation). Whole letters of the 2020
#: board (its 15,844 labelled and unlabelled messages) and the 160 hand-written cases never came
#: below -2.3, and none of them is refused; characters drawn at random from GB2312 fall below -4
#: in 94 % of 20-character texts and in every longer one; a real letter's own characters,
#: shuffled, in about 75 % of 80-character texts, 83-85 % of 120 and 97-100 % of 200 to 1,000
#: (bench/input_checks.py, two seeds).
WORD_PAIR_SHARE = 0.5
MEANINGLESS_Z = -4.0
#: The share a text mostly in traditional characters is tested against: the dictionary is
#: simplified, so only the characters both scripts share make its pairs. The board's letters in
#: traditional characters (3, and 1 hand-written case) have 0.37-0.40 of their pairs in it; random
#: traditional characters next to none, so they are refused from 80 characters on (bench/input_checks.py).
TRADITIONAL_PAIR_SHARE = 0.2
#: A text below that is still a letter when some PROSE_WINDOW neighbouring pairs of it lie PROSE_Z
#: standard errors above the share (32 of 60): a scan whose smudges were read as characters before
#: or after the letter itself. Random characters before or after 600 real letters of 100 Chinese
#: characters or more: none refused (at 2.0, 3 %); shuffled characters still caught as often. A
#: letter whose every stretch is mostly names and places can still be refused between enough noise
#: (1 of 700 in bench/input_checks.py): no route, an officer registers it.
PROSE_WINDOW = 60
PROSE_Z = 0.5
#: Fewer Chinese characters than this are too few to judge either way.
_MEANINGLESS_MIN_HAN = 20
_MEANINGLESS_HEAD = 120
_MEANINGLESS_SAMPLE = 4000


def looks_meaningless(text: str, min_han_chars: int) -> Literal["repeated", "no_words"] | None:
    """Why a text with Chinese characters enough still states nothing: ``"repeated"`` for the same
    few characters over and over, fewer different ones than ``min_han_chars`` (你好你好…, a short
    phrase pasted a hundred times: as short as a letter too short to route), ``"no_words"`` for
    characters that do not form words (random strings, a scan read as noise), None for prose. A
    letter pasted twice, or a long complaint repeated, is still read.

    Traditional characters make pairs the (simplified) dictionary does not hold, so a text mostly in
    them is held to a lower share (TRADITIONAL_PAIR_SHARE). Words shuffled into nonsense are not
    caught: each is a word.
    """
    # Prose shows in its first hundred-odd characters: a head that plainly reads as prose settles
    # it, and only a text whose head does not is read further (up to the sample), so a letter that
    # opens with a scan's smudges and goes on in words is routed. The dictionary's pairs are a table
    # of 1.2 MB: looking up every pair of a long letter cost a tenth of routing it.
    if len(text) > _MEANINGLESS_HEAD and _read_as(text[:_MEANINGLESS_HEAD], min_han_chars, 0.0) == "prose":
        return None
    verdict = _read_as(text[:_MEANINGLESS_SAMPLE], min_han_chars, MEANINGLESS_Z)
    return None if verdict is None or verdict == "prose" else verdict


def _read_as(
    text: str, min_han_chars: int, noise_below: float
) -> Literal["prose", "repeated", "no_words"] | None:
    """What :func:`looks_meaningless` reads in ``text``; None when it holds too few Chinese
    characters to tell. ``noise_below``: the z under which the pairs do not read as prose."""
    points = code_points(compact_text(text)).astype(np.int64)
    han = is_han(points, compatibility=False)
    chars = points[han]
    if len(chars) < _MEANINGLESS_MIN_HAN:
        return None
    # Fewer different characters than a routable letter needs, however often they come: a phrase
    # pasted again and again, or the few strokes (一丨口十) a scan's specks are read as.
    if len(set(chars.tolist())) < min_han_chars:
        return "repeated"
    simplified = np.count_nonzero(_han_sets()[0][chars - _HAN_FIRST])
    share = WORD_PAIR_SHARE if simplified >= 0.9 * len(chars) else TRADITIONAL_PAIR_SHARE
    pairs = han_pairs(points, han)
    if len(pairs) < _MEANINGLESS_MIN_HAN - 1:  # as many pairs as a run of that many characters has
        return None
    table = dictionary_pairs()
    at = np.minimum(np.searchsorted(table, pairs), len(table) - 1)
    known = table[at] == pairs
    if _z(int(np.count_nonzero(known)), len(pairs), share) >= noise_below:
        return "prose"
    # Noise overall, but a stretch of prose anywhere (a letter after a scan's smudges) is a letter.
    if len(known) >= PROSE_WINDOW:
        counts = np.concatenate(([0], np.cumsum(known)))
        best = int((counts[PROSE_WINDOW:] - counts[:-PROSE_WINDOW]).max())
        if _z(best, PROSE_WINDOW, share) > PROSE_Z:
            return "prose"
    return "no_words"


def _z(known: int, pairs: int, share: float) -> float:
    """How many standard errors ``known`` of ``pairs`` lies from ``share`` (binomial, normal
    approximation with continuity correction)."""
    spread = math.sqrt(pairs * share * (1 - share))
    return (known + 0.5 - pairs * share) / spread


_MEANINGLESS_MESSAGES = {
    "repeated": "信件内容是同几个字的反复重复，看不出诉求，不提出分流建议，请人工核对原件",
    "no_words": (
        "信件文字不成词句（像随机字符或扫描识别出的噪点），看不出诉求，不提出分流建议，请人工核对原件"
    ),
}


def input_problems(letter: Letter, config: ProposalConfig, max_chars: int) -> list[ReviewReason]:
    """What makes a letter unfit for a confident route, before any model looks at it."""
    body = letter_text(letter.title, letter.text)
    if not body.strip():
        return [ReviewReason(code="empty_text", message="信件没有正文，无法分类，请人工登记")]
    problems: list[ReviewReason] = []
    if not letter.text.strip():
        problems.append(ReviewReason(code="title_only", message="只有标题，没有正文，请核对原件"))
    han = han_count(body[:max_chars])
    if han == 0:
        problems.append(ReviewReason(code="no_chinese", message="信件不含汉字，可能是编码错误或非中文信件"))
    elif looks_garbled(body[:max_chars]):
        problems.append(
            ReviewReason(
                code="garbled",
                message="信件文字像是乱码（可能用错了编码读取），请用正确的编码重新导入或核对原件",
            )
        )
    elif han < config.min_han_chars:
        problems.append(ReviewReason(code="too_short", message=f"正文过短（{han}个汉字），请人工判断"))
    elif (why := looks_meaningless(body[:max_chars], config.min_han_chars)) is not None:
        problems.append(ReviewReason(code="meaningless", message=_MEANINGLESS_MESSAGES[why]))
    if len(body) > max_chars:
        problems.append(
            ReviewReason(code="truncated", message=f"信件过长（{len(body)}字），只分析了前{max_chars}字")
        )
    return problems


@dataclass(frozen=True)
class Reading:
    """One batch as the model and the rulebook read it (``Router.read``)."""

    clipped: list[Letter]
    X: Any
    outputs: dict[str, HeadOutput]
    probas: list[dict[str, dict[str, float]]]
    facts: list[dict[str, FactFinding]]
    hits: list[list[RuleHit]]

    def arbiter_rows(self) -> list[dict[str, float]]:
        return [arbiter_features(p, f, h) for p, f, h in zip(self.probas, self.facts, self.hits, strict=True)]


@dataclass
class Router:
    """A loaded model, rulebook and catalogue, with the proposal thresholds.

    Build one per process with :meth:`load`; it is read-only afterwards and safe to share across
    threads.
    """

    model: TriageModel
    rulebook: Rulebook
    catalogue: Catalogue
    config: ProposalConfig = field(default_factory=ProposalConfig)
    max_chars: int = 200_000
    evidence_k: int = 5

    @classmethod
    def load(
        cls,
        model_dir: Path,
        *,
        rulebook_dir: Path | None = None,
        catalogue_path: Path = DEFAULT_CATALOGUE,
        config: ProposalConfig | None = None,
        max_chars: int = 200_000,
    ) -> Router:
        return cls(
            model=load_model(Path(model_dir)),
            rulebook=load_rulebook(rulebook_dir),
            catalogue=load_catalogue(catalogue_path),
            config=config or ProposalConfig(),
            max_chars=max_chars,
        )

    def propose(self, letter: Letter) -> RouteProposal:
        return self.propose_many([letter])[0]

    def _clip(self, letters: Sequence[Letter]) -> list[Letter]:
        # Long letters are cut before anything else so a 1 MB paste cannot stall the pipeline;
        # the proposal says it was cut.
        return [
            letter
            if len(letter.title) + len(letter.text) <= self.max_chars
            else letter.model_copy(
                update={"title": letter.title[:1000], "text": letter.text[: self.max_chars]}
            )
            for letter in letters
        ]

    def read(self, letters: Sequence[Letter]) -> Reading:
        """Everything the proposal weighs, before the arbiter: head outputs, facts and rule hits."""
        clipped = self._clip(letters)
        # Normalised once for the features, the facts and the rules: it was a tenth of the time.
        fields = [(x.title, x.text) for x in clipped]
        norm = [(normalize(title), normalize(text)) for title, text in fields]
        X = self.model.transform_letters(fields, norm)
        outputs = self.model.predict_heads(X)
        facts = (
            self.model.facts.detect(fields, norm) if self.model.facts is not None else [{} for _ in clipped]
        )
        spans = [{tag: (f.p, f.field, f.start, f.end) for tag, f in found.items()} for found in facts]
        hits = match_rules_many(self.rulebook, clipped, spans, norm)
        rows = {h: out.proba.tolist() for h, out in outputs.items()}
        probas = [
            {h: dict(zip(out.classes, rows[h][i], strict=True)) for h, out in outputs.items()}
            for i in range(len(clipped))
        ]
        return Reading(clipped, X, outputs, probas, facts, hits)

    def arbiter_rows(self, letters: Sequence[Letter]) -> list[dict[str, float]]:
        """What the channel arbiter reads of each letter (to fit one on letters this model never saw)."""
        return self.read(letters).arbiter_rows()

    def propose_many(self, letters: Sequence[Letter]) -> list[RouteProposal]:
        """Route a batch of letters; element ``i`` of the result belongs to ``letters[i]``."""
        if not letters:
            return []
        r = self.read(letters)
        clipped, X, outputs, probas, facts, all_hits = r.clipped, r.X, r.outputs, r.probas, r.facts, r.hits
        # Each head explains its own top-1 (the first of equal maxima, in the head's class order).
        chosen = {
            head: [outputs[head].classes[j] for j in np.argmax(outputs[head].proba, axis=1)]
            for head in EVIDENCE_HEADS
        }
        evidence = self.model.strongest_features_many(X, chosen, self.evidence_k)
        routes: list[dict[str, float] | None] = [None] * len(clipped)
        arbiter = self.model.arbiter
        if arbiter is not None:
            route_proba = arbiter.predict_proba(r.arbiter_rows()).tolist()
            routes = [dict(zip(arbiter.classes_, row, strict=True)) for row in route_proba]
        proposals = []
        for i, (original, letter) in enumerate(zip(letters, clipped, strict=True)):
            proba = probas[i]
            proposals.append(
                propose(
                    letter,
                    all_hits[i],
                    # Built from the model's own arrays, already of the declared types.
                    Scores.model_construct(
                        proba=proba,
                        evidence=evidence[i],
                        route=routes[i],
                        route_floor=float(getattr(arbiter, "review_below_", 0.5)),
                        urgent_watch=getattr(arbiter, "urgent_watch_", None),
                        multi_watch=getattr(arbiter, "multi_watch_", None),
                    ),
                    catalogue=self.catalogue,
                    config=self.config,
                    model_version=self.model.version,
                    rulebook_version=self.rulebook.version,
                    input_problems=input_problems(original, self.config, self.max_chars),
                    facts=facts[i],
                )
            )
        return proposals


__all__ = ["Router", "input_problems"]
