"""The office's holiday file: years the bundled calendar does not cover yet count with it.

The arrangements written here are made up for the tests (the days are chosen to make each rule
visible), not any year's real notice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from routing.calendar import DEFAULT_HOLIDAYS_FILE, is_workday, load_calendar, use_holidays
from routing.deadlines import add_working_days, period_end
from routing.errors import CalendarError

D = dt.date

MADE_UP_2027 = """\
2027:
  notice: 测试用安排
  holidays: [2027-01-01, 2027-02-06..2027-02-12]
  workdays: [2027-02-14]
"""


@pytest.fixture
def office_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "holidays.yaml"
    path.write_text(MADE_UP_2027, encoding="utf-8")
    use_holidays(path)
    yield path
    use_holidays(DEFAULT_HOLIDAYS_FILE)


def test_the_shipped_file_loads_and_enters_no_year() -> None:
    assert load_calendar(DEFAULT_HOLIDAYS_FILE).years == frozenset()


def test_an_unentered_year_counts_monday_to_friday_and_says_so() -> None:
    workday, note = is_workday(D(2027, 1, 1))  # a Friday
    assert workday is True
    assert note is not None and "2027年的法定节假日安排尚未收录" in note


def test_an_entered_year_counts_its_holidays_ranges_and_weekend_workdays(office_file: Path) -> None:
    assert is_workday(D(2027, 1, 1)) == (False, None)
    assert all(not is_workday(D(2027, 2, day))[0] for day in range(6, 13))  # the range is inclusive
    assert is_workday(D(2027, 2, 14)) == (True, None)  # a Sunday worked in exchange
    assert is_workday(D(2027, 2, 13)) == (False, None)  # any other weekend day stays off
    assert is_workday(D(2027, 3, 3)) == (True, None)


def test_a_period_ending_on_an_entered_holiday_moves_without_a_note_to_check(office_file: Path) -> None:
    # 15 days after 17 December 2026 is 1 January 2027: entered as a holiday, so the period ends
    # on the next working day (民法典第二百零三条), and no note asks to check an unknown year.
    due, note = period_end(D(2026, 12, 17), 15)
    assert due == D(2027, 1, 4)
    assert note is not None and "法定休假日" in note and "尚未收录" not in note
    # five working days from Friday 5 February skip the break and count the worked Sunday
    assert add_working_days(D(2027, 2, 5), 5) == (D(2027, 2, 18), None)


def test_the_office_file_wins_over_the_bundled_calendar_for_the_years_it_lists(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    # 1 October 2026 is a bundled holiday; an office that enters 2026 itself takes its own word
    path.write_text("2026:\n  holidays: [2026-10-02]\n", encoding="utf-8")
    try:
        use_holidays(path)
        assert is_workday(D(2026, 10, 1)) == (True, None)
        assert is_workday(D(2026, 10, 2)) == (False, None)
    finally:
        use_holidays(DEFAULT_HOLIDAYS_FILE)
    assert is_workday(D(2026, 10, 1)) == (False, None)


def test_a_missing_file_is_an_empty_calendar(tmp_path: Path) -> None:
    assert load_calendar(tmp_path / "none.yaml").years == frozenset()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("- 2027-01-01\n", "应以年份为键"),
        ("twenty: {}\n", "不是年份"),
        ("2027:\n  holiday: [2027-01-01]\n", "只能有"),
        ("2027:\n  holidays: 2027-01-01\n", "应为日期列表"),
        ("2027:\n  holidays: [2027-13-01]\n", "不是日期"),
        ("2027:\n  holidays: [2027-02-12..2027-02-06]\n", "由早到晚"),
        ("2027:\n  holidays: [2026-12-31..2027-01-02]\n", "2027年内"),
        ("2027:\n  holidays: [2027-02-14]\n  workdays: [2027-02-14]\n", "既列为放假又列为上班"),
        ("2027: [\n", "无法读取"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_file_and_the_entry(
    tmp_path: Path, text: str, named: str
) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarError, match=named) as caught:
        load_calendar(path)
    assert str(path) in str(caught.value)


def test_the_check_command_says_where_each_year_comes_from(office_file: Path) -> None:
    from cli.main import main

    result = CliRunner().invoke(main, ["calendar", "check", "--file", str(office_file), "--year", "2026"])
    assert result.exit_code == 0, result.output
    assert "2026年：内置日历" in result.output
    assert "2027年：节假日文件（放假 8 天，调休上班 1 天）测试用安排" in result.output


def test_the_check_command_names_a_year_nobody_covers(tmp_path: Path) -> None:
    from cli.main import main

    missing = tmp_path / "none.yaml"
    result = CliRunner().invoke(main, ["calendar", "check", "--file", str(missing), "--year", "2031"])
    assert result.exit_code == 0, result.output
    assert "不存在，未录入任何年份" in result.output and "2031年：未收录" in result.output


def test_the_check_command_refuses_a_malformed_file(tmp_path: Path) -> None:
    from cli.main import main

    path = tmp_path / "holidays.yaml"
    path.write_text("2027:\n  holidays: [2027-02-30]\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["calendar", "check", "--file", str(path)])
    assert result.exit_code == 1
    assert "2027-02-30" in result.output and "xinfang calendar check" in result.output
