"""The statutory clocks of a case, read from its events, with the dates they fall on.

Each clock starts from the event the law counts from and stops at the event that satisfies it
(《信访工作条例》 2022):

- ``forward`` (第二十二条): from the office's receipt (登记) to 转送 or 交办, 15 days; before a
  route is decided it cites 第一款, for 涉法涉诉 and 检举控告 routes 第二款;
- ``notify_refusal`` (第二十三条第二款): the same 15 days when the office refuses the matter instead,
  met by the 不予受理/不再受理 notice;
- ``notify_acceptance`` (第二十三条第三款): from the body's 签收 of a 转送/交办 to its written notice
  (受理告知书, or its own refusal), 15 days;
- ``object_to_misrouting`` (第二十三条第三款): from the same 签收, 5 working days to object;
- ``assignment_report`` (第二十二条第一款第三项): from a 交办 to the date it names, met by the
  处理意见 (办结报告);
- ``conclude`` (第三十四条): from 受理 to the 处理意见, 60 days plus the approved extension, for
  第三十一条第六项 matters only;
- ``review_window`` / ``review_answer`` (第三十五条): 30 days from the answer reaching the
  petitioner to request 复查, and 30 days from the request to answer it;
- ``recheck_window`` / ``recheck_answer`` (第三十六条第一款): likewise for 复核; a hearing's days
  are not counted in the answer's 30 (第二款);
- ``supervision`` (第四十条): from a 督办 to the date its 督办单 names, met by the case's next step.

A clock a later event makes moot is *ended* rather than met: the objection window ends when the
body accepts the matter, its notice clock when it objects and returns it (the objection is its
answer under 第二十三条第三款), a 督办 date when a newer 督办 replaces it. A "window" is the
petitioner's or the body's own time to act, so when it runs out unused it has *lapsed*
(``overdue``), which is nobody's fault; a "duty" that runs out is overdue.

第二十三条第四款: the 政法部门's notice on a 诉讼权利救济 matter and the 纪检监察机关's on a 检举控告
matter follow their own rules, so a case routed to ``litigation`` or ``discipline`` has no 15-day
notice clock (as ``routing.deadlines`` has it).

Counting is that of ``routing.deadlines``: calendar days do not count their first day and a last
day on a 法定休假日 moves to the next working day (《民法典》第二百零三条); the objection counts
working days on the official calendar, 调休 Saturdays included. A date set by the office (交办,
督办) is the date it set.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from casework.periods import (
    CONCLUDE_DAYS,
    FORWARD_DAYS,
    NOTICE_DAYS,
    OBJECTION_WORKING_DAYS,
    RECHECK_ANSWER_DAYS,
    RECHECK_WINDOW_DAYS,
    REVIEW_ANSWER_DAYS,
    REVIEW_WINDOW_DAYS,
    conclude_due,
    objection_due,
)
from casework.states import TRANSITIONS, Case, CaseEvent, CaseState, Step, apply, replay
from routing.codes import Channel
from routing.deadlines import period_end


class ClockStatus(StrEnum):
    due = "due"
    overdue = "overdue"
    met = "met"
    ended = "ended"


_STATUS_NAMES: dict[str, dict[ClockStatus, str]] = {
    "duty": {
        ClockStatus.due: "未到期",
        ClockStatus.overdue: "已超期",
        ClockStatus.met: "已完成",
        ClockStatus.ended: "已停止",
    },
    "window": {
        ClockStatus.due: "期限内",
        ClockStatus.overdue: "已届满",
        ClockStatus.met: "已行使",
        ClockStatus.ended: "已停止",
    },
}

Kind = Literal["duty", "window"]
Unit = Literal["calendar_days", "working_days", "date"]


@dataclass(frozen=True)
class Clock:
    """One statutory clock of a case as it stands on ``today``.

    ``due`` is the last day (inclusive); ``closed_on``/``closed_by`` say when and by which step a
    met or ended clock stopped. ``days`` is the statutory length (``None`` for a date the office
    set), ``extension_days`` the approved 延期 and ``excluded_days`` the 听证 time not counted.
    """

    code: str
    label: str
    basis: str
    kind: Kind
    unit: Unit
    days: int | None
    starts_on: dt.date
    due: dt.date
    status: ClockStatus
    closed_on: dt.date | None = None
    closed_by: Step | None = None
    extension_days: int = 0
    excluded_days: int = 0
    calendar_note: str | None = None

    @property
    def status_name(self) -> str:
        name = _STATUS_NAMES[self.kind][self.status]
        return f"{name}（逾期）" if self.late else name

    @property
    def late(self) -> bool:
        """Met, but after its last day."""
        return self.status == ClockStatus.met and self.closed_on is not None and self.closed_on > self.due

    @property
    def running(self) -> bool:
        return self.status in (ClockStatus.due, ClockStatus.overdue)

    def days_left(self, today: dt.date) -> int:
        """Days from ``today`` to the last day (negative once overdue)."""
        return (self.due - today).days


@dataclass
class _Open:
    """A clock being built while the events are walked."""

    code: str
    label: str
    basis: str
    kind: Kind
    unit: Unit
    days: int | None
    starts_on: dt.date
    due: dt.date
    note: str | None
    met_by: frozenset[Step]
    ended_by: frozenset[Step] = frozenset()
    closed_on: dt.date | None = None
    closed_by: Step | None = None
    met: bool = False
    extension_days: int = 0
    excluded_days: int = 0


_FORWARD_BASIS = {
    Channel.litigation: ("党委和政府信访部门登记后将涉法涉诉信件转送同级政法部门", "第二十二条第二款"),
    Channel.discipline: (
        "党委和政府信访部门登记后按照管理权限将检举控告类事项转送有关纪检监察机关",
        "第二十二条第二款",
    ),
}
# A 督办 is answered by the case moving on: any step of the table that changes the state.
_STATE_CHANGING = frozenset(t.step for t in TRANSITIONS if t.state is not None and t.to is not None)


def _forward(day: dt.date) -> _Open:
    due, note = period_end(day, FORWARD_DAYS)
    return _Open(
        code="forward",
        label="党委和政府信访部门登记后转送、交办有权处理的机关、单位",
        basis="第二十二条第一款",
        kind="duty",
        unit="calendar_days",
        days=FORWARD_DAYS,
        starts_on=day,
        due=due,
        note=note,
        met_by=frozenset({Step.transfer, Step.assign, Step.not_accept, Step.no_longer_accept}),
    )


def _receipt_clocks(day: dt.date, channel: str | None) -> list[_Open]:
    out = []
    if channel not in (Channel.litigation, Channel.discipline):
        due, note = period_end(day, NOTICE_DAYS)
        out.append(
            _Open(
                code="notify_acceptance",
                label="书面告知信访人接收情况以及处理途径和程序",
                basis="第二十三条第三款",
                kind="duty",
                unit="calendar_days",
                days=NOTICE_DAYS,
                starts_on=day,
                due=due,
                note=note,
                met_by=frozenset({Step.accept, Step.not_accept, Step.no_longer_accept}),
                ended_by=frozenset({Step.object}),
            )
        )
    due, note = objection_due(day)
    out.append(
        _Open(
            code="object_to_misrouting",
            label="不属于本机关、单位职权范围的，提出异议并详细说明理由",
            basis="第二十三条第三款",
            kind="window",
            unit="working_days",
            days=OBJECTION_WORKING_DAYS,
            starts_on=day,
            due=due,
            note=note,
            met_by=frozenset({Step.object}),
            ended_by=frozenset({Step.accept, Step.not_accept, Step.no_longer_accept}),
        )
    )
    return out


def _period(code: str, label: str, basis: str, kind: Kind, day: dt.date, days: int, met_by: Step) -> _Open:
    due, note = period_end(day, days)
    return _Open(
        code=code,
        label=label,
        basis=basis,
        kind=kind,
        unit="calendar_days",
        days=days,
        starts_on=day,
        due=due,
        note=note,
        met_by=frozenset({met_by}),
    )


def _started_by(event: CaseEvent, before: Case | None, after: Case) -> list[_Open]:
    """The clocks ``event`` starts, given the case before and after it."""
    step, day = event.step, event.day
    if before is None:
        return [_forward(day)]
    if step == Step.receive:
        return _receipt_clocks(day, after.channel)
    if step == Step.assign and event.due_on is not None:
        return [
            _Open(
                code="assignment_report",
                label="在指定办理期限内反馈办理结果，提交办结报告",
                basis="第二十二条第一款第三项",
                kind="duty",
                unit="date",
                days=None,
                starts_on=day,
                due=event.due_on,
                note=None,
                met_by=frozenset({Step.answer}),
                ended_by=frozenset({Step.object, Step.not_accept, Step.no_longer_accept}),
            )
        ]
    if step == Step.accept and after.channel == Channel.ordinary:
        due, note = conclude_due(day)
        return [
            _Open(
                code="conclude",
                label="自受理之日起60日内办结（情况复杂的，经负责人批准可延长，不超过30日）",
                basis="第三十四条",
                kind="duty",
                unit="calendar_days",
                days=CONCLUDE_DAYS,
                starts_on=day,
                due=due,
                note=note,
                met_by=frozenset({Step.answer}),
            )
        ]
    if step == Step.serve and after.channel == Channel.ordinary:
        if before.state in (CaseState.answered, CaseState.closed):
            return [
                _period(
                    "review_window",
                    "信访人不服处理意见的，可以请求上一级机关、单位复查",
                    "第三十五条",
                    "window",
                    day,
                    REVIEW_WINDOW_DAYS,
                    Step.request_review,
                )
            ]
        if before.state == CaseState.review_answered:
            return [
                _period(
                    "recheck_window",
                    "信访人不服复查意见的，可以向复查机关、单位的上一级机关、单位请求复核",
                    "第三十六条第一款",
                    "window",
                    day,
                    RECHECK_WINDOW_DAYS,
                    Step.request_recheck,
                )
            ]
    if step == Step.request_review:
        return [
            _period(
                "review_answer",
                "收到复查请求的机关、单位提出复查意见，并予以书面答复",
                "第三十五条",
                "duty",
                day,
                REVIEW_ANSWER_DAYS,
                Step.answer_review,
            )
        ]
    if step == Step.request_recheck:
        return [
            _period(
                "recheck_answer",
                "收到复核请求的机关、单位提出复核意见（听证所需时间不计算在内）",
                "第三十六条第一款、第二款",
                "duty",
                day,
                RECHECK_ANSWER_DAYS,
                Step.answer_recheck,
            )
        ]
    if step == Step.supervise and event.due_on is not None:
        return [
            _Open(
                code="supervision",
                label="按督办要求办理并反馈结果",
                basis="第四十条",
                kind="duty",
                unit="date",
                days=None,
                starts_on=day,
                due=event.due_on,
                note=None,
                met_by=_STATE_CHANGING,
                ended_by=frozenset({Step.supervise}),
            )
        ]
    return []


def _finish(clock: _Open, case: Case, today: dt.date) -> Clock:
    if clock.code == "forward":
        if clock.met and clock.closed_by in (Step.not_accept, Step.no_longer_accept):
            # A matter the office refuses is not forwarded: what its 15 days owed the petitioner is
            # the written notice of the refusal, as routing.deadlines gives a refused letter.
            clock.code = "notify_refusal"
            clock.label = "书面告知信访人不予受理或者不再受理及其理由"
            clock.basis = "第二十三条第二款"
        elif case.channel in _FORWARD_BASIS:
            clock.label, basis = _FORWARD_BASIS[Channel(case.channel)]
            clock.basis = f"{basis}（15日期限：第二十二条第一款）"
    if clock.met:
        status = ClockStatus.met
    elif clock.closed_by is not None:
        status = ClockStatus.ended
    else:
        status = ClockStatus.overdue if today > clock.due else ClockStatus.due
    return Clock(
        code=clock.code,
        label=clock.label,
        basis=clock.basis,
        kind=clock.kind,
        unit=clock.unit,
        days=clock.days,
        starts_on=clock.starts_on,
        due=clock.due,
        status=status,
        closed_on=clock.closed_on,
        closed_by=clock.closed_by,
        extension_days=clock.extension_days,
        excluded_days=clock.excluded_days,
        calendar_note=clock.note,
    )


def case_clocks(events: Sequence[CaseEvent], today: dt.date) -> tuple[Clock, ...]:
    """Every clock the case's ``events`` have started, in the order they started, as on ``today``.

    Raises:
        StepRefused: the events are not a valid history (checked step by step as
            :func:`casework.states.replay` does).
    """
    case = replay(events)  # the whole history is valid before any clock is read from it
    clocks: list[_Open] = []
    before: Case | None = None
    for event in events:
        after = apply(before, event)
        for clock in clocks:
            if clock.closed_by is not None:
                continue
            if event.step in clock.met_by:
                clock.met, clock.closed_by, clock.closed_on = True, event.step, event.day
            elif event.step in clock.ended_by:
                clock.closed_by, clock.closed_on = event.step, event.day
        for clock in clocks:
            if clock.closed_by is not None:
                continue
            if event.step == Step.extend and clock.code == "conclude":
                clock.extension_days = event.days or 0
                clock.due, clock.note = conclude_due(clock.starts_on, clock.extension_days)
            if (
                event.step == Step.hearing
                and clock.code == "recheck_answer"
                and before is not None
                and before.state == CaseState.under_recheck
            ):
                # 第三十六条第二款: the time the hearing needs is not counted in the 30 days
                clock.excluded_days += event.days or 0
                clock.due, clock.note = period_end(clock.starts_on, RECHECK_ANSWER_DAYS + clock.excluded_days)
        clocks.extend(_started_by(event, before, after))
        before = after
    return tuple(_finish(clock, case, today) for clock in clocks)


def running(clocks: Iterable[Clock]) -> tuple[Clock, ...]:
    """The clocks still running (due or overdue), the soonest first."""
    return tuple(sorted((c for c in clocks if c.running), key=lambda c: (c.due, c.code)))


def next_due(clocks: Iterable[Clock]) -> Clock | None:
    """The running clock that falls due first, for sorting a queue (``None`` when none runs)."""
    pending = running(clocks)
    return pending[0] if pending else None


def overdue(clocks: Iterable[Clock]) -> tuple[Clock, ...]:
    """The running clocks whose last day has passed: duties overdue and windows lapsed."""
    return tuple(c for c in running(clocks) if c.status == ClockStatus.overdue)
