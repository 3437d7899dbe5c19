"""What an officer reads on the queue and the letter pages: Chinese, names rather than codes.

Every state a letter page can be in is rendered (proposed, held for review, confidential, unreadable,
decided and corrected, refused) with each role that opens it, and the visible text is scanned for
ASCII words (``tests/api/page_text.py``). The only ones allowed are the names of text encodings on
the registration form and the model's version, which is the name analysts give a model.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from page_text import code_words, visible_text
from sqlalchemy import update
from web_factories import ACCUSATION_TEXT, ARBITRATION_TEXT, PASSWORD, letter_payload

from store.db import session_scope
from store.models import User

# File formats and encodings the registration form names for an uploaded text file.
FORMATS = {"UTF-8", "GB18030", "txt", "MB"}
DISPLAY_NAMES = {
    "intake.officer": "李接待",
    "supervisor": "王科长",
    "analyst": "周统计",
    "department.handler": "赵经办",
    "discipline.inspector": "钱纪检",
}


def csrf_of(client: TestClient, path: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found is not None, path
    return found.group(1)


def sign_in(client: TestClient, username: str) -> None:
    data = {"username": username, "password": PASSWORD, "csrf_token": csrf_of(client)}
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text


def register(client: TestClient, **fields: Any) -> str:
    data = {**letter_payload(**fields), "csrf_token": csrf_of(client, "/letters/new")}
    r = client.post("/letters/new", data=data, follow_redirects=False)
    assert r.status_code in (201, 303), r.text
    found = re.search(r"XF-\d{4}-\d+", r.headers.get("location", "") or r.text)
    assert found is not None
    return found.group()


def decide(client: TestClient, case: str, **fields: str) -> Any:
    html = client.get(f"/letters/{case}").text
    proposal = re.search(r'name="proposal_id" value="(\d+)"', html)
    version = re.search(r'name="letter_version" value="(\d+)"', html)
    assert proposal is not None and version is not None
    data = {
        "csrf_token": csrf_of(client, f"/letters/{case}"),
        "proposal_id": proposal.group(1),
        "letter_version": version.group(1),
        **fields,
    }
    return client.post(f"/letters/{case}/decide", data=data, follow_redirects=False)


@pytest.fixture
def officers(app: Any) -> None:
    """The test accounts with the names colleagues know them by."""
    with session_scope(app.state.session_factory) as session:
        for username, name in DISPLAY_NAMES.items():
            session.execute(update(User).where(User.username == username).values(display_name=name))


def assert_chinese(html: str, where: str, allowed: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    leaks = code_words(html, FORMATS | {"standin-0"} | allowed)
    assert not leaks, f"{where} shows {sorted(leaks)}: {visible_text(html)[:2000]}"


def test_queue_and_letter_pages_speak_chinese_and_use_names(
    client: TestClient, app: Any, officers: None
) -> None:
    sign_in(client, "supervisor")
    ordinary = register(client)
    wages = register(client, text=ARBITRATION_TEXT, title="欠薪")
    accusation = register(client, text=ACCUSATION_TEXT)
    unreadable = register(client, text="abc def", title="")
    pages = {
        "queue": "/",
        "queue, all": "/?status=all",
        "queue, review only": "/?needs_review=true&status=all",
        "register form": "/letters/new",
        "letter": f"/letters/{ordinary}",
        "letter with a statutory route": f"/letters/{wages}",
        "accusation": f"/letters/{accusation}",
        "unreadable letter": f"/letters/{unreadable}",
        "unknown case number": "/letters/XF-2026-999999",
        "malformed case number": "/letters/abc",
    }
    for where, path in pages.items():
        allowed = {"abc", "def"} if where == "unreadable letter" else set()  # the letter's own text
        if where == "malformed case number":
            allowed = {"abc"}  # quoted back as typed
        assert_chinese(client.get(path).text, where, allowed)

    # Refusals on the decision form: a correction without a reason, a choice not on the list.
    r = decide(client, ordinary, action="correct", department="urban_management")
    assert r.status_code == 422 and "城市管理和综合执法局" in visible_text(r.text)
    assert_chinese(r.text, "correction without a reason")
    r = decide(client, ordinary, action="correct", category="complaint", reason="改类")
    assert r.status_code == 422 and "类别的取值无效" in visible_text(r.text)
    assert_chinese(r.text, "a choice not on the list")
    # A registration refused by its form.
    data = {
        **letter_payload(received_on="2026-13-01", visitors="3"),
        "csrf_token": csrf_of(client, "/letters/new"),
    }
    r = client.post("/letters/new", data=data)
    assert r.status_code == 422 and "收到日期" in visible_text(r.text)
    assert_chinese(r.text, "registration refused")

    # Decided, then corrected: the decision and the history name people and departments.
    assert (
        decide(
            client, ordinary, action="correct", department="urban_management", reason="违建归城管"
        ).status_code
        == 303
    )
    assert (
        decide(client, ordinary, action="correct", department="housing", reason="物业归住建").status_code
        == 303
    )
    html = client.get(f"/letters/{ordinary}").text
    assert "王科长" in visible_text(html) and "住房和城乡建设局" in visible_text(html)
    assert_chinese(html, "corrected letter")

    # Other roles: the handler's header names the department, refusals are Chinese.
    client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    sign_in(client, "department.handler")
    html = client.get("/?status=all").text
    assert "赵经办（承办单位人员 · 住房和城乡建设局）" in visible_text(html)
    assert_chinese(html, "handler's queue")
    assert_chinese(client.get(f"/letters/{ordinary}").text, "handler's letter")
    r = client.get(f"/letters/{accusation}")
    assert r.status_code == 404
    assert_chinese(r.text, "accusation refused to the handler")
    r = client.get("/letters/new")
    assert r.status_code == 403 and "承办单位人员不能登记来信" in visible_text(r.text)
    assert_chinese(r.text, "registering refused to the handler")

    # An intake officer registering an accusation gets a receipt, not the letter.
    client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    sign_in(client, "intake.officer")
    data = {**letter_payload(text=ACCUSATION_TEXT), "csrf_token": csrf_of(client, "/letters/new")}
    r = client.post("/letters/new", data=data, follow_redirects=False)
    assert r.status_code == 201
    assert_chinese(r.text, "receipt of an accusation")


def test_api_messages_name_departments_not_codes(client: TestClient, token_for: Any) -> None:
    h = token_for("intake_officer")
    case = client.post("/api/v1/letters", json=letter_payload(), headers=h).json()["case_number"]
    letter = client.get(f"/api/v1/letters/{case}", headers=h).json()
    r = client.post(
        f"/api/v1/letters/{case}/decisions",
        headers=h,
        json={
            "proposal_id": letter["proposal"]["id"],
            "letter_version": letter["version"],
            "department": "transport",
        },
    )
    assert r.status_code == 422
    assert (
        r.json()["error"]
        == "本确认更改了办理建议（承办部门由“住房和城乡建设局”改为“交通运输局”），必须填写理由"
    )
    missing = client.get("/api/v1/letters/XF-2026-999999", headers=h).json()["error"]
    assert missing == "没有您可以查看的案件编号为“XF-2026-999999”的信访事项，请核对案件编号"


def test_review_is_called_待人工核查_not_复核(client: TestClient, token_for: Any) -> None:
    # 复核 is the statutory second review of 第三十六条; a proposal the machine is unsure of is
    # waiting for an officer to check it, which is something else.
    sign_in(client, "supervisor")
    cases = [register(client, text=t) for t in (ACCUSATION_TEXT, "abc def", ARBITRATION_TEXT)]
    sup = token_for("supervisor")
    review = [
        c for c in cases if client.get(f"/api/v1/letters/{c}", headers=sup).json()["proposal"]["needs_review"]
    ]
    assert review, "the stand-in router holds none of these letters for review"
    queue = visible_text(client.get("/?status=all").text)
    letter = visible_text(client.get(f"/letters/{review[0]}").text)
    for text in (queue, letter):
        assert "待人工核查" in text
        assert "需复核" not in text and "需人工复核" not in text


def _position(html: str, marker: str) -> int:
    at = html.find(marker)
    assert at != -1, marker
    return at


def test_a_decided_letter_shows_the_decision_first_and_offers_no_acceptance(
    client: TestClient, officers: None
) -> None:
    sign_in(client, "intake.officer")
    case = register(client)
    html = client.get(f"/letters/{case}").text
    assert 'id="accept"' in html and '<section class="card proposal" id="proposal">' in html
    assert 'id="decision"' not in html

    assert decide(client, case, action="accept").status_code == 303
    html = client.get(f"/letters/{case}").text
    # The decision in force comes first; the proposal it was made on is folded below it.
    assert _position(html, 'id="decision"') < _position(html, '<details class="card proposal" id="proposal">')
    decision = html[_position(html, 'id="decision"') : _position(html, 'id="proposal"')]
    assert "住房和城乡建设局" in decision and "李接待" in decision and "采纳办理建议" in decision
    # Accepting the proposal again is not offered; a correction, with its reason, is.
    assert 'id="accept"' not in html and "采纳建议" not in visible_text(html)
    form = html[_position(html, 'id="decide"') :]
    assert "更正确认结果" in form and 'value="correct"' in form
    assert re.search(r'<textarea name="reason"[^>]*required', form)

    r = decide(client, case, action="correct", department="urban_management", reason="违建归城管")
    assert r.status_code == 303
    html = client.get(f"/letters/{case}").text
    decision = html[_position(html, 'id="decision"') : _position(html, 'id="proposal"')]
    assert "城市管理和综合执法局" in decision and "更正了办理建议的承办部门" in decision
    assert "违建归城管" in decision


def test_a_clock_not_started_says_from_when_it_runs(client: TestClient) -> None:
    # A deadline's start reads "自收到告知书之日起"; quoting it inside 自“…”起算 doubled the words.
    sign_in(client, "intake.officer")
    html = visible_text(client.get(f"/letters/{register(client)}").text)
    assert "尚未起算（自收到告知书之日起）" in html
    assert "自“自" not in html
