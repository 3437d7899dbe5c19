"""Browser tests of the case's life after the route: Debian's Chromium driven by Playwright against
the app served by uvicorn on loopback, on the stand-in router (whose routes are known).

Each test walks one path of 《信访工作条例》 end to end through the officers' pages, as the officers
would: the intake officer's route, notice and transfer; the department handler's receipt, notice of
acceptance, answer and close; a refusal with its notice; a return by the receiving body and a new
route; an extension; an overdue case supervised (督办); 复查 then 复核, after which a later letter on
the same matter is proposed 不再受理; an urgent letter reported upward. Every page an officer reads on
the way is scanned for codes (``page_text``). Screenshots go to ``test-output/screenshots/``, or
with ``UPDATE_DOC_SCREENSHOTS=1`` to ``docs/screenshots/``, which the README shows.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_server import SCREENSHOTS, needs_chromium, open_page, serve, sign_in
from page_text import code_words, visible_text
from sqlalchemy import update
from web_factories import ORDINARY_TEXT, make_settings

from api.app import create_app
from store.db import make_engine, make_session_factory, session_scope
from store.letters import china_today
from store.models import User

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.slow, needs_chromium]

# The README shows these, so they are kept in the repository; an ordinary run writes its own to
# test-output/screenshots and leaves them alone. UPDATE_DOC_SCREENSHOTS=1 retakes them.
DOCS_SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("UPDATE_DOC_SCREENSHOTS") == "1"
    else SCREENSHOTS
)
DISPLAY_NAMES = {
    "intake.officer": "李接待",
    "supervisor": "王科长",
    "analyst": "周统计",
    "department.handler": "赵经办",
    "discipline.inspector": "钱纪检",
}
URGENT_TEXT = "小区楼下液化气供应站经常漏气，昨天又闻到很重的气味，住户提心吊胆，请马上派人处理。"


@pytest.fixture(scope="module")
def base(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, standin_router: Any
) -> Iterator[str]:
    path = tmp_path_factory.mktemp("cases") / "cases.sqlite3"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            for username, name in DISPLAY_NAMES.items():
                session.execute(update(User).where(User.username == username).values(display_name=name))
    finally:
        engine.dispose()
    with serve(create_app(make_settings(url), router=standin_router)) as served:
        yield served


@pytest.fixture
def other(browser: Any) -> Iterator[Any]:
    """A second officer's browser, signed in separately."""
    with open_page(browser) as pg:
        yield pg


# ------------------------------------------------------------------------------------- helpers


def shot(target: Any, name: str) -> None:
    """A screenshot to ``NAME.png`` (see :data:`DOCS_SCREENSHOTS`): of an element, or the whole page."""
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = str(DOCS_SCREENSHOTS / f"{name}.png")
    if hasattr(target, "goto"):
        target.screenshot(path=path, full_page=True)
    else:
        target.screenshot(path=path)


def chinese(page: Any, where: str) -> None:
    """The page shows an officer no ASCII code (case numbers, dates and the file type aside)."""
    leaks = code_words(page.content(), {"standin-0", "Word"})
    assert not leaks, f"{where} shows {sorted(leaks)}: {visible_text(page.content())[-2000:]}"


def register(
    page: Any,
    base: str,
    text: str = ORDINARY_TEXT,
    *,
    title: str = "关于小区物业收费的来信",
    received_on: dt.date | None = None,
) -> str:
    page.goto(f"{base}/letters/new")
    page.fill("#received_on", (received_on or china_today()).isoformat())
    page.fill("#title", title)
    page.fill("#text", text)
    page.fill("#petitioner_name", "张三丰")
    page.fill("#address", "某区安定门街道某小区3号楼")
    page.fill("textarea[name=request]", "退还多收的物业费")
    page.click("#register")
    page.wait_for_url(f"{base}/letters/XF-*")
    return str(page.inner_text("#case-number"))


