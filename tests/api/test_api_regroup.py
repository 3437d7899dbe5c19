"""Splitting and merging letters through the API and the pages: who may, what each letter becomes,
and that a part of a confidential letter never becomes readable to a role that could not read it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from web_factories import ACCUSATION_TEXT, ORDINARY_TEXT, PASSWORD, letter_payload

Auth = Callable[[str], dict[str, str]]
WAGES = "另外，公司拖欠工资三个月，请求督促发放。"


def _register(client: TestClient, auth: dict[str, str], text: str, **fields: Any) -> dict[str, Any]:
    # a neutral title: both parts of a split keep it, and it must not route them
    fields.setdefault("title", "来信")
    r = client.post("/api/v1/letters", json=letter_payload(text, **fields), headers=auth)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _letter(client: TestClient, auth: dict[str, str], case: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/letters/{case}", headers=auth)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_split_gives_the_second_matter_its_own_case_number_and_route(
    client: TestClient, token_for: Auth
) -> None:
    officer = token_for("intake_officer")
    letter = _register(client, officer, ORDINARY_TEXT + "\n\n" + WAGES, received_on="2026-11-20")["letter"]
    assert letter["proposal"]["department"]["label"] == "housing"

    r = client.post(
        f"/api/v1/letters/{letter['case_number']}/split",
        json={"letter_version": letter["version"], "at": len(ORDINARY_TEXT) + 2, "reason": "两件事项"},
        headers=officer,
    )

    assert r.status_code == 201, r.text
    first, second = r.json()["data"]
    assert first["case_number"] == letter["case_number"] and first["text"] == ORDINARY_TEXT
    assert second["case_number"] != letter["case_number"] and second["text"] == WAGES
    assert second["received_on"] == "2026-11-20"
    # each part routed on its own text
    assert first["proposal"]["department"]["label"] == "housing"
    assert second["proposal"]["department"]["label"] == "hr_social_security"
    assert first["version"] > letter["version"]
    queue = client.get("/api/v1/letters", headers=officer).json()
    assert {letter["case_number"], second["case_number"]} <= {i["case_number"] for i in queue["data"]}
    audit = client.get("/api/v1/audit", headers=token_for("supervisor")).json()["data"]
    [event] = [e for e in audit if e["action"] == "split_letter"]
    assert event["details"]["new_case_number"] == second["case_number"]


def test_both_parts_of_a_confidential_letter_stay_confidential(client: TestClient, token_for: Auth) -> None:
    supervisor = token_for("supervisor")
    receipt = _register(client, supervisor, ACCUSATION_TEXT + "\n\n" + ORDINARY_TEXT)
    assert receipt["confidential"] is True
    letter = receipt["letter"]
    # an intake officer cannot even find it, so cannot split it
    r = client.post(
        f"/api/v1/letters/{letter['case_number']}/split",
        json={"letter_version": letter["version"], "at": len(ACCUSATION_TEXT) + 2, "reason": "两件事项"},
        headers=token_for("intake_officer"),
    )
    assert r.status_code == 404

    r = client.post(
        f"/api/v1/letters/{letter['case_number']}/split",
        json={"letter_version": letter["version"], "at": len(ACCUSATION_TEXT) + 2, "reason": "两件事项"},
        headers=supervisor,
    )
    assert r.status_code == 201, r.text
    parts = r.json()["data"]
    # The ordinary-looking second part would not be confidential on its own text; it stays so,
    # because it came out of an accusation.
    assert [p["confidential"] for p in parts] == [True, True]
    for part in parts:
        assert (
            client.get(
                f"/api/v1/letters/{part['case_number']}", headers=token_for("intake_officer")
            ).status_code
            == 404
        )
        assert (
            client.get(f"/api/v1/letters/{part['case_number']}", headers=token_for("analyst")).status_code
            == 404
        )


def test_merge_moves_the_text_and_keeps_the_merged_letter_on_record(
    client: TestClient, token_for: Auth
) -> None:
    officer = token_for("intake_officer")
    keep = _register(client, officer, ORDINARY_TEXT, received_on="2026-11-25")["letter"]
    rest = _register(client, officer, "（续）上次来信的补充材料：收费单据三张。", received_on="2026-11-21")[
        "letter"
    ]

    r = client.post(
        f"/api/v1/letters/{keep['case_number']}/merge",
        json={
            "letter_version": keep["version"],
            "other_case_number": rest["case_number"],
            "other_version": rest["version"],
            "reason": "同一来信的后续页",
        },
        headers=officer,
    )

    assert r.status_code == 200, r.text
    kept = r.json()
    assert kept["text"].startswith(ORDINARY_TEXT) and kept["text"].endswith("收费单据三张。")
    assert kept["received_on"] == "2026-11-21"  # the earlier clock
    merged = _letter(client, officer, rest["case_number"])
    assert merged["status"] == "merged" and merged["merged_into"] == keep["case_number"]
    queue = {i["case_number"] for i in client.get("/api/v1/letters", headers=officer).json()["data"]}
    assert keep["case_number"] in queue and rest["case_number"] not in queue


def test_merging_an_accusation_into_an_ordinary_letter_makes_it_confidential(
    client: TestClient, token_for: Auth
) -> None:
    supervisor = token_for("supervisor")
    keep = _register(client, supervisor, ORDINARY_TEXT)["letter"]
    accusation = _register(client, supervisor, ACCUSATION_TEXT)["letter"]
    r = client.post(
        f"/api/v1/letters/{keep['case_number']}/merge",
        json={
            "letter_version": keep["version"],
            "other_case_number": accusation["case_number"],
            "other_version": accusation["version"],
            "reason": "同一来信",
        },
        headers=supervisor,
    )
    assert r.status_code == 200, r.text
    assert r.json()["confidential"] is True
    assert (
        client.get(f"/api/v1/letters/{keep['case_number']}", headers=token_for("intake_officer")).status_code
        == 404
    )


def test_stale_or_decided_letters_are_refused_with_what_to_do(client: TestClient, token_for: Auth) -> None:
    officer = token_for("intake_officer")
    letter = _register(client, officer, ORDINARY_TEXT + "\n\n" + WAGES)["letter"]
    body = {"letter_version": letter["version"] - 1 or 99, "at": len(ORDINARY_TEXT) + 2, "reason": "两件事项"}
    r = client.post(f"/api/v1/letters/{letter['case_number']}/split", json=body, headers=officer)
    assert r.status_code == 409 and "reload" in r.json()["error"].lower()

    decided = client.post(
        f"/api/v1/letters/{letter['case_number']}/decisions",
        json={"proposal_id": letter["proposal"]["id"], "letter_version": letter["version"]},
        headers=officer,
    )
    assert decided.status_code == 201, decided.text
    current = _letter(client, officer, letter["case_number"])
    body = {"letter_version": current["version"], "at": len(ORDINARY_TEXT) + 2, "reason": "两件事项"}
    r = client.post(f"/api/v1/letters/{letter['case_number']}/split", json=body, headers=officer)
    assert r.status_code == 409 and "only pending" in r.json()["error"]
    assert _letter(client, officer, letter["case_number"])["text"] == ORDINARY_TEXT + "\n\n" + WAGES

    r = client.post(
        f"/api/v1/letters/{letter['case_number']}/split",
        json={"letter_version": current["version"], "at": 3, "reason": "   "},
        headers=officer,
    )
    assert r.status_code == 422


def _sign_in(client: TestClient, username: str) -> str:
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    r = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    home = client.get("/letters/new").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home)
    assert csrf
    return csrf.group(1)


def test_a_letter_read_as_several_matters_offers_the_split_with_the_reason(
    client: TestClient, token_for: Auth
) -> None:
    officer = token_for("intake_officer")
    several = _register(client, officer, ORDINARY_TEXT + "\n\n还有一件事，" + WAGES)["letter"]
    single = _register(client, officer, ORDINARY_TEXT)["letter"]
    assert "possibly_multiple_matters" in {r["code"] for r in several["proposal"]["review_reasons"]}
    _sign_in(client, "intake.officer")

    page = client.get(f"/letters/{several['case_number']}").text
    alert = re.search(r'<div class="alert review" id="several-matters">(.*?)</div>', page, re.S)
    assert alert and "第二十四条" in alert.group(1)
    assert f'href="/letters/{several["case_number"]}/regroup" id="regroup-link"' in alert.group(1)
    plain = client.get(f"/letters/{single['case_number']}").text
    assert 'id="several-matters"' not in plain and 'id="regroup-link"' in plain


def test_the_page_offers_paragraphs_and_merges_after_a_preview(client: TestClient, token_for: Auth) -> None:
    officer = token_for("intake_officer")
    letter = _register(client, officer, ORDINARY_TEXT + "\n\n" + WAGES)["letter"]
    other = _register(client, officer, "补充：物业收费单据。")["letter"]
    csrf = _sign_in(client, "intake.officer")

    page = client.get(f"/letters/{letter['case_number']}/regroup")
    assert page.status_code == 200
    offsets = re.findall(r'name="at" value="(\d+)"', page.text)
    assert offsets == [str(len(ORDINARY_TEXT) + 2)]  # one choice: the second paragraph

    refused = client.post(
        f"/letters/{letter['case_number']}/split",
        data={"csrf_token": csrf, "letter_version": letter["version"], "at": offsets[0], "reason": ""},
    )
    assert refused.status_code == 422 and "reason" in refused.text

    done = client.post(
        f"/letters/{letter['case_number']}/split",
        data={
            "csrf_token": csrf,
            "letter_version": letter["version"],
            "at": offsets[0],
            "reason": "两件事项",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    new_case = done.headers["location"].rsplit("/", 1)[1]
    # (the letter page marks words inside the text, so look for a stretch without any)
    assert "请求督促发放" in client.get(f"/letters/{new_case}").text

    current = _letter(client, officer, letter["case_number"])
    preview = client.get(f"/letters/{letter['case_number']}/regroup", params={"merge": other["case_number"]})
    assert preview.status_code == 200 and "补充：物业收费单据。" in preview.text
    versions = re.findall(r'name="(letter_version|other_version)" value="(\d+)"', preview.text)
    assert ("other_version", str(other["version"])) in versions
    merged = client.post(
        f"/letters/{letter['case_number']}/merge",
        data={
            "csrf_token": csrf,
            "letter_version": current["version"],
            "other_case_number": other["case_number"],
            "other_version": other["version"],
            "reason": "同一来信",
        },
        follow_redirects=False,
    )
    assert merged.status_code == 303
    assert _letter(client, officer, other["case_number"])["status"] == "merged"
    assert "已合并" in client.get(f"/letters/{other['case_number']}").text


def test_split_points_are_paragraph_starts_whatever_the_line_breaks() -> None:
    from api.pages.regroup import paragraphs

    # a textarea sends CRLF; a full-width space often indents a Chinese paragraph
    text = "第一段。\r\n\r\n\u3000\u3000第二段，\r\n续行。\n\n\n第三段。"
    found = paragraphs(text)
    assert [p for _, p in found] == ["第一段。", "第二段，\r\n续行。", "第三段。"]
    assert [text[offset:].lstrip()[:3] for offset, _ in found] == ["第一段", "第二段", "第三段"]
