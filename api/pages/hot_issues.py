"""The 热点问题 page: clusters of recent letters on one matter or one place, for supervisors and
analysts, with each cluster's label, size, weekly growth (an SVG drawn on the server), the bodies
involved, a spike badge and the member letters the reader may open (``service.hot_issues``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from api.deps import CatalogueDep, PageUser, SessionDep
from api.pages.render import render
from service import hot_issues as service
from service.errors import InvalidInput
from service.views import department_name

router = APIRouter()


def _day(value: str | None, what: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what}“{value}”不是有效日期；请按 YYYY-MM-DD 填写") from None


@router.get("/hot-issues")
def hot_issues_page(
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    since: Annotated[str | None, Query(max_length=20)] = None,
    until: Annotated[str | None, Query(max_length=20)] = None,
    min_size: Annotated[int, Query(ge=1, le=1000)] = 2,
) -> Response:
    issues, window = service.hot_issues_in_window(
        session,
        user,
        since=_day(since, "起始日期"),
        until=_day(until, "截止日期"),
        min_size=min_size,
    )
    rows = [
        {
            "issue": issue,
            # Numbers only, computed by the service: safe to insert as markup.
            "sparkline": Markup(service.sparkline(issue.weekly_counts)),  # noqa: S704
            "bodies": [department_name(catalogue, b) or b for b in issue.bodies],
        }
        for issue in issues
    ]
    return render(
        request,
        "hot_issues.html",
        {
            "user": user,
            "rows": rows,
            "window": window,
            "min_size": min_size,
            "max_letters": service.MAX_LETTERS,
            "max_days": service.MAX_DAYS,
        },
    )