def route(
    page: Any,
    *,
    channel: str | None = None,
    disposition: str | None = None,
    department: str | None = None,
    reason: str = "",
) -> None:
    """Confirm the proposed route, or correct it with a reason."""
    if channel is None and disposition is None and department is None:
        with page.expect_navigation():
            page.click("#accept")
        return
    if channel:
        page.select_option("#d-channel", channel)
    if disposition:
        page.select_option("#d-disposition", disposition)
    if department:
        page.select_option("#d-department", department)
    page.fill("#d-reason", reason)
    with page.expect_navigation():
        page.click("#correct")
    assert page.locator("#decide-error").count() == 0


def do(page: Any, step: str, *, expect_error: bool = False, **fields: str) -> str:
    """Open the form of ``step`` in 办理过程, fill ``fields`` and send it; returns what the page says."""
    page.eval_on_selector(f"#step-{step}", "d => { d.open = true }")
    for name, value in fields.items():
        field = page.locator(f"#s-{step}-{name}")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    with page.expect_navigation():
        page.click(f"#do-{step}")
    if expect_error:
        return str(page.inner_text("#case-error"))
    assert page.locator("#case-error").count() == 0, page.inner_text("#case-error")
    return str(page.inner_text("#case-notice"))


def issue(page: Any, kind: str, fill: dict[str, str] | None = None) -> str:
    """Draft ``kind`` (unless its draft is open), write what the draft leaves to the officer, issue
    it; returns its 文号."""
    if page.locator(f'#draft input[name=kind][value="{kind}"]').count() == 0:
        page.select_option("#draft-kind", kind)
        with page.expect_navigation():
            page.click("#draft-start")
    page.wait_for_selector("#draft")
    for label, text in (fill or {}).items():
        mark = f"【请填写：{label}】"
        boxes = page.locator("textarea.draft-paragraph")
        for i in range(boxes.count()):
            box = boxes.nth(i)
            if mark in box.input_value():
                box.fill(box.input_value().replace(mark, text))
    assert "【请填写" not in " ".join(
        page.locator("textarea.draft-paragraph").evaluate_all("bs => bs.map(b => b.value)")
    )
    with page.expect_navigation():
        page.click("#issue")
    assert page.locator("#case-error").count() == 0, page.inner_text("#case-error")
    found = re.search(r"文号 (\S+〔\d{4}〕\d+号)", page.inner_text("#case-notice"))
    assert found, page.inner_text("#case-notice")
    return found.group(1)


def state(page: Any) -> str:
    return str(page.inner_text("#case-state"))


def open_case(page: Any, base: str, case: str) -> None:
    page.goto(f"{base}/letters/{case}")


def transferred(page: Any, base: str, *, channel: str = "ordinary") -> str:
    """A letter registered, routed (to the housing bureau, whose handler is in the tests) and
    transferred with its 转送函; returns its case number."""
    case = register(page, base)
    route(page, channel=channel, reason="按普通信访程序办理")
    do(page, "transfer", document_no=issue(page, "transfer_letter"))
    return case


def answered(page: Any, other: Any, base: str) -> str:
    """A case the handler has received, accepted with its notice and answered with its 处理意见."""
    sign_in(page, base, "intake.officer")
    case = transferred(page, base)
    sign_in(other, base, "department.handler")
    open_case(other, base, case)
    do(other, "receive")
    do(
        other,
        "accept",
        document_no=issue(
            other, "acceptance_notice", {"处理途径和程序": "按普通信访程序办理，60日内出具处理意见。"}
        ),
    )
    opinion = issue(
        other,
        "handling_opinion",
        {
            "事实和理由": "经核查，物业公司每月多收费用属实。",
            "处理意见": "责令物业公司退还多收的费用。",
            "法律法规依据": "《物业管理条例》",
            "复查机关": "区人民政府",
        },
    )
    do(other, "answer", document_no=opinion)
    return case


# --------------------------------------------------------------------------------------- paths


