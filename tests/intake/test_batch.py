"""Batch triage: files in, letters with proposals out; idempotent, resumable after kill -9, bad files
recorded. Runs on SQLite, and on PostgreSQL too when ``DATABASE_URL`` is set.

Most files here are small text files: reading them costs nothing, so the tests exercise the batch
machinery (claims, transactions, reruns) rather than OCR. One test OCRs a rendered page.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from databases import BACKENDS, postgres_schema
from factories import TINY_LETTERS, save_tiny_model
from intake_factories import make_zip, png_bytes, png_claiming_size
from PIL import Image
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from intake.batch import (
    RouterLoader,
    claim_owner_is_dead,
    keep_file,
    release_dead_claims,
    run_batch,
    worker_name,
)
from intake.errors import BatchError
from store.db import make_engine, make_session_factory, session_scope, upgrade
from store.files import claim_file, record_source_file
from store.models import AuditEvent, Letter, Proposal, SourceFile

ROOT = Path(__file__).resolve().parents[2]
XINFANG = Path(sys.executable).with_name("xinfang")

PARTICULARS = "我叫王建国，住址：A市西湖区桃源路88号，联系电话13812345678，身份证号430102198506123417。"


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A router model trained on the dozen inline letters of tests/factories.py, saved once."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model")


def fresh_database(backend: str, tmp_path: Path, template: Path) -> Iterator[str]:
    """A migrated database of its own: a copied SQLite file, or a PostgreSQL schema dropped after."""
    if backend == "sqlite":
        path = tmp_path / f"batch-{uuid.uuid4().hex[:8]}.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    with postgres_schema("xinfang_batch", migrate=True) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    yield from fresh_database(request.param, tmp_path, sqlite_template)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    yield from fresh_database("sqlite", tmp_path, sqlite_template)


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def write_letters(folder: Path, count: int, *, prefix: str = "letter") -> list[Path]:
    """``count`` small UTF-8 letters, each distinct (so each is its own source file)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        body = TINY_LETTERS[i % len(TINY_LETTERS)][0]
        path = folder / f"{prefix}{i:03d}.txt"
        path.write_text(f"第{i}号来信。{PARTICULARS}{body}", encoding="utf-8")
        paths.append(path)
    return paths


def letters_by_file(factory: sessionmaker[Session]) -> dict[str, list[tuple[int, str, str, str, int]]]:
    """sha256 -> [(source_part, category, department, text, proposals)] of every registered letter."""
    with factory() as session:
        rows = session.execute(
            select(SourceFile.sha256, Letter.source_part, Letter.text, Letter.id)
            .join(Letter, Letter.source_file_id == SourceFile.id)
            .order_by(SourceFile.sha256, Letter.source_part)
        ).all()
        out: dict[str, list[tuple[int, str, str, str, int]]] = {}
        for sha, part, body, letter_id in rows:
            proposals = session.scalars(select(Proposal).where(Proposal.letter_id == letter_id)).all()
            first = proposals[0] if proposals else None
            out.setdefault(sha, []).append(
                (
                    part,
                    first.category if first else "",
                    first.department if first else "",
                    body,
                    len(proposals),
                )
            )
        return out


# -- the batch -----------------------------------------------------------------------------------


