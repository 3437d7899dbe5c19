"""Read queries the web workbench needs beyond ``store.letters``: role-scoped queue, exports, audit pages.

Like the rest of ``store`` these take an open ``Session`` and never commit. The confidentiality
rule and the role scopes they filter by are the SQL forms in :mod:`store.confidentiality`, beside
the Python forms ``service.access`` judges one letter with. Doing the scoping in SQL keeps the counts
and the pages of a role's queue honest: a department handler's counts never include letters they
may not see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Select, case, false, func, select, true
from sqlalchemy.orm import Session

from routing.codes import Category
from store.confidentiality import admits_clause, confidential_clause, handling_body_column, withheld_title
from store.errors import InvalidValueError
from store.letters import (
    QueuePage,
    QueueRoute,
    _check_choice,
    check_queue_filters,
    china_today,
    queue_conditions,
    select_queue_page,
)
from store.models import CaseDocument, CaseEventRecord, CaseRecord, Decision, Letter, Proposal, User


def user_by_id(session: Session, user_id: int) -> User | None:
    """The user with this id, or None."""
    return session.get(User, user_id)


def _newest(model: Any, name: str) -> Any:
    return (
        select(model.letter_id, func.max(model.id).label("row_id")).group_by(model.letter_id).subquery(name)
    )


def scoped_select(columns: Sequence[Any]) -> Select[Any]:
    """Letters joined to their newest proposal and their newest decision: what the rules of
    :mod:`store.confidentiality` read (``Proposal`` and ``Decision`` are those rows, or NULL)."""
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
    order: str = "urgency",
    only_overdue: bool = False,
) -> QueuePage:
    """The work queue as one role may see it: cases with an open 重大紧急 report first, then most
    urgent, then by the earliest deadline (``order="urgency"``), or by the date next due
    (``order="due"``).

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
        order: ``urgency`` or ``due``. The date next due is the case's (the earliest last day of
            a running duty, from the ``cases`` row) once the case has one, else the proposal's
            earliest deadline; letters with none come last.
        only_overdue: only letters whose date next due has passed.

    Returns:
        ``QueuePage`` whose items carry the effective (decided, else proposed) route and the case's
        state, next due date and open escalation; ``counts`` adds ``escalated`` and
        ``case_overdue`` among the matches.

    Raises:
        InvalidValueError: an unknown form, status, category or order, or a bad page.
    """
    check_queue_filters(form=form, status=status, limit=limit, offset=offset)
    if order not in QUEUE_ORDERS:
        choices = "、".join(f"{name}（{code}）" for code, name in QUEUE_ORDERS.items())
        raise InvalidValueError(f"排序方式“{order}”不是可选的值；可选：{choices}")
    if category is not None:
        _check_choice("category", category, tuple(Category))
    today = today or china_today()

    route = QueueRoute(
        category=func.coalesce(Decision.category, Proposal.category),
        domain=func.coalesce(Decision.domain, Proposal.domain),
        department=func.coalesce(Decision.department, Proposal.department),
        channel=func.coalesce(Decision.channel, Proposal.channel),
        confidential=confidential_clause(),
    )
    conditions = queue_conditions(form=form, status=status, overdue=overdue, today=today)
    conditions.append(admits_clause(confidential=confidential, routed_department=routed_department))
    if category is not None:
        conditions.append(route.category == category)
    if department is not None:
        conditions.append(route.department == department)
    if needs_review is not None:
        is_review = func.coalesce(Proposal.needs_review, false())
        conditions.append(is_review == (true() if needs_review else false()))
    due = next_due_column()
    escalated = func.coalesce(CaseRecord.open_escalation, false())
    if only_overdue:
        conditions.append(due < today)
    by_due = (
        due.is_(None),
        due,
        func.coalesce(Proposal.urgent, false()).desc(),
        Letter.received_on,
        Letter.id,
    )
    page = select_queue_page(
        session,
        _with_case,
        route,
        conditions,
        today=today,
        limit=limit,
        offset=offset,
        lead=(escalated.desc(),),
        order_by=by_due if order == "due" else None,
    )
    page = _add_case_fields(session, page, conditions, today)
    scope = admits_clause(confidential=confidential, routed_department=routed_department)
    withheld = _titles_withheld(session, [i.letter_id for i in page.items], scope)
    if withheld:
        page = replace(
            page,
            items=[
                replace(i, title=withheld_title(withheld[i.letter_id]))
                if i.letter_id in withheld and i.title
                else i
                for i in page.items
            ],
        )
    return page


#: The orders of the role-scoped queue (:func:`list_queue_for`).
QUEUE_ORDERS: dict[str, str] = {"urgency": "按紧急程度", "due": "按到期日期"}


def next_due_column() -> Any:
    """A letter's date next due: its case's (``cases.next_due``) once the case has a row, else
    the proposal's earliest deadline."""
    return case((CaseRecord.letter_id.is_(None), Proposal.earliest_due), else_=CaseRecord.next_due)