def test_accept_notice_transfer_receipt_answer_close(base: str, page: Any, other: Any) -> None:
    sign_in(page, base, "intake.officer")
    case = register(page, base)
    route(page, channel="ordinary", reason="按普通信访程序办理")
    assert state(page) == "已确定去向"
    assert "第二十二条第一款" in page.inner_text("#case-clocks")
    number = issue(page, "transfer_letter")
    # The 转送 form has the 文号 just issued filled in; the body is the route's.
    page.eval_on_selector("#step-transfer", "d => { d.open = true }")
    assert page.input_value("#s-transfer-document_no") == number
    assert page.input_value("#s-transfer-body") == "housing"
    chinese(page, "the routed case with its 转送函")
    shot(page.locator("#case"), "13-case-transfer")
    do(page, "transfer", document_no=number)
    assert state(page) == "已转送"
    assert page.locator("#decide").count() == 0  # the route is carried out: no decision form

    sign_in(other, base, "department.handler")
    other.goto(f"{base}/")
    row = other.locator(f'table.queue tr[data-case="{case}"]')
    assert row.locator(".case-state").inner_text() == "已转送"
    chinese(other, "the handler's queue")
    shot(other, "14-queue-handler")
    open_case(other, base, case)
    assert [f.get_attribute("id") for f in other.locator("details.step-form").all()] == [
        "step-receive",
        "step-escalate",
    ]
    do(other, "receive")
    assert state(other) == "已签收"
    clocks = other.inner_text("#case-clocks")
    assert "第二十三条第三款" in clocks and "5个工作日" in clocks
    notice = issue(other, "acceptance_notice", {"处理途径和程序": "按普通信访程序办理，60日内出具处理意见。"})
    do(other, "accept", document_no=notice)
    assert state(other) == "办理中"
    assert "第三十四条" in other.inner_text("#case-clocks")
    opinion = issue(
        other,
        "handling_opinion",
        {
            "事实和理由": "经核查，物业公司每月多收费用属实。",
            "处理意见": "责令物业公司退还多收的费用。",
            "法律法规依据": "《物业管理条例》",
            "复查机关": "区人民政府",
        },
    )
    do(other, "answer", document_no=opinion)
    assert state(other) == "已出具处理意见"
    # The answer goes out: its day sent is recorded, and the printable page and the DOCX are there.
    row = other.locator("#case-documents tr", has_text=opinion)
    with other.expect_navigation():
        row.locator("button.record-sent").click()
    assert "发出" in other.inner_text("#case-notice")
    assert china_today().isoformat() in other.locator("#case-documents tr", has_text=opinion).inner_text()
    printable = (
        other.locator("#case-documents tr", has_text=opinion).locator("a.printable").get_attribute("href")
    )
    with open_page_in(other, f"{base}{printable}") as doc:
        assert opinion in doc.inner_text("body") and "复查" in doc.inner_text("body")
        shot(doc, "15-handling-opinion")
    link = other.locator("#case-documents tr", has_text=opinion).locator("a.docx").get_attribute("href")
    docx = other.request.get(f"{base}{link}")
    assert docx.ok and docx.body()[:2] == b"PK"
    do(other, "serve", effective_on=china_today().isoformat())
    do(other, "close")
    assert state(other) == "已办结"
    events = other.inner_text("#case-events")
    for name in ("登记", "确定去向", "转送", "签收", "受理", "出具处理意见", "记录送达", "办结"):
        assert name in events
    assert "赵经办（承办单位人员）" in events and "李接待（接待／办信人员）" in events
    chinese(other, "the closed case")
    shot(other.locator("#case"), "16-case-closed-handler")


class open_page_in:  # noqa: N801 - used as a context manager, like open_page
    """A new tab of ``page``'s browser context at ``url`` (signed in as that page is)."""

    def __init__(self, page: Any, url: str) -> None:
        self.tab = page.context.new_page()
        self.url = url

    def __enter__(self) -> Any:
        self.tab.goto(self.url)
        return self.tab

    def __exit__(self, *exc: object) -> None:
        self.tab.close()


