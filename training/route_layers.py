"""Fit the layers above the heads: the fact layer and the channel arbiter.

The arbiter learns how far to trust the heads, the facts and the rules on letters they have *not*
seen, so it is fitted on out-of-fold readings: the training letters are split into ``folds`` by
group, a model (heads and fact layer) is fitted on all folds but one and reads the letters of that
one through the real rulebook (``Router.read``), and the arbiter is fitted on every letter read that
way. The model that ships is then fitted on all the training letters; the held-out letters are
never touched.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifier.arbiter import ChannelArbiter, Features
from classifier.facts import FactDetector
from classifier.model import HEADS, TriageModel
from routing.catalogue import DEFAULT_CATALOGUE, load_catalogue
from routing.router import Router
from routing.rulebook import load_rulebook
from routing.schemas import Letter
from training.datasets import Example


def fit_facts(examples: Sequence[Example], config: dict[str, Any]) -> FactDetector | None:
    """The fact layer, learned from the letters annotated for facts (None when disabled)."""
    settings = config["facts"]
    if not settings["enabled"]:
        return None
    return FactDetector(
        C=settings["C"],
        max_features=settings["max_features"],
        ngram_max=settings["ngram_max"],
        min_positive=settings["min_positive"],
        calibration_folds=settings["calibration_folds"],
    ).fit(
        [(e.title, e.text) for e in examples],
        [e.facts for e in examples],
        [e.group for e in examples],
        {
            "urgent": [e.urgent for e in examples],
            "multi": [e.multi for e in examples],
            "consultation": [e.consultation for e in examples],
        },
    )


def _fold(group: str, folds: int, seed: int) -> int:
    digest = hashlib.sha256(f"arbiter:{seed}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % folds


def fold_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config of the models fitted inside the folds: no department-duty examples.

    The arbiter reads only the channel and category heads, and a department whose duties give it a
    single pseudo-letter could not be calibrated on a fold's share of the letters.
    """
    out = copy.deepcopy(config)
    out["data"]["duty_examples"] = False
    return out


def thin_rare_labels(examples: Sequence[Example], config: dict[str, Any]) -> list[Example]:
    """``examples`` with the labels of classes too small for a head's calibration on this fold removed.

    A class with fewer letters than ``heads.<head>.calibration_cv`` in a fold's training letters is
    left out of that fold's head (its letters still teach the other heads); the shipped model, fitted
    on all the training letters, keeps it.
    """
    out = list(examples)
    for head in HEADS:
        need = int(config["heads"][head]["calibration_cv"])
        counts = Counter(e.label(head) for e in out if e.label(head) is not None)
        rare = {label for label, n in counts.items() if n < need}
        if rare:
            drop: dict[str, Any] = {head: None}
            out = [dataclasses.replace(e, **drop) if e.label(head) in rare else e for e in out]
    return out


def out_of_fold_rows(
    examples: Sequence[Example],
    config: dict[str, Any],
    fit_heads_model: Callable[[Sequence[Example]], TriageModel],
    *,
    rulebook_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[dict[str, float]], list[str], list[str]]:
    """Arbiter rows of every letter with a channel label, each read by a model that never saw it.

    Returns:
        The rows, the annotated channels and the letter ids, in the order of ``examples``.
    """
    say = progress or (lambda _line: None)
    folds, seed = config["arbiter"]["folds"], config["split"]["seed"]
    rulebook = load_rulebook(rulebook_dir)
    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    fold_of = [_fold(e.group, folds, seed) for e in examples]
    rows: dict[int, dict[str, float]] = {}
    for k in range(folds):
        inner = [e for e, f in zip(examples, fold_of, strict=True) if f != k]
        outer = [i for i, f in enumerate(fold_of) if f == k and examples[i].channel is not None]
        if not outer:
            continue
        say(f"arbiter fold {k + 1}/{folds}: fitting on {len(inner)} letters, reading {len(outer)}")
        model = fit_heads_model(thin_rare_labels(inner, config))
        model.facts = fit_facts(inner, config)
        router = Router(model=model, rulebook=rulebook, catalogue=catalogue)
        letters = [Letter(id=examples[i].id, title=examples[i].title, text=examples[i].text) for i in outer]
        for i, row in zip(outer, router.arbiter_rows(letters), strict=True):
            rows[i] = row
    order = sorted(rows)
    return (
        [rows[i] for i in order],
        [str(examples[i].channel) for i in order],
        [examples[i].id for i in order],
    )


