"""The 信访情况分析报告 of a period and scope (条例 第四十一条): a DOCX with its charts, and an XLSX
with one sheet per table.

Both are written from one :class:`service.statistics.Statistics`, the very object the page and the
JSON show, so their numbers cannot differ (a test reads both files back and compares them with the
JSON). Charts are PNG images drawn by matplotlib's Agg backend (no display, no browser).

**Hot issues.** The section 热点问题 lists the clusters ``service.hot_issues`` finds among the
period's letters, as the report's reader may see them (:func:`report_hot_issues`; a confidential
letter is counted in its cluster, never named). :func:`build_docx` / :func:`build_xlsx` take them as
``hot_issues``; ``None`` says none were looked for.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from service.errors import InvalidInput
from service.hot_issues import MAX_DAYS, HotIssue, hot_issues
from service.statistics import (
    NO_SATISFACTION,
    RATE_DEFINITIONS,
    Count,
    Statistics,
)

FORMATS: dict[str, str] = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
ReportFormat = Literal["docx", "xlsx"]
#: What the 热点问题 section says when the caller passed none.
NO_HOT_ISSUES = "本报告未附热点问题分析。"
#: The charts' fonts, first found first: each draws every Chinese character a report holds.
CHART_FONTS = ("Noto Serif CJK SC", "Noto Sans CJK SC", "Source Han Serif SC", "WenQuanYi Zen Hei")
_DOC_FONT = "仿宋_GB2312"
#: Rows a distribution table of the DOCX shows (the XLSX has them all).
_DOCX_ROWS = 15

log = logging.getLogger("xinfang.reports")


#: The most hot issues a report lists, largest first.
REPORT_HOT_ISSUES = 10


def report_hot_issues(session: Any, user: Any, stats: Statistics) -> list[HotIssue]:
    """The period's hot issues for the report, in ``user``'s view (supervisor or analyst).

    A window of more than a year (a custom range) keeps its last 366 days, the most the clustering
    reads at once; :func:`hot_issue_rows` says which days it covered.
    """
    since = max(stats.period.start, stats.period.end - dt.timedelta(days=MAX_DAYS - 1))
    return hot_issues(
        session,
        user,
        since=since,
        until=stats.period.end,
        scope=stats.department,
        limit=REPORT_HOT_ISSUES,
    )


def _body_names(stats: Statistics) -> dict[str, str]:
    return {c.code: c.name for c in stats.by_department if c.code}


def hot_issue_rows(issues: Sequence[HotIssue], names: Mapping[str, str] | None = None) -> list[list[Any]]:
    """One row per hot issue: its label, its size, and what an analyst reads about it."""
    rows: list[list[Any]] = []
    for issue in issues:
        notes = [f"{issue.first_received.isoformat()} 至 {issue.last_received.isoformat()}"]
        if issue.central_case_number:
            notes.append(f"代表来信 {issue.central_case_number}「{issue.central_title or ''}」")
        if issue.bodies:
            notes.append("涉及：" + "、".join((names or {}).get(b, b) for b in issue.bodies))
        if issue.spike:
            notes.append("近7天激增")
        if issue.withheld:
            notes.append(f"含保密来信 {issue.withheld} 件（只计数）")
        rows.append(["、".join(issue.keywords) or "（无可显示的关键词）", issue.size, "；".join(notes)])
    return rows


def title_of(stats: Statistics) -> str:
    return f"{stats.scope_label}信访情况分析报告（{stats.period.label}）"


def file_name(stats: Statistics, fmt: str) -> str:
    scope = stats.department or "office"
    return f"xinfang-report-{stats.period.code.replace('..', '_')}-{scope}.{fmt}"


#: The distribution tables, in report order: (sheet/section name, attribute).
TABLES: tuple[tuple[str, str], ...] = (
    ("按类别", "by_category"),
    ("按处理途径", "by_channel"),
    ("按处理方式", "by_disposition"),
    ("按涉及领域", "by_domain"),
    ("按承办部门", "by_department"),
    ("按来信形式", "by_form"),
    ("按地市", "by_city"),
    ("按区县", "by_county"),
    ("按办理状态", "by_state"),
)
SERIES: tuple[tuple[str, str], ...] = (
    ("按日", "series_day"),
    ("按周", "series_week"),
    ("按月", "series_month"),
)


def rate_rows(stats: Statistics) -> list[list[Any]]:
    """指标, 比率 (%), 分子, 分母, 依据, 口径: the rows of the rates table in both files."""
    rows: list[list[Any]] = []
    for key, rate in stats.rates.items():
        name, basis, definition = RATE_DEFINITIONS[key]
        value = rate.value
        rows.append(
            [
                name,
                "—" if value is None else round(value * 100, 1),
                rate.numerator,
                rate.denominator,
                basis,
                definition,
            ]
        )
    return rows


# ------------------------------------------------------------------------------------- charts


@functools.cache
def chart_font_families() -> list[str]:
    """The font families the charts are drawn in: the CJK fonts of :data:`CHART_FONTS` installed here.

    matplotlib keeps the fonts it found in a cache in its config folder and reads that cache, not
    the system, on later starts: a font installed after the cache was built is unknown to it, and
    every Chinese label would be drawn as empty boxes. Such a font is looked up among the system's
    font files and added. Without any, the charts are still written and a warning says what to install.
    """
    from matplotlib import font_manager

    def known() -> list[str]:
        names = {entry.name for entry in font_manager.fontManager.ttflist}
        return [family for family in CHART_FONTS if family in names]

    found = known()
    if not found:
        for path in font_manager.findSystemFonts():
            name = path.rsplit("/", 1)[-1].lower()
            if "cjk" in name or "sourcehan" in name or "wqy" in name:
                font_manager.fontManager.addfont(path)
        found = known()
    if not found:
        log.warning(
            "no Chinese font for the report's charts (looked for %s): their labels will show as boxes. "
            "Install one, e.g. Debian's fonts-noto-cjk (scripts/system-deps.sh).",
            ", ".join(CHART_FONTS),
        )
    return [*found, "DejaVu Sans"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = chart_font_families()
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def bar_png(items: Sequence[Count], title: str, limit: int = 12) -> bytes:
    """A horizontal bar chart of the largest ``limit`` counts, as PNG bytes."""
    plt = _pyplot()
    shown = list(items)[:limit][::-1]
    fig, ax = plt.subplots(figsize=(6.4, 0.35 * max(len(shown), 3) + 1.0), dpi=120)
    ax.barh([c.name for c in shown], [c.count for c in shown], color="#3b6ea5")
    for i, c in enumerate(shown):
        ax.text(c.count, i, f" {c.count}", va="center", fontsize=8)
    ax.set_title(title, fontsize=11)
    ax.tick_params(labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()


def line_png(items: Sequence[Count], title: str) -> bytes:
    """A line chart of a series (day, week or month), as PNG bytes."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 2.8), dpi=120)
    xs = list(range(len(items)))
    ax.plot(
        xs, [c.count for c in items], color="#3b6ea5", marker="o" if len(items) <= 31 else None, markersize=3
    )
    step = max(1, len(items) // 8)
    ax.set_xticks(xs[::step], [c.name for c in items][::step], fontsize=8, rotation=30, ha="right")
    ax.set_title(title, fontsize=11)
    ax.set_ylim(bottom=0)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()


def series_for_chart(stats: Statistics) -> tuple[str, list[Count]]:
    """The series a chart shows: days for a month or less, weeks up to a quarter, else months."""
    if stats.period.days <= 31:
        return "每日来信件数", stats.series_day
    if stats.period.days <= 92:
        return "每周来信件数", stats.series_week
    return "每月来信件数", stats.series_month


# --------------------------------------------------------------------------------------- DOCX


def build_docx(stats: Statistics, *, hot_issues: Sequence[HotIssue] | None = None) -> bytes:
    """The report as a DOCX file's bytes: text, the rates table, distribution tables and charts.

    ``hot_issues``: the period's hot issues found elsewhere; ``None`` says none were supplied.
    """
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = _DOC_FONT
    style.font.size = Pt(12)
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), _DOC_FONT)

    doc.add_heading(title_of(stats), level=0)
    doc.add_paragraph(
        f"统计期间：{stats.period.start.isoformat()} 至 {stats.period.end.isoformat()}"
        "（按收到信访事项之日）；"
        f"统计范围：{stats.scope_label}；数据截至 {stats.today.isoformat()}。"
        "依据《信访工作条例》第四十一条，对本期信访事项的数据进行分析。"
    )

    doc.add_heading("一、总体情况", level=1)
    doc.add_paragraph(
        f"本期共收到信访事项 {stats.total} 件，其中检举控告等保密事项 {stats.confidential} 件"
        "（只计件数，不列具体事项）；"
        f"现有超期未办事项 {stats.overdue_total} 件。"
    )
    name, series = series_for_chart(stats)
    if stats.total:
        doc.add_picture(io.BytesIO(line_png(series, name)), width=Cm(15))

    doc.add_heading("二、主要指标", level=1)
    _docx_table(doc, ["指标", "比率（%）", "分子", "分母", "依据", "口径"], rate_rows(stats), name="主要指标")
    doc.add_heading("满意度", level=2)
    if stats.satisfaction is None:
        doc.add_paragraph(NO_SATISFACTION)
    else:
        s = stats.satisfaction
        _docx_table(doc, ["评价", "次数"], [[c.name, c.count] for c in s.by_rating], name="满意度")
        doc.add_paragraph(f"满意率（满意＋基本满意）：{s.satisfied_rate.shown}。")

    doc.add_heading("三、来信分布", level=1)
    for title, attr in TABLES:
        items: list[Count] = getattr(stats, attr)
        doc.add_heading(title, level=2)
        if not items:
            doc.add_paragraph("本期无数据。")
            continue
        rows = [[c.name, c.count] for c in items[:_DOCX_ROWS]]
        _docx_table(doc, ["项目", "件数"], rows, name=title)
        if len(items) > _DOCX_ROWS:
            doc.add_paragraph(f"另有 {len(items) - _DOCX_ROWS} 项，见 XLSX 表格。")
        if attr in ("by_category", "by_domain", "by_city"):
            doc.add_picture(io.BytesIO(bar_png(items, f"来信{title}")), width=Cm(14))

    doc.add_heading("四、承办单位", level=1)
    doc.add_heading("来信最多的承办部门", level=2)
    _docx_table(
        doc, ["承办部门", "件数"], [[c.name, c.count] for c in stats.top_bodies_letters], name="来信最多"
    )
    doc.add_heading("超期事项最多的承办单位", level=2)
    if stats.top_bodies_overdue:
        _docx_table(
            doc,
            ["承办单位", "超期件数"],
            [[c.name, c.count] for c in stats.top_bodies_overdue],
            name="超期最多",
        )
    else:
        doc.add_paragraph("本期来信中无超期事项。")

    doc.add_heading("五、热点问题", level=1)
    if hot_issues is None:
        doc.add_paragraph(NO_HOT_ISSUES)
    elif not hot_issues:
        doc.add_paragraph("本期未发现热点问题。")
    else:
        _docx_table(
            doc, ["热点问题", "件数", "说明"], hot_issue_rows(hot_issues, _body_names(stats)), name="热点"
        )

    doc.add_heading("六、超期事项", level=1)
    if stats.overdue_cases:
        _docx_table(
            doc,
            ["案件编号", "办理状态", "承办单位", "应办结日期"],
            [[c.case_number, c.state, c.body, c.next_due.isoformat()] for c in stats.overdue_cases],
            name="超期事项",
        )
    else:
        doc.add_paragraph("无可列出的超期事项。")
    if stats.overdue_withheld:
        doc.add_paragraph(f"另有 {stats.overdue_withheld} 件保密事项超期，不予列出（第三十条第三款）。")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _docx_table(doc: Any, header: list[str], rows: list[list[Any]], *, name: str) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = str(value)
    # The table's name as its caption (w:tblCaption, last in w:tblPr), so that screen readers and
    # whoever reads the file back (the tests) find a table by what it shows.
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    caption = OxmlElement("w:tblCaption")
    caption.set(qn("w:val"), name)
    table._tbl.tblPr.append(caption)


