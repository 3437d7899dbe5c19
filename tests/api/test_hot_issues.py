"""Hot issues over the store (SQLite and PostgreSQL): clusters of the window's letters, each role's
view of a cluster holding an accusation, the window's limits, the spike flag, the JSON API and the
page with its server-drawn sparkline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from standin_router import StandInRouter
from web_factories import PASSWORD, make_settings

from api.app import create_app
from routing.schemas import Letter as RoutedLetter
from service import hot_issues as service
from service.errors import Forbidden, InvalidInput
from store.db import session_scope
from store.letters import add_proposal, create_letter

both = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
_ROUTER = StandInRouter()
TODAY = dt.date(2026, 11, 27)

PLANT = [
    ("投诉青枫小区旁搅拌站噪音扰民", "A2区青枫小区旁边新建搅拌站，每天噪音和粉尘严重，居民无法休息。"),
    ("青枫小区附近搅拌站噪音粉尘太大", "A2区青枫小区附近的搅拌站粉尘很大，晚上还有噪音，请环保部门查处。"),
    ("A2区青枫小区搅拌站何时搬走", "青枫小区业主反映搅拌站噪音粉尘扰民，请问何时搬走搅拌站。"),
    ("再次反映青枫小区搅拌站噪音", "上次反映的青枫小区旁搅拌站噪音问题仍未解决，粉尘严重。"),
]
# An accusation on the same plant: counted with it, never shown to a role that may not open it.
SECRET = (
    "举报青枫小区搅拌站老板行贿王科长",
    "举报青枫小区搅拌站老板向王科长行贿，王科长包庇搅拌站噪音不管。",
)
SECRET_WORDS = ("行贿", "王科长", "包庇", "老板")
BUS = [
    ("建议增加308路公交班次", "308路公交车高峰期二十分钟一趟，太难等了，建议增加班次。"),
    ("308路公交车太难等", "每天坐308路公交上班，班次太少，等车要半小时，请增加308路公交班次。"),
]
SINGLE = ("桂园路路灯不亮", "A5区桂园路一段路灯坏了两个月，晚上出行不安全，物业也不管。")


@dataclass(frozen=True)
class Reader:
    username: str
    role: str
    department: str | None = None


SUPERVISOR = Reader("supervisor", "supervisor")
ANALYST = Reader("analyst", "analyst")


def _add(session: Any, title: str, text: str, day: dt.date) -> str:
    letter = create_letter(session, title=title, text=text, created_by="intake.officer", received_on=day)
    add_proposal(session, letter.id, _ROUTER.propose(RoutedLetter(title=title, text=text)))
    return letter.case_number


def build(session: Any) -> dict[str, Any]:
    """Four plant letters in the window's last week, an accusation on the plant, two bus letters
    weeks apart, one single letter, and one plant letter outside the window."""
    plant = [_add(session, t, x, TODAY - dt.timedelta(days=i % 3)) for i, (t, x) in enumerate(PLANT)]
    secret = _add(session, *SECRET, TODAY - dt.timedelta(days=1))
    bus = [_add(session, t, x, TODAY - dt.timedelta(days=20 + 7 * i)) for i, (t, x) in enumerate(BUS)]
    single = _add(session, *SINGLE, TODAY - dt.timedelta(days=10))
    old = _add(session, *PLANT[0], TODAY - dt.timedelta(days=200))
    session.flush()
    return {"plant": plant, "secret": secret, "bus": bus, "single": single, "old": old}


@pytest.fixture
def world(database_url: str, users: dict[str, str]) -> Any:
    app = create_app(make_settings(database_url), router=_ROUTER)
    with session_scope(app.state.session_factory) as session:
        cases = build(session)
    service.clear_cache()
    return app, cases


def _plant(issues: list[service.HotIssue], cases: dict[str, Any]) -> service.HotIssue:
    return next(i for i in issues if cases["plant"][0] in {x.case_number for x in i.letters})


@both
def test_each_role_sees_the_cluster_without_what_it_may_not_open(world: Any) -> None:
    app, cases = world
    with session_scope(app.state.session_factory) as session:
        for_supervisor = service.hot_issues(session, SUPERVISOR, until=TODAY)
        for_analyst = service.hot_issues(session, ANALYST, until=TODAY)

    # The supervisor opens every letter: the accusation is listed and may label the cluster.
    plant = _plant(for_supervisor, cases)
    assert plant.size == 5 and plant.withheld == 0
    assert {x.case_number for x in plant.letters} == {*cases["plant"], cases["secret"]}
    assert cases["old"] not in {x.case_number for i in for_supervisor for x in i.letters}, (
        "outside the window"
    )

    # The analyst: the same size and weekly counts, but the accusation is neither listed, central,
    # in the keywords nor among the bodies.
    seen = _plant(for_analyst, cases)
    assert seen.size == 5 and seen.withheld == 1
    assert seen.weekly_counts == plant.weekly_counts and seen.weekly_counts[-1] == 5
    assert {x.case_number for x in seen.letters} == set(cases["plant"])
    assert seen.central_case_number in cases["plant"]
    assert seen.keywords and any("搅拌站" in k or "青枫" in k for k in seen.keywords), seen.keywords
    assert not any(w in k for k in seen.keywords for w in SECRET_WORDS), seen.keywords
    assert "discipline_inspection" not in seen.bodies and "ecology_environment" in seen.bodies
    assert seen.spike and plant.spike, "five letters in the last week, none before"

    bus = next(i for i in for_analyst if set(cases["bus"]) == {x.case_number for x in i.letters})
    assert bus.size == 2 and not bus.spike and bus.bodies == ("transport",)
    # The single letter is no hot issue by default, but is with min_size=1.
    assert all(cases["single"] not in {x.case_number for x in i.letters} for i in for_analyst)
    with session_scope(app.state.session_factory) as session:
        every = service.hot_issues(session, ANALYST, until=TODAY, min_size=1)
    assert any([x.case_number for x in i.letters] == [cases["single"]] for i in every)
    # 7-day periods, the last ending on `until`.
    assert plant.weeks[-1] == TODAY - dt.timedelta(days=6) and len(plant.weeks) == len(plant.weekly_counts)


@both
def test_scope_window_and_roles(world: Any) -> None:
    app, cases = world
    with session_scope(app.state.session_factory) as session:
        transport = service.hot_issues(session, SUPERVISOR, until=TODAY, scope="transport")
        assert [{x.case_number for x in i.letters} for i in transport] == [set(cases["bus"])]
        # A window of the last week only: the plant, not the bus letters.
        week = service.hot_issues(session, SUPERVISOR, since=TODAY - dt.timedelta(days=6), until=TODAY)
        assert [i.size for i in week] == [5]
        with pytest.raises(InvalidInput, match="晚于"):
            service.hot_issues(session, SUPERVISOR, since=TODAY, until=TODAY - dt.timedelta(days=1))
        with pytest.raises(InvalidInput, match="超出可查询范围"):
            service.hot_issues(session, SUPERVISOR, until=dt.date(1, 3, 1))
        with pytest.raises(InvalidInput, match="超过上限"):
            service.hot_issues(session, SUPERVISOR, since=TODAY - dt.timedelta(days=400), until=TODAY)
        for role in ("intake_officer", "administrator", "department_handler", "discipline_inspector"):
            with pytest.raises(Forbidden, match="热点问题"):
                service.hot_issues(session, Reader(role, role, "housing"), until=TODAY)


@both
def test_the_letter_cap_and_the_cache_follow_the_letters(world: Any) -> None:
    app, cases = world
    with session_scope(app.state.session_factory) as session:
        issues, window = service.hot_issues_in_window(session, SUPERVISOR, until=TODAY, max_letters=3)
        assert window.capped and window.letters == 3
        # The newest three are kept: plant letters of the last days.
        assert all(i.last_received >= TODAY - dt.timedelta(days=2) for i in issues)
        first = service.hot_issues(session, SUPERVISOR, until=TODAY)
        again = service.hot_issues(session, SUPERVISOR, until=TODAY)
        assert first == again
        _add(session, *PLANT[1], TODAY)
        session.flush()
        grown = service.hot_issues(session, SUPERVISOR, until=TODAY)
    assert _plant(grown, cases).size == 6, "a new letter changes the cached window"


def _login(app: Any, username: str) -> tuple[TestClient, dict[str, str]]:
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client, headers


@both
def test_api_and_page(world: Any) -> None:
    app, cases = world
    with TestClient(app):
        client, headers = _login(app, "analyst")
        since = (TODAY - dt.timedelta(days=89)).isoformat()
        r = client.get(f"/api/v1/hot-issues?since={since}&until={TODAY}", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["since"] == since and body["until"] == TODAY.isoformat() and not body["capped"]
        plant = body["data"][0]
        assert plant["size"] == 5 and plant["withheld"] == 1 and plant["spike"] is True
        assert cases["secret"] not in r.text and not any(w in r.text for w in SECRET_WORDS)
        assert {"code": "ecology_environment", "name": plant["bodies"][0]["name"]} in plant["bodies"]

        bad = client.get(f"/api/v1/hot-issues?since={TODAY}&until={since}", headers=headers)
        assert bad.status_code == 422 and "晚于" in bad.json()["error"]

        page = client.get(f"/hot-issues?since={since}&until={TODAY}")
        assert page.status_code == 200
        html = page.text
        assert "<svg" in html and "<polyline" in html and "激增" in html
        assert 'id="nav-hot-issues"' in html
        assert f'href="/letters/{cases["plant"][0]}"' in html
        assert cases["secret"] not in html and not any(w in html for w in SECRET_WORDS)
        assert "另有 1 件不在您的查看范围内" in html
        assert "<script" not in html.split("<main>")[1]
        wrong = client.get("/hot-issues?since=2026-13-01")
        assert wrong.status_code == 422 and "不是有效日期" in wrong.text

        chief, chief_headers = _login(app, "supervisor")
        r = chief.get(f"/api/v1/hot-issues?until={TODAY}", headers=chief_headers)
        assert cases["secret"] in r.text and r.json()["data"][0]["withheld"] == 0
        intake, intake_headers = _login(app, "intake.officer")
        assert intake.get("/api/v1/hot-issues", headers=intake_headers).status_code == 403
        assert 'id="nav-hot-issues"' not in intake.get("/").text


def test_sparkline_is_numbers_only() -> None:
    svg = service.sparkline((0, 1, 4, 2))
    assert svg.startswith("<svg") and "0、1、4、2" in svg and "<script" not in svg
    assert service.sparkline(()).startswith("<svg")
