"""Splitting and merging letters: the officer corrects how pages and text were grouped into letters.

Batch triage groups pages into letters by a fixed rule (one file is one letter unless a separator
page says otherwise), and an officer typing in a letter may find two matters in one envelope, or
the second half of a letter that arrived as its own file. Both operations keep the record whole:

- **split**: a pending letter keeps its case number and the text before the split; the text after
  it becomes a new letter with the next case number, the same day of receipt (its statutory clock
  started when the envelope arrived), the same petitioner particulars and source file, and, when
  asked, the pages from a given position on.
- **merge**: a pending letter takes the other's text (appended) and pages; the other letter is
  kept with status ``merged`` and a pointer to the letter it went into, so its case number still
  resolves and nothing registered disappears. The kept letter's day of receipt is the earlier of
  the two, so no statutory clock is restarted by a merge.

Only pending letters can be regrouped: a decided letter carries a legal decision, which is
corrected by a new decision, not by moving its text. Both operations bump the letters' versions
(optimistic locking, as deciding does), need a reason and are written to the audit log with the
lengths and hashes of the texts before and after. The caller routes the new texts and adds their
proposals in the same transaction (``store.letters.add_proposal``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from store.audit import append_event, lock_audit_head
from store.errors import ConflictError, InvalidStateError, InvalidValueError, NotFoundError
from store.letters import _clean_optional, create_letter, get_letter, named_places
from store.models import Letter, LetterPage
from store.repeats import index_letter

#: What a merge puts between the kept letter's text and the merged one's.
MERGE_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class SplitResult:
    """The letter that was split (now holding the first part) and the new letter (the second part)."""

    first: Letter
    second: Letter
    pages_moved: int


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _require_reason(reason: str | None, what: str) -> str:
    cleaned = _clean_optional("reason", reason)
    if cleaned is None:
        raise InvalidValueError(f"{what} needs a reason (e.g. 两件事项 / 同一来信的后续页); give one")
    return cleaned


def _bump(session: Session, letter_id: int, expected_version: int, values: dict[str, object]) -> None:
    """Update a pending letter at the version the caller saw, or say why not."""
    done = session.execute(
        update(Letter)
        .where(Letter.id == letter_id, Letter.version == expected_version, Letter.status == "pending")
        .values(version=Letter.version + 1, **values)
        .returning(Letter.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if done is not None:
        return
    row = session.execute(select(Letter.status, Letter.version).where(Letter.id == letter_id)).one_or_none()
    if row is None:
        raise NotFoundError(f"letter {letter_id} does not exist; check the id")
    status, version = row
    if status != "pending":
        raise InvalidStateError(
            f"letter {letter_id} is {status!r}; only pending letters can be split or merged "
            "(correct a decided letter with a new decision)"
        )
    raise ConflictError(letter_id, expected_version, version)


def _page_count(session: Session, letter_id: int) -> int:
    return int(
        session.scalar(select(func.count(LetterPage.id)).where(LetterPage.letter_id == letter_id)) or 0
    )


def _next_source_part(session: Session, source_file_id: int) -> int:
    # Past every part the file's triage registered, so a split-off letter can never take the place
    # of a part that reprocessing the file would look for.
    highest = session.scalar(
        select(func.max(Letter.source_part)).where(Letter.source_file_id == source_file_id)
    )
    return 0 if highest is None else int(highest) + 1


def split_texts(text: str, at: int) -> tuple[str, str]:
    """The two texts a split of ``text`` at character ``at`` gives.

    Raises:
        InvalidValueError: ``at`` outside the text, or a part without text.
    """
    if not 0 < at < len(text):
        raise InvalidValueError(f"split position {at} is outside the letter's text (1..{len(text) - 1})")
    first, second = text[:at].rstrip(), text[at:].strip()
    if not first.strip() or not second:
        raise InvalidValueError(
            f"splitting at {at} leaves one part without text; choose a position between the two matters"
        )
    return first, second


def merged_text(kept: str, merged: str) -> str:
    """The kept letter's text after ``merged`` is merged into it."""
    return kept.rstrip() + MERGE_SEPARATOR + merged.strip()


