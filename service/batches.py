"""Batches of letter files uploaded through the workbench: checked, kept, recorded, triaged in a worker.

Used by the JSON API (``api/routes/batches.py``) and the pages (``api/pages/batches.py``) alike.

**Why the triage runs in a worker process and not in the request.** Reading a scan costs seconds of
CPU (OCR), a batch can hold hundreds of pages, and the workbench serves other officers meanwhile.
So the request does only what must be done before it answers: it checks each file (a plain name,
under ``max_upload_bytes``), keeps its bytes by sha256 and records it in a ``Batch`` with
:func:`intake.batch.record_inputs`, exactly as ``xinfang triage`` does (zip archives are unpacked
there, with the same path and bomb checks), and answers with the batch id at once. The batch keeps
the day the letters arrived (收信日期, default today in China) and their form, so the worker routes
and registers them with that day, as ``xinfang triage --received-on`` does. It then starts
``xinfang batches resume BATCH`` as a child process in its own session: the same code path as the
command line (:func:`intake.batch.triage_batch` over :func:`intake.batch.process_file`), with the
server's settings passed as ``XINFANG_*`` variables. A separate process rather than a thread of the
server keeps the OCR's CPU and memory out of the process that answers the pages, survives a restart
of the server, and needs no broker or queue service.

**Why progress is read from the database.** Every file's state (``received``, ``processing``,
``done``, ``failed``) and every registered letter are rows, committed by the worker file by file, so
any server process (``xinfang serve --workers N``, or one started after a restart) shows the same
progress, and nothing about a batch lives only in memory.

**Why a crash loses and duplicates nothing.** A worker killed at any moment leaves its file
``processing`` under a claim naming a process that no longer exists; files it had not reached stay
``received``. *Resume* (a button on the batch page, ``POST /api/v1/batches/{id}/resume``, or
``xinfang batches resume``) starts a worker that first releases the dead claims
(:func:`intake.batch.release_dead_claims`) and then triages what is left; letters are registered in
the same transaction that marks their file done, and ``(source_file_id, source_part)`` is unique, so
a file is never registered twice. Two workers on one batch share it file by file through the claim.

Files refused at the door (an unsafe name, over the size limit) are not kept; their names and reasons
are recorded in the audit log as ``file_failed`` events on the batch (``batch:ID``, where a file that
failed to read has ``file:ID``), so the batch page lists them beside the files that failed to read.

**Why a file's name is not always shown.** The uploader names the file, and the name often says
what the letters say, accuser and accused included. A file's name, and its failure message, which
quotes it, reach a reader only when :func:`service.access.sees_file_name` allows: they may open every
letter read from it (or, for a file with none, they uploaded it or may read confidential letters).
Everyone else sees "保密文件 N" and the counts, in the progress, the receipt and the export alike.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service import access
from service.errors import InvalidInput, ServiceError
from service.exports import EXPORT_COLUMNS
from service.repeats import earlier_counts
from service.settings import Settings
from store.models import AuditEvent, Batch, Decision, Letter, Proposal, SourceFile, User

log = logging.getLogger("xinfang.api")  # the workbench's log: these are its uploads and their workers

REFUSED_ACTION = "file_failed"  # on object batch:ID, details {"file", "reason", "refused": true}
# A batch with pending files and no live claim is taken to be starting up (the worker is importing
# and loading the model) for this long after its last change; after that it needs a resume.
STARTUP_GRACE = dt.timedelta(seconds=90)
_CHUNK = 1024 * 1024


# ---------------------------------------------------------------------------------------------
# shapes


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RefusedFile(_Out):
    """A file not accepted into the batch, and why (it was not kept)."""

    name: str = Field(description="the name it was uploaded with, or a stand-in when withheld")
    reason: str = Field(description="why it was refused; empty when the name is withheld (it quotes it)")
    name_withheld: bool = Field(default=False, description="only its uploader and supervisors see its name")


class KnownFile(_Out):
    """A file whose content was uploaded before: it is not added again."""

    file_id: int
    name: str = Field(description="its name in its earlier batch, or 保密文件 N when withheld")
    name_withheld: bool
    status: str
    batch_id: int | None


class BatchReceipt(_Out):
    """The answer to an upload: the new batch (if any file was new) and what was not added."""

    batch_id: int | None = Field(description="the new batch; null when no file was new")
    created: bool
    files: int = Field(description="distinct files found in the upload (zip members count singly)")
    new_files: int
    known: list[KnownFile] = Field(description="files uploaded before, in their earlier batches")
    refused: list[RefusedFile]
    scheduled: bool = Field(description="a worker was started for the batch, or it was queued for one")


class BatchLetterLink(_Out):
    case_number: str
    needs_review: bool
    earlier: int = Field(
        default=0,
        description="earlier letters of the same petitioner or matter the caller may open "
        "(those marked unrelated left out): 0 when the petitioner has not written before",
    )


class BatchFilePublic(_Out):
    file_id: int
    name: str = Field(
        description="the name it was uploaded with; 保密文件 N when the caller may not open every "
        "letter read from it (the name may say what they say)"
    )
    name_withheld: bool
    status: Literal["received", "processing", "done", "failed"]
    attempts: int
    pages: int | None
    error: str | None = Field(description="why it failed, masked as stored; null when the name is withheld")
    letters: list[BatchLetterLink] = Field(description="letters from this file the caller may open")
    hidden_letters: int = Field(description="letters from this file the caller's role may not open")


class BatchProgress(_Out):
    batch_id: int
    created_by: str
    created_at: dt.datetime
    received_on: dt.date | None = Field(
        description="the day the batch's letters arrived (收信日期); null for batches recorded before "
        "it was kept, whose letters got the day they were read"
    )
    form: str = Field(description="the letters' form: letter, online, visit or call")
    state: Literal["running", "queued", "stalled", "done"] = Field(
        description="queued: waits for this server's worker to finish an earlier batch; "
        "stalled: files wait and no worker is at them, resume the batch"
    )
    files: int
    done: int
    failed: int
    pending: int
    processing: int
    letters: int
    needs_review: int = Field(description="letters the caller may open whose proposal needs review")
    hidden_letters: int
    files_per_minute: float | None = Field(
        description="files read per minute, from the time each finished file took since it was claimed"
    )
    eta_seconds: float | None = Field(description="estimated seconds until every file is read")
    refused: list[RefusedFile]
    file_states: list[BatchFilePublic]


class BatchListItem(_Out):
    batch_id: int
    created_by: str
    created_at: dt.datetime
    received_on: dt.date | None
    files: int
    done: int
    failed: int
    pending: int
    letters: int


class BatchesPublic(_Out):
    data: list[BatchListItem]
    count: int


class BatchExportRow(_Out):
    """One letter of a batch as ``xinfang export`` writes it (particulars masked unless allowed)."""

    batch_id: int
    file_id: int
    source_file: str
    source_part: int | None
    case_number: str
    received_on: str
    status: str
    petitioner_name: str | None
    address: str | None
    contact_phone: str | None
    id_number: str | None
    category: str | None
    domain: str | None
    department: str | None
    channel: str | None
    disposition: str | None
    target_body: str | None
    confidential: bool | None
    urgent: bool | None
    needs_review: bool | None
    review_reasons: list[str] | None
    confidence: float | None
    earliest_due: str | None
    model_version: str | None
    rulebook_version: str | None


class BatchExportPublic(_Out):
    data: list[BatchExportRow]
    count: int
    masked: bool


# ---------------------------------------------------------------------------------------------
# upload


@dataclass(frozen=True)
class Upload:
    """One file part of the upload: the name the client sent and its bytes."""

    filename: str | None
    stream: BinaryIO


def receive_upload(
    session_factory: sessionmaker[Session],
    settings: Settings,
    user: User,
    uploads: Sequence[Upload],
    *,
    received_on: dt.date | None = None,
    form: str = "letter",
) -> BatchReceipt:
    """Check, keep and record an upload's files in a new batch, then start its worker.

    Args:
        received_on: the day the letters arrived (收信日期); today in China when omitted. The batch
            keeps it, and the worker routes and registers the letters with it.
        form: the letters' form (``letter`` for mail).

    Raises:
        InvalidInput: no file, every file was refused (nothing was kept), or ``received_on`` or
            ``form`` is not allowed (checked before anything is kept).
    """
    from intake.batch import BatchSummary, record_inputs
    from intake.debris import upload_folder
    from intake.readers import ReadLimits
    from service.dates import check_day, check_form, latest_day
    from service.uploads import safe_filename
    from store.files import sanitise_filename

    try:
        if received_on is not None:
            check_day("received_on", received_on, latest=latest_day(tomorrow=False))
    except ValueError as exc:
        raise invalid_field("received_on", exc) from None
    try:
        check_form(form)
    except ValueError as exc:
        raise invalid_field("form", exc) from None
    if not uploads:
        raise InvalidInput("上传中没有文件：请选择一个或多个来信文件（字段 files）后再上传")
    storage = Path(settings.storage_dir)
    storage.mkdir(parents=True, exist_ok=True)
    refused: list[RefusedFile] = []
    summary = BatchSummary()
    # Under the storage folder, naming this process: if it is killed mid-upload, the folder is
    # debris that intake.debris.sweep removes (at the next start, or xinfang files sweep).
    with upload_folder(storage) as tmp:
        paths: list[Path] = []
        for index, upload in enumerate(uploads):
            shown = sanitise_filename(upload.filename or "") if upload.filename else "（无文件名）"
            try:
                name = safe_filename(upload.filename)
            except ServiceError as exc:
                refused.append(RefusedFile(name=shown, reason=exc.message))
                continue
            folder = Path(tmp) / str(index)
            folder.mkdir()
            target = folder / sanitise_filename(name)
            if not _copy_limited(upload.stream, target, settings.max_upload_bytes):
                refused.append(
                    RefusedFile(
                        name=target.name,
                        reason=f"超过每个文件 {_size(settings.max_upload_bytes)}的上限"
                        "（XINFANG_MAX_UPLOAD_BYTES）：请把扫描件拆成几个文件，或请系统管理员调高上限",
                    )
                )
                continue
            paths.append(target)
        if not paths:
            raise InvalidInput(
                "没有接收任何文件：" + "；".join(f"{r.name}：{r.reason}" for r in refused),
                errors=[{"loc": ["files", r.name], "msg": r.reason, "type": "refused"} for r in refused],
            )
        ids = record_inputs(
            paths,
            session_factory=session_factory,
            storage_dir=storage.resolve(),
            limits=ReadLimits(),  # the worker (xinfang batches resume) reads with the same
            actor=user.username,
            summary=summary,
            received_on=received_on,
            form=form,
        )
    from store.audit import append_event
    from store.db import session_scope

    known: list[KnownFile] = []
    with session_scope(session_factory) as session:
        for file_id in ids:
            row = session.get(SourceFile, file_id)
            if row is not None and row.batch_id != summary.batch_id:
                # Uploaded before, maybe by someone else and named by them: their name, under the rule.
                named = _file_name_shown(session, user, row)
                known.append(
                    KnownFile(
                        file_id=row.id,
                        name=row.original_name
                        if named
                        else access.withheld_file_name(row.id, has_letters=bool(row.letters)),
                        name_withheld=not named,
                        status=row.status,
                        batch_id=row.batch_id,
                    )
                )
        if summary.batch_id is not None:
            for r in refused:
                append_event(
                    session,
                    actor=user.username,
                    action=REFUSED_ACTION,
                    object=f"batch:{summary.batch_id}",
                    details={"file": r.name, "reason": _masked(r.reason), "refused": True},
                )
    scheduled = False
    if summary.batch_id is not None:
        scheduled = start_worker(settings, summary.batch_id)
    return BatchReceipt(
        batch_id=summary.batch_id,
        created=summary.batch_id is not None,
        files=summary.files,
        new_files=summary.new_files,
        known=known,
        refused=refused,
        scheduled=scheduled,
    )


def invalid_field(name: str, exc: ValueError) -> InvalidInput:
    """The refusal of one field of the upload, naming it as the schema's own checks do."""
    return InvalidInput(str(exc), errors=[{"loc": [name], "msg": str(exc), "type": "value_error"}])


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.3g} MB " if n >= 1024 * 1024 else f"{n} 字节"


