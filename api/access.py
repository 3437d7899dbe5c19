"""Who may do and see what: the workbench's permission policy in one place.

Roles (``store.models.ROLES``):

- ``intake_officer`` registers letters and confirms or corrects proposals of ordinary letters;
- ``supervisor`` sees and decides every letter, reads the audit log, exports with personal data;
- ``discipline_inspector`` sees and decides the confidential letters (检举控告) and nothing else;
- ``department_handler`` sees the ordinary letters decided for their own department;
- ``analyst`` reads ordinary letters and exports with personal data masked;
- ``administrator`` manages accounts and reads no letter.

A letter is *confidential* (条例 第三十条第三款, 第四十六条(五)) when its latest decision classes it
as an accusation or sends it to the discipline channel, or, before any decision, when the latest
proposal says so. Only supervisors and discipline inspectors may open it, so a department handler
never sees an accusation, least of all one concerning their own department, nor who wrote it.
A decision by one of them is what can make a proposed accusation ordinary again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from routing.codes import Category, Channel

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

ROLE_NAMES: dict[str, str] = {
    INTAKE: "接待／办信人员",
    SUPERVISOR: "科室负责人",
    ANALYST: "统计分析人员",
    ADMINISTRATOR: "系统管理员",
    HANDLER: "承办单位人员",
    INSPECTOR: "纪检监察人员",
}


class UserLike(Protocol):
    @property
    def username(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def department(self) -> str | None: ...


class RouteLike(Protocol):
    @property
    def category(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def department(self) -> str: ...


class ProposalLike(RouteLike, Protocol):
    @property
    def confidential(self) -> bool: ...


@dataclass(frozen=True)
class LetterState:
    """What the policy needs to know about a letter: its latest proposal and latest decision."""

    proposal: ProposalLike | None
    decision: RouteLike | None

    @property
    def confidential(self) -> bool:
        if self.decision is not None:
            return (
                self.decision.category == Category.accusation or self.decision.channel == Channel.discipline
            )
        if self.proposal is not None:
            return bool(
                self.proposal.confidential
                or self.proposal.category == Category.accusation
                or self.proposal.channel == Channel.discipline
            )
        # A letter the machine has not looked at yet is treated as the most sensitive kind.
        return True

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


def can_read(user: UserLike, state: LetterState) -> bool:
    """May ``user`` open this letter at all?"""
    if user.role not in READ_LETTERS:
        return False
    if state.confidential:
        return user.role in CONFIDENTIAL_READERS
    if user.role == INSPECTOR:
        return False  # inspectors work on confidential matters only
    if user.role == HANDLER:
        return user.department is not None and state.routed_department == user.department
    return True


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


def queue_scope(user: UserLike) -> dict[str, object]:
    """The filters that restrict the queue to what ``user`` may see.

    Returns keys ``confidential`` (``None`` = both, ``True``/``False`` = only those) and
    ``routed_department`` (``None`` = any, else only letters decided for that department).
    """
    if user.role in (SUPERVISOR,):
        return {"confidential": None, "routed_department": None}
    if user.role == INSPECTOR:
        return {"confidential": True, "routed_department": None}
    if user.role == HANDLER:
        return {"confidential": False, "routed_department": user.department or "\x00none"}
    if user.role in (INTAKE, ANALYST):
        return {"confidential": False, "routed_department": None}
    raise PermissionError(f"role {user.role!r} has no letter queue")
