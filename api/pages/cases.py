"""The officers' pages for the case's life after the route: the step forms, documents and the link to
an earlier case posted from the letter page's 办理过程 section, the issued documents (printable page
and DOCX), and the 督办 page.

Every form carries the case's version: a step taken on a page read before someone else's is refused
with a message saying so, and the letter page comes back with it. A step done redirects to the
letter page, which says once what was done. The operations and their rules are ``service.cases``'.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from api.deps import CatalogueDep, PageUser, SessionDep, SettingsDep
from api.errors import status_of
from api.pages import letters
from api.pages.case_section import CaseInput, draft_view, read_step_form, step_of
from api.pages.csrf import CsrfChecked
from api.pages.render import render
from routing.catalogue import Catalogue
from service import access, cases
from service.cases import DOCUMENT_KINDS, STATE_NAMES, STEP_NAMES, CaseState, Step, cn_date
from service.errors import Forbidden, InvalidInput, ServiceError
from store.errors import ConflictError, StoreError
from store.models import Letter

router = APIRouter()

#: Who opens the 督办 page: 科室负责人, and 纪检监察人员 for the confidential cases (第四十条).
SUPERVISION_ROLES = cases.SUPERVISE
_TEXT = 5000
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def message_of(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc)


def _refused(
    request: Request,
    session: Any,
    user: Any,
    case_number: str,
    catalogue: Catalogue,
    exc: Exception,
    given: CaseInput,
) -> Response:
    """The letter page again, with the refusal above the case section and the officer's input kept."""
    session.rollback()
    given.error = message_of(exc)
    if isinstance(exc, ConflictError):
        given.error += "（页面已更新为最新情况，请核对后再办理）"
        given.values = {}  # what is in force now, not the stale input
    return letters.render_letter(request, session, user, case_number, catalogue, given, status_of(exc))


def _date_of(text: str) -> dt.date | None:
    """A date typed on a form (YYYY-MM-DD), or None when left blank."""
    if not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"办结期限“{text}”不是日期，请写成 2026-12-01 的形式") from None


def _done(request: Request, case_number: str, notice: str, anchor: str = "case") -> Response:
    request.session["case_notice"] = notice
    return RedirectResponse(f"/letters/{case_number}#{anchor}", status_code=303)


# ------------------------------------------------------------------------------------ a step


@router.post("/letters/{case_number}/steps/{step}", dependencies=[CsrfChecked])
def take_step(
    case_number: str,
    step: Annotated[str, Path(max_length=32)],
    request: Request,
    session: SessionDep,
    user: PageUser,
    settings: SettingsDep,
    catalogue: CatalogueDep,
    version: Annotated[int, Form(ge=0)],
    reason: Annotated[str, Form(max_length=_TEXT)] = "",
    effective_on: Annotated[str, Form(max_length=10)] = "",
    channel: Annotated[str, Form(max_length=32)] = "",
    disposition: Annotated[str, Form(max_length=32)] = "",
    body: Annotated[str, Form(max_length=64)] = "",
    due_on: Annotated[str, Form(max_length=10)] = "",
    days: Annotated[str, Form(max_length=6)] = "",
    basis: Annotated[str, Form(max_length=200)] = "",
    document_no: Annotated[str, Form(max_length=128)] = "",
    rating: Annotated[str, Form(max_length=32)] = "",
    participants: Annotated[str, Form(max_length=_TEXT)] = "",
    minutes: Annotated[str, Form(max_length=50_000)] = "",
    reported_to: Annotated[str, Form(max_length=_TEXT)] = "",
    measures: Annotated[str, Form(max_length=_TEXT)] = "",
) -> Response:
    code = step_of(step)
    if code is None or code in (Step.register, Step.decide):
        raise InvalidInput(f"没有这一办理步骤；请在 {case_number} 的办理过程中选择可办理的步骤")
    form = {
        "reason": reason,
        "effective_on": effective_on,
        "channel": channel,
        "disposition": disposition,
        "body": body,
        "due_on": due_on,
        "days": days,
        "basis": basis,
        "document_no": document_no,
        "rating": rating,
        "participants": participants,
        "minutes": minutes,
        "reported_to": reported_to,
        "measures": measures,
    }
    try:
        if code == Step.supervise:  # the 督办单 is issued with the step, under the 文号 it cites
            done = cases.supervise(
                session,
                user,
                case_number,
                reason=reason,
                due_on=_date_of(due_on),
                expected_version=version,
                settings=settings,
                catalogue=catalogue,
            )
            notice = f"已督办，督办单文号 {done.document.number}。"
        else:
            cases.take_step(
                session,
                user,
                case_number,
                code.value,
                read_step_form(code, form),
                expected_version=version,
                catalogue=catalogue,
            )
            notice = f"已{STEP_NAMES[code]}。"
    except (ServiceError, StoreError) as exc:
        if isinstance(exc, ServiceError) and status_of(exc) == 404:
            raise
        given = CaseInput(open_step=code.value, values={code.value: {k: v for k, v in form.items() if v}})
        return _refused(request, session, user, case_number, catalogue, exc, given)
    if not cases.still_opens(session, user, case_number):
        # Returned to the office (异议退回): no longer the body's, so back to the handler's queue.
        request.session["queue_notice"] = f"{case_number} {notice.removesuffix('。')}，已回到信访部门。"
        return RedirectResponse("/", status_code=303)
    return _done(request, case_number, notice)