def test_batch_registers_each_letter_with_its_proposal_and_particulars(
    factory: sessionmaker[Session], tiny_model_dir: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    write_letters(inbox, 4)
    # one file holding two letters, cut by a separator line
    (inbox / "two.txt").write_text(
        f"{TINY_LETTERS[4][0]}\n——分隔页——\n{TINY_LETTERS[12][0]}", encoding="utf-8"
    )
    summary = run_batch(
        [inbox],
        session_factory=factory,
        router_loader=RouterLoader(tiny_model_dir),
        storage_dir=tmp_path / "files",
        received_on=dt.date(2026, 11, 2),
        progress=False,
    )
    assert (summary.files, summary.new_files, summary.processed, summary.letters) == (5, 5, 5, 6)
    assert summary.failures == []
    with factory() as session:
        letters = session.scalars(select(Letter).order_by(Letter.id)).all()
        assert len(letters) == 6
        assert {x.source for x in letters} == {"batch"}
        assert all(x.received_on == dt.date(2026, 11, 2) for x in letters)
        two = session.scalars(select(SourceFile).where(SourceFile.original_name == "two.txt")).one()
        assert two.status == "done" and [x.source_part for x in two.letters] == [0, 1]
        assert "拖欠" in two.letters[0].text and "公交" in two.letters[1].text
        first = letters[0]
        assert (first.petitioner_name, first.contact_phone, first.id_number) == (
            "王建国",
            "13812345678",
            "430102198506123417",
        )
        assert first.address is not None and first.address.startswith("A市西湖区")
        for letter in letters:
            proposals = session.scalars(select(Proposal).where(Proposal.letter_id == letter.id)).all()
            assert len(proposals) == 1
        # the suggestion about buses and the wage arrears are routed as the tiny model learnt
        assert two.letters[1].proposals[0].category == "suggestion"
        assert two.letters[0].proposals[0].department == "hr_social_security"
        # the source file is kept by its hash
        stored = tmp_path / "files" / two.stored_path
        assert stored.read_bytes() == (inbox / "two.txt").read_bytes()
        assert two.stored_path.startswith(two.sha256[:2] + "/" + two.sha256)


def test_rerun_adds_nothing_and_a_changed_file_is_a_new_letter(
    factory: sessionmaker[Session], tiny_model_dir: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    paths = write_letters(inbox, 3)
    kwargs = dict(
        session_factory=factory,
        router_loader=RouterLoader(tiny_model_dir),
        storage_dir=tmp_path / "files",
        progress=False,
    )
    first = run_batch([inbox], **kwargs)  # type: ignore[arg-type]
    again = run_batch([inbox, paths[0]], **kwargs)  # type: ignore[arg-type]
    assert first.letters == 3 and first.batch_id is not None
    assert (again.batch_id, again.new_files, again.already_done, again.letters) == (None, 0, 3, 0)
    paths[1].write_text(paths[1].read_text(encoding="utf-8") + "补充：情况紧急。", encoding="utf-8")
    changed = run_batch([inbox], **kwargs)  # type: ignore[arg-type]
    assert (changed.new_files, changed.already_done, changed.letters) == (1, 2, 1)
    assert changed.batch_id not in (None, first.batch_id)
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Letter)) == 4
        assert session.scalar(select(func.count()).select_from(Proposal)) == 4


def _bad_files(folder: Path) -> dict[str, str]:
    """Write one file of each kind of bad input; return name -> a phrase its failure must contain."""
    from fpdf import FPDF

    folder.mkdir(parents=True, exist_ok=True)
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica")
    pdf.cell(text="secret")
    pdf.set_encryption(owner_password="owner", user_password="user")
    (folder / "encrypted.pdf").write_bytes(bytes(pdf.output()))
    (folder / "malformed.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntrailer garbage")
    (folder / "corrupt.png").write_bytes(png_bytes(Image.new("L", (64, 64), 255))[:60])
    (folder / "bomb.png").write_bytes(png_claiming_size(40_000, 40_000))
    (folder / "zero.txt").write_bytes(b"")
    (folder / "picture.gif").write_bytes(b"GIF89a" + b"\x00" * 64)
    (folder / "escape.zip").write_bytes(make_zip([("../../etc/cron.d/evil.txt", "我要投诉".encode())]))
    (folder / "zipbomb.zip").write_bytes(make_zip([("zeros.txt", b"0" * (3 * 1024 * 1024))]))
    return {
        "encrypted.pdf": "password-protected",
        "malformed.pdf": "PDF",
        "corrupt.png": "cannot be decoded",
        "bomb.png": "pixels",
        "zero.txt": "empty",
        "picture.gif": "GIF",
        "escape.zip": "climbs out",
        "zipbomb.zip": "zip bombs",
    }


