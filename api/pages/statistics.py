"""The statistics page: a period and a scope chosen in a form, the figures, charts and the report.

For supervisors and analysts (``service.statistics.STATISTICS_READERS``). Charts are inline SVG
drawn here on the server (no script, no library from elsewhere): every text in them is escaped, so
the SVG is safe to put into the page unescaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup, escape

from api.deps import CatalogueDep, SessionDep, page_role
from api.pages.render import render
from api.responses import report_download
from service import reports
from service.errors import InvalidInput
from service.statistics import (
    NO_SATISFACTION,
    RATE_DEFINITIONS,
    STATISTICS_READERS,
    Count,
    Statistics,
    requested_statistics,
)
from store.models import User

router = APIRouter()

Reader = Annotated[User, page_role(STATISTICS_READERS, "read the office's statistics")]
PeriodCode = Annotated[str | None, Query(max_length=20)]
Department = Annotated[str | None, Query(max_length=64)]
_BLUE = "#3b6ea5"


# -------------------------------------------------------------------------------------- charts


def svg_bars(items: Sequence[Count], *, limit: int = 12, width: int = 520) -> Markup:
    """Horizontal bars of the largest ``limit`` counts, each labelled with its name and count."""
    shown = list(items)[:limit]
    if not shown:
        return Markup('<p class="meta">本期无数据。</p>')
    row, label_w, top = 22, 150, 4
    most = max(c.count for c in shown) or 1
    bar_w = width - label_w - 60
    height = top + row * len(shown) + 4
    parts = [
        f'<svg class="chart bars" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, c in enumerate(shown):
        y = top + i * row
        w = max(1.0, bar_w * c.count / most) if c.count else 0.0
        name = escape(c.name)
        parts.append(
            f"<g><title>{name}：{c.count}</title>"
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{name}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{_BLUE}"></rect>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="12">{c.count}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def svg_line(items: Sequence[Count], *, width: int = 720, height: int = 200) -> Markup:
    """A line through a series (day, week or month), with its largest value and the first and last labels."""
    if not items:
        return Markup('<p class="meta">本期无数据。</p>')
    left, right, top, bottom = 40, 10, 10, 36
    most = max(c.count for c in items) or 1
    span = max(1, len(items) - 1)
    inner_w, inner_h = width - left - right, height - top - bottom

    def xy(i: int, n: int) -> tuple[float, float]:
        return left + inner_w * i / span, top + inner_h * (1 - n / most)

    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, c.count) for i, c in enumerate(items)))
    parts = [
        f'<svg class="chart line" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{top + inner_h}" x2="{width - right}" y2="{top + inner_h}" '
        'stroke="#999"></line>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + inner_h}" stroke="#999"></line>',
        f'<text x="{left - 4}" y="{top + 10}" text-anchor="end" font-size="11">{most}</text>',
        f'<text x="{left - 4}" y="{top + inner_h}" text-anchor="end" font-size="11">0</text>',
        f'<polyline points="{points}" fill="none" stroke="{_BLUE}" stroke-width="2"></polyline>',
    ]
    if len(items) <= 62:
        for i, c in enumerate(items):
            x, y = xy(i, c.count)
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{_BLUE}">'
                f"<title>{escape(c.name)}：{c.count}</title></circle>"
            )
    first, last = escape(items[0].name), escape(items[-1].name)
    parts.append(f'<text x="{left}" y="{height - 12}" font-size="11">{first}</text>')
    parts.append(
        f'<text x="{width - right}" y="{height - 12}" text-anchor="end" font-size="11">{last}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


# ---------------------------------------------------------------------------------------- page


def _query(period: str | None, start: dt.date | None, end: dt.date | None, department: str | None) -> str:
    values = {
        "period": period or "",
        "from": start.isoformat() if start else "",
        "to": end.isoformat() if end else "",
        "department": department or "",
    }
    return urlencode({k: v for k, v in values.items() if v})


def _series(stats: Statistics) -> tuple[str, list[Count]]:
    return reports.series_for_chart(stats)


def _day(label: str, text: str | None) -> dt.date | None:
    if text is None or not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{label}“{text}”不是日期；请写作 2019-07-01") from None


@router.get("/statistics")
def statistics_page(
    request: Request,
    session: SessionDep,
    user: Reader,
    catalogue: CatalogueDep,
    period: PeriodCode = None,
    start_text: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    to_text: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    department: Department = None,
) -> Response:
    """The figures of the chosen period and scope, with charts, the rates and the report links.

    The form sends its empty date fields as empty strings, so the dates are read here."""
    names = {d.code: d.name for d in catalogue.departments}
    context: dict[str, Any] = {
        "user": user,
        "departments": names,
        "form": {"period": period or "", "from": None, "to": None, "department": department or ""},
        "query": _query(period, None, None, department),
        "rate_definitions": RATE_DEFINITIONS,
        "no_satisfaction": NO_SATISFACTION,
    }
    try:
        start, to = _day("起始日期", start_text), _day("截止日期", to_text)
        context["form"].update({"from": start, "to": to})
        context["query"] = _query(period, start, to, department)
        stats = requested_statistics(
            session, user, catalogue, period=period, start=start, end=to, department=department
        )
    except InvalidInput as exc:
        return render(request, "statistics.html", {**context, "error": exc.message, "stats": None}, 422)
    series_name, series = _series(stats)
    charts = {
        "series": svg_line(series),
        "category": svg_bars(stats.by_category),
        "channel": svg_bars(stats.by_channel),
        "domain": svg_bars(stats.by_domain),
        "department": svg_bars(stats.by_department),
        "city": svg_bars(stats.by_city),
        "county": svg_bars(stats.by_county, limit=15),
        "form": svg_bars(stats.by_form),
    }
    return render(
        request,
        "statistics.html",
        {**context, "stats": stats, "charts": charts, "series_name": series_name, "error": None},
    )


def _download(
    session: Any,
    user: User,
    catalogue: Any,
    fmt: str,
    period: str | None,
    start: dt.date | None,
    to: dt.date | None,
    department: str | None,
) -> Response:
    stats = requested_statistics(
        session, user, catalogue, period=period, start=start, end=to, department=department
    )
    return report_download(session, user, stats, fmt)


@router.get("/statistics/report.docx")
def report_docx(
    session: SessionDep,
    user: Reader,
    catalogue: CatalogueDep,
    period: PeriodCode = None,
    start: Annotated[dt.date | None, Query(alias="from")] = None,
    to: dt.date | None = None,
    department: Department = None,
) -> Response:
    """The 信访情况分析报告 of the page's period and scope, as a Word document."""
    return _download(session, user, catalogue, "docx", period, start, to, department)


@router.get("/statistics/report.xlsx")
def report_xlsx(
    session: SessionDep,
    user: Reader,
    catalogue: CatalogueDep,
    period: PeriodCode = None,
    start: Annotated[dt.date | None, Query(alias="from")] = None,
    to: dt.date | None = None,
    department: Department = None,
) -> Response:
    """The same report as an Excel workbook, one sheet per table."""
    return _download(session, user, catalogue, "xlsx", period, start, to, department)
