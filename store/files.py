"""Source files and batches for the triage of scanned letters, made idempotent by constraints.

A file is identified by its sha256 (unique): recording the same bytes twice returns the first
record. A worker ``claim_file``s a file (``received`` -> ``processing``) with a conditional UPDATE,
so two workers never process the same file; it ends with ``mark_file_done`` or
``mark_file_failed``. Letters registered from a file carry ``(source_file_id, source_part)``, which
is unique, so reprocessing a file cannot register its letters twice.

State machine::

    received --claim--> processing --done--> done
                            |   \\--fail--> failed --claim(include_failed)--> processing
                            \\--release_stale_claims--> received

Page images of scanned letters (``LetterPage``) are kept next to the source files, under
``storage_dir/pages/ab/abcdef….jpg`` by the sha256 of the image bytes (:func:`keep_page_image`),
and recorded per letter in page order (:func:`add_letter_pages`). The bytes are written *before*
the transaction that records them commits; because the name is the content's hash, a process
killed in between leaves at most an orphan file that the next run writes again under the same
name, never a row naming a file that is missing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from store._sql import insert_ignore
from store.audit import append_event, lock_audit_head
from store.errors import InvalidStateError, InvalidValueError, MissingContentError, NotFoundError
from store.letters import CHINA_TZ, EARLIEST_RECEIVED_ON, received_on_too_early
from store.models import FORMS, Batch, Letter, LetterPage, SourceFile

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_ERROR_CHARS = 2000
# Names Windows reserves for devices, with or without an extension.
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_FORBIDDEN_CHARS = re.compile(r'[<>:"/\\|?*]')
MAX_NAME_BYTES = 200


def sanitise_filename(name: str, *, default: str = "unnamed", max_bytes: int = MAX_NAME_BYTES) -> str:
    """Make a file name safe to show to an officer and to use as a file name on disk.

    The one implementation for the whole service (``intake.readers.safe_name`` calls it). Keeps
    Chinese characters; drops any directory part (``/`` or ``\\``), control, format and
    bidirectional-override characters (which can make ``invoice<U+202E>fdp.exe`` display as
    ``invoiceexe.pdf``), characters Windows forbids (replaced by ``_``), leading and trailing dots
    and spaces (hidden files) and Windows device names (prefixed with ``_``); normalises to NFC;
    caps the length at ``max_bytes`` UTF-8 bytes, keeping an extension of up to 10 characters.

    ``"../../etc/passwd"`` -> ``"passwd"``; ``"C:\\scans\\来信 1.pdf"`` -> ``"来信 1.pdf"``.

    Args:
        name: the name as received (from an upload form, a path, or an archive member).
        default: returned when nothing printable is left.
        max_bytes: the longest result in UTF-8 bytes (200 fits every file system and the
            255-character ``original_name`` column).
    """
    if max_bytes < 16:
        raise InvalidValueError(f"max_bytes must be at least 16 for a name and extension, not {max_bytes}")
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        " " if unicodedata.category(c) in ("Zs", "Zl", "Zp") or c in "\t\n\r" else c
        for c in name
        if unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cn", "Cs")
    )
    name = _FORBIDDEN_CHARS.sub("_", name)
    name = re.sub(r" +", " ", name).strip(" .")
    if not name:
        return default
    if _WINDOWS_RESERVED.match(name):
        name = "_" + name
    if len(name.encode("utf-8")) > max_bytes:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and 0 < len(ext) <= 10 else ""
        budget = max_bytes - len(ext.encode("utf-8")) - (1 if ext else 0)
        base = stem if ext else name
        while len(base.encode("utf-8")) > budget:
            base = base[:-1]
        name = f"{base}.{ext}" if ext else base
    return name


def create_batch(
    session: Session,
    *,
    created_by: str,
    received_on: dt.date | None = None,
    form: str = "letter",
    now: dt.datetime | None = None,
) -> Batch:
    """Start a batch of files for triage.

    Args:
        session: the open session.
        created_by: the username or batch actor starting the batch.
        received_on: the day the batch's letters arrived (starts their statutory clocks); ``None``
            leaves it to the day each file is triaged.
        form: the letters' form (``store.models.FORMS``), ``letter`` for scanned mail.
        now: the creation time (aware); defaults to now.

    Raises:
        InvalidValueError: ``created_by`` is empty, ``form`` is not a form, or ``received_on`` is
            after today in China or before ``store.letters.EARLIEST_RECEIVED_ON``.
    """
    if not created_by.strip():
        raise InvalidValueError("created_by is empty; pass the username or batch actor starting the batch")
    if form not in FORMS:
        raise InvalidValueError(f"form {form!r} is not allowed; allowed: {', '.join(FORMS)}")
    now = now or dt.datetime.now(dt.UTC)
    today = now.astimezone(CHINA_TZ).date()
    if received_on is not None and received_on > today:
        raise InvalidValueError(
            f"received_on {received_on} is in the future (today is {today}); check the date"
        )
    if received_on is not None and received_on < EARLIEST_RECEIVED_ON:
        raise InvalidValueError(received_on_too_early(received_on))
    batch = Batch(
        created_by=created_by,
        created_at=now,
        received_on=received_on,
        form=form,
        file_count=0,
        done_count=0,
        failed_count=0,
        letter_count=0,
    )
    lock_audit_head(session)
    session.add(batch)
    session.flush()
    append_event(session, actor=created_by, action="batch_created", object=f"batch:{batch.id}", at=now)
    return batch


def get_batch(session: Session, batch_id: int) -> Batch:
    """The batch with id ``batch_id``; raises ``NotFoundError``."""
    batch = session.get(Batch, batch_id)
    if batch is None:
        raise NotFoundError(f"batch {batch_id} does not exist; start one with create_batch")
    return batch


def record_source_file(
    session: Session,
    *,
    sha256: str,
    original_name: str,
    media_type: str,
    size_bytes: int,
    stored_path: str,
    batch_id: int | None = None,
    pages: int | None = None,
    recorded_by: str = "intake",
    now: dt.datetime | None = None,
) -> tuple[SourceFile, bool]:
    """Record a received file once per content hash.

    Safe against races: two workers recording the same bytes both get the one row.

    Args:
        session: the open session.
        sha256: lowercase hex digest of the file's bytes.
        original_name: the name it arrived with; stored sanitised (``sanitise_filename``).
        media_type: e.g. ``application/pdf``, ``image/png``.
        size_bytes: the file's size.
        stored_path: where the bytes are kept (relative to the storage folder).
        batch_id: the batch it arrived in.
        pages: number of pages, when known.
        recorded_by: actor for the audit log.
        now: time received (aware); defaults to now.

    Returns:
        ``(source_file, created)``; ``created`` is False when the same content was recorded before
        (the existing row is returned unchanged, whatever its batch and status).

    Raises:
        InvalidValueError: malformed hash, negative size or pages, empty media type or path.
        NotFoundError: ``batch_id`` names no batch.
    """
    sha256 = sha256.strip().lower()
    if not SHA256_RE.match(sha256):
        raise InvalidValueError(
            f"sha256 {sha256!r} is not 64 lowercase hex digits; pass hashlib.sha256(data).hexdigest()"
        )
    if size_bytes < 0:
        raise InvalidValueError(f"size_bytes must not be negative, got {size_bytes}")
    if pages is not None and pages < 0:
        raise InvalidValueError(f"pages must not be negative, got {pages}")
    if not media_type.strip() or "/" not in media_type:
        raise InvalidValueError(f"media_type {media_type!r} is not a media type like application/pdf")
    if not stored_path.strip():
        raise InvalidValueError("stored_path is empty; store the bytes first and pass where they are")
    if batch_id is not None:
        get_batch(session, batch_id)
    now = now or dt.datetime.now(dt.UTC)
    lock_audit_head(session)  # lock order: audit head, then the file row
    inserted = session.execute(
        insert_ignore(
            session,
            SourceFile,
            {
                "sha256": sha256,
                "original_name": sanitise_filename(original_name),
                "media_type": media_type.strip().lower(),
                "size_bytes": size_bytes,
                "stored_path": stored_path,
                "pages": pages,
                "status": "received",
                "attempts": 0,
                "batch_id": batch_id,
                "created_at": now,
                "updated_at": now,
            },
            ["sha256"],
        ).returning(SourceFile.id)
    ).scalar_one_or_none()
    source_file = session.scalars(
        select(SourceFile).where(SourceFile.sha256 == sha256).execution_options(populate_existing=True)
    ).one()
    created = inserted is not None
    if created:
        if batch_id is not None:
            session.execute(update(Batch).where(Batch.id == batch_id).values(file_count=Batch.file_count + 1))
        append_event(
            session,
            actor=recorded_by,
            action="file_received",
            object=f"file:{source_file.id}",
            details={
                "sha256": sha256,
                "media_type": source_file.media_type,
                "size_bytes": size_bytes,
                "batch_id": batch_id,
            },
            at=now,
        )
    return source_file, created


def get_source_file(session: Session, file_id: int) -> SourceFile:
    """The source file with id ``file_id``; raises ``NotFoundError``."""
    source_file = session.get(SourceFile, file_id)
    if source_file is None:
        raise NotFoundError(f"source file {file_id} does not exist")
    return source_file


def source_file_by_hash(session: Session, sha256: str) -> SourceFile | None:
    """The source file with this content hash, or None."""
    return session.scalar(select(SourceFile).where(SourceFile.sha256 == sha256.strip().lower()))


def letter_exists_for_hash(session: Session, sha256: str) -> bool:
    """Whether any letter has been registered from the file with this content hash."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    Letter.source_file_id == SourceFile.id, SourceFile.sha256 == sha256.strip().lower()
                )
            )
        )
    )


