"""Replay the statutory rulebook over annotated letters and measure the rule layer on its own.

The rule layer "predicts" a channel for a letter when a channel-setting hit fires: the
highest-priority one (:func:`routing.engine.primary_channel_hit`) is the prediction, as it is in a
route proposal. Letters on which no channel rule fires count as no prediction: they lower recall,
not precision. Flags are scored separately (``urgent`` against the annotators' ``urgent``).

The check (:func:`check_rules`) is the gate before a rulebook ships: it fails with the rule ids
and letter ids when rules contradict the annotated decisions more than allowed, or never fire.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from routing.codes import Channel
from routing.engine import hit_flags, match_rules_many, primary_channel_hit
from routing.rulebook import Rulebook
from routing.schemas import Letter
from training.errors import RuleCheckError

#: The channels the product spec sets a rule-layer recall target for (≥ 0.9).
TARGET_CHANNELS: tuple[str, ...] = (
    Channel.litigation,
    Channel.arbitration,
    Channel.administrative_review,
    Channel.discipline,
)


@dataclass(frozen=True)
class LabelledLetter:
    """A letter with the channel (and urgency) annotators gave it."""

    letter: Letter
    channel: str
    group: str = ""
    urgent: bool | None = None
    #: The facts annotators found (tag -> probability, 1.0 for an annotated fact); rules over facts
    #: are replayed on them, so the check measures the rules' logic, not the fact detectors.
    facts: Mapping[str, float] | None = None


@dataclass(frozen=True)
class Score:
    """Precision/recall/F1 of one label, with the counts they come from."""

    label: str
    tp: int
    predicted: int
    support: int

    @property
    def precision(self) -> float:
        return self.tp / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.support if self.support else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class Contradiction:
    """A letter where a rule set a channel other than the annotated one."""

    letter_id: str
    rule_id: str
    rule_channel: str
    gold_channel: str
    matched: str
    decisive: bool  # True when this hit decided the rule layer's channel for the letter


@dataclass(frozen=True)
class RuleStats:
    """How one rule behaved: how often it fired and, for channel-setting rules, how often rightly."""

    rule_id: str
    kind: str
    channel: str | None
    fired: int
    agreed: int  # fires whose channel equals the annotated one (channel-setting rules only)
    rare: str = ""  # the rulebook's reason the rule may never fire on these letters

    @property
    def precision(self) -> float | None:
        if self.channel is None or not self.fired:
            return None
        return self.agreed / self.fired


@dataclass(frozen=True)
class RuleEvaluation:
    """The rule layer measured on a set of annotated letters."""

    rulebook_version: str
    n_letters: int
    channels: dict[str, Score]
    rules: dict[str, RuleStats]
    contradictions: tuple[Contradiction, ...]
    never_fired: tuple[str, ...]
    flags: dict[str, Score] = field(default_factory=dict)
    covered: int = 0  # letters with a channel prediction

    @property
    def coverage(self) -> float:
        return self.covered / self.n_letters if self.n_letters else 0.0

    def micro(self) -> Score:
        """Pooled over all channels: precision of the rule layer's predictions, recall of all letters."""
        tp = sum(s.tp for s in self.channels.values())
        return Score("all", tp, sum(s.predicted for s in self.channels.values()), self.n_letters)


def load_annotated(data_dir: Path) -> list[LabelledLetter]:
    """The annotated letters (``annotations.jsonl`` joined with ``messages.csv``) with their channel."""
    # Imported here: the shared loader pulls in the feature code, which the rule check alone does not need.
    from training.datasets import load_examples

    out = []
    for e in load_examples(Path(data_dir)):
        if e.channel is None:
            continue
        out.append(
            LabelledLetter(
                letter=Letter(id=e.id, title=e.title, text=e.text),
                channel=e.channel,
                group=e.group,
                urgent=None if e.urgent is None else bool(e.urgent),
                facts=gold_facts(e.facts),
            )
        )
    return out


def gold_facts(facts: Mapping[str, str] | None) -> dict[str, float] | None:
    """Annotated facts as the fact layer would report them with certainty."""
    return None if facts is None else dict.fromkeys(facts, 1.0)


def is_held_out(group: str, folds: int = 5) -> bool:
    """Whether a letter's group belongs to the held-out fold used to report unbiased numbers.

    The rule triggers are tuned on the other folds; splitting by group keeps near-duplicates of
    a tuning letter out of the held-out fold.
    """
    return zlib.crc32(group.encode("utf-8")) % folds == 0


