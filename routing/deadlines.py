"""Statutory time limits of a route, and the dates they fall on.

Days in the 条例 (15日, 60日, 30日) are calendar days; only 第二十三条's objection period counts
工作日, which follow China's official holiday and make-up-working-day calendar as published each
year by the State Council (the ``chinese_calendar`` package). For a year the package does not cover
yet, working days fall back to Monday–Friday and the deadline says so, so an officer checks it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from routing.codes import Channel, Disposition
from routing.schemas import Deadline


def _is_workday(day: dt.date) -> tuple[bool, str | None]:
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day)), None
    except NotImplementedError:
        note = f"{day.year}年的法定节假日安排尚未收录，按周一至周五计算，请人工核对。"
        return day.weekday() < 5, note


def add_working_days(start: dt.date, days: int) -> tuple[dt.date, str | None]:
    """The date ``days`` working days after ``start`` (the day of receipt itself does not count)."""
    day, counted, note = start, 0, None
    while counted < days:
        day += dt.timedelta(days=1)
        workday, missing = _is_workday(day)
        note = note or missing
        counted += workday
    return day, note


def add_calendar_days(start: dt.date, days: int) -> dt.date:
    """``days`` days after ``start``; the first day is not counted (as 期间 are reckoned in law)."""
    return start + dt.timedelta(days=days)


def _notice(received_on: dt.date | None) -> Deadline:
    return Deadline(
        code="notify_acceptance",
        label="书面告知信访人是否受理及处理途径",
        basis="第二十二条、第二十三条",
        days=15,
        unit="calendar_days",
        starts="自收到信访事项之日起",
        due=add_calendar_days(received_on, 15) if received_on else None,
    )


def _objection(received_on: dt.date | None) -> Deadline:
    due, note = add_working_days(received_on, 5) if received_on else (None, None)
    return Deadline(
        code="object_to_misrouting",
        label="收到转送、交办事项的机关认为不属于其职权范围的，提出异议",
        basis="第二十三条",
        days=5,
        unit="working_days",
        starts="自收到转送、交办之日起",
        due=due,
        calendar_note=note,
    )


def _handling(accepted_on: dt.date | None) -> list[Deadline]:
    return [
        Deadline(
            code="conclude",
            label="办结（情况复杂的，经批准可延长，延长不超过30日）",
            basis="第三十四条",
            days=60,
            unit="calendar_days",
            extension_days=30,
            starts="自受理之日起",
            due=add_calendar_days(accepted_on, 60) if accepted_on else None,
        ),
        Deadline(
            code="request_review",
            label="信访人不服处理意见，可请求上一级复查；复查机关30日内提出复查意见",
            basis="第三十五条",
            days=30,
            unit="calendar_days",
            starts="自收到书面答复之日起",
        ),
        Deadline(
            code="request_second_review",
            label="信访人不服复查意见，可请求复核；复核机关30日内提出复核意见",
            basis="第三十六条",
            days=30,
            unit="calendar_days",
            starts="自收到复查书面答复之日起",
        ),
    ]


# The remedy's own clock for redirected matters. These run from when the person knew of the act
# or dispute, which the letter rarely dates, so they carry no due date: the officer tells the
# writer the limit when redirecting.
_REMEDY_CLOCKS: dict[str, tuple[Deadline, ...]] = {
    Channel.administrative_review: (
        Deadline(
            code="administrative_review_limit",
            label="申请行政复议",
            basis="《行政复议法》第二十条",
            days=60,
            unit="calendar_days",
            starts="自知道或者应当知道该行政行为之日起",
        ),
        Deadline(
            code="administrative_litigation_limit",
            label="提起行政诉讼",
            basis="《行政诉讼法》第四十六条",
            days=6,
            unit="months",
            starts="自知道或者应当知道作出行政行为之日起",
        ),
    ),
    Channel.arbitration: (
        Deadline(
            code="labour_arbitration_limit",
            label="申请劳动人事争议仲裁（仲裁时效一年）",
            basis="《劳动争议调解仲裁法》第二十七条",
            days=12,
            unit="months",
            starts="自当事人知道或者应当知道其权利被侵害之日起",
        ),
    ),
    Channel.personnel_appeal: (
        Deadline(
            code="personnel_appeal_limit",
            label="公务员对人事处理不服申请复核或提出申诉",
            basis="《公务员法》第九十五条",
            days=30,
            unit="calendar_days",
            starts="自知道该人事处理之日起",
        ),
    ),
    Channel.duty_request: (
        Deadline(
            code="duty_reply_remedy",
            label="以投诉（举报）处理情况告知书答复；不服的可申请行政复议（60日）或提起行政诉讼（6个月）",
            basis="第三十一条第五项",
            days=60,
            unit="calendar_days",
            starts="自收到告知书之日起",
        ),
    ),
}


def deadlines_for(
    channel: str,
    disposition: str,
    received_on: dt.date | None,
    accepted_on: dt.date | None = None,
) -> tuple[Deadline, ...]:
    """The time limits that apply to a letter routed to ``channel`` with ``disposition``.

    Args:
        channel: a :class:`routing.codes.Channel` code.
        disposition: a :class:`routing.codes.Disposition` code.
        received_on: the day the office received the letter; starts the notice clocks.
        accepted_on: the day it was accepted (受理); starts the 60-day clock of 第三十四条.
    """
    out: list[Deadline] = []
    # 第二十三条 last paragraph: 政法部门 and 纪检监察机关 give notice under their own rules.
    if channel not in (Channel.litigation, Channel.discipline):
        out.append(_notice(received_on))
    if disposition == Disposition.accept:
        out.append(_objection(received_on))
        if channel == Channel.ordinary:
            out.extend(_handling(accepted_on))
    out.extend(_REMEDY_CLOCKS.get(channel, ()) if disposition != Disposition.no_longer_accepted else ())
    return tuple(out)


def earliest_due(deadlines: Iterable[Deadline]) -> dt.date | None:
    dates = [d.due for d in deadlines if d.due is not None]
    return min(dates) if dates else None
