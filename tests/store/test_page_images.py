"""Page images of letters: kept once per content under the storage folder, recorded per letter in page
order, read back only through their row and checked against their hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from store.errors import DuplicateError, InvalidValueError, MissingContentError, NotFoundError
from store.files import (
    NewLetterPage,
    PageImageFile,
    add_letter_pages,
    get_letter_page,
    keep_page_image,
    letter_pages,
    read_page_image,
)
from store.letters import create_letter

JPEG = b"\xff\xd8\xff\xe0 a page image"


def _letter(session: Session) -> int:
    return create_letter(session, title="来信", text="扫描件", created_by="intake").id


def test_the_same_image_is_kept_once_under_its_hash(tmp_path: Path) -> None:
    first = keep_page_image(tmp_path, JPEG, "image/jpeg")
    again = keep_page_image(tmp_path, JPEG, "image/jpeg")
    digest = hashlib.sha256(JPEG).hexdigest()
    assert (
        first == again == PageImageFile(digest, "image/jpeg", len(JPEG), f"pages/{digest[:2]}/{digest}.jpg")
    )
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()] == [
        first.stored_path
    ]
    other = keep_page_image(tmp_path, b"\x89PNG another", "image/png")
    assert (
        other.stored_path.endswith(".png")
        and (tmp_path / other.stored_path).read_bytes() == b"\x89PNG another"
    )


def test_bad_images_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="kept as image/jpeg or image/png, not 'image/gif'"):
        keep_page_image(tmp_path, b"GIF89a", "image/gif")
    with pytest.raises(InvalidValueError, match="the page image is empty"):
        keep_page_image(tmp_path, b"", "image/jpeg")
    assert list(tmp_path.iterdir()) == []


def test_pages_are_recorded_in_letter_order_and_read_back(session: Session, tmp_path: Path) -> None:
    letter_id = _letter(session)
    front = keep_page_image(tmp_path, JPEG, "image/jpeg")
    back = keep_page_image(tmp_path, JPEG + b" back", "image/jpeg")
    add_letter_pages(
        session,
        letter_id,
        [
            NewLetterPage(file_page=3, image=front, width=1131, height=1600),
            NewLetterPage(file_page=4, image=back, width=1131, height=1600, blank=True),
        ],
    )
    pages = letter_pages(session, letter_id)
    assert [(p.position, p.file_page, p.blank, p.sha256) for p in pages] == [
        (1, 3, False, front.sha256),
        (2, 4, True, back.sha256),
    ]
    assert read_page_image(tmp_path, get_letter_page(session, letter_id, 2)) == JPEG + b" back"
    with pytest.raises(NotFoundError, match="the letter has no page 3; it has 2 page image"):
        get_letter_page(session, letter_id, 3)
    with pytest.raises(DuplicateError, match="has page images already"):
        add_letter_pages(session, letter_id, [NewLetterPage(file_page=1, image=front, width=1, height=1)])
    typed = _letter(session)
    assert letter_pages(session, typed) == []
    with pytest.raises(NotFoundError, match="only scanned letters have them"):
        get_letter_page(session, typed, 1)


def test_rows_that_do_not_name_a_kept_image_are_refused(session: Session, tmp_path: Path) -> None:
    letter_id = _letter(session)
    kept = keep_page_image(tmp_path, JPEG, "image/jpeg")
    outside = PageImageFile(kept.sha256, "image/jpeg", 10, "../../etc/passwd")
    with pytest.raises(InvalidValueError, match="is not a page image kept by keep_page_image"):
        add_letter_pages(session, letter_id, [NewLetterPage(file_page=1, image=outside, width=1, height=1)])
    with pytest.raises(InvalidValueError, match="must all be at least 1"):
        add_letter_pages(session, letter_id, [NewLetterPage(file_page=0, image=kept, width=1, height=1)])
    with pytest.raises(NotFoundError, match="letter 999 does not exist"):
        add_letter_pages(session, 999, [NewLetterPage(file_page=1, image=kept, width=1, height=1)])
    assert letter_pages(session, letter_id) == []


def test_a_missing_changed_or_redirected_file_is_reported(session: Session, tmp_path: Path) -> None:
    letter_id = _letter(session)
    kept = keep_page_image(tmp_path, JPEG, "image/jpeg")
    add_letter_pages(session, letter_id, [NewLetterPage(file_page=1, image=kept, width=1, height=1)])
    page = get_letter_page(session, letter_id, 1)
    (tmp_path / kept.stored_path).write_bytes(b"something else")
    with pytest.raises(MissingContentError, match="has changed since it was kept; restore it"):
        read_page_image(tmp_path, page)
    (tmp_path / kept.stored_path).unlink()
    with pytest.raises(MissingContentError, match="is missing from the storage folder"):
        read_page_image(tmp_path, page)
    page.stored_path = "../../etc/passwd"  # a row changed by hand: never followed
    with pytest.raises(MissingContentError, match="is not a kept page image"):
        read_page_image(tmp_path, page)
    session.rollback()
