"""Who may do and see what: the workbench's permission policy in one place.

Roles (``store.models.ROLES``):

- ``intake_officer`` registers letters and confirms or corrects proposals of ordinary letters;
- ``supervisor`` sees and decides every letter, reads the audit log, exports with personal data;
- ``discipline_inspector`` sees and decides the confidential letters (检举控告) and nothing else;
- ``department_handler`` sees the ordinary cases transferred or assigned (转送/交办) to their own
  department, from that step until the department returns one (异议退回); a route merely decided for
  the department is not theirs yet;
- ``analyst`` reads ordinary letters and exports with personal data masked;
- ``administrator`` manages accounts and reads no letter.

A letter is *confidential* (条例 第三十条第三款, 第四十六条(五)) when its latest decision classes it
as an accusation or sends it to the discipline channel, or, before any decision, when the latest
proposal says so (its flag, its category or its channel). Only supervisors and discipline
inspectors may open it, so a department handler never sees an accusation, least of all one
concerning their own department, nor who wrote it. A decision by one of them is what can make a
proposed accusation ordinary again.

That rule, and what a role's scope (:func:`queue_scope`) admits, are written once in Python and
once in SQL side by side in :mod:`store.confidentiality`: :func:`can_read` is the scope judged on
one letter, the queue and the exports the same scope as a query, so a page and a list cannot
disagree about a letter.

A file uploaded in a batch is named by the uploader, and the name often says what the letters
say (``举报王副局长受贿_赵六.pdf``). So its name, and what is derived from it (a failure message
quoting it), are shown only to a reader who may open every letter read from it
(:func:`sees_file_name`); everyone else sees "保密文件 N" and counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from store.confidentiality import (
    ProposalLike,
    RouteLike,
    admits,
    is_confidential,
    withheld_title,
)
from store.confidentiality import withheld_file_name as withheld_file_name
from store.models import ROLE_NAMES as STORED_ROLE_NAMES

INTAKE = "intake_officer"
SUPERVISOR = "supervisor"
ANALYST = "analyst"
ADMINISTRATOR = "administrator"
HANDLER = "department_handler"
INSPECTOR = "discipline_inspector"

ALL_ROLES: tuple[str, ...] = (INTAKE, SUPERVISOR, ANALYST, ADMINISTRATOR, HANDLER, INSPECTOR)

REGISTER_LETTERS = frozenset({INTAKE, SUPERVISOR})
READ_LETTERS = frozenset({INTAKE, SUPERVISOR, ANALYST, HANDLER, INSPECTOR})
DECIDE_LETTERS = frozenset({INTAKE, SUPERVISOR, INSPECTOR})
CONFIDENTIAL_READERS = frozenset({SUPERVISOR, INSPECTOR})
# Roles that see petitioners' particulars unmasked on a letter they may open. A handler needs them to
# answer the petitioner of an ordinary letter routed to them.
UNMASKED_ON_LETTER = frozenset({INTAKE, SUPERVISOR, INSPECTOR, HANDLER})
EXPORT = frozenset({SUPERVISOR, ANALYST})
UNMASKED_EXPORT = frozenset({SUPERVISOR})
READ_AUDIT = frozenset({SUPERVISOR})
# Batches of uploaded files: who registers letters uploads them, who exports needs to find them. The
# letters listed on a batch page are still filtered letter by letter with can_read.
READ_BATCHES = REGISTER_LETTERS | EXPORT
MANAGE_USERS = frozenset({ADMINISTRATOR})
# The models page: analysts measure the models and supervisors answer for the routing, so both read
# the metrics and put a model in service (audited with their name). Administrators run the
# installation but read no letter, and a model's evaluation names letters (ids with their labels, in
# the report's rule audit too), so they do not read it; the health check tells them which version runs.
READ_MODELS = frozenset({ANALYST, SUPERVISOR})
PROMOTE_MODELS = frozenset({ANALYST, SUPERVISOR})

# One table of role names for the whole project, kept beside the roles themselves.
ROLE_NAMES: dict[str, str] = STORED_ROLE_NAMES


class UserLike(Protocol):
    @property
    def username(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def department(self) -> str | None: ...


@dataclass(frozen=True)
class LetterState:
    """What the policy needs to know about a letter: its latest proposal and latest decision, and
    the body its case is transferred or assigned to now (``store.confidentiality.handling_body_column``;
    None before the 转送/交办, after a return, and for a letter read without it, which no handler
    is then shown)."""

    proposal: ProposalLike | None
    decision: RouteLike | None
    handling_body: str | None = None

    @property
    def confidential(self) -> bool:
        return is_confidential(self.proposal, self.decision)

    @property
    def routed_department(self) -> str | None:
        """The department an officer's decision sent the letter to (None until decided)."""
        return self.decision.department if self.decision is not None else None

    @property
    def concerned_department(self) -> str | None:
        """The department the letter is about, by decision or else by proposal."""
        if self.decision is not None:
            return self.decision.department
        return self.proposal.department if self.proposal is not None else None


