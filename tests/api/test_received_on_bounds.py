"""A day of receipt before 1990 (year 0001 was accepted) is refused wherever a letter enters: the
JSON API, an uploaded file, the registration page, a batch upload and its page (the CLI's
``--received-on`` is pinned in test_cli_route.py and tests/intake/test_batch.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_api_pages import csrf_of, sign_in
from web_factories import ORDINARY_TEXT, PASSWORD, letter_payload, make_settings

from api.app import create_app

TOO_EARLY = ["0001-01-01", "1026-03-01", "1989-12-31"]


@pytest.mark.parametrize("day", TOO_EARLY)
def test_the_api_refuses_a_day_before_1990(client: TestClient, token_for: Any, day: str) -> None:
    h = token_for("intake_officer")
    r = client.post("/api/v1/letters", json=letter_payload(received_on=day), headers=h)
    assert r.status_code == 422, r.text
    assert f"{day} 早于 1990-01-01，请核对年份" in r.text
    upload = client.post(
        "/api/v1/letters/file",
        files={"file": ("来信.txt", ORDINARY_TEXT.encode(), "text/plain")},
        data={"received_on": day},
        headers=h,
    )
    assert upload.status_code == 422 and "早于 1990-01-01" in upload.text
    assert client.get("/api/v1/letters", headers=h).json()["count"] == 0


def test_the_first_day_allowed_is_1990_01_01(client: TestClient, token_for: Any) -> None:
    h = token_for("intake_officer")
    r = client.post("/api/v1/letters", json=letter_payload(received_on="1990-01-01"), headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["letter"]["received_on"] == "1990-01-01"


def test_the_registration_page_refuses_it_in_words(client: TestClient) -> None:
    sign_in(client, "intake_officer")
    data = letter_payload(received_on="0001-01-01")
    data["csrf_token"] = csrf_of(client, "/letters/new")
    r = client.post("/letters/new", data=data, follow_redirects=False)
    assert r.status_code == 422 and "0001-01-01 早于 1990-01-01" in r.text


def test_a_batch_upload_refuses_it_before_keeping_anything(
    database_url: str, standin_router: Any, users: dict[str, str], tmp_path: Path
) -> None:
    storage = tmp_path / "files"
    settings = make_settings(database_url, storage_dir=storage)
    with TestClient(create_app(settings, router=standin_router), raise_server_exceptions=False) as c:
        token = c.post(
            "/api/v1/auth/token", data={"username": users["intake_officer"], "password": PASSWORD}
        ).json()["access_token"]
        files = [("files", ("来信.txt", ORDINARY_TEXT.encode(), "text/plain"))]
        r = c.post(
            "/api/v1/batches",
            files=files,
            data={"received_on": "0001-01-01"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 422 and "早于 1990-01-01" in r.json()["error"]
        sign_in(c, "intake_officer")
        page = c.post(
            "/batches",
            files=files,
            data={"received_on": "1989-12-31", "csrf_token": csrf_of(c, "/batches")},
            follow_redirects=False,
        )
        assert page.status_code == 422 and "1989-12-31 早于 1990-01-01" in page.text
    assert not storage.exists() or not any(storage.rglob("*.txt"))
