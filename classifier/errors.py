"""Errors raised by the classifier package. Each says what was wrong and what to do next."""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as SklearnNotFittedError


class ClassifierError(Exception):
    """Base of every error the classifier raises."""


class SegmenterError(ClassifierError, ValueError):
    """The segmenter was configured wrongly (unknown backend, unreadable user dictionary)."""


class ModelLoadError(ClassifierError, OSError):
    """A model folder is missing, corrupt, or was made by incompatible library versions."""


class IncompatibleModelError(ModelLoadError):
    """The model was saved by library versions this installation cannot load safely."""


class UntrustedModelError(ModelLoadError):
    """The saved estimator contains types outside the trusted list; it is not loaded."""


class NotFittedError(ClassifierError, SklearnNotFittedError):  # type: ignore[misc]  # sklearn is untyped
    """The estimator is used before ``fit``; call ``fit`` or load a trained model first."""


class InvalidLetterError(ClassifierError, ValueError):
    """The input cannot be treated as a letter (wrong type, undecodable bytes)."""
