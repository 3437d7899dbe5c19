"""``GET /api/v1/hot-issues``: clusters of recent letters on one matter or one place (热点问题).

Supervisors and analysts only. A letter the caller may not open counts in its hot issue's ``size``
and ``weekly_counts`` but is never listed, never the central letter and never in the keywords
(``service.hot_issues``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CatalogueDep, CurrentUser, SessionDep
from api.errors import error_responses
from service import hot_issues as service
from service.views import department_name

router = APIRouter(tags=["hot-issues"])


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HotIssueLetterPublic(_Out):
    case_number: str
    title: str
    received_on: dt.date


class BodyPublic(_Out):
    code: str
    name: str


class HotIssuePublic(_Out):
    keywords: list[str] = Field(description="the label: top terms of the letters the caller may open")
    central_case_number: str | None = Field(description="the most central letter the caller may open")
    central_title: str | None
    size: int = Field(description="every member letter, those the caller may not open included")
    weeks: list[dt.date] = Field(description="first day of each 7-day period, the last ending on until")
    weekly_counts: list[int]
    bodies: list[BodyPublic] = Field(description="departments of the listed letters, most letters first")
    spike: bool = Field(description="the last 7 days ≥ 3 letters and ≥ 2 × the median of the periods before")
    first_received: dt.date
    last_received: dt.date
    letters: list[HotIssueLetterPublic] = Field(description="the members the caller may open, newest first")
    withheld: int = Field(description="members counted but not listed")


class HotIssuesPublic(_Out):
    since: dt.date
    until: dt.date
    letters: int = Field(description="letters of the window clustered")
    capped: bool = Field(
        description="the window held more letters than are clustered; the oldest were left out"
    )
    count: int
    data: list[HotIssuePublic]


@router.get("/hot-issues", response_model=HotIssuesPublic, responses=error_responses(401, 403, 422))
def read_hot_issues(
    session: SessionDep,
    user: CurrentUser,
    catalogue: CatalogueDep,
    since: Annotated[
        dt.date | None, Query(description="first day of receipt (default: 89 days before until)")
    ] = None,
    until: Annotated[
        dt.date | None, Query(description="last day of receipt (default: today in China)")
    ] = None,
    department: Annotated[
        str | None,
        Query(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="a department code: only letters routed to it"),
    ] = None,
    min_size: Annotated[int, Query(ge=1, le=1000)] = 2,
    limit: Annotated[int, Query(ge=1, le=500)] = 30,
) -> HotIssuesPublic:
    """Hot issues of the letters received in the window (at most 366 days), largest first."""
    issues, window = service.hot_issues_in_window(
        session, user, since=since, until=until, scope=department, min_size=min_size, limit=limit
    )
    return HotIssuesPublic(
        since=window.since,
        until=window.until,
        letters=window.letters,
        capped=window.capped,
        count=len(issues),
        data=[
            HotIssuePublic(
                keywords=list(i.keywords),
                central_case_number=i.central_case_number,
                central_title=i.central_title,
                size=i.size,
                weeks=list(i.weeks),
                weekly_counts=list(i.weekly_counts),
                bodies=[BodyPublic(code=b, name=department_name(catalogue, b) or b) for b in i.bodies],
                spike=i.spike,
                first_received=i.first_received,
                last_received=i.last_received,
                letters=[
                    HotIssueLetterPublic(case_number=x.case_number, title=x.title, received_on=x.received_on)
                    for x in i.letters
                ],
                withheld=i.withheld,
            )
            for i in issues
        ],
    )
