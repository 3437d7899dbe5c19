"""Letters: the queue, registering (JSON or a text file), reading one, its page images, and deciding on
its proposal."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CatalogueDep, CurrentUser, RouterDep, SessionDep, SettingsDep, api_role
from api.errors import error_responses
from api.responses import page_image_response
from routing.codes import Category
from service import access, repeats, views, workflows
from service.errors import Forbidden
from service.schemas import (
    DecisionCreate,
    DecisionPublic,
    DecisionsPublic,
    EarlierLettersPublic,
    LetterCreate,
    LetterPublic,
    LetterReceipt,
    QueuePublic,
    UnrelatedCreate,
    UnrelatedResult,
)
from service.schemas import (
    Form as LetterForm,
)
from service.uploads import read_text_upload
from store.files import letter_pages
from store.models import User
from store.queries_api import list_queue_for

router = APIRouter(prefix="/letters", tags=["letters"])

# Checked before the model is asked for, so a role that may not register gets 403, not a 503.
Registrar = Annotated[User, api_role(access.REGISTER_LETTERS, "register letters")]


class LetterFileForm(BaseModel):
    """The particulars sent beside an uploaded text file.

    Unknown fields are not refused here because the file itself arrives in the same form body.
    """

    model_config = ConfigDict(extra="ignore")

    title: str = Field(default="", max_length=500)
    form: LetterForm = "letter"
    received_on: str | None = Field(default=None, max_length=10, description="YYYY-MM-DD")
    visitors: int | None = Field(default=None, ge=1, le=10_000)
    petitioner_name: str | None = Field(default=None, max_length=200)
    petitioner_organisation: str | None = Field(default=None, max_length=300)
    id_number: str | None = Field(default=None, max_length=18)
    address: str | None = Field(default=None, max_length=500)
    contact_phone: str | None = Field(default=None, max_length=40)
    request: str | None = Field(default=None, max_length=20_000)
    facts: str | None = Field(default=None, max_length=50_000)
    reasons: str | None = Field(default=None, max_length=50_000)


def _receipt(registered: workflows.Registered, user: CurrentUser, catalogue: CatalogueDep) -> LetterReceipt:
    letter = registered.bundle.letter
    return LetterReceipt(
        case_number=letter.case_number,
        status=letter.status,  # type: ignore[arg-type]
        confidential=views.letter_state(registered.bundle).confidential,
        readable=registered.readable,
        letter=views.letter_public(registered.bundle, user, catalogue) if registered.readable else None,
        earlier=registered.earlier,
    )


@router.get("", response_model=QueuePublic, responses=error_responses(401, 403, 422))
def list_letters(
    session: SessionDep,
    user: CurrentUser,
    catalogue: CatalogueDep,
    form: LetterForm | None = None,
    category: Category | None = None,
    department: Annotated[str | None, Query(max_length=64)] = None,
    overdue: bool | None = None,
    needs_review: bool | None = None,
    status: Literal["pending", "decided", "all"] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    order: Annotated[
        Literal["urgency", "due"], Query(description="urgency (default) or due: by the date next due")
    ] = "urgency",
    only_overdue: Annotated[bool, Query(description="only letters whose date next due has passed")] = False,
) -> QueuePublic:
    """The queue of letters the caller may see: open 重大紧急 reports first, then the most urgent
    and nearest deadline (or, with ``order=due``, the date next due, the case's once it has one)."""
    if user.role not in access.READ_LETTERS:
        raise Forbidden(f"role {user.role!r} has no letter queue")
    page = list_queue_for(
        session,
        **access.queue_scope(user),  # type: ignore[arg-type]
        form=form,
        category=category.value if category else None,
        department=department,
        overdue=overdue,
        needs_review=needs_review,
        status=None if status == "all" else status,
        limit=limit,
        offset=offset,
        order=order,
        only_overdue=only_overdue,
    )
    return QueuePublic(
        data=[views.queue_item(i, catalogue) for i in page.items], count=page.count, counts=page.counts
    )


@router.post(
    "", response_model=LetterReceipt, status_code=201, responses=error_responses(400, 401, 403, 413, 422, 503)
)
def create_letter(
    payload: LetterCreate, session: SessionDep, user: Registrar, router_: RouterDep, catalogue: CatalogueDep
) -> LetterReceipt:
    """Register a letter: it gets its case number and the machine's route proposal."""
    return _receipt(workflows.register_letter(session, router_, user, payload), user, catalogue)


@router.post(
    "/file",
    response_model=LetterReceipt,
    status_code=201,
    responses=error_responses(400, 401, 403, 413, 415, 422, 503),
)
def create_letter_from_file(
    file: Annotated[UploadFile, File(description="the letter as a UTF-8 or GB 18030 .txt file")],
    fields: Annotated[LetterFileForm, Form()],
    session: SessionDep,
    user: Registrar,
    router_: RouterDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
) -> LetterReceipt:
    """Register a letter uploaded as a text file, with its particulars as form fields."""
    _, text = read_text_upload(file.filename, file.content_type, file.file, settings.max_upload_bytes)
    payload = LetterCreate.model_validate({**fields.model_dump(exclude_none=True), "text": text})
    return _receipt(workflows.register_letter(session, router_, user, payload), user, catalogue)


@router.get("/{case_number}", response_model=LetterPublic, responses=error_responses(401, 403, 404))
def read_letter(
    case_number: str, session: SessionDep, user: CurrentUser, catalogue: CatalogueDep
) -> LetterPublic:
    """One letter with its current proposal and its decisions (404 when the caller may not open it)."""
    bundle = workflows.open_letter(session, user, case_number)
    return views.letter_public(bundle, user, catalogue)


@router.get(
    "/{case_number}/decisions", response_model=DecisionsPublic, responses=error_responses(401, 403, 404)
)
def list_decisions(
    case_number: str, session: SessionDep, user: CurrentUser, catalogue: CatalogueDep
) -> DecisionsPublic:
    """The decisions on a letter, oldest first (the last one is in force)."""
    bundle = workflows.open_letter(session, user, case_number)
    data = [views.decision_public(d, catalogue) for d in bundle.decisions]
    return DecisionsPublic(data=data, count=len(data))


@router.post(
    "/{case_number}/decisions",
    response_model=DecisionPublic,
    status_code=201,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def create_decision(
    case_number: str, payload: DecisionCreate, session: SessionDep, user: CurrentUser, catalogue: CatalogueDep
) -> DecisionPublic:
    """Confirm or correct the current proposal; 409 when the letter changed since it was read."""
    decision = workflows.decide_letter(session, user, case_number, payload, catalogue)
    return views.decision_public(decision, catalogue)


@router.get(
    "/{case_number}/earlier",
    response_model=EarlierLettersPublic,
    responses=error_responses(401, 403, 404, 422),
)
def list_earlier(
    case_number: str,
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = repeats.DEFAULT_LIMIT,
) -> EarlierLettersPublic:
    """The earlier letters of the same petitioner (ID number, phone, or name with a similar matter)
    or of a similar matter, newest first, with why each is listed, its score, its case's state and
    newest decision. Only letters the caller may open are listed or counted (404 when the caller
    may not open this one)."""
    return repeats.earlier_for(session, user, case_number, limit=limit)


@router.post(
    "/{case_number}/unrelated",
    response_model=UnrelatedResult,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def set_unrelated(
    case_number: str, payload: UnrelatedCreate, session: SessionDep, user: CurrentUser
) -> UnrelatedResult:
    """Mark an earlier letter as not this letter's matter (``clear: true`` withdraws the mark);
    audited. 409 when that letter is linked to this one as the same matter: unlink it first."""
    return repeats.set_unrelated(session, user, case_number, payload)


class PagePublic(BaseModel):
    """One page image of a scanned letter."""

    number: int = Field(description="position in the letter, from 1")
    file_page: int = Field(description="page number in the scanned source file")
    width: int
    height: int
    media_type: str
    blank: bool = Field(description="the page gave no text (the empty back of a sheet)")
    url: str = Field(description="where the image itself is served (same access rule as the letter)")


class PagesPublic(BaseModel):
    """The page images of a letter in page order; empty for letters typed in or sent as text."""

    data: list[PagePublic]
    count: int


PageNumber = Annotated[int, Path(ge=1, le=10_000, description="page of the letter, from 1")]
_IMAGE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "content": {"image/jpeg": {}, "image/png": {}},
        "description": "the page image (JPEG or PNG, at most 1600 pixels on the long side)",
    },
    **error_responses(401, 403, 404, 422),
}


@router.get("/{case_number}/pages", response_model=PagesPublic, responses=error_responses(401, 403, 404))
def list_pages(case_number: str, session: SessionDep, user: CurrentUser) -> PagesPublic:
    """The page images of a letter (404 when the caller may not open the letter)."""
    bundle = workflows.open_letter(session, user, case_number, purpose="page images")
    data = [
        PagePublic(
            number=p.position,
            file_page=p.file_page,
            width=p.width,
            height=p.height,
            media_type=p.media_type,
            blank=p.blank,
            url=f"/api/v1/letters/{bundle.letter.case_number}/pages/{p.position}",
        )
        for p in letter_pages(session, bundle.letter.id)
    ]
    return PagesPublic(data=data, count=len(data))


@router.get("/{case_number}/pages/{number}", response_class=Response, responses=_IMAGE_RESPONSES)
def read_page(
    case_number: str, number: PageNumber, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> Response:
    """One page image of a letter, exactly as the letter may be opened (else 404)."""
    bundle = workflows.open_letter(session, user, case_number, purpose="page image")
    return page_image_response(session, settings, bundle, number)
