"""``xinfang demo load-shared``: the shared letters registered with their own days and proposals.

Needs ``../shared/data/messages.csv`` (skipped without it) and the shipped model.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli.commands.demo import DEMO_COMMENT
from cli.main import main as cli
from service.statistics import compute, date_range
from store.confidentiality import is_confidential
from store.db import make_engine, make_session_factory
from store.models import Decision, Letter, Proposal, User

pytestmark = pytest.mark.shared_data


def dated_rows(data_dir: Path, n: int) -> list[tuple[str, dt.date]]:
    """The first ``n`` messages that have a time, with the day of that time."""
    out = []
    with (data_dir / "messages.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["time"].strip():
                y, m, d = (int(x) for x in row["time"].split()[0].split("/"))
                out.append((row["title"].strip(), dt.date(y, m, d)))
            if len(out) == n:
                break
    return out


def test_a_small_load_registers_dated_letters_with_proposals(
    shared_data: Path, database_url: str, users: dict[str, str]
) -> None:
    runner = CliRunner()
    args = ["demo", "load-shared", "--data-dir", str(shared_data), "--limit", "12", "--decide"]
    result = runner.invoke(cli, [*args, "--batch", "5", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    assert "已载入演示来信 12 件" in result.output and "跳过无日期来信" in result.output
    expected = dated_rows(shared_data, 12)
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            letters = list(
                session.scalars(select(Letter).where(Letter.created_by == "demo").order_by(Letter.id))
            )
            assert [(x.title, x.received_on) for x in letters] == expected
            assert {x.form for x in letters} == {"online"}
            ids = [x.id for x in letters]
            assert session.scalar(select(Proposal.id).where(Proposal.letter_id.in_(ids)).limit(1)) is not None
            assert (
                len(set(session.scalars(select(Proposal.letter_id).where(Proposal.letter_id.in_(ids))))) == 12
            )
            decisions = list(session.scalars(select(Decision).where(Decision.letter_id.in_(ids))))
            proposals = list(session.scalars(select(Proposal).where(Proposal.letter_id.in_(ids))))
            ordinary = {p.letter_id for p in proposals if not is_confidential(p, None)}
            assert {d.letter_id for d in decisions} == ordinary  # a confidential one waits for its reader
            assert decisions and all(
                d.decided_by == "demo" and d.agreed_with_proposal and d.comment == DEMO_COMMENT
                for d in decisions
            )
            demo = session.scalar(select(User).where(User.username == "demo"))
            assert demo is not None and demo.role == "intake_officer"
            days = [day for _, day in expected]
            stats = compute(session, date_range(min(days), max(days)))  # the figures count them on their days
            assert stats.total == 12 and sum(c.count for c in stats.series_day) == 12
    finally:
        engine.dispose()
    again = runner.invoke(cli, [*args, "--database-url", database_url])
    assert again.exit_code == 1 and "已有 12 件演示来信" in again.output


def test_a_missing_data_folder_is_a_clear_error(tmp_path: Path, database_url: str) -> None:
    result = CliRunner().invoke(
        cli, ["demo", "load-shared", "--data-dir", str(tmp_path), "--database-url", database_url]
    )
    assert result.exit_code == 1 and "messages.csv" in result.output and "Traceback" not in result.output
