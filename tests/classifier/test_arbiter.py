"""The channel arbiter: a calibrated choice over named features, with its own review threshold."""

from __future__ import annotations

import random

import numpy as np
import pytest

from classifier.arbiter import ChannelArbiter
from classifier.errors import NotFittedError


def _rows(n: int, seed: int = 0) -> tuple[list[dict[str, float]], list[str]]:
    rng = random.Random(seed)
    rows, labels = [], []
    for _ in range(n):
        label = rng.choice(["litigation", "ordinary", "discipline"])
        # the fact is strong evidence, the head's probability a noisy one
        noise = rng.random()
        row = {
            f"channel:{label}": 0.4 + 0.3 * noise,
            f"channel:{rng.choice(['ordinary', 'duty_request'])}": 0.3,
        }
        if label == "litigation" and rng.random() < 0.8:
            row["fact:court_pending"] = 0.9
        if label == "discipline" and rng.random() < 0.8:
            row["rule:discipline"] = 1.0
        rows.append(row)
        labels.append(label)
    return rows, labels


def test_learns_from_named_features_and_ignores_unknown_ones() -> None:
    rows, labels = _rows(300)
    arbiter = ChannelArbiter().fit(rows, labels)
    assert list(arbiter.classes_) == ["discipline", "litigation", "ordinary"]
    proba = arbiter.predict_proba([{"fact:court_pending": 0.95, "never_seen": 3.0}, {"rule:discipline": 1.0}])
    assert proba.shape == (2, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert arbiter.classes_[proba[0].argmax()] == "litigation"
    assert arbiter.classes_[proba[1].argmax()] == "discipline"


def test_review_threshold_keeps_the_sure_choices_right() -> None:
    rows, labels = _rows(600, seed=1)
    strict = ChannelArbiter(target_accuracy=0.99).fit(rows, labels)
    loose = ChannelArbiter(target_accuracy=0.80).fit(rows, labels)
    assert 0.0 < loose.review_below_ <= strict.review_below_ <= 1.0
    held_rows, held_labels = _rows(400, seed=2)
    proba = strict.predict_proba(held_rows)
    sure = proba.max(axis=1) >= strict.review_below_
    chosen = strict.classes_[proba.argmax(axis=1)]
    assert sure.any()
    assert np.mean(chosen[sure] == np.array(held_labels)[sure]) >= 0.9


def test_unfitted_arbiter_says_so() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        ChannelArbiter().predict_proba([{"x": 1.0}])


def test_the_urgent_watch_level_catches_the_asked_share_of_urgent_letters() -> None:
    rows, labels = _rows(60)
    urgent = [i % 6 == 0 for i in range(60)]  # ten urgent letters
    for i, row in enumerate(rows):
        # urgent letters spread over 0.1-1.0; others low, a few with self-harm words scored high
        row["fact:urgent"] = (i / 6 + 1) / 10 if urgent[i] else 0.05
        if not urgent[i] and i % 7 == 0:
            row["fact:self_harm_or_violence"] = 0.95
    arbiter = ChannelArbiter().fit(rows, labels).fit_urgent_watch(rows, urgent, 0.9)
    assert arbiter.urgent_watch_ == pytest.approx(0.2)  # nine of the ten reach 0.2
    caught = sum(
        u and max(r.get("fact:urgent", 0), r.get("fact:self_harm_or_violence", 0)) >= 0.2
        for r, u in zip(rows, urgent, strict=True)
    )
    assert caught == 9
    assert ChannelArbiter().fit(rows, labels).fit_urgent_watch(rows, [False] * 60, 0.9).urgent_watch_ is None


def test_the_urgent_watch_level_never_prompts_more_than_the_allowed_share() -> None:
    rows, labels = _rows(100)
    urgent = [i < 10 for i in range(100)]
    for i, row in enumerate(rows):
        # urgent letters score low (0.01-0.1); half of the others score higher, each differently
        row["fact:urgent"] = (i + 1) / 100 if urgent[i] else (0.2 + i / 200 if i % 2 else 0.0)
    uncapped = ChannelArbiter().fit(rows, labels).fit_urgent_watch(rows, urgent, 0.9).urgent_watch_
    capped = (
        ChannelArbiter().fit(rows, labels).fit_urgent_watch(rows, urgent, 0.9, max_share=0.2).urgent_watch_
    )
    assert uncapped is not None and capped is not None
    assert uncapped == pytest.approx(0.02)  # catches 9 of 10, prompts 54 of 100
    prompted = sum(r["fact:urgent"] >= capped for r in rows)
    assert capped > uncapped and prompted == 20


def test_the_multi_watch_level_reads_the_multi_head_alone() -> None:
    rows, labels = _rows(40)
    multi = [i % 4 == 0 for i in range(40)]  # ten letters of several matters
    for i, row in enumerate(rows):
        row["fact:multi"] = 0.1 + i / 100 if multi[i] else 0.02
        row["fact:urgent"] = 0.99  # urgency is another signal: it must not move this level
    level = ChannelArbiter().fit(rows, labels).fit_multi_watch(rows, multi, 0.5).multi_watch_
    # the ten score 0.10, 0.14, ... 0.46; the fifth highest catches five of them
    assert level is not None and level == pytest.approx(0.1 + 20 / 100)
    assert sum(m and r["fact:multi"] >= level for r, m in zip(rows, multi, strict=True)) == 5
    capped = ChannelArbiter().fit(rows, labels).fit_multi_watch(rows, multi, 1.0, max_share=0.05).multi_watch_
    assert capped is not None
    assert sum(r["fact:multi"] >= capped for r in rows) == 2  # one row in twenty of 40


def _rare_rows(n: int, seed: int) -> tuple[list[dict[str, float]], list[str], list[str]]:
    """A rare channel whose one piece of evidence overlaps the other letters' (precision ~ recall ~ 0.8)."""
    rng = random.Random(seed)
    rows, labels, groups = [], [], []
    for i in range(n):
        label = "litigation" if rng.random() < 0.15 else rng.choice(["ordinary", "duty_request"])
        rows.append({"fact:court_pending": rng.gauss(0.7 if label == "litigation" else 0.2, 0.2)})
        labels.append(label)
        groups.append(f"g{i // 2}")  # near-duplicates in pairs
    return rows, labels, groups


def _precision_recall(
    arbiter: ChannelArbiter, rows: list[dict[str, float]], labels: list[str]
) -> tuple[float, float]:
    chosen = arbiter.classes_[arbiter.predict_proba(rows).argmax(axis=1)]
    truth = np.array(labels)
    hits = int(np.sum((chosen == "litigation") & (truth == "litigation")))
    return hits / max(1, int(np.sum(chosen == "litigation"))), hits / int(np.sum(truth == "litigation"))


def test_a_decision_offset_raises_a_channels_recall_while_its_precision_holds() -> None:
    rows, labels, groups = _rare_rows(1500, seed=3)
    plain = ChannelArbiter().fit(rows, labels, groups)
    shifted = ChannelArbiter(offset_classes=("litigation", "arbitration"), offset_precision=0.6).fit(
        rows, labels, groups
    )
    assert plain.offsets_ == {}
    # only a channel asked for gets an offset, and one absent from the labels is skipped
    assert set(shifted.offsets_) == {"litigation"} and shifted.offsets_["litigation"] > 0
    assert all(type(name) is str for name in shifted.offsets_)  # plain names in the model file
    held_rows, held_labels, _ = _rare_rows(1500, seed=4)
    p0, r0 = _precision_recall(plain, held_rows, held_labels)
    p1, r1 = _precision_recall(shifted, held_rows, held_labels)
    assert r1 > r0 + 0.05
    assert 0.55 <= p1 < p0
    assert np.allclose(shifted.predict_proba(held_rows).sum(axis=1), 1.0)


def test_no_offset_where_the_precision_target_is_already_missed() -> None:
    rows, labels, groups = _rare_rows(1500, seed=3)
    strict = ChannelArbiter(offset_classes=("litigation",), offset_precision=0.95).fit(rows, labels, groups)
    assert strict.offsets_ == {}  # a negative offset would only trade recall away


def test_the_review_threshold_is_chosen_on_the_shifted_probabilities() -> None:
    rows, labels, groups = _rare_rows(1500, seed=3)
    plain = ChannelArbiter(target_accuracy=0.9).fit(rows, labels, groups)
    shifted = ChannelArbiter(offset_classes=("litigation",), offset_precision=0.6, target_accuracy=0.9)
    shifted.fit(rows, labels, groups)
    assert shifted.review_below_ != plain.review_below_
    held_rows, held_labels, _ = _rare_rows(1500, seed=4)
    proba = shifted.predict_proba(held_rows)
    sure = proba.max(axis=1) >= shifted.review_below_
    chosen = shifted.classes_[proba.argmax(axis=1)]
    assert sure.any()
    assert np.mean(chosen[sure] == np.array(held_labels)[sure]) >= 0.85


def test_an_arbiter_saved_before_offsets_predicts_as_it_did() -> None:
    rows, labels = _rows(300)
    arbiter = ChannelArbiter().fit(rows, labels)
    before = arbiter.model_.predict_proba(arbiter._matrix(rows[:20]))
    del arbiter.offsets_  # a model file written before offsets existed has no such attribute
    assert np.allclose(arbiter.predict_proba(rows[:20]), before)


def test_reviewed_cases_shift_the_choice_their_weight_allows() -> None:
    # The letters say a fired arbitration rule is usually a duty request; the reviewed cases, read
    # against the law, say it is arbitration. Their weight decides how far they count.
    rng = random.Random(3)
    rows, labels = [], []
    for _ in range(400):
        label = rng.choice(["duty_request", "ordinary"])
        row = {f"channel:{label}": 0.5 + 0.3 * rng.random()}
        if label == "duty_request" and rng.random() < 0.3:
            row["rule:arbitration"] = 1.0
        rows.append(row)
        labels.append(label)
    rows.append({"rule:arbitration": 1.0, "channel:arbitration": 0.9})
    labels.append("arbitration")
    reviewed = [{"rule:arbitration": 1.0, "channel:duty_request": 0.5}] * 20
    letter = [{"rule:arbitration": 1.0, "channel:duty_request": 0.5}]

    def p_arbitration(weight: float) -> float:
        arbiter = ChannelArbiter().fit(
            rows, labels, reviewed_rows=reviewed, reviewed_y=["arbitration"] * 20, reviewed_weight=weight
        )
        return float(arbiter.predict_proba(letter)[0][list(arbiter.classes_).index("arbitration")])

    alone = ChannelArbiter().fit(rows, labels)
    assert alone.classes_[alone.predict_proba(letter)[0].argmax()] == "duty_request"
    assert p_arbitration(0.1) < p_arbitration(1.0) < p_arbitration(10.0)
    assert p_arbitration(10.0) > 0.5


def test_reviewed_cases_do_not_move_the_review_threshold_measured_on_letters() -> None:
    rows, labels = _rows(600, seed=4)
    # Cases the letters' own evidence cannot tell apart: were they measured, the threshold would
    # rise towards 1; they only join the fits.
    confusing = [{"channel:ordinary": 0.5}] * 30
    mixed = ["litigation", "discipline", "ordinary"] * 10
    plain = ChannelArbiter(target_accuracy=0.9).fit(rows, labels)
    with_cases = ChannelArbiter(target_accuracy=0.9).fit(
        rows, labels, reviewed_rows=confusing, reviewed_y=mixed, reviewed_weight=0.01
    )
    assert abs(with_cases.review_below_ - plain.review_below_) < 0.05


def test_reviewed_rows_and_labels_must_pair_up() -> None:
    rows, labels = _rows(60)
    with pytest.raises(ValueError, match="2 reviewed rows but 1 labels"):
        ChannelArbiter().fit(rows, labels, reviewed_rows=[{}, {}], reviewed_y=["ordinary"])
