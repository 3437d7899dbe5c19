"""The hand-labelled same-matter pairs (docs/same_matter_labels.md) and what matter_score does on them.

The pair file is checked on every run: a malformed row, a pair listed twice or a letter in both
splits would make the tuned threshold and the held-out numbers of ``bench/repeats.py`` wrong
without any error. The score floors need the letters' text, so they skip without ../shared.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from classifier.similarity import SAME_MATTER_THRESHOLD, matter_score

ROOT = Path(__file__).resolve().parents[2]
PAIRS = ROOT / "data" / "evaluation" / "same_matter_pairs.csv"
COLUMNS = ["a_id", "b_id", "same", "reason", "split"]
SAME_REASONS = {"dup", "same", "follow", "overlap"}
DIFFERENT_REASONS = {"issue", "place", "demand", "person", "event", "topic"}

# Measured on the held-out split (201 pairs) when the file was labelled, matter_score of
# classifier/similarity.py: F1 0.74 (P 0.89, R 0.63) at its threshold 0.4, F1 0.89 (P 0.82,
# R 0.97) at 0.2, ROC AUC 0.92. The floors sit a little below, so a change of the score or of the
# threshold that makes the prompt clearly worse fails here; one that moves the threshold between
# those two readings does not.
MIN_HELDOUT_F1 = 0.70
MIN_HELDOUT_PRECISION = 0.78
MIN_HELDOUT_AUC = 0.88


def _rows() -> list[dict[str, str]]:
    with PAIRS.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS
        return list(reader)


def test_pair_file_is_well_formed() -> None:
    rows = _rows()
    assert len(rows) >= 600
    seen: set[frozenset[str]] = set()
    for row in rows:
        a, b = row["a_id"], row["b_id"]
        assert a != b and a[0] in "mu" and b[0] in "mu", row
        pair = frozenset((a, b))
        assert pair not in seen, f"pair listed twice: {sorted(pair)}"
        seen.add(pair)
        assert row["same"] in ("0", "1"), row
        # The reason code must agree with the label, or the per-reason table of the bench lies.
        allowed = SAME_REASONS if row["same"] == "1" else DIFFERENT_REASONS
        assert row["reason"] in allowed, row
        assert row["split"] in ("tuning", "heldout"), row
    labels = Counter(row["same"] for row in rows)
    # Both classes well represented: not a file of near-duplicates only.
    assert min(labels.values()) >= 0.35 * len(rows), labels


def test_no_letter_is_in_both_splits() -> None:
    rows = _rows()
    letters: dict[str, set[str]] = {"tuning": set(), "heldout": set()}
    for row in rows:
        letters[row["split"]].update((row["a_id"], row["b_id"]))
    assert not letters["tuning"] & letters["heldout"]
    held = sum(row["split"] == "heldout" for row in rows)
    assert 0.25 <= held / len(rows) <= 0.35, held
    for split in letters:
        assert {row["same"] for row in rows if row["split"] == split} == {"0", "1"}, split


def _letters(shared_data: Path) -> dict[str, tuple[str, str]]:
    letters: dict[str, tuple[str, str]] = {}
    for name in ("messages.csv", "unlabeled_messages.csv"):
        with (shared_data / name).open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                letters[row["id"]] = (row["title"], row["text"])
    return letters


@pytest.mark.shared_data
def test_every_id_is_a_letter_of_the_shared_data(shared_data: Path) -> None:
    letters = _letters(shared_data)
    missing = {i for row in _rows() for i in (row["a_id"], row["b_id"]) if i not in letters}
    assert not missing, sorted(missing)[:10]


def _auc(scores: list[float], labels: list[int]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.shared_data
def test_matter_score_on_the_heldout_pairs_meets_the_floor(shared_data: Path) -> None:
    letters = _letters(shared_data)
    held = [row for row in _rows() if row["split"] == "heldout"]
    scores = [matter_score(*letters[r["a_id"]], *letters[r["b_id"]]) for r in held]
    labels = [int(r["same"]) for r in held]
    said = [s >= SAME_MATTER_THRESHOLD for s in scores]
    tp = sum(1 for p, y in zip(said, labels, strict=True) if p and y)
    precision = tp / max(1, sum(said))
    recall = tp / sum(labels)
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    assert f1 >= MIN_HELDOUT_F1, (f1, precision, recall, SAME_MATTER_THRESHOLD)
    assert precision >= MIN_HELDOUT_PRECISION, (precision, SAME_MATTER_THRESHOLD)
    assert _auc(scores, labels) >= MIN_HELDOUT_AUC