# ---------------------------------------------------------------------------------- documents


@router.post("/letters/{case_number}/documents", dependencies=[CsrfChecked])
def issue_document(
    case_number: str,
    request: Request,
    session: SessionDep,
    user: PageUser,
    settings: SettingsDep,
    catalogue: CatalogueDep,
    kind: Annotated[str, Form(max_length=64)],
    title: Annotated[str, Form(max_length=200)] = "",
    salutation: Annotated[str, Form(max_length=500)] = "",
    paragraph: Annotated[list[str] | None, Form(max_length=_TEXT)] = None,
) -> Response:
    paragraphs = [p for p in (paragraph or []) if p.strip()]
    try:
        document = cases.issue(
            session,
            user,
            case_number,
            kind,
            title,
            paragraphs,
            settings=settings,
            catalogue=catalogue,
            salutation=salutation or None,
        )
    except (ServiceError, StoreError) as exc:
        if isinstance(exc, ServiceError) and status_of(exc) == 404:
            raise
        kept = draft_view(kind, title, salutation or None, paragraphs, "")
        return _refused(request, session, user, case_number, catalogue, exc, CaseInput(draft=kept))
    name = DOCUMENT_KINDS.get(document.kind, document.kind)
    return _done(request, case_number, f"已出具{name}，文号 {document.number}。", "documents")


@router.post("/documents/{document_id}/sent", dependencies=[CsrfChecked])
def record_sent(
    document_id: Annotated[int, Path(ge=1)],
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    sent_on: Annotated[dt.date, Form()],
) -> Response:
    document = cases.document_of(session, user, document_id)
    case_number = session.scalar(select(Letter.case_number).where(Letter.id == document.letter_id)) or ""
    try:
        cases.record_sent(session, user, document_id, sent_on)
    except (ServiceError, StoreError) as exc:
        return _refused(request, session, user, case_number, catalogue, exc, CaseInput())
    return _done(request, case_number, f"已记录 {document.number} 于{cn_date(sent_on)}发出。", "documents")


@router.get("/documents/{document_id}")
def document_page(document_id: Annotated[int, Path(ge=1)], session: SessionDep, user: PageUser) -> Response:
    """The printable page of an issued document, exactly as issued."""
    return HTMLResponse(cases.document_page(session, user, document_id))


@router.get("/documents/{document_id}/file")
def document_file(document_id: Annotated[int, Path(ge=1)], session: SessionDep, user: PageUser) -> Response:
    """The issued DOCX as stored, named after its 文号."""
    filename, data = cases.document_file(session, user, document_id)
    # The 文号 is Chinese: an ASCII fallback name, and the real one encoded as RFC 6266 asks.
    disposition = f"attachment; filename=\"document-{document_id}.docx\"; filename*=UTF-8''{quote(filename)}"
    return Response(content=data, media_type=DOCX, headers={"Content-Disposition": disposition})


# ------------------------------------------------------------------------------ the same matter


@router.post("/letters/{case_number}/link", dependencies=[CsrfChecked])
def link(
    case_number: str,
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    version: Annotated[int, Form(ge=0)],
    earlier: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=_TEXT)] = "",
) -> Response:
    try:
        result = cases.link(session, user, case_number, earlier or None, reason, expected_version=version)
    except (ServiceError, StoreError) as exc:
        return _refused(request, session, user, case_number, catalogue, exc, CaseInput())
    if result.earlier_case_number is None:
        return _done(request, case_number, "已取消关联原案。")
    final = result.earlier_final
    notice = f"已关联原案 {result.earlier_case_number}。"
    if final is not None:
        notice += f"原案已于{cn_date(final.final_on)}复核终结，本件拟不再受理（{final.ruling.basis}）。"
    return _done(request, case_number, notice)


# ------------------------------------------------------------------------------- supervision