def claim_file(
    session: Session,
    file_id: int,
    *,
    worker: str,
    include_failed: bool = False,
    now: dt.datetime | None = None,
) -> SourceFile | None:
    """Take a file for processing: ``received`` (or ``failed`` with ``include_failed``) -> ``processing``.

    A failed file taken again is no longer counted in its batch's ``failed_count`` (it is pending
    until it ends done or failed once more), so a batch's totals always add up.

    Returns:
        The claimed file, or None when it is not claimable (another worker has it, or it is done).
        Commit promptly so other workers see the claim.

    Raises:
        NotFoundError: no such file.
    """
    now = now or dt.datetime.now(dt.UTC)
    claimed_from = "received"
    claimed = _claim_from(session, file_id, "received", worker, now)
    if claimed is None and include_failed:
        claimed_from = "failed"
        claimed = _claim_from(session, file_id, "failed", worker, now)
    if claimed is None:
        get_source_file(session, file_id)  # raises NotFoundError for a wrong id
        return None
    source_file = session.scalars(
        select(SourceFile).where(SourceFile.id == file_id).execution_options(populate_existing=True)
    ).one()
    if claimed_from == "failed" and source_file.batch_id is not None:
        # The file is pending again: it leaves the failed total, so done + failed + pending = files.
        # Only the one UPDATE that moved it out of 'failed' gets here, so it is counted down once.
        session.execute(
            update(Batch).where(Batch.id == source_file.batch_id).values(failed_count=Batch.failed_count - 1)
        )
    return source_file


