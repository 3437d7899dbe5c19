"""The audit log for supervisors: filters by person, action, case and period, read in words, and
verified with the installation's audit key."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi.testclient import TestClient
from test_api_pages import sign_in
from web_factories import ACCUSATION_TEXT, ORDINARY_TEXT, PASSWORD, letter_payload, make_settings

from api.app import create_app
from service.audit_view import ACTION_NAMES
from service.settings import Settings
from store.audit import AUDIT_ACTIONS, append_event
from store.db import make_engine, make_session_factory, session_scope

CJK = re.compile(r"[\u4e00-\u9fff]")


def _register(client: TestClient, token_for: Any, **fields: Any) -> str:
    r = client.post("/api/v1/letters", json=letter_payload(**fields), headers=token_for("intake_officer"))
    assert r.status_code == 201, r.text
    return str(r.json()["case_number"])


def _audit(client: TestClient, token_for: Any, **params: Any) -> Any:
    return client.get("/api/v1/audit", params=params, headers=token_for("supervisor"))


def _append_at(settings: Settings, at: dt.datetime, actor: str = "li.ming") -> None:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            append_event(session, actor=actor, action="export", object="queue", details={"rows": 3}, at=at)
    finally:
        engine.dispose()


def test_every_action_has_a_chinese_name() -> None:
    assert set(AUDIT_ACTIONS) <= set(ACTION_NAMES)
    assert all(CJK.search(name) for name in ACTION_NAMES.values())


def test_the_api_filters_by_person_action_and_case(client: TestClient, token_for: Any) -> None:
    first = _register(client, token_for)
    second = _register(client, token_for, text="小区门口道路坑洼多年无人修，请求修路。")
    mine = _audit(client, token_for, actor="intake.officer", action="register_letter").json()
    assert mine["count"] == 2
    assert {e["object"] for e in mine["data"]} == {f"letter:{first}", f"letter:{second}"}
    about_first = _audit(client, token_for, case_number=first).json()
    assert [e["object"] for e in about_first["data"]] == [f"letter:{first}"]
    # a lower-case number typed by hand finds the same
    assert _audit(client, token_for, case_number=first.lower()).json()["count"] == 1
    assert _audit(client, token_for, actor="nobody").json()["count"] == 0


def test_a_case_number_finds_the_events_that_name_it_too(client: TestClient, token_for: Any) -> None:
    """A split is recorded on the letter it was cut from; it names the new case in its details."""
    wages = "另外，公司拖欠工资三个月，请求督促发放。"
    case = _register(client, token_for, text=ORDINARY_TEXT + "\n\n" + wages, title="来信")
    h = token_for("intake_officer")
    letter = client.get(f"/api/v1/letters/{case}", headers=h).json()
    r = client.post(
        f"/api/v1/letters/{case}/split",
        headers=h,
        json={"at": len(ORDINARY_TEXT) + 2, "letter_version": letter["version"], "reason": "一信两事"},
    )
    assert r.status_code == 201, r.text
    new_case = r.json()["data"][1]["case_number"]
    found = _audit(client, token_for, case_number=new_case).json()["data"]
    # the new part's registration, and the split recorded on the letter it was cut from
    assert [(e["action"], e["object"]) for e in found] == [
        ("split_letter", f"letter:{case}"),
        ("register_letter", f"letter:{new_case}"),
    ]
    assert {"label": "拆出的新案件编号", "value": new_case} in found[0]["readable"]


def test_the_api_filters_by_period_on_chinas_calendar(
    client: TestClient, token_for: Any, settings: Settings
) -> None:
    # 2026-03-01 23:30 in China is still 2026-03-01 15:30 UTC; 00:30 the next day is 16:30 UTC.
    _append_at(settings, dt.datetime(2026, 3, 1, 15, 30, tzinfo=dt.UTC))
    _append_at(settings, dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC))
    day = _audit(client, token_for, action="export", since="2026-03-01", until="2026-03-01").json()
    assert [e["at"][:16] for e in day["data"]] == ["2026-03-01T15:30"]
    after = _audit(client, token_for, action="export", since="2026-03-02").json()
    assert after["count"] == 1
    both = _audit(client, token_for, action="export", until="2026-03-02").json()
    assert both["count"] == 2


def test_bad_filters_are_refused_in_words(client: TestClient, token_for: Any) -> None:
    cases = [
        ({"case_number": "2026-1"}, "不是案件编号"),
        ({"action": "hack"}, "没有“hack”这种操作"),
        ({"since": "2026-03-02", "until": "2026-03-01"}, "早于开始日"),
    ]
    for params, message in cases:
        r = _audit(client, token_for, **params)
        assert r.status_code == 422 and message in r.json()["error"], (params, r.text)


def test_details_read_as_names_and_values(client: TestClient, token_for: Any) -> None:
    case = _register(client, token_for)
    event = _audit(client, token_for, case_number=case).json()["data"][0]
    assert event["action_name"] == "登记信访事项"
    assert event["object_name"] == f"信访事项 {case}"
    readable = {d["label"]: d["value"] for d in event["readable"]}
    assert readable["来信形式"] == "来信" and readable["来源"] == "人工登记"
    assert "letter_id" in event["details"] and "letter_id" not in readable  # the stored row stays whole


def test_the_audit_page_filters_and_reads_in_chinese(client: TestClient, token_for: Any) -> None:
    _register(client, token_for)
    _register(client, token_for, text=ACCUSATION_TEXT)
    sign_in(client, "supervisor")
    page = client.get("/audit", params={"action": "register_letter", "actor": "intake.officer"})
    assert page.status_code == 200
    assert re.search(r'id="audit-count">2<', page.text)
    rows = page.text[page.text.index("<tbody>") : page.text.index("</tbody>")]
    assert rows.count("<tr>") == 2
    assert "登记信访事项" in rows and "<dt>来信形式</dt><dd>来信</dd>" in rows
    # no stored codes or escaped JSON in the table: names and values only
    assert "register_letter" not in rows and "&#34;" not in rows and "{" not in rows
    everything = client.get("/audit")
    assert int(re.search(r'id="audit-count">(\d+)<', everything.text).group(1)) > 2  # type: ignore[union-attr]


def test_the_audit_page_says_what_is_wrong_with_a_filter(client: TestClient) -> None:
    sign_in(client, "supervisor")
    r = client.get("/audit", params={"since": "2026-13-01"})
    assert r.status_code == 422 and "开始日期“2026-13-01”不是日期" in r.text
    r = client.get("/audit", params={"case_number": "12345"})
    assert r.status_code == 422 and "不是案件编号" in r.text


def test_the_audit_page_pages_through_with_its_filters(
    client: TestClient, token_for: Any, settings: Settings
) -> None:
    for minute in range(101):
        _append_at(settings, dt.datetime(2026, 3, 1, 8, minute % 60, minute // 60, tzinfo=dt.UTC), "zhao.liu")
    sign_in(client, "supervisor")
    first = client.get("/audit", params={"actor": "zhao.liu"})
    assert "第 1 / 2 页" in first.text
    link = re.search(r'<a href="([^"]+)">下一页</a>', first.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    assert "actor=zhao.liu" in link and "page=2" in link
    second = client.get(link)
    rows = second.text[second.text.index("<tbody>") : second.text.index("</tbody>")]
    assert rows.count("<tr>") == 1 and "上一页" in second.text


def test_the_app_verifies_with_the_key_in_its_settings(
    settings: Settings, standin_router: Any, token_for: Any, client: TestClient
) -> None:
    _register(client, token_for)
    assert _audit(client, token_for, verify="true").json()["chain_ok"] is True
    # The same database seen by an installation with another key: nothing verifies.
    other = make_settings(settings.database_url, audit_key="another-installation-key-" + "y" * 16)
    try:
        with TestClient(create_app(other, router=standin_router)) as second:
            token = second.post(
                "/api/v1/auth/token", data={"username": "supervisor", "password": PASSWORD}
            ).json()["access_token"]
            body = second.get(
                "/api/v1/audit", params={"verify": "true"}, headers={"Authorization": f"Bearer {token}"}
            ).json()
    finally:
        create_app(settings, router=standin_router)  # this process's key back to the installation's
    # every event the first installation wrote fails; only the sign-in just now, keyed with the
    # other key, verifies with it
    assert body["chain_ok"] is False
    assert body["problems"][0].startswith("第 1 条：第 1–") and "密钥签名（MAC）不符" in body["problems"][0]
