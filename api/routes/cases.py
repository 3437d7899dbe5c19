"""The case's life after the route: the case and its clocks, its steps, its documents, supervision
(督办) and the open 重大紧急 reports.

Every route answers a letter the caller may not open (a handler: a case its body does not handle)
with 404, exactly as a case number that does not exist; a step or a link sent with a version the
case has moved past answers 409. What each role may do is ``service.cases`` and ``casework``'s.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CatalogueDep, CurrentUser, SessionDep, SettingsDep
from api.errors import error_responses
from routing.catalogue import Catalogue
from routing.codes import CHANNEL_NAMES, DISPOSITION_NAMES
from service import cases
from service.access import ROLE_NAMES
from service.cases import (
    DOCUMENT_KINDS,
    FIELD_NAMES,
    STATE_NAMES,
    STEP_NAMES,
    CaseEvent,
    CaseLink,
    CaseState,
    CaseView,
    Clock,
    Draft,
    OpenEscalation,
    SupervisedCase,
)
from service.views import department_name
from store import masking
from store.models import CaseDocument

router = APIRouter(tags=["cases"])

_PARTICULARS = tuple(name for name in FIELD_NAMES if name not in ("reason", "effective_on"))


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------ output


class StepPublic(_Out):
    code: str
    name: str = Field(description="the step as officers call it (签收, 出具处理意见 …)")


class EventPublic(_Out):
    """One step taken on the case: who, when, why, and its particulars."""

    step: str
    step_name: str
    actor: str
    role: str
    role_name: str
    at: dt.datetime = Field(description="when it was recorded")
    day: dt.date = Field(description="the day it counts from (its date, else the day recorded in China)")
    reason: str
    particulars: dict[str, Any] = Field(description="the step's own fields (body, due_on, document_no …)")
    particular_names: dict[str, str] = Field(description="the names of those fields on screen")


class ClockPublic(_Out):
    """A statutory clock as a date, with its article and status."""

    code: str
    label: str
    article: str = Field(description="the article of the 《信访工作条例》 it comes from")
    kind: Literal["duty", "window"]
    starts_on: dt.date
    due: dt.date = Field(description="its last day (inclusive)")
    status: str = Field(description="due, overdue, met or ended")
    status_name: str
    days: int | None
    days_left: int = Field(description="days from today to the last day (negative once overdue)")
    closed_on: dt.date | None
    closed_by: str | None
    extension_days: int
    excluded_days: int
    calendar_note: str | None


class DocumentPublic(_Out):
    id: int
    kind: str
    kind_name: str
    number: str = Field(description="文号")
    issued_on: dt.date
    issued_by: str
    sent_on: dt.date | None
    url: str = Field(description="the printable page")
    docx_url: str = Field(description="the DOCX exactly as issued")


class CasePublic(_Out):
    """A case as the caller may see it."""

    case_number: str
    state: str
    state_name: str
    version: int = Field(description="send it back with a step or a link; a stale one answers 409")
    confidential: bool
    received_on: dt.date
    channel: str | None = Field(description="the route decided (办理途径)")
    channel_name: str | None
    disposition: str | None
    disposition_name: str | None
    handling_body: str | None
    handling_body_name: str | None
    may_decide: bool = Field(description="a route may still be decided (before 转送/交办, after a return)")
    linked_to: str | None = Field(description="an earlier case found to be the same matter")
    today: dt.date
    events: list[EventPublic]
    clocks: list[ClockPublic]
    allowed_steps: list[StepPublic] = Field(description="the steps the caller may take now")
    documents: list[DocumentPublic]


class DraftPublic(_Out):
    """A drafted document to review and edit; ``to_fill`` lists what the officer must still write."""

    kind: str
    kind_name: str
    title: str
    salutation: str | None
    paragraphs: list[str]
    signature: str
    recipient: str
    to_fill: list[str]


class SupervisedPublic(_Out):
    case_number: str
    state: str
    state_name: str
    handling_body: str | None
    handling_body_name: str | None
    next_due: dt.date | None
    overdue: bool
    times_late: int
    open_escalation: bool
    due: list[ClockPublic]
    late: list[ClockPublic]


class BodyPublic(_Out):
    body: str | None = Field(description="None: still with the office (not yet forwarded, or returned)")
    body_name: str
    cases: list[SupervisedPublic]


class SupervisionPublic(_Out):
    today: dt.date
    until: dt.date
    within_days: int
    count: int = Field(description="cases listed")
    overdue: int = Field(description="listed cases with an overdue duty")
    withheld: int = Field(description="cases due or overdue the caller may not open: counted, not listed")
    bodies: list[BodyPublic]
    for_notice: list[SupervisedPublic] = Field(description="cases late twice or more, for 通报")


class EscalationPublic(_Out):
    case_number: str
    state: str
    state_name: str
    handling_body: str | None
    handling_body_name: str | None
    first_reported_at: dt.datetime
    last_reported_at: dt.datetime
    reports: list[EventPublic]


class EscalationsPublic(_Out):
    data: list[EscalationPublic]
    count: int
    withheld: int = Field(description="open reports on cases the caller may not open")


class EarlierFinalPublic(_Out):
    case_number: str
    final_on: dt.date
    disposition: str
    basis: str
    reason: str


class EarlierRulingPublic(_Out):
    case_number: str
    state: str
    state_name: str
    since: dt.date | None = Field(description="the day of its 复核意见 (final) or of its 受理 (pending)")
    due_on: dt.date | None = Field(description="the last day of its handling time limit (pending only)")
    disposition: str
    basis: str
    reason: str


class LinkPublic(_Out):
    case_number: str
    earlier_case_number: str | None
    linked_by: str
    linked_at: dt.datetime
    reason: str | None
    earlier_final: EarlierFinalPublic | None = Field(
        description="the earlier case when it is final after 复核: the later letter is proposed 不再受理"
    )
    earlier_ruling: EarlierRulingPublic | None = Field(
        default=None,
        description="what the earlier case proposes for the later letter: 不再受理 when final after 复核 "
        "(第三十六条第三款), 不予受理 when accepted and handled within its time limit on the day the "
        "later letter was received (第十九条第三款)",
    )


# ------------------------------------------------------------------------------------- input


class StepCreate(_In):
    step: str = Field(min_length=1, max_length=40, description="a step code: receive, accept, answer …")
    fields: dict[str, Any] = Field(default_factory=dict, description="reason, effective_on and particulars")
    version: int = Field(ge=0, description="the case's version as read")


class DraftCreate(_In):
    kind: str = Field(min_length=1, max_length=60)
    values: dict[str, str | int | dt.date] = Field(
        default_factory=dict, description="what the officer writes (opinion, reason …)"
    )


class DocumentCreate(_In):
    kind: str = Field(min_length=1, max_length=60)
    title: str = Field(min_length=1, max_length=200)
    paragraphs: list[str] = Field(min_length=1, max_length=200)
    salutation: str | None = Field(default=None, max_length=200)
    sent_on: dt.date | None = None


class SentCreate(_In):
    sent_on: dt.date


class SupervisionCreate(_In):
    reason: str = Field(min_length=1, max_length=5000, description="督办事由")
    due_on: dt.date = Field(description="the new last day the body must finish by (办结期限), after today")
    situation: str | None = Field(
        default=None, max_length=5000, description="目前办理情况 for the 督办单; default: the case's state"
    )
    version: int | None = Field(
        default=None, ge=0, description="the case's version as read; a stale one answers 409"
    )


class SupervisionDone(_Out):
    """A 督办 done: the case after its step, and the 督办单 the step cites."""

    case: CasePublic
    document: DocumentPublic


class LinkCreate(_In):
    earlier_case_number: str | None = Field(max_length=40, description="None removes the link")
    reason: str | None = Field(default=None, max_length=2000)
    version: int = Field(ge=0)


# ---------------------------------------------------------------------------------- builders


def _body_name(catalogue: Catalogue, body: str | None) -> str | None:
    return department_name(catalogue, body)


# The free text of a step, which may name people: masked for a reader who sees the letter masked.
_FREE_TEXT = ("minutes", "measures")
_NAMES = ("participants", "reported_to")


def event_public(event: CaseEvent, *, masked: bool = False) -> EventPublic:
    particulars = event.model_dump(mode="json", include=set(_PARTICULARS), exclude_defaults=True)
    if masked:
        for name in _FREE_TEXT:
            if name in particulars:
                particulars[name] = masking.mask_text(particulars[name]) or ""
        for name in _NAMES:
            if name in particulars:
                particulars[name] = [masking.mask_text(v) or "" for v in particulars[name]]
    return EventPublic(
        step=event.step.value,
        step_name=event.step_name,
        actor=event.actor,
        role=event.role,
        role_name=ROLE_NAMES.get(event.role, event.role),
        at=event.at,
        day=event.day,
        reason=(masking.mask_text(event.reason) or "") if masked else event.reason,
        particulars=particulars,
        particular_names={name: FIELD_NAMES[name] for name in particulars},
    )


def clock_public(clock: Clock, today: dt.date) -> ClockPublic:
    return ClockPublic(
        code=clock.code,
        label=clock.label,
        article=clock.basis,
        kind=clock.kind,
        starts_on=clock.starts_on,
        due=clock.due,
        status=clock.status.value,
        status_name=clock.status_name,
        days=clock.days,
        days_left=clock.days_left(today),
        closed_on=clock.closed_on,
        closed_by=clock.closed_by.value if clock.closed_by is not None else None,
        extension_days=clock.extension_days,
        excluded_days=clock.excluded_days,
        calendar_note=clock.calendar_note,
    )


def document_public(document: CaseDocument) -> DocumentPublic:
    return DocumentPublic(
        id=document.id,
        kind=document.kind,
        kind_name=DOCUMENT_KINDS.get(document.kind, document.kind),
        number=document.number,
        issued_on=document.issued_on,
        issued_by=document.issued_by,
        sent_on=document.sent_on,
        url=f"/api/v1/documents/{document.id}",
        docx_url=f"/api/v1/documents/{document.id}.docx",
    )


def case_public(
    view: CaseView, documents: list[CaseDocument], catalogue: Catalogue, *, masked: bool
) -> CasePublic:
    return CasePublic(
        case_number=view.case_number,
        state=view.state.value,
        state_name=view.state_name,
        version=view.version,
        confidential=view.confidential,
        received_on=view.case.received_on,
        channel=view.case.channel,
        channel_name=CHANNEL_NAMES.get(view.case.channel or ""),
        disposition=view.case.disposition,
        disposition_name=DISPOSITION_NAMES.get(view.case.disposition or ""),
        handling_body=view.handling_body,
        handling_body_name=_body_name(catalogue, view.handling_body),
        may_decide=view.may_decide,
        linked_to=view.linked_to,
        today=view.today,
        events=[event_public(e, masked=masked) for e in view.events],
        clocks=[clock_public(c, view.today) for c in view.clocks],
        allowed_steps=[StepPublic(code=s.value, name=STEP_NAMES[s]) for s in view.allowed],
        documents=[document_public(d) for d in documents],
    )


def _supervised(item: SupervisedCase, today: dt.date, catalogue: Catalogue) -> SupervisedPublic:
    return SupervisedPublic(
        case_number=item.case_number,
        state=item.state.value,
        state_name=STATE_NAMES[CaseState(item.state)],
        handling_body=item.handling_body,
        handling_body_name=_body_name(catalogue, item.handling_body),
        next_due=item.next_due,
        overdue=item.overdue,
        times_late=item.times_late,
        open_escalation=item.open_escalation,
        due=[clock_public(c, today) for c in item.due],
        late=[clock_public(c, today) for c in item.late],
    )


def _escalation(item: OpenEscalation, catalogue: Catalogue) -> EscalationPublic:
    return EscalationPublic(
        case_number=item.case_number,
        state=item.state.value,
        state_name=STATE_NAMES[CaseState(item.state)],
        handling_body=item.handling_body,
        handling_body_name=_body_name(catalogue, item.handling_body),
        first_reported_at=item.first_reported_at,
        last_reported_at=item.last_reported_at,
        reports=[event_public(e) for e in item.reports],
    )


def _draft_public(draft: Draft) -> DraftPublic:
    texts = [draft.title, *(draft.salutation or "",), *draft.paragraphs, draft.signature]
    marks = sorted({m for t in texts for m in cases.unfilled_marks(t)})
    return DraftPublic(
        kind=draft.kind,
        kind_name=DOCUMENT_KINDS.get(draft.kind, draft.kind),
        title=draft.title,
        salutation=draft.salutation,
        paragraphs=list(draft.paragraphs),
        signature=draft.signature,
        recipient=draft.recipient,
        to_fill=marks,
    )


def _link_public(link: CaseLink) -> LinkPublic:
    earlier = link.earlier_final
    ruling = link.earlier_ruling
    return LinkPublic(
        case_number=link.case_number,
        earlier_case_number=link.earlier_case_number,
        linked_by=link.linked_by,
        linked_at=link.linked_at,
        reason=link.reason,
        earlier_final=EarlierFinalPublic(
            case_number=earlier.case_number,
            final_on=earlier.final_on,
            disposition=earlier.ruling.disposition,
            basis=earlier.ruling.basis,
            reason=earlier.ruling.reason,
        )
        if earlier is not None
        else None,
        earlier_ruling=EarlierRulingPublic(
            case_number=ruling.case_number,
            state=ruling.state.value,
            state_name=ruling.state_name,
            since=ruling.ruling.since,
            due_on=ruling.ruling.due_on,
            disposition=ruling.ruling.disposition,
            basis=ruling.ruling.basis,
            reason=ruling.ruling.reason,
        )
        if ruling is not None
        else None,
    )


# ------------------------------------------------------------------------------------ routes


@router.get(
    "/letters/{case_number}/case", response_model=CasePublic, responses=error_responses(401, 403, 404, 409)
)
def read_case(
    case_number: str, session: SessionDep, user: CurrentUser, catalogue: CatalogueDep
) -> CasePublic:
    """The case of a letter: its state, every step, its clocks as dates, the steps the caller may
    take now, its version and its documents."""
    view = cases.case_page(session, user, case_number)
    masked = not cases.sees_particulars(user, view)
    return case_public(view, cases.case_documents(session, view), catalogue, masked=masked)


@router.post(
    "/letters/{case_number}/steps",
    response_model=CasePublic,
    status_code=201,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def create_step(
    case_number: str, payload: StepCreate, session: SessionDep, user: CurrentUser, catalogue: CatalogueDep
) -> CasePublic:
    """Take a step on the case; 409 when the case changed since ``version`` or its state refuses it."""
    view = cases.take_step(
        session,
        user,
        case_number,
        payload.step,
        payload.fields,
        expected_version=payload.version,
        catalogue=catalogue,
    )
    masked = not cases.sees_particulars(user, view)
    return case_public(view, cases.case_documents(session, view), catalogue, masked=masked)


@router.post(
    "/letters/{case_number}/documents/draft",
    response_model=DraftPublic,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def draft_document(
    case_number: str,
    payload: DraftCreate,
    session: SessionDep,
    user: CurrentUser,
    catalogue: CatalogueDep,
    settings: SettingsDep,
) -> DraftPublic:
    """A document of the case drafted from the case and its route, to review and edit before issuing."""
    draft = cases.draft(
        session,
        user,
        case_number,
        payload.kind,
        settings=settings,
        catalogue=catalogue,
        values=payload.values,
    )
    return _draft_public(draft)


@router.post(
    "/letters/{case_number}/documents",
    response_model=DocumentPublic,
    status_code=201,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def issue_document(
    case_number: str,
    payload: DocumentCreate,
    session: SessionDep,
    user: CurrentUser,
    catalogue: CatalogueDep,
    settings: SettingsDep,
) -> DocumentPublic:
    """Issue the reviewed text under the office's next 文号, keeping the DOCX as issued."""
    document = cases.issue(
        session,
        user,
        case_number,
        payload.kind,
        payload.title,
        payload.paragraphs,
        settings=settings,
        catalogue=catalogue,
        salutation=payload.salutation,
        sent_on=payload.sent_on,
    )
    return document_public(document)