def _masked(text: str) -> str:
    from store.masking import mask_text

    return (mask_text(text) or "")[:500]


def _copy_limited(stream: BinaryIO, target: Path, limit: int) -> bool:
    """Copy at most ``limit`` bytes to ``target``; False (and nothing left behind) when there are more."""
    size = 0
    with target.open("wb") as out:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                break
            out.write(chunk)
    if size > limit:
        target.unlink()
        return False
    return True


# ---------------------------------------------------------------------------------------------
# the worker


@dataclass
class _Worker:
    """The worker process this server process runs for one installation, and the batches queued."""

    settings: Settings
    batches: tuple[int, ...]
    process: subprocess.Popen[bytes]
    queued: list[int]


# One worker process at a time per installation (database and storage folder) from this server
# process: OCR is CPU-bound, so more would only make every batch slower and the pages with them.
_WORKERS: dict[tuple[str, str], _Worker] = {}
_WORKERS_LOCK = threading.Lock()


def _key(settings: Settings) -> tuple[str, str]:
    return settings.database_url, str(Path(settings.storage_dir).resolve())


def start_worker(settings: Settings, batch_id: int) -> bool:
    """Have a worker triage ``batch_id``: start ``xinfang batches resume`` now, or queue the batch
    behind the one this process runs already (it starts with the queued batches when that ends).

    Returns:
        True when the batch was handed to a worker (started or queued); False when this process's
        worker has it already.
    """
    key = _key(settings)
    with _WORKERS_LOCK:
        worker = _WORKERS.get(key)
        if worker is not None and worker.process.poll() is None:
            if batch_id in worker.batches or batch_id in worker.queued:
                return False
            worker.queued.append(batch_id)
            return True
        worker = _Worker(
            settings=settings, batches=(batch_id,), process=_spawn(settings, (batch_id,)), queued=[]
        )
        _WORKERS[key] = worker
    threading.Thread(target=_reap, args=(key, worker), name=f"batch-worker-{batch_id}", daemon=True).start()
    return True


