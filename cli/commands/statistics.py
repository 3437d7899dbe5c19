"""``xinfang report``: the 信访情况分析报告 of a month, quarter or year as DOCX or XLSX.

The figures are those of the statistics page (``service.statistics``) for the whole office or one
department (``--department``). A report made here is for the office, not for one reader: it counts
every letter, lists no case by number (the page lists the overdue cases its reader may open), and
its hot issues are those an analyst sees: a confidential letter is counted in its cluster, never
named (条例 第三十条第三款).
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.commands.admin import _database_url_option, _session


def _office_reader() -> object:
    from store.models import User

    # Never stored: the command reads with an analyst's scope, which opens no confidential letter.
    return User(username="xinfang report", display_name="命令行报告", role="analyst", department=None)


@click.command("report")
@click.option("--period", required=True, help="2019 (a year), 2019-Q3 (a quarter) or 2019-07 (a month)")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["docx", "xlsx"]),
    default="docx",
    show_default=True,
    help="file format",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="file to write")
@click.option(
    "--department", default=None, help="one department's letters (its code); default: the whole office"
)
@_database_url_option
def report_command(
    period: str, fmt: str, out: Path, department: str | None, database_url: str | None
) -> None:
    """Write the 信访情况分析报告 of a period (DOCX with charts, or XLSX with one sheet per table)."""
    from routing.catalogue import load_catalogue
    from service.errors import ServiceError
    from service.reports import build_report, report_hot_issues
    from service.settings import get_settings
    from service.statistics import compute, parse_period

    names = {d.code: d.name for d in load_catalogue(get_settings().departments_file).departments}
    if department is not None and department not in names:
        raise click.ClickException(
            f"没有代码为“{department}”的承办部门；可选：" + "、".join(f"{n}（{c}）" for c, n in names.items())
        )
    try:
        chosen = parse_period(period)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    with _session(database_url) as session:
        stats = compute(session, chosen, department=department, department_names=names)
        hot = report_hot_issues(session, _office_reader(), stats)
    data = build_report(stats, fmt, hot_issues=hot)
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"无法写入 {out}：{exc.strerror}") from exc
    click.echo(
        f"{stats.scope_label} {stats.period.label}：来信 {stats.total} 件，"
        f"及时受理率 {stats.rates['timely_acceptance'].shown}，"
        f"按期办结率 {stats.rates['on_time_conclusion'].shown}；已写入 {out}（{len(data):,} 字节）"
    )