class BundleLike(Protocol):
    @property
    def proposal(self) -> ProposalLike | None: ...
    @property
    def decision(self) -> RouteLike | None: ...
    @property
    def handling_body(self) -> str | None: ...


def letter_state(bundle: BundleLike) -> LetterState:
    """The state of a letter loaded with its newest rows (``store.queries_api.LetterBundle``)."""
    return LetterState(proposal=bundle.proposal, decision=bundle.decision, handling_body=bundle.handling_body)


def can_read(user: UserLike, state: LetterState) -> bool:
    """May ``user`` open this letter at all? Their scope (:func:`scope_of`) judged on this one letter."""
    if user.role not in READ_LETTERS:
        return False
    scope = scope_of(user)
    return admits(
        state.proposal,
        state.decision,
        confidential=scope.confidential,
        routed_department=scope.routed_department,
        handling_body=state.handling_body,
    )


def can_decide(user: UserLike, state: LetterState) -> bool:
    """May ``user`` confirm or correct the proposal of this letter?"""
    return user.role in DECIDE_LETTERS and can_read(user, state)


def sees_particulars(user: UserLike, state: LetterState) -> bool:
    """Does ``user`` see the petitioner's name, ID number, phone and address unmasked on the letter page?"""
    if not can_read(user, state):
        return False
    if state.confidential:
        # The accuser's identity is for the discipline side only (第四十六条(五)).
        return user.role in CONFIDENTIAL_READERS
    return user.role in UNMASKED_ON_LETTER


@dataclass(frozen=True)
class Scope:
    """Which letters a role may open, as :mod:`store.confidentiality` reads it.

    ``confidential``: ``None`` both kinds, ``True``/``False`` only those; ``routed_department``:
    ``None`` any, else only cases transferred or assigned (转送/交办) to that department by their
    newest decision and not returned since.
    """

    confidential: bool | None
    routed_department: str | None


def scope_of(user: UserLike) -> Scope:
    """The letters ``user``'s role may open: the one place roles meet the confidentiality rule.

    Raises:
        PermissionError: the role reads no letter.
    """
    if user.role == SUPERVISOR:
        return Scope(confidential=None, routed_department=None)
    if user.role == INSPECTOR:
        return Scope(confidential=True, routed_department=None)  # confidential matters only
    if user.role == HANDLER:
        # Only what the office has sent the body: a route decided for it may still be corrected,
        # and the body must not read a matter the office may yet send elsewhere. A handler without
        # a department is sent nothing, so sees nothing (no case is sent to the empty department; a
        # NUL byte, which PostgreSQL refuses in text, would fail the query).
        return Scope(confidential=False, routed_department=user.department or "")
    if user.role in (INTAKE, ANALYST):
        return Scope(confidential=False, routed_department=None)
    raise PermissionError(f"role {user.role!r} has no letter queue")


def queue_scope(user: UserLike) -> dict[str, object]:
    """The filters of ``store.queries_api.list_queue_for`` that restrict a list to what ``user`` may see.

    Returns keys ``confidential`` and ``routed_department``, as :class:`Scope` has them.
    """
    scope = scope_of(user)
    return {"confidential": scope.confidential, "routed_department": scope.routed_department}


def sees_file_name(user: UserLike, *, uploaded_by: str, letters: Iterable[LetterState]) -> bool:
    """May ``user`` see the name of an uploaded file (and what quotes it), given the letters read from it?

    A file with letters: only when ``user`` may open every one of them. A file with none yet (waiting,
    unreadable, refused at upload): only its uploader, who named it, and the roles that may read
    confidential letters, since nothing yet says what it holds.
    """
    states = list(letters)
    if states:
        return all(can_read(user, state) for state in states)
    return user.username == uploaded_by or user.role in CONFIDENTIAL_READERS


def shown_title(
    user: UserLike, title: str, *, file_id: int | None, file_letters: Iterable[LetterState]
) -> str:
    """A letter's title as ``user`` sees it: batch letters were once titled with their file's name,
    so such a title is withheld wherever the name is."""
    if not title or file_id is None or sees_file_name(user, uploaded_by="", letters=file_letters):
        return title
    return withheld_title(file_id)