def _spawn(settings: Settings, batch_ids: Sequence[int]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XINFANG_")}
    env.update(settings.as_environment())
    logs = Path(settings.storage_dir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-c",
        "from cli.main import main; main(prog_name='xinfang')",
        "batches",
        "resume",
        *map(str, batch_ids),
    ]
    with (logs / "batch-worker.log").open("ab") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and command, no shell
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a restart of the server does not stop the batch
        )
    log.info("batch(es) %s: worker process %s started", ", ".join(map(str, batch_ids)), process.pid)
    return process


def _reap(key: tuple[str, str], worker: _Worker) -> None:
    # Reaped at once when it ends (a zombie would still look alive to the claim checks), and the
    # batches queued meanwhile go to the next worker.
    while True:
        code = worker.process.wait()
        if code != 0:
            log.warning("batch worker process %s ended with exit code %s", worker.process.pid, code)
        with _WORKERS_LOCK:
            if not worker.queued or _WORKERS.get(key) is not worker:
                if _WORKERS.get(key) is worker:
                    del _WORKERS[key]
                return
            worker.batches, worker.queued = tuple(worker.queued), []
            worker.process = _spawn(worker.settings, worker.batches)


def worker_has(settings: Settings, batch_id: int) -> Literal["running", "queued"] | None:
    """Whether this process's worker is triaging ``batch_id`` or has it queued."""
    with _WORKERS_LOCK:
        worker = _WORKERS.get(_key(settings))
        if worker is None or worker.process.poll() is not None:
            return None
        if batch_id in worker.batches:
            return "running"
        return "queued" if batch_id in worker.queued else None


