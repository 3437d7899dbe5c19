"""The main path through the JSON API: sign in, register, read the proposal, decide, conflict."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_factories import ACCUSATION_TEXT, ARBITRATION_TEXT, letter_payload

# The main path runs on SQLite and, when DATABASE_URL points at PostgreSQL, on PostgreSQL too.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


def register(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    r = client.post("/api/v1/letters", json=letter_payload(**fields), headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_register_read_and_decide(client: TestClient, token_for: Any) -> None:
    officer = token_for("intake_officer")
    receipt = register(client, officer)
    assert receipt["readable"] is True and receipt["confidential"] is False
    case = receipt["case_number"]
    assert case.startswith("XF-")
    letter = client.get(f"/api/v1/letters/{case}", headers=officer).json()
    p = letter["proposal"]
    assert p["department"]["label"] == "housing"
    assert len(p["department"]["top"]) == 3
    assert p["deadlines"][0]["due"] == "2026-11-17"  # shown as the pipeline computed it
    assert letter["particulars"]["petitioner_name"] == "张三丰"  # the intake officer needs it
    r = client.post(
        f"/api/v1/letters/{case}/decisions",
        headers=officer,
        json={
            "proposal_id": p["id"],
            "letter_version": letter["version"],
            "department": "urban_management",
            "reason": "属违章搭建问题，由城管执法局处理",
        },
    )
    assert r.status_code == 201, r.text
    decision = r.json()
    assert decision["agreed_with_proposal"] is False
    assert decision["changed_fields"] == ["department"]
    assert decision["department_name"] == "城市管理和综合执法局"
    after = client.get(f"/api/v1/letters/{case}", headers=officer).json()
    assert after["status"] == "decided"
    assert after["proposal"]["id"] == p["id"]  # the proposal is kept as it was
    assert after["proposal"]["department"]["label"] == "housing"
    assert [d["id"] for d in after["decisions"]] == [decision["id"]]


def test_correction_without_reason_is_refused_and_nothing_stored(client: TestClient, token_for: Any) -> None:
    officer = token_for("intake_officer")
    case = register(client, officer)["case_number"]
    letter = client.get(f"/api/v1/letters/{case}", headers=officer).json()
    r = client.post(
        f"/api/v1/letters/{case}/decisions",
        headers=officer,
        json={
            "proposal_id": letter["proposal"]["id"],
            "letter_version": letter["version"],
            "department": "transport",
        },
    )
    assert r.status_code == 422
    assert "理由" in r.json()["error"] and "交通运输局" in r.json()["error"]
    assert client.get(f"/api/v1/letters/{case}/decisions", headers=officer).json()["count"] == 0


def test_stale_version_gets_409(client: TestClient, token_for: Any) -> None:
    officer, supervisor = token_for("intake_officer"), token_for("supervisor")
    case = register(client, officer)["case_number"]
    letter = client.get(f"/api/v1/letters/{case}", headers=officer).json()
    body = {"proposal_id": letter["proposal"]["id"], "letter_version": letter["version"]}
    assert client.post(f"/api/v1/letters/{case}/decisions", headers=supervisor, json=body).status_code == 201
    r = client.post(f"/api/v1/letters/{case}/decisions", headers=officer, json=body)
    assert r.status_code == 409
    assert r.json()["ok"] is False and "changed by someone else" in r.json()["error"]
    assert client.get(f"/api/v1/letters/{case}/decisions", headers=officer).json()["count"] == 1


def test_rule_hits_carry_offsets_into_the_text(client: TestClient, token_for: Any) -> None:
    officer = token_for("intake_officer")
    case = register(client, officer, text=ARBITRATION_TEXT)["case_number"]
    p = client.get(f"/api/v1/letters/{case}", headers=officer).json()["proposal"]
    hit = next(h for h in p["rule_hits"] if h["field"] == "text")
    assert ARBITRATION_TEXT[hit["start"] : hit["end"]] == hit["matched"]
    assert p["channel"] == "arbitration"


def test_accusation_receipt_hides_the_letter_from_the_registering_officer(
    client: TestClient, token_for: Any
) -> None:
    officer = token_for("intake_officer")
    receipt = register(client, officer, text=ACCUSATION_TEXT)
    assert receipt == {
        "case_number": receipt["case_number"],
        "status": "pending",
        "confidential": True,
        "readable": False,
        "letter": None,
        "earlier": [],  # the petitioner wrote nothing before
    }
    assert client.get(f"/api/v1/letters/{receipt['case_number']}", headers=officer).status_code == 404


def test_queue_filters_and_counts(client: TestClient, token_for: Any) -> None:
    officer = token_for("intake_officer")
    register(client, officer)
    register(client, officer, text=ARBITRATION_TEXT, form="online")
    register(client, officer, text=ACCUSATION_TEXT)
    q = client.get("/api/v1/letters", headers=officer).json()
    assert q["count"] == 2  # the accusation is not in an intake officer's queue
    assert client.get("/api/v1/letters?form=online", headers=officer).json()["count"] == 1
    overdue = client.get("/api/v1/letters?overdue=true", headers=officer).json()
    assert overdue["count"] == overdue["counts"]["overdue"]
    sup = client.get("/api/v1/letters", headers=token_for("supervisor")).json()
    assert sup["count"] == 3 and sup["counts"]["confidential"] == 1
    assert "text" not in sup["data"][0] and "petitioner_name" not in sup["data"][0]


def test_two_officers_deciding_at_once_exactly_one_wins(client: TestClient, app: Any, token_for: Any) -> None:
    import threading

    officer, supervisor = token_for("intake_officer"), token_for("supervisor")
    case = register(client, officer)["case_number"]
    letter = client.get(f"/api/v1/letters/{case}", headers=officer).json()
    body = {"proposal_id": letter["proposal"]["id"], "letter_version": letter["version"]}
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def decide(headers: dict[str, str]) -> None:
        with TestClient(app) as own:  # its own event loop and connection, as a second browser would have
            barrier.wait(timeout=120)  # each client starts the app first; on a loaded host that takes a while
            statuses.append(
                own.post(f"/api/v1/letters/{case}/decisions", headers=headers, json=body).status_code
            )

    threads = [threading.Thread(target=decide, args=(h,)) for h in (officer, supervisor)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert sorted(statuses) == [201, 409]
    assert client.get(f"/api/v1/letters/{case}/decisions", headers=officer).json()["count"] == 1
