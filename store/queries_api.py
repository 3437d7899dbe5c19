"""Read queries the web workbench needs beyond ``store.letters``: role-scoped queue, exports, audit pages.

Like the rest of ``store`` these take an open ``Session`` and never commit. The confidentiality
rule they filter by is the one of ``api.access``: a letter is confidential when its newest decision
says accusation or discipline channel, or, while undecided, when its newest proposal says so (or it
has no proposal yet). Doing the scoping in SQL keeps the counts and the pages of a role's queue
honest: a department handler's counts never include letters they may not see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, false, func, or_, select, true
from sqlalchemy.orm import Session

from routing.codes import Category, Channel
from store.letters import QueuePage, _check_choice, china_today, queue_page
from store.models import FORMS, LETTER_STATUSES, AuditEvent, Decision, Letter, Proposal, User


def user_by_id(session: Session, user_id: int) -> User | None:
    """The user with this id, or None."""
    return session.get(User, user_id)


def _newest(model: Any, name: str) -> Any:
    return (
        select(model.letter_id, func.max(model.id).label("row_id")).group_by(model.letter_id).subquery(name)
    )


def _scoped_select(columns: list[Any]) -> tuple[Select[Any], Any]:
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
    return stmt, None


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
    from store.errors import InvalidValueError

    if form is not None:
        _check_choice("form", form, FORMS)
    if status is not None:
        _check_choice("status", status, LETTER_STATUSES)
    if category is not None:
        _check_choice("category", category, tuple(Category))
    if not 1 <= limit <= 500:
        raise InvalidValueError(f"limit must be between 1 and 500, got {limit}")
    if offset < 0:
        raise InvalidValueError(f"offset must not be negative, got {offset}")
    today = today or china_today()

    eff_category = func.coalesce(Decision.category, Proposal.category)
    eff_department = func.coalesce(Decision.department, Proposal.department)
    eff_domain = func.coalesce(Decision.domain, Proposal.domain)
    eff_channel = func.coalesce(Decision.channel, Proposal.channel)
    is_confidential = _is_confidential()
    is_overdue = and_(
        Letter.status == "pending", Proposal.earliest_due.is_not(None), Proposal.earliest_due < today
    )
    is_review = func.coalesce(Proposal.needs_review, false())
    conditions: list[Any] = []
    if confidential is True:
        conditions.append(is_confidential)
    elif confidential is False:
        conditions.append(~is_confidential)
    if routed_department is not None:
        conditions.append(Decision.department == routed_department)
    if form is not None:
        conditions.append(Letter.form == form)
    if status is not None:
        conditions.append(Letter.status == status)
    if category is not None:
        conditions.append(eff_category == category)
    if department is not None:
        conditions.append(eff_department == department)
    if needs_review is not None:
        conditions.append(is_review == (true() if needs_review else false()))
    if overdue is True:
        conditions.append(is_overdue)
    elif overdue is False:
        conditions.append(~is_overdue)

    def flag(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    counts_stmt, _ = _scoped_select(
        [
            func.count(Letter.id),
            flag(Proposal.urgent.is_(True)),
            flag(Proposal.needs_review.is_(True)),
            flag(is_overdue),
            flag(is_confidential),
            flag(Letter.status == "pending"),
            flag(Letter.status == "decided"),
        ]
    )
    total, n_urgent, n_review, n_overdue, n_conf, n_pending, n_decided = session.execute(
        counts_stmt.where(*conditions)
    ).one()
    items_stmt, _ = _scoped_select(
        [
            Letter.id,
            Letter.case_number,
            Letter.title,
            Letter.form,
            Letter.received_on,
            Letter.status,
            Letter.version,
            Letter.source,
            Letter.created_at,
            Proposal.id,
            eff_category,
            eff_domain,
            eff_department,
            eff_channel,
            case((is_confidential, True), else_=False),
            func.coalesce(Proposal.needs_review, false()),
            func.coalesce(Proposal.urgent, false()),
            Proposal.earliest_due,
            case((is_overdue, True), else_=False),
        ]
    )
    rows = session.execute(
        items_stmt.where(*conditions)
        .order_by(
            func.coalesce(Proposal.urgent, false()).desc(),
            case((is_overdue, 0), else_=1),
            Proposal.earliest_due.is_(None),
            Proposal.earliest_due,
            Letter.received_on,
            Letter.id,
        )
        .limit(limit)
        .offset(offset)
    ).all()
    return queue_page(
        rows,
        total=total,
        urgent=n_urgent,
        needs_review=n_review,
        overdue=n_overdue,
        confidential=n_conf,
        pending=n_pending,
        decided=n_decided,
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
    ).tuples()
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