def stop_workers(grace: float = 0.0) -> None:
    """End the workers this process started, after ``grace`` seconds to finish by themselves."""
    with _WORKERS_LOCK:
        workers = list(_WORKERS.values())
        for worker in workers:
            worker.queued = []
    for worker in workers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.process.wait(timeout=grace)
        if worker.process.poll() is None:
            worker.process.terminate()
    for worker in workers:
        try:
            worker.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.process.kill()


def resume(session: Session, settings: Settings, batch_id: int) -> bool:
    """Hand a batch that has files waiting to a worker; False when there is nothing to do.

    Raises:
        NotFoundError: no such batch.
    """
    from store.files import get_batch

    get_batch(session, batch_id)
    waiting = session.scalar(
        select(func.count())
        .select_from(SourceFile)
        .where(SourceFile.batch_id == batch_id, SourceFile.status.in_(("received", "processing")))
    )
    if not waiting:
        return False
    return start_worker(settings, batch_id)


# ---------------------------------------------------------------------------------------------
# progress


@dataclass(frozen=True)
class _LetterRow:
    letter: Letter
    proposal: Proposal | None
    decision: Decision | None
    handling_body: str | None

    @property
    def state(self) -> access.LetterState:
        return access.letter_state(self)


def _file_letters(session: Session, *conditions: Any) -> list[_LetterRow]:
    """Letters read from files, with their newest proposal and decision and their case's handling
    body (what the access policy reads)."""
    from store.confidentiality import handling_body_column
    from store.queries_api import scoped_select

    rows = session.execute(
        scoped_select([Letter, Proposal, Decision, handling_body_column()])
        .join(SourceFile, Letter.source_file_id == SourceFile.id)
        .where(*conditions)
        .order_by(Letter.source_file_id, Letter.source_part)
    ).all()
    return [_LetterRow(letter, proposal, decision, body) for letter, proposal, decision, body in rows]


