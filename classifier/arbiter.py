"""The channel arbiter: one calibrated choice among the routes the rules, facts and heads support.

Facts do not settle a route by themselves. On the annotated letters, an official's misconduct is
stated in 701 letters and only 355 of them are accusations; a labour dispute in 284, of which 115
go to arbitration (plain wage arrears are a 履职 request, a pension question an ordinary matter).
What decides is which matter the letter is *about*, and that is read from everything at once: the
channel and category heads' probabilities, each legal fact's probability and which statutory rules
fired. The arbiter is a multinomial logistic regression over those few dozen numbers, fitted on
out-of-fold outputs of the heads, the fact layer and the rules, so it learns how far to trust each
of them on letters they have not seen.

The arbiter keeps the letters' own proportions, so a rare statutory channel must be earned by the
evidence; ``"balanced"`` class weights bought recall with precision everywhere at once. A per-channel
decision offset (``offsets_``, a log-prior shift added to that channel's logit) lets each statutory
channel through as far as its own precision allows: on cross-validated predictions of the training
rows (by group when groups are given), the offset that reaches the largest recall of the channel
while its precision stays at or above ``offset_precision``. The review threshold is chosen after,
on the shifted probabilities.

Letters annotated from the public message board carry one convention for each route; routing
cases written and checked against the law (``reviewed_rows``) carry the statute's, with the
distinctions the board's letters rarely draw (a labour-contract dispute that goes to arbitration
against plain wage arrears that labour inspection recovers; a sanction against the writer; a
consultation that only names a court). They join the fit with a weight each, so a handful of them
counts against the thousands of letters; the review threshold and the offsets are still measured on
the letters alone, whose mix is the stream an office receives.

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

#: The facts whose largest probability is a watched signal's score: a letter at or above the
#: signal's watch level is put before an officer with a prompt, below the rules' own floors.
WATCHED_FACTS: dict[str, tuple[str, ...]] = {
    "urgent": ("urgent", "self_harm_or_violence"),
    "multi": ("multi",),
}


def _watch_scores(rows: Sequence[Features], signal: str) -> np.ndarray:
    tags = WATCHED_FACTS[signal]
    return np.array([max(row.get(f"fact:{tag}", 0.0) for tag in tags) for row in rows])


def _watch_level(score: np.ndarray, labels: Sequence[bool], recall: float, max_share: float) -> float | None:
    """The highest score that still catches ``recall`` of the labelled letters, raised where more
    than ``max_share`` of all the letters would reach it; None without a labelled letter."""
    positive = np.sort(score[np.asarray(labels, dtype=bool)])[::-1]
    if not len(positive):
        return None
    # the k-th highest-scoring labelled letter sets the level that catches k of them
    k = min(len(positive), max(1, int(np.ceil(recall * len(positive)))))
    level = float(positive[k - 1])
    if max_share < 1.0:
        level = max(level, float(np.quantile(score, 1.0 - max_share)))
    return level


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
        offset_classes: the channels that may get a decision offset (the statutory ones).
        offset_precision: the precision each of them must keep on the cross-validated predictions
            while its offset raises its recall; None leaves every offset at 0.
        offset_max: the largest offset tried (a log-odds shift; 0 to this in steps of 0.05).
    """

    def __init__(
        self,
        C: float = 1.0,
        class_weight: str | None = None,
        target_accuracy: float = 0.97,
        cv: int = 5,
        offset_classes: tuple[str, ...] = (),
        offset_precision: float | None = None,
        offset_max: float = 4.0,
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.target_accuracy = target_accuracy
        self.cv = cv
        self.offset_classes = offset_classes
        self.offset_precision = offset_precision
        self.offset_max = offset_max

    def _matrix(self, rows: Sequence[Features]) -> np.ndarray:
        index = self.feature_index_
        X = np.zeros((len(rows), len(index)), dtype=np.float64)
        for i, row in enumerate(rows):
            for name, value in row.items():
                j = index.get(name)
                if j is not None:
                    X[i, j] = value
        return X

    def fit(
        self,
        rows: Sequence[Features],
        y: Sequence[str],
        groups: Sequence[str] | None = None,
        *,
        reviewed_rows: Sequence[Features] = (),
        reviewed_y: Sequence[str] = (),
        reviewed_weight: float = 1.0,
    ) -> ChannelArbiter:
        """Fit on ``rows``; ``groups`` (near-duplicate letters share one) keep a group in one fold
        of the cross-validation that sets the offsets and the review threshold.

        ``reviewed_rows`` (legally reviewed routing cases, labels ``reviewed_y``) join every fit,
        each weighing ``reviewed_weight`` letters, but are never among the rows the threshold and
        the offsets are measured on.
        """
        if len(reviewed_rows) != len(reviewed_y):
            raise ValueError(f"{len(reviewed_rows)} reviewed rows but {len(reviewed_y)} labels")
        names = sorted({name for row in (*rows, *reviewed_rows) for name in row})
        self.feature_index_: dict[str, int] = {name: j for j, name in enumerate(names)}
        X, labels = self._matrix(rows), np.array([str(v) for v in y])
        extra = (self._matrix(reviewed_rows), np.array([str(v) for v in reviewed_y]), float(reviewed_weight))
        self.model_ = self._fit_with(X, labels, extra)
        self.classes_ = np.array([str(c) for c in self.model_.classes_])
        self.offsets_: dict[str, float] = {}
        proba = self._cross_validated(X, labels, groups, extra)
        if proba is None:
            self.review_below_ = 0.5
            return self
        if self.offset_precision is not None:
            self.offsets_ = self._choose_offsets(proba, labels, float(self.offset_precision))
        self.review_below_ = self._review_threshold(self._shift(proba), labels)
        return self

    def _model(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000)

    def _fit_with(
        self, X: np.ndarray, y: np.ndarray, extra: tuple[np.ndarray, np.ndarray, float]
    ) -> LogisticRegression:
        """A fit on ``X, y`` plus the weighted reviewed rows of ``extra``."""
        X_extra, y_extra, weight = extra
        if not len(y_extra):
            return self._model().fit(X, y)
        weights = np.concatenate([np.ones(len(y)), np.full(len(y_extra), weight)])
        return self._model().fit(np.vstack([X, X_extra]), np.concatenate([y, y_extra]), sample_weight=weights)

    def _cross_validated(
        self,
        X: np.ndarray,
        y: np.ndarray,
        groups: Sequence[str] | None,
        extra: tuple[np.ndarray, np.ndarray, float],
    ) -> np.ndarray | None:
        """Probabilities of the training rows, each from a fit that did not see it (None: too few).

        Every fit also holds all the reviewed rows of ``extra``: they are not the letters measured.
        """
        from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

        smallest = int(min(np.unique(y, return_counts=True)[1]))
        folds = min(self.cv, smallest)
        if folds < 2:
            return None
        if groups is not None and len(set(groups)) >= folds:
            splits = StratifiedGroupKFold(folds, shuffle=True, random_state=0).split(X, y, np.asarray(groups))
        else:
            splits = StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y)
        classes = [str(c) for c in self.classes_]
        proba = np.zeros((len(y), len(classes)))
        for train, test in splits:
            fitted = self._fit_with(X[train], y[train], extra)
            # A fold's fit may lack a rare class: its column stays 0, as cross_val_predict does.
            columns = [classes.index(str(c)) for c in fitted.classes_]
            proba[np.ix_(test, columns)] = fitted.predict_proba(X[test])
        return proba

    def _shift(self, proba: np.ndarray) -> np.ndarray:
        """``proba`` with each channel's offset added to its log-probability, renormalised."""
        offsets = getattr(self, "offsets_", None)
        if not offsets:
            return proba
        shift = np.array([offsets.get(str(c), 0.0) for c in self.classes_])
        logits = np.log(np.clip(proba, 1e-300, None)) + shift
        logits -= logits.max(axis=1, keepdims=True)
        out = np.exp(logits)
        shifted: np.ndarray = out / out.sum(axis=1, keepdims=True)
        return shifted

    def _choose_offsets(self, proba: np.ndarray, y: np.ndarray, precision: float) -> dict[str, float]:
        """Per offset class, the offset with the largest cross-validated recall at ``precision``.

        Offsets interact (one channel's gain is taken from the others, statutory ones included), so
        the classes are visited in turn twice, each against the others' current offsets. An offset
        stays 0 where even 0 misses the precision: a negative one would only trade recall away.
        """
        classes = [str(c) for c in self.classes_]
        logp = np.log(np.clip(proba, 1e-300, None))
        shift = np.zeros(len(classes))
        grid = np.round(np.arange(0.0, self.offset_max + 1e-9, 0.05), 2)
        chosen = [classes.index(c) for c in self.offset_classes if c in classes]
        for _ in range(2):
            for j in chosen:
                actual = y == classes[j]
                best_recall, best = -1.0, 0.0
                for value in grid:
                    shift[j] = value
                    picked = (logp + shift).argmax(axis=1) == j
                    hits = int(np.sum(picked & actual))
                    if not picked.any() or hits / int(picked.sum()) < precision:
                        continue
                    recall = hits / max(1, int(actual.sum()))
                    if recall > best_recall:
                        best_recall, best = recall, float(value)
                shift[j] = best
        return {classes[j]: float(shift[j]) for j in chosen if shift[j] != 0.0}

    def _review_threshold(self, proba: np.ndarray, y: np.ndarray) -> float:
        """The lowest top probability above which cross-validated choices reach ``target_accuracy``."""
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
        self.urgent_watch_: float | None = _watch_level(
            _watch_scores(rows, "urgent"), urgent, recall, max_share
        )
        return self

    def fit_multi_watch(
        self, rows: Sequence[Features], multi: Sequence[bool], recall: float, max_share: float = 1.0
    ) -> ChannelArbiter:
        """Set ``multi_watch_`` as :meth:`fit_urgent_watch` sets its level, for the learned
        ``multi`` head (several unrelated matters in one letter, 第二十四条)."""
        self.multi_watch_: float | None = _watch_level(_watch_scores(rows, "multi"), multi, recall, max_share)
        return self

    def predict_proba(self, rows: Sequence[Features]) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError("This ChannelArbiter is not fitted yet; call fit() or load a trained model.")
        proba: np.ndarray = self.model_.predict_proba(self._matrix(rows))
        return self._shift(proba)

    def __sklearn_tags__(self) -> Any:
        return super().__sklearn_tags__()


__all__ = ["WATCHED_FACTS", "ChannelArbiter", "Features"]
