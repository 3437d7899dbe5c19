"""The batch page's progress: how many files are read, how fast, and how long the rest will take.

The batch is built in the database as a worker leaves it half way (two files read in two minutes
each, one being read by a live worker, one waiting), so the numbers are known exactly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_factories import PASSWORD

from intake.batch import worker_name
from store.files import claim_file, create_batch, mark_file_done, record_source_file

both = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


def _half_read_batch(app: Any, now: dt.datetime) -> int:
    from store.db import session_scope

    with session_scope(app.state.session_factory) as session:
        batch = create_batch(session, created_by="intake.officer", now=now - dt.timedelta(minutes=10))
        ids = []
        for n in range(4):
            row, _ = record_source_file(
                session,
                sha256=hashlib.sha256(f"file {n}".encode()).hexdigest(),
                original_name=f"来信{n}.txt",
                media_type="text/plain",
                size_bytes=10,
                stored_path=f"x/{n}",
                batch_id=batch.id,
                now=now - dt.timedelta(minutes=10),
            )
            ids.append(row.id)
        # two files read, each in 120 s from its claim: 0.5 files a minute
        for n, started in ((0, 8), (1, 6)):
            at = now - dt.timedelta(minutes=started)
            claim_file(session, ids[n], worker=worker_name(), now=at)
            mark_file_done(session, ids[n], pages=1, now=at + dt.timedelta(seconds=120))
        # one under way for 5 s by this (live) process, one waiting
        claim_file(session, ids[2], worker=worker_name(), now=now - dt.timedelta(seconds=5))
        return int(batch.id)


def _signed_in(app: Any, username: str) -> TestClient:
    page = TestClient(app, raise_server_exceptions=False)
    token = page.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    r = page.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return page


@both
def test_the_batch_page_shows_count_rate_and_time_left(app: Any, client: TestClient) -> None:
    built_at = dt.datetime.now(dt.UTC)
    batch_id = _half_read_batch(app, built_at)
    page = _signed_in(app, "intake.officer")

    progress = page.get(f"/batches/{batch_id}/progress").json()
    # the file under way keeps running while the test signs in, which takes seconds on a loaded machine
    under_way = 5 + (dt.datetime.now(dt.UTC) - built_at).total_seconds()
    assert progress["state"] == "running" and progress["files_per_minute"] == 0.5
    # two files left at 120 s each, less the time the one under way has had
    assert 240 - under_way - 0.5 <= progress["eta_seconds"] <= 235 + 0.5

    html = page.get(f"/batches/{batch_id}").text
    assert '<strong id="count-processed">2</strong> / <span id="count-total">4</span> 个文件已处理' in html
    assert '（<span id="percent">50</span>%）' in html
    assert "每分钟约 0.5 个文件" in html and "预计还需约 4 分钟" in html
    assert '<div class="batch-progress">' in html  # the bar spans the card (app.css)
    # the officers' word for a proposal to check by hand; 复核 is the statutory review (第三十六条)
    assert "待人工核查" in html and "需复核" not in html
