"""The channel arbiter: one calibrated choice among the routes the rules, facts and heads support.

Facts do not settle a route by themselves. On the annotated letters, an official's misconduct is
stated in 701 letters and only 355 of them are accusations; a labour dispute in 284, of which 115
go to arbitration (plain wage arrears are a 履职 request, a pension question an ordinary matter).
What decides is which matter the letter is *about*, and that is read from everything at once: the
channel and category heads' probabilities, each legal fact's probability and which statutory rules
fired. The arbiter is a multinomial logistic regression over those few dozen numbers, fitted on
out-of-fold outputs of the heads, the fact layer and the rules, so it learns how far to trust each
of them on letters they have not seen.

It never invents a legal basis: the proposal (``routing.proposal``) cites the rule of the channel the
arbiter chooses when one fired, and otherwise says the channel came from the model and, for a
statutory channel, asks for review.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from classifier.errors import NotFittedError

Features = Mapping[str, float]


class ChannelArbiter(BaseEstimator):  # type: ignore[misc]
    """Multinomial logistic regression over named features (head probabilities, facts, rules).

    Args:
        C: inverse regularisation strength.
        class_weight: ``None`` keeps the letters' own proportions, so a rare statutory channel
            must be earned by the evidence (precision), or ``"balanced"``.
        target_accuracy: the share of right channels wanted among the letters the arbiter is sure
            of; ``review_below_`` is the lowest top probability that reaches it on cross-validated
            predictions of the training rows, and a proposal below it goes to review.
        cv: folds of that cross-validation.
    """

    def __init__(
        self, C: float = 1.0, class_weight: str | None = None, target_accuracy: float = 0.97, cv: int = 5
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.target_accuracy = target_accuracy
        self.cv = cv

    def _matrix(self, rows: Sequence[Features]) -> np.ndarray:
        index = self.feature_index_
        X = np.zeros((len(rows), len(index)), dtype=np.float64)
        for i, row in enumerate(rows):
            for name, value in row.items():
                j = index.get(name)
                if j is not None:
                    X[i, j] = value
        return X

    def fit(self, rows: Sequence[Features], y: Sequence[str]) -> ChannelArbiter:
        names = sorted({name for row in rows for name in row})
        self.feature_index_: dict[str, int] = {name: j for j, name in enumerate(names)}
        X, labels = self._matrix(rows), np.array([str(v) for v in y])
        self.model_ = self._model().fit(X, labels)
        self.classes_ = np.array([str(c) for c in self.model_.classes_])
        self.review_below_ = self._review_threshold(X, labels)
        return self

    def _model(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000)

    def _review_threshold(self, X: np.ndarray, y: np.ndarray) -> float:
        """The lowest top probability above which cross-validated choices reach ``target_accuracy``."""
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        smallest = int(min(np.unique(y, return_counts=True)[1]))
        folds = min(self.cv, smallest)
        if folds < 2:
            return 0.5
        proba = cross_val_predict(
            self._model(),
            X,
            y,
            cv=StratifiedKFold(folds, shuffle=True, random_state=0),
            method="predict_proba",
        )
        classes = np.unique(y)
        top, chosen = proba.max(axis=1), classes[proba.argmax(axis=1)]
        order = np.argsort(-top)
        right = np.cumsum(chosen[order] == y[order]) / np.arange(1, len(y) + 1)
        # the largest set of surest letters that is still right often enough
        ok = np.nonzero(right >= self.target_accuracy)[0]
        if len(ok) == 0:
            return 1.0
        return float(top[order][ok[-1]])

    def fit_urgent_watch(
        self, rows: Sequence[Features], urgent: Sequence[bool], recall: float, max_share: float = 1.0
    ) -> ChannelArbiter:
        """Set ``urgent_watch_``: the highest learned urgency that still catches ``recall`` of the
        urgent letters among ``rows`` (out-of-fold readings, as for :meth:`fit`), but never so low
        that more than ``max_share`` of all the rows reach it.

        Urgency is the larger of the letter's ``urgent`` and ``self_harm_or_violence`` facts. The
        cap is a review load: a prompt on most letters would be read as noise and missed where it
        matters. Without an urgent letter among the rows it stays None.
        """
        score = np.array(
            [max(row.get("fact:urgent", 0.0), row.get("fact:self_harm_or_violence", 0.0)) for row in rows]
        )
        positive = np.sort(score[np.asarray(urgent, dtype=bool)])[::-1]
        self.urgent_watch_: float | None = None
        if len(positive):
            # the k-th most urgent-looking urgent letter sets the level that catches k of them
            k = min(len(positive), max(1, int(np.ceil(recall * len(positive)))))
            level = float(positive[k - 1])
            if max_share < 1.0:
                level = max(level, float(np.quantile(score, 1.0 - max_share)))
            self.urgent_watch_ = level
        return self

    def predict_proba(self, rows: Sequence[Features]) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError("This ChannelArbiter is not fitted yet; call fit() or load a trained model.")
        proba: np.ndarray = self.model_.predict_proba(self._matrix(rows))
        return proba

    def __sklearn_tags__(self) -> Any:
        return super().__sklearn_tags__()


__all__ = ["ChannelArbiter", "Features"]