_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@router.get(
    "/documents/{document_id}.docx",
    response_class=Response,
    responses={200: {"content": {_DOCX: {}}}, **error_responses(401, 403, 404, 422)},
)
def read_document_docx(document_id: int, session: SessionDep, user: CurrentUser) -> Response:
    """The DOCX exactly as issued, named by its 文号."""
    name, data = cases.document_file(session, user, document_id)
    session.commit()  # a look at a confidential letter's document is audited before it leaves
    return Response(
        data,
        media_type=_DOCX,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"document-{document_id}.docx\"; filename*=UTF-8''{quote(name)}"
            ),
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/documents/{document_id}",
    # A plain Response class, so that the errors are documented as the JSON they are; the page
    # itself is declared as HTML below.
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}, **error_responses(401, 403, 404, 422)},
)
def read_document(document_id: int, session: SessionDep, user: CurrentUser) -> HTMLResponse:
    """The printable page of an issued document."""
    page = cases.document_page(session, user, document_id)
    session.commit()
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.post(
    "/documents/{document_id}/sent",
    response_model=DocumentPublic,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def record_sent(
    document_id: int, payload: SentCreate, session: SessionDep, user: CurrentUser
) -> DocumentPublic:
    """Record the day the document went out (once; 409 when already recorded)."""
    return document_public(cases.record_sent(session, user, document_id, payload.sent_on))


@router.post(
    "/letters/{case_number}/supervise",
    response_model=SupervisionDone,
    status_code=201,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def supervise(
    case_number: str,
    payload: SupervisionCreate,
    session: SessionDep,
    user: CurrentUser,
    catalogue: CatalogueDep,
    settings: SettingsDep,
) -> SupervisionDone:
    """督办 (第四十条) in one act: the 督办单 is issued under the office's next 文号 and the 督办 step,
    with its reason and new last day, cites it; neither is recorded without the other. 科室负责人 only."""
    done = cases.supervise(
        session,
        user,
        case_number,
        reason=payload.reason,
        due_on=payload.due_on,
        situation=payload.situation,
        expected_version=payload.version,
        settings=settings,
        catalogue=catalogue,
    )
    masked = not cases.sees_particulars(user, done.case)
    documents = cases.case_documents(session, done.case)
    return SupervisionDone(
        case=case_public(done.case, documents, catalogue, masked=masked),
        document=document_public(done.document),
    )


@router.get("/supervision", response_model=SupervisionPublic, responses=error_responses(401, 403, 422))
def read_supervision(
    session: SessionDep,
    user: CurrentUser,
    catalogue: CatalogueDep,
    within: Annotated[int, Query(ge=0, le=366, description="days ahead")] = 7,
) -> SupervisionPublic:
    """Everything due within ``within`` days and overdue, by handling body; the cases late twice or
    more for 通报. 科室负责人 and 纪检监察人员 (the confidential cases) only."""
    view = cases.supervision_view(session, user, within_days=within)
    return SupervisionPublic(
        today=view.today,
        until=view.until,
        within_days=view.within_days,
        count=view.count,
        overdue=view.overdue,
        withheld=view.withheld,
        bodies=[
            BodyPublic(
                body=body,
                body_name=_body_name(catalogue, body) or "信访部门（尚未转送、交办或已退回）",
                cases=[_supervised(i, view.today, catalogue) for i in items],
            )
            for body, items in view.by_body.items()
        ],
        for_notice=[_supervised(i, view.today, catalogue) for i in view.for_notice],
    )


@router.get("/escalations", response_model=EscalationsPublic, responses=error_responses(401, 403))
def read_escalations(session: SessionDep, user: CurrentUser, catalogue: CatalogueDep) -> EscalationsPublic:
    """The open 重大紧急 reports (第二十五条) on cases the caller may open, the longest open first."""
    view = cases.escalations(session, user)
    data = [_escalation(e, catalogue) for e in view.items]
    return EscalationsPublic(data=data, count=len(data), withheld=view.withheld)


@router.post(
    "/letters/{case_number}/link",
    response_model=LinkPublic,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def link_case(case_number: str, payload: LinkCreate, session: SessionDep, user: CurrentUser) -> LinkPublic:
    """Link the letter to an earlier case on the same matter (null unlinks); after a 复核 the
    earlier case makes the later letter 不再受理 (第三十六条第三款)."""
    result = cases.link(
        session,
        user,
        case_number,
        payload.earlier_case_number,
        payload.reason,
        expected_version=payload.version,
    )
    return _link_public(result)
