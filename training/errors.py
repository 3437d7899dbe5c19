"""Errors raised while preparing data, training, evaluating and managing models."""

from __future__ import annotations


class TrainingError(Exception):
    """Base of every error the training package raises."""


class DataValidationError(TrainingError, ValueError):
    """The training data is unusable: unknown labels, empty texts, missing files. Names the letter ids."""


class ConfigError(TrainingError, ValueError):
    """The training config or an override is invalid; the message lists the known keys."""


class RuleCheckError(TrainingError, ValueError):
    """The rulebook contradicts annotated decisions too often, or has rules that never fire."""
