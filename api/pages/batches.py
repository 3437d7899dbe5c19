"""The batch pages: upload many letter files at once, watch their triage, download the batch's export.

The upload is checked, kept and recorded in the request and triaged by a worker process afterwards
(``service.batches`` explains the design), with the 收信日期 given on the form (default today in
China) as the letters' day of receipt; the batch page polls ``/batches/{id}/progress``, which
reads the database, so it shows the same from any server process and after a restart.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response

from api.deps import SessionDep, SettingsDep, page_role
from api.errors import status_of
from api.pages.csrf import CsrfChecked
from api.pages.render import render
from api.responses import export_download
from service import access, batches
from service.batches import BatchProgress, Upload
from service.dates import latest_day, parse_day
from service.errors import ServiceError
from store.letters import china_today
from store.models import User

BatchId = Annotated[int, Path(ge=1, le=2_147_483_647, description="the batch's id")]

router = APIRouter()

Uploader = Annotated[User, page_role(access.REGISTER_LETTERS, "upload batches")]
Reader = Annotated[User, page_role(access.READ_BATCHES, "see batches")]
Exporter = Annotated[User, page_role(access.EXPORT, "export batches")]
NO_STORE = {"Cache-Control": "no-store"}

FILE_STATUS_NAMES = {"received": "待处理", "processing": "处理中", "done": "已完成", "failed": "失败"}
STATE_NAMES = {"running": "处理中", "queued": "排队中", "stalled": "已中断，等待继续", "done": "已完成"}
EXPORT_NAMES = {"csv": "CSV（Excel 可打开）", "jsonl": "JSONL", "xlsx": "Excel 工作簿（.xlsx）"}


def _list_page(
    request: Request,
    session: Any,
    user: User,
    settings: Any,
    *,
    receipt: batches.BatchReceipt | None = None,
    error: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    received_on: str = "",
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "batches.html",
        {
            "user": user,
            "batches": batches.list_batches(session, limit=100),
            "may_upload": user.role in access.REGISTER_LETTERS,
            "max_upload_mb": settings.max_upload_bytes // (1024 * 1024),
            "max_batch_mb": settings.max_batch_upload_bytes // (1024 * 1024),
            "receipt": receipt,
            "error": error,
            "errors": errors or [],
            "today": china_today().isoformat(),
            "received_on": received_on,
            "FILE_STATUS_NAMES": FILE_STATUS_NAMES,
        },
        status_code=status_code,
        headers=NO_STORE,
    )


@router.get("/batches")
def batches_page(request: Request, session: SessionDep, user: Reader, settings: SettingsDep) -> Response:
    return _list_page(request, session, user, settings)


@router.post("/batches", dependencies=[CsrfChecked])
def upload_page(
    request: Request,
    session: SessionDep,
    user: Uploader,
    settings: SettingsDep,
    files: Annotated[list[UploadFile] | None, File()] = None,
    received_on: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    uploads = [Upload(filename=f.filename, stream=f.file) for f in files or [] if f.filename or f.size]
    # The files are recorded in transactions of their own; on SQLite this request's one holds the lock.
    session.commit()
    try:
        day = parse_day("received_on", received_on.strip(), latest=latest_day(tomorrow=False))
    except ValueError as exc:
        return _list_page(
            request,
            session,
            user,
            settings,
            error=f"收信日期有误：{exc}",
            received_on=received_on,
            status_code=422,
        )
    try:
        receipt = batches.receive_upload(
            request.app.state.session_factory, settings, user, uploads, received_on=day
        )
    except ServiceError as exc:
        return _list_page(
            request,
            session,
            user,
            settings,
            error=exc.message,
            errors=exc.errors,
            received_on=received_on,
            status_code=status_of(exc),
        )
    if receipt.batch_id is not None:
        return RedirectResponse(f"/batches/{receipt.batch_id}", status_code=303)
    # Nothing new: say where those files already are.
    return _list_page(request, session, user, settings, receipt=receipt)


@router.get("/batches/{batch_id}")
def batch_page(
    batch_id: BatchId, request: Request, session: SessionDep, user: Reader, settings: SettingsDep
) -> Response:
    progress = batches.progress(session, settings, user, batch_id)
    return render(
        request,
        "batch.html",
        {
            "user": user,
            "progress": progress,
            "may_resume": user.role in access.REGISTER_LETTERS,
            "exports": EXPORT_NAMES if user.role in access.EXPORT else {},
            "unmasked_export": user.role in access.UNMASKED_EXPORT,
            "FILE_STATUS_NAMES": FILE_STATUS_NAMES,
            "STATE_NAMES": STATE_NAMES,
        },
        headers=NO_STORE,
    )


@router.get("/batches/{batch_id}/progress")
def batch_progress(batch_id: BatchId, session: SessionDep, user: Reader, settings: SettingsDep) -> Response:
    """What the batch page polls: the API's ``BatchProgress``, for the signed-in officer."""
    progress: BatchProgress = batches.progress(session, settings, user, batch_id)
    return JSONResponse(progress.model_dump(mode="json"), headers=NO_STORE)


@router.post("/batches/{batch_id}/resume", dependencies=[CsrfChecked])
def resume_page(batch_id: BatchId, session: SessionDep, user: Uploader, settings: SettingsDep) -> Response:
    batches.resume(session, settings, batch_id)
    return RedirectResponse(f"/batches/{batch_id}", status_code=303)


@router.get("/batches/{batch_id}/export")
def export_page(
    batch_id: BatchId,
    session: SessionDep,
    user: Exporter,
    format: Literal["csv", "jsonl", "xlsx"] = "csv",
) -> Response:
    export = batches.export_rows(session, user, batch_id, fmt=format)
    return export_download(session, export, batch_id, format)
