"""Batch triage keeps every page image of a scanned letter, by content, beside its OCR text; and a
batch's totals stay true when a failed file succeeds on a retry. SQLite, and PostgreSQL too when
``DATABASE_URL`` is set (the OCR test runs on SQLite only: the store work is the same)."""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import TINY_LETTERS, save_tiny_model
from intake_factories import png_bytes
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from test_batch import fresh_database

from intake.batch import RouterLoader, run_batch
from intake.readers import encode_page_image
from store.db import make_engine, make_session_factory
from store.files import read_page_image
from store.models import Batch, Letter, LetterPage

# Tests are outside the service, so reading the environment here does not bypass service/settings.py.
PG_URL = os.environ.get("DATABASE_URL", "")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model")


@pytest.fixture(params=["sqlite", "postgresql"])
def factory(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[sessionmaker[Session]]:
    for url in fresh_database(request.param, tmp_path, sqlite_template):
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()


@pytest.fixture
def sqlite_factory(tmp_path: Path, sqlite_template: Path) -> Iterator[sessionmaker[Session]]:
    for url in fresh_database("sqlite", tmp_path, sqlite_template):
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()


def _kept_files(storage: Path) -> list[Path]:
    return sorted(p for p in (storage / "pages").rglob("*") if p.is_file())


def _pages(session: Session) -> list[list[LetterPage]]:
    letters = session.scalars(select(Letter).order_by(Letter.source_file_id, Letter.source_part)).all()
    return [list(letter.pages) for letter in letters]


def test_a_two_page_scan_keeps_both_page_images_and_a_second_copy_keeps_nothing(
    sqlite_factory: sessionmaker[Session], model_dir: Path, tmp_path: Path, ocr_engine: object
) -> None:
    from intake.render import SAMPLE_LETTERS, render_page, tiff_bytes

    sheets = [render_page(SAMPLE_LETTERS[0]), render_page(SAMPLE_LETTERS[2])]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "scan.tif").write_bytes(tiff_bytes(sheets))
    storage = tmp_path / "files"
    kwargs: dict[str, Any] = {
        "session_factory": sqlite_factory,
        "router_loader": RouterLoader(model_dir),
        "storage_dir": storage,
        "progress": False,
    }
    first = run_batch([inbox], **kwargs)
    assert (first.letters, first.pages, first.failures) == (1, 2, [])
    with sqlite_factory() as session:
        [pages] = _pages(session)
        letter = pages[0].letter
        assert "王建国" in letter.text and "公交" in letter.text  # both pages were read
        assert [(p.position, p.file_page, p.blank) for p in pages] == [(1, 1, False), (2, 2, False)]
        for page, sheet in zip(pages, sheets, strict=True):
            data = read_page_image(storage, page)
            with Image.open(io.BytesIO(data)) as img:
                # A4 at 200 dpi (1654 x 2339) shrunk to 1600 pixels on the long side
                assert (img.format, img.size) == ("JPEG", (1131, 1600)) == ("JPEG", (page.width, page.height))
            assert data == encode_page_image(sheet).data  # the page as scanned, not a blank stand-in
    assert len(_kept_files(storage)) == 2

    (inbox / "scan copy.tif").write_bytes((inbox / "scan.tif").read_bytes())
    again = run_batch([inbox], **kwargs)
    assert (again.new_files, again.already_done, again.letters) == (0, 1, 0)

    # A different file holding the same sheet: a new letter whose page is the image already kept.
    (inbox / "front.png").write_bytes(png_bytes(sheets[0]))
    third = run_batch([inbox / "front.png"], **kwargs)
    assert (third.new_files, third.letters) == (1, 1)
    with sqlite_factory() as session:
        first_pages, front_pages = _pages(session)
        assert [p.sha256 for p in front_pages] == [first_pages[0].sha256]
        assert session.scalar(select(func.count()).select_from(LetterPage)) == 3
    assert len(_kept_files(storage)) == 2
    assert not list(storage.rglob(".incoming-*"))


