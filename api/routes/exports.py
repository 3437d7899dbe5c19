"""Exports: the letter list as rows, masked for roles that do not need personal data. Audited."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import SessionDep, api_role
from api.errors import error_responses
from routing.codes import Category
from service import access, views, workflows
from service.schemas import ExportPublic
from service.schemas import Form as LetterForm
from store.models import User
from store.queries_api import letter_bundles_for_ids, list_queue_for

router = APIRouter(prefix="/exports", tags=["exports"])

Exporter = Annotated[User, api_role(access.EXPORT, "export letters")]


@router.get("/letters", response_model=ExportPublic, responses=error_responses(401, 403, 422))
def export_letters(
    session: SessionDep,
    user: Exporter,
    form: LetterForm | None = None,
    category: Category | None = None,
    status: Literal["pending", "decided", "all"] = "all",
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ExportPublic:
    """The letters the caller may see as flat rows; petitioners' names masked unless the role needs them."""
    page = list_queue_for(
        session,
        **access.queue_scope(user),  # type: ignore[arg-type]
        form=form,
        category=category.value if category else None,
        status=None if status == "all" else status,
        limit=limit,
        offset=offset,
    )
    unmasked = user.role in access.UNMASKED_EXPORT
    loaded = letter_bundles_for_ids(session, [i.letter_id for i in page.items])
    rows = [views.export_row(i, *loaded[i.letter_id], unmasked=unmasked) for i in page.items]
    workflows.record_export(
        session,
        user,
        what="letters",
        count=len(rows),
        masked=not unmasked,
        filters={"form": form, "category": category, "status": status, "limit": limit, "offset": offset},
    )
    return ExportPublic(data=rows, count=len(rows), masked=not unmasked)
