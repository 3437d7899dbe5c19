"""Earlier letters of the same petitioner or matter (重复信访) through the API and the pages: the
registration answer, ``GET /letters/{n}/earlier``, marking unrelated, linking from the list, the
不予受理 a case still handled within its time limit proposes, and the batch page's count."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from page_text import visible_text
from sqlalchemy import select
from test_api_cases import _case, _decide, _issue, _register, _step
from web_factories import ACCUSATION_TEXT, PASSWORD, letter_payload

from classifier.similarity import SAME_MATTER_THRESHOLD
from store.db import session_scope
from store.letters import china_today
from store.models import AuditEvent, UnrelatedMark

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)

# A resident ID number with a valid check digit: the petitioner's strongest identity key.
ID18 = "11010519491231002X"
AGAIN_TEXT = "上个月反映过小区物业公司乱收费的问题，每月多收三百元，至今无人处理，再次请求责令退还。"
OTHER_TEXT = "学校门口道路拥堵，放学时段车辆乱停，学生过马路很危险，建议增设交警执勤。"


def _reg(client: TestClient, h: dict[str, str], **fields: Any) -> str:
    return _register(client, h, **{"id_number": ID18, **fields})


def _earlier(client: TestClient, h: dict[str, str], case: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/letters/{case}/earlier", headers=h)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_registration_lists_the_petitioners_earlier_letters(client: TestClient, token_for: Any) -> None:
    officer = token_for("intake_officer")
    first = _reg(client, officer, received_on="2026-10-09")
    other = _reg(
        client,
        officer,
        title="学校门口交通拥堵",
        text=OTHER_TEXT,
        received_on="2026-10-20",
        id_number=None,
        petitioner_name="李四",
        contact_phone="13900000000",
    )
    stranger = _register(
        client,
        officer,
        text=AGAIN_TEXT,
        received_on="2026-10-21",
        id_number=None,
        contact_phone=None,
        petitioner_name=None,
    )
    r = client.post(
        "/api/v1/letters",
        json=letter_payload(AGAIN_TEXT, received_on="2026-11-02", id_number=ID18),
        headers=officer,
    )
    assert r.status_code == 201, r.text
    receipt = r.json()
    listed = [(e["case_number"], e["why"]) for e in receipt["earlier"]]
    # newest first: the stranger on the same matter, then the petitioner's own earlier letter
    assert listed == [(stranger, ["matter"]), (first, ["id", "phone", "name", "matter"])]
    assert other not in {c for c, _ in listed}  # another person, another matter
    same = receipt["earlier"][1]
    assert same["score"] >= SAME_MATTER_THRESHOLD and same["same_matter"] is True
    assert same["why_names"] == ["同一身份证号码", "同一联系电话", "同一姓名且内容相近", "内容相近"]
    assert same["state"] == "registered" and same["state_name"] == "已登记" and same["disposition"] is None
    assert same["encoder_score"] is None  # the main install has no sentence encoder

    case = receipt["case_number"]
    _decide(client, officer, first)
    body = _earlier(client, officer, case)
    assert body["count"] == 2 and body["threshold"] == SAME_MATTER_THRESHOLD
    decided = next(e for e in body["data"] if e["case_number"] == first)
    assert (decided["state"], decided["disposition"]) == ("decided", "accept")
    assert decided["disposition_name"] and decided["channel_name"]
    assert client.get(f"/api/v1/letters/{case}/earlier?limit=1", headers=officer).json()["count"] == 1
    assert client.get(f"/api/v1/letters/{case}/earlier?limit=0", headers=officer).status_code == 422
    assert client.get("/api/v1/letters/XF-2026-999999/earlier", headers=officer).status_code == 404


def test_a_confidential_earlier_letter_is_neither_listed_nor_counted(
    client: TestClient, token_for: Any
) -> None:
    officer = token_for("intake_officer")
    accusation = _reg(client, officer, text=ACCUSATION_TEXT, received_on="2026-10-09")
    case = _reg(client, officer, received_on="2026-11-02")
    intake_view = _earlier(client, officer, case)
    assert accusation not in str(intake_view) and intake_view["count"] == 0
    boss = _earlier(client, token_for("supervisor"), case)
    assert [e["case_number"] for e in boss["data"]] == [
        accusation
    ]  # same petitioner: listed for who may open it
    assert boss["data"][0]["why"][:2] == ["id", "phone"]
    # an accusation's page lists for its readers the petitioner's other letters they may open
    later = _reg(client, token_for("supervisor"), text=ACCUSATION_TEXT, received_on="2026-11-03")
    inspector = _earlier(client, token_for("discipline_inspector"), later)
    assert [e["case_number"] for e in inspector["data"]] == [accusation]


def test_mark_unrelated_clear_and_link_instead(client: TestClient, token_for: Any, app: Any) -> None:
    officer = token_for("intake_officer")
    earlier = _reg(client, officer, received_on="2026-10-09")
    case = _reg(client, officer, text=AGAIN_TEXT, received_on="2026-11-02")
    r = client.post(
        f"/api/v1/letters/{case}/unrelated",
        headers=officer,
        json={"earlier_case_number": earlier, "reason": "同名不同人"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "case_number": case,
        "earlier_case_number": earlier,
        "unrelated": True,
        "changed": True,
    }
    again = client.post(
        f"/api/v1/letters/{case}/unrelated", headers=officer, json={"earlier_case_number": earlier}
    )
    assert again.json()["changed"] is False
    [shown] = _earlier(client, officer, case)["data"]
    assert (
        shown["unrelated"]["reason"] == "同名不同人" and shown["unrelated"]["marked_by"] == "intake.officer"
    )
    # the other direction is no earlier letter; an analyst reads but does not mark
    backwards = client.post(
        f"/api/v1/letters/{earlier}/unrelated", headers=officer, json={"earlier_case_number": case}
    )
    assert backwards.status_code == 422 and "在先来信" in backwards.json()["error"]
    analyst = client.post(
        f"/api/v1/letters/{case}/unrelated",
        headers=token_for("analyst"),
        json={"earlier_case_number": earlier},
    )
    assert analyst.status_code == 403
    cleared = client.post(
        f"/api/v1/letters/{case}/unrelated",
        headers=officer,
        json={"earlier_case_number": earlier, "clear": True},
    )
    assert cleared.json()["unrelated"] is False and cleared.json()["changed"] is True
    assert _earlier(client, officer, case)["data"][0]["unrelated"] is None

    # linked as the same matter instead: then it cannot be marked unrelated
    version = _case(client, officer, case)["version"]
    r = client.post(
        f"/api/v1/letters/{case}/link",
        headers=officer,
        json={"earlier_case_number": earlier, "reason": "同一事实和理由", "version": version},
    )
    assert r.status_code == 200, r.text
    assert _earlier(client, officer, case)["data"][0]["linked"] is True
    refused = client.post(
        f"/api/v1/letters/{case}/unrelated", headers=officer, json={"earlier_case_number": earlier}
    )
    assert refused.status_code == 409 and "取消关联" in refused.json()["error"]

    with session_scope(app.state.session_factory) as session:
        marks = session.scalars(select(UnrelatedMark)).all()
        assert [(m.reason, m.cleared_by) for m in marks] == [("同名不同人", "intake.officer")]
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("letter_unrelated%"))
            .order_by(AuditEvent.seq)
        ).all()
        assert actions == ["letter_unrelated", "letter_unrelated_cleared"]
    audit = client.get("/api/v1/audit?action=letter_unrelated", headers=token_for("supervisor")).json()
    assert audit["data"][0]["action_name"] == "标为无关来信"


def test_a_link_to_a_case_still_handled_proposes_not_accepted(client: TestClient, token_for: Any) -> None:
    officer, handler = token_for("intake_officer"), token_for("department_handler")
    today = china_today().isoformat()
    earlier = _reg(client, officer, received_on="2026-10-09")
    _decide(client, officer, earlier, channel="ordinary", reason="属一般信访事项，依信访程序办理")
    letter = _issue(client, officer, earlier, "transfer_letter")
    assert _step(client, officer, earlier, "transfer", document_no=letter["number"]).status_code == 201
    assert _step(client, handler, earlier, "receive").status_code == 201
    notice = _issue(client, handler, earlier, "acceptance_notice")
    assert _step(client, handler, earlier, "accept", document_no=notice["number"]).status_code == 201

    case = _reg(client, officer, text=AGAIN_TEXT, received_on=today)
    [shown] = _earlier(client, officer, case)["data"]
    assert (
        shown["case_number"] == earlier and shown["state"] == "handling" and shown["state_name"] == "办理中"
    )
    version = _case(client, officer, case)["version"]
    r = client.post(
        f"/api/v1/letters/{case}/link",
        headers=officer,
        json={"earlier_case_number": earlier, "reason": "同一事实和理由", "version": version},
    )
    assert r.status_code == 200, r.text
    linked = r.json()
    assert linked["earlier_final"] is None
    ruling = linked["earlier_ruling"]
    assert (ruling["case_number"], ruling["disposition"], ruling["basis"]) == (
        earlier,
        "not_accepted",
        "第十九条第三款",
    )
    assert ruling["since"] == today and ruling["due_on"] > today
    # the case section of the later letter cites the earlier case and the article, for the officer
    _sign_in(client, "intake_officer")
    text = visible_text(client.get(f"/letters/{case}").text)
    assert f"已关联的原案 {earlier} 已于" in text and "受理，正在办理期限内" in text
    assert "第十九条第三款" in text and "选择不予受理并出具不予受理告知书" in text


# -- the pages ------------------------------------------------------------------------------------


def _csrf(client: TestClient, path: str = "/login") -> str:
    return str(re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1))  # type: ignore[union-attr]


def _sign_in(client: TestClient, role: str) -> None:
    client.cookies.clear()
    r = client.post(
        "/login",
        data={"username": role.replace("_", "."), "password": PASSWORD, "csrf_token": _csrf(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def _register_page(client: TestClient, **fields: Any) -> Any:
    data = dict(letter_payload(**{"id_number": ID18, **fields}))
    data = {k: v for k, v in data.items() if v is not None}
    data["csrf_token"] = _csrf(client, "/letters/new")
    return client.post("/letters/new", data=data, follow_redirects=False)


def test_the_letter_page_section_and_its_buttons(client: TestClient, token_for: Any) -> None:
    officer = token_for("intake_officer")
    earlier = _reg(client, officer, received_on="2026-10-09")
    _decide(client, officer, earlier)
    _sign_in(client, "intake_officer")
    r = _register_page(client, text=AGAIN_TEXT, received_on="2026-11-02")
    assert r.status_code == 303
    case = r.headers["location"].rsplit("/", 1)[1]
    page = client.get(f"/letters/{case}").text
    text = visible_text(page)
    assert (
        "同一信访人／同一事项的在先来信" in text and "已登记。发现 1 封同一信访人或内容相近的在先来信" in text
    )
    row = re.search(rf'<tr class="[^"]*same-matter[^"]*" data-case="{earlier}">(.*?)</tr>', page, re.S)
    assert row, text[-2000:]
    cells = visible_text(row.group(1))
    assert "可能同一事项" in cells and "同一身份证号码" in cells and "已确定去向" in cells
    assert "关联为同一事项" in cells and "标为无关" in cells
    assert "已登记。发现" not in visible_text(client.get(f"/letters/{case}").text)  # said once

    token = _csrf(client, f"/letters/{case}")
    r = client.post(
        f"/letters/{case}/unrelated",
        data={"csrf_token": token, "earlier": earlier, "reason": "同名不同人"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/letters/{case}#earlier"
    page = client.get(f"/letters/{case}").text
    assert f"已将 {earlier} 标为与本件无关。" in visible_text(page)
    assert re.search(rf'<tr class="[^"]*unrelated[^"]*" data-case="{earlier}">', page)
    assert "取消无关标记" in visible_text(page)
    r = client.post(
        f"/letters/{case}/unrelated",
        data={"csrf_token": token, "earlier": earlier, "clear": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert f"已取消 {earlier} 的无关标记。" in visible_text(client.get(f"/letters/{case}").text)
    refused = client.post(f"/letters/{case}/unrelated", data={"csrf_token": token, "earlier": case})
    assert refused.status_code == 422 and "不能标为与自身无关" in visible_text(refused.text)

    # 「关联为同一事项」 posts to the case's own link flow
    page = client.get(f"/letters/{case}").text
    form = re.search(
        rf'<form method="post" action="/letters/{case}/link" class="inline">(.*?)</form>', page, re.S
    )
    assert form and f'name="earlier" value="{earlier}"' in form.group(1)
    version = re.search(r'name="version" value="(\d+)"', form.group(1)).group(1)  # type: ignore[union-attr]
    r = client.post(
        f"/letters/{case}/link",
        data={"csrf_token": token, "earlier": earlier, "reason": "同一事实和理由", "version": version},
        follow_redirects=False,
    )
    assert r.status_code == 303, visible_text(r.text)[-2000:]
    page = client.get(f"/letters/{case}").text
    assert "已关联为同一事项" in visible_text(page) and f'id="case-linked">{earlier}<' in page

    # an analyst reads the list without the buttons
    _sign_in(client, "analyst")
    page = client.get(f"/letters/{case}").text
    assert earlier in page and "标为无关" not in visible_text(page)


def test_registered_page_and_batch_mark(client: TestClient, token_for: Any, app: Any) -> None:
    supervisor = token_for("supervisor")
    earlier = _reg(client, supervisor, received_on="2026-10-09")
    _sign_in(client, "intake_officer")
    # an accusation the registering officer may not read back: the page after registering lists
    # the petitioner's earlier letters the officer may open
    r = _register_page(client, text=ACCUSATION_TEXT, received_on="2026-11-02")
    assert r.status_code == 201, visible_text(r.text)[-2000:]
    text = visible_text(r.text)
    assert "同一信访人／同一事项的在先来信" in text and earlier in text and "同一身份证号码" in text

    # a batch read from two files, the second a repeat of the earlier letter: the batch page and
    # its progress mark the repeat with the count of earlier letters the reader may open
    import hashlib

    from store.files import claim_file, create_batch, mark_file_done, record_source_file
    from store.letters import add_proposal, create_letter
    from store.models import Proposal

    with session_scope(app.state.session_factory) as session:
        batch = create_batch(session, created_by="intake.officer")
        proposal = session.scalars(select(Proposal).order_by(Proposal.id)).first()
        assert proposal is not None
        for name, text in (("来信一.txt", OTHER_TEXT), ("来信二.txt", AGAIN_TEXT)):
            row, _ = record_source_file(
                session,
                sha256=hashlib.sha256(name.encode()).hexdigest(),
                original_name=name,
                media_type="text/plain",
                size_bytes=100,
                stored_path=f"files/{name}",
                batch_id=batch.id,
            )
            claim_file(session, row.id, worker="repeat-test:0:1")
            letter = create_letter(
                session, title="", text=text, created_by="intake-batch", source="batch", source_file_id=row.id
            )
            add_proposal(session, letter.id, proposal.route_proposal().model_copy(update={"letter_id": None}))
            mark_file_done(session, row.id, pages=1)
        batch_id = batch.id
    page = client.get(f"/batches/{batch_id}")
    assert page.status_code == 200
    assert visible_text(page.text).count("在先来信 1 封") == 1
    progress = client.get(f"/batches/{batch_id}/progress").json()
    counts = [link["earlier"] for f in progress["file_states"] for link in f["letters"]]
    assert counts == [0, 1]