def _batch_letters(session: Session, batch_id: int) -> list[_LetterRow]:
    return _file_letters(session, SourceFile.batch_id == batch_id)


def _file_name_shown(session: Session, user: User, row: SourceFile) -> bool:
    """``access.sees_file_name`` for one stored file."""
    letters = _file_letters(session, SourceFile.id == row.id)
    uploader = row.batch.created_by if row.batch is not None else ""
    return access.sees_file_name(user, uploaded_by=uploader, letters=[r.state for r in letters])


def _refusals(session: Session, batch_id: int, user: User, uploader: str) -> list[RefusedFile]:
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == REFUSED_ACTION, AuditEvent.object == f"batch:{batch_id}")
        .order_by(AuditEvent.seq)
    )
    # Not kept, so nothing was read from them: named only to whom a file without letters is.
    shown = access.sees_file_name(user, uploaded_by=uploader, letters=())
    return [
        RefusedFile(name=str(e.details.get("file", "")), reason=str(e.details.get("reason", "")))
        if shown
        else RefusedFile(name=f"未接收的文件 {n}（文件名不公开）", reason="", name_withheld=True)
        for n, e in enumerate(events, 1)
    ]


def _claim_alive(row: SourceFile, now: dt.datetime, stale_after: dt.timedelta) -> bool:
    from intake.batch import claim_owner_is_dead

    if row.claimed_at is None or now - row.claimed_at > stale_after:
        return False
    return not claim_owner_is_dead(row.claimed_by)


