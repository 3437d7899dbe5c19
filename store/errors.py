"""Errors raised by the store package. Each says what was wrong, the value, and what to do next.

Callers map them to their own shapes (``api/errors.py`` to HTTP, the CLI to ``ClickException``); the
store itself knows nothing about HTTP.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store package raises."""


class InvalidValueError(StoreError, ValueError):
    """A value handed to a repository function is not allowed; the message lists the allowed values."""


class WeakPasswordError(InvalidValueError):
    """A password fails the strength policy; ``problems`` lists every rule it broke."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("密码不符合要求：" + "；".join(problems) + "。请换一个密码再试。")


class ReasonRequiredError(InvalidValueError):
    """A decision departs from the proposal (or corrects an earlier decision) but gives no reason."""


class NotFoundError(StoreError, LookupError):
    """A row asked for by id, case number, username or hash does not exist."""

    def __str__(self) -> str:  # LookupError subclasses like KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateError(StoreError, ValueError):
    """A row would break a uniqueness rule (username, source file, letter part of a source file)."""


class ConflictError(StoreError, RuntimeError):
    """The letter changed since the caller read it (optimistic locking): reload it and decide again.

    Attributes:
        letter_id: the letter concerned.
        expected_version: the version the caller read.
        current_version: the version in the database now (None when it could not be read).
    """

    def __init__(self, letter_id: int, expected_version: int, current_version: int | None) -> None:
        self.letter_id = letter_id
        self.expected_version = expected_version
        self.current_version = current_version
        super().__init__(
            f"letter {letter_id} was changed by someone else: you read version {expected_version}, "
            f"it is now version {current_version}. Reload the letter, check the latest proposal and "
            "decision, and decide again."
        )


class AppendOnlyError(StoreError, RuntimeError):
    """Code tried to change or delete a proposal, decision or audit event; history is append-only."""


class InvalidStateError(StoreError, RuntimeError):
    """A row is not in a state that allows the operation (e.g. marking a file done that was never claimed)."""


class MissingContentError(StoreError, OSError):
    """A file the database names (a page image) is missing from the storage folder or has changed.

    The database and the storage folder are out of step: restore the folder from the backup taken
    with the database. It is a fault of the installation, never of the request.
    """


class AuthenticationError(StoreError):
    """A login failed. The message never says whether the username exists."""


class NotAllowedError(StoreError, PermissionError):
    """The actor may not do this, whatever their role allows: approve their own role request, give a
    role that may read accusations alone, deactivate their own account."""


class SchemaError(StoreError, RuntimeError):
    """The database schema is missing or differs from the models; run ``xinfang db upgrade``."""