def test_each_bad_file_is_recorded_with_its_reason_and_the_batch_goes_on(
    factory: sessionmaker[Session], tiny_model_dir: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    expected = _bad_files(inbox)
    write_letters(inbox, 2, prefix="good")
    summary = run_batch(
        [inbox],
        session_factory=factory,
        router_loader=RouterLoader(tiny_model_dir),
        storage_dir=tmp_path / "files",
        progress=False,
    )
    assert summary.letters == 2
    reasons = {f.name: f.reason for f in summary.failures}
    assert set(reasons) == set(expected), reasons
    for name, phrase in expected.items():
        assert phrase in reasons[name], (name, reasons[name])
    with factory() as session:
        states = dict(session.execute(select(SourceFile.original_name, SourceFile.status)).all())
        errors = dict(session.execute(select(SourceFile.original_name, SourceFile.error)).all())
        failed_events = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "file_failed")
        )
    assert {n for n, s in states.items() if s == "failed"} == set(expected)
    assert {n for n, s in states.items() if s == "done"} == {"good000.txt", "good001.txt"}
    assert all(errors[n] for n in expected)
    assert failed_events == len(expected)
    # a rerun does not retry them, but still lists them; --retry-failed tries again (and fails again)
    again = run_batch(
        [inbox],
        session_factory=factory,
        router_loader=RouterLoader(tiny_model_dir),
        storage_dir=tmp_path / "files",
        progress=False,
    )
    assert {f.name for f in again.failures} == set(expected) and again.processed == 0
    retried = run_batch(
        [inbox],
        session_factory=factory,
        router_loader=RouterLoader(tiny_model_dir),
        storage_dir=tmp_path / "files",
        progress=False,
        retry_failed=True,
    )
    assert retried.processed == len(expected) and retried.letters == 0
    retried_reasons = {f.name: f.reason for f in retried.failures}
    assert all(phrase in retried_reasons[name] for name, phrase in expected.items()), retried_reasons


