"""The batch form of a head's evidence gives, letter by letter, what the one-letter form gives."""

from __future__ import annotations

import numpy as np
from factories import TINY_LETTERS, train_tiny_model


def test_strongest_features_many_equals_one_letter_at_a_time() -> None:
    model = train_tiny_model()
    texts = [text for text, *_ in TINY_LETTERS] + ["物业公司拖欠工资，举报干部贪污。", "没有任何已知词"]
    X = model.transform(texts)
    outputs = model.predict_heads(X)
    # the top label of each head, and for the category head also its least likely label, whose
    # weights push most rows away (few or no positive contributions)
    labels = {head: [out.classes[j] for j in np.argmax(out.proba, axis=1)] for head, out in outputs.items()}
    labels["category"] = [
        outputs["category"].classes[j] for j in np.argmin(outputs["category"].proba, axis=1)
    ]
    for k in (1, 5, 50):
        many = model.strongest_features_many(X, labels, k)
        assert len(many) == len(texts)
        for i, per_head in enumerate(many):
            assert list(per_head) == list(labels)
            for head, chosen in labels.items():
                assert per_head[head] == model.strongest_features(X[i], head, chosen[i], k)
    assert any(many[i]["department"] for i in range(len(texts)))  # real features came out


def test_strongest_features_are_the_largest_positive_contributions_ties_by_column() -> None:
    model = train_tiny_model()
    names = model.feature_names
    # Two pairs of equal contributions straddle the cut at k = 3, and one contribution is negative.
    indices = np.array([4, 9, 2, 7, 5, 1])
    data = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    weights = np.zeros(len(names))
    weights[[4, 9, 2, 7, 5, 1]] = [0.5, 0.3, 0.5, 0.3, -0.2, 0.1]
    top = model._strongest(indices, data, weights, 3)
    assert top == [(str(names[2]), 0.5), (str(names[4]), 0.5), (str(names[7]), 0.3)]
    # Fewer positive contributions than k: only the positive ones, largest first.
    assert model._strongest(indices, data, weights, 10) == [
        (str(names[c]), w) for c, w in [(2, 0.5), (4, 0.5), (7, 0.3), (9, 0.3), (1, 0.1)]
    ]
    assert model._strongest(indices, data, weights, 0) == []