def progress(
    session: Session,
    settings: Settings,
    user: User,
    batch_id: int,
    *,
    now: dt.datetime | None = None,
    stale_after: dt.timedelta | None = None,
) -> BatchProgress:
    """A batch's progress as ``user`` may see it: letters they may not open are only counted, and
    the files holding any are not named.

    Raises:
        NotFoundError: no such batch.
    """
    from intake.batch import DEFAULT_STALE_AFTER
    from store.files import batch_files, get_batch

    now = now or dt.datetime.now(dt.UTC)
    stale_after = stale_after or DEFAULT_STALE_AFTER
    batch = get_batch(session, batch_id)
    files = batch_files(session, batch_id)
    by_file: dict[int, list[_LetterRow]] = {}
    for row in _batch_letters(session, batch_id):
        by_file.setdefault(row.letter.source_file_id or 0, []).append(row)
    states: list[BatchFilePublic] = []
    needs_review = hidden = 0
    # Counted for the letters the caller may open, under the caller's scope: a repeat is marked
    # on the batch page without naming, or counting, a letter the caller may not open.
    earlier = earlier_counts(
        session, user, [r.letter for rows in by_file.values() for r in rows if access.can_read(user, r.state)]
    )
    for f in files:
        links: list[BatchLetterLink] = []
        hidden_here = 0
        rows = by_file.get(f.id, [])
        for row in rows:
            if access.can_read(user, row.state):
                review = bool(row.proposal.needs_review) if row.proposal is not None else True
                links.append(
                    BatchLetterLink(
                        case_number=row.letter.case_number,
                        needs_review=review,
                        earlier=earlier.get(row.letter.id, 0),
                    )
                )
                needs_review += review
            else:
                hidden_here += 1
        hidden += hidden_here
        shown = access.sees_file_name(user, uploaded_by=batch.created_by, letters=[r.state for r in rows])
        states.append(
            BatchFilePublic(
                file_id=f.id,
                name=f.original_name if shown else access.withheld_file_name(f.id, has_letters=bool(rows)),
                name_withheld=not shown,
                status=f.status,  # type: ignore[arg-type]
                attempts=f.attempts,
                pages=f.pages,
                error=f.error if shown else None,
                letters=links,
                hidden_letters=hidden_here,
            )
        )
    done = sum(f.status == "done" for f in files)
    failed = sum(f.status == "failed" for f in files)
    processing = [f for f in files if f.status == "processing"]
    pending = sum(f.status == "received" for f in files) + len(processing)
    letters = sum(len(rows) for rows in by_file.values())
    state: Literal["running", "queued", "stalled", "done"]
    here = worker_has(settings, batch_id)
    if pending == 0:
        state = "done"
    elif any(_claim_alive(f, now, stale_after) for f in processing) or here == "running":
        state = "running"
    elif here == "queued":
        state = "queued"
    else:
        last_change = max([batch.created_at, *(f.updated_at for f in files)])
        state = "running" if now - last_change < STARTUP_GRACE else "stalled"
    per_file = _seconds_per_file(files)
    return BatchProgress(
        batch_id=batch.id,
        created_by=batch.created_by,
        created_at=batch.created_at,
        received_on=batch.received_on,
        form=batch.form,
        state=state,
        files=len(files),
        done=done,
        failed=failed,
        pending=pending,
        processing=len(processing),
        letters=letters,
        needs_review=needs_review,
        hidden_letters=hidden,
        files_per_minute=round(60 / per_file, 1) if per_file else None,
        eta_seconds=_eta(files, pending, now, per_file) if state == "running" else None,
        refused=_refusals(session, batch_id, user, batch.created_by),
        file_states=states,
    )


def _seconds_per_file(files: Sequence[SourceFile]) -> float | None:
    """The mean seconds a finished file took from its claim (one worker), or None before the first.

    Per file rather than since the upload, so a batch resumed the next day is not estimated from the
    night it stood still.
    """
    took = [
        (f.updated_at - f.claimed_at).total_seconds()
        for f in files
        if f.status in ("done", "failed") and f.claimed_at is not None
    ]
    if not took:
        return None
    return max(sum(took) / len(took), 0.001)


def _eta(files: Sequence[SourceFile], pending: int, now: dt.datetime, per_file: float | None) -> float | None:
    """Pending files times the seconds a file takes; the file being read now is counted from its claim."""
    if per_file is None:
        return None
    current = [f for f in files if f.status == "processing" and f.claimed_at is not None]
    under_way = sum(min((now - f.claimed_at).total_seconds(), per_file) for f in current if f.claimed_at)
    return round(max(pending * per_file - under_way, 0.0), 1)


def list_batches(session: Session, *, limit: int = 100, offset: int = 0) -> BatchesPublic:
    """Batches, newest first, with their totals."""
    total = int(session.scalar(select(func.count()).select_from(Batch)) or 0)
    batches = list(session.scalars(select(Batch).order_by(Batch.id.desc()).limit(limit).offset(offset)))
    pending: dict[int | None, int] = {}
    if batches:
        counts = session.execute(
            select(SourceFile.batch_id, func.count())
            .where(
                SourceFile.batch_id.in_([b.id for b in batches]),
                SourceFile.status.in_(("received", "processing")),
            )
            .group_by(SourceFile.batch_id)
        )
        pending = {row[0]: int(row[1]) for row in counts}
    data = [
        BatchListItem(
            batch_id=b.id,
            created_by=b.created_by,
            created_at=b.created_at,
            received_on=b.received_on,
            files=b.file_count,
            done=b.done_count,
            failed=b.failed_count,
            pending=int(pending.get(b.id, 0)),
            letters=b.letter_count,
        )
        for b in batches
    ]
    return BatchesPublic(data=data, count=total)


# ---------------------------------------------------------------------------------------------
# exports


