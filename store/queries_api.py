"""Read queries the web workbench needs beyond ``store.letters``: role-scoped queue, exports, audit pages.

Like the rest of ``store`` these take an open ``Session`` and never commit. The confidentiality
rule they filter by is the one of ``api.access``: a letter is confidential when its newest decision
says accusation or discipline channel, or, while undecided, when its newest proposal says so (or it
has no proposal yet). Doing the scoping in SQL keeps the counts and the pages of a role's queue
honest: a department handler's counts never include letters they may not see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from routing.codes import Category, Channel
from store.letters import (
    QueuePage,
    QueueRoute,
    _check_choice,
    check_queue_filters,
    china_today,
    queue_conditions,
    select_queue_page,
)
from store.models import AuditEvent, Decision, Letter, Proposal, User


def user_by_id(session: Session, user_id: int) -> User | None:
    """The user with this id, or None."""
    return session.get(User, user_id)


def _newest(model: Any, name: str) -> Any:
    return (
        select(model.letter_id, func.max(model.id).label("row_id")).group_by(model.letter_id).subquery(name)
    )


def _scoped_select(columns: Sequence[Any]) -> Select[Any]:
    """Letters joined to their newest proposal and their newest decision."""
    newest_p = _newest(Proposal, "newest_proposal")
    newest_d = _newest(Decision, "newest_decision")
    stmt = (
        select(*columns)
        .select_from(Letter)
        .outerjoin(newest_p, newest_p.c.letter_id == Letter.id)
        .outerjoin(Proposal, Proposal.id == newest_p.c.row_id)
        .outerjoin(newest_d, newest_d.c.letter_id == Letter.id)
        .outerjoin(Decision, Decision.id == newest_d.c.row_id)
    )
    return stmt


def _is_confidential() -> Any:
    decided = and_(
        Decision.id.is_not(None),
        or_(Decision.category == Category.accusation.value, Decision.channel == Channel.discipline.value),
    )
    undecided = and_(
        Decision.id.is_(None),
        or_(
            Proposal.id.is_(None),
            Proposal.confidential.is_(True),
            Proposal.category == Category.accusation.value,
            Proposal.channel == Channel.discipline.value,
        ),
    )
    return or_(decided, undecided)


def list_queue_for(
    session: Session,
    *,
    confidential: bool | None,
    routed_department: str | None,
    form: str | None = None,
    category: str | None = None,
    department: str | None = None,
    overdue: bool | None = None,
    needs_review: bool | None = None,
    status: str | None = "pending",
    today: dt.date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> QueuePage:
    """The work queue as one role may see it, most urgent first, then by the earliest deadline.

    Args:
        session: the open session.
        confidential: ``True`` only confidential letters, ``False`` only ordinary ones, None both.
        routed_department: only letters whose newest decision sends them to this department.
        form, category, department, overdue, needs_review, status: filters; None means any.
            ``category`` and ``department`` match the newest decision when there is one, else the
            newest proposal.
        today: the date overdue is judged against; defaults to today in China.
        limit: page size (1..500).
        offset: rows to skip.

    Returns:
        ``QueuePage`` whose items carry the effective (decided, else proposed) route.

    Raises:
        InvalidValueError: an unknown form, status or category, or a bad page.
    """
    check_queue_filters(form=form, status=status, limit=limit, offset=offset)
    if category is not None:
        _check_choice("category", category, tuple(Category))
    today = today or china_today()

    is_confidential = _is_confidential()
    route = QueueRoute(
        category=func.coalesce(Decision.category, Proposal.category),
        domain=func.coalesce(Decision.domain, Proposal.domain),
        department=func.coalesce(Decision.department, Proposal.department),
        channel=func.coalesce(Decision.channel, Proposal.channel),
        confidential=is_confidential,
    )
    conditions = queue_conditions(form=form, status=status, overdue=overdue, today=today)
    if confidential is True:
        conditions.append(is_confidential)
    elif confidential is False:
        conditions.append(~is_confidential)
    if routed_department is not None:
        conditions.append(Decision.department == routed_department)
    if category is not None:
        conditions.append(route.category == category)
    if department is not None:
        conditions.append(route.department == department)
    if needs_review is not None:
        is_review = func.coalesce(Proposal.needs_review, false())
        conditions.append(is_review == (true() if needs_review else false()))
    return select_queue_page(
        session, _scoped_select, route, conditions, today=today, limit=limit, offset=offset
    )


@dataclass(frozen=True)
class LetterBundle:
    """A letter with its newest proposal and all its decisions, oldest first."""

    letter: Letter
    proposal: Proposal | None
    decisions: list[Decision]

    @property
    def decision(self) -> Decision | None:
        return self.decisions[-1] if self.decisions else None


def letter_bundle(session: Session, case_number: str) -> LetterBundle:
    """Load a letter by case number with what its page shows.

    Raises:
        NotFoundError: no such case number.
    """
    from store.letters import get_letter_by_case_number, latest_proposal

    letter = get_letter_by_case_number(session, case_number)
    decisions = list(
        session.scalars(select(Decision).where(Decision.letter_id == letter.id).order_by(Decision.id))
    )
    return LetterBundle(letter=letter, proposal=latest_proposal(session, letter.id), decisions=decisions)


def letter_bundles_for_ids(
    session: Session, letter_ids: list[int]
) -> dict[int, tuple[Letter, Decision | None]]:
    """Letters by id with their newest decision (for exports of a queue page)."""
    if not letter_ids:
        return {}
    newest_d = _newest(Decision, "newest_decision")
    rows = session.execute(
        select(Letter, Decision)
        .outerjoin(newest_d, newest_d.c.letter_id == Letter.id)
        .outerjoin(Decision, Decision.id == newest_d.c.row_id)
        .where(Letter.id.in_(letter_ids))
    )
    return {letter.id: (letter, decision) for letter, decision in rows}


def list_audit_events(
    session: Session,
    *,
    action: str | None = None,
    actor: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEvent], int]:
    """Audit events, newest first, with the number matching the filters."""
    from store.errors import InvalidValueError

    if not 1 <= limit <= 1000:
        raise InvalidValueError(f"limit must be between 1 and 1000, got {limit}")
    if offset < 0:
        raise InvalidValueError(f"offset must not be negative, got {offset}")
    conditions = []
    if action is not None:
        conditions.append(AuditEvent.action == action)
    if actor is not None:
        conditions.append(AuditEvent.actor == actor)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
    events = list(
        session.scalars(
            select(AuditEvent).where(*conditions).order_by(AuditEvent.seq.desc()).limit(limit).offset(offset)
        )
    )
    return events, int(total)


def table_counts(session: Session) -> dict[str, int]:
    """Row counts of the letter tables, for the workbench benchmark's lost/duplicated check."""
    out = {}
    for name, model in (("letters", Letter), ("proposals", Proposal), ("decisions", Decision)):
        out[name] = int(session.scalar(select(func.count()).select_from(model)) or 0)
    out["case_numbers_distinct"] = int(
        session.scalar(select(func.count(func.distinct(Letter.case_number)))) or 0
    )
    return out
