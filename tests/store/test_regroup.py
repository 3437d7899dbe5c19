"""Splitting and merging letters: texts, pages, case numbers, clocks, versions and the audit log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from store_factories import make_proposal, make_user

from store.audit import verify_chain
from store.errors import ConflictError, InvalidStateError, InvalidValueError
from store.files import NewLetterPage, add_letter_pages, keep_page_image, letter_pages
from store.letters import add_proposal, create_letter, decide, get_letter, list_queue
from store.models import AuditEvent, Letter
from store.regroup import MERGE_SEPARATOR, merge_letters, split_letter

FIRST = "我小区物业长期不维修电梯，请住建部门督促整改。"
SECOND = "另外，村里的扶贫资金被截留，请纪委调查。"


def _letter(session: Session, text: str, *, received_on: dt.date | None = None, **kw: object) -> Letter:
    return create_letter(
        session,
        title="来信",
        text=text,
        created_by="intake",
        received_on=received_on,
        **kw,  # type: ignore[arg-type]
    )


def _with_pages(session: Session, storage: Path, letter_id: int, n: int) -> None:
    pages = [
        NewLetterPage(
            file_page=i,
            image=keep_page_image(storage, f"page {letter_id}-{i}".encode(), "image/png"),
            width=100,
            height=140,
        )
        for i in range(1, n + 1)
    ]
    add_letter_pages(session, letter_id, pages)


def _accept(session: Session, letter: Letter) -> None:
    """Confirm the letter's proposal as it stands, as the officer ``officer``."""
    decide(
        session,
        letter.id,
        expected_version=letter.version,
        decided_by="officer",
        category="appeal",
        domain="城乡建设",
        department="housing",
        channel="ordinary",
        disposition="accept",
    )


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_split_keeps_the_case_number_and_gives_the_second_matter_its_own(
    session: Session, tmp_path: Path
) -> None:
    received = dt.date(2026, 11, 20)
    letter = _letter(
        session,
        FIRST + "\n\n" + SECOND,
        received_on=received,
        petitioner_name="张三",
        contact_phone="13800138000",
    )
    _with_pages(session, tmp_path, letter.id, 3)
    session.flush()
    version = letter.version

    result = split_letter(
        session,
        letter.id,
        at=len(FIRST) + 2,
        expected_version=version,
        actor="officer",
        reason="两件事项",
        pages_from=3,
    )

    assert result.first.id == letter.id and result.first.text == FIRST
    assert result.first.version == version + 1
    second = result.second
    assert second.text == SECOND and second.case_number != letter.case_number
    # one envelope, one day of receipt: the second matter's clock started when the letter arrived
    assert second.received_on == received
    assert (second.petitioner_name, second.contact_phone) == ("张三", "13800138000")
    assert letter.case_number in second.title
    assert result.pages_moved == 1
    assert [p.file_page for p in letter_pages(session, letter.id)] == [1, 2]
    assert [(p.position, p.file_page) for p in letter_pages(session, second.id)] == [(1, 3)]
    [event] = _events(session, "split_letter")
    assert event.details["new_case_number"] == second.case_number and event.details["reason"] == "两件事项"
    assert event.details["text_before"]["chars"] == len(FIRST) + 2 + len(SECOND)
    assert not verify_chain(session)


def test_a_split_off_letter_takes_a_part_number_no_triage_run_will_reuse(session: Session) -> None:
    from store.files import record_source_file

    source, _ = record_source_file(
        session,
        sha256="ab" * 32,
        original_name="scan.pdf",
        media_type="application/pdf",
        size_bytes=10,
        stored_path="ab/abab.pdf",
    )
    letter = _letter(session, FIRST + SECOND, source="batch", source_file_id=source.id, source_part=0)
    _letter(session, "第二封", source="batch", source_file_id=source.id, source_part=1)
    result = split_letter(
        session, letter.id, at=len(FIRST), expected_version=letter.version, actor="officer", reason="两件事项"
    )
    assert (result.second.source_file_id, result.second.source_part) == (source.id, 2)


@pytest.mark.parametrize(
    ("at", "pages_from", "message"),
    [
        (0, None, "outside"),
        (len(FIRST) + 2 + len(SECOND), None, "outside"),
        (len(FIRST), 1, "page 2"),
        (len(FIRST), 3, "page 2"),
    ],
)
def test_a_split_outside_the_text_or_the_pages_is_refused(
    session: Session, tmp_path: Path, at: int, pages_from: int | None, message: str
) -> None:
    letter = _letter(session, FIRST + "\n\n" + SECOND)
    _with_pages(session, tmp_path, letter.id, 2)
    with pytest.raises(InvalidValueError, match=message):
        split_letter(
            session,
            letter.id,
            at=at,
            expected_version=letter.version,
            actor="o",
            reason="r",
            pages_from=pages_from,
        )