def test_not_accepted_with_its_notice(base: str, page: Any) -> None:
    sign_in(page, base, "intake.officer")
    case = register(page, base, "我要求撤销法院的判决，法院判得不公。", title="要求撤销判决")
    route(page, disposition="not_accepted", reason="属于诉讼途径，不予受理")
    assert [f.get_attribute("id") for f in page.locator("details.step-form").all()][0] == "step-not_accept"
    notice = issue(
        page,
        "not_accepted_notice",
        {
            "不予受理的理由": "你反映的事项属于已经或者依法应当通过诉讼解决的事项",
            "依据条款": "《信访工作条例》第三十一条第一项",
            "应当向何处提出": "人民法院",
        },
    )
    do(
        page,
        "not_accept",
        reason="属于应当通过诉讼途径解决的事项",
        basis="第三十一条第一项",
        document_no=notice,
    )
    assert state(page) == "不予受理"
    assert "书面告知信访人不予受理或者不再受理及其理由" in page.inner_text("#case-clocks")
    assert "没有待办理的步骤" in page.inner_text("#case")
    chinese(page, "the case not accepted")
    shot(page.locator("#case"), "17-case-not-accepted")
    page.goto(f"{base}/?status=all")
    assert page.locator(f'table.queue tr[data-case="{case}"] .case-state').inner_text() == "不予受理"


def test_return_by_the_receiving_body_and_a_new_route(base: str, page: Any, other: Any) -> None:
    sign_in(page, base, "intake.officer")
    case = transferred(page, base)
    sign_in(other, base, "department.handler")
    open_case(other, base, case)
    do(other, "receive")
    message = do(other, "object", expect_error=True, reason=" ")
    assert "理由" in message
    # Back with the office: no longer the body's case, so its handler lands on their queue, which
    # says so, and the letter answers as one that is not theirs.
    other.eval_on_selector("#step-object", "d => { d.open = true }")
    other.fill("#s-object-reason", "违规收费由市场监管部门查处，不属于本局职权范围")
    with other.expect_navigation():
        other.click("#do-object")
    other.wait_for_url(f"{base}/")
    assert "已异议退回" in other.inner_text("#queue-notice") and case in other.inner_text("#queue-notice")
    assert case not in other.inner_text("main").replace(other.inner_text("#queue-notice"), "")
    chinese(other, "the queue after the return, as its handler sees it")
    response = other.goto(f"{base}/letters/{case}")
    assert response is not None and response.status == 404

    open_case(page, base, case)
    assert state(page) == "已退回"
    assert "违规收费由市场监管部门查处" in page.inner_text("#case-events")
    assert "重新确定去向" in page.inner_text("#case-hint")
    shot(page.locator("#case"), "18-case-returned")
    route(page, department="market_regulation", reason="承办单位异议成立，改送市场监督管理局")
    assert state(page) == "已确定去向"
    do(page, "transfer", document_no=issue(page, "transfer_letter"))
    assert state(page) == "已转送" and page.inner_text("#case-body") == "市场监督管理局"
    # The housing bureau's handler no longer has the case.
    response = other.goto(f"{base}/letters/{case}")
    assert response is not None and response.status == 404


