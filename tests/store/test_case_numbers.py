"""What a case number may reveal: the year it was registered in, and nothing else.

Sequential numbers told an officer who sees two letters how many were registered between them, and
so, by the gaps, how many letters their role may not open (accusations above all). The numbers are
drawn at random among the year's free ones; the count per year is kept apart for statistics.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from store_factories import make_user

import store.letters
from store.errors import InvalidValueError
from store.files import create_batch
from store.letters import CASE_NUMBER_RE, create_letter, get_letter_by_case_number
from store.models import CaseCounter

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def officer(session: Session) -> str:
    return make_user(session).username


def _register(session: Session, officer: str, n: int) -> list[str]:
    return [
        create_letter(session, title="来信", text=f"第{i}封", created_by=officer, now=NOW).case_number
        for i in range(n)
    ]


def test_numbers_reveal_neither_how_many_nor_in_what_order(session: Session, officer: str) -> None:
    cases = _register(session, officer, 40)
    assert len(set(cases)) == 40 and all(CASE_NUMBER_RE.match(c) for c in cases)
    numbers = [int(c.rsplit("-", 1)[1]) for c in cases]
    # 40 sequential numbers would be 1..40 (or any run); their order would be the registration order
    assert numbers != sorted(numbers)
    assert max(numbers) - min(numbers) > 1000
    # the year's count is still kept, for the office's statistics
    assert session.scalar(select(CaseCounter.last_number).where(CaseCounter.year == 2026)) == 40


def test_a_number_already_taken_is_drawn_again(
    session: Session, officer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted = [583920, 583920, 17]
    monkeypatch.setattr(store.letters, "_draw", lambda space: scripted.pop(0))
    first, second = _register(session, officer, 2)
    assert (first, second) == ("XF-2026-583920", "XF-2026-000017")
    assert scripted == []


def test_the_numbers_to_draw_from_grow_with_the_year(
    session: Session, officer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spaces: list[int] = []

    def draw(space: int) -> int:
        spaces.append(space)
        return space  # the largest number there is

    monkeypatch.setattr(store.letters, "_draw", draw)
    _register(session, officer, 1)
    session.execute(text("UPDATE case_counters SET last_number = 250000 WHERE year = 2026"))
    [big] = _register(session, officer, 1)
    # ten times the year's letters once that is more than 999,999: nine draws in ten stay free
    assert spaces == [999_999, 2_500_010]
    assert big == "XF-2026-2500010"
    assert get_letter_by_case_number(session, big).text == "第0封"


@pytest.mark.parametrize("day", [dt.date(1, 1, 1), dt.date(1026, 3, 1), dt.date(1989, 12, 31)])
def test_a_day_of_receipt_before_1990_is_refused(session: Session, officer: str, day: dt.date) -> None:
    with pytest.raises(InvalidValueError, match=f"{day.isoformat()} 早于 1990-01-01，请核对年份"):
        create_letter(session, title="来信", text="x", created_by=officer, received_on=day, now=NOW)
    with pytest.raises(InvalidValueError, match="早于 1990-01-01"):
        create_batch(session, created_by=officer, received_on=day, now=NOW)
    assert session.scalar(text("SELECT count(*) FROM letters")) == 0
    assert session.scalar(text("SELECT count(*) FROM batches")) == 0


def test_1990_01_01_is_the_first_day_allowed(session: Session, officer: str) -> None:
    letter = create_letter(
        session, title="来信", text="x", created_by=officer, received_on=dt.date(1990, 1, 1), now=NOW
    )
    assert letter.received_on == dt.date(1990, 1, 1)
    assert create_batch(session, created_by=officer, received_on=dt.date(1990, 1, 1), now=NOW).id
