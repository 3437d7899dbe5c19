"""The page where an officer splits a letter in two or merges another letter into it.

Split points are offered at paragraph starts (where two matters in one envelope part), so the
officer picks a paragraph rather than counting characters. A merge takes two steps: the officer
names the other letter, sees it beside this one, and confirms; the confirmation carries both
letters' versions, so a letter changed in between is refused (409) rather than merged unseen.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.deps import CatalogueDep, PageUser, RouterDep, SessionDep
from api.errors import status_of
from api.pages.csrf import CsrfChecked
from api.pages.render import render
from routing.catalogue import Catalogue
from service import access, views, workflows
from service.errors import Forbidden, ServiceError
from service.schemas import LetterMerge, LetterSplit
from store.errors import ConflictError, InvalidStateError, StoreError
from store.queries_api import LetterBundle

router = APIRouter()

# A paragraph is a run of non-blank lines; browsers send line breaks as CRLF, so "\r" is not text.
_PARAGRAPH = re.compile(r"(?m)^[ \t\r\u3000]*\S.*(?:\n[ \t\r\u3000]*\S.*)*")


def paragraphs(text: str) -> list[tuple[int, str]]:
    """``(offset, paragraph)`` for each paragraph of ``text``, offsets into ``text`` itself."""
    return [(m.start(), m.group().strip()) for m in _PARAGRAPH.finditer(text)]


def _page(
    request: Request,
    user: Any,
    bundle: LetterBundle,
    catalogue: Catalogue,
    *,
    other: LetterBundle | None = None,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    letter = views.letter_public(bundle, user, catalogue)
    # Offsets must point into the stored text; masking can change lengths, and then splitting by
    # paragraph is offered only to those who see the text unmasked (who are the ones who decide).
    same_text = len(letter.text) == len(bundle.letter.text)
    return render(
        request,
        "regroup.html",
        {
            "user": user,
            "letter": letter,
            "paragraphs": paragraphs(letter.text) if same_text else [],
            "pages": bundle.letter.pages,
            "other": views.letter_public(other, user, catalogue) if other is not None else None,
            "error": error,
            "form": form or {},
        },
        status_code=status_code,
    )


def _open(session: Any, user: Any, case_number: str) -> LetterBundle:
    bundle = workflows.open_letter(session, user, case_number, purpose="regroup")
    if not access.can_decide(user, views.letter_state(bundle)):
        raise Forbidden(f"role {user.role!r} may not split or merge this letter")
    return bundle


def _message(exc: Exception) -> tuple[str, int]:
    # Refusals (403, 404) are not caught: they answer as on every other page.
    if isinstance(exc, ValidationError):
        return "；".join(e["msg"] for e in exc.errors()), 422
    if isinstance(exc, ConflictError):
        return "本件或另一件已被他人更新，请重新打开本页后再操作。" + str(exc), 409
    if isinstance(exc, InvalidStateError):
        return str(exc), 409
    return str(exc), 422


def _refused(
    request: Request,
    session: Any,
    user: Any,
    catalogue: Catalogue,
    case_number: str,
    exc: Exception,
    form: dict[str, Any],
) -> Response:
    """The page again, with why the split or merge was refused and what the officer had entered."""
    session.rollback()
    message, status = _message(exc)
    bundle = _open(session, user, case_number)
    return _page(request, user, bundle, catalogue, error=message, form=form, status_code=status)


@router.get("/letters/{case_number}/regroup")
def regroup_page(
    case_number: str,
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    merge: str | None = None,
) -> Response:
    bundle = _open(session, user, case_number)
    other = None
    if merge:
        merge = merge.strip()
        try:
            other = _open(session, user, merge)
        except ServiceError as exc:
            return _page(
                request,
                user,
                bundle,
                catalogue,
                error=exc.message,
                form={"merge": merge},
                status_code=status_of(exc),
            )
        if other.letter.id == bundle.letter.id:
            return _page(
                request,
                user,
                bundle,
                catalogue,
                error="不能与自身合并，请输入另一件的案件编号。",
                form={"merge": merge},
                status_code=422,
            )
    return _page(request, user, bundle, catalogue, other=other, form={"merge": merge or ""})


@router.post("/letters/{case_number}/split", dependencies=[CsrfChecked])
def split_page(
    case_number: str,
    request: Request,
    session: SessionDep,
    user: PageUser,
    router_: RouterDep,
    catalogue: CatalogueDep,
    letter_version: Annotated[int, Form(ge=1)],
    at: Annotated[int, Form(ge=0)] = 0,
    pages_from: Annotated[str, Form(max_length=8)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    form = {"at": at, "pages_from": pages_from, "reason": reason}
    try:
        payload = LetterSplit.model_validate(
            {
                "letter_version": letter_version,
                "at": at,
                "reason": reason,
                "pages_from": int(pages_from) if pages_from.strip() else None,
            }
        )
        bundles = workflows.split_letter(session, router_, user, case_number, payload)
    except (ValidationError, ValueError, StoreError) as exc:
        return _refused(request, session, user, catalogue, case_number, exc, form)
    return RedirectResponse(f"/letters/{bundles[1].letter.case_number}", status_code=303)


@router.post("/letters/{case_number}/merge", dependencies=[CsrfChecked])
def merge_page(
    case_number: str,
    request: Request,
    session: SessionDep,
    user: PageUser,
    router_: RouterDep,
    catalogue: CatalogueDep,
    letter_version: Annotated[int, Form(ge=1)],
    other_case_number: Annotated[str, Form(max_length=32)],
    other_version: Annotated[int, Form(ge=1)],
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    try:
        payload = LetterMerge.model_validate(
            {
                "letter_version": letter_version,
                "other_case_number": other_case_number,
                "other_version": other_version,
                "reason": reason,
            }
        )
        workflows.merge_letters(session, router_, user, case_number, payload)
    except (ValidationError, StoreError) as exc:
        return _refused(
            request,
            session,
            user,
            catalogue,
            case_number,
            exc,
            {"merge": other_case_number, "reason": reason},
        )
    return RedirectResponse(f"/letters/{case_number}", status_code=303)
