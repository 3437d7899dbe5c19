"""``xinfang calendar check``: which years' holiday arrangements the statutory periods count with.

Run it after entering a year from the State Council's notice in the holiday file: it reads the file
as the service will (a malformed entry is named, exit 1) and says, year by year, where the
working days come from.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click


def _bundled_covers(year: int) -> bool:
    import chinese_calendar

    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@click.group("calendar")
def calendar() -> None:
    """The working-day calendar the statutory periods count with."""


@calendar.command("check")
@click.option(
    "--file",
    "holidays_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="the holiday file (default: XINFANG_HOLIDAYS_FILE)",
)
@click.option("--year", "years", type=click.IntRange(1990, 2100), multiple=True, help="years to show")
def calendar_check(holidays_file: Path | None, years: tuple[int, ...]) -> None:
    """Read the holiday file and say, for each year, where its working days come from."""
    from routing.calendar import load_calendar
    from routing.errors import CalendarError
    from service.settings import get_settings
    from store.letters import china_today

    path = holidays_file or get_settings().holidays_file
    try:
        office = load_calendar(path)
    except CalendarError as exc:
        raise click.ClickException(f"{exc}\n改正后重新运行 xinfang calendar check。") from exc
    this_year = china_today().year
    shown = sorted((set(years) or {this_year - 1, this_year, this_year + 1}) | office.years)
    click.echo(f"节假日文件：{path}{'' if path.exists() else '（不存在，未录入任何年份）'}")
    for year in shown:
        if year in office.years:
            off = sum(d.year == year for d in office.holidays)
            on = sum(d.year == year for d in office.workdays)
            source = f"节假日文件（放假 {off} 天，调休上班 {on} 天）{office.notices.get(year) or ''}"
        elif _bundled_covers(year):
            source = "内置日历"
        else:
            source = "未收录：按周一至周五计算，期限附提示请人工核对"
        click.echo(f"{year}年：{source}")
