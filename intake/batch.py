"""Batch triage: folders, zip archives and single files in; letters with route proposals out.

A run has two phases.

1. **Intake** (in the calling process): every input is walked (folders recursively, in natural
   name order; a zip archive is unpacked with :func:`intake.readers.iter_archive`'s path and bomb
   checks, each member being a file of its own). Each file's bytes are kept under
   ``storage_dir/ab/abcdef….ext`` by their sha256 and recorded with
   :func:`store.files.record_source_file`. The hash is unique, so the same content seen again
   adds nothing and a changed file is a new file (and so a new letter).
2. **Triage** (one task per file, on an :mod:`intake.engine`): claim the file, read and OCR it
   *outside* any transaction, group its pages into letters (:func:`intake.readers.split_letters`),
   route them with :meth:`routing.router.Router.propose_many` (the one code path) with the day of
   receipt and form kept on their ``Batch`` (so a resumed batch routes as the run that recorded it
   would, and the proposal's deadlines run from the day the letter is registered with), keep each
   letter's page images under ``storage_dir/pages/`` by their hash (:func:`store.files.keep_page_image`),
   and then, in **one** transaction, register the letters (``source="batch"``,
   ``source_file_id``, ``source_part``) with their pages, add their proposals and mark the file done.

Why nothing is lost or done twice when a process is killed (``kill -9``) at any moment: before
the final commit nothing of the file's letters exists, after it everything does; the unique
``(source_file_id, source_part)`` refuses a second registration of the same part. Page images are
written before that commit, but under the hash of their bytes: a kill in between leaves an orphan
image at most (written again under the same name by the rerun), never a page row whose file is
missing. A file left ``processing`` by a dead process is returned to ``received`` on the next run:
at once when the claim names a process of this host that no longer exists, otherwise after
``stale_after``.

A file that cannot be read (corrupt image, encrypted or malformed PDF, decompression bomb, zero
bytes, unsupported type, an unsafe zip) is marked failed with the reader's message, and the batch
goes on; the summary lists every failure. Logs name files by id and hash, never by their text, and
reasons are masked (``store.masking``), because both can carry a petitioner's particulars.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import logging
import multiprocessing
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.exc import SQLAlchemyError

from intake.errors import BatchError, IntakeError
from intake.ocr import OcrConfig
from intake.particulars import extract_particulars
from intake.readers import (
    MEDIA_TYPES,
    ReadLimits,
    detect_kind,
    iter_archive,
    read_file,
    safe_name,
    split_letters,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from intake.engine import DaskEngine, InProcessEngine
    from routing.router import Router
    from routing.schemas import RouteProposal

log = logging.getLogger(__name__)

BATCH_ACTOR = "intake-batch"
DEFAULT_STALE_AFTER = dt.timedelta(hours=1)
_CHUNK = 1024 * 1024
_EXTENSIONS = {"text": ".txt", "png": ".png", "jpeg": ".jpg", "tiff": ".tif", "pdf": ".pdf", "docx": ".docx"}

FileStatus = Literal["done", "failed", "skipped"]


# ---------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class FileOutcome:
    """What became of one source file in this run.

    ``status`` is ``done`` (its letters were registered now), ``failed`` (recorded with
    ``reason``) or ``skipped`` (another run or worker has done or is doing it).
    """

    file_id: int
    name: str
    status: FileStatus
    letters: int = 0
    pages: int = 0
    needs_review: int = 0
    reason: str | None = None
    letter_ids: tuple[int, ...] = ()
    elapsed_s: float = 0.0
    cpu_s: float = 0.0
    worker: str = ""


@dataclass(frozen=True)
class Failure:
    """A file (or an input that could not even be recorded) that produced no letters, and why."""

    name: str
    reason: str
    file_id: int | None = None


@dataclass(frozen=True)
class KnownFile:
    """A file an earlier run already triaged: named with its batch, so a rerun says where it is."""

    name: str
    file_id: int
    batch_id: int | None


@dataclass
class BatchSummary:
    """The totals of one run of :func:`run_batch`.

    Attributes:
        batch_id: the batch the new files were recorded in (``None`` when every file was known).
        files: distinct files seen in the inputs (by content).
        new_files: files recorded for the first time in this run.
        already_done: files done by an earlier run, not processed again.
        known: those files, each with its batch.
        processed: files triaged in this run (done or failed).
        letters, pages, needs_review: what the files processed in this run produced.
        failures: every file that failed in this run, and those that had failed before (with
            ``retry_failed=False`` they are not tried again).
        elapsed_s: wall-clock seconds of the run.
        engine: ``in-process`` or ``dask``.
        workers: worker processes used.
    """

    batch_id: int | None = None
    files: int = 0
    new_files: int = 0
    already_done: int = 0
    known: list[KnownFile] = field(default_factory=list)
    processed: int = 0
    letters: int = 0
    pages: int = 0
    needs_review: int = 0
    failures: list[Failure] = field(default_factory=list)
    elapsed_s: float = 0.0
    engine: str = "in-process"
    workers: int = 1
    outcomes: list[FileOutcome] = field(default_factory=list)

    def add(self, outcome: FileOutcome) -> None:
        """Count one file's outcome: done and failed files were processed now, skipped ones not."""
        self.outcomes.append(outcome)
        if outcome.status == "done":
            self.processed += 1
            self.letters += outcome.letters
            self.pages += outcome.pages
            self.needs_review += outcome.needs_review
        elif outcome.status == "failed":
            self.processed += 1
            self.failures.append(
                Failure(name=outcome.name, reason=outcome.reason or "", file_id=outcome.file_id)
            )

    @property
    def letters_per_hour(self) -> float:
        """Letters registered per hour of wall-clock time in this run."""
        return self.letters / self.elapsed_s * 3600 if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly record (failure reasons are already masked)."""
        return {
            "batch_id": self.batch_id,
            "files": self.files,
            "new_files": self.new_files,
            "already_done": self.already_done,
            "known": [{"name": k.name, "file_id": k.file_id, "batch_id": k.batch_id} for k in self.known],
            "processed": self.processed,
            "letters": self.letters,
            "pages": self.pages,
            "needs_review": self.needs_review,
            "failed": len(self.failures),
            "failures": [{"name": f.name, "file_id": f.file_id, "reason": f.reason} for f in self.failures],
            "elapsed_s": round(self.elapsed_s, 3),
            "letters_per_hour": round(self.letters_per_hour, 1),
            "engine": self.engine,
            "workers": self.workers,
        }

    def render(self) -> str:
        """The summary as printed at the end of ``xinfang triage``."""
        lines = [
            f"batch      {self.batch_id if self.batch_id is not None else '(no new files)'}",
            f"files      {self.files} seen, {self.new_files} new, {self.already_done} already done, "
            f"{self.processed} processed",
            f"letters    {self.letters} registered from {self.pages} pages; {self.needs_review} need review",
            f"failures   {len(self.failures)}",
        ]
        lines.extend(f"  - {f.name}: {f.reason}" for f in self.failures)
        lines.append(
            f"time       {self.elapsed_s:.1f} s on {self.workers} worker(s) ({self.engine}); "
            f"{self.letters_per_hour:.0f} letters/hour"
        )
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# what a worker needs, picklable


@dataclass(frozen=True)
class RouterLoader:
    """Loads the router of a bare model folder once per process (a frozen dataclass, so it pickles
    to Dask workers).

    ``xinfang triage`` and the batch worker pass the installation's router instead
    (``service.routers.InstallationRouter``, with the settings' catalogue and thresholds); this one
    serves tools and tests that have a model folder and nothing else.

    Args:
        model_dir: the model folder (``training.registry.resolve_model_dir``).
        rulebook_dir: the rulebook folder; ``None`` for the shipped one.
        max_chars: longer letters are cut and flagged.
    """

    model_dir: Path
    rulebook_dir: Path | None = None
    max_chars: int = 200_000

    def __call__(self) -> Router:
        with _CACHE_LOCK:
            router = _ROUTERS.get(self)
            if router is None:
                from routing.router import Router

                router = Router.load(self.model_dir, rulebook_dir=self.rulebook_dir, max_chars=self.max_chars)
                _ROUTERS[self] = router
                if multiprocessing.parent_process() is not None:
                    # A worker process keeps its router to the end: frozen, the garbage collector
                    # stops walking it and the libraries on every full collection (a sixth of
                    # routing's CPU time). The calling process, which may be a test, is left as is.
                    gc.collect()
                    gc.freeze()
            return router


@dataclass(frozen=True)
class TriageJob:
    """Everything a worker process needs to triage one file, by value.

    ``router_loader`` is any picklable callable returning a ``Router`` (normally
    :class:`RouterLoader`, which caches per process).
    """

    database_url: str
    router_loader: Callable[[], Router]
    storage_dir: Path
    limits: ReadLimits = field(default_factory=ReadLimits)
    ocr_config: OcrConfig | None = None
    actor: str = BATCH_ACTOR
    received_on: dt.date | None = None
    form: str | None = None
    # The installation's audit key, for a worker process that did not start as xinfang (dask worker)
    # and so was never given it: the letters it registers are audited with the key verify uses.
    audit_key: bytes | None = field(default=None, repr=False)


_CACHE_LOCK = threading.RLock()
_ROUTERS: dict[Any, Router] = {}
_SESSION_FACTORIES: dict[str, sessionmaker[Session]] = {}


def _session_factory_for(url: str) -> sessionmaker[Session]:
    from store.db import make_engine, make_session_factory

    with _CACHE_LOCK:
        factory = _SESSION_FACTORIES.get(url)
        if factory is None:
            factory = make_session_factory(make_engine(url))
            _SESSION_FACTORIES[url] = factory
        return factory


def triage_task(file_id: int, job: TriageJob) -> FileOutcome:
    """The task a worker runs for one file: :func:`process_file` with per-process caches."""
    if job.audit_key is not None:
        from store.audit_key import use_audit_key

        use_audit_key(job.audit_key)
    return process_file(
        file_id,
        session_factory=_session_factory_for(job.database_url),
        router=job.router_loader,
        storage_dir=job.storage_dir,
        limits=job.limits,
        ocr_config=job.ocr_config,
        actor=job.actor,
        received_on=job.received_on,
        form=job.form,
    )


@dataclass(frozen=True)
class _Task:
    """``triage_task`` with its job bound: what the engine maps over file ids."""

    job: TriageJob

    def __call__(self, file_id: int) -> FileOutcome:
        return triage_task(file_id, self.job)


# ---------------------------------------------------------------------------------------------
# claims and workers


def worker_name() -> str:
    """``host:pid:start`` of this process: the claim owner, and enough to tell later that it died."""
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def _process_start(pid: int) -> int:
    import psutil

    try:
        return int(psutil.Process(pid).create_time())
    except psutil.Error:
        return 0


def claim_owner_is_dead(owner: str | None) -> bool:
    """Whether ``owner`` (a :func:`worker_name`) is a process of this host that no longer runs.

    Claims from other hosts are never judged here (they wait for ``stale_after``); a pid that
    has been reused by a new process is recognised by its start time.
    """
    if not owner:
        return False
    match = re.fullmatch(r"(?P<host>.+):(?P<pid>\d+):(?P<start>\d+)", owner)
    if match is None or match["host"] != socket.gethostname():
        return False
    pid, start = int(match["pid"]), int(match["start"])
    import psutil

    if not psutil.pid_exists(pid):
        return True
    return _process_start(pid) != start


def release_dead_claims(
    session: Session, *, stale_after: dt.timedelta = DEFAULT_STALE_AFTER, batch_id: int | None = None
) -> int:
    """Return to ``received`` the files claimed by dead processes of this host, and by anyone
    longer ago than ``stale_after`` (a worker on another machine that died).

    Returns:
        How many files were released.
    """
    from sqlalchemy import select

    from store.files import release_claims, release_stale_claims
    from store.models import SourceFile

    stmt = select(SourceFile.claimed_by).where(SourceFile.status == "processing").distinct()
    if batch_id is not None:
        stmt = stmt.where(SourceFile.batch_id == batch_id)
    dead = [owner for owner in session.scalars(stmt) if owner and claim_owner_is_dead(owner)]
    released = release_claims(session, claimed_by=dead) if dead else 0
    return released + release_stale_claims(session, older_than=stale_after)


@dataclass(frozen=True)
class _Claimed:
    """A file this worker has claimed, with the day of receipt and form its batch recorded."""

    source_file: Any
    received_on: dt.date | None
    form: str | None


def _claim(session_factory: sessionmaker[Session], file_id: int, worker: str) -> _Claimed | None:
    from store.db import session_scope
    from store.files import claim_file, get_source_file, release_claims
    from store.models import Batch

    with session_scope(session_factory) as session:
        source_file = claim_file(session, file_id, worker=worker)
        if source_file is None:
            current = get_source_file(session, file_id)
            # A task re-run after its worker died finds the file still claimed by the dead process.
            if current.status == "processing" and claim_owner_is_dead(current.claimed_by):
                release_claims(session, claimed_by=[current.claimed_by or ""])
                source_file = claim_file(session, file_id, worker=worker)
        if source_file is None:
            return None
        batch = session.get(Batch, source_file.batch_id) if source_file.batch_id is not None else None
        return _Claimed(
            source_file=source_file,
            received_on=batch.received_on if batch is not None else None,
            form=batch.form if batch is not None else None,
        )


# ---------------------------------------------------------------------------------------------
# one file


def process_file(
    file_id: int,
    *,
    session_factory: sessionmaker[Session],
    router: Router | Callable[[], Router],
    storage_dir: Path,
    limits: ReadLimits | None = None,
    ocr_config: OcrConfig | None = None,
    actor: str = BATCH_ACTOR,
    received_on: dt.date | None = None,
    form: str | None = None,
    worker: str | None = None,
) -> FileOutcome:
    """Triage one recorded source file: claim, read, split, route, register in one transaction.

    The page images of scans and PDFs are kept (content-addressed) just before that transaction
    and recorded in it, one ``LetterPage`` per page of each letter.

    Args:
        file_id: the ``SourceFile`` id.
        session_factory: sessions on the batch's database.
        router: the router, or a callable returning it (called only when there are letters).
        storage_dir: where the file's bytes were kept (``SourceFile.stored_path`` is relative to it).
        limits: reading limits; ``ReadLimits()`` when omitted.
        ocr_config: OCR settings for scans; the default engine when omitted.
        actor: who registers the letters in the audit log.
        received_on: the day the letters arrived; when omitted, the day the file's batch recorded,
            else today in China. Both the proposals (their deadlines) and the letters get it.
        form: the letters' form (``letter``, ``online``, ``visit``, ``call``); when omitted, the
            batch's, else ``letter``.
        worker: the claim owner; :func:`worker_name` when omitted.

    Returns:
        The outcome. A file that cannot be read is ``failed`` (recorded); a file another worker
        has claimed or finished is ``skipped``.

    Raises:
        SQLAlchemyError: the database failed (the file stays claimed and is released later).
    """
    from store.db import session_scope
    from store.letters import china_today

    started = time.perf_counter()
    cpu_started = time.process_time()
    worker = worker or worker_name()
    claim = _claim(session_factory, file_id, worker)
    if claim is None:
        return FileOutcome(file_id=file_id, name="", status="skipped", worker=worker)
    claimed = claim.source_file
    name = claimed.original_name
    # The router gets the very day and form the letters are registered with, as the workbench's.
    day = received_on or claim.received_on or china_today()
    letter_form = form or claim.form or "letter"
    try:
        path = Path(storage_dir) / claimed.stored_path
        document = read_file(path, name=name, limits=limits, ocr=_ocr_engine(ocr_config), keep_images=True)
        letters = split_letters(document)
        if not letters:
            raise _NoLetters(
                f"{document.name}: no letter text: every page is blank or a separator "
                f"({len(document.pages)} page(s)); check the scan"
            )
        # a Router, or a loader that is called once the file is known to hold letters
        resolved: Router = router if _is_router(router) else router()  # type: ignore[assignment,operator]
        proposals = resolved.propose_many([lt.to_letter(received_on=day, form=letter_form) for lt in letters])
        # Written before the transaction below: content-addressed, so a kill in between leaves an
        # orphan image at most, and a committed page row always finds its file.
        page_images = _keep_page_images(Path(storage_dir), document, letters)
    except (IntakeError, _NoLetters, OSError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        return _fail(session_factory, file_id, name, reason, actor, worker, started)
    except SQLAlchemyError:
        raise
    except Exception as exc:  # a reader bug must not stop the batch; it is recorded like a bad file
        log.exception("file %s: unexpected error while reading", file_id)
        reason = f"internal error while reading ({type(exc).__name__}: {exc}); report it with the file id"
        return _fail(session_factory, file_id, name, reason, actor, worker, started)

    with session_scope(session_factory) as session:
        outcome = _register(
            session,
            file_id=file_id,
            name=name,
            letters=letters,
            proposals=proposals,
            pages=len(document.pages),
            page_images=page_images,
            actor=actor,
            worker=worker,
            received_on=day,
            form=letter_form,
        )
    elapsed = time.perf_counter() - started
    log.info(
        "file %s (%s…): %s, %d letter(s), %d page(s), %.2f s",
        file_id,
        claimed.sha256[:12],
        outcome.status,
        outcome.letters,
        outcome.pages,
        elapsed,
    )
    cpu = time.process_time() - cpu_started
    return FileOutcome(**{**outcome.__dict__, "elapsed_s": elapsed, "cpu_s": cpu})


class _NoLetters(Exception):
    """A file whose pages hold no letter text."""


def _is_router(obj: object) -> bool:
    return hasattr(obj, "propose_many")


def _ocr_engine(config: OcrConfig | None) -> Any:
    if config is None:
        return None  # read_file loads the process-wide default on the first scanned page
    from intake.ocr import get_engine

    return get_engine(config)


def _fail(
    session_factory: sessionmaker[Session],
    file_id: int,
    name: str,
    reason: str,
    actor: str,
    worker: str,
    started: float,
) -> FileOutcome:
    from store.db import session_scope
    from store.errors import InvalidStateError
    from store.files import mark_file_failed

    try:
        with session_scope(session_factory) as session:
            stored = mark_file_failed(session, file_id, reason, actor=actor)
            masked = stored.error or reason
    except InvalidStateError:
        # the claim was released and someone else has the file now: theirs is the outcome
        return FileOutcome(file_id=file_id, name=name, status="skipped", worker=worker)
    log.info("file %s failed: %s", file_id, masked)
    return FileOutcome(
        file_id=file_id,
        name=name,
        status="failed",
        reason=masked,
        elapsed_s=time.perf_counter() - started,
        worker=worker,
    )


def _particulars(text: str) -> dict[str, str | None]:
    fields = extract_particulars(text).as_fields()
    phone = fields.get("contact_phone")
    if phone:
        # the store accepts ASCII brackets only; letters write landlines as （0731）84562371
        fields["contact_phone"] = phone.replace("（", "(").replace("）", ")")
    return fields


def _keep_page_images(storage_dir: Path, document: Any, letters: Sequence[Any]) -> dict[int, list[Any]]:
    """Keep the image of every page of every letter under ``storage_dir``; letter index -> its pages.

    Separator pages belong to no letter and are not kept; blank pages inside a letter are (the
    officer can see that the back of a sheet was empty). Files and text have no page images.
    """
    from store.files import NewLetterPage, keep_page_image

    by_number = {page.number: page for page in document.pages}
    kept: dict[int, list[Any]] = {}
    for letter in letters:
        pages = [by_number[n] for n in letter.page_numbers]
        if not pages or any(page.image is None for page in pages):
            continue
        kept[letter.index] = [
            NewLetterPage(
                file_page=page.number,
                image=keep_page_image(storage_dir, page.image.data, page.image.media_type),
                width=page.image.width,
                height=page.image.height,
                blank=page.is_blank,
            )
            for page in pages
        ]
    return kept


def _register(
    session: Session,
    *,
    file_id: int,
    name: str,
    letters: Sequence[Any],
    proposals: Sequence[RouteProposal],
    pages: int,
    actor: str,
    worker: str,
    received_on: dt.date | None,
    form: str = "letter",
    page_images: dict[int, list[Any]] | None = None,
) -> FileOutcome:
    """Register the file's letters with their page images, add their proposals and mark the file
    done, all in the caller's transaction."""
    from sqlalchemy import select

    from store.errors import InvalidValueError
    from store.files import add_letter_pages, get_source_file, mark_file_done
    from store.letters import add_proposal, create_letter
    from store.models import Letter

    source_file = get_source_file(session, file_id)
    session.refresh(source_file)
    if source_file.status != "processing" or source_file.claimed_by != worker:
        # Our claim was released as stale and another worker took the file: it registers the letters.
        return FileOutcome(file_id=file_id, name=name, status="skipped", worker=worker)
    existing = set(session.scalars(select(Letter.source_part).where(Letter.source_file_id == file_id)))
    created: list[int] = []
    needs_review = 0
    for letter_text, proposal in zip(letters, proposals, strict=True):
        if letter_text.index in existing:
            continue  # registered by an earlier attempt that committed (cannot happen with one commit)
        base: dict[str, Any] = {
            # No title: the file's name is the uploader's, and may name accuser and accused to a
            # reader of a sibling letter (the batch page shows it to those who may see it).
            "title": "",
            "text": letter_text.text,
            "created_by": actor,
            "received_on": received_on,
            "form": form,
            "source": "batch",
            "source_file_id": file_id,
            "source_part": letter_text.index,
        }
        try:
            row = create_letter(session, **base, **_particulars(letter_text.text))  # type: ignore[arg-type]
        except InvalidValueError:
            # A particular the store refuses (an odd phone format): the officer enters it from the scan.
            row = create_letter(session, **base)
        add_proposal(session, row.id, proposal)
        if page_images and letter_text.index in page_images:
            add_letter_pages(session, row.id, page_images[letter_text.index])
        created.append(row.id)
        needs_review += proposal.needs_review
    mark_file_done(session, file_id, pages=pages)
    return FileOutcome(
        file_id=file_id,
        name=name,
        status="done",
        letters=len(created),
        pages=pages,
        needs_review=needs_review,
        letter_ids=tuple(created),
        worker=worker,
    )


# ---------------------------------------------------------------------------------------------
# intake of the inputs


@dataclass(frozen=True)
class _Input:
    """One file found in the inputs: its display name and bytes (members of zips are in memory)."""

    name: str
    path: Path | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class _Unreadable:
    """An input refused as a whole (a zip with ``..`` members, a bomb): recorded as one failed file."""

    name: str
    path: Path
    reason: str


def _natural_key(path: Path) -> list[object]:
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", str(path))]


def iter_inputs(paths: Iterable[str | Path], limits: ReadLimits) -> Iterator[_Input | _Unreadable]:
    """Walk folders and unpack zip archives; yield each file (or unreadable input) once.

    Raises:
        BatchError: a path does not exist.
    """
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise BatchError(f"{raw}: no such file or folder; check the path (nothing was triaged)")
        if path.is_dir():
            files = sorted(
                (p for p in path.rglob("*") if p.is_file() and not p.is_symlink()), key=_natural_key
            )
            for file in files:
                if any(part.startswith(".") for part in file.relative_to(path).parts):
                    continue  # hidden files and folders (.DS_Store, .git) are no letters
                yield from _expand(file, limits)
        else:
            yield from _expand(path, limits)


def _expand(path: Path, limits: ReadLimits) -> Iterator[_Input | _Unreadable]:
    with path.open("rb") as fh:
        head = fh.read(4)
    if not head.startswith(b"PK") or path.stat().st_size > limits.max_archive_bytes:
        yield _Input(name=path.name, path=path)
        return
    data = path.read_bytes()
    if detect_kind(data) != "zip":  # .docx and other zip-based formats are files, not archives
        yield _Input(name=path.name, path=path)
        return
    members: list[_Input] = []
    try:
        for member, content in iter_archive(data, path.name, limits):
            members.append(_Input(name=member, data=content))
    except IntakeError as exc:
        # The archive as a whole is refused (unsafe paths, a bomb, corrupt): it is one failed file.
        yield _Unreadable(name=path.name, path=path, reason=str(exc))
        return
    if not members:
        yield _Unreadable(name=path.name, path=path, reason=f"{path.name}: the archive holds no files")
    yield from members


def keep_file(storage_dir: Path, source: Path | bytes) -> tuple[str, int, str, str]:
    """Copy a file's bytes under ``storage_dir`` by their hash (atomically; once per content).

    Returns:
        ``(sha256, size, media type, stored path relative to storage_dir)``.
    """
    storage_dir = Path(storage_dir)
    storage_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, tmp_name = tempfile.mkstemp(dir=storage_dir, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out:
            chunks: Iterable[bytes] = (
                [bytes(source)] if isinstance(source, bytes | bytearray) else _read_chunks(source)
            )
            for chunk in chunks:
                if len(head) < 4096:
                    head += chunk[: 4096 - len(head)]
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        kind = detect_kind(head) if size else "text"
        media_type = MEDIA_TYPES.get(kind, "application/octet-stream")
        relative = f"{sha[:2]}/{sha}{_EXTENSIONS.get(kind, '.bin')}"
        target = storage_dir / relative
        if target.exists():
            os.unlink(tmp_name)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, target)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return sha, size, media_type, relative


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


def record_inputs(
    paths: Sequence[str | Path],
    *,
    session_factory: sessionmaker[Session],
    storage_dir: Path,
    limits: ReadLimits,
    actor: str = BATCH_ACTOR,
    summary: BatchSummary,
    received_on: dt.date | None = None,
    form: str = "letter",
) -> list[int]:
    """Phase 1: keep and record every input file; returns the ids of the distinct files, in order.

    Inputs refused as a whole (an unsafe zip) are recorded and marked failed at once. A new batch
    (made when the first new file is found) keeps ``received_on`` (today in China when omitted) and
    ``form``, which its files are triaged with, also when a later run resumes it.

    Raises:
        InvalidValueError: ``received_on`` is after today in China or ``form`` is not a form
            (before any file is recorded only when the caller checked them; the CLI and API do).
    """
    from store.db import session_scope
    from store.files import (
        claim_file,
        create_batch,
        mark_file_failed,
        record_source_file,
        source_file_by_hash,
    )
    from store.letters import china_today

    day = received_on or china_today()
    ids: list[int] = []
    seen: set[int] = set()
    for item in iter_inputs(paths, limits):
        source: Path | bytes = item.path if isinstance(item, _Unreadable) else (item.path or item.data or b"")
        sha, size, media_type, stored = keep_file(storage_dir, source)
        with session_scope(session_factory) as session:
            if summary.batch_id is None and source_file_by_hash(session, sha) is None:
                summary.batch_id = create_batch(session, created_by=actor, received_on=day, form=form).id
            source_file, created = record_source_file(
                session,
                sha256=sha,
                original_name=safe_name(PurePosixPath(item.name).name),
                media_type=media_type,
                size_bytes=size,
                stored_path=stored,
                batch_id=summary.batch_id,
                recorded_by=actor,
            )
            if created and isinstance(item, _Unreadable):
                claim_file(session, source_file.id, worker=worker_name())
                mark_file_failed(session, source_file.id, item.reason, actor=actor)
        summary.new_files += created
        if source_file.id not in seen:
            seen.add(source_file.id)
            ids.append(source_file.id)
    summary.files = len(ids)
    return ids


# ---------------------------------------------------------------------------------------------
# the run


def run_batch(
    paths: Sequence[str | Path],
    *,
    session_factory: sessionmaker[Session],
    router_loader: Callable[[], Router],
    storage_dir: Path,
    workers: int = 1,
    scheduler_address: str | None = None,
    engine: InProcessEngine | DaskEngine | None = None,
    limits: ReadLimits | None = None,
    ocr_config: OcrConfig | None = None,
    actor: str = BATCH_ACTOR,
    received_on: dt.date | None = None,
    form: str | None = None,
    retry_failed: bool = False,
    stale_after: dt.timedelta = DEFAULT_STALE_AFTER,
    progress: bool | None = None,
    database_url: str | None = None,
    on_file: Callable[[int, int], None] | None = None,
) -> BatchSummary:
    """Triage every file under ``paths``: record, read, route and register their letters.

    Args:
        paths: files, folders (walked recursively) and zip archives.
        session_factory: sessions on the database (``store.db.make_session_factory``).
        router_loader: a picklable callable returning the router (:class:`RouterLoader`); each
            worker process calls it once.
        storage_dir: where source files are kept by hash (``Settings.storage_dir``).
        workers: worker processes; 1 runs in this process, more start a local Dask cluster.
        scheduler_address: ``tcp://host:8786`` of a Dask scheduler to send the files to instead.
        engine: an engine to use (and leave open) instead of one made from ``workers``.
        limits: reading limits (``ReadLimits()``).
        ocr_config: OCR settings; with several workers one ONNX thread each by default.
        actor: the audit actor registering the letters.
        received_on: the day the letters arrived (starts the statutory clocks). Kept on the new
            batch (today in China when omitted); given, it also applies to files of earlier
            batches triaged in this run, which otherwise keep their batch's day.
        form: the letters' form, kept on the new batch (``letter`` when omitted); given, it also
            applies to files of earlier batches triaged in this run.
        retry_failed: try files again that failed in an earlier run.
        stale_after: claims older than this are taken to belong to a dead worker on another host.
        progress: show a progress bar on stderr; ``None`` shows it only on a terminal.
        database_url: the URL the workers connect to; read from ``session_factory``'s engine
            when omitted.
        on_file: called with the files triaged and the files to triage, once before the first
            and after each (a caller's own progress display, instead of ``progress``).

    Returns:
        The :class:`BatchSummary` of this run.

    Raises:
        BatchError: a path does not exist.
        EngineError: the Dask scheduler cannot be reached.
    """
    from tqdm import tqdm

    from intake.engine import make_engine
    from store.audit_key import audit_key
    from store.db import session_scope
    from store.files import claim_file, get_source_file

    started = time.perf_counter()
    limits = limits or ReadLimits()
    summary = BatchSummary()
    with session_scope(session_factory) as session:
        released = release_dead_claims(session, stale_after=stale_after)
    if released:
        log.info("released %d file(s) claimed by workers that are gone", released)
    ids = record_inputs(
        paths,
        session_factory=session_factory,
        storage_dir=storage_dir,
        limits=limits,
        actor=actor,
        summary=summary,
        received_on=received_on,
        form=form or "letter",
    )

    todo: list[int] = []
    with session_scope(session_factory) as session:
        for file_id in ids:
            source_file = get_source_file(session, file_id)
            if source_file.status == "done":
                summary.already_done += 1
                summary.known.append(KnownFile(source_file.original_name, file_id, source_file.batch_id))
            elif source_file.status == "failed" and not retry_failed:
                summary.failures.append(
                    Failure(name=source_file.original_name, reason=source_file.error or "", file_id=file_id)
                )
            elif source_file.status == "failed":
                # back to processing and released, so the task claims it like any received file
                claim_file(session, file_id, worker=worker_name(), include_failed=True)
                from store.files import release_claims

                release_claims(session, claimed_by=[worker_name()])
                todo.append(file_id)
            else:
                todo.append(file_id)

    own_engine = engine is None
    if engine is None:
        engine = make_engine(workers=workers, scheduler_address=scheduler_address)
    summary.engine = engine.name
    summary.workers = workers if scheduler_address is None else _remote_workers(engine)
    if ocr_config is None and summary.workers > 1:
        ocr_config = OcrConfig(intra_op_threads=1)
    try:
        task: Callable[[int], FileOutcome]
        if engine.name == "in-process":
            task = _local_task(
                session_factory=session_factory,
                router_loader=router_loader,
                storage_dir=storage_dir,
                limits=limits,
                ocr_config=ocr_config,
                actor=actor,
                received_on=received_on,
                form=form,
            )
        else:
            url = database_url or _url_of(session_factory)
            task = _Task(
                TriageJob(
                    database_url=url,
                    router_loader=router_loader,
                    storage_dir=Path(storage_dir).resolve(),
                    limits=limits,
                    ocr_config=ocr_config,
                    actor=actor,
                    received_on=received_on,
                    form=form,
                    audit_key=audit_key(),
                )
            )
        bar = tqdm(total=len(todo), unit="file", disable=_no_bar(progress), dynamic_ncols=True)
        if on_file is not None:
            on_file(0, len(todo))
        try:
            for number, outcome in enumerate(engine.map_unordered(task, todo), 1):
                summary.add(outcome)
                if on_file is not None:
                    on_file(number, len(todo))
                bar.update(1)
                bar.set_postfix(letters=summary.letters, failed=len(summary.failures), refresh=False)
        finally:
            bar.close()
    finally:
        if own_engine:
            engine.close()
    summary.elapsed_s = time.perf_counter() - started
    return summary


def _no_bar(progress: bool | None) -> bool | None:
    # tqdm's disable=None means "only on a terminal"
    return None if progress is None else not progress


def _remote_workers(engine: InProcessEngine | DaskEngine) -> int:
    count = getattr(engine, "worker_count", 1)
    return int(count) if count else 1


def _url_of(session_factory: sessionmaker[Session]) -> str:
    bind = session_factory.kw.get("bind")
    if bind is None:
        raise BatchError("the session factory has no engine; pass database_url for the workers")
    url: str = bind.url.render_as_string(hide_password=False)
    if bind.url.get_backend_name() == "sqlite" and bind.url.database in (None, "", ":memory:"):
        raise BatchError(
            "an in-memory SQLite database cannot be shared with worker processes; use a file "
            "(sqlite:///path) or PostgreSQL, or run with one worker"
        )
    return url


def _local_task(
    *,
    session_factory: sessionmaker[Session],
    router_loader: Callable[[], Router],
    storage_dir: Path,
    limits: ReadLimits,
    ocr_config: OcrConfig | None,
    actor: str,
    received_on: dt.date | None,
    form: str | None,
) -> Callable[[int], FileOutcome]:
    """:func:`process_file` in this process over file ids (what both runners map over).

    The router is loaded once, by the first file that has letters to route: a run whose files
    are all taken by other workers or unreadable never loads a model.
    """
    loaded: list[Router] = []

    def router() -> Router:
        if not loaded:
            loaded.append(router_loader())
        return loaded[0]

    def task(file_id: int) -> FileOutcome:
        return process_file(
            file_id,
            session_factory=session_factory,
            router=router,
            storage_dir=storage_dir,
            limits=limits,
            ocr_config=ocr_config,
            actor=actor,
            received_on=received_on,
            form=form,
        )

    return task


# ---------------------------------------------------------------------------------------------
# one batch's pending files (the web upload's worker, ``xinfang batches resume``)


def triage_batch(
    batch_id: int,
    *,
    session_factory: sessionmaker[Session],
    router_loader: Callable[[], Router],
    storage_dir: Path,
    limits: ReadLimits | None = None,
    ocr_config: OcrConfig | None = None,
    actor: str = BATCH_ACTOR,
    received_on: dt.date | None = None,
    form: str | None = None,
    stale_after: dt.timedelta = DEFAULT_STALE_AFTER,
) -> BatchSummary:
    """Triage the files of one recorded batch that are still ``received``, in this process.

    The files were kept and recorded already (by :func:`record_inputs`, e.g. for a web upload);
    this is phase 2 of :func:`run_batch` for that batch alone, file by file through
    :func:`process_file`. Claims of dead processes in the batch are released first, so after a
    crash or a restart it finishes what was left; files done or failed stay as they are. Two
    runs on the same batch at once share the work: the claim gives each file to one of them.
    The letters get the day of receipt and form the batch recorded unless ``received_on`` and
    ``form`` are given.

    Returns:
        The summary of this run (``processed`` counts only the files this run triaged).

    Raises:
        NotFoundError: no batch ``batch_id``.
    """
    from store.db import session_scope
    from store.files import batch_files, get_batch

    started = time.perf_counter()
    limits = limits or ReadLimits()
    summary = BatchSummary(batch_id=batch_id)
    with session_scope(session_factory) as session:
        get_batch(session, batch_id)
        released = release_dead_claims(session, stale_after=stale_after, batch_id=batch_id)
    if released:
        log.info("batch %s: released %d file(s) claimed by workers that are gone", batch_id, released)
    task = _local_task(
        session_factory=session_factory,
        router_loader=router_loader,
        storage_dir=storage_dir,
        limits=limits,
        ocr_config=ocr_config,
        actor=actor,
        received_on=received_on,
        form=form,
    )
    tried: set[int] = set()
    while True:
        # Asked again after each pass: a claim released meanwhile (a dead sibling) is picked up too.
        with session_scope(session_factory) as session:
            files = batch_files(session, batch_id)
            todo = [f.id for f in files if f.status == "received" and f.id not in tried]
            summary.files = len(files)
            if not tried:
                summary.already_done = sum(f.status == "done" for f in files)
        if not todo:
            break
        for file_id in todo:
            tried.add(file_id)
            summary.add(task(file_id))
    summary.elapsed_s = time.perf_counter() - started
    return summary