def _claim_from(session: Session, file_id: int, status: str, worker: str, now: dt.datetime) -> int | None:
    return session.execute(
        update(SourceFile)
        .where(SourceFile.id == file_id, SourceFile.status == status)
        .values(
            status="processing",
            claimed_by=worker,
            claimed_at=now,
            attempts=SourceFile.attempts + 1,
            error=None,
            updated_at=now,
        )
        .returning(SourceFile.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()


def claim_next_file(
    session: Session, *, worker: str, batch_id: int | None = None, now: dt.datetime | None = None
) -> SourceFile | None:
    """Claim the oldest ``received`` file (of one batch, if given), or return None when there is none.

    On PostgreSQL concurrent workers skip each other's candidates (``FOR UPDATE SKIP LOCKED``);
    SQLite serialises writers anyway.
    """
    stmt = select(SourceFile.id).where(SourceFile.status == "received").order_by(SourceFile.id).limit(1)
    if batch_id is not None:
        stmt = stmt.where(SourceFile.batch_id == batch_id)
    file_id = session.scalar(stmt.with_for_update(skip_locked=True))
    if file_id is None:
        return None
    return claim_file(session, file_id, worker=worker, now=now)


def _finish(session: Session, file_id: int, values: dict[str, object]) -> SourceFile:
    source_file = get_source_file(session, file_id)
    done = session.execute(
        update(SourceFile)
        .where(SourceFile.id == file_id, SourceFile.status == "processing")
        .values(**values)
        .returning(SourceFile.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if done is None:
        raise InvalidStateError(
            f"source file {file_id} is {source_file.status!r}, not 'processing'; claim it (claim_file) "
            "before marking it done or failed"
        )
    session.refresh(source_file)
    return source_file


def mark_file_done(
    session: Session, file_id: int, *, pages: int | None = None, now: dt.datetime | None = None
) -> SourceFile:
    """Finish a claimed file successfully; its letters are those registered with its ``source_file_id``.

    Raises:
        InvalidStateError: the file is not ``processing``.
        NotFoundError: no such file.
    """
    now = now or dt.datetime.now(dt.UTC)
    if pages is not None and pages < 0:
        raise InvalidValueError(f"pages must not be negative, got {pages}")
    values: dict[str, object] = {"status": "done", "error": None, "updated_at": now}
    if pages is not None:
        values["pages"] = pages
    source_file = _finish(session, file_id, values)
    if source_file.batch_id is not None:
        n_letters = len(source_file.letter_ids)
        session.execute(
            update(Batch)
            .where(Batch.id == source_file.batch_id)
            .values(done_count=Batch.done_count + 1, letter_count=Batch.letter_count + n_letters)
        )
    return source_file


def mark_file_failed(
    session: Session, file_id: int, reason: str, *, actor: str = "intake", now: dt.datetime | None = None
) -> SourceFile:
    """Finish a claimed file as failed, keeping why (at most 2,000 characters, personal numbers masked).

    Raises:
        InvalidValueError: empty reason.
        InvalidStateError: the file is not ``processing``.
        NotFoundError: no such file.
    """
    from store.masking import mask_text

    reason = (mask_text(reason.strip()) or "")[:MAX_ERROR_CHARS]
    if not reason:
        raise InvalidValueError("a failed file needs a reason (what went wrong and what to do)")
    now = now or dt.datetime.now(dt.UTC)
    lock_audit_head(session)
    source_file = _finish(session, file_id, {"status": "failed", "error": reason, "updated_at": now})
    if source_file.batch_id is not None:
        session.execute(
            update(Batch).where(Batch.id == source_file.batch_id).values(failed_count=Batch.failed_count + 1)
        )
    append_event(
        session,
        actor=actor,
        action="file_failed",
        object=f"file:{file_id}",
        details={"reason": reason[:200]},
        at=now,
    )
    return source_file


def release_stale_claims(
    session: Session, *, older_than: dt.timedelta, now: dt.datetime | None = None
) -> int:
    """Return files stuck in ``processing`` longer than ``older_than`` (a crashed worker) to ``received``.

    Returns:
        How many files were released.
    """
    now = now or dt.datetime.now(dt.UTC)
    result = session.execute(
        update(SourceFile)
        .where(SourceFile.status == "processing", SourceFile.claimed_at < now - older_than)
        .values(status="received", claimed_by=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def batch_files(session: Session, batch_id: int, *, status: str | None = None) -> list[SourceFile]:
    """The files of a batch in arrival order, optionally only those in one status."""
    stmt = select(SourceFile).where(SourceFile.batch_id == batch_id).order_by(SourceFile.id)
    if status is not None:
        stmt = stmt.where(SourceFile.status == status)
    return list(session.scalars(stmt))


def release_claims(session: Session, *, claimed_by: Collection[str], now: dt.datetime | None = None) -> int:
    """Return the ``processing`` files claimed by these workers to ``received``.

    For workers known to be dead (a batch process killed on this host): their files need not wait
    for ``release_stale_claims``'s age limit. Only files still claimed by one of ``claimed_by``
    change, so a file another worker has claimed since is left alone.

    Returns:
        How many files were released.
    """
    owners = [c for c in claimed_by if c]
    if not owners:
        return 0
    now = now or dt.datetime.now(dt.UTC)
    result = session.execute(
        update(SourceFile)
        .where(SourceFile.status == "processing", SourceFile.claimed_by.in_(owners))
        .values(status="received", claimed_by=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# page images

PAGE_IMAGE_TYPES: dict[str, str] = {"image/jpeg": ".jpg", "image/png": ".png"}
# What a stored page path may look like: nothing a request (or a tampered row) could point elsewhere.
_PAGE_PATH_RE = re.compile(r"^pages/[0-9a-f]{2}/([0-9a-f]{64})\.(jpg|png)$")


@dataclass(frozen=True)
class PageImageFile:
    """A page image kept under the storage folder: its hash, type, size and relative path."""

    sha256: str
    media_type: str
    size_bytes: int
    stored_path: str


@dataclass(frozen=True)
class NewLetterPage:
    """One page of a letter to record: its page number in the source file and its kept image."""

    file_page: int
    image: PageImageFile
    width: int
    height: int
    blank: bool = False


def keep_page_image(storage_dir: Path, data: bytes, media_type: str) -> PageImageFile:
    """Write a page image under ``storage_dir/pages/`` by its sha256, atomically and once per content.

    Call it before the transaction that records the page (:func:`add_letter_pages`): a process
    killed after the write and before the commit leaves an orphan file, which is harmless (the
    same content gets the same name next time), and a committed row always names a complete file.

    Raises:
        InvalidValueError: an empty image or a media type other than JPEG or PNG.
    """
    extension = PAGE_IMAGE_TYPES.get(media_type)
    if extension is None:
        raise InvalidValueError(
            f"page images are kept as {' or '.join(PAGE_IMAGE_TYPES)}, not {media_type!r}; "
            "encode the page as one of those first"
        )
    if not data:
        raise InvalidValueError("the page image is empty; encode the page before keeping it")
    sha = hashlib.sha256(data).hexdigest()
    relative = f"pages/{sha[:2]}/{sha}{extension}"
    target = Path(storage_dir) / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp_name, target)  # two writers of the same bytes: either rename wins
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise
    return PageImageFile(sha256=sha, media_type=media_type, size_bytes=len(data), stored_path=relative)


def add_letter_pages(session: Session, letter_id: int, pages: Sequence[NewLetterPage]) -> list[LetterPage]:
    """Record the page images of a letter, numbered 1, 2, … in the order given.

    Runs in the caller's transaction (batch triage registers the letter, its proposal and its
    pages in one commit). The images must have been kept with :func:`keep_page_image` already.

    Raises:
        NotFoundError: no letter with id ``letter_id``.
        InvalidValueError: a page number or size below 1, or an image not kept by ``keep_page_image``.
        DuplicateError: the letter has page images already.
    """
    from store.errors import DuplicateError

    if session.get(Letter, letter_id) is None:
        raise NotFoundError(f"letter {letter_id} does not exist; register it before its pages")
    if session.scalar(select(exists().where(LetterPage.letter_id == letter_id))):
        raise DuplicateError(f"letter {letter_id} has page images already; they are recorded once")
    rows: list[LetterPage] = []
    for position, page in enumerate(pages, 1):
        if page.file_page < 1 or page.width < 1 or page.height < 1:
            raise InvalidValueError(
                f"page {position}: file page {page.file_page} and size {page.width}x{page.height} "
                "must all be at least 1"
            )
        match = _PAGE_PATH_RE.match(page.image.stored_path)
        if match is None or match[1] != page.image.sha256 or page.image.media_type not in PAGE_IMAGE_TYPES:
            raise InvalidValueError(
                f"page {position}: {page.image.stored_path!r} is not a page image kept by keep_page_image"
            )
        row = LetterPage(
            letter_id=letter_id,
            position=position,
            file_page=page.file_page,
            sha256=page.image.sha256,
            media_type=page.image.media_type,
            width=page.width,
            height=page.height,
            size_bytes=page.image.size_bytes,
            stored_path=page.image.stored_path,
            blank=page.blank,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def letter_pages(session: Session, letter_id: int) -> list[LetterPage]:
    """The page images of a letter in page order (empty for letters typed in or sent as text)."""
    stmt = select(LetterPage).where(LetterPage.letter_id == letter_id).order_by(LetterPage.position)
    return list(session.scalars(stmt))


def get_letter_page(session: Session, letter_id: int, position: int) -> LetterPage:
    """Page ``position`` (from 1) of a letter.

    Raises:
        NotFoundError: the letter has no such page.
    """
    page = session.scalar(
        select(LetterPage).where(LetterPage.letter_id == letter_id, LetterPage.position == position)
    )
    if page is None:
        count = len(letter_pages(session, letter_id))
        raise NotFoundError(
            f"the letter has no page {position}; it has {count} page image(s)"
            + ("" if count else " (only scanned letters have them)")
        )
    return page


def read_page_image(storage_dir: Path, page: LetterPage) -> bytes:
    """The bytes of a recorded page image, checked against its hash.

    The path comes from the row, never from a request, and must have the form
    :func:`keep_page_image` writes, so nothing outside ``storage_dir/pages`` is ever read.

    Raises:
        MissingContentError: the file is missing, or its bytes no longer match the recorded hash.
    """
    match = _PAGE_PATH_RE.match(page.stored_path)
    if match is None or match[1] != page.sha256:
        raise MissingContentError(
            f"page image {page.id} names {page.stored_path!r}, which is not a kept page image; "
            "the row was changed by hand: restore it from the backup"
        )
    path = Path(storage_dir) / page.stored_path
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise MissingContentError(
            f"page image {page.id} ({page.sha256[:12]}…) is missing from the storage folder "
            f"{storage_dir}; restore the folder from the backup taken with the database"
        ) from exc
    if hashlib.sha256(data).hexdigest() != page.sha256:
        raise MissingContentError(
            f"page image {page.id} ({page.sha256[:12]}…) in {storage_dir} has changed since it was "
            "kept; restore it from the backup"
        )
    return data