def docx_tables(data: bytes) -> dict[str, list[list[str]]]:
    """The tables of a report's DOCX by caption, each as rows of cell texts (the header first)."""
    from docx import Document
    from docx.oxml.ns import qn

    found: dict[str, list[list[str]]] = {}
    for table in Document(io.BytesIO(data)).tables:
        caption = table._tbl.tblPr.find(qn("w:tblCaption"))
        name = caption.get(qn("w:val")) if caption is not None else f"表{len(found) + 1}"
        found[name] = [[cell.text for cell in row.cells] for row in table.rows]
    return found


# --------------------------------------------------------------------------------------- XLSX


def build_xlsx(stats: Statistics, *, hot_issues: Sequence[HotIssue] | None = None) -> bytes:
    """The report as an XLSX file's bytes: 概况 and the rates first, then one sheet per table."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "概况"
    bold = Font(bold=True)
    for row in (
        ["报告", title_of(stats)],
        ["统计期间", f"{stats.period.start.isoformat()} 至 {stats.period.end.isoformat()}"],
        ["统计范围", stats.scope_label],
        ["数据截至", stats.today.isoformat()],
        ["来信总数", stats.total],
        ["其中保密事项", stats.confidential],
        ["超期未办", stats.overdue_total],
    ):
        ws.append(row)
        ws.cell(ws.max_row, 1).font = bold

    def sheet(title: str, header: list[str], rows: list[list[Any]]) -> None:
        s = wb.create_sheet(title)
        s.append(header)
        for cell in s[1]:
            cell.font = bold
        for row in rows:
            s.append(row)
        s.column_dimensions["A"].width = 28

    sheet("主要指标", ["指标", "比率（%）", "分子", "分母", "依据", "口径"], rate_rows(stats))
    if stats.satisfaction is None:
        sheet("满意度", ["评价", "次数"], [[NO_SATISFACTION, None]])
    else:
        sheet(
            "满意度",
            ["评价", "次数"],
            [[c.name, c.count] for c in stats.satisfaction.by_rating]
            + [["满意率（%）", _percent(stats.satisfaction.satisfied_rate.value)]],
        )
    for title, attr in TABLES:
        sheet(title, ["代码", "项目", "件数"], [[c.code, c.name, c.count] for c in getattr(stats, attr)])
    for title, attr in SERIES:
        sheet(title, ["期间", "名称", "件数"], [[c.code, c.name, c.count] for c in getattr(stats, attr)])
    sheet(
        "来信最多的承办部门",
        ["代码", "承办部门", "件数"],
        [[c.code, c.name, c.count] for c in stats.top_bodies_letters],
    )
    sheet(
        "超期最多的承办单位",
        ["代码", "承办单位", "超期件数"],
        [[c.code, c.name, c.count] for c in stats.top_bodies_overdue],
    )
    sheet(
        "热点问题",
        ["热点问题", "件数", "说明"],
        [[NO_HOT_ISSUES, None, None]]
        if hot_issues is None
        else hot_issue_rows(hot_issues, _body_names(stats)) or [["本期未发现热点问题。", None, None]],
    )
    listed: list[list[Any]] = [
        [c.case_number, c.state, c.body, c.next_due.isoformat()] for c in stats.overdue_cases
    ]
    if stats.overdue_withheld:
        listed.append([f"另有 {stats.overdue_withheld} 件保密事项超期，不予列出", None, None, None])
    sheet("超期事项", ["案件编号", "办理状态", "承办单位", "应办结日期"], listed)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def export_report(
    session: Any,
    user: Any,
    stats: Statistics,
    fmt: str,
    *,
    hot_issues: Sequence[HotIssue] | None = None,
) -> tuple[str, bytes]:
    """The report file ``user`` downloads (its name and bytes), recorded in the audit log as an export:
    it lists case numbers (the overdue cases the user may open)."""
    from store.audit import append_event

    if hot_issues is None:
        hot_issues = report_hot_issues(session, user, stats)
    data = build_report(stats, fmt, hot_issues=hot_issues)
    append_event(
        session,
        actor=user.username,
        action="export",
        object="statistics_report",
        details={
            "format": fmt,
            "period": stats.period.code,
            "department": stats.department or "",
            "letters": stats.total,
            "listed_cases": len(stats.overdue_cases),
        },
    )
    return file_name(stats, fmt), data


def _percent(value: float | None) -> float | str:
    return "—" if value is None else round(value * 100, 1)


def build_report(stats: Statistics, fmt: str, *, hot_issues: Sequence[HotIssue] | None = None) -> bytes:
    """The report in ``fmt`` (``docx`` or ``xlsx``).

    Raises:
        InvalidInput: another format.
    """
    if fmt == "docx":
        return build_docx(stats, hot_issues=hot_issues)
    if fmt == "xlsx":
        return build_xlsx(stats, hot_issues=hot_issues)
    raise InvalidInput(f"报告格式“{fmt}”不可用；可选：docx（Word 文档）、xlsx（Excel 表格）")


__all__ = [
    "FORMATS",
    "NO_HOT_ISSUES",
    "TABLES",
    "bar_png",
    "build_docx",
    "build_report",
    "hot_issue_rows",
    "report_hot_issues",
    "build_xlsx",
    "docx_tables",
    "export_report",
    "file_name",
    "line_png",
    "rate_rows",
    "title_of",
]