def test_extension_approved_by_the_head(base: str, page: Any, other: Any) -> None:
    sign_in(page, base, "intake.officer")
    case = transferred(page, base)
    sign_in(other, base, "department.handler")
    open_case(other, base, case)
    do(other, "receive")
    do(
        other,
        "accept",
        document_no=issue(other, "acceptance_notice", {"处理途径和程序": "按普通信访程序办理。"}),
    )
    assert other.locator("#step-extend").count() == 0  # the head approves an extension, not the handler
    due = re.search(r"(\d{4}-\d{2}-\d{2})", other.locator('tr[data-clock="conclude"] td.due').inner_text())
    assert due

    sign_in(page, base, "supervisor")
    open_case(page, base, case)
    new_due = dt.date.fromisoformat(due.group(1)) + dt.timedelta(days=30)
    notice = issue(
        page,
        "extension_notice",
        {
            "延期理由": "需要委托第三方核算收费明细",
            "延长天数": "30",
            "延长后的办结期限": f"{new_due.year}年{new_due.month}月{new_due.day}日",
        },
    )
    do(page, "extend", days="30", reason="需要委托第三方核算收费明细", document_no=notice)
    clock = page.locator('tr[data-clock="conclude"]').inner_text()
    assert "延长30日" in clock
    chinese(page, "the extended case")
    shot(page.locator("#case"), "19-case-extended")


def test_overdue_case_is_supervised(base: str, page: Any) -> None:
    sign_in(page, base, "intake.officer")
    case = register(page, base, received_on=china_today() - dt.timedelta(days=40))
    route(page, channel="ordinary", reason="按普通信访程序办理")
    assert "已超期" in page.inner_text("#case-clocks")
    assert page.locator("#nav-supervision").count() == 0

    sign_in(page, base, "supervisor")
    page.click("#nav-supervision")
    page.wait_for_url(f"{base}/supervision")
    row = page.locator("table.supervised tr", has_text=case)
    assert "已超期" in row.inner_text()
    chinese(page, "the supervision page")
    new_due = china_today() + dt.timedelta(days=3)
    new_due_name = f"{new_due.year}年{new_due.month}月{new_due.day}日"
    row.locator("textarea[name=reason]").fill("已超过第二十二条规定的15日转送期限，请即转送并反馈")
    row.locator("input[name=due_on]").fill(new_due.isoformat())
    shot(page, "20-supervision")
    # One click: the 督办单 is issued and the 督办 step cites it.
    with page.expect_navigation():
        row.locator("button").click()
    number = re.search(r"督办单文号 (\S+〔\d{4}〕\d+号)", page.inner_text("#supervision-notice"))
    assert number, page.inner_text("#supervision-notice")
    open_case(page, base, case)
    events = page.inner_text("#case-events")
    assert "督办" in events and "已超过第二十二条规定的15日转送期限" in events
    assert number.group(1) in events and new_due_name in events  # the step cites the sheet's 文号
    assert "按督办要求办理并反馈结果" in page.inner_text("#case-clocks")
    sheets = page.locator("#case-documents tr", has_text="督办单")
    assert sheets.count() == 1 and number.group(1) in sheets.inner_text()
    chinese(page, "the supervised case")

    # The office forwards it as told; the housing bureau's handler then reads the 督办单 and its date.
    sign_in(page, base, "intake.officer")
    open_case(page, base, case)
    do(page, "transfer", document_no=issue(page, "transfer_letter"))
    sign_in(page, base, "department.handler")
    open_case(page, base, case)
    events = page.inner_text("#case-events")
    assert "督办" in events and new_due_name in events and number.group(1) in events
    assert number.group(1) in page.inner_text("#case-documents")
    supervision = page.locator('tr[data-clock="supervision"]').inner_text()
    assert new_due.isoformat() in supervision, supervision  # the clock's last day is the new date
    chinese(page, "the supervised case, as the handler reads it")