def evaluate_rules(rulebook: Rulebook, letters: Sequence[LabelledLetter]) -> RuleEvaluation:
    """Replay ``rulebook`` over ``letters`` and score the channels and flags it sets.

    Args:
        rulebook: the rulebook to measure.
        letters: letters with annotated channels (and optionally ``urgent``).

    Returns:
        Per-channel precision/recall/F1 (every channel of :class:`routing.codes.Channel`), per-rule
        fire counts and agreement, the letters where a rule contradicts the annotation, the rules
        that never fired and the score of the ``urgent`` flag.
    """
    all_hits = match_rules_many(
        rulebook,
        [x.letter for x in letters],
        [{tag: (p, "text", 0, 0) for tag, p in (x.facts or {}).items()} for x in letters],
    )
    predicted: Counter[str] = Counter()
    support: Counter[str] = Counter(x.channel for x in letters)
    tp: Counter[str] = Counter()
    fired: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    contradictions: list[Contradiction] = []
    flag_counts: dict[str, Counter[str]] = defaultdict(Counter)
    covered = 0
    for x, hits in zip(letters, all_hits, strict=True):
        primary = primary_channel_hit(hits)
        for h in hits:
            fired[h.rule_id] += 1
            if h.channel is None or h.kind == "flag":
                continue
            if h.channel == x.channel:
                agreed[h.rule_id] += 1
            else:
                contradictions.append(
                    Contradiction(
                        letter_id=x.letter.id or "",
                        rule_id=h.rule_id,
                        rule_channel=h.channel,
                        gold_channel=x.channel,
                        matched=h.matched,
                        decisive=h is primary,
                    )
                )
        if primary is not None and primary.channel is not None:
            covered += 1
            predicted[primary.channel] += 1
            if primary.channel == x.channel:
                tp[primary.channel] += 1
        if x.urgent is not None:
            flagged = "urgent" in hit_flags(hits)
            c = flag_counts["urgent"]
            c["predicted"] += flagged
            c["support"] += x.urgent
            c["tp"] += flagged and x.urgent
    channels = {ch.value: Score(ch.value, tp[ch], predicted[ch], support[ch]) for ch in Channel}
    rules = {
        r.id: RuleStats(
            r.id, r.kind, r.channel if r.kind != "flag" else None, fired[r.id], agreed[r.id], r.rare
        )
        for r in rulebook.active_rules
    }
    flags = {name: Score(name, c["tp"], c["predicted"], c["support"]) for name, c in flag_counts.items()}
    return RuleEvaluation(
        rulebook_version=rulebook.version,
        n_letters=len(letters),
        channels=channels,
        rules=rules,
        contradictions=tuple(contradictions),
        never_fired=tuple(r.id for r in rulebook.active_rules if not fired[r.id]),
        flags=flags,
        covered=covered,
    )


def unexpectedly_silent(evaluation: RuleEvaluation) -> list[str]:
    """The rules that never fired and whose rulebook entry gives no ``rare`` reason for it."""
    return [r for r in evaluation.never_fired if not evaluation.rules[r].rare]


def check_rules(
    evaluation: RuleEvaluation,
    *,
    min_rule_precision: float = 0.5,
    min_fires: int = 3,
    allow_never_fired: Sequence[str] = (),
) -> None:
    """Fail when a channel rule disagrees with the annotations too often, or a rule never fires.

    Annotated letters are one annotator's reading and about half are marked unsure, so a single
    disagreement is not a contradiction of the law; a rule whose fires mostly disagree is.

    Args:
        evaluation: the result of :func:`evaluate_rules`.
        min_rule_precision: a channel rule that fired at least ``min_fires`` times must agree with
            the annotated channel on at least this share of its fires.
        min_fires: below this many fires the precision of a rule is not judged.
        allow_never_fired: rule ids allowed to stay silent on this data beside those the rulebook
            marks ``rare`` with a reason (see :attr:`routing.rulebook.Rule.rare`).

    Raises:
        RuleCheckError: listing each failing rule with its precision and the letter ids it
            contradicts, and the rules that never fired.
    """
    problems: list[str] = []
    by_rule: dict[str, list[str]] = defaultdict(list)
    for c in evaluation.contradictions:
        by_rule[c.rule_id].append(f"{c.letter_id}({c.gold_channel})")
    for stats in evaluation.rules.values():
        p = stats.precision
        if p is not None and stats.fired >= min_fires and p < min_rule_precision:
            ids = ", ".join(by_rule[stats.rule_id][:20])
            problems.append(
                f"rule {stats.rule_id} sets {stats.channel} but agrees with the annotation on only "
                f"{stats.agreed}/{stats.fired} letters ({p:.0%} < {min_rule_precision:.0%}); "
                f"contradicting letters: {ids}"
            )
    silent = [r for r in unexpectedly_silent(evaluation) if r not in set(allow_never_fired)]
    if silent:
        problems.append(
            f"rules that never fired on {evaluation.n_letters} letters: {', '.join(silent)} "
            "(tighten their examples into real triggers, retire them, or, when the law is simply rare "
            "in such letters, say why with 'rare:' in the rule)"
        )
    if problems:
        raise RuleCheckError(
            f"rulebook {evaluation.rulebook_version} fails the check against the annotated letters:\n- "
            + "\n- ".join(problems)
        )
