from __future__ import annotations

import datetime as dt

import pytest

from routing.deadlines import add_calendar_days, add_working_days, deadlines_for, earliest_due


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (dt.date(2026, 12, 1), 5, dt.date(2026, 12, 8)),  # Tue -> next Tue over a weekend
        # National Day 2026: 1-7 October off, Saturday 10 October a make-up working day
        (dt.date(2026, 9, 30), 5, dt.date(2026, 10, 13)),
        (dt.date(2026, 2, 13), 1, dt.date(2026, 2, 14)),  # Saturday 14 February 2026 is a make-up day
    ],
    ids=["weekend", "national-day", "make-up-day"],
)
def test_working_days_follow_the_official_calendar(start: dt.date, days: int, due: dt.date) -> None:
    assert add_working_days(start, days) == (due, None)


def test_an_unpublished_year_falls_back_to_weekdays_and_says_so() -> None:
    due, note = add_working_days(dt.date(2027, 3, 1), 5)
    assert due == dt.date(2027, 3, 8)
    assert note is not None and "2027" in note


def test_calendar_days_do_not_count_the_first_day() -> None:
    assert add_calendar_days(dt.date(2026, 12, 1), 15) == dt.date(2026, 12, 16)


def test_ordinary_acceptance_starts_the_60_day_clock() -> None:
    pending = {d.code: d for d in deadlines_for("ordinary", "accept", dt.date(2026, 12, 1))}
    assert pending["conclude"].due is None and pending["conclude"].extension_days == 30
    accepted = {
        d.code: d for d in deadlines_for("ordinary", "accept", dt.date(2026, 12, 1), dt.date(2026, 12, 5))
    }
    assert accepted["conclude"].due == dt.date(2027, 2, 3)


def test_redirected_matters_carry_their_remedy_clock() -> None:
    codes = [d.code for d in deadlines_for("administrative_review", "redirect", dt.date(2026, 12, 1))]
    assert codes == ["notify_acceptance", "administrative_review_limit", "administrative_litigation_limit"]
    assert "conclude" not in codes


def test_earliest_due() -> None:
    deadlines = deadlines_for("ordinary", "accept", dt.date(2026, 12, 1))
    assert earliest_due(deadlines) == dt.date(2026, 12, 8)
    assert earliest_due(deadlines_for("discipline", "accept", None)) is None
