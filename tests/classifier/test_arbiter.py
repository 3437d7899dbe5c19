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
