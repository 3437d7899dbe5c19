"""Browser tests: Debian's Chromium driven by Playwright against the app served by uvicorn on loopback.

An intake officer signs in, registers a letter, sees the highlighted reasons, corrects the
department with a reason, and the decision is stored; a department handler cannot open an
accusation. Screenshots of the main pages go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_server import needs_chromium, serve, shot, sign_in
from web_factories import ACCUSATION_TEXT, ARBITRATION_TEXT, make_settings

from api.app import create_app

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.slow, needs_chromium]


def _serve_on(factory: pytest.TempPathFactory, template: Path, router: Any, name: str) -> Iterator[str]:
    path = factory.mktemp(name) / f"{name}.sqlite3"
    shutil.copyfile(template, path)
    with serve(create_app(make_settings(f"sqlite:///{path}"), router=router)) as base:
        yield base


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, tiny_router: Any
) -> Iterator[str]:
    # The real pipeline (model, rulebook, deadlines), trained small: the pages show real proposals.
    yield from _serve_on(tmp_path_factory, sqlite_template, tiny_router, "browser")


@pytest.fixture(scope="module")
def standin_server(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, standin_router: Any
) -> Iterator[str]:
    """The app on the stand-in router, whose proposals carry legal facts with known spans."""
    yield from _serve_on(tmp_path_factory, sqlite_template, standin_router, "browser-facts")


def test_officer_registers_sees_reasons_and_corrects_the_department(live_server: str, page: Any) -> None:
    base = live_server
    page.goto(f"{base}/login")
    shot(page, "01-login")
    sign_in(page, base, "intake.officer")
    page.goto(f"{base}/letters/new")
    page.select_option("#form", "letter")
    page.fill("#received_on", "2026-11-02")
    page.fill("#title", "关于公司拖欠工资的来信")
    page.fill("#text", ARBITRATION_TEXT)
    page.fill("#petitioner_name", "李四")
    page.fill("#contact_phone", "13900001111")
    page.fill("#address", "浙江省杭州市西湖区文三路100号")
    shot(page, "02-register")
    page.click("#register")
    page.wait_for_url(f"{base}/letters/XF-*")
    case = page.inner_text("#case-number")

    marked = "".join(page.locator('#letter-text mark[data-rules~="R-ZC-01"]').all_inner_texts())
    assert marked == "申请劳动仲裁[1]"  # the rule's match, highlighted, with its reason's number
    assert "第三十一条" in page.inner_text("#reasons")
    assert "2026-11-17" in page.inner_text("#deadlines")
    assert page.locator(".qr svg").count() == 1
    # Up to three departments with their scores (the tiny test model knows only two).
    departments = page.locator("#p-departments li")
    assert 2 <= departments.count() <= 3
    assert page.locator("#p-departments li meter").count() == departments.count()
    assert "人力资源和社会保障局" in departments.first.inner_text()
    shot(page, "03-letter-proposal")

    assert page.input_value("#d-department") == "hr_social_security"
    page.select_option("#d-department", "township")
    page.click("#correct")  # no reason yet: refused, nothing stored
    page.wait_for_selector("#decide-error")
    assert "理由" in page.inner_text("#decide-error")
    assert page.locator("#decisions").count() == 0
    page.select_option("#d-department", "township")
    page.fill("#d-reason", "涉及辖区小微企业，先由属地街道调处")
    page.click("#correct")
    page.wait_for_selector("#decisions")
    row = page.inner_text("#decisions")
    assert "涉及辖区小微企业，先由属地街道调处" in row and "否（承办部门）" in row
    assert page.inner_text("#status") == "已确认"
    shot(page, "04-letter-decided")

    page.goto(f"{base}/?status=all")
    assert case in page.inner_text("table.queue")
    shot(page, "05-queue")


def test_handler_cannot_open_an_accusation(live_server: str, page: Any, browser: Any) -> None:
    base = live_server
    sign_in(page, base, "supervisor")
    page.goto(f"{base}/letters/new")
    page.fill("#text", ACCUSATION_TEXT)
    page.fill("#petitioner_name", "王五")
    page.click("#register")
    page.wait_for_url(f"{base}/letters/XF-*")
    case = page.inner_text("#case-number")
    assert "检举控告" in page.inner_text(".head")
    shot(page, "06-accusation-supervisor")

    handler = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    hp = handler.new_page()
    try:
        sign_in(hp, base, "department.handler")
        response = hp.goto(f"{base}/letters/{case}")
        assert response is not None and response.status == 404
        body = hp.inner_text("body")
        assert ACCUSATION_TEXT not in body and "王五" not in body
        shot(hp, "07-handler-refused")
        hp.goto(f"{base}/?status=all")
        assert case not in hp.inner_text("body")
    finally:
        handler.close()


def test_officer_splits_a_letter_holding_two_matters(live_server: str, page: Any) -> None:
    base = live_server
    sign_in(page, base, "intake.officer")
    page.goto(f"{base}/letters/new")
    page.fill("#title", "来信")
    page.fill("#text", "小区物业公司乱收费，每月多收三百元，请求责令退还。\n\n" + ARBITRATION_TEXT)
    page.click("#register")
    page.wait_for_url(f"{base}/letters/XF-*")
    case = page.inner_text("#case-number")

    page.click("#regroup-link")
    page.wait_for_url(f"{base}/letters/{case}/regroup")
    page.locator("input[name=at]").first.check()
    page.click("#split-submit")  # no reason: the browser refuses to send the form
    assert page.url.endswith("/regroup")
    page.fill("#split-reason", "一封信反映两件事项，分别办理")
    shot(page, "11-split")
    page.click("#split-submit")
    page.wait_for_url(lambda url: "/regroup" not in url and case not in url)
    new_case = page.inner_text("#case-number")
    assert new_case != case
    assert "拖欠工资" in page.inner_text("#letter-text")
    assert "物业" not in page.inner_text("#letter-text")
    page.goto(f"{base}/letters/{case}")
    assert "拖欠工资" not in page.inner_text("#letter-text")


def test_officer_sees_the_legal_facts_marked_in_the_letter(standin_server: str, page: Any) -> None:
    base = standin_server
    sign_in(page, base, "intake.officer")
    page.goto(f"{base}/letters/new")
    page.fill("#title", "屡次反映无果")
    page.fill(
        "#text",
        "装修押金的事我屡次反映，没有结果。我已向法院起诉了装修公司，法院已立案。请督促物业退还押金。",
    )
    page.fill("#petitioner_name", "赵六")
    page.click("#register")
    page.wait_for_url(f"{base}/letters/XF-*")

    court = page.locator('#letter-text mark[data-facts~="court_pending"]')
    assert "".join(court.all_inner_texts()).replace("[1][2][3]", "") == "向法院起诉"
    assert "".join(page.locator('#letter-text mark[data-facts~="civil_dispute"]').all_inner_texts()) == (
        "起诉[1][2][3]了装修公司"
    )
    assert page.locator('#title-text mark[data-facts="prior_complaint"]').inner_text() == "屡次反映"
    # A fact alone is marked in a colour of its own, not a rule's or a model word's.
    colours = {
        kind: page.locator(f"#letter-text mark.{kind}").first.evaluate(
            "m => getComputedStyle(m).backgroundColor"
        )
        for kind in ("fact:not(.rule)", "word", "rule:not(.fact)")
    }
    assert len(set(colours.values())) == 3, colours
    facts = page.inner_text("#facts")
    assert "已起诉或案件在法院审理中 91%" in facts and "（正文第 20–24 字）" in facts
    assert "依据事实：已起诉或案件在法院审理中 91%" in page.inner_text('#reasons li[data-rule="R-SS-02"]')
    page.locator("#letter-text").scroll_into_view_if_needed()
    shot(page, "12-letter-facts")