def test_zip_members_are_files_of_their_own(
    factory: sessionmaker[Session], tiny_model_dir: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "scans.zip"
    archive.write_bytes(
        make_zip(
            [
                ("来信/第1封.txt", TINY_LETTERS[0][0].encode("gb18030")),
                ("来信/第2封.txt", TINY_LETTERS[5][0].encode("utf-8")),
                ("__MACOSX/._x", b"junk"),
            ]
        )
    )
    summary = run_batch(
        [archive],
        session_factory=factory,
        router_loader=RouterLoader(tiny_model_dir),
        storage_dir=tmp_path / "files",
        progress=False,
    )
    assert (summary.files, summary.letters, summary.failures) == (2, 2, [])
    with factory() as session:
        names = session.scalars(select(SourceFile.original_name).order_by(SourceFile.id)).all()
        texts = session.scalars(select(Letter.text).order_by(Letter.id)).all()
    assert names == ["第1封.txt", "第2封.txt"]
    assert texts == [TINY_LETTERS[0][0], TINY_LETTERS[5][0]]


def test_missing_path_is_refused_before_anything_is_recorded(
    factory: sessionmaker[Session], tiny_model_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(BatchError, match="no such file or folder"):
        run_batch(
            [tmp_path / "nope"],
            session_factory=factory,
            router_loader=RouterLoader(tiny_model_dir),
            storage_dir=tmp_path / "files",
            progress=False,
        )
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(SourceFile)) == 0


@pytest.mark.slow
def test_low_ocr_confidence_reaches_the_proposal(
    sqlite_url: str, tiny_model_dir: Path, tmp_path: Path, ocr_engine: object
) -> None:
    """A real scan, OCR'd: its text and confidence land on the letter and its proposal."""
    from intake.render import SAMPLE_LETTERS, Degradation, degrade, render_page
    from routing.proposal import ProposalConfig
    from routing.router import Router

    page = degrade(
        render_page(SAMPLE_LETTERS[1]), Degradation(rotation_deg=(1.0, 2.0), noise_sigma=6), seed=3
    )
    (tmp_path / "scan.png").write_bytes(png_bytes(page))
    strict = Router.load(tiny_model_dir, config=ProposalConfig(min_ocr_confidence=0.9999))
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    summary = run_batch(
        [tmp_path / "scan.png"],
        session_factory=factory,
        router_loader=lambda: strict,
        storage_dir=tmp_path / "files",
        progress=False,
    )
    assert summary.letters == 1 and summary.needs_review == 1
    with factory() as session:
        letter = session.scalars(select(Letter)).one()
        proposal = letter.proposals[0].route_proposal()
    engine.dispose()
    assert "拖欠工资" in letter.text and letter.petitioner_name == "李秀英"
    low = [r for r in proposal.review_reasons if r.code == "low_ocr_confidence"]
    assert low and "识别置信度低" in low[0].message


# -- claims of dead processes --------------------------------------------------------------------


def test_claims_of_dead_local_processes_and_stale_remote_claims_are_released(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import os; print(os.getpid())"], stdout=subprocess.PIPE)
    out, _ = child.communicate()
    dead = f"{socket.gethostname()}:{int(out)}:{int(time.time()) - 5}"
    alive = worker_name()
    remote = "another-host:123:456"
    assert claim_owner_is_dead(dead) and not claim_owner_is_dead(alive) and not claim_owner_is_dead(remote)
    ids = []
    with session_scope(factory) as session:
        for i, owner in enumerate((dead, alive, remote)):
            sha, size, media, stored = keep_file(tmp_path / "files", f"letter {i}".encode())
            sf, _ = record_source_file(
                session,
                sha256=sha,
                original_name=f"{i}.txt",
                media_type=media,
                size_bytes=size,
                stored_path=stored,
            )
            claim_file(session, sf.id, worker=owner, now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10))
            ids.append(sf.id)
    with session_scope(factory) as session:
        assert release_dead_claims(session, stale_after=dt.timedelta(hours=1)) == 1
    with session_scope(factory) as session:
        assert release_dead_claims(session, stale_after=dt.timedelta(minutes=5)) == 2
        states = [session.get(SourceFile, i).status for i in ids]  # type: ignore[union-attr]
    assert states == ["received", "received", "received"]


# -- kill -9 and rerun ---------------------------------------------------------------------------


def _triage_cli(url: str, inbox: Path, storage: Path, model: Path) -> list[str]:
    return [
        str(XINFANG), "triage", str(inbox), "--database-url", url, "--storage-dir", str(storage),
        "--model", str(model), "--received-on", "2026-11-02", "--json",
    ]  # fmt: skip


def _done_and_processing(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = dict(
                connection.execute(select(SourceFile.status, func.count()).group_by(SourceFile.status)).all()
            )
    except Exception:  # the schema may be locked for a moment while the batch starts
        return 0, 0
    finally:
        engine.dispose()
    return int(rows.get("done", 0)), int(rows.get("processing", 0))


@pytest.mark.slow
def test_kill_9_mid_batch_then_rerun_loses_and_duplicates_nothing(
    db_url: str, sqlite_template: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    # Enough files that the batch is still running when the poller first reads five done: on a busy
    # machine SQLite's lock kept the poller out until all of 60 were through.
    count = 160
    write_letters(inbox, count)
    # every fourth file holds two letters
    for path in sorted(inbox.iterdir())[::4]:
        path.write_text(
            path.read_text(encoding="utf-8") + "\n分隔页\n" + TINY_LETTERS[13][0], encoding="utf-8"
        )
    storage = tmp_path / "files"
    process = subprocess.Popen(
        _triage_cli(db_url, inbox, storage, tiny_model_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 240
    killed_while_processing = False
    while time.monotonic() < deadline and process.poll() is None:
        done, processing = _done_and_processing(db_url)
        if done >= 5:
            killed_while_processing = processing > 0
            break
        time.sleep(0.02)
    assert process.poll() is None, "the batch finished before it could be killed; give it more files"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    done_at_kill, _ = _done_and_processing(db_url)
    assert 5 <= done_at_kill < count

    rerun = subprocess.run(
        _triage_cli(db_url, inbox, storage, tiny_model_dir), capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["already_done"] >= done_at_kill and summary["failed"] == 0

    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean_url = next(fresh_database("sqlite", clean_dir, sqlite_template))
    clean_engine = make_engine(clean_url)
    clean_factory = make_session_factory(clean_engine)
    clean = run_batch(
        [inbox],
        session_factory=clean_factory,
        router_loader=RouterLoader(tiny_model_dir),
        storage_dir=tmp_path / "clean-files",
        received_on=dt.date(2026, 11, 2),
        progress=False,
    )
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    try:
        resumed = letters_by_file(factory)
        expected = letters_by_file(clean_factory)
        with factory() as session:
            states = set(session.scalars(select(SourceFile.status)))
            total = session.scalar(select(func.count()).select_from(Letter))
            proposals = session.scalar(select(func.count()).select_from(Proposal))
    finally:
        engine.dispose()
        clean_engine.dispose()
    assert clean.letters == count + count // 4
    assert states == {"done"}
    assert total == proposals == clean.letters
    assert resumed == expected  # same letters, parts, routes and text for every file, each once
    # record which moment the kill hit, so a reader of the log can see both cases occur over runs
    print(f"killed with a file in processing: {killed_while_processing}")


# -- the CLI: summary, batches show, export ------------------------------------------------------


def _cli(*args: str) -> object:
    from cli.main import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_triage_show_and_masked_exports(db_url: str, tiny_model_dir: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from store.users import create_user

    inbox = tmp_path / "inbox"
    write_letters(inbox, 3)
    (inbox / "empty.txt").write_bytes(b"")
    common = ["--database-url", db_url]
    result = _cli(
        "triage", str(inbox), *common, "--storage-dir", str(tmp_path / "f"), "--model", str(tiny_model_dir)
    )
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    output = result.output  # type: ignore[attr-defined]
    assert "登记来信 3 件" in output and "处理失败的文件 1 个" in output and "empty.txt" in output
    batch_id = "1"

    shown = _cli("batches", "show", batch_id, *common, "--json")
    record = json.loads(shown.output)  # type: ignore[attr-defined]
    assert (record["files"], record["done"], record["failed"], record["letters"]) == (4, 3, 1, 3)

    jsonl = _cli("export", batch_id, *common, "--format", "jsonl")
    rows = [json.loads(line) for line in jsonl.output.splitlines()]  # type: ignore[attr-defined]
    assert len(rows) == 3
    assert {r["contact_phone"] for r in rows} == {"138****5678"}
    assert {r["petitioner_name"] for r in rows} == {"王**"}
    assert {r["id_number"] for r in rows} == {"430***********3417"}
    assert all(r["category"] and r["department"] and r["case_number"].startswith("XF-") for r in rows)
    assert "13812345678" not in jsonl.output  # type: ignore[attr-defined]

    csv_result = _cli("export", batch_id, *common, "--format", "csv")
    assert csv_result.output.count("\n") == 4 and "13812345678" not in csv_result.output  # type: ignore[attr-defined]

    xlsx = tmp_path / "batch.xlsx"
    assert _cli("export", batch_id, *common, "--format", "xlsx", "-o", str(xlsx)).exit_code == 0  # type: ignore[attr-defined]
    sheet = load_workbook(xlsx).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]  # type: ignore[union-attr]
    assert len(values) == 4 and values[1][values[0].index("contact_phone")] == "138****5678"

    from cli.main import main

    refused = CliRunner().invoke(main, ["export", batch_id, *common, "--unmasked"])
    assert refused.exit_code != 0 and "--as-user" in refused.output

    engine = make_engine(db_url)
    with session_scope(make_session_factory(engine)) as session:
        for username, role in (("zhao.analyst", "analyst"), ("qian.chief", "supervisor")):
            create_user(
                session,
                username=username,
                password="Correct-Horse-Battery-9",
                role=role,
                display_name=username,
            )

    analyst = CliRunner().invoke(
        main, ["export", batch_id, *common, "--unmasked", "--as-user", "zhao.analyst"]
    )
    assert analyst.exit_code != 0 and "只有科室负责人可以导出未脱敏的个人信息" in analyst.output
    chief = _cli("export", batch_id, *common, "--format", "jsonl", "--unmasked", "--as-user", "qian.chief")
    assert {json.loads(x)["contact_phone"] for x in chief.output.splitlines()} == {"13812345678"}  # type: ignore[attr-defined]

    with make_session_factory(engine)() as session:
        exports = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.seq)
        ).all()
    engine.dispose()
    # jsonl, csv, xlsx masked by "cli", then the supervisor's unmasked one; refused exports left none
    assert [(e.actor, e.details["masked"]) for e in exports] == [
        ("cli", True),
        ("cli", True),
        ("cli", True),
        ("qian.chief", False),
    ]


def test_cli_refuses_missing_paths_and_a_bad_database(tmp_path: Path, tiny_model_dir: Path) -> None:
    from cli.main import main

    missing = CliRunner().invoke(main, ["triage", str(tmp_path / "nope"), "--model", str(tiny_model_dir)])
    assert missing.exit_code == 1 and "找不到文件或文件夹" in missing.output
    (tmp_path / "a.txt").write_text(TINY_LETTERS[0][0], encoding="utf-8")
    empty_db = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    unmigrated = CliRunner().invoke(
        main, ["triage", str(tmp_path / "a.txt"), "--model", str(tiny_model_dir), "--database-url", empty_db]
    )
    assert unmigrated.exit_code == 1 and "xinfang db upgrade" in unmigrated.output


# -- the day of receipt and form: routed and registered alike, kept on the batch -----------------


def _letters_and_dues(url: str) -> list[tuple[Letter, dict[str, dt.date | None]]]:
    """Every registered letter with its first proposal's deadlines, code -> due."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            letters = session.scalars(select(Letter).order_by(Letter.id)).all()
            out = []
            for letter in letters:
                proposal = letter.proposals[0].route_proposal()
                out.append((letter, {d.code: d.due for d in proposal.deadlines}))
            return out
    finally:
        engine.dispose()


def _batch_row(url: str, batch_id: int) -> tuple[dt.date | None, str]:
    from store.models import Batch

    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None
            return batch.received_on, batch.form
    finally:
        engine.dispose()


def test_cli_triage_routes_and_registers_with_the_day_of_receipt_and_form(
    db_url: str, tiny_model_dir: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    write_letters(inbox, 2)
    result = _cli(
        "triage", str(inbox), "--database-url", db_url, "--storage-dir", str(tmp_path / "f"),
        "--model", str(tiny_model_dir), "--received-on", "2026-11-02", "--form", "online", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    summary = json.loads(result.output)  # type: ignore[attr-defined]
    assert summary["letters"] == 2
    assert _batch_row(db_url, summary["batch_id"]) == (dt.date(2026, 11, 2), "online")
    shown = json.loads(
        _cli("batches", "show", str(summary["batch_id"]), "--database-url", db_url, "--json").output
    )  # type: ignore[attr-defined]
    assert (shown["received_on"], shown["form"]) == ("2026-11-02", "online")
    registered = _letters_and_dues(db_url)
    assert len(registered) == 2
    for letter, dues in registered:
        assert (letter.received_on, letter.form) == (dt.date(2026, 11, 2), "online")
        # the proposal's clocks run from the day the letter is registered with
        assert dues["notify_acceptance"] == dt.date(2026, 11, 17)


def test_triage_without_a_day_routes_with_today_in_china(
    factory: sessionmaker[Session], tiny_model_dir: Path, tmp_path: Path
) -> None:
    from store.letters import china_today

    write_letters(tmp_path / "inbox", 1)
    before = china_today()
    summary = run_batch(
        [tmp_path / "inbox"],
        session_factory=factory,
        router_loader=RouterLoader(tiny_model_dir),
        storage_dir=tmp_path / "files",
        progress=False,
    )
    assert summary.letters == 1
    with factory() as session:
        letter = session.scalars(select(Letter)).one()
        proposal = letter.proposals[0].route_proposal()
    assert letter.received_on in (before, china_today()) and letter.form == "letter"
    due = {d.code: d.due for d in proposal.deadlines}["notify_acceptance"]
    # 15 days from the day of receipt (a day off at the end may move it on)
    assert due is not None and due >= letter.received_on + dt.timedelta(days=15)


def test_batches_resume_routes_with_the_day_the_batch_kept(
    db_url: str, factory: sessionmaker[Session], tiny_model_dir: Path, tmp_path: Path
) -> None:
    """What a web upload does: the files are recorded with the day, a worker triages them later."""
    from intake.batch import BatchSummary, record_inputs
    from intake.readers import ReadLimits

    write_letters(tmp_path / "inbox", 2)
    summary = BatchSummary()
    record_inputs(
        [tmp_path / "inbox"],
        session_factory=factory,
        storage_dir=tmp_path / "files",
        limits=ReadLimits(),
        actor="intake.officer",
        summary=summary,
        received_on=dt.date(2026, 11, 3),
    )
    assert summary.batch_id is not None
    resumed = _cli(
        "batches", "resume", str(summary.batch_id), "--database-url", db_url,
        "--storage-dir", str(tmp_path / "files"), "--model", str(tiny_model_dir), "--json",
    )  # fmt: skip
    assert resumed.exit_code == 0, resumed.output  # type: ignore[attr-defined]
    assert json.loads(resumed.output)["letters"] == 2  # type: ignore[attr-defined]
    registered = _letters_and_dues(db_url)
    assert [letter.received_on for letter, _ in registered] == [dt.date(2026, 11, 3)] * 2
    assert [dues["notify_acceptance"] for _, dues in registered] == [dt.date(2026, 11, 18)] * 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--received-on", "2999-01-01"], "in the future"),
        (["--received-on", "1989-12-31"], "早于 1990-01-01"),
        (["--received-on", "2026-02-30"], "--received-on"),
        (["--form", "fax"], "--form"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_cli_triage_refuses_a_bad_day_or_form_before_recording(
    sqlite_url: str, tiny_model_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    from cli.main import main

    write_letters(tmp_path / "inbox", 1)
    result = CliRunner().invoke(
        main,
        ["triage", str(tmp_path / "inbox"), "--database-url", sqlite_url, "--storage-dir",
         str(tmp_path / "f"), "--model", str(tiny_model_dir), *args],
    )  # fmt: skip
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(SourceFile)) == 0
    engine.dispose()


def test_migration_0004_keeps_the_batches_recorded_before_it(tiny_model_dir: Path, tmp_path: Path) -> None:
    """A batch recorded before batches kept a day: its rows survive the upgrade, and a resume
    triages its waiting file as arriving today, as before."""
    from intake.batch import triage_batch
    from store.db import current_revision, head_revision, schema_differences
    from store.letters import china_today

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0003")
    sha, size, media, stored = keep_file(tmp_path / "files", TINY_LETTERS[0][0].encode("utf-8"))
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO batches (id, created_by, created_at, file_count) "
                "VALUES (7, 'intake', '2026-11-30 08:00:00', 1)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO source_files (id, sha256, original_name, media_type, size_bytes, stored_path,"
                " status, attempts, batch_id, created_at, updated_at) VALUES (3, :sha, 'old.txt', :media,"
                " :size, :stored, 'received', 0, 7, '2026-11-30 08:00:00', '2026-11-30 08:00:00')"
            ),
            {"sha": sha, "media": media, "size": size, "stored": stored},
        )
    engine.dispose()
    upgrade(url)
    assert current_revision(url) == head_revision() and schema_differences(url) == []
    assert _batch_row(url, 7) == (None, "letter")
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        summary = triage_batch(
            7,
            session_factory=factory,
            router_loader=RouterLoader(tiny_model_dir),
            storage_dir=tmp_path / "files",
        )
        assert summary.letters == 1
        with factory() as session:
            letter = session.scalars(select(Letter)).one()
            assert letter.source_file_id == 3 and letter.received_on >= china_today() - dt.timedelta(days=1)
            dues = {d.code: d.due for d in letter.proposals[0].route_proposal().deadlines}
        due = dues["notify_acceptance"]
        assert due is not None and due >= letter.received_on + dt.timedelta(days=15)
    finally:
        engine.dispose()


def test_export_csv_neutralises_formulas() -> None:
    from service.exports import EXPORT_COLUMNS, write_rows

    row = dict.fromkeys(EXPORT_COLUMNS)
    row["source_file"] = '=HYPERLINK("http://x")'
    buffer = io.BytesIO()
    write_rows([row], "csv", buffer)
    assert "'=HYPERLINK" in buffer.getvalue().decode("utf-8-sig")


def _freeze_count_after_loading(model_dir: Path) -> tuple[int, int]:
    import gc

    before = gc.get_freeze_count()
    RouterLoader(model_dir)()
    return before, gc.get_freeze_count()


def test_a_worker_process_freezes_what_it_loaded_and_the_calling_process_does_not(
    tiny_model_dir: Path,
) -> None:
    import gc
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        before, after = pool.apply(_freeze_count_after_loading, (tiny_model_dir,))
    assert before == 0 and after > 0
    gc.unfreeze()
    _freeze_count_after_loading(tiny_model_dir)
    assert gc.get_freeze_count() == 0
