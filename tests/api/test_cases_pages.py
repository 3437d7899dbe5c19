"""The case's life on the officers' pages: the 办理过程 section of the letter page, its step forms and
documents, the department handler's part, the queue's due dates, and the 督办 page.

Driven through the pages (forms with their CSRF token and the case's version), as an officer would;
each page is checked for codes an officer should not read (``page_text``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from page_text import code_words, visible_text
from sqlalchemy import update
from web_factories import ACCUSATION_TEXT, PASSWORD, letter_payload

from routing.deadlines import period_end
from store.db import session_scope
from store.letters import china_today
from store.models import User

# The steps, the version check and the queue's sort by due date are SQL: PostgreSQL too.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)

DISPLAY_NAMES = {
    "intake.officer": "李接待",
    "supervisor": "王科长",
    "analyst": "周统计",
    "department.handler": "赵经办",
    "discipline.inspector": "钱纪检",
}


@pytest.fixture(autouse=True)
def officers(app: Any) -> None:
    """The test accounts with the names colleagues know them by."""
    with session_scope(app.state.session_factory) as session:
        for username, name in DISPLAY_NAMES.items():
            session.execute(update(User).where(User.username == username).values(display_name=name))


def csrf_of(client: TestClient, path: str = "/login") -> str:
    return str(re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1))  # type: ignore[union-attr]


def sign_in(client: TestClient, role: str) -> None:
    client.cookies.clear()
    r = client.post(
        "/login",
        data={"username": role.replace("_", "."), "password": PASSWORD, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def register(client: TestClient, **fields: Any) -> str:
    data = dict(letter_payload(**{"received_on": china_today().isoformat(), **fields}))
    data["csrf_token"] = csrf_of(client, "/letters/new")
    r = client.post("/letters/new", data=data, follow_redirects=False)
    assert r.status_code in (201, 303), r.text
    if r.status_code == 303:
        return str(r.headers["location"].rsplit("/", 1)[1])
    return str(re.search(r'id="case-number">([^<]+)<', r.text).group(1))  # type: ignore[union-attr]


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name}"
    return found.group(1)


def assert_chinese(html: str, where: str) -> None:
    leaks = code_words(html, {"standin-0", "Word"})
    assert not leaks, f"{where} shows {sorted(leaks)}: {visible_text(html)[:3000]}"


def accept_route(client: TestClient, case: str, **correction: str) -> None:
    """Confirm the proposed route, or correct it (``channel="ordinary"`` …) with a reason."""
    page = client.get(f"/letters/{case}").text
    data = {
        "csrf_token": hidden(page, "csrf_token"),
        "proposal_id": hidden(page, "proposal_id"),
        "letter_version": hidden(page, "letter_version"),
        "action": "correct" if correction else "accept",
    }
    if correction:
        data.update(correction, reason=correction.get("reason", "按普通信访程序办理"))
    r = client.post(f"/letters/{case}/decide", data=data, follow_redirects=False)
    assert r.status_code == 303, visible_text(r.text)[:2000]


def step(client: TestClient, case: str, name: str, expect: int = 303, **fields: str) -> Any:
    page = client.get(f"/letters/{case}").text
    assert f'action="/letters/{case}/steps/{name}"' in page, (
        f"no form for {name}: {visible_text(page)[-3000:]}"
    )
    data = {"csrf_token": hidden(page, "csrf_token"), "version": hidden(page, "version"), **fields}
    r = client.post(f"/letters/{case}/steps/{name}", data=data, follow_redirects=False)
    assert r.status_code == expect, visible_text(r.text)[-3000:]
    return r


def issue(client: TestClient, case: str, kind: str, fill: dict[str, str] | None = None) -> str:
    """Draft ``kind`` on the letter page, write what the draft asks for, issue it; returns its 文号."""
    page = client.get(f"/letters/{case}?draft={kind}").text
    assert 'id="draft"' in page, visible_text(page)[-3000:]
    assert_chinese(page, f"the draft of {kind}")
    title = re.search(r'id="draft-title" value="([^"]*)"', page).group(1)  # type: ignore[union-attr]
    paragraphs = re.findall(r'class="draft-paragraph">([^<]*)</textarea>', page)
    import html as html_lib

    filled = []
    for p in paragraphs:
        p = html_lib.unescape(p)
        for label, text in (fill or {}).items():
            p = p.replace(f"【请填写：{label}】", text)
        filled.append(p)
    r = client.post(
        f"/letters/{case}/documents",
        data={
            "csrf_token": hidden(page, "csrf_token"),
            "kind": kind,
            "title": html_lib.unescape(title),
            "paragraph": filled,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, visible_text(r.text)[-3000:]
    notice = client.get(f"/letters/{case}").text
    number = re.search(r"文号 ([^。<]+)。", notice)
    assert number, visible_text(notice)[-2000:]
    return number.group(1)


def section(client: TestClient, case: str) -> str:
    return visible_text(client.get(f"/letters/{case}").text)


def test_accept_notice_transfer_receipt_answer_close(client: TestClient) -> None:
    sign_in(client, "intake_officer")
    case = register(client)
    accept_route(client, case, channel="ordinary")
    page = client.get(f"/letters/{case}").text
    assert_chinese(page, "the decided letter")
    text = visible_text(page)
    assert "办理过程" in text and "已确定去向" in text
    assert "第二十二条第一款" in text  # the office's 15 days to forward, as a date
    # The case's clocks are the ones in force; the proposal's are folded away for reference.
    assert '<details id="proposal-deadlines">' in page and 'id="case-clocks"' in page
    number = issue(client, case, "transfer_letter")
    assert re.fullmatch(r".+信转〔\d{4}〕\d+号", number), number
    step(client, case, "transfer", document_no=number)
    assert "已转送" in section(client, case)
    # The route is the body's now: no decision form, and an old one posted is refused in words.
    assert 'id="decide"' not in client.get(f"/letters/{case}").text

    sign_in(client, "department_handler")
    queue = client.get("/").text
    row = re.search(rf"<tr[^>]*data-case=\"{case}\".*?</tr>", queue, re.S)
    assert row and "已转送" in visible_text(row.group()), visible_text(queue)
    assert_chinese(queue, "the handler's queue")
    step(client, case, "receive")
    text = section(client, case)
    assert "已签收" in text and "第二十三条第三款" in text
    notice = issue(
        client, case, "acceptance_notice", {"处理途径和程序": "按信访程序办理，60日内出具处理意见。"}
    )
    step(client, case, "accept", document_no=notice)
    assert "第三十四条" in section(client, case)
    opinion = issue(
        client,
        case,
        "handling_opinion",
        {
            "处理意见": "责令物业公司退还多收费用。",
            "事实和理由": "经核查，物业公司多收费用属实。",
            "法律法规依据": "《物业管理条例》",
            "复查机关": "区人民政府",
        },
    )
    step(client, case, "answer", document_no=opinion)
    page = client.get(f"/letters/{case}").text
    assert "已出具处理意见" in visible_text(page)
    assert_chinese(page, "the answered case, as the handler sees it")
    step(client, case, "close")
    text = section(client, case)
    assert "已办结" in text and "出具处理意见" in text
    assert "赵经办（承办单位人员）" in text  # who, by name and role


def test_a_stale_page_is_refused_with_a_readable_message(client: TestClient) -> None:
    sign_in(client, "intake_officer")
    case = register(client)
    accept_route(client, case)
    stale = client.get(f"/letters/{case}").text
    number = issue(client, case, "transfer_letter")  # issuing changes nothing of the case
    step(client, case, "transfer", document_no=number)
    r = client.post(
        f"/letters/{case}/steps/transfer",
        data={
            "csrf_token": hidden(stale, "csrf_token"),
            "version": hidden(stale, "version"),
            "document_no": number,
        },
        follow_redirects=False,
    )
    assert r.status_code == 409
    assert "已有他人办理" in visible_text(r.text) and 'id="case-error"' in r.text
    assert_chinese(r.text, "the refused stale step")
    r = client.post(
        f"/letters/{case}/decide",
        data={
            "csrf_token": hidden(stale, "csrf_token"),
            "proposal_id": hidden(stale, "proposal_id"),
            "letter_version": hidden(stale, "letter_version"),
            "action": "accept",
        },
        follow_redirects=False,
    )
    assert r.status_code == 409 and "不能再更改分流" in visible_text(r.text)


def test_a_step_without_what_the_law_asks_is_refused_and_the_input_kept(client: TestClient) -> None:
    sign_in(client, "intake_officer")
    case = register(client)
    accept_route(client, case)
    number = issue(client, case, "transfer_letter")
    step(client, case, "transfer", document_no=number)
    sign_in(client, "department_handler")
    step(client, case, "receive")
    r = step(client, case, "object", expect=422, reason="   ")
    assert "须填写：理由" in visible_text(r.text)
    assert_chinese(r.text, "the refused objection")


def test_handler_never_sees_an_accusation_nor_another_bodys_case(client: TestClient) -> None:
    sign_in(client, "supervisor")
    accusation = register(client, text=ACCUSATION_TEXT)
    sign_in(client, "department_handler")
    assert client.get(f"/letters/{accusation}").status_code == 404
    assert accusation not in client.get("/").text


def test_supervision_page_lists_what_is_overdue_and_issues_a_supervision_sheet(client: TestClient) -> None:
    sign_in(client, "intake_officer")
    received = (china_today() - dt.timedelta(days=40)).isoformat()
    case = register(client, received_on=received)
    accept_route(client, case)
    assert client.get("/supervision").status_code == 403
    sign_in(client, "supervisor")
    assert 'href="/supervision"' in client.get("/").text
    page = client.get("/supervision").text
    assert_chinese(page, "the supervision page")
    assert case in page and "已超期" in visible_text(page)
    due = (china_today() + dt.timedelta(days=5)).isoformat()
    r = client.post(
        f"/supervision/{case}",
        data={"csrf_token": hidden(page, "csrf_token"), "reason": "逾期未转送，请即办理", "due_on": due},
        follow_redirects=False,
    )
    assert r.status_code == 303, visible_text(r.text)[-2000:]
    page = client.get("/supervision").text
    assert "督办单文号" in visible_text(page)
    text = section(client, case)
    assert "督办" in text and "逾期未转送，请即办理" in text and "第四十条" in text
    assert "督办单" in text


def test_the_supervision_form_of_a_case_issues_its_sheet_with_the_step(client: TestClient) -> None:
    sign_in(client, "intake_officer")
    case = register(client)
    accept_route(client, case)
    step(client, case, "transfer", document_no=issue(client, case, "transfer_letter"))
    sign_in(client, "supervisor")
    page = client.get(f"/letters/{case}").text
    form = re.search(r'<details class="step-form" id="step-supervise".*?</details>', page, re.S)
    assert form, visible_text(page)[-2000:]
    # One form, no 文号 to copy from a sheet issued beforehand, and no 督办单 to draft on its own.
    assert 'name="document_no"' not in form.group() and "出具督办单并督办" in form.group()
    assert 'value="supervision_sheet"' not in page
    yesterday = (china_today() - dt.timedelta(days=1)).isoformat()
    r = step(client, case, "supervise", expect=422, reason="请加快办理", due_on=yesterday)
    assert "办结期限须晚于今天" in visible_text(r.text)
    documents = re.findall(r"<tr data-document=.*?</tr>", client.get(f"/letters/{case}").text, re.S)
    assert len(documents) == 1 and "转送函" in documents[0]  # the refused 督办 left no sheet
    due = (china_today() + dt.timedelta(days=7)).isoformat()
    step(client, case, "supervise", reason="请于期限内办结并反馈", due_on=due)
    text = section(client, case)
    number = re.search(r"已督办，督办单文号 (\S+〔\d{4}〕\d+号)", text)
    assert number, text[-2000:]
    assert "督办 · 王科长（科室负责人）" in text and "请于期限内办结并反馈" in text
    assert text.count(number.group(1)) >= 3  # the notice, the step's 文号 and the document listed
    documents = re.findall(r"<tr data-document=.*?</tr>", client.get(f"/letters/{case}").text, re.S)
    assert [number.group(1) in d for d in documents] == [False, True]
    assert_chinese(client.get(f"/letters/{case}").text, "the supervised case")


@pytest.mark.parametrize("role", ["analyst", "department_handler", "intake_officer"])
def test_only_supervisors_and_inspectors_open_the_supervision_page(client: TestClient, role: str) -> None:
    sign_in(client, role)
    assert client.get("/supervision").status_code == 403
    assert 'href="/supervision"' not in client.get("/letters/new" if role == "intake_officer" else "/").text


def test_the_analyst_reads_the_case_masked_and_no_documents(client: TestClient) -> None:
    sign_in(client, "intake_officer")
    case = register(client)
    accept_route(client, case)
    number = issue(client, case, "transfer_letter")
    step(client, case, "transfer", document_no=number, reason="请联系信访人张三丰，电话13812345678")
    assert "13812345678" in section(client, case)
    sign_in(client, "analyst")
    page = client.get(f"/letters/{case}").text
    text = visible_text(page)
    assert "办理过程" in text and "已转送" in text
    assert "13812345678" not in text and "138****5678" in text
    assert 'id="case-documents"' not in page and 'id="draft-form"' not in page and "/steps/" not in page
    assert_chinese(page, "the case as the analyst reads it")


def test_the_queue_shows_state_and_next_due_and_filters_and_sorts_by_due(client: TestClient) -> None:
    sign_in(client, "intake_officer")
    fresh = register(client)
    late = register(client, received_on=(china_today() - dt.timedelta(days=40)).isoformat())
    accept_route(client, fresh)
    accept_route(client, late)
    page = client.get("/?status=all&order=due").text
    assert_chinese(page, "the queue sorted by due date")
    rows = re.findall(r'data-case="([^"]+)"', page)
    assert rows.index(late) < rows.index(fresh)
    late_row = re.search(rf'data-case="{late}".*?</tr>', page, re.S)
    assert late_row and "已确定去向" in visible_text(late_row.group()) and "超期" in late_row.group()
    # The office's 15 days to forward (第二十二条), counted on the official calendar.
    due, _ = period_end(china_today() - dt.timedelta(days=40), 15)
    assert re.search(r'class="next-due">([^<]+)<', late_row.group()).group(1) == due.isoformat()  # type: ignore[union-attr]
    overdue_only = client.get("/?status=all&overdue=true").text
    assert late in overdue_only and fresh not in overdue_only


def test_a_supervision_sheet_reaches_the_handling_body(client: TestClient) -> None:
    sign_in(client, "intake_officer")
    case = register(client)
    accept_route(client, case)
    step(client, case, "transfer", document_no=issue(client, case, "transfer_letter"))
    sign_in(client, "department_handler")
    step(client, case, "receive")
    sign_in(client, "supervisor")
    page = client.get("/supervision?within=20").text
    assert case in page and "住房和城乡建设局" in visible_text(page)  # listed under its body, by name
    due = (china_today() + dt.timedelta(days=5)).isoformat()
    r = client.post(
        f"/supervision/{case}",
        data={
            "csrf_token": hidden(page, "csrf_token"),
            "reason": "请加快办理",
            "due_on": due,
            "within": "20",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/supervision?within=20"
    sign_in(client, "department_handler")
    page = client.get(f"/letters/{case}").text
    text = visible_text(page)
    assert "督办 · 王科长（科室负责人）" in text and "请加快办理" in text
    assert "按督办要求办理并反馈结果" in text and due in text
    # The 督办单 is the office's document: the handler reads it listed but does not record its sending.
    row = re.search(r"<tr data-document=.*?督办单.*?</tr>", page, re.S)
    assert row and "record-sent" not in row.group()
    assert_chinese(page, "the supervised case, as the handler sees it")
