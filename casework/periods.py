"""The statutory periods of a case, counted once for the state machine and the clocks alike.

Calendar-day periods (15日, 60日, 30日) do not count their first day and end on the next working
day when their last day is a 法定休假日 (``routing.deadlines.period_end``, 《民法典》第二百零三条);
only 第二十三条第三款's objection period counts 工作日 (``routing.deadlines.add_working_days``).
Both follow the State Council's holiday and 调休 calendar through the ``chinese_calendar`` package
and say in their note when a year is not covered yet.
"""

from __future__ import annotations

import datetime as dt

from routing.deadlines import add_working_days, period_end

#: 第二十二条: the 信访部门 forwards or assigns within 15 days of receipt.
FORWARD_DAYS = 15
#: 第二十三条第三款: the body that receives a 转送/交办 tells the petitioner within 15 days.
NOTICE_DAYS = 15
#: 第二十三条第三款: or objects within 5 working days.
OBJECTION_WORKING_DAYS = 5
#: 第三十四条: 60 days from 受理 to conclude a 第三十一条第六项 matter …
CONCLUDE_DAYS = 60
#: … extended at most once by at most 30 days.
MAX_EXTENSION_DAYS = 30
#: 第三十五条: 复查 requested within 30 days of receiving the written answer, answered within 30 days.
REVIEW_WINDOW_DAYS = 30
REVIEW_ANSWER_DAYS = 30
#: 第三十六条第一款: 复核 likewise.
RECHECK_WINDOW_DAYS = 30
RECHECK_ANSWER_DAYS = 30

Dated = tuple[dt.date, str | None]


def objection_due(received_on: dt.date) -> Dated:
    """The last day a receiving body may object to a 转送/交办 (第二十三条第三款, 5 working days)."""
    return add_working_days(received_on, OBJECTION_WORKING_DAYS)


def conclude_due(accepted_on: dt.date, extension_days: int = 0) -> Dated:
    """The last day to conclude a 第三十一条第六项 matter (第三十四条), with an approved extension.

    The extension lengthens the period itself (60 + N days from 受理), so the holiday rule applies
    once, to the extended end, not to the unextended one first.
    """
    return period_end(accepted_on, CONCLUDE_DAYS + extension_days)


def review_window_end(served_on: dt.date) -> Dated:
    """The last day to request 复查, from the day the written answer reached the petitioner (第三十五条)."""
    return period_end(served_on, REVIEW_WINDOW_DAYS)


def recheck_window_end(served_on: dt.date) -> Dated:
    """The last day to request 复核, from the day the 复查 answer reached the petitioner (第三十六条)."""
    return period_end(served_on, RECHECK_WINDOW_DAYS)


def cn_date(day: dt.date) -> str:
    """A date as officers and petitioners read it: 2026年10月9日."""
    return f"{day.year}年{day.month}月{day.day}日"
