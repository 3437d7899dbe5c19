"""The head's own computation of calibrated probabilities equals scikit-learn's, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from classifier import model as model_module
from classifier.model import LetterClassifier


def _letters_like(n_classes: int, dtype: type, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    # Sparse non-negative rows like TF-IDF, with a signal per class so the SVM is not degenerate.
    rng = np.random.default_rng(seed)
    n, width = 60 * n_classes, 400
    X = sp.random(n, width, density=0.05, random_state=rng, format="csr", dtype=np.float64)
    y = np.arange(n) % n_classes
    X = X + sp.csr_matrix((np.ones(n), (np.arange(n), 10 * y)), shape=X.shape)
    labels = np.array([f"c{c}" for c in range(n_classes)])[y]
    return X.tocsr().astype(dtype), labels


@pytest.mark.parametrize("n_classes", [2, 3, 8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighting", ["none", "nb"])
def test_probabilities_are_scikit_learns_exactly(n_classes: int, dtype: type, weighting: str) -> None:
    X, y = _letters_like(n_classes, dtype)
    head = LetterClassifier(calibration_cv=3, weighting=weighting).fit(X, y)
    expected = head.calibrated_.predict_proba(X)
    assert model_module._sigmoid_proba(head.calibrated_, X) is not None  # the fast path is taken
    assert np.array_equal(head.predict_proba(X), expected)
    # one letter at a time, as the API routes them, and a dense matrix (validated by scikit-learn)
    for i in range(5):
        assert np.array_equal(head.predict_proba(X[i : i + 1]), expected[i : i + 1])
    dense = X[:7].toarray()
    assert np.array_equal(head.predict_proba(dense), head.calibrated_.predict_proba(dense))


def test_falls_back_to_scikit_learn_for_calibrators_it_does_not_reproduce() -> None:
    X, y = _letters_like(3, np.float32)
    head = LetterClassifier(calibration_cv=3).fit(X, y)
    calibrator = head.calibrated_.calibrated_classifiers_[0].calibrators[0]
    calibrator.a_ = float(calibrator.a_)  # a Python float computes in float32 under NumPy 2
    assert model_module._sigmoid_proba(head.calibrated_, X) is None
    assert np.array_equal(head.predict_proba(X), head.calibrated_.predict_proba(X))


def test_bad_matrices_still_get_scikit_learns_errors() -> None:
    X, y = _letters_like(3, np.float32)
    head = LetterClassifier(calibration_cv=3).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        head.predict_proba(X[:, :-1])
    with pytest.raises(ValueError, match="0 sample"):
        head.predict_proba(X[:0])
    bad = X[:2].copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        head.predict_proba(bad)
