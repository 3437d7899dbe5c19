"""Which days are working days: the State Council's holiday and 调休 calendar.

The ``chinese_calendar`` package carries each year's 国务院办公厅关于部分节假日安排的通知 once a
release includes it, which lags the notice (it is published in November for the next year, and
offices count periods into January at once). An office therefore keeps the years the package does
not cover yet in a small YAML file (the ``holidays_file`` setting; by default ``data/holidays.yaml``)::

    2027:
      notice: 国务院办公厅关于2027年部分节假日安排的通知
      holidays: [2027-01-01, 2027-02-06..2027-02-12]   # 放假 (a range is inclusive)
      workdays: [2027-02-14]                            # 调休上班 on a weekend

A year in the file is covered: its listed holidays are off, its listed workdays are on, and any
other day follows Monday–Friday. The file wins over the package for the years it lists, so a
correction in a later notice takes effect without waiting for a release. A year in neither falls
back to Monday–Friday with a note asking the officer to check the date.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from routing.errors import CalendarError

DEFAULT_HOLIDAYS_FILE = Path(__file__).resolve().parent.parent / "data" / "holidays.yaml"


@dataclass(frozen=True)
class OfficeCalendar:
    """The years an office has entered from the State Council's notices."""

    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()
    years: frozenset[int] = frozenset()
    notices: Mapping[int, str] = field(default_factory=dict)

    def is_workday(self, day: dt.date) -> bool | None:
        """Whether ``day`` is a working day, or ``None`` for a year the office has not entered."""
        if day.year not in self.years:
            return None
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        return day.weekday() < 5


def _days(path: Path, year: int, key: str, items: Any) -> set[dt.date]:
    where = f"{path}：{year}年的 {key}"
    if items is None:
        return set()
    if not isinstance(items, list):
        raise CalendarError(f"{where} 应为日期列表（如 [{year}-01-01, {year}-02-06..{year}-02-12]）")
    days: set[dt.date] = set()
    for item in items:
        text = str(item).strip()
        first, _, last = text.partition("..")
        try:
            start = dt.date.fromisoformat(first.strip())
            end = dt.date.fromisoformat(last.strip()) if last else start
        except ValueError:
            raise CalendarError(
                f"{where} 中的「{text}」不是日期或日期区间（YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD）"
            ) from None
        if end < start or start.year != year or end.year != year:
            raise CalendarError(f"{where} 中的「{text}」须是{year}年内由早到晚的日期")
        days.update(start + dt.timedelta(days=n) for n in range((end - start).days + 1))
    return days


def load_calendar(path: Path) -> OfficeCalendar:
    """Read an office calendar file; a missing file is an empty calendar (nothing entered yet).

    Raises:
        CalendarError: the file is unreadable or malformed; the message names the file and the entry.
    """
    try:
        # Every scalar as text: YAML's own date parsing would fail on 2027-02-30 without naming it.
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    except FileNotFoundError:
        return OfficeCalendar()
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CalendarError(f"节假日文件 {path} 无法读取：{exc}") from exc
    if raw is None or raw == "" or raw == {}:
        return OfficeCalendar()
    if not isinstance(raw, dict):
        raise CalendarError(f"节假日文件 {path} 应以年份为键（如 2027:），见 routing/calendar.py 的说明")
    holidays: set[dt.date] = set()
    workdays: set[dt.date] = set()
    notices: dict[int, str] = {}
    for key, entry in raw.items():
        year = int(key) if key.isascii() and key.isdigit() else 0
        if not 1990 <= year <= 2100:
            raise CalendarError(f"节假日文件 {path} 的键「{key}」不是年份")
        if not isinstance(entry, dict) or not set(entry) <= {"notice", "holidays", "workdays"}:
            raise CalendarError(f"节假日文件 {path}：{year}年只能有 notice、holidays、workdays 三项")
        off = _days(path, year, "holidays", entry.get("holidays"))
        on = _days(path, year, "workdays", entry.get("workdays"))
        if off & on:
            both = "、".join(sorted(d.isoformat() for d in off & on))
            raise CalendarError(f"节假日文件 {path}：{both} 既列为放假又列为上班")
        holidays |= off
        workdays |= on
        notices[year] = str(entry.get("notice") or "")
    return OfficeCalendar(frozenset(holidays), frozenset(workdays), frozenset(notices), notices)


_lock = threading.Lock()
_source: Callable[[], Path] = lambda: DEFAULT_HOLIDAYS_FILE  # noqa: E731
_loaded: OfficeCalendar | None = None


def use_holidays(source: Path | Callable[[], Path]) -> None:
    """Take the office calendar from ``source`` (a path, or a function giving it when first needed).

    The calendar is the country's, the same for every letter a process routes, so it is held per
    process; each shell names its installation's file once at start.
    """
    global _source, _loaded
    with _lock:
        _source = source if callable(source) else (lambda: source)
        _loaded = None


def office_calendar() -> OfficeCalendar:
    """The office calendar in use, read once."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = load_calendar(_source())
        return _loaded


def is_workday(day: dt.date) -> tuple[bool, str | None]:
    """Whether ``day`` is a working day, and a note when neither the office's file nor the package
    covers its year (Monday–Friday is assumed then)."""
    entered = office_calendar().is_workday(day)
    if entered is not None:
        return entered, None
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day)), None
    except NotImplementedError:
        note = (
            f"{day.year}年的法定节假日安排尚未收录，按周一至周五计算，请人工核对"
            "（国务院办公厅的节假日安排通知公布后，由系统管理员录入节假日文件）。"
        )
        return day.weekday() < 5, note


__all__ = [
    "DEFAULT_HOLIDAYS_FILE",
    "OfficeCalendar",
    "is_workday",
    "load_calendar",
    "office_calendar",
    "use_holidays",
]
