"""Which letters are confidential, and which letters a reader's scope admits: each rule written once
in Python and once in SQL, side by side, so that the two can only change together.

A letter is *confidential* (条例 第三十条第三款, 第四十六条(五)) when its newest decision classes it
as an accusation or sends it to the discipline channel; before any decision, when its newest
proposal says so in any of three ways: its ``confidential`` flag (set also when the model gives an
accusation a probability at or above ``ProposalConfig.confidential_threshold`` without making it
the top category, or when a discipline rule fired), an accusation category, or the discipline
channel. A letter the machine has not looked at yet is treated as the most sensitive kind. A
decision is what can make a proposed accusation ordinary again, and what can make an ordinary
proposal confidential.

A reader's *scope* says which letters they may open: confidential ones, ordinary ones, or both, and
whether only the cases their own body handles. A case is a body's once the office has carried its
route out, 转送 or 交办 to that body (the ``cases`` row's ``handling_body``): a route merely
decided for the body is still the office's to correct, and a case the body returned (异议退回) is
no longer the body's, whatever the office routes it to next. Which role has which scope is
:func:`service.access.queue_scope`; this module only says what a scope admits.

The Python forms judge one letter in hand (a letter page, the files of a batch); the SQL forms
filter and count in the database (the queue, exports), over a select that joins each letter to its
newest proposal and newest decision (``store.queries_api.scoped_select``). Both read exactly those
two rows and the case's handling body. ``tests/api/test_confidentiality_table.py`` runs both forms
over every case and role.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import and_, or_, select, true

from routing.codes import Category, Channel
from store.models import CaseRecord, Decision, Proposal

#: A decision or proposal with one of these is confidential.
CONFIDENTIAL_CATEGORIES: tuple[str, ...] = (Category.accusation.value,)
CONFIDENTIAL_CHANNELS: tuple[str, ...] = (Channel.discipline.value,)


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


# -- confidential -----------------------------------------------------------------------------


def is_confidential(proposal: ProposalLike | None, decision: RouteLike | None) -> bool:
    """The rule for one letter, from its newest proposal and newest decision (None when it has none)."""
    if decision is not None:
        return decision.category in CONFIDENTIAL_CATEGORIES or decision.channel in CONFIDENTIAL_CHANNELS
    if proposal is not None:
        return bool(
            proposal.confidential
            or proposal.category in CONFIDENTIAL_CATEGORIES
            or proposal.channel in CONFIDENTIAL_CHANNELS
        )
    return True


def confidential_clause(proposal: Any = Proposal, decision: Any = Decision) -> Any:
    """The same rule as a SQL condition over the newest proposal and decision joined to a letter.

    Never NULL: every branch tests for the missing row first, so ``~`` of it is the ordinary letters.
    """
    decided = and_(
        decision.id.is_not(None),
        or_(decision.category.in_(CONFIDENTIAL_CATEGORIES), decision.channel.in_(CONFIDENTIAL_CHANNELS)),
    )
    undecided = and_(
        decision.id.is_(None),
        or_(
            proposal.id.is_(None),
            proposal.confidential.is_(True),
            proposal.category.in_(CONFIDENTIAL_CATEGORIES),
            proposal.channel.in_(CONFIDENTIAL_CHANNELS),
        ),
    )
    return or_(decided, undecided)


# -- what a scope admits ----------------------------------------------------------------------


def admits(
    proposal: ProposalLike | None,
    decision: RouteLike | None,
    *,
    confidential: bool | None,
    routed_department: str | None,
    handling_body: str | None = None,
) -> bool:
    """Does the scope admit this letter?

    Args:
        confidential: ``True`` only confidential letters, ``False`` only ordinary ones, None both.
        routed_department: only cases transferred or assigned (转送/交办) to this department and
            not returned since.
        handling_body: the body the letter's case is transferred or assigned to now (the ``cases``
            row's ``handling_body``; None before the 转送/交办 and after a return). Left out, a
            scope naming a department admits nothing.
    """
    secret = is_confidential(proposal, decision)
    if confidential is not None and secret != confidential:
        return False
    if routed_department is not None:
        return (
            decision is not None
            and decision.department == routed_department
            and handling_body == routed_department
        )
    return True


def admits_clause(
    *,
    confidential: bool | None,
    routed_department: str | None,
    proposal: Any = Proposal,
    decision: Any = Decision,
) -> Any:
    """The same scope as a SQL condition over the newest proposal and decision joined to a letter.

    The handling body is looked up by the decision rather than joined, so the condition fits any
    select that joins those two rows (a case is transferred only after a decision).
    """
    conditions = []
    secret = confidential_clause(proposal, decision)
    if confidential is True:
        conditions.append(secret)
    elif confidential is False:
        conditions.append(~secret)
    if routed_department is not None:
        # The body's rows by the (handling_body, state) index, then the newest decisions they account
        # for. A case goes only to the body its route decided (casework refuses another), so the
        # decided department adds nothing to the rule, but it lets the planner reach the body's
        # letters as it did before (a handler's queue among a million letters on PostgreSQL: as
        # fast as the decided department alone; by the cases rows alone, a fifth slower).
        handled = select(CaseRecord.decision_id).where(CaseRecord.handling_body == routed_department)
        conditions.append(
            and_(
                decision.id.is_not(None),
                decision.department == routed_department,
                decision.id.in_(handled),
            )
        )
    return and_(true(), *conditions) if conditions else true()


def handling_body_column(decision: Any = Decision) -> Any:
    """The body a letter's case is transferred or assigned to now, as a column over its newest
    decision joined: what the Python form of :func:`admits` takes as ``handling_body``.

    The ``cases`` row's body counts only while the row accounts for that decision (its
    ``decision_id``), as in :func:`admits_clause`: a route decided anew after a return is not the
    old body's, nor anyone's until it is carried out.
    """
    return (
        select(CaseRecord.handling_body)
        .where(CaseRecord.letter_id == decision.letter_id, CaseRecord.decision_id == decision.id)
        .scalar_subquery()
    )


# -- what stands in for what a reader may not see -----------------------------------------------


def withheld_file_name(file_id: int, *, has_letters: bool) -> str:
    """The name shown for an uploaded file whose name a reader may not see
    (``service.access.sees_file_name``).

    "保密" only when the file holds letters the reader may not open; a file not read yet is not
    known to be confidential, only not theirs to name.
    """
    return f"保密文件 {file_id}" if has_letters else f"文件 {file_id}（文件名不公开）"


def withheld_title(file_id: int) -> str:
    """The title shown for a letter whose title came from such a file's name."""
    return f"保密文件 {file_id} 中的来信"


__all__ = [
    "CONFIDENTIAL_CATEGORIES",
    "CONFIDENTIAL_CHANNELS",
    "ProposalLike",
    "RouteLike",
    "admits",
    "admits_clause",
    "confidential_clause",
    "handling_body_column",
    "is_confidential",
    "withheld_file_name",
    "withheld_title",
]
