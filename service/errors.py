"""The errors the service's operations raise on purpose, whichever shell called them.

Each says what was wrong in one readable sentence (``message``) and, where there are several
problems, lists them (``errors``). They carry no HTTP status or header: the web shell maps them to
responses in one place (``api.errors``), and the command line prints the message.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of every error an operation raises on purpose.

    Args:
        message: what was wrong, the value received, what is allowed and what to do next.
        errors: the individual problems, each ``{"loc": [...], "msg": ..., "type": ...}``.
    """

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class BadRequest(ServiceError, ValueError):
    """The request cannot be used as sent (a file name that is a path, say)."""


class NotAuthenticated(ServiceError, PermissionError):
    """No valid session or token came with the request, or a sign-in failed."""


class Forbidden(ServiceError, PermissionError):
    """The user is known but their role does not allow this."""


class NotFound(ServiceError, LookupError):
    """No such thing, or one the caller may not know exists."""


class Conflict(ServiceError):
    """The resource changed since the client read it (optimistic locking), or its state forbids this."""


class PayloadTooLarge(ServiceError, ValueError):
    """An upload over its size limit."""


class UnsupportedMediaType(ServiceError, ValueError):
    """An upload of a type this operation does not read."""


class InvalidInput(ServiceError, ValueError):
    """A value that is well formed but not allowed."""


class TooManyRequests(ServiceError):
    """Too many attempts lately; ``retry_after`` is the seconds to wait."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class ServiceUnavailable(ServiceError):
    """A component the operation needs (the routing model, say) is not available."""
