"""The statistics JSON, page and report files, and ``xinfang report``: the same numbers everywhere.

A few letters received in July 2019 (one of them an accusation), some decided and left overdue, on
SQLite and PostgreSQL. The DOCX and XLSX are read back and compared with the JSON of the same
period; the page must show the same rates; a confidential letter is counted everywhere and named
only to a supervisor. Who may open the page at all is the permission matrix's
(``test_api_permissions.py``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from standin_router import StandInRouter
from web_factories import ACCUSATION_TEXT, ORDINARY_TEXT, PASSWORD

from casework.cases import sync_case
from cli.main import main as cli
from routing.schemas import Letter as RoutedLetter
from service.reports import TABLES, docx_tables
from store.db import session_scope
from store.letters import add_proposal, create_letter, decide

both = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
PERIOD = "2019-Q3"
_ROUTER = StandInRouter()


def build(app: Any) -> dict[str, str]:
    """Five letters of the third quarter of 2019 (two accusations), two decided, and one of October."""
    made: dict[str, str] = {}
    with session_scope(app.state.session_factory) as session:
        for key, text, day, route in (
            ("ordinary_overdue", ORDINARY_TEXT, dt.date(2019, 7, 1), ("appeal", "ordinary", "housing")),
            (
                "secret_overdue",
                ACCUSATION_TEXT,
                dt.date(2019, 7, 2),
                ("accusation", "discipline", "discipline_inspection"),
            ),
            ("pending_1", ORDINARY_TEXT, dt.date(2019, 7, 15), None),
            ("pending_2", ORDINARY_TEXT, dt.date(2019, 8, 3), None),
            ("pending_3", ACCUSATION_TEXT, dt.date(2019, 9, 30), None),
            ("october", ORDINARY_TEXT, dt.date(2019, 10, 1), None),
        ):
            letter = create_letter(
                session,
                title="A市A3区来信" if key != "pending_2" else "",
                text=text,
                created_by="supervisor",
                received_on=day,
            )
            add_proposal(
                session, letter.id, _ROUTER.propose(RoutedLetter(title="", text=text, received_on=day))
            )
            if route is not None:
                session.refresh(letter)
                category, channel, department = route
                decide(
                    session,
                    letter.id,
                    expected_version=letter.version,
                    decided_by="supervisor",
                    category=category,
                    domain="城乡建设",
                    department=department,
                    channel=channel,
                    disposition="accept",
                    reason="按本案情况确认",
                )
                sync_case(session, letter)
            made[key] = letter.case_number
    return made


def signed_in(app: Any, username: str) -> tuple[TestClient, dict[str, str]]:
    """A browser session (cookie) and an API token for ``username``."""
    client = TestClient(app, raise_server_exceptions=False)
    token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    return client, {"Authorization": f"Bearer {r.json()['access_token']}"}


def xlsx_sheets(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(io.BytesIO(data))
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book}


def check_files_against_json(body: dict[str, Any], docx: bytes, xlsx: bytes) -> None:
    """Every figure of the JSON is the same in both files."""
    rates = {r["name"]: (r["numerator"], r["denominator"]) for r in body["rates"].values()}
    tables = docx_tables(docx)
    in_docx = {row[0]: (int(row[2]), int(row[3])) for row in tables["主要指标"][1:]}
    assert in_docx == rates
    sheets = xlsx_sheets(xlsx)
    in_xlsx = {row[0]: (row[2], row[3]) for row in sheets["主要指标"][1:]}
    assert in_xlsx == rates
    summary = {row[0]: row[1] for row in sheets["概况"]}
    assert summary["来信总数"] == body["total"] and summary["其中保密事项"] == body["confidential"]
    assert summary["超期未办"] == body["overdue_total"]
    for title, attr in TABLES:
        want = {c["code"]: c["count"] for c in body[attr]}
        assert {row[0]: row[2] for row in sheets[title][1:]} == want, title
        if want:
            assert {row[0]: int(row[1]) for row in tables[title][1:]} == {
                c["name"]: c["count"] for c in body[attr][:15]
            }, title
    for title, key in (("按日", "day"), ("按周", "week"), ("按月", "month")):
        assert {row[0]: row[2] for row in sheets[title][1:]} == {
            c["code"]: c["count"] for c in body["series"][key]
        }
    listed = [row[0] for row in sheets["超期事项"][1:] if row[1] is not None]
    assert listed == [c["case_number"] for c in body["overdue_cases"]]


@both
def test_the_files_and_the_page_show_the_numbers_of_the_json(
    database_url: str, app: Any, users: dict[str, str]
) -> None:
    with TestClient(app):
        made = build(app)
        for role in ("supervisor", "analyst"):
            client, token = signed_in(app, users[role])
            body = client.get(f"/api/v1/statistics?period={PERIOD}", headers=token).json()
            assert body["total"] == 5 and body["confidential"] == 2, role
            assert sum(c["count"] for c in body["series"]["month"]) == 5
            assert body["satisfaction"] is None and body["satisfaction_note"] == "暂无满意度评价数据"
            docx = client.get(f"/api/v1/statistics/report?period={PERIOD}&format=docx", headers=token)
            xlsx = client.get(f"/statistics/report.xlsx?period={PERIOD}")
            assert docx.status_code == 200 and xlsx.status_code == 200
            assert docx.headers["content-type"].startswith(
                "application/vnd.openxmlformats-officedocument.word"
            )
            assert "attachment" in xlsx.headers["content-disposition"]
            check_files_against_json(body, docx.content, xlsx.content)
            page = client.get(f"/statistics?period={PERIOD}")
            assert page.status_code == 200 and "<svg" in page.text
            assert f'id="stat-total">{body["total"]}<' in page.text
            for key, rate in body["rates"].items():
                row = page.text.split(f'data-rate="{key}"')[1].split("</tr>")[0]
                assert f"{rate['numerator']}／{rate['denominator']}" in row, key
            # a confidential letter is counted for both, named only to the supervisor
            listed = {c["case_number"] for c in body["overdue_cases"]}
            texts = [
                json.dumps(body, ensure_ascii=False),
                page.text,
                xlsx_text(xlsx.content),
                docx_text(docx.content),
            ]
            # every letter of 2019 is long overdue: the decided ones by their case, the others by
            # their proposal's deadlines
            secret = {made["secret_overdue"], made["pending_3"]}
            ordinary = {made["ordinary_overdue"], made["pending_1"], made["pending_2"]}
            assert body["overdue_total"] == 5
            if role == "supervisor":
                assert listed == secret | ordinary and body["overdue_withheld"] == 0
            else:
                assert listed == ordinary and body["overdue_withheld"] == 2
                assert all(number not in text for text in texts for number in secret)
                assert "另有 2 件保密事项超期" in page.text
            assert all(made["october"] not in text for text in texts)


def xlsx_text(data: bytes) -> str:
    return "\n".join(
        str(c) for rows in xlsx_sheets(data).values() for row in rows for c in row if c is not None
    )


def docx_text(data: bytes) -> str:
    from docx import Document

    doc = Document(io.BytesIO(data))
    return "\n".join(
        [p.text for p in doc.paragraphs] + [c.text for t in doc.tables for r in t.rows for c in r.cells]
    )


def test_a_period_it_cannot_read_is_a_clear_error(app: Any, users: dict[str, str]) -> None:
    with TestClient(app):
        client, token = signed_in(app, users["analyst"])
        r = client.get("/api/v1/statistics?period=2019-Q5", headers=token)
        assert r.status_code == 422 and "统计期间" in r.json()["error"]
        r = client.get("/api/v1/statistics?from=2019-09-01&to=2019-08-01", headers=token)
        assert r.status_code == 422 and "早于" in r.json()["error"]
        r = client.get("/api/v1/statistics?department=nowhere", headers=token)
        assert r.status_code == 422 and "nowhere" in r.json()["error"]
        page = client.get("/statistics?period=上个月")
        assert page.status_code == 422 and "统计期间" in page.text and 'id="statistics-form"' in page.text
        r = client.get("/api/v1/statistics/report?period=2019-Q3&format=pdf", headers=token)
        assert r.status_code == 422


def test_the_command_writes_the_report_of_the_page(
    database_url: str, app: Any, users: dict[str, str], tmp_path: Path
) -> None:
    with TestClient(app):
        build(app)
        client, token = signed_in(app, users["supervisor"])
        body = client.get(f"/api/v1/statistics?period={PERIOD}", headers=token).json()
    out = tmp_path / "report.xlsx"
    result = CliRunner().invoke(
        cli,
        ["report", "--period", PERIOD, "--format", "xlsx", "--out", str(out), "--database-url", database_url],
    )
    assert result.exit_code == 0, result.output
    assert "来信 5 件" in result.output
    sheets = xlsx_sheets(out.read_bytes())
    assert {row[0]: (row[2], row[3]) for row in sheets["主要指标"][1:]} == {
        r["name"]: (r["numerator"], r["denominator"]) for r in body["rates"].values()
    }
    # the office's copy names no case: nobody in particular reads it
    assert [row[0] for row in sheets["超期事项"][1:]] == ["另有 2 件保密事项超期，不予列出"]
    out_docx = tmp_path / "report.docx"
    result = CliRunner().invoke(
        cli, ["report", "--period", PERIOD, "--out", str(out_docx), "--database-url", database_url]
    )
    assert result.exit_code == 0, result.output
    assert docx_tables(out_docx.read_bytes())["主要指标"][1][2:4] == [
        str(body["rates"]["timely_acceptance"]["numerator"]),
        str(body["rates"]["timely_acceptance"]["denominator"]),
    ]
    bad = CliRunner().invoke(
        cli, ["report", "--period", "2019-Q7", "--out", str(out), "--database-url", database_url]
    )
    assert bad.exit_code == 1 and "统计期间" in bad.output and "Traceback" not in bad.output


@both
@pytest.mark.parametrize("role", ["supervisor", "analyst"])
def test_the_report_lists_the_hot_issues_of_its_period_as_its_reader_sees_them(
    app: Any, users: dict[str, str], role: str
) -> None:
    with TestClient(app):
        made = build(app)
        client, token = signed_in(app, users[role])
        clusters = client.get("/api/v1/hot-issues?since=2019-07-01&until=2019-09-30", headers=token).json()
        xlsx = client.get(f"/api/v1/statistics/report?period={PERIOD}&format=xlsx", headers=token)
        docx = client.get(f"/api/v1/statistics/report?period={PERIOD}&format=docx", headers=token)
    assert xlsx.status_code == 200 and docx.status_code == 200
    rows = xlsx_sheets(xlsx.content)["热点问题"][1:]
    # the same clusters as the hot-issues page of the same days, largest first
    # one place (A3区) and one complaint: the five letters of the quarter are one cluster, October's not
    sizes = [c["size"] for c in clusters["data"]]
    assert [row[1] for row in rows] == sizes and sum(sizes) == 5
    assert [row[1] for row in docx_tables(docx.content)["热点"][1:]] == [str(n) for n in sizes]
    described = "\n".join(str(c) for row in rows for c in row)
    assert any(made[k] in described for k in ("ordinary_overdue", "pending_1", "pending_2"))
    assert made["october"] not in described
    if role == "analyst":
        # the accusations are counted in their cluster, never named nor described in their words
        assert "含保密来信 2 件（只计数）" in described
        assert "贿赂" not in described and "住建局" not in described
        assert made["secret_overdue"] not in described and made["pending_3"] not in described
    else:
        assert "保密" not in described
