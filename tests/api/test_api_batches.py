"""Batch uploads through the workbench: checked, kept by hash, recorded at once, triaged by a worker
process in the background, followed through the database, exported masked or not by role.

The worker is the real one (``xinfang batches resume`` started by the server) with a tiny trained
model; the scan is rendered Chinese text, degraded, and read by the real OCR. Runs on SQLite, and
on PostgreSQL too when ``DATABASE_URL`` is set.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import save_tiny_model
from fastapi.testclient import TestClient
from live_server import chromium, needs_chromium, open_page, serve, shot, sign_in
from sqlalchemy import func, select
from web_factories import ACCUSATION_TEXT, ORDINARY_TEXT, PASSWORD, make_settings

from api.app import create_app
from service import batches
from service.settings import Settings
from store.db import make_engine, make_session_factory, session_scope
from store.models import AuditEvent, Batch, Letter, SourceFile

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)

PHONE = "13812345678"
WAGES_TEXT = "公司拖欠工资三个月，要求申请劳动仲裁，请求督促发放工资。联系电话13900001111。"
MAX_FILE = 4 * 1024 * 1024


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model registry holding the tiny model as version ``tiny``: what the worker process loads."""
    models = tmp_path_factory.mktemp("registry")
    save_tiny_model(models / "tiny")
    return models


@pytest.fixture(scope="session")
def scan_png() -> bytes:
    """A rendered, slightly skewed and noisy page of a letter with the petitioner's particulars."""
    pytest.importorskip("rapidocr", reason="needs the ocr extra: pip install -e '.[ocr]'")
    from intake.render import SAMPLE_LETTERS, Degradation, FontNotFoundError, degrade, render_page

    try:
        page = render_page(SAMPLE_LETTERS[0])
    except FontNotFoundError as exc:
        pytest.skip(str(exc))
    page = degrade(page, Degradation(rotation_deg=(0.5, 1.0), noise_sigma=4), seed=1)
    buf = io.BytesIO()
    page.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def batch_settings(database_url: str, tmp_path: Path, registry: Path) -> Settings:
    return make_settings(
        database_url,
        storage_dir=tmp_path / "files",
        models_dir=registry,
        model_version="tiny",
        max_upload_bytes=MAX_FILE,
    )


@pytest.fixture
def bclient(batch_settings: Settings, standin_router: Any, users: dict[str, str]) -> Iterator[TestClient]:
    app = create_app(batch_settings, router=standin_router)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    batches.stop_workers(grace=10)