def batch_rows(session: Session, batch_id: int, *, unmasked: bool) -> list[dict[str, Any]]:
    """One row per letter registered from the batch's files, with its current proposal.

    Particulars are masked (``store.masking``) unless ``unmasked``. The letter text is never
    exported: its prose can name people in ways no mask finds.
    """
    from store.files import get_batch
    from store.letters import latest_proposal
    from store.masking import mask_letter_particulars

    get_batch(session, batch_id)
    letters = session.execute(
        select(Letter, SourceFile)
        .join(SourceFile, Letter.source_file_id == SourceFile.id)
        .where(SourceFile.batch_id == batch_id)
        .order_by(SourceFile.id, Letter.source_part)
    ).all()
    rows: list[dict[str, Any]] = []
    for letter, source_file in letters:
        particulars = (
            {
                "petitioner_name": letter.petitioner_name,
                "address": letter.address,
                "contact_phone": letter.contact_phone,
                "id_number": letter.id_number,
            }
            if unmasked
            else mask_letter_particulars(letter)
        )
        proposal = latest_proposal(session, letter.id)
        summary = proposal.route_proposal() if proposal is not None else None
        row: dict[str, Any] = {
            "batch_id": batch_id,
            "file_id": source_file.id,
            "source_file": source_file.original_name,
            "source_part": letter.source_part,
            "case_number": letter.case_number,
            "received_on": letter.received_on.isoformat(),
            "status": letter.status,
            "petitioner_name": particulars["petitioner_name"],
            "address": particulars["address"],
            "contact_phone": particulars["contact_phone"],
            "id_number": particulars["id_number"],
        }
        if proposal is not None and summary is not None:
            row.update(
                category=proposal.category,
                domain=proposal.domain,
                department=proposal.department,
                channel=proposal.channel,
                disposition=proposal.disposition,
                target_body=summary.target_body,
                confidential=proposal.confidential,
                urgent=proposal.urgent,
                needs_review=proposal.needs_review,
                review_reasons=[r.code for r in summary.review_reasons],
                confidence=round(summary.confidence, 4),
                earliest_due=proposal.earliest_due.isoformat() if proposal.earliest_due else None,
                model_version=proposal.model_version,
                rulebook_version=proposal.rulebook_version,
            )
        rows.append({column: row.get(column) for column in EXPORT_COLUMNS})
    return rows


@dataclass(frozen=True)
class Export:
    rows: list[dict[str, Any]]
    masked: bool


def export_rows(session: Session, user: User, batch_id: int, *, fmt: str) -> Export:
    """The rows of :func:`batch_rows` for the letters of the batch ``user`` may open, audited.

    Particulars are masked unless the role is in ``access.UNMASKED_EXPORT``; a file's name only
    where ``access.sees_file_name`` allows (a letter ``user`` may open can share its file with one
    they may not). The audit event is
    written in the request's transaction, which commits before the response is sent.

    Raises:
        NotFoundError: no such batch.
    """
    from store.audit import append_event
    from store.files import get_batch

    unmasked = user.role in access.UNMASKED_EXPORT
    uploader = get_batch(session, batch_id).created_by
    rows = batch_rows(session, batch_id, unmasked=unmasked)
    letters = _batch_letters(session, batch_id)
    readable = {r.letter.case_number for r in letters if access.can_read(user, r.state)}
    by_file: dict[int, list[access.LetterState]] = {}
    for r in letters:
        by_file.setdefault(r.letter.source_file_id or 0, []).append(r.state)
    withheld = {
        file_id
        for file_id, states in by_file.items()
        if not access.sees_file_name(user, uploaded_by=uploader, letters=states)
    }
    rows = [
        {**r, "source_file": access.withheld_file_name(r["file_id"], has_letters=True)}
        if r["file_id"] in withheld
        else r
        for r in rows
        if r["case_number"] in readable
    ]
    append_event(
        session,
        actor=user.username,
        action="export",
        object=f"batch:{batch_id}",
        details={"format": fmt, "rows": len(rows), "masked": not unmasked, "via": "web"},
    )
    return Export(rows=rows, masked=not unmasked)


def export_filename(batch_id: int, fmt: str, masked: bool) -> str:
    return f"batch-{batch_id}-{'masked' if masked else 'unmasked'}.{fmt}"