def test_review_then_recheck_then_a_new_letter_is_proposed_no_longer_accepted(
    base: str, page: Any, other: Any
) -> None:
    case = answered(page, other, base)
    do(other, "serve", effective_on=china_today().isoformat())

    sign_in(page, base, "supervisor")
    open_case(page, base, case)
    do(page, "request_review", reason="信访人不服处理意见，请求复查")
    assert state(page) == "复查中"
    assert "第三十五条" in page.inner_text("#case-clocks")
    do(page, "answer_review", reason="复查维持原处理意见")
    do(page, "serve", effective_on=china_today().isoformat())
    do(page, "request_recheck", reason="信访人不服复查意见，请求复核")
    assert state(page) == "复核中"
    do(page, "hearing", participants="王科长\n张三丰\n物业公司代表", minutes="听证会各方陈述意见", days="2")
    assert "听证2日不计入" in page.inner_text('tr[data-clock="recheck_answer"]')
    do(page, "answer_recheck", reason="复核维持复查意见")
    assert state(page) == "复核终结"
    shot(page.locator("#case"), "21-case-final")

    sign_in(page, base, "intake.officer")
    later = register(page, base, title="再次反映物业收费问题")
    page.fill("#link-earlier", case)
    page.fill("#link-reason", "同一信访人以同一事实和理由再次提出")
    with page.expect_navigation():
        page.click("#link-submit")
    assert "拟不再受理" in page.inner_text("#case-notice")
    assert case in page.inner_text("#case-repeat") and "第三十六条第三款" in page.inner_text("#case-repeat")
    assert page.inner_text("#case-linked") == case
    route(page, disposition="no_longer_accepted", reason="同一事项已复核终结")
    # The earlier case, its 复核意见 and the article are filled in from the link; the officer adds the rest.
    page.select_option("#draft-kind", "no_longer_accepted_notice")
    with page.expect_navigation():
        page.click("#draft-start")
    draft = " ".join(page.locator("textarea.draft-paragraph").evaluate_all("bs => bs.map(b => b.value)"))
    assert "出具复核意见" in draft and "第三十六条第三款" in draft
    notice = issue(page, "no_longer_accepted_notice", {"可以寻求的其他途径": "依法通过其他法定途径主张权利"})
    text = page.inner_text("#case-documents")
    assert "不再受理告知书" in text
    do(
        page,
        "no_longer_accept",
        reason="同一事项已复核终结，不再受理",
        basis="第三十六条第三款",
        document_no=notice,
    )
    assert state(page) == "不再受理"
    assert page.locator("#case-repeat").count() == 0  # the proposal is acted on
    chinese(page, "the later letter no longer accepted")
    shot(page.locator("#case"), "22-later-letter-no-longer-accepted")
    assert later != case


def test_urgent_letter_is_reported_and_its_escalation_stays_open(base: str, page: Any) -> None:
    sign_in(page, base, "intake.officer")
    overdue = register(page, base, received_on=china_today() - dt.timedelta(days=40))
    case = register(page, base, URGENT_TEXT, title="液化气站漏气")
    assert "紧急" in page.inner_text("#proposal")
    do(
        page,
        "escalate",
        reported_to="区委办公室\n区政府总值班室",
        reason="液化气供应站漏气，可能危及居民生命安全",
        measures="已通知燃气公司和应急管理局到场处置",
    )
    assert "重大紧急" in page.inner_text("#case .meta")
    events = page.inner_text("#case-events")
    assert "区委办公室、区政府总值班室" in events and "已通知燃气公司" in events
    chinese(page, "the escalated case")
    shot(page.locator("#case"), "23-case-escalated")
    # Open escalations lead the queue, whichever order is chosen.
    page.goto(f"{base}/?status=all")
    page.select_option("#order", "due")
    with page.expect_navigation():
        page.click("text=筛选")
    rows = [r.get_attribute("data-case") for r in page.locator("table.queue tbody tr").all()]
    assert rows[0] == case and "重大紧急" in page.locator("table.queue tbody tr").first.inner_text()
    assert overdue in rows[1:]  # due long before, yet after the open escalation
    chinese(page, "the queue with an open escalation")
    shot(page, "24-queue-cases")
    # The head reads it on the 督办 page: to whom it was reported, when, by whom, what was done.
    sign_in(page, base, "supervisor")
    page.goto(f"{base}/supervision")
    row = page.locator(f'#escalations tr[data-case="{case}"]').inner_text()
    assert "李接待 报告区委办公室、区政府总值班室" in row and "已通知燃气公司和应急管理局到场处置" in row
    chinese(page, "the supervision page with an open escalation")