@pytest.fixture
def tokens(bclient: TestClient) -> Callable[[str], dict[str, str]]:
    cache: dict[str, dict[str, str]] = {}

    def get(role: str) -> dict[str, str]:
        if role not in cache:
            r = bclient.post(
                "/api/v1/auth/token", data={"username": role.replace("_", "."), "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            cache[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return cache[role]

    return get


def wait_done(
    client: TestClient, headers: dict[str, str], batch_id: int, timeout: float = 240
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/api/v1/batches/{batch_id}", headers=headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["state"] == "done":
            return body
        assert body["state"] != "stalled", body
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id} not done after {timeout} s: {body}")
        time.sleep(0.5)


def mixed_upload(scan: bytes) -> list[tuple[str, tuple[str, bytes, str]]]:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("收件/物业.txt", ORDINARY_TEXT)
        zf.writestr("收件/工资.txt", WAGES_TEXT)
    return [
        ("files", ("扫描件01.png", scan, "image/png")),
        ("files", ("来信包.zip", archive.getvalue(), "application/zip")),
        (
            "files",
            (
                "国标来信.txt",
                "小区物业擅自提高物业费，业主要求说明收费依据。".encode("gb18030"),
                "text/plain",
            ),
        ),
        ("files", ("空文件.txt", b"", "text/plain")),
        ("files", ("坏图.png", b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50, "image/png")),
        ("files", ("../../etc/passwd", b"root:x:0:0", "text/plain")),
        ("files", ("太大.txt", b"a" * (MAX_FILE + 1), "text/plain")),
    ]


def test_upload_is_triaged_in_the_background_and_bad_files_are_listed(
    bclient: TestClient, tokens: Callable[[str], dict[str, str]], scan_png: bytes, batch_settings: Settings
) -> None:
    officer, supervisor = tokens("intake_officer"), tokens("supervisor")
    started = time.monotonic()
    r = bclient.post("/api/v1/batches", files=mixed_upload(scan_png), headers=officer)
    answered = time.monotonic() - started
    assert r.status_code == 202, r.text
    receipt = r.json()
    batch_id = receipt["batch_id"]
    assert receipt["created"] and receipt["scheduled"]
    # the scan, the two members of the zip, the GB 18030 letter, the empty file, the corrupt PNG
    assert receipt["new_files"] == 6 and receipt["files"] == 6
    refused = {f["name"]: f["reason"] for f in receipt["refused"]}
    assert set(refused) == {"passwd", "太大.txt"}
    assert "not allowed" in refused["passwd"] and "XINFANG_MAX_UPLOAD_BYTES" in refused["太大.txt"]
    assert refused["太大.txt"].startswith("超过每个文件 4 MB 的上限")
    # The request answered without reading the scan (OCR takes seconds, the worker does it).
    first = bclient.get(f"/api/v1/batches/{batch_id}", headers=officer).json()
    assert first["files"] == 6 and first["done"] + first["failed"] < 6, (answered, first)

    body = wait_done(bclient, supervisor, batch_id)
    assert (body["files"], body["done"], body["failed"], body["pending"]) == (6, 4, 2, 0)
    assert body["letters"] == 4 and body["eta_seconds"] is None
    by_name = {f["name"]: f for f in body["file_states"]}
    assert set(by_name) == {"扫描件01.png", "物业.txt", "工资.txt", "国标来信.txt", "空文件.txt", "坏图.png"}
    assert by_name["空文件.txt"]["status"] == "failed" and by_name["空文件.txt"]["error"]
    assert by_name["坏图.png"]["status"] == "failed" and by_name["坏图.png"]["error"]
    for name in ("扫描件01.png", "物业.txt", "工资.txt", "国标来信.txt"):
        assert by_name[name]["status"] == "done" and len(by_name[name]["letters"]) == 1, by_name[name]
    assert {f["name"] for f in body["refused"]} == {"passwd", "太大.txt"}
    # Refused files were not kept; the others are kept by hash.
    storage = Path(batch_settings.storage_dir)
    kept = [p for p in storage.glob("??/*") if p.is_file()]  # ab/abcdef….ext, as record_inputs keeps them
    assert len(kept) == 6 and not list(storage.glob(".upload-*"))

    # The OCR'd scan is a letter like any other, with its text read from the image.
    case = by_name["扫描件01.png"]["letters"][0]["case_number"]
    letter = bclient.get(f"/api/v1/letters/{case}", headers=supervisor).json()
    assert "施工" in letter["text"] and letter["source"] == "batch"
    # Its title is not the file's name: that is the uploader's, shown only where the rule allows.
    assert letter["title"] == ""
    gb = bclient.get(
        f"/api/v1/letters/{by_name['国标来信.txt']['letters'][0]['case_number']}", headers=officer
    )
    assert gb.status_code == 200 and "物业费" in gb.json()["text"]
    # The officer sees the same files; a letter their role may not open is counted, not linked.
    mine = bclient.get(f"/api/v1/batches/{batch_id}", headers=officer).json()
    assert sum(len(f["letters"]) + f["hidden_letters"] for f in mine["file_states"]) == 4

    listed = bclient.get("/api/v1/batches", headers=officer).json()
    assert listed["count"] == 1 and listed["data"][0]["letters"] == 4 and listed["data"][0]["pending"] == 0

    # The same upload again adds nothing: no batch, no file, no letter.
    again = bclient.post("/api/v1/batches", files=mixed_upload(scan_png), headers=officer)
    assert again.status_code == 200, again.text
    second = again.json()
    assert second["batch_id"] is None and not second["created"] and second["new_files"] == 0
    assert {f["batch_id"] for f in second["known"]} == {batch_id} and len(second["known"]) == 6
    engine = make_engine(batch_settings.database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            assert session.scalar(select(func.count()).select_from(Batch)) == 1
            assert session.scalar(select(func.count()).select_from(SourceFile)) == 6
            assert session.scalar(select(func.count()).select_from(Letter)) == 4
    finally:
        engine.dispose()


# Named by the uploader after what it says: the accused and the accuser.
ACCUSED_FILE = "举报王副局长受贿_赵六.txt"


def test_exports_are_masked_by_role_and_audited(
    bclient: TestClient, tokens: Callable[[str], dict[str, str]], batch_settings: Settings
) -> None:
    files = [
        ("files", ("物业.txt", f"{ORDINARY_TEXT}我的电话{PHONE}。".encode(), "text/plain")),
        ("files", (ACCUSED_FILE, ACCUSATION_TEXT.encode(), "text/plain")),
    ]
    r = bclient.post("/api/v1/batches", files=files, headers=tokens("supervisor"))
    assert r.status_code == 202, r.text
    batch_id = r.json()["batch_id"]
    body = wait_done(bclient, tokens("supervisor"), batch_id)
    assert body["letters"] == 2 and body["hidden_letters"] == 0

    # An intake officer (the uploader too) sees the accusation only as a count: no case number, no
    # link, and not the file's name, which names accused and accuser.
    accused = next(f for f in body["file_states"] if f["name"] == ACCUSED_FILE)
    secret_case = accused["letters"][0]["case_number"]
    officer = bclient.get(f"/api/v1/batches/{batch_id}", headers=tokens("intake_officer"))
    officer_view = officer.json()
    accusation = next(f for f in officer_view["file_states"] if f["file_id"] == accused["file_id"])
    assert accusation["letters"] == [] and accusation["hidden_letters"] == 1
    assert accusation["name"] == f"保密文件 {accused['file_id']}" and accusation["name_withheld"]
    assert officer_view["hidden_letters"] == 1 and ACCUSED_FILE not in officer.text
    page = _signed_in(bclient, "intake.officer").get(f"/batches/{batch_id}")
    assert page.status_code == 200 and secret_case not in page.text and "保密 1 件" in page.text
    assert ACCUSED_FILE not in page.text and f"保密文件 {accused['file_id']}" in page.text
    analyst_page = _signed_in(bclient, "analyst").get(f"/batches/{batch_id}")
    assert analyst_page.status_code == 200 and ACCUSED_FILE not in analyst_page.text

    # The analyst: masked, and without the confidential letter.
    analyst = bclient.get(f"/api/v1/batches/{batch_id}/export?format=csv", headers=tokens("analyst"))
    assert analyst.status_code == 200, analyst.text
    assert (
        analyst.headers["content-type"].startswith("text/csv")
        and analyst.headers["cache-control"] == "no-store"
    )
    rows = list(csv.DictReader(io.StringIO(analyst.content.decode("utf-8-sig"))))
    assert [row["source_file"] for row in rows] == ["物业.txt"]
    assert PHONE not in analyst.content.decode("utf-8-sig") and rows[0]["contact_phone"]
    # The supervisor: unmasked, both letters, in every format.
    sup = bclient.get(f"/api/v1/batches/{batch_id}/export?format=jsonl", headers=tokens("supervisor"))
    lines = [json.loads(line) for line in sup.text.splitlines()]
    assert {row["source_file"] for row in lines} == {"物业.txt", ACCUSED_FILE}
    assert PHONE in {row["contact_phone"] for row in lines}
    xlsx = bclient.get(f"/api/v1/batches/{batch_id}/export?format=xlsx", headers=tokens("supervisor"))
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    as_json = bclient.get(f"/api/v1/batches/{batch_id}/export", headers=tokens("analyst")).json()
    assert as_json["masked"] is True and as_json["count"] == 1
    # Exporting is for the roles that may export at all.
    assert (
        bclient.get(f"/api/v1/batches/{batch_id}/export", headers=tokens("intake_officer")).status_code == 403
    )
    # The page's download is the same export for a signed-in supervisor.
    download = _signed_in(bclient, "supervisor").get(f"/batches/{batch_id}/export?format=csv")
    assert download.status_code == 200 and PHONE in download.content.decode("utf-8-sig")
    assert 'filename="batch-' in download.headers["content-disposition"]

    engine = make_engine(batch_settings.database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            events = list(
                session.scalars(
                    select(AuditEvent).where(
                        AuditEvent.action == "export", AuditEvent.object == f"batch:{batch_id}"
                    )
                )
            )
    finally:
        engine.dispose()
    seen = [(e.actor, e.details["format"], e.details["masked"], e.details["rows"]) for e in events]
    assert seen == [
        ("analyst", "csv", True, 1),
        ("supervisor", "jsonl", False, 2),
        ("supervisor", "xlsx", False, 2),
        ("analyst", "json", True, 1),
        ("supervisor", "csv", False, 2),
    ]


def _signed_in(client: TestClient, username: str) -> TestClient:
    page = TestClient(client.app, raise_server_exceptions=False)
    token = page.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    r = page.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return page


def _csrf(page: TestClient, path: str = "/batches") -> str:
    return page.get(path).text.split('name="csrf_token" value="')[1].split('"')[0]


def test_the_upload_page_records_a_batch_and_refuses_a_missing_csrf_token(
    bclient: TestClient, tokens: Callable[[str], dict[str, str]]
) -> None:
    page = _signed_in(bclient, "intake.officer")
    listing = page.get("/batches")
    assert listing.status_code == 200 and 'id="upload-form"' in listing.text
    files = [("files", ("来信.txt", ORDINARY_TEXT.encode(), "text/plain"))]
    refused = page.post("/batches", files=files, data={"csrf_token": "wrong"}, follow_redirects=False)
    assert refused.status_code == 403
    assert page.post("/batches", files=files, follow_redirects=False).status_code == 403
    assert bclient.get("/api/v1/batches", headers=tokens("intake_officer")).json()["count"] == 0

    r = page.post("/batches", files=files, data={"csrf_token": _csrf(page)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    batch_id = int(location.rsplit("/", 1)[1])
    shown = page.get(location)
    assert shown.status_code == 200 and "来信.txt" in shown.text and "data-progress-url=" in shown.text
    wait_done(bclient, tokens("intake_officer"), batch_id)
    progress = page.get(f"/batches/{batch_id}/progress").json()
    assert progress["state"] == "done" and progress["letters"] == 1
    # an analyst may look but not upload; a handler may not look
    assert _signed_in(bclient, "analyst").get(f"/batches/{batch_id}").status_code == 200
    assert _signed_in(bclient, "department.handler").get(f"/batches/{batch_id}").status_code == 403

    # Every file refused: nothing is kept and the page says why.
    bad = [("files", ("../x.txt", b"abc", "text/plain"))]
    r = page.post("/batches", files=bad, data={"csrf_token": _csrf(page)}, follow_redirects=False)
    assert r.status_code == 422 and "not allowed" in r.text


def test_resume_finishes_what_a_crash_left_without_duplicates(
    bclient: TestClient, tokens: Callable[[str], dict[str, str]], batch_settings: Settings, tmp_path: Path
) -> None:
    from intake.batch import BatchSummary, record_inputs
    from intake.readers import ReadLimits
    from store.files import claim_file

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i, text in enumerate((ORDINARY_TEXT, WAGES_TEXT, "物业不维修电梯，业主多次反映物业无人处理。")):
        (inbox / f"{i}.txt").write_text(text, encoding="utf-8")
    engine = make_engine(batch_settings.database_url)
    factory = make_session_factory(engine)
    summary = BatchSummary()
    ids = record_inputs(
        [inbox],
        session_factory=factory,
        storage_dir=Path(batch_settings.storage_dir),
        limits=ReadLimits(),
        actor="intake.officer",
        summary=summary,
    )
    batch_id = summary.batch_id
    assert batch_id is not None
    # A worker that died holding a claim: a process of this host that has ended.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    with session_scope(factory) as session:
        assert (
            claim_file(session, ids[0], worker=f"{socket.gethostname()}:{dead.stdout.strip()}:1") is not None
        )
    later = batches.dt.datetime.now(batches.dt.UTC) + batches.STARTUP_GRACE * 2
    with session_scope(factory) as session:
        stalled = batches.progress(
            session, batch_settings, _user(session, "intake.officer"), batch_id, now=later
        )
    assert stalled.state == "stalled" and stalled.pending == 3 and stalled.processing == 1

    r = bclient.post(f"/api/v1/batches/{batch_id}/resume", headers=tokens("intake_officer"))
    assert r.status_code == 202, r.text
    body = wait_done(bclient, tokens("intake_officer"), batch_id)
    assert (body["done"], body["failed"], body["letters"]) == (3, 0, 3)
    # Resuming a finished batch starts nothing and changes nothing.
    again = bclient.post(f"/api/v1/batches/{batch_id}/resume", headers=tokens("intake_officer"))
    assert again.status_code == 202 and again.json()["letters"] == 3
    with session_scope(factory) as session:
        per_file = session.execute(
            select(Letter.source_file_id, func.count()).group_by(Letter.source_file_id)
        ).all()
    engine.dispose()
    assert sorted(n for _, n in per_file) == [1, 1, 1]
    assert bclient.post("/api/v1/batches/999999/resume", headers=tokens("supervisor")).status_code == 404


def _user(session: Any, username: str) -> Any:
    from store.users import get_user

    return get_user(session, username)


def test_a_batch_over_the_batch_limit_is_refused_whole(
    database_url: str, tmp_path: Path, standin_router: Any, users: dict[str, str]
) -> None:
    settings = make_settings(
        database_url, storage_dir=tmp_path / "files", max_upload_bytes=100_000, max_batch_upload_bytes=300_000
    )
    with TestClient(create_app(settings, router=standin_router), raise_server_exceptions=False) as client:
        r = client.post("/api/v1/auth/token", data={"username": "intake.officer", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        # Each file is under the per-file limit; together they are over the batch limit.
        files = [("files", (f"{i}.txt", b"a" * 90_000, "text/plain")) for i in range(8)]
        r = client.post("/api/v1/batches", files=files, headers=headers)
        assert r.status_code == 413, r.text
        assert r.json()["ok"] is False and "XINFANG_MAX_BATCH_UPLOAD_BYTES" in r.json()["error"]
        # A single letter upload keeps the smaller limit of its own.
        one = [("file", ("a.txt", b"a" * 400_000, "text/plain"))]
        assert client.post("/api/v1/letters/file", files=one, headers=headers).status_code == 413
        assert client.post("/api/v1/batches", files=[], headers=headers).status_code == 422
    assert not (tmp_path / "files").exists() or not any((tmp_path / "files").rglob("*.txt"))


def test_who_may_see_resume_and_export_a_real_batch(
    bclient: TestClient, tokens: Callable[[str], dict[str, str]]
) -> None:
    files = [("files", ("来信.txt", ORDINARY_TEXT.encode(), "text/plain"))]
    r = bclient.post("/api/v1/batches", files=files, headers=tokens("supervisor"))
    assert r.status_code == 202, r.text
    batch_id = r.json()["batch_id"]
    wait_done(bclient, tokens("supervisor"), batch_id)
    see = {"intake_officer": 200, "supervisor": 200, "analyst": 200}
    resume = {"intake_officer": 202, "supervisor": 202}
    export = {"supervisor": 200, "analyst": 200}
    got: dict[str, tuple[int, int, int, int]] = {}
    want: dict[str, tuple[int, int, int, int]] = {}
    for role in ("intake_officer", "supervisor", "analyst", "administrator", "department_handler",
                 "discipline_inspector"):  # fmt: skip
        h = tokens(role)
        got[role] = (
            bclient.get(f"/api/v1/batches/{batch_id}", headers=h).status_code,
            bclient.get("/api/v1/batches", headers=h).status_code,
            bclient.post(f"/api/v1/batches/{batch_id}/resume", headers=h).status_code,
            bclient.get(f"/api/v1/batches/{batch_id}/export", headers=h).status_code,
        )
        want[role] = (see.get(role, 403), see.get(role, 403), resume.get(role, 403), export.get(role, 403))
    assert got == want
    anonymous = bclient.get(f"/api/v1/batches/{batch_id}")
    assert anonymous.status_code == 401 and anonymous.json()["ok"] is False
    assert bclient.get("/api/v1/batches/999999", headers=tokens("supervisor")).json()["status"] == 404


@pytest.mark.slow
@needs_chromium
def test_browser_uploads_a_file_and_watches_the_batch_finish(
    batch_settings: Settings, standin_router: Any, users: dict[str, str], tmp_path: Path
) -> None:
    """Debian's Chromium (Playwright) uploads through the page; the page polls until the batch is done."""
    letter = tmp_path / "来信一.txt"
    letter.write_text(WAGES_TEXT, encoding="utf-8")
    try:
        with (
            serve(create_app(batch_settings, router=standin_router)) as base,
            chromium() as browser,
            open_page(browser, allow=base, timeout_ms=20_000) as page,
        ):
            sign_in(page, base, "intake.officer")
            page.click("text=批量录入")
            page.wait_for_url(f"{base}/batches")
            page.set_input_files("#files", str(letter))
            shot(page, "batch-upload")
            page.click("#upload")
            page.wait_for_url(f"{base}/batches/*")
            # The page updates itself from /batches/{id}/progress; nobody reloads it.
            page.wait_for_selector("#batch[data-state='done']", state="attached", timeout=180_000)
            assert page.inner_text("#state") == "已完成"
            assert page.inner_text("#count-done") == "1" and page.inner_text("#count-letters") == "1"
            link = page.locator("#file-rows a").first
            case = link.inner_text()
            assert case.startswith("XF-")
            shot(page, "batch-done")
            link.click()
            page.wait_for_url(f"{base}/letters/{case}")
            assert "拖欠工资" in page.inner_text("#letter-text")
    finally:
        batches.stop_workers(grace=10)


def test_a_worker_killed_mid_batch_is_resumed_without_duplicates(
    bclient: TestClient, tokens: Callable[[str], dict[str, str]], batch_settings: Settings
) -> None:
    """kill -9 of the web upload's worker while it holds a file, then the resume action."""
    import os
    import signal

    officer = tokens("intake_officer")
    texts = [f"第{i}号来信：小区物业乱收费，每月多收{i}元停车费，请求退还。" for i in range(120)]
    files = [("files", (f"{i:03d}.txt", text.encode(), "text/plain")) for i, text in enumerate(texts)]
    r = bclient.post("/api/v1/batches", files=files, headers=officer)
    assert r.status_code == 202, r.text
    batch_id = r.json()["batch_id"]
    engine = make_engine(batch_settings.database_url)
    factory = make_session_factory(engine)
    owner = None
    deadline = time.monotonic() + 120
    while owner is None:
        assert time.monotonic() < deadline, "the worker never claimed a file"
        with session_scope(factory) as session:
            owner = session.scalar(
                select(SourceFile.claimed_by).where(
                    SourceFile.batch_id == batch_id, SourceFile.status == "processing"
                )
            )
        time.sleep(0.01)
    os.kill(int(owner.split(":")[-2]), signal.SIGKILL)
    time.sleep(0.5)
    killed = bclient.get(f"/api/v1/batches/{batch_id}", headers=officer).json()
    assert killed["pending"] > 0, "the batch finished before the kill; give it more files"

    assert bclient.post(f"/api/v1/batches/{batch_id}/resume", headers=officer).status_code == 202
    body = wait_done(bclient, officer, batch_id)
    assert (body["done"], body["failed"], body["letters"]) == (120, 0, 120)
    with session_scope(factory) as session:
        per_file = session.execute(
            select(Letter.source_file_id, func.count()).group_by(Letter.source_file_id)
        ).all()
        attempts = session.scalar(
            select(func.max(SourceFile.attempts)).where(SourceFile.batch_id == batch_id)
        )
    engine.dispose()
    assert len(per_file) == 120 and {n for _, n in per_file} == {1}
    assert attempts == 2  # the file the worker died on was claimed again, once


def test_an_upload_with_nothing_to_keep_says_why_in_chinese(
    bclient: TestClient, tokens: Callable[[str], dict[str, str]]
) -> None:
    r = bclient.post(
        "/api/v1/batches",
        files=[("files", ("太大.txt", b"a" * (MAX_FILE + 1), "text/plain"))],
        headers=tokens("intake_officer"),
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith("没有接收任何文件：太大.txt：超过每个文件 4 MB 的上限")
    page = _signed_in(bclient, "intake.officer")
    empty = page.post("/batches", data={"csrf_token": _csrf(page)})
    assert empty.status_code == 422 and "上传中没有文件：请选择一个或多个来信文件" in empty.text
