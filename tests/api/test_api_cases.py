"""The case's life through the JSON API: the case and its clocks, its steps, its documents,
supervision, open escalations and linking a later letter, end to end on SQLite and PostgreSQL.

The ordinary letter (物业) is routed to the housing bureau, the department of the test handler. The
accusation is about an official of that same bureau: its handler must never see or act on it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_factories import ACCUSATION_TEXT, PASSWORD, letter_payload

from store.db import make_engine, make_session_factory, session_scope
from store.letters import china_today
from store.users import create_user

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)

Headers = dict[str, str]

#: What the officer writes into each document beyond what the case gives it.
OFFICER_VALUES: dict[str, dict[str, str]] = {
    "transfer_letter": {},
    "acceptance_notice": {"procedure": "本机关将调查核实，并在60日内出具信访处理意见书。"},
    "handling_opinion": {
        "opinion": "责成物业服务企业退还多收的物业费",
        "legal_basis": "《物业管理条例》第四十一条",
        "review_body": "某市住房和城乡建设局",
        "facts": "物业公司每月多收三百元，经核查属实",
    },
    "supervision_sheet": {"situation": "转送后尚未受理", "reason": "临近期限"},
}


def _register(client: TestClient, h: Headers, **fields: Any) -> str:
    r = client.post("/api/v1/letters", json=letter_payload(**fields), headers=h)
    assert r.status_code == 201, r.text
    return str(r.json()["case_number"])


def _decide(client: TestClient, h: Headers, case: str, **changes: str) -> None:
    letter = client.get(f"/api/v1/letters/{case}", headers=h).json()
    r = client.post(
        f"/api/v1/letters/{case}/decisions",
        headers=h,
        json={"proposal_id": letter["proposal"]["id"], "letter_version": letter["version"], **changes},
    )
    assert r.status_code == 201, r.text


def _case(client: TestClient, h: Headers, case: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/letters/{case}/case", headers=h)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _step(client: TestClient, h: Headers, case: str, step: str, **fields: Any) -> Any:
    version = _case(client, h, case)["version"]
    return client.post(
        f"/api/v1/letters/{case}/steps", headers=h, json={"step": step, "fields": fields, "version": version}
    )


def _issue(
    client: TestClient, h: Headers, case: str, kind: str, values: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/letters/{case}/documents/draft",
        headers=h,
        json={"kind": kind, "values": {**OFFICER_VALUES.get(kind, {}), **(values or {})}},
    )
    assert r.status_code == 200, r.text
    draft = r.json()
    assert draft["to_fill"] == [], draft
    r = client.post(
        f"/api/v1/letters/{case}/documents",
        headers=h,
        json={"kind": kind, "title": draft["title"], "paragraphs": draft["paragraphs"], **extra},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _steps(case: dict[str, Any]) -> list[str]:
    return [s["code"] for s in case["allowed_steps"]]


def _add_handler(database_url: str, username: str, department: str) -> None:
    engine = make_engine(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            create_user(
                session,
                username=username,
                password=PASSWORD,
                role="department_handler",
                display_name="另一单位办理人",
                department=department,
            )
    finally:
        engine.dispose()


def _token(client: TestClient, username: str) -> Headers:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _transferred(client: TestClient, token_for: Any, **fields: Any) -> str:
    """An ordinary letter decided for the housing bureau and transferred to it with its 转送函."""
    officer = token_for("intake_officer")
    case = _register(client, officer, **fields)
    _decide(client, officer, case)
    letter = _issue(client, officer, case, "transfer_letter")
    r = _step(client, officer, case, "transfer", document_no=letter["number"])
    assert r.status_code == 201, r.text
    return case


def test_accept_notice_transfer_receipt_answer_close(client: TestClient, token_for: Any) -> None:
    officer, handler = token_for("intake_officer"), token_for("department_handler")
    case = _register(client, officer, received_on="2026-11-02")
    # a 第三十一条第六项 matter: answered by a 信访事项处理意见书 within 60 days of 受理
    _decide(client, officer, case, channel="ordinary", reason="属一般信访事项，依信访程序办理")
    decided = _case(client, officer, case)
    assert decided["channel"] == "ordinary" and decided["channel_name"]
    assert decided["state"] == "decided" and decided["state_name"] == "已确定去向"
    assert [e["step"] for e in decided["events"]] == ["register", "decide"]
    forward = next(c for c in decided["clocks"] if c["code"] == "forward")
    # 15 days from 2 November 2026, the first day not counted (第二十二条)
    assert (forward["starts_on"], forward["due"], forward["article"]) == (
        "2026-11-02",
        "2026-11-17",
        "第二十二条第一款",
    )
    assert forward["status"] == ("overdue" if china_today() > dt.date(2026, 11, 17) else "due")
    assert {"transfer", "assign"} <= set(_steps(decided))
    assert decided["may_decide"] is True
    # the handler's body will handle it, but it has not been sent there yet
    assert client.get(f"/api/v1/letters/{case}/case", headers=handler).status_code == 404

    letter = _issue(client, officer, case, "transfer_letter")
    assert letter["kind_name"] == "转送函"
    assert re.fullmatch(r"某区信转〔\d{4}〕\d+号", letter["number"]), letter["number"]
    r = _step(client, officer, case, "transfer", document_no=letter["number"])
    assert r.status_code == 201, r.text
    transferred = r.json()
    assert transferred["state"] == "transferred" and transferred["handling_body"] == "housing"
    assert transferred["handling_body_name"] and transferred["handling_body_name"] != "housing"
    assert transferred["may_decide"] is False
    assert [d["number"] for d in transferred["documents"]] == [letter["number"]]

    # once transferred, the office cannot decide another route over the body's head
    current = client.get(f"/api/v1/letters/{case}", headers=officer).json()
    r = client.post(
        f"/api/v1/letters/{case}/decisions",
        headers=officer,
        json={
            "proposal_id": current["proposal"]["id"],
            "letter_version": current["version"],
            "reason": "改送",
        },
    )
    assert r.status_code == 409 and "已转送" in r.json()["error"]

    seen = _case(client, handler, case)
    assert _steps(seen) == ["receive", "escalate"]
    r = _step(client, handler, case, "receive")
    assert r.status_code == 201, r.text
    received = r.json()
    notify = next(c for c in received["clocks"] if c["code"] == "notify_acceptance")
    assert (notify["article"], notify["status"], notify["starts_on"]) == (
        "第二十三条第三款",
        "due",
        china_today().isoformat(),
    )
    assert {"accept", "object"} <= set(_steps(received))

    notice = _issue(client, handler, case, "acceptance_notice")
    assert notice["kind_name"] == "受理告知书"
    r = client.post(
        f"/api/v1/documents/{notice['id']}/sent", headers=handler, json={"sent_on": str(china_today())}
    )
    assert r.status_code == 200 and r.json()["sent_on"] == str(china_today())
    again = client.post(
        f"/api/v1/documents/{notice['id']}/sent", headers=handler, json={"sent_on": str(china_today())}
    )
    assert again.status_code == 409 and "已记录发出日期" in again.json()["error"]
    r = _step(client, handler, case, "accept", document_no=notice["number"])
    assert r.status_code == 201, r.text
    handling = r.json()
    conclude = next(c for c in handling["clocks"] if c["code"] == "conclude")
    assert conclude["article"] == "第三十四条" and conclude["days"] == 60

    opinion = _issue(client, handler, case, "handling_opinion")
    r = _step(client, handler, case, "answer", document_no=opinion["number"])
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "answered"
    r = _step(client, handler, case, "close")
    assert r.status_code == 201, r.text
    closed = r.json()
    assert closed["state_name"] == "已办结"
    assert [e["step"] for e in closed["events"]] == [
        "register",
        "decide",
        "transfer",
        "receive",
        "accept",
        "answer",
        "close",
    ]
    assert closed["events"][-1]["role_name"] == "承办单位人员"
    assert [d["kind"] for d in closed["documents"]] == [
        "transfer_letter",
        "acceptance_notice",
        "handling_opinion",
    ]

    # every step is in the audit log, named in Chinese
    log = client.get("/api/v1/audit", params={"case_number": case}, headers=token_for("supervisor")).json()
    names = {e["action_name"] for e in log["data"]}
    assert {"办理步骤", "出具文书", "登记文书送出"} <= names
    readable = [(d["label"], d["value"]) for e in log["data"] for d in e["readable"]]
    assert ("办理步骤", "签收") in readable and ("新状态", "已签收") in readable
    assert ("文书种类", "转送函") in readable and ("文号", letter["number"]) in readable


def test_documents_as_issued_docx_and_printable_page(client: TestClient, token_for: Any) -> None:
    officer = token_for("intake_officer")
    case = _register(client, officer)
    _decide(client, officer, case)
    r = client.post(
        f"/api/v1/letters/{case}/documents/draft", headers=officer, json={"kind": "acceptance_notice"}
    )
    assert r.status_code == 200, r.text
    # what only the officer can write is marked, and a document still marked is not issued
    assert r.json()["to_fill"] == ["【请填写：处理途径和程序】"]
    refused = client.post(
        f"/api/v1/letters/{case}/documents",
        headers=officer,
        json={"kind": "acceptance_notice", "title": r.json()["title"], "paragraphs": r.json()["paragraphs"]},
    )
    assert refused.status_code == 422 and "未填写" in refused.json()["error"]
    unknown = client.post(f"/api/v1/letters/{case}/documents/draft", headers=officer, json={"kind": "memo"})
    assert unknown.status_code == 422 and "转送函" in unknown.json()["error"]

    draft = client.post(
        f"/api/v1/letters/{case}/documents/draft", headers=officer, json={"kind": "transfer_letter"}
    ).json()
    edited = [*draft["paragraphs"], "请于收到后及时签收。"]
    r = client.post(
        f"/api/v1/letters/{case}/documents",
        headers=officer,
        json={
            "kind": "transfer_letter",
            "title": draft["title"],
            "paragraphs": edited,
            "sent_on": str(china_today()),
        },
    )
    assert r.status_code == 201, r.text
    document = r.json()
    assert document["sent_on"] == str(china_today()) and document["issued_by"] == "intake.officer"
    page = client.get(document["url"], headers=officer)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert document["number"] in page.text and "请于收到后及时签收。" in page.text
    assert "某区人民政府信访局" in page.text  # signed by the office (settings.office_name)
    docx = client.get(document["docx_url"], headers=officer)
    assert docx.status_code == 200 and docx.content[:2] == b"PK"
    disposition = docx.headers["content-disposition"]
    assert "filename*=UTF-8''" in disposition and "%E8%BD%AC" in disposition  # 转, from the 文号
    # the second transfer letter of the year takes the next number
    second = _issue(client, officer, case, "transfer_letter")
    first_seq = int(re.findall(r"〕(\d+)号", document["number"])[0])
    assert second["number"].endswith(f"〕{first_seq + 1}号")
    # the analyst reads the case, with its documents listed, but neither opens nor drafts nor issues
    # one: a document names the petitioner
    analyst = token_for("analyst")
    assert [d["number"] for d in _case(client, analyst, case)["documents"]] == [
        document["number"],
        second["number"],
    ]
    for refused in (
        client.get(document["url"], headers=analyst),
        client.get(document["docx_url"], headers=analyst),
        client.post(
            f"/api/v1/letters/{case}/documents/draft", headers=analyst, json={"kind": "transfer_letter"}
        ),
        client.post(
            f"/api/v1/letters/{case}/documents",
            headers=analyst,
            json={"kind": "transfer_letter", "title": draft["title"], "paragraphs": edited},
        ),
    ):
        assert refused.status_code == 403 and "统计分析人员" in refused.json()["error"]
    assert client.get("/api/v1/documents/999999", headers=officer).status_code == 404


def test_a_stale_version_is_refused_with_409(client: TestClient, token_for: Any) -> None:
    officer = token_for("intake_officer")
    case = _transferred(client, token_for)
    handler = token_for("department_handler")
    seen = _case(client, handler, case)
    r = client.post(
        f"/api/v1/letters/{case}/steps",
        headers=handler,
        json={"step": "receive", "fields": {}, "version": seen["version"]},
    )
    assert r.status_code == 201, r.text
    # a second step sent on the page read before the first
    r = client.post(
        f"/api/v1/letters/{case}/steps",
        headers=handler,
        json={"step": "object", "fields": {"reason": "不属本单位职责"}, "version": seen["version"]},
    )
    assert r.status_code == 409
    assert "已有他人办理" in r.json()["error"]
    # a step the state does not allow: 409 with the steps it allows
    r = _step(client, officer, case, "close")
    assert r.status_code in (403, 409)
    assert re.search(r"[\u4e00-\u9fff]", r.json()["error"])
    # a malformed step: 422 in Chinese
    r = _step(client, handler, case, "object")
    assert r.status_code == 422 and "理由" in r.json()["error"]
    r = _step(client, handler, case, "fly")
    assert r.status_code == 422 and "办理步骤" in r.json()["error"]


def test_return_by_the_body_and_route_again(client: TestClient, token_for: Any) -> None:
    officer, handler = token_for("intake_officer"), token_for("department_handler")
    case = _transferred(client, token_for)
    assert _step(client, handler, case, "receive").status_code == 201
    r = _step(client, handler, case, "object", reason="该事项属城市管理部门职责")
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "returned"
    # returned: the body no longer handles it, so its handler no longer opens it
    assert client.get(f"/api/v1/letters/{case}/case", headers=handler).status_code == 404
    returned = _case(client, officer, case)
    assert returned["may_decide"] is True and "decide" in _steps(returned)


def test_an_accusation_is_never_shown_to_a_handler_of_the_accused_body(
    client: TestClient, token_for: Any
) -> None:
    inspector, handler = token_for("discipline_inspector"), token_for("department_handler")
    case = _register(client, token_for("intake_officer"), text=ACCUSATION_TEXT)
    _decide(client, inspector, case)
    letter = _issue(client, inspector, case, "transfer_letter")
    r = _step(client, inspector, case, "transfer", document_no=letter["number"])
    assert r.status_code == 201, r.text
    assert r.json()["confidential"] is True
    r = _step(client, inspector, case, "escalate", reason="涉及公职人员", reported_to=["区纪委监委"])
    assert r.status_code == 201, r.text
    # the housing bureau's handler: not the case, not a step, not a draft, not a document, not a link
    assert client.get(f"/api/v1/letters/{case}/case", headers=handler).status_code == 404
    r = client.post(
        f"/api/v1/letters/{case}/steps", headers=handler, json={"step": "receive", "fields": {}, "version": 1}
    )
    assert r.status_code == 404 and "没有您可以查看" in r.json()["error"]
    assert (
        client.post(
            f"/api/v1/letters/{case}/documents/draft", headers=handler, json={"kind": "acceptance_notice"}
        ).status_code
        == 404
    )
    assert client.get(letter["url"], headers=handler).status_code == 404
    assert client.get(letter["docx_url"], headers=handler).status_code == 404
    assert (
        client.post(
            f"/api/v1/documents/{letter['id']}/sent", headers=handler, json={"sent_on": "2026-12-01"}
        ).status_code
        == 404
    )
    # nor is it listed among the open escalations, nor may the handler read supervision
    escalations = client.get("/api/v1/escalations", headers=handler).json()
    assert case not in {e["case_number"] for e in escalations["data"]}
    assert client.get("/api/v1/supervision", headers=handler).status_code == 403
    # an intake officer may not open it either; the inspector and the supervisor may
    assert client.get(f"/api/v1/letters/{case}/case", headers=token_for("intake_officer")).status_code == 404
    assert _case(client, token_for("supervisor"), case)["confidential"] is True
    listed = client.get("/api/v1/escalations", headers=inspector).json()
    assert [e["case_number"] for e in listed["data"]] == [case]
    assert listed["data"][0]["reports"][0]["particulars"]["reported_to"] == ["区纪委监委"]
    # every look at it, allowed or refused, is in the audit log with what it was for
    log = client.get(
        "/api/v1/audit",
        params={"case_number": case, "action": "view_confidential"},
        headers=token_for("supervisor"),
    ).json()
    looks = {(e["actor"], e["details"]["allowed"], e["details"]["purpose"]) for e in log["data"]}
    assert {("discipline.inspector", True, "step"), ("department.handler", False, "case")} <= looks
    readable = [(d["label"], d["value"]) for e in log["data"] for d in e["readable"]]
    assert ("用途", "办理步骤") in readable and ("用途", "查看办理过程") in readable


def test_a_handler_of_another_body_gets_404(client: TestClient, token_for: Any, settings: Any) -> None:
    _add_handler(settings.database_url, "other.handler", "urban_management")
    other = _token(client, "other.handler")
    case = _transferred(client, token_for)
    assert client.get(f"/api/v1/letters/{case}/case", headers=other).status_code == 404
    r = client.post(
        f"/api/v1/letters/{case}/steps", headers=other, json={"step": "receive", "fields": {}, "version": 1}
    )
    assert r.status_code == 404
    assert "没有您可以查看" in r.json()["error"]
    documents = _case(client, token_for("intake_officer"), case)["documents"]
    assert client.get(documents[0]["url"], headers=other).status_code == 404
    # the body it was sent to opens it
    assert _case(client, token_for("department_handler"), case)["handling_body"] == "housing"


def _seen_by(client: TestClient, h: Headers, case: str, documents: list[dict[str, Any]]) -> dict[str, Any]:
    """What a reader gets of a case: its place in the queue, and the status and body of every
    endpoint that opens it (the letter, its decisions, its case, earlier letters, its documents)."""
    queue = client.get("/api/v1/letters?status=all&limit=500", headers=h).json()
    paths = [
        f"/api/v1/letters/{case}",
        f"/api/v1/letters/{case}/decisions",
        f"/api/v1/letters/{case}/case",
        f"/api/v1/letters/{case}/earlier",
        *(d["url"] for d in documents),
        *(d["docx_url"] for d in documents),
    ]
    answers = {}
    for path in paths:
        r = client.get(path, headers=h)
        answers[path] = (r.status_code, r.json() if r.status_code == 404 else None)
    return {
        "listed": case in {i["case_number"] for i in queue["data"]},
        "count": queue["count"],
        "answers": answers,
    }


def _hidden_like_nothing(client: TestClient, h: Headers, case: str, seen: dict[str, Any]) -> None:
    """Every endpoint answers 404 exactly as for a case number or document that does not exist."""
    assert not seen["listed"]
    missing_case, missing_document = "XF-2000-999999", 999_999_999
    for path, (status, body) in seen["answers"].items():
        assert status == 404, path
        if "/documents/" in path:
            found = re.search(r"/documents/(\d+)", path)
            assert found is not None
            ghost = f"{path[: found.start(1)]}{missing_document}{path[found.end(1) :]}"
            expected = client.get(ghost, headers=h).json()
            error = expected["error"].replace(str(missing_document), found.group(1))
            assert body == {**expected, "error": error}, path
        else:
            expected = client.get(path.replace(case, missing_case), headers=h).json()
            assert body == {**expected, "error": expected["error"].replace(missing_case, case)}, path


def test_a_handler_sees_a_case_from_its_transfer_until_its_body_returns_it(
    client: TestClient, token_for: Any, settings: Any
) -> None:
    officer, handler = token_for("intake_officer"), token_for("department_handler")
    _add_handler(settings.database_url, "education.handler", "education")
    education = _token(client, "education.handler")
    case = _register(client, officer)
    _decide(client, officer, case)
    assert client.get(f"/api/v1/letters/{case}", headers=officer).json()["decisions"][-1]["department"] == (
        "housing"
    )
    to_housing = _issue(client, officer, case, "transfer_letter")
    before = client.get("/api/v1/letters?status=all&limit=500", headers=handler).json()["count"]

    # Decided for the handler's body, its 转送函 already issued, but not transferred: not theirs yet.
    seen = _seen_by(client, handler, case, [to_housing])
    _hidden_like_nothing(client, handler, case, seen)

    # Transferred: the letter, its case and its documents are the handler's.
    assert _step(client, officer, case, "transfer", document_no=to_housing["number"]).status_code == 201
    seen = _seen_by(client, handler, case, [to_housing])
    assert seen["listed"] and seen["count"] == before + 1
    assert {status for status, _ in seen["answers"].values()} == {200}
    assert _case(client, handler, case)["handling_body"] == "housing"

    # Returned by the body and routed again to the education bureau: the housing handler loses it
    # at the return, and does not get it back when the office sends it elsewhere.
    assert _step(client, handler, case, "receive").status_code == 201
    assert _step(client, handler, case, "object", reason="该事项属教育部门职责").status_code == 201
    _hidden_like_nothing(client, handler, case, _seen_by(client, handler, case, [to_housing]))
    r = _step(
        client,
        officer,
        case,
        "decide",
        channel="ordinary",
        disposition="accept",
        body="education",
        reason="改由教育局办理",
    )
    assert r.status_code == 201, r.text
    _hidden_like_nothing(client, education, case, _seen_by(client, education, case, [to_housing]))
    to_education = _issue(client, officer, case, "transfer_letter")
    assert _step(client, officer, case, "transfer", document_no=to_education["number"]).status_code == 201
    documents = [to_housing, to_education]
    seen = _seen_by(client, handler, case, documents)
    _hidden_like_nothing(client, handler, case, seen)
    assert seen["count"] == before
    seen = _seen_by(client, education, case, documents)
    assert seen["listed"] and {status for status, _ in seen["answers"].values()} == {200}


def test_supervision_lists_what_is_due_and_overdue_by_body(client: TestClient, token_for: Any) -> None:
    supervisor = token_for("supervisor")
    # decided long ago and never forwarded: its 15 days (第二十二条) are over
    late = _register(client, token_for("intake_officer"), received_on="2026-10-09")
    _decide(client, token_for("intake_officer"), late)
    sent = _transferred(client, token_for)
    # received by the body: its 15 days to tell the petitioner run (第二十三条第三款)
    assert _step(client, token_for("department_handler"), sent, "receive").status_code == 201
    r = client.get("/api/v1/supervision", params={"within": 30}, headers=supervisor)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["within_days"] == 30 and view["withheld"] == 0
    by_body = {b["body"]: b for b in view["bodies"]}
    office = {c["case_number"]: c for c in by_body[None]["cases"]}
    assert office[late]["overdue"] is True
    assert office[late]["due"][0]["code"] == "forward" and office[late]["due"][0]["status_name"] == "已超期"
    assert sent in {c["case_number"] for c in by_body["housing"]["cases"]}
    assert by_body["housing"]["body_name"] != "housing"
    # 督办 in one act: the supervision sheet and its step, shown to the body in the case's events
    due_on = (china_today() + dt.timedelta(days=5)).isoformat()
    r = client.post(
        f"/api/v1/letters/{sent}/supervise", headers=supervisor, json={"reason": "临近期限", "due_on": due_on}
    )
    assert r.status_code == 201, r.text
    sheet = r.json()["document"]
    assert sheet["kind"] == "supervision_sheet" and r.json()["case"]["events"][-1]["step"] == "supervise"
    shown = _case(client, token_for("department_handler"), sent)
    assert shown["events"][-1]["step_name"] == "督办"
    assert shown["events"][-1]["particulars"] == {"due_on": due_on, "document_no": sheet["number"]}
    assert any(c["code"] == "supervision" and c["due"] == due_on for c in shown["clocks"])
    assert sheet["number"] in {d["number"] for d in shown["documents"]}
    # the inspector reads only the confidential cases: these two are counted, not listed
    inspector = client.get(
        "/api/v1/supervision", params={"within": 30}, headers=token_for("discipline_inspector")
    ).json()
    assert inspector["bodies"] == [] and inspector["withheld"] >= 2
    assert client.get("/api/v1/supervision", params={"within": 400}, headers=supervisor).status_code == 422
    assert client.get("/api/v1/supervision", headers=token_for("intake_officer")).status_code == 403


def test_supervision_issues_its_sheet_and_takes_its_step_in_one_act(
    client: TestClient, token_for: Any
) -> None:
    supervisor, officer = token_for("supervisor"), token_for("intake_officer")
    case = _transferred(client, token_for)
    due_on = (china_today() + dt.timedelta(days=10)).isoformat()
    version = _case(client, supervisor, case)["version"]

    def supervise(**body: Any) -> Any:
        return client.post(f"/api/v1/letters/{case}/supervise", headers=supervisor, json=body)

    # Refused after the sheet would have been numbered: neither the sheet nor its number is kept.
    r = supervise(reason="临近期限", due_on=due_on, version=version - 1)
    assert r.status_code == 409, r.text
    yesterday = (china_today() - dt.timedelta(days=1)).isoformat()
    r = supervise(reason="临近期限", due_on=yesterday)
    assert r.status_code == 422 and "办结期限须晚于今天" in r.json()["error"], r.text
    assert supervise(reason=" ", due_on=due_on).status_code == 422
    assert [d["kind"] for d in _case(client, supervisor, case)["documents"]] == ["transfer_letter"]

    r = supervise(reason="临近期限，请加快办理", due_on=due_on, situation="已签收，尚未受理", version=version)
    assert r.status_code == 201, r.text
    done = r.json()
    sheet, after = done["document"], done["case"]
    assert re.fullmatch(r"\S+〔\d{4}〕1号", sheet["number"]), sheet  # the first sheet: no number lost
    assert after["version"] == version + 1
    step = after["events"][-1]
    assert (step["step"], step["reason"]) == ("supervise", "临近期限，请加快办理")
    assert step["particulars"] == {"due_on": due_on, "document_no": sheet["number"]}
    page = client.get(sheet["url"], headers=supervisor).text
    assert "临近期限，请加快办理" in page and "已签收，尚未受理" in page
    # audited once each: the sheet issued, the step taken
    audit = client.get(f"/api/v1/audit?case_number={case}&limit=100", headers=supervisor).json()["data"]
    issued = [
        e for e in audit if e["action"] == "document_issued" and e["details"]["kind"] == "supervision_sheet"
    ]
    steps = [e for e in audit if e["action"] == "case_step" and e["details"]["step"] == "supervise"]
    assert len(issued) == 1 and len(steps) == 1
    assert steps[0]["details"]["document_no"] == issued[0]["details"]["number"] == sheet["number"]

    # There is no other way to either half: the step alone, or the sheet alone, is refused.
    r = _step(client, supervisor, case, "supervise", reason="临近期限", due_on=due_on, document_no="X")
    assert r.status_code == 422 and "/supervise" in r.json()["error"], r.text
    r = client.post(
        f"/api/v1/letters/{case}/documents",
        headers=supervisor,
        json={"kind": "supervision_sheet", "title": "督办单", "paragraphs": ["请加快办理。"]},
    )
    assert r.status_code == 422 and "/supervise" in r.json()["error"], r.text
    # 督办 is the head's (第四十条): the office's intake officer may not issue it.
    r = client.post(
        f"/api/v1/letters/{case}/supervise", headers=officer, json={"reason": "临近期限", "due_on": due_on}
    )
    assert r.status_code == 403, r.text


def test_escalation_opens_and_closes_with_the_case(client: TestClient, token_for: Any) -> None:
    officer, handler = token_for("intake_officer"), token_for("department_handler")
    case = _transferred(client, token_for)
    r = _step(
        client,
        officer,
        case,
        "escalate",
        reason="信访人情绪激动，可能聚集",
        reported_to=["区委信访联席会议办公室"],
        measures="已安排专人稳控",
    )
    assert r.status_code == 201, r.text
    for who in (officer, handler, token_for("supervisor")):
        listed = client.get("/api/v1/escalations", headers=who).json()
        assert case in [e["case_number"] for e in listed["data"]]
    report = next(
        e
        for e in client.get("/api/v1/escalations", headers=officer).json()["data"]
        if e["case_number"] == case
    )
    assert report["reports"][0]["reason"] == "信访人情绪激动，可能聚集"
    assert report["reports"][0]["particular_names"]["measures"] == "采取的措施"
    assert client.get("/api/v1/escalations", headers=token_for("analyst")).status_code == 403
    # a 续报 naming the petitioner's telephone: the analyst reads the case masked, as the letter
    r = _step(
        client, officer, case, "escalate", reason="信访人电话13812345678，已联系", reported_to=["区信访局"]
    )
    assert r.status_code == 201, r.text
    assert r.json()["events"][-1]["reason"] == "信访人电话13812345678，已联系"
    masked = _case(client, token_for("analyst"), case)["events"][-1]
    assert masked["reason"] == "信访人电话138****5678，已联系"


def test_link_a_later_letter_to_an_earlier_case(client: TestClient, token_for: Any) -> None:
    officer = token_for("intake_officer")
    earlier = _register(client, officer, received_on="2026-10-09")
    later = _register(client, officer, received_on="2026-11-20")
    version = _case(client, officer, later)["version"]
    r = client.post(
        f"/api/v1/letters/{later}/link",
        headers=officer,
        json={"earlier_case_number": earlier, "reason": "同一事实和理由", "version": version},
    )
    assert r.status_code == 200, r.text
    linked = r.json()
    assert linked["earlier_case_number"] == earlier and linked["linked_by"] == "intake.officer"
    assert linked["earlier_final"] is None  # the earlier case is not final after 复核
    assert _case(client, officer, later)["linked_to"] == earlier
    stale = client.post(
        f"/api/v1/letters/{later}/link",
        headers=officer,
        json={"earlier_case_number": None, "version": version},
    )
    assert stale.status_code == 409
    no_reason = client.post(
        f"/api/v1/letters/{earlier}/link",
        headers=officer,
        json={"earlier_case_number": later, "version": _case(client, officer, earlier)["version"]},
    )
    assert no_reason.status_code == 422 and "理由" in no_reason.json()["error"]
    # a handler cannot even see these undecided letters; an analyst may read but not link
    assert (
        client.post(
            f"/api/v1/letters/{later}/link",
            headers=token_for("department_handler"),
            json={"earlier_case_number": None, "version": 1},
        ).status_code
        == 404
    )
    r = client.post(
        f"/api/v1/letters/{later}/link",
        headers=token_for("analyst"),
        json={"earlier_case_number": None, "version": 1},
    )
    assert r.status_code == 403 and "统计分析人员" in r.json()["error"]


def test_the_queue_puts_open_escalations_first_and_sorts_and_filters_by_what_is_due(
    client: TestClient, token_for: Any
) -> None:
    officer, handler = token_for("intake_officer"), token_for("department_handler")
    received = _transferred(client, token_for)
    assert _step(client, handler, received, "receive").status_code == 201  # 15 days to notify from today
    late = _register(client, officer, received_on="2026-10-09")
    _decide(client, officer, late)  # not forwarded within 15 days (the 24th is a Saturday: the 26th)
    escalated = _transferred(client, token_for)
    r = _step(client, officer, escalated, "escalate", reason="可能引发聚集", reported_to=["区委"])
    assert r.status_code == 201, r.text

    def queue(**params: Any) -> dict[str, Any]:
        r = client.get("/api/v1/letters", params={"status": "decided", **params}, headers=officer)
        assert r.status_code == 200, r.text
        return dict(r.json())

    by_due = queue(order="due")
    assert [i["case_number"] for i in by_due["data"]] == [escalated, late, received]
    first = by_due["data"][0]
    assert first["open_escalation"] is True and first["case_state_name"] == "已转送"
    forward = next(c for c in _case(client, officer, late)["clocks"] if c["code"] == "forward")
    assert by_due["data"][1]["next_due"] == forward["due"] == "2026-10-26"
    assert by_due["data"][1]["case_overdue"] is True
    assert by_due["counts"]["escalated"] == 1 and by_due["counts"]["case_overdue"] == 1
    # the default order puts the open escalation first too
    assert queue()["data"][0]["case_number"] == escalated
    assert [i["case_number"] for i in queue(only_overdue="true")["data"]] == [late]
    # the handler's queue holds its body's letters only, and says in Chinese what it cannot sort by
    mine = client.get("/api/v1/letters", params={"status": "decided", "order": "due"}, headers=handler).json()
    assert escalated in {i["case_number"] for i in mine["data"]}
    assert client.get("/api/v1/letters", params={"order": "state"}, headers=officer).status_code == 422
