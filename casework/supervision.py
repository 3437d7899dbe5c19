"""督查督办 on the store: what falls due and what is overdue, by handling body; repeated delays for
通报; the open 重大紧急 reports.

The ``cases`` rows (and, for letters without one, the day of receipt) only choose the candidates;
each candidate's clocks are then read from its history (:func:`casework.clocks.case_clocks`), so
what is listed is exactly what the case page shows.

Only duties are supervised: a window the petitioner or the receiving body may leave unused (复查,
复核, 异议) lapses without anyone's fault (``casework.clocks``). A duty *ran late* when it is overdue
now, or was met or ended after its last day; a case that ran late twice or more is listed for
通报 (the office's 通报制度, 第四十条: 对…推诿、敷衍、拖延…的，予以通报).

Everything is listed whoever asks: the caller shows each reader what their role may open (each
item says whether its letter is confidential and which body handles it).

督办 itself is one act (:func:`supervise`): the 督办单 is issued under its 文号 and the 督办 step,
with its reason and new last day, cites it, in one savepoint of the caller's transaction. A step the
case refuses takes the sheet (and its number) back with it, so no sheet exists without its step nor
a step without its sheet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from casework.cases import CaseView, History, aware, letter_row, load_histories, take_step
from casework.clocks import Clock, ClockStatus, case_clocks
from casework.documents import STEP_DOCUMENTS, Draft, Template
from casework.issuing import issue_document
from casework.periods import FORWARD_DAYS
from casework.states import CaseEvent, CaseState, Step
from store.errors import InvalidValueError
from store.models import CaseDocument, CaseRecord, Decision, Letter, User

#: How many days ahead the supervisor's view looks by default.
DEFAULT_WITHIN_DAYS = 7


@dataclass(frozen=True)
class SupervisedCase:
    """One case in the supervisor's view.

    ``due``: its running duties whose last day is within the view (overdue ones included), the
    soonest first. ``late``: every duty that ran past its last day (overdue now, or met or ended
    late).
    """

    letter_id: int
    case_number: str
    state: CaseState
    handling_body: str | None
    due: tuple[Clock, ...]
    late: tuple[Clock, ...]
    confidential: bool
    open_escalation: bool

    @property
    def overdue(self) -> bool:
        return any(c.status == ClockStatus.overdue for c in self.due)

    @property
    def times_late(self) -> int:
        return len(self.late)

    @property
    def next_due(self) -> dt.date | None:
        return self.due[0].due if self.due else None


@dataclass(frozen=True)
class Supervision:
    """Everything due from ``today`` to ``until`` and everything overdue, by handling body.

    ``by_body`` maps a handling body to its cases, overdue first and then by the next last day;
    the key ``None`` holds the cases still with the office (not yet forwarded, or returned), the
    office first and then the bodies in code order. ``for_notice`` lists the cases that ran late
    twice or more, the most often first.
    """

    today: dt.date
    within_days: int
    by_body: dict[str | None, tuple[SupervisedCase, ...]]
    for_notice: tuple[SupervisedCase, ...]

    @property
    def until(self) -> dt.date:
        return self.today + dt.timedelta(days=self.within_days)

    @property
    def count(self) -> int:
        return sum(len(items) for items in self.by_body.values())


def _late(clocks: tuple[Clock, ...]) -> tuple[Clock, ...]:
    return tuple(
        c
        for c in clocks
        if c.kind == "duty"
        and (
            c.status == ClockStatus.overdue
            or (not c.running and c.closed_on is not None and c.closed_on > c.due)
        )
    )


def _supervised(history: History, today: dt.date, until: dt.date) -> SupervisedCase:
    case = history.case()
    clocks = case_clocks(case.events, today)
    due = tuple(
        sorted(
            (c for c in clocks if c.kind == "duty" and c.running and c.due <= until),
            key=lambda c: (c.due, c.code),
        )
    )
    return SupervisedCase(
        letter_id=history.letter.id,
        case_number=history.letter.case_number,
        state=case.state,
        handling_body=case.handling_body,
        due=due,
        late=_late(clocks),
        confidential=history.confidential,
        open_escalation=case.is_open and any(e.step == Step.escalate for e in case.events),
    )


def supervision(session: Session, today: dt.date, within_days: int = DEFAULT_WITHIN_DAYS) -> Supervision:
    """The supervisor's view on ``today``: every case with a duty due within ``within_days`` days
    or overdue, by handling body, and the cases that ran late twice or more, for 通报.

    Raises:
        InvalidValueError: ``within_days`` is negative or more than a year.
    """
    if not 0 <= within_days <= 366:
        raise InvalidValueError(f"督办提前天数应在 0 到 366 之间，收到 {within_days}")
    until = today + dt.timedelta(days=within_days)
    newest = (
        select(Decision.letter_id, func.max(Decision.id).label("decision_id"))
        .group_by(Decision.letter_id)
        .subquery("newest_decision")
    )
    with_row = session.scalars(
        select(CaseRecord.letter_id)
        .outerjoin(newest, newest.c.letter_id == CaseRecord.letter_id)
        .where(
            or_(
                CaseRecord.next_due <= until,
                CaseRecord.late_count >= 2,
                # a decision recorded since the row was written may have ended a clock late
                and_(
                    newest.c.decision_id.is_not(None),
                    CaseRecord.decision_id.is_distinct_from(newest.c.decision_id),
                ),
            )
        )
    ).all()
    # A letter without a row has only the office's 15 days from receipt running (第二十二条), which
    # end no earlier than the 15th day.
    without_row = session.scalars(
        select(Letter.id)
        .outerjoin(CaseRecord, CaseRecord.letter_id == Letter.id)
        .where(
            CaseRecord.letter_id.is_(None),
            Letter.status.in_(("pending", "decided")),
            Letter.received_on <= until - dt.timedelta(days=FORWARD_DAYS),
        )
    ).all()
    by_body: dict[str | None, list[SupervisedCase]] = {}
    notice: list[SupervisedCase] = []
    for history in load_histories(session, [*with_row, *without_row]).values():
        item = _supervised(history, today, until)
        if item.due:
            by_body.setdefault(item.handling_body, []).append(item)
        if item.times_late >= 2:
            notice.append(item)

    def order(item: SupervisedCase) -> tuple[bool, dt.date, str]:
        return (not item.overdue, item.next_due or until, item.case_number)

    bodies = sorted(by_body, key=lambda body: (body is not None, body or ""))
    return Supervision(
        today=today,
        within_days=within_days,
        by_body={body: tuple(sorted(by_body[body], key=order)) for body in bodies},
        for_notice=tuple(sorted(notice, key=lambda i: (-i.times_late, i.case_number))),
    )


#: The document a 督办 is issued with.
SUPERVISION_SHEET = STEP_DOCUMENTS[Step.supervise]


@dataclass(frozen=True)
class Supervised:
    """A 督办 done: the case after its step, and the 督办单 the step cites."""

    case: CaseView
    document: CaseDocument


def supervise(
    session: Session,
    user: User | str,
    letter: Letter | int | str,
    sheet: Draft,
    *,
    reason: str,
    due_on: dt.date,
    office: str,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
    department_codes: Collection[str] | None = None,
    templates: Mapping[str, Template] | None = None,
) -> Supervised:
    """``user`` supervises the case (第四十条): issues the reviewed 督办单 ``sheet`` under the next
    文号 of ``office`` and records the 督办 step with ``reason`` and the new last day ``due_on``,
    citing that 文号, at ``now``. Each is audited as it would be alone (``document_issued``,
    ``case_step``), in the caller's transaction.

    Raises:
        InvalidValueError: ``sheet`` is not a 督办单, or the step's fields are refused (no reason,
            a day not after today).
        NotAllowedError: the user may not supervise this case.
        CaseStepRefused: the case's state does not take a 督办.
        CaseChangedError: ``expected_version`` is given and the case moved on since.
        NotFoundError, InvalidStateError: as :func:`casework.cases.take_step`.
    """
    if sheet.kind != SUPERVISION_SHEET:
        raise InvalidValueError(f"督办应出具督办单，收到的是「{sheet.kind}」")
    now = aware(now)
    row = letter_row(session, letter)
    with session.begin_nested():  # a refused step gives the sheet's number back
        document = issue_document(session, user, row, sheet, office=office, now=now, templates=templates)
        view = take_step(
            session,
            user,
            row,
            Step.supervise,
            {"reason": reason, "due_on": due_on, "document_no": document.number},
            expected_version=expected_version,
            now=now,
            department_codes=department_codes,
        )
    return Supervised(case=view, document=document)


@dataclass(frozen=True)
class OpenEscalation:
    """A case with 重大紧急 reports (第二十五条) that is still open: who was told, when, what was done."""

    letter_id: int
    case_number: str
    state: CaseState
    handling_body: str | None
    reports: tuple[CaseEvent, ...]
    confidential: bool

    @property
    def first_reported_at(self) -> dt.datetime:
        return self.reports[0].at

    @property
    def last_reported_at(self) -> dt.datetime:
        return self.reports[-1].at


def open_escalations(session: Session) -> tuple[OpenEscalation, ...]:
    """Every open case with a 重大紧急 report, the longest open first.

    A report stays open while its case is open (``casework.states.OPEN_STATES``): the office keeps
    reporting (续报) until the matter is answered and closed, refused, or final.
    """
    ids = session.scalars(select(CaseRecord.letter_id).where(CaseRecord.open_escalation.is_(True))).all()
    out = []
    for history in load_histories(session, ids).values():
        case = history.case()
        reports = tuple(e for e in case.events if e.step == Step.escalate)
        if case.is_open and reports:
            out.append(
                OpenEscalation(
                    letter_id=history.letter.id,
                    case_number=history.letter.case_number,
                    state=case.state,
                    handling_body=case.handling_body,
                    reports=reports,
                    confidential=history.confidential,
                )
            )
    return tuple(sorted(out, key=lambda e: (e.first_reported_at, e.case_number)))


__all__ = [
    "DEFAULT_WITHIN_DAYS",
    "SUPERVISION_SHEET",
    "OpenEscalation",
    "Supervised",
    "SupervisedCase",
    "Supervision",
    "open_escalations",
    "supervise",
    "supervision",
]
