"""The office's statistics as JSON, and the 信访情况分析报告 as a DOCX or XLSX download.

For supervisors and analysts (``service.statistics.STATISTICS_READERS``). Every letter of the period
is counted; the list of overdue cases names only the letters the caller may open.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CatalogueDep, SessionDep, api_role
from api.errors import error_responses
from api.responses import report_download
from service import reports
from service.statistics import STATISTICS_READERS, Statistics, requested_statistics
from store.models import User

router = APIRouter(prefix="/statistics", tags=["statistics"])

Reader = Annotated[User, api_role(STATISTICS_READERS, "read the office's statistics")]
PeriodCode = Annotated[
    str | None,
    Query(max_length=20, description="2019 (a year), 2019-Q3 (a quarter) or 2019-07 (a month)"),
]
From = Annotated[dt.date | None, Query(alias="from", description="first day of receipt (with `to`)")]
To = Annotated[dt.date | None, Query(description="last day of receipt, included")]
Department = Annotated[
    str | None, Query(max_length=64, description="one department's letters (its code); all when absent")
]


def _figures(
    session: Any,
    user: User,
    catalogue: Any,
    period: str | None,
    start: dt.date | None,
    end: dt.date | None,
    department: str | None,
) -> Statistics:
    return requested_statistics(
        session, user, catalogue, period=period, start=start, end=end, department=department
    )


@router.get("", responses=error_responses(401, 403, 422))
def read_statistics(
    session: SessionDep,
    user: Reader,
    catalogue: CatalogueDep,
    period: PeriodCode = None,
    start: From = None,
    to: To = None,
    department: Department = None,
) -> dict[str, Any]:
    """The figures of a period (this month when none is given) for the office or one department:
    counts, series and each rate with its numerator and denominator."""
    return _figures(session, user, catalogue, period, start, to, department).as_dict()


@router.get(
    "/report",
    response_class=Response,
    responses={
        200: {"content": {media: {} for media in reports.FORMATS.values()}},
        **error_responses(401, 403, 422),
    },
)
def download_report(
    session: SessionDep,
    user: Reader,
    catalogue: CatalogueDep,
    period: PeriodCode = None,
    start: From = None,
    to: To = None,
    department: Department = None,
    format: Literal["docx", "xlsx"] = "docx",
) -> Response:
    """The 信访情况分析报告 of the same figures, as a Word document or an Excel workbook (audited)."""
    return report_download(
        session, user, _figures(session, user, catalogue, period, start, to, department), format
    )
