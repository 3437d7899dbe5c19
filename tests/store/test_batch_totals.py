"""A batch's totals stay true through failures and retries: done + failed + pending = files."""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from store.files import (
    claim_file,
    create_batch,
    get_batch,
    mark_file_done,
    mark_file_failed,
    record_source_file,
    release_claims,
)
from store.models import Batch, SourceFile


def _file(session: Session, batch_id: int, data: bytes) -> SourceFile:
    digest = hashlib.sha256(data).hexdigest()
    source_file, _ = record_source_file(
        session,
        sha256=digest,
        original_name="扫描件.png",
        media_type="image/png",
        size_bytes=len(data),
        stored_path=f"{digest[:2]}/{digest}.png",
        batch_id=batch_id,
    )
    return source_file


def _totals(session: Session, batch_id: int) -> tuple[int, int, int, int]:
    """(files, done, failed, pending) as the batch row counts them, checked against the files."""
    session.expire_all()
    batch: Batch = get_batch(session, batch_id)
    statuses = [f.status for f in batch.files]
    pending = sum(s in ("received", "processing") for s in statuses)
    assert (batch.done_count, batch.failed_count) == (statuses.count("done"), statuses.count("failed"))
    assert batch.done_count + batch.failed_count + pending == batch.file_count == len(statuses)
    return batch.file_count, batch.done_count, batch.failed_count, pending


def test_a_failed_file_that_succeeds_on_retry_leaves_the_failed_count(session: Session) -> None:
    batch = create_batch(session, created_by="intake")
    first = _file(session, batch.id, b"first scan")
    second = _file(session, batch.id, b"second scan")
    for f in (first, second):
        claim_file(session, f.id, worker="w1")
        mark_file_failed(session, f.id, "OCR engine missing; install the ocr extra")
    assert _totals(session, batch.id) == (2, 0, 2, 0)

    # the retry of --retry-failed: claimed back to processing, released for the task to claim
    assert claim_file(session, first.id, worker="w1", include_failed=True) is not None
    assert _totals(session, batch.id) == (2, 0, 1, 1)
    release_claims(session, claimed_by=["w1"])
    assert _totals(session, batch.id) == (2, 0, 1, 1)
    assert claim_file(session, first.id, worker="w2") is not None
    mark_file_done(session, first.id)
    assert _totals(session, batch.id) == (2, 1, 1, 0)

    # a retry that fails again is counted once, not twice
    assert claim_file(session, second.id, worker="w2", include_failed=True) is not None
    mark_file_failed(session, second.id, "still unreadable; rescan it")
    assert _totals(session, batch.id) == (2, 1, 1, 0)


def test_a_second_claim_of_a_failed_file_counts_nothing(session: Session) -> None:
    batch = create_batch(session, created_by="intake")
    f = _file(session, batch.id, b"scan")
    claim_file(session, f.id, worker="w1")
    mark_file_failed(session, f.id, "corrupt; resend it")
    assert claim_file(session, f.id, worker="w1", include_failed=True) is not None
    # already processing: neither a received nor a failed file any more, so nothing moves
    assert claim_file(session, f.id, worker="w2", include_failed=True) is None
    assert _totals(session, batch.id) == (1, 0, 0, 1)
