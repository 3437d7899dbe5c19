"""The errors of the case's life, each with a message an officer can read as it is (in Chinese)."""

from __future__ import annotations


class CaseworkError(ValueError):
    """A step, a history or a document the rules of the 《信访工作条例》 or the office do not allow."""


class StepRefused(CaseworkError):
    """A step the case's state, the actor's role or a statutory time limit does not allow.

    ``state`` and ``step`` are the codes involved (``None`` before registration); ``allowed`` lists
    the steps the state allows, so a caller can offer them instead.
    """

    def __init__(
        self,
        message: str,
        *,
        state: str | None = None,
        step: str | None = None,
        allowed: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.state = state
        self.step = step
        self.allowed = allowed


class DocumentError(CaseworkError):
    """A document that cannot be drafted or issued as asked (a missing field, a malformed 文号)."""


class TemplateError(CaseworkError):
    """A document template in ``data/documents`` that is malformed or would disclose particulars."""