def split_letter(
    session: Session,
    letter_id: int,
    *,
    at: int,
    expected_version: int,
    actor: str,
    reason: str | None,
    pages_from: int | None = None,
    now: dt.datetime | None = None,
) -> SplitResult:
    """Split a pending letter's text at character ``at`` into itself and a new letter.

    Args:
        session: the open session.
        letter_id: the letter to split.
        at: offset into the letter's text where the second letter starts (0 < at < len(text)).
        expected_version: the letter version the officer saw.
        actor: username of the officer.
        reason: why (required).
        pages_from: page position (1-based) from which the pages go to the new letter; None keeps
            every page on the first letter (a letter typed in, or one page holding both matters).
        now: when (aware); defaults to now.

    Returns:
        The :class:`SplitResult`; both letters are flushed, neither has a new proposal yet.

    Raises:
        InvalidValueError: no reason, ``at`` outside the text or leaving one part empty, a page
            position outside 2..pages.
        InvalidStateError: the letter is not pending.
        ConflictError: the letter changed since the officer read it.
        NotFoundError: no such letter.
    """
    reason = _require_reason(reason, "splitting a letter")
    now = now or dt.datetime.now(dt.UTC)
    letter = get_letter(session, letter_id)
    text = letter.text
    first, second = split_texts(text, at)
    n_pages = _page_count(session, letter_id)
    if pages_from is not None and not 2 <= pages_from <= n_pages:
        raise InvalidValueError(
            f"pages_from={pages_from}: the letter has {n_pages} page(s); the new letter can start at "
            f"page 2..{n_pages}"
            if n_pages >= 2
            else f"the letter has {n_pages} page(s): leave pages_from empty"
        )

    lock_audit_head(session)  # lock order: audit head, then the letter row
    county, city = named_places(letter.title, first)
    _bump(session, letter_id, expected_version, {"text": first, "named_county": county, "named_city": city})
    session.expire(letter, ["text", "version", "named_county", "named_city"])
    new = create_letter(
        session,
        title=f"{letter.title}（拆自 {letter.case_number}）"[:500],
        text=second,
        created_by=actor,
        form=letter.form,
        received_on=letter.received_on,
        visitors=letter.visitors,
        petitioner_name=letter.petitioner_name,
        petitioner_organisation=letter.petitioner_organisation,
        address=letter.address,
        contact_phone=letter.contact_phone,
        id_number=letter.id_number,
        source=letter.source,
        source_file_id=letter.source_file_id,
        source_part=_next_source_part(session, letter.source_file_id) if letter.source_file_id else None,
        now=now,
    )
    index_letter(session, letter)  # its text is now the first part only
    moved = 0
    if pages_from is not None:
        moved = session.execute(
            update(LetterPage)
            .where(LetterPage.letter_id == letter_id, LetterPage.position >= pages_from)
            .values(letter_id=new.id, position=LetterPage.position - (pages_from - 1))
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    append_event(
        session,
        actor=actor,
        action="split_letter",
        object=f"letter:{letter.case_number}",
        details={
            "letter_id": letter_id,
            "new_letter_id": new.id,
            "new_case_number": new.case_number,
            "at": at,
            "pages_moved": moved,
            "text_before": {"chars": len(text), "sha256": _digest(text)},
            "first": {"chars": len(first), "sha256": _digest(first)},
            "second": {"chars": len(second), "sha256": _digest(second)},
            "reason": reason,
        },
        at=now,
    )
    session.flush()
    return SplitResult(first=letter, second=new, pages_moved=int(moved))


def merge_letters(
    session: Session,
    keep_id: int,
    merged_id: int,
    *,
    keep_version: int,
    merged_version: int,
    actor: str,
    reason: str | None,
    now: dt.datetime | None = None,
) -> Letter:
    """Merge pending letter ``merged_id`` into pending letter ``keep_id``.

    The kept letter's text gets the other's appended after :data:`MERGE_SEPARATOR`, its pages
    follow the kept letter's, and its day of receipt becomes the earlier of the two. The merged
    letter keeps its text and case number, with status ``merged`` and ``merged_into_id``.

    Raises:
        InvalidValueError: no reason, or a letter merged with itself.
        InvalidStateError: a letter is not pending.
        ConflictError: a letter changed since the officer read it.
        NotFoundError: no such letter.
    """
    reason = _require_reason(reason, "merging letters")
    if keep_id == merged_id:
        raise InvalidValueError("a letter cannot be merged with itself; choose the other letter")
    now = now or dt.datetime.now(dt.UTC)
    keep = get_letter(session, keep_id)
    merged = get_letter(session, merged_id)
    combined = merged_text(keep.text, merged.text)
    received_on = min(keep.received_on, merged.received_on)

    lock_audit_head(session)
    # Lock in id order, so two officers merging the same pair in opposite directions cannot deadlock.
    for letter_id in sorted((keep_id, merged_id)):
        if letter_id == keep_id:
            county, city = named_places(keep.title, combined)
            _bump(
                session,
                keep_id,
                keep_version,
                {"text": combined, "received_on": received_on, "named_county": county, "named_city": city},
            )
        else:
            _bump(session, merged_id, merged_version, {"status": "merged", "merged_into_id": keep_id})
    offset = int(
        session.scalar(
            select(func.coalesce(func.max(LetterPage.position), 0)).where(LetterPage.letter_id == keep_id)
        )
        or 0
    )
    moved = session.execute(
        update(LetterPage)
        .where(LetterPage.letter_id == merged_id)
        .values(letter_id=keep_id, position=LetterPage.position + offset)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.expire(keep, ["text", "version", "received_on", "named_county", "named_city"])
    session.expire(merged, ["status", "version", "merged_into_id"])
    index_letter(session, keep)  # the kept letter now reads as both
    index_letter(session, merged)  # and the merged one is found through it alone
    append_event(
        session,
        actor=actor,
        action="merge_letters",
        object=f"letter:{keep.case_number}",
        details={
            "letter_id": keep_id,
            "merged_letter_id": merged_id,
            "merged_case_number": merged.case_number,
            "pages_moved": int(moved),
            "received_on": received_on.isoformat(),
            "text_after": {"chars": len(combined), "sha256": _digest(combined)},
            "reason": reason,
        },
        at=now,
    )
    session.flush()
    return keep