def _with_case(columns: Sequence[Any]) -> Select[Any]:
    return scoped_select(columns).outerjoin(CaseRecord, CaseRecord.letter_id == Letter.id)


def _add_case_fields(
    session: Session, page: QueuePage, conditions: Sequence[Any], today: dt.date
) -> QueuePage:
    """The page's items with their case's state, next due date and open escalation, and the counts
    of escalated and overdue cases among all the matches."""
    due = next_due_column()
    escalated = func.coalesce(CaseRecord.open_escalation, false())
    n_escalated, n_overdue = session.execute(
        _with_case(
            [
                func.coalesce(func.sum(case((escalated, 1), else_=0)), 0),
                func.coalesce(func.sum(case((due < today, 1), else_=0)), 0),
            ]
        ).where(*conditions)
    ).one()
    ids = [i.letter_id for i in page.items]
    rows = {
        letter_id: (state, open_escalation, next_due)
        for letter_id, state, open_escalation, next_due in session.execute(
            _with_case([Letter.id, CaseRecord.state, CaseRecord.open_escalation, due]).where(
                Letter.id.in_(ids)
            )
        )
    }
    items = []
    for item in page.items:
        state, open_escalation, next_due = rows.get(item.letter_id, (None, False, item.earliest_due))
        items.append(
            replace(
                item,
                case_state=state,
                next_due=next_due,
                case_overdue=next_due is not None and next_due < today,
                open_escalation=bool(open_escalation),
            )
        )
    counts = {**page.counts, "escalated": int(n_escalated), "case_overdue": int(n_overdue)}
    return replace(page, items=items, counts=counts)


def _titles_withheld(session: Session, letter_ids: list[int], scope: Any) -> dict[int, int]:
    """Letters among ``letter_ids`` read from a file holding a letter outside ``scope``, with the file.

    Batch letters were once titled with their file's name, which may say what a sibling the reader
    may not open says; such a title is withheld like the name (``service.access.sees_file_name``).
    """
    if not letter_ids:
        return {}
    rows = session.execute(
        select(Letter.id, Letter.source_file_id).where(
            Letter.id.in_(letter_ids), Letter.source_file_id.is_not(None)
        )
    ).all()
    if not rows:
        return {}
    hidden = set(
        session.scalars(
            scoped_select([Letter.source_file_id])
            .where(Letter.source_file_id.in_({file_id for _, file_id in rows}), ~scope)
            .distinct()
        )
    )
    return {letter_id: file_id for letter_id, file_id in rows if file_id is not None and file_id in hidden}


#: A letter's newest proposal and decision and its case's handling body: what
#: ``store.confidentiality.admits`` reads.
ScopeRows = tuple[Proposal | None, Decision | None, str | None]


@dataclass(frozen=True)
class LetterBundle:
    """A letter with its newest proposal and all its decisions, oldest first.

    ``handling_body``: the body its case is transferred or assigned to now
    (``store.confidentiality.handling_body_column``). ``file_letters``: for a letter read from an
    uploaded file, the scope rows of every letter read from that file, itself included (whether its
    reader may see the file's name depends on them all); empty otherwise.
    """

    letter: Letter
    proposal: Proposal | None
    decisions: list[Decision]
    file_letters: list[ScopeRows] = field(default_factory=list)
    handling_body: str | None = None

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
    file_letters: list[ScopeRows] = []
    if letter.source_file_id is not None:
        rows = session.execute(
            scoped_select([Proposal, Decision, handling_body_column()]).where(
                Letter.source_file_id == letter.source_file_id
            )
        )
        file_letters = [(p, d, body) for p, d, body in rows]
    newest = decisions[-1] if decisions else None
    body = (
        session.scalar(select(handling_body_column()).where(Decision.id == newest.id))
        if newest is not None
        else None
    )
    return LetterBundle(
        letter=letter,
        proposal=latest_proposal(session, letter.id),
        decisions=decisions,
        file_letters=file_letters,
        handling_body=body,
    )


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


def table_counts(session: Session) -> dict[str, int]:
    """Row counts of the letter and case tables, for the workbench benchmark's lost/duplicated check."""
    tables: tuple[tuple[str, Any], ...] = (
        ("letters", Letter),
        ("proposals", Proposal),
        ("decisions", Decision),
        ("cases", CaseRecord),
        ("case_events", CaseEventRecord),
        ("case_documents", CaseDocument),
    )
    out = {name: int(session.scalar(select(func.count()).select_from(model)) or 0) for name, model in tables}
    out["case_numbers_distinct"] = int(
        session.scalar(select(func.count(func.distinct(Letter.case_number)))) or 0
    )
    out["document_numbers_distinct"] = int(
        session.scalar(select(func.count(func.distinct(CaseDocument.number)))) or 0
    )
    return out
