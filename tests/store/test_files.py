"""Source files and batches: idempotent recording, claiming, finishing, and reprocessing."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy.orm import Session

from store.errors import DuplicateError, InvalidStateError, InvalidValueError, NotFoundError
from store.files import (
    batch_files,
    claim_file,
    claim_next_file,
    create_batch,
    get_batch,
    letter_exists_for_hash,
    mark_file_done,
    mark_file_failed,
    record_source_file,
    release_stale_claims,
    sanitise_filename,
    source_file_by_hash,
)
from store.letters import create_letter
from store.models import SourceFile

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def _record(session: Session, data: bytes = b"%PDF-1.7 letter", **kw: object) -> tuple[SourceFile, bool]:
    digest = hashlib.sha256(data).hexdigest()
    fields: dict[str, object] = {
        "sha256": digest,
        "original_name": "来信.pdf",
        "media_type": "application/pdf",
        "size_bytes": len(data),
        "stored_path": f"ab/{digest}.pdf",
        "now": T0,
    } | kw
    return record_source_file(session, **fields)  # type: ignore[arg-type]


# fmt: off
NAMES = [
    ("../../etc/passwd", "passwd"),
    ("C:\\scans\\来信 1.pdf", "来信 1.pdf"),
    ("a\x00b<c>.png", "ab_c_.png"),
    ("  ...  ", "unnamed"),
    ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ("ｆｕｌｌ.pdf", "ｆｕｌｌ.pdf"),
]
# fmt: on


@pytest.mark.parametrize(
    ("name", "expected"), NAMES, ids=["traversal", "windows", "control", "empty", "long", "wide"]
)
def test_sanitise_filename(name: str, expected: str) -> None:
    assert sanitise_filename(name) == expected


def test_recording_the_same_bytes_twice_returns_the_first_record(session: Session) -> None:
    batch = create_batch(session, created_by="intake")
    first, created = _record(session, batch_id=batch.id, original_name="../scan.pdf")
    again, created_again = _record(session, original_name="other.pdf")
    assert created and not created_again
    assert again.id == first.id and again.original_name == "scan.pdf" and again.batch_id == batch.id
    assert get_batch(session, batch.id).file_count == 1
    assert source_file_by_hash(session, first.sha256.upper()) is not None


# fmt: off
BAD_FILES = [
    ({"sha256": "xyz"}, "is not 64 lowercase hex digits"),
    ({"size_bytes": -1}, "size_bytes must not be negative"),
    ({"pages": -2}, "pages must not be negative"),
    ({"media_type": "pdf"}, "media_type 'pdf' is not a media type"),
    ({"stored_path": " "}, "stored_path is empty"),
]
# fmt: on


@pytest.mark.parametrize(("changes", "message"), BAD_FILES, ids=["hash", "size", "pages", "media", "path"])
def test_bad_files_are_refused(session: Session, changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        _record(session, **changes)
    with pytest.raises(NotFoundError, match="batch 42 does not exist"):
        _record(session, batch_id=42)


def test_a_file_goes_through_claim_and_done_and_reprocessing_is_idempotent(session: Session) -> None:
    batch = create_batch(session, created_by="intake")
    source_file, _ = _record(session, batch_id=batch.id)
    assert not letter_exists_for_hash(session, source_file.sha256)
    claimed = claim_file(session, source_file.id, worker="w1", now=T0)
    assert claimed is not None and (claimed.status, claimed.attempts, claimed.claimed_by) == (
        "processing",
        1,
        "w1",
    )
    assert claim_file(session, source_file.id, worker="w2") is None  # already taken
    for part in (0, 1):
        create_letter(
            session,
            title=f"第{part + 1}封",
            text="扫描件",
            created_by="intake",
            source="batch",
            source_file_id=source_file.id,
            source_part=part,
        )
    done = mark_file_done(session, source_file.id, pages=3)
    assert (done.status, done.pages, len(done.letter_ids)) == ("done", 3, 2)
    assert letter_exists_for_hash(session, source_file.sha256)
    totals = get_batch(session, batch.id)
    assert (totals.file_count, totals.done_count, totals.failed_count, totals.letter_count) == (1, 1, 0, 2)
    # a second run over the same file: it is not claimable and its letters cannot be registered again
    assert claim_file(session, source_file.id, worker="w1", include_failed=True) is None
    with pytest.raises(DuplicateError, match="part 0 of source file .* is already registered as XF-"):
        create_letter(
            session,
            title="again",
            text="扫描件",
            created_by="intake",
            source="batch",
            source_file_id=source_file.id,
            source_part=0,
        )


def test_a_failed_file_keeps_its_reason_and_can_be_retried(session: Session) -> None:
    batch = create_batch(session, created_by="intake")
    source_file, _ = _record(session, batch_id=batch.id)
    with pytest.raises(InvalidStateError, match="is 'received', not 'processing'; claim it"):
        mark_file_failed(session, source_file.id, "too early")
    claim_file(session, source_file.id, worker="w1")
    with pytest.raises(InvalidValueError, match="needs a reason"):
        mark_file_failed(session, source_file.id, "  ")
    failed = mark_file_failed(session, source_file.id, "OCR 无结果；联系人 13812345678")
    assert failed.status == "failed" and failed.error == "OCR 无结果；联系人 138****5678"
    assert get_batch(session, batch.id).failed_count == 1
    assert claim_file(session, source_file.id, worker="w1") is None
    retried = claim_file(session, source_file.id, worker="w1", include_failed=True)
    assert retried is not None and (retried.attempts, retried.error) == (2, None)
    assert [f.id for f in batch_files(session, batch.id, status="processing")] == [source_file.id]


def test_claim_next_and_release_stale_claims(session: Session) -> None:
    batch = create_batch(session, created_by="intake")
    first, _ = _record(session, b"one", batch_id=batch.id)
    second, _ = _record(session, b"two", batch_id=batch.id)
    taken = claim_next_file(session, worker="w1", batch_id=batch.id, now=T0)
    assert taken is not None and taken.id == first.id
    taken_too = claim_next_file(session, worker="w2", now=T0 + dt.timedelta(minutes=30))
    assert taken_too is not None and taken_too.id == second.id
    assert claim_next_file(session, worker="w3") is None
    assert (
        release_stale_claims(session, older_than=dt.timedelta(minutes=20), now=T0 + dt.timedelta(minutes=40))
        == 1
    )
    session.expire_all()
    assert [f.status for f in batch_files(session, batch.id)] == ["received", "processing"]


def test_unknown_file(session: Session) -> None:
    with pytest.raises(NotFoundError, match="source file 7 does not exist"):
        claim_file(session, 7, worker="w")
    with pytest.raises(NotFoundError, match="source file 7 does not exist; record it first"):
        create_letter(session, title="t", text="x", created_by="intake", source="batch", source_file_id=7)