def test_a_split_that_leaves_a_part_without_text_is_refused(session: Session) -> None:
    letter = _letter(session, FIRST + "\n\n   ")
    with pytest.raises(InvalidValueError, match="without text"):
        split_letter(
            session, letter.id, at=len(FIRST) + 1, expected_version=letter.version, actor="o", reason="r"
        )


def test_split_and_merge_need_a_reason(session: Session) -> None:
    a, b = _letter(session, FIRST + SECOND), _letter(session, SECOND)
    with pytest.raises(InvalidValueError, match="reason"):
        split_letter(session, a.id, at=len(FIRST), expected_version=a.version, actor="o", reason="  ")
    with pytest.raises(InvalidValueError, match="reason"):
        merge_letters(
            session, a.id, b.id, keep_version=a.version, merged_version=b.version, actor="o", reason=None
        )


def test_a_stale_version_is_a_conflict_and_changes_nothing(session: Session) -> None:
    letter = _letter(session, FIRST + SECOND)
    add_proposal(session, letter.id, make_proposal())  # someone re-routed it: version moved on
    with pytest.raises(ConflictError):
        split_letter(session, letter.id, at=len(FIRST), expected_version=1, actor="o", reason="r")
    session.rollback()


def test_decided_letters_are_corrected_by_decision_not_regrouped(session: Session) -> None:
    make_user(session, "officer")
    letter = _letter(session, FIRST + SECOND)
    other = _letter(session, SECOND)
    add_proposal(session, letter.id, make_proposal())
    session.refresh(letter)
    _accept(session, letter)
    session.refresh(letter)
    with pytest.raises(InvalidStateError, match="only pending"):
        split_letter(
            session, letter.id, at=len(FIRST), expected_version=letter.version, actor="o", reason="r"
        )
    with pytest.raises(InvalidStateError, match="only pending"):
        merge_letters(
            session,
            other.id,
            letter.id,
            keep_version=other.version,
            merged_version=letter.version,
            actor="o",
            reason="r",
        )


def test_merge_appends_text_and_pages_and_keeps_the_earlier_clock(session: Session, tmp_path: Path) -> None:
    keep = _letter(session, FIRST, received_on=dt.date(2026, 11, 25))
    follow_up = _letter(session, SECOND, received_on=dt.date(2026, 11, 20))
    _with_pages(session, tmp_path, keep.id, 2)
    _with_pages(session, tmp_path, follow_up.id, 2)
    add_proposal(session, follow_up.id, make_proposal(due=dt.date(2026, 12, 5)))
    session.flush()
    session.refresh(follow_up)

    kept = merge_letters(
        session,
        keep.id,
        follow_up.id,
        keep_version=keep.version,
        merged_version=follow_up.version,
        actor="officer",
        reason="同一来信的后续页",
    )

    assert kept.text == FIRST + MERGE_SEPARATOR + SECOND
    assert kept.received_on == dt.date(2026, 11, 20)
    assert [(p.position, p.file_page) for p in letter_pages(session, keep.id)] == [
        (1, 1),
        (2, 2),
        (3, 1),
        (4, 2),
    ]
    merged = get_letter(session, follow_up.id)
    session.refresh(merged)
    # the merged letter stays on record (its case number still resolves) but leaves the queue
    assert (merged.status, merged.merged_into_id, merged.text) == ("merged", keep.id, SECOND)
    assert letter_pages(session, follow_up.id) == []
    assert [i.letter_id for i in list_queue(session).items] == [keep.id]
    [event] = _events(session, "merge_letters")
    assert event.details["merged_case_number"] == merged.case_number and event.details["pages_moved"] == 2
    assert not verify_chain(session)


def test_a_merged_letter_cannot_be_merged_again_nor_with_itself(session: Session) -> None:
    a, b, c = _letter(session, FIRST), _letter(session, SECOND), _letter(session, "第三封")
    with pytest.raises(InvalidValueError, match="itself"):
        merge_letters(
            session, a.id, a.id, keep_version=a.version, merged_version=a.version, actor="o", reason="r"
        )
    merge_letters(
        session, a.id, b.id, keep_version=a.version, merged_version=b.version, actor="o", reason="r"
    )
    session.refresh(b)
    with pytest.raises(InvalidStateError, match="'merged'"):
        merge_letters(
            session, c.id, b.id, keep_version=c.version, merged_version=b.version, actor="o", reason="r"
        )


def test_a_merged_letter_is_decided_through_the_letter_it_went_into(session: Session) -> None:
    make_user(session, "officer")
    keep, merged = _letter(session, FIRST), _letter(session, SECOND)
    add_proposal(session, merged.id, make_proposal())
    session.refresh(merged)
    merge_letters(
        session,
        keep.id,
        merged.id,
        keep_version=keep.version,
        merged_version=merged.version,
        actor="o",
        reason="r",
    )
    session.refresh(merged)
    with pytest.raises(InvalidStateError, match=f"本件已并入 {keep.case_number}"):
        _accept(session, merged)
