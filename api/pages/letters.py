"""The queue, the register-a-letter form and the letter page with its proposal and decision form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api import access, presenters, views, workflows
from api.deps import CatalogueDep, PageUser, RouterDep, SessionDep, SettingsDep
from api.errors import ApiError, Forbidden
from api.pages.csrf import CsrfChecked
from api.pages.render import render
from api.routes.letters import page_image_response
from api.schemas import DecisionCreate, LetterCreate, LetterPublic, QueuePublic
from api.uploads import read_text_upload
from routing.catalogue import Catalogue
from routing.codes import DOMAINS
from store.errors import ConflictError, InvalidValueError
from store.letters import china_today
from store.queries_api import LetterBundle, list_queue_for

router = APIRouter()

_FILTERS = ("form", "category", "department", "status", "overdue", "needs_review")


def _validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


@router.get("/")
def queue(request: Request, session: SessionDep, user: PageUser, catalogue: CatalogueDep) -> Response:
    if user.role == access.ADMINISTRATOR:
        return RedirectResponse("/admin/users", status_code=303)
    q = request.query_params
    filters: dict[str, Any] = {
        "form": q.get("form") or None,
        "category": q.get("category") or None,
        "department": q.get("department") or None,
        # A handler's letters are the ones already routed (decided) to their department.
        "status": q.get("status") or ("decided" if user.role == access.HANDLER else "pending"),
        "overdue": True if q.get("overdue") == "true" else None,
        "needs_review": True if q.get("needs_review") == "true" else None,
    }
    if filters["status"] not in ("pending", "decided", "all"):
        filters["status"] = "pending"
    page = list_queue_for(
        session,
        **access.queue_scope(user),  # type: ignore[arg-type]
        form=filters["form"],
        category=filters["category"],
        department=filters["department"],
        overdue=filters["overdue"],
        needs_review=filters["needs_review"],
        status=None if filters["status"] == "all" else filters["status"],
        limit=200,
    )
    public = QueuePublic(
        data=[views.queue_item(i, catalogue) for i in page.items], count=page.count, counts=page.counts
    )
    return render(
        request,
        "queue.html",
        {"user": user, "page": public, "filters": filters, "departments": catalogue.departments},
    )


def _new_form(
    request: Request,
    user: Any,
    settings: Any,
    values: dict[str, Any],
    error: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "new_letter.html",
        {
            "user": user,
            "values": values,
            "error": error,
            "errors": errors or [],
            "today": china_today().isoformat(),
            "max_upload_mb": settings.max_upload_bytes // (1024 * 1024),
        },
        status_code=status_code,
    )


@router.get("/letters/new")
def new_letter_form(request: Request, user: PageUser, settings: SettingsDep) -> Response:
    if user.role not in access.REGISTER_LETTERS:
        raise Forbidden(f"role {user.role!r} may not register letters")
    return _new_form(request, user, settings, {})


_TEXT_FIELDS = (
    "title",
    "text",
    "form",
    "received_on",
    "visitors",
    "petitioner_name",
    "petitioner_organisation",
    "id_number",
    "address",
    "contact_phone",
    "request",
    "facts",
    "reasons",
)


@router.post("/letters/new", dependencies=[CsrfChecked])
def register(
    request: Request,
    session: SessionDep,
    user: PageUser,
    settings: SettingsDep,
    router_: RouterDep,
    title: Annotated[str, Form(max_length=500)] = "",
    text: Annotated[str, Form(max_length=500_000)] = "",
    form: Annotated[str, Form(max_length=16)] = "letter",
    received_on: Annotated[str, Form(max_length=10)] = "",
    visitors: Annotated[str, Form(max_length=6)] = "",
    petitioner_name: Annotated[str, Form(max_length=200)] = "",
    petitioner_organisation: Annotated[str, Form(max_length=300)] = "",
    id_number: Annotated[str, Form(max_length=18)] = "",
    address: Annotated[str, Form(max_length=500)] = "",
    contact_phone: Annotated[str, Form(max_length=40)] = "",
    request_: Annotated[str, Form(alias="request", max_length=20_000)] = "",
    facts: Annotated[str, Form(max_length=50_000)] = "",
    reasons: Annotated[str, Form(max_length=50_000)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    if user.role not in access.REGISTER_LETTERS:
        raise Forbidden(f"role {user.role!r} may not register letters")
    values: dict[str, Any] = {
        "title": title,
        "text": text,
        "form": form,
        "received_on": received_on,
        "visitors": visitors,
        "petitioner_name": petitioner_name,
        "petitioner_organisation": petitioner_organisation,
        "id_number": id_number,
        "address": address,
        "contact_phone": contact_phone,
        "request": request_,
        "facts": facts,
        "reasons": reasons,
    }
    if file is not None and file.filename:
        try:
            _, values["text"] = read_text_upload(
                file.filename, file.content_type, file.file, settings.max_upload_bytes
            )
        except ApiError as exc:
            return _new_form(request, user, settings, values, error=exc.message, status_code=exc.status)
    payload_values = {k: v for k, v in values.items() if v not in ("", None)}
    try:
        payload = LetterCreate.model_validate(payload_values)
    except ValidationError as exc:
        return _new_form(
            request,
            user,
            settings,
            values,
            error="登记信息有误，请检查后重新提交。",
            errors=_validation_errors(exc),
            status_code=422,
        )
    try:
        registered = workflows.register_letter(session, router_, user, payload)
    except InvalidValueError as exc:
        session.rollback()
        return _new_form(request, user, settings, values, error=str(exc), status_code=422)
    case_number = registered.bundle.letter.case_number
    if registered.readable:
        return RedirectResponse(f"/letters/{case_number}", status_code=303)
    return render(
        request,
        "registered.html",
        {
            "user": user,
            "case_number": case_number,
            "qr": presenters.qr_svg(case_number),
            "confidential": views.letter_state(registered.bundle).confidential,
        },
        status_code=201,
    )


def _letter_page(
    request: Request,
    user: Any,
    bundle: LetterBundle,
    catalogue: Catalogue,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    letter: LetterPublic = views.letter_public(bundle, user, catalogue)
    state = views.letter_state(bundle)
    p = letter.proposal
    words: list[Any] = []
    text_segments = [presenters.Segment(letter.text)]
    title_segments = [presenters.Segment(letter.title)] if letter.title else []
    deadlines: list[Any] = []
    if p is not None:
        words = presenters.strongest_words(
            {k: tuple(v) for k, v in p.evidence.items()}, head="department", limit=8
        )
        if not words:
            words = presenters.strongest_words({k: tuple(v) for k, v in p.evidence.items()}, head="category")
        word_texts = [w.text for w in words]
        # Offsets point into the stored text. Masking a phone number can shorten the text; then the
        # marks are left off rather than put on the wrong characters.
        if len(letter.text) == len(bundle.letter.text):
            text_segments = presenters.highlight(letter.text, p.rule_hits, "text", word_texts)
        if letter.title:
            title_segments = presenters.highlight(letter.title, p.rule_hits, "title", word_texts)
        today = china_today()
        deadlines = [(d, presenters.deadline_state(d, today)) for d in p.deadlines]
    if form is None:
        current = (
            bundle.decision.field_values()
            if bundle.decision
            else (bundle.proposal.field_values() if bundle.proposal else {})
        )
        form = dict(current)
    return render(
        request,
        "letter.html",
        {
            "user": user,
            "letter": letter,
            "qr": presenters.qr_svg(letter.case_number),
            "text_segments": text_segments,
            "title_segments": title_segments,
            "words": words,
            "deadlines": deadlines,
            "can_decide": access.can_decide(user, state),
            "form": form,
            "error": error,
            "departments": catalogue.departments,
            "domains": DOMAINS,
            # The scanned pages beside the OCR text, so the officer can check what was read.
            "pages": bundle.letter.pages,
        },
        status_code=status_code,
    )


@router.get("/letters/{case_number}")
def letter_page(
    case_number: str, request: Request, session: SessionDep, user: PageUser, catalogue: CatalogueDep
) -> Response:
    bundle = workflows.open_letter(session, user, case_number)
    return _letter_page(request, user, bundle, catalogue)


@router.get("/letters/{case_number}/pages/{number}")
def letter_page_image(
    case_number: str,
    number: Annotated[int, Path(ge=1, le=10_000)],
    session: SessionDep,
    user: PageUser,
    settings: SettingsDep,
) -> Response:
    """One scanned page of a letter, for the thumbnails and their full-size view: the API's rule."""
    bundle = workflows.open_letter(session, user, case_number, purpose="page image")
    return page_image_response(session, settings, bundle, number)


