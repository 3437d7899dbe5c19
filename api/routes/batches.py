"""Batches: upload many letter files at once, follow their triage, export their letters.

The upload answers as soon as the files are kept and recorded; a worker process triages them in the
background (``service.batches`` says why and how). Progress is read from the database.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response

from api.deps import SessionDep, SettingsDep, api_role
from api.errors import error_responses
from api.responses import EXPORT_MEDIA_TYPES, export_download
from service import access, batches
from service.batches import (
    BatchesPublic,
    BatchExportPublic,
    BatchExportRow,
    BatchProgress,
    BatchReceipt,
    Upload,
)
from service.schemas import Form as LetterForm
from store.models import User

BatchId = Annotated[int, Path(ge=1, le=2_147_483_647, description="the batch's id")]

router = APIRouter(prefix="/batches", tags=["batches"])

Uploader = Annotated[User, api_role(access.REGISTER_LETTERS, "upload batches")]
Reader = Annotated[User, api_role(access.READ_BATCHES, "see batches")]
Exporter = Annotated[User, api_role(access.EXPORT, "export batches")]
NO_STORE = {"Cache-Control": "no-store"}


@router.post(
    "",
    response_model=BatchReceipt,
    status_code=202,
    responses={
        200: {"model": BatchReceipt, "description": "every file was uploaded before"},
        **error_responses(400, 401, 403, 413, 422),
    },
)
def upload_batch(
    request: Request,
    response: Response,
    files: Annotated[list[UploadFile], File(description="letters: images, PDFs, text, .docx, zip archives")],
    session: SessionDep,
    user: Uploader,
    settings: SettingsDep,
    received_on: Annotated[
        dt.date | None,
        Form(
            description="收信日期 YYYY-MM-DD: the day the letters arrived, starts their statutory "
            "clocks; default today in China"
        ),
    ] = None,
    form: Annotated[LetterForm, Form(description="the letters' form; letter (来信) for mail")] = "letter",
) -> BatchReceipt:
    """Keep and record the files in a new batch and start their triage in the background (202).

    Files uploaded before are not added again (200 when none is new); a file with an unsafe name or
    over ``XINFANG_MAX_UPLOAD_BYTES`` is refused and listed, and the others go on. The batch's
    letters are routed and registered with ``received_on`` and ``form``.
    """
    # The files are recorded in transactions of their own; on SQLite this request's one (which
    # read the account) holds the write lock until it ends.
    session.commit()
    receipt = batches.receive_upload(
        request.app.state.session_factory,
        settings,
        user,
        [Upload(filename=f.filename, stream=f.file) for f in files],
        received_on=received_on,
        form=form,
    )
    if not receipt.created:
        response.status_code = 200
    return receipt


@router.get("", response_model=BatchesPublic, responses=error_responses(401, 403, 422))
def list_batches(
    session: SessionDep,
    user: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> BatchesPublic:
    """Batches, newest first, with their totals."""
    return batches.list_batches(session, limit=limit, offset=offset)


@router.get("/{batch_id}", response_model=BatchProgress, responses=error_responses(401, 403, 404))
def batch_progress(
    batch_id: BatchId, session: SessionDep, user: Reader, settings: SettingsDep, response: Response
) -> BatchProgress:
    """A batch's progress and files; letters the caller may not open are counted, not listed."""
    response.headers.update(NO_STORE)
    return batches.progress(session, settings, user, batch_id)


@router.post(
    "/{batch_id}/resume",
    response_model=BatchProgress,
    status_code=202,
    responses=error_responses(401, 403, 404),
)
def resume_batch(
    batch_id: BatchId, session: SessionDep, user: Uploader, settings: SettingsDep
) -> BatchProgress:
    """Start a worker for the batch's waiting files (after a crash or restart); harmless if one runs."""
    batches.resume(session, settings, batch_id)
    return batches.progress(session, settings, user, batch_id)


@router.get(
    "/{batch_id}/export",
    response_model=BatchExportPublic,
    responses={
        200: {
            "content": {media.split(";")[0]: {} for media in EXPORT_MEDIA_TYPES.values()},
            "description": "the rows as JSON, or as a file with format=csv|jsonl|xlsx",
        },
        **error_responses(401, 403, 404, 422),
    },
)
def export_batch(
    batch_id: BatchId,
    session: SessionDep,
    user: Exporter,
    format: Literal["json", "csv", "jsonl", "xlsx"] = "json",
) -> BatchExportPublic | Response:
    """The batch's letters and proposals as ``xinfang export`` writes them; audited.

    Personal data is masked unless the role may export it; letters the role may not open are left out.
    """
    export = batches.export_rows(session, user, batch_id, fmt=format)
    if format == "json":
        rows = [BatchExportRow.model_validate(r) for r in export.rows]
        return BatchExportPublic(data=rows, count=len(rows), masked=export.masked)
    return export_download(session, export, batch_id, format)
