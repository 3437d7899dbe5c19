"""Splitting a letter in two and merging two letters: the officer corrects how pages were grouped."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CatalogueDep, CurrentUser, RouterDep, SessionDep
from api.errors import error_responses
from service import views, workflows
from service.schemas import LetterMerge, LetterPublic, LetterSplit, LettersPublic

router = APIRouter(prefix="/letters", tags=["letters"])


@router.post(
    "/{case_number}/split",
    response_model=LettersPublic,
    status_code=201,
    responses=error_responses(400, 401, 403, 404, 409, 422, 503),
)
def split_letter(
    case_number: str,
    payload: LetterSplit,
    session: SessionDep,
    user: CurrentUser,
    router_: RouterDep,
    catalogue: CatalogueDep,
) -> LettersPublic:
    """Split a pending letter: it keeps its case number and the text before ``at``; the rest (and the
    pages from ``pages_from``) becomes a new letter. Both are routed again; 409 when the letter
    changed since it was read, 422 when the letter is not pending or a part would be empty."""
    bundles = workflows.split_letter(session, router_, user, case_number, payload)
    data = [views.letter_public(b, user, catalogue) for b in bundles]
    return LettersPublic(data=data, count=len(data))


@router.post(
    "/{case_number}/merge",
    response_model=LetterPublic,
    responses=error_responses(400, 401, 403, 404, 409, 422, 503),
)
def merge_letter(
    case_number: str,
    payload: LetterMerge,
    session: SessionDep,
    user: CurrentUser,
    router_: RouterDep,
    catalogue: CatalogueDep,
) -> LetterPublic:
    """Merge the pending letter ``other_case_number`` into this pending letter and route the whole;
    the other letter keeps its case number with status ``merged``."""
    bundle = workflows.merge_letters(session, router_, user, case_number, payload)
    return views.letter_public(bundle, user, catalogue)