@router.post("/letters/{case_number}/decide", dependencies=[CsrfChecked])
def decide_page(
    case_number: str,
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    proposal_id: Annotated[int, Form(ge=1)],
    letter_version: Annotated[int, Form(ge=1)],
    action: Annotated[str, Form(max_length=16)] = "correct",
    category: Annotated[str, Form(max_length=32)] = "",
    domain: Annotated[str, Form(max_length=32)] = "",
    department: Annotated[str, Form(max_length=64)] = "",
    channel: Annotated[str, Form(max_length=32)] = "",
    disposition: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
    comment: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    form = {
        "category": category,
        "domain": domain,
        "department": department,
        "channel": channel,
        "disposition": disposition,
        "reason": reason,
        "comment": comment,
    }
    raw: dict[str, Any] = {
        "proposal_id": proposal_id,
        "letter_version": letter_version,
        "reason": reason or None,
        "comment": comment or None,
    }
    if action != "accept":
        raw.update({k: v for k, v in form.items() if k not in ("reason", "comment") and v})
    try:
        payload = DecisionCreate.model_validate(raw)
        workflows.decide_letter(session, user, case_number, payload, catalogue)
    except (ValidationError, InvalidValueError, ConflictError) as exc:
        session.rollback()
        shown: dict[str, Any] | None
        bundle = workflows.open_letter(session, user, case_number)
        if isinstance(exc, ConflictError):
            message, status = "本件已被他人确认或更新，请查看最新内容后重新确认。", 409
            shown = None  # what is in force now, not the stale choice
        elif isinstance(exc, ValidationError):
            message, status, shown = "；".join(e["msg"] for e in exc.errors()), 422, form
        else:
            message, status, shown = str(exc), 422, form
        if status == 422 and "reason" in message:
            message = "更改了建议内容（或更正已有确认），必须填写理由。" + message
        return _letter_page(request, user, bundle, catalogue, form=shown, error=message, status_code=status)
    return RedirectResponse(f"/letters/{case_number}#decisions", status_code=303)