@dataclass(frozen=True)
class ReviewedCases:
    """Routing cases checked against the law, as the arbiter reads them.

    ``rows`` are read by the model that ships (its heads and facts never see these letters), and
    each case weighs ``weight`` letters in the arbiter's fit.
    """

    rows: list[dict[str, float]]
    channels: list[str]
    weight: float


@dataclass(frozen=True)
class ArbiterFit:
    """The arbiter, and for each fold of the reviewed cases one fitted without that fold's cases."""

    arbiter: ChannelArbiter | None
    case_folds: list[tuple[list[int], ChannelArbiter]]


def _case_fold(index: int, folds: int, seed: int) -> int:
    # Salted apart from the letters' folds (_fold); the shipped model's meta.json was measured on it.
    digest = hashlib.sha256(f"case:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % folds


def fit_arbiter(
    examples: Sequence[Example],
    config: dict[str, Any],
    fit_heads_model: Callable[[Sequence[Example]], TriageModel],
    *,
    rulebook_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    reviewed: ReviewedCases | None = None,
) -> ArbiterFit:
    """The channel arbiter fitted on out-of-fold readings (None when disabled or too few labels),
    and arbiters fitted without each fold of the reviewed cases.

    The reviewed cases teach the arbiter, so the shipped one cannot be measured on them; each fold's
    arbiter routes only the cases it never saw, which is the number to report.
    """
    settings = config["arbiter"]
    if not settings["enabled"]:
        return ArbiterFit(None, [])
    rows, y, ids = out_of_fold_rows(
        examples, config, fit_heads_model, rulebook_dir=rulebook_dir, progress=progress
    )
    if len(set(y)) < 2:
        return ArbiterFit(None, [])
    group_of = {e.id: e.group for e in examples}
    groups = [group_of[i] for i in ids]

    def labelled(label: str) -> tuple[list[Features], list[bool]]:
        """The out-of-fold rows of the letters annotated for a letter label, with that label."""
        label_of = {e.id: getattr(e, label) for e in examples}
        pairs = [
            (row, bool(label_of[i])) for row, i in zip(rows, ids, strict=True) if label_of.get(i) is not None
        ]
        return [row for row, _ in pairs], [value for _, value in pairs]

    urgent_rows, urgent = labelled("urgent")
    multi_rows, multi = labelled("multi")

    def fitted(keep: Sequence[int]) -> ChannelArbiter:
        target = float(settings["offset_precision"])
        arbiter = ChannelArbiter(
            C=settings["C"],
            class_weight=settings["class_weight"] or None,
            target_accuracy=settings["target_accuracy"],
            offset_classes=tuple(settings["offset_channels"]),
            offset_precision=target if target > 0 else None,
        ).fit(
            rows,
            y,
            groups,
            reviewed_rows=[reviewed.rows[i] for i in keep] if reviewed else (),
            reviewed_y=[reviewed.channels[i] for i in keep] if reviewed else (),
            reviewed_weight=reviewed.weight if reviewed else 1.0,
        )
        return arbiter.fit_urgent_watch(
            urgent_rows, urgent, settings["urgent_recall"], settings["urgent_max_share"]
        ).fit_multi_watch(multi_rows, multi, settings["multi_recall"], settings["multi_max_share"])

    n_cases = len(reviewed.rows) if reviewed else 0
    arbiter = fitted(range(n_cases))
    folds = int(settings["case_folds"])
    case_folds = []
    if n_cases and folds >= 2:
        fold_of = [_case_fold(i, folds, config["split"]["seed"]) for i in range(n_cases)]
        for k in range(folds):
            held = [i for i in range(n_cases) if fold_of[i] == k]
            if held:
                case_folds.append((held, fitted([i for i in range(n_cases) if fold_of[i] != k])))
    return ArbiterFit(arbiter, case_folds)


__all__ = [
    "ArbiterFit",
    "ReviewedCases",
    "fit_arbiter",
    "fit_facts",
    "out_of_fold_rows",
]
