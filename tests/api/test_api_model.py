"""The web layer on the real pipeline: a ``routing.router.Router`` trained small, end to end."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_factories import (
    ACCUSATION_TEXT,
    ARBITRATION_TEXT,
    ORDINARY_TEXT,
    PASSWORD,
    letter_payload,
    make_settings,
)

from api.app import create_app
from routing.schemas import Letter


@pytest.fixture
def model_client(database_url: str, tiny_router: Any, users: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(database_url), router=tiny_router)) as c:
        yield c


def bearer(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_stored_proposal_is_the_router_s_proposal(model_client: TestClient, tiny_router: Any) -> None:
    h = bearer(model_client, "intake.officer")
    case = model_client.post("/api/v1/letters", json=letter_payload(text=ARBITRATION_TEXT), headers=h).json()[
        "case_number"
    ]
    shown = model_client.get(f"/api/v1/letters/{case}", headers=h).json()["proposal"]
    direct = tiny_router.propose(
        Letter(title=letter_payload()["title"], text=ARBITRATION_TEXT, received_on=dt.date(2026, 11, 2))
    )
    assert shown["department"]["label"] == direct.department.label == "hr_social_security"
    assert shown["channel"] == direct.channel == "arbitration"
    assert shown["model_version"] == "tiny-test"
    # Deadlines are displayed as the pipeline computed them, working-day calendar and all.
    assert [(d["code"], d["due"]) for d in shown["deadlines"]] == [
        (d.code, d.due.isoformat() if d.due else None) for d in direct.deadlines
    ]
    assert shown["evidence"]["department"][0]["feature"] == direct.evidence["department"][0].feature


def test_accusation_from_the_model_is_confidential(model_client: TestClient) -> None:
    receipt = model_client.post(
        "/api/v1/letters",
        json=letter_payload(text=ACCUSATION_TEXT),
        headers=bearer(model_client, "intake.officer"),
    ).json()
    assert receipt["confidential"] is True and receipt["letter"] is None
    inspector = bearer(model_client, "discipline.inspector")
    letter = model_client.get(f"/api/v1/letters/{receipt['case_number']}", headers=inspector).json()
    assert letter["proposal"]["category"]["label"] == "accusation"
    assert letter["particulars"]["petitioner_name"] == "张三丰"


def test_letter_page_marks_the_model_s_strongest_words(model_client: TestClient) -> None:
    h = bearer(model_client, "intake.officer")
    case = model_client.post("/api/v1/letters", json=letter_payload(text=ORDINARY_TEXT), headers=h).json()[
        "case_number"
    ]
    page = model_client.get("/login").text
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    model_client.post("/login", data={"username": "intake.officer", "password": PASSWORD, "csrf_token": csrf})
    html = model_client.get(f"/letters/{case}").text
    words = model_client.get(f"/api/v1/letters/{case}", headers=h).json()["proposal"]["evidence"][
        "department"
    ]
    top = words[0]["feature"].split(":", 1)[1]
    assert f'<mark class="word">{top}</mark>' in html  # listed under 模型最看重的词
    assert f'word">{top}' in html.split('id="letter-text"')[1]  # and marked in the letter itself
