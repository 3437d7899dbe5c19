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
    uncapped = ChannelArbiter().fit(rows, labels).fit_urgent_watch(rows, urgent, 0.9)
    capped = ChannelArbiter().fit(rows, labels).fit_urgent_watch(rows, urgent, 0.9, max_share=0.2)
    assert uncapped.urgent_watch_ == pytest.approx(0.02)  # catches 9 of 10, prompts 54 of 100
    prompted = sum(r["fact:urgent"] >= capped.urgent_watch_ for r in rows)
    assert capped.urgent_watch_ > uncapped.urgent_watch_ and prompted == 20
