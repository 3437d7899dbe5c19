"""The statistics page in Debian's Chromium: an analyst picks a quarter, reads the figures and the
charts, downloads the report; an intake officer finds no way in."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_server import needs_chromium, serve, shot, sign_in
from openpyxl import load_workbook
from standin_router import StandInRouter
from web_factories import ACCUSATION_TEXT, ORDINARY_TEXT, make_settings

from api.app import create_app
from casework.cases import sync_case
from routing.schemas import Letter as RoutedLetter
from store.db import make_engine, make_session_factory, session_scope
from store.letters import add_proposal, create_letter, decide

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture(scope="module")
def base(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, standin_router: Any
) -> Iterator[str]:
    path = tmp_path_factory.mktemp("statistics") / "statistics.sqlite3"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    router = StandInRouter()
    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            for i, (text, title) in enumerate(
                [(ORDINARY_TEXT, "A市A3区物业乱收费"), (ORDINARY_TEXT, "K市K2县物业"), (ACCUSATION_TEXT, "")]
                * 3
            ):
                day = dt.date(2019, 7, 1) + dt.timedelta(days=9 * i)
                letter = create_letter(
                    session, title=title, text=text, created_by="supervisor", received_on=day
                )
                made = router.propose(RoutedLetter(title=title, text=text, received_on=day))
                add_proposal(session, letter.id, made)
                if i % 2 == 0:
                    session.refresh(letter)
                    decide(
                        session,
                        letter.id,
                        expected_version=letter.version,
                        decided_by="supervisor",
                        category=made.category.label,
                        domain=made.domain.label,
                        department=made.department.label,
                        channel=made.channel,
                        disposition=made.disposition,
                    )
                    sync_case(session, letter)
    finally:
        engine.dispose()
    with serve(create_app(make_settings(url), router=standin_router)) as served:
        yield served


def test_an_analyst_reads_a_quarter_and_downloads_its_report(base: str, page: Any) -> None:
    sign_in(page, base, "analyst")
    page.click("#nav-statistics")
    page.wait_for_url(f"{base}/statistics")
    page.fill("#period", "2019-Q3")
    page.click("#statistics-form button[type=submit]")
    page.wait_for_url(f"{base}/statistics?period=2019-Q3**")
    assert page.inner_text("#stat-total") == "9"
    assert page.inner_text("#stat-confidential") == "3"
    assert page.locator("svg.chart").count() >= 7
    assert page.locator("svg.chart.line polyline").count() == 1
    assert page.locator("#rates tbody tr").count() == 6
    assert "暂无满意度评价数据" in page.inner_text("#satisfaction")
    assert page.locator("#overdue-withheld").count() == 1  # the accusations are overdue, and not listed
    shot(page, "statistics")
    with page.expect_download() as download:
        page.click("#report-xlsx")
    book = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    summary = {row[0]: row[1] for row in book["概况"].iter_rows(values_only=True)}
    assert summary["来信总数"] == 9 and summary["统计范围"] == "全机关"


def test_an_intake_officer_has_no_statistics(base: str, page: Any) -> None:
    sign_in(page, base, "intake.officer")
    assert page.locator("#nav-statistics").count() == 0
    response = page.goto(f"{base}/statistics")
    assert response is not None and response.status == 403