def test_text_layer_pdf_pages_are_rendered_and_each_letter_gets_its_own(
    factory: sessionmaker[Session], model_dir: Path, tmp_path: Path, cjk_font: None
) -> None:
    from intake.render import SAMPLE_LETTERS, text_pdf

    pdf = text_pdf([SAMPLE_LETTERS[0], "——分隔页——", SAMPLE_LETTERS[1], "以上情况属实，请尽快处理。"])
    (tmp_path / "two letters.pdf").write_bytes(pdf)
    storage = tmp_path / "files"
    summary = run_batch(
        [tmp_path / "two letters.pdf"],
        session_factory=factory,
        router_loader=RouterLoader(model_dir),
        storage_dir=storage,
        progress=False,
    )
    assert (summary.letters, summary.pages, summary.failures) == (2, 4, [])
    with factory() as session:
        first, second = _pages(session)
        # the separator sheet (file page 2) belongs to no letter, and no image of it is kept
        assert [(p.position, p.file_page) for p in first] == [(1, 1)]
        assert [(p.position, p.file_page) for p in second] == [(1, 3), (2, 4)]
        assert "王建国" in first[0].letter.text and "尽快处理" in second[0].letter.text
        for page in first + second:
            with Image.open(io.BytesIO(read_page_image(storage, page))) as img:
                assert img.format == "JPEG" and img.size == (page.width, page.height)
                assert max(img.size) == 1600 and 1120 <= min(img.size) <= 1140  # A4 upright
                assert img.getextrema()[0] < 100  # dark text on the page, not an empty render
    assert len(_kept_files(storage)) == 3


def test_images_written_before_a_failed_commit_are_orphans_the_rerun_reuses(
    factory: sessionmaker[Session], model_dir: Path, tmp_path: Path, cjk_font: None, monkeypatch: Any
) -> None:
    from intake.render import SAMPLE_LETTERS, text_pdf
    from store import files

    (tmp_path / "letter.pdf").write_bytes(text_pdf([SAMPLE_LETTERS[0], SAMPLE_LETTERS[1]]))
    storage = tmp_path / "files"
    kwargs: dict[str, Any] = {
        "session_factory": factory,
        "router_loader": RouterLoader(model_dir),
        "storage_dir": storage,
        "progress": False,
    }

    def lost_connection(*args: object, **kw: object) -> None:
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(files, "mark_file_done", lost_connection)
    with pytest.raises(OperationalError):
        run_batch([tmp_path / "letter.pdf"], **kwargs)
    orphans = _kept_files(storage)
    assert len(orphans) == 2
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(LetterPage)) == 0
        assert session.scalar(select(func.count()).select_from(Letter)) == 0
    monkeypatch.undo()

    rerun = run_batch([tmp_path / "letter.pdf"], stale_after=dt.timedelta(0), **kwargs)
    assert rerun.letters == 1
    assert _kept_files(storage) == orphans
    with factory() as session:
        [pages] = _pages(session)
        assert sorted(storage / p.stored_path for p in pages) == orphans


def test_a_failed_file_that_succeeds_on_retry_is_no_longer_counted_failed(
    factory: sessionmaker[Session], model_dir: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(2):
        (inbox / f"letter{i}.txt").write_text(f"第{i}号来信。{TINY_LETTERS[i][0]}", encoding="utf-8")

    def no_model() -> Any:
        raise RuntimeError("the model folder is missing")

    kwargs: dict[str, Any] = {
        "session_factory": factory,
        "storage_dir": tmp_path / "files",
        "progress": False,
    }
    failed = run_batch([inbox], router_loader=no_model, **kwargs)
    assert len(failed.failures) == 2 and failed.letters == 0
    retried = run_batch([inbox], router_loader=RouterLoader(model_dir), retry_failed=True, **kwargs)
    assert (retried.letters, retried.failures) == (2, [])
    with factory() as session:
        batch = session.scalars(select(Batch)).one()
        counts = (batch.file_count, batch.done_count, batch.failed_count, batch.letter_count)
    assert counts == (2, 2, 0, 2)
