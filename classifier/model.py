"""The classifier heads and the trained triage model that bundles them.

``LetterClassifier`` is one head (category, domain, department or channel): a linear SVM over the
shared feature matrix with sigmoid-calibrated probabilities, optionally over features weighted by
each class's naive-Bayes log-count ratio (:class:`NBLinearSVC`). It keeps scikit-learn's estimator
contract. ``TriageModel`` holds one fitted featurizer and every head, so a letter is segmented
and vectorised once however many heads read it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import LinearSVC
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from classifier.arbiter import ChannelArbiter
from classifier.errors import NotFittedError
from classifier.facts import FactDetector
from classifier.features import LetterVectorizer, letter_text, normalized_letter_text

HEADS = ("category", "domain", "department", "channel")
#: How a head weighs the shared features before its SVM: "none", or "nb" (:class:`NBLinearSVC`).
WEIGHTINGS = ("none", "nb")


class NBLinearSVC(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """One-vs-rest linear SVMs, each over the features scaled by its class's log-count ratio.

    The NB-SVM of Wang and Manning (2012, "Baselines and Bigrams"): for class ``c``,
    ``r = log((p / |p|₁) / (q / |q|₁))`` where ``p`` and ``q`` count (with ``alpha`` added, and the
    sample weights) the letters of ``c`` and of the other classes in which each feature occurs. A
    feature typical of one class is stretched before that class's SVM reads it, so a topic's own
    words count for more than the words every letter shares. Scaling ``x`` by ``r`` and then taking
    ``w · (r ⊙ x)`` is the plain linear model ``(w ⊙ r) · x``, so ``coef_`` holds ``w ⊙ r``: predicting
    costs what a LinearSVC costs, and the calibrated head reads it like one.

    Args:
        C, class_weight, max_iter, random_state: as for each class's ``LinearSVC``.
        alpha: smoothing added to each feature's count.
    """

    def __init__(
        self,
        C: float = 0.5,
        class_weight: str | None = "balanced",
        alpha: float = 1.0,
        max_iter: int = 5000,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.alpha = alpha
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> NBLinearSVC:
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float32, np.float64])
        self.classes_ = unique_labels(y)
        if len(self.classes_) < 2:
            raise ValueError(f"a head needs at least two classes, got 1 class: {list(self.classes_)}")
        X = sp.csr_matrix(X)
        weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        present = X.copy()
        present.data = np.ones_like(present.data)
        # A binary problem has one decision (for classes_[1]), as LinearSVC has.
        targets = self.classes_[1:] if len(self.classes_) == 2 else self.classes_
        coefs, intercepts, iterations = [], [], []
        for label in targets:
            mine = np.asarray(y == label)
            p = np.asarray(present[mine].T @ weight[mine]).ravel() + self.alpha
            q = np.asarray(present[~mine].T @ weight[~mine]).ravel() + self.alpha
            ratio = np.log((p / p.sum()) / (q / q.sum()))
            svm = LinearSVC(
                C=self.C,
                class_weight=self.class_weight,
                max_iter=self.max_iter,
                dual="auto",
                random_state=self.random_state,
            ).fit(X @ sp.diags(ratio), mine.astype(np.int64), sample_weight=weight)
            coefs.append(svm.coef_[0] * ratio)
            intercepts.append(svm.intercept_[0])
            iterations.append(int(svm.n_iter_))
        self.coef_ = np.vstack(coefs)
        self.intercept_ = np.array(intercepts)
        self.n_iter_ = max(iterations)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, accept_sparse="csr", reset=False, dtype=[np.float32, np.float64])
        scores = np.asarray(X @ self.coef_.T + self.intercept_)
        return scores.ravel() if self.coef_.shape[0] == 1 else scores

    def predict(self, X: Any) -> np.ndarray:
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.asarray(self.classes_[(scores > 0).astype(np.int64)])
        return np.asarray(self.classes_[np.argmax(scores, axis=1)])

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class LetterClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """One head: calibrated linear SVM over letter features.

    Args:
        C: inverse regularisation strength of the SVM.
        class_weight: ``"balanced"`` so rare routes (arbitration, personnel_appeal) are not drowned.
        calibration_cv: folds used to fit the sigmoid calibration; a class needs at least this many
            examples.
        max_iter: iterations of the SVM solver.
        random_state: seed of the solver's coordinate order, so retraining on the same data gives
            the same model.
        weighting: "none" for the SVM over the shared features, "nb" for :class:`NBLinearSVC`
            (each class's naive-Bayes log-count ratio scales the features its SVM reads).
    """

    def __init__(
        self,
        C: float = 0.5,
        class_weight: str | None = "balanced",
        calibration_cv: int = 3,
        max_iter: int = 5000,
        random_state: int = 0,
        weighting: str = "none",
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.calibration_cv = calibration_cv
        self.max_iter = max_iter
        self.random_state = random_state
        self.weighting = weighting

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LetterClassifier:
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float32, np.float64])
        self.classes_ = unique_labels(y)
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        svm: LinearSVC | NBLinearSVC
        if self.weighting == "nb":
            svm = NBLinearSVC(
                C=self.C,
                class_weight=self.class_weight,
                max_iter=self.max_iter,
                random_state=self.random_state,
            )
        else:
            svm = LinearSVC(
                C=self.C,
                class_weight=self.class_weight,
                max_iter=self.max_iter,
                dual="auto",
                random_state=self.random_state,
            )
        if len(self.classes_) < 2:
            raise ValueError(f"a head needs at least two classes, got 1 class: {list(self.classes_)}")
        labels, counts = np.unique(y, return_counts=True)
        scarce = [str(label) for label, n in zip(labels, counts, strict=True) if n < self.calibration_cv]
        if scarce:
            raise ValueError(
                f"classes {scarce} have fewer than calibration_cv={self.calibration_cv} examples; "
                "add examples, lower calibration_cv, or merge the classes"
            )
        # ensemble=False keeps a single SVM fitted on all the data (one coefficient matrix, a small
        # model) and uses the cross-validated decisions only to fit the sigmoid.
        self.calibrated_ = CalibratedClassifierCV(
            svm, method="sigmoid", cv=self.calibration_cv, ensemble=False
        ).fit(X, y, sample_weight=sample_weight)
        linear = self.calibrated_.calibrated_classifiers_[0].estimator
        linear.coef_ = linear.coef_.astype(np.float32)
        linear.intercept_ = linear.intercept_.astype(np.float32)
        self.n_iter_ = linear.n_iter_
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _check(self) -> None:
        try:
            check_is_fitted(self, "calibrated_")
        except Exception as exc:
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(X, y) or load a trained model."
            ) from exc

    def predict_proba(self, X: Any) -> np.ndarray:
        self._check()
        X = self._checked(X)
        proba = _sigmoid_proba(self.calibrated_, X)
        return self.calibrated_.predict_proba(X) if proba is None else proba

    def _checked(self, X: Any) -> Any:
        # The featurizer's own output (finite float CSR of the fitted width) is what validate_data
        # would return unchanged; checking that directly spares its cost on every call of every head.
        if (
            sp.issparse(X)
            and X.format == "csr"
            and X.dtype in (np.float32, np.float64)
            and X.ndim == 2
            and X.shape[0] >= 1
            and X.shape[1] == getattr(self, "n_features_in_", None)
            and not hasattr(self, "feature_names_in_")
            and np.isfinite(X.data).all()
        ):
            return X
        return validate_data(self, X, accept_sparse="csr", reset=False, dtype=[np.float32, np.float64])

    def predict(self, X: Any) -> np.ndarray:
        self._check()
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)])

    def class_weights(self, label: str) -> np.ndarray:
        """The linear weights that push a letter towards ``label`` (for explaining a choice)."""
        self._check()
        linear = self.calibrated_.calibrated_classifiers_[0].estimator
        coef = linear.coef_
        if coef.shape[0] == 1:  # binary: one row, positive means classes_[1]
            row = coef[0] if label == self.classes_[1] else -coef[0]
        else:
            row = coef[list(self.classes_).index(label)]
        return np.asarray(row)


def _sigmoid_proba(calibrated: CalibratedClassifierCV, X: Any) -> np.ndarray | None:
    """``calibrated.predict_proba(X)`` for sigmoid-calibrated linear models, without its overhead.

    scikit-learn validates the input again for the linear model and once more for every class's
    calibrator, which cost about 10 ms per call over the four heads (29 departments alone), however
    few letters the call holds. This does the same arithmetic in the same order and dtypes
    (``X @ coef_.T + intercept_`` in the model's dtype, then ``expit(-(a * score + b))`` in float64,
    normalised as ``_CalibratedClassifier.predict_proba`` does), so the probabilities are bitwise the
    same (``tests/classifier/test_calibrated_proba.py``). Returns ``None`` for anything else, and
    the caller asks scikit-learn.
    """
    from scipy.special import expit

    members = calibrated.calibrated_classifiers_
    n = X.shape[0]
    mean = np.zeros((n, len(calibrated.classes_)))
    for member in members:
        estimator, calibrators = member.estimator, member.calibrators
        if member.method != "sigmoid" or not hasattr(estimator, "coef_"):
            return None
        # a_ and b_ are float64 scalars after fitting; a Python float would compute in float32.
        if not all(isinstance(c.a_, np.float64) and isinstance(c.b_, np.float64) for c in calibrators):
            return None
        scores = X @ estimator.coef_.T + estimator.intercept_
        scores = scores.reshape(n, -1)
        n_classes = member.classes.shape[0]
        a = np.array([c.a_ for c in calibrators])
        b = np.array([c.b_ for c in calibrators])
        proba = np.zeros((n, n_classes))
        if n_classes == 2:
            proba[:, 1] = expit(-(a[0] * scores[:, 0] + b[0]))
            proba[:, 0] = 1.0 - proba[:, 1]
        else:
            columns = np.searchsorted(np.unique(member.classes), estimator.classes_)
            proba[:, columns] = expit(-(a * scores + b))
            denominator = np.sum(proba, axis=1)[:, np.newaxis]
            uniform = np.full_like(proba, 1 / n_classes)
            proba = np.divide(proba, denominator, out=uniform, where=denominator != 0)
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        mean += proba
    mean /= len(members)
    return mean


@dataclass
class HeadOutput:
    """Probabilities of one head for a batch, columns ordered as ``classes``."""

    classes: tuple[str, ...]
    proba: np.ndarray


@dataclass
class TriageModel:
    """A fitted featurizer and its heads; what a model folder holds."""

    featurizer: LetterVectorizer
    heads: dict[str, LetterClassifier]
    #: The fact layer (legal facts with probabilities and spans); None in models trained without it.
    facts: FactDetector | None = None
    #: Weighs heads, facts and rules into one channel; None in models trained without it.
    arbiter: ChannelArbiter | None = None
    version: str = "unversioned"
    meta: dict[str, Any] = field(default_factory=dict)
    _feature_names: np.ndarray | None = field(default=None, repr=False)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.featurizer.transform(list(texts))

    def transform_letters(
        self, letters: Sequence[tuple[str, str]], normalized: Sequence[tuple[str, str]]
    ) -> sp.csr_matrix:
        """:meth:`transform` of each ``(title, text)``, given both fields already through ``normalize``.

        The TF-IDF featurizer reads the normalised fields instead of normalising the letter again;
        a featurizer with sentence embeddings reads the letter as written (its cache is keyed by it).
        """
        if isinstance(self.featurizer, LetterVectorizer):
            return self.featurizer.transform_normalized(
                [normalized_letter_text(t, x, *n) for (t, x), n in zip(letters, normalized, strict=True)]
            )
        return self.transform([letter_text(t, x) for t, x in letters])

    def predict_heads(self, X: sp.csr_matrix) -> dict[str, HeadOutput]:
        return {
            name: HeadOutput(tuple(str(c) for c in head.classes_), head.predict_proba(X))
            for name, head in self.heads.items()
        }

    @property
    def feature_names(self) -> np.ndarray:
        if self._feature_names is None:
            self._feature_names = self.featurizer.get_feature_names_out()
        return self._feature_names

    def strongest_features(
        self, X_row: sp.csr_matrix, head: str, label: str, k: int = 5
    ) -> list[tuple[str, float]]:
        """The ``k`` features of one letter that contributed most to ``label`` in ``head``."""
        row = X_row.tocsr()
        return self._strongest(row.indices, row.data, self.heads[head].class_weights(label), k)

    def strongest_features_many(
        self, X: sp.csr_matrix, labels: Mapping[str, Sequence[str]], k: int = 5
    ) -> list[dict[str, list[tuple[str, float]]]]:
        """:meth:`strongest_features` of every row of ``X``, for each head in ``labels``.

        Args:
            X: the letters' feature rows.
            labels: head -> the label to explain for each row (``len(X)`` labels per head).
            k: features per head and letter.

        Returns:
            One ``{head: [(feature, contribution), ...]}`` per row, as ``strongest_features`` gives.
        """
        X = X.tocsr()
        # Each head's weight rows are looked up once per batch and each letter's row is read
        # straight from the CSR arrays: slicing X row by row cost more than the evidence itself.
        weights = {
            (head, label): self.heads[head].class_weights(label)
            for head, chosen in labels.items()
            for label in set(chosen)
        }
        indptr, indices, data = X.indptr, X.indices, X.data
        out = []
        for i in range(X.shape[0]):
            start, end = indptr[i], indptr[i + 1]
            cols, values = indices[start:end], data[start:end]
            out.append(
                {
                    head: self._strongest(cols, values, weights[head, chosen[i]], k)
                    for head, chosen in labels.items()
                }
            )
        return out

    def _strongest(
        self, indices: np.ndarray, data: np.ndarray, weights: np.ndarray, k: int
    ) -> list[tuple[str, float]]:
        if k <= 0:
            return []
        contributions = data * weights[indices]
        # A letter has hundreds of features and k is a handful: keep those at least as large as the
        # k-th largest before sorting, rather than sorting every contribution. Equal contributions
        # (a character that only occurs inside one word, 圾 in 垃圾) are ordered by column, so the
        # evidence shown is the same on every run and machine.
        if len(contributions) > k:
            kth = np.partition(contributions, len(contributions) - k)[len(contributions) - k]
            candidates = np.flatnonzero(contributions >= kth)
        else:
            candidates = np.arange(len(contributions))
        candidates = candidates[contributions[candidates] > 0]
        top = candidates[np.lexsort((indices[candidates], -contributions[candidates]))][:k]
        names = self.feature_names[indices[top]].tolist()
        return list(zip(names, contributions[top].tolist(), strict=True))