@dataclass(frozen=True)
class SupervisedRow:
    case_number: str
    state_name: str
    overdue: bool
    next_due: dt.date | None
    due: list[tuple[str, str, dt.date, bool]]
    times_late: int
    open_escalation: bool
    confidential: bool
    may_supervise: bool


@dataclass(frozen=True)
class EscalationRow:
    """An open 重大紧急 report (第二十五条): the case, and each report: when, by whom, to whom, what
    happened and what was done."""

    case_number: str
    state_name: str
    handling_body: str | None
    first_reported_at: dt.datetime
    reports: list[tuple[dt.datetime, str, str, str, str]]


def _rows(items: Any, may_supervise: bool) -> list[SupervisedRow]:
    return [
        SupervisedRow(
            case_number=i.case_number,
            state_name=STATE_NAMES[CaseState(i.state)],
            overdue=i.overdue,
            next_due=i.next_due,
            due=[(c.label, c.basis, c.due, c.status.value == "overdue") for c in i.due],
            times_late=i.times_late,
            open_escalation=i.open_escalation,
            confidential=i.confidential,
            may_supervise=may_supervise and CaseState(i.state) != CaseState.registered,
        )
        for i in items
    ]


def _supervision_page(
    request: Request,
    session: Any,
    user: Any,
    catalogue: Catalogue,
    within: int,
    *,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    view = cases.supervision_view(session, user, within_days=within)
    escalations = cases.escalations(session, user)
    names = {d.code: d.name for d in catalogue.departments}
    may = user.role == access.SUPERVISOR  # 督办 is the 负责人's step (第四十条)
    groups = [
        (names.get(body, body) if body else "本机关（尚未转送、交办或已退回）", _rows(items, may))
        for body, items in view.by_body.items()
    ]
    people = letters.people_names(session, [e.actor for item in escalations.items for e in item.reports])
    reports = [
        EscalationRow(
            case_number=item.case_number,
            state_name=STATE_NAMES[CaseState(item.state)],
            handling_body=names.get(item.handling_body, item.handling_body) if item.handling_body else None,
            first_reported_at=item.first_reported_at,
            reports=[
                (
                    e.at,
                    people.get(e.actor, e.actor),
                    "、".join(e.reported_to),
                    e.reason,
                    e.measures,
                )
                for e in item.reports
            ],
        )
        for item in escalations.items
    ]
    return render(
        request,
        "supervision.html",
        {
            "user": user,
            "view": view,
            "escalations": reports,
            "groups": groups,
            "for_notice": _rows(view.for_notice, False),
            "within": within,
            "error": error,
            "notice": notice,
            "min_due": (view.today + dt.timedelta(days=1)).isoformat(),
        },
        status_code=status_code,
    )


def _may_open_supervision(user: Any) -> None:
    if user.role not in SUPERVISION_ROLES:
        raise Forbidden(
            f"{access.ROLE_NAMES.get(user.role, user.role)}不能查看督办情况；限科室负责人、纪检监察人员"
        )


@router.get("/supervision")
def supervision(
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    within: Annotated[int, Query(ge=0, le=366)] = 7,
) -> Response:
    _may_open_supervision(user)
    notice = request.session.pop("supervision_notice", None)
    return _supervision_page(
        request, session, user, catalogue, within, notice=notice if isinstance(notice, str) else None
    )


@router.post("/supervision/{case_number}", dependencies=[CsrfChecked])
def supervise(
    case_number: str,
    request: Request,
    session: SessionDep,
    user: PageUser,
    settings: SettingsDep,
    catalogue: CatalogueDep,
    reason: Annotated[str, Form(max_length=_TEXT)] = "",
    due_on: Annotated[str, Form(max_length=10)] = "",
    situation: Annotated[str, Form(max_length=_TEXT)] = "",
    within: Annotated[int, Form(ge=0, le=366)] = 7,
) -> Response:
    """Issue a 督办单 (reason, new date) and record the 督办 step citing its 文号, in one act."""
    _may_open_supervision(user)
    try:
        done = cases.supervise(
            session,
            user,
            case_number,
            reason=reason,
            due_on=_date_of(due_on),
            situation=situation,
            settings=settings,
            catalogue=catalogue,
        )
    except (ServiceError, StoreError) as exc:
        if isinstance(exc, ServiceError) and status_of(exc) == 404:
            raise
        session.rollback()
        return _supervision_page(
            request,
            session,
            user,
            catalogue,
            within,
            error=f"{case_number}：{message_of(exc)}",
            status_code=status_of(exc),
        )
    document = done.document
    request.session["supervision_notice"] = f"已对 {case_number} 督办，督办单文号 {document.number}。"
    return RedirectResponse(f"/supervision?within={within}", status_code=303)
