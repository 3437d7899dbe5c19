"""Statutory time limits of a route, and the dates they fall on.

Which clocks a route carries (《信访工作条例》 2022 unless another act is named):

- ``report_urgent`` — 第二十五条: a major or urgent matter is reported at once to the 本级党委和政府
  (第一款), and a 党委和政府信访部门 reports it to the 信访部门 one level up and to the 国家信访局
  (第二款). Added only when the caller's ``facts`` say the letter is urgent (``"urgent"``, the
  proposal's flag, or the fact tag ``"self_harm_or_violence"``). "及时" has no number of days: the
  due date is the day of receipt and it never moves for a holiday.
- ``forward`` — 第二十二条: the 信访部门 registers the matter and forwards or assigns it within 15
  days of receipt, to the competent body (第一款) or, for 涉法涉诉 letters and 检举控告 for the
  纪检监察机关, to the 同级政法部门 / the 纪检监察机关 by 管理权限 (第二款; the 15 days are those of
  第一款). Every accepted or redirected matter has it; a refused one (不予受理/不再受理) has not.
- ``notify_acceptance`` — 第二十三条第二款、第三款: the body that receives the matter directly, or by
  转送/交办 within its competence, tells the writer in writing within 15 days (unless name or
  address are unclear). 第二十三条第四款 takes out only this notice and only where the 政法部门
  handle a 诉讼权利救济 matter or the 纪检监察机关 a 检举控告 matter: their notice follows their own
  rules. So a letter accepted or redirected to ``litigation`` or ``discipline`` has no 15-day notice,
  but keeps the 转送 clock and the objection clock; a letter the office refuses keeps the notice,
  because the office, not the 政法部门, gives it.
- ``object_to_misrouting`` — 第二十三条第三款: a body that receives a 转送/交办 outside its
  competence objects within 5 working days. Every forwarded matter (accepted or redirected).
- ``conclude`` — 第三十四条: 60 days from 受理 (``accepted_on``), only for 第三十一条第六项 matters
  (``ordinary``), plus 复查/复核 (第三十五条、第三十六条), which start from replies not known here.
- the remedy's own limit for redirected matters (行政复议, 行政诉讼, 仲裁, 人事申诉, 履职答复),
  chosen by the ``facts`` the letter states (an award or a 复议 already there changes the remedy).
  These start from events the letter rarely dates, so they carry no due date.

Counting. Days in the 条例 (15日, 60日, 30日) are calendar days, the first day not counted; only
第二十三条's objection period counts 工作日. Working days follow China's official holiday and
make-up-working-day calendar published each year by the State Council (``routing.calendar``: the
``chinese_calendar`` package, and the office's holiday file for years it does not cover yet): a
调休 Saturday is a working day, a weekday inside the Spring Festival break is not.

A calendar-day period whose last day is a 法定休假日 ends on the next working day (《民法典》第二百零三条:
"期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日"). 法定休假日 here means the
public holidays and the weekly rest days alike, as in civil-procedure practice; "the next working
day" on the official calendar covers both, and a period ending on a 调休 working Saturday ends on
that Saturday. The deadline's ``calendar_note`` says when a due date was moved and why. For a year
neither covers yet, working days fall back to Monday–Friday and the note says so, so an officer
checks the date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from routing.calendar import is_workday
from routing.codes import Channel, Disposition
from routing.schemas import Deadline

#: Fact tags of ../shared/data/FACTS.md (the fact layer's ``classifier.facts.FACT_TAGS``) and its
#: letter-level heads ``urgent`` and ``multi``. Only some choose a clock; the others are accepted so
#: a caller can pass the letter's facts as they are.
KNOWN_FACTS: frozenset[str] = frozenset(
    {
        "court_pending",
        "court_decided",
        "court_final",
        "police_case",
        "civil_dispute",
        "labour_dispute",
        "land_contract_dispute",
        "arbitration_done",
        "admin_decision",
        "review_done",
        "official_misconduct",
        "sanction_self",
        "third_party_violation",
        "prior_complaint",
        "answered_before",
        "reviewed_before",
        "higher_level_pending",
        "group_action",
        "info_request",
        "self_harm_or_violence",
        "urgent",
        "multi",
        "consultation",
    }
)
_URGENT_FACTS = frozenset({"urgent", "self_harm_or_violence"})

CIVIL_CODE_203 = "《民法典》第二百零三条"


def add_working_days(start: dt.date, days: int) -> tuple[dt.date, str | None]:
    """The date ``days`` working days after ``start`` (the day of receipt itself does not count)."""
    day, counted, note = start, 0, None
    while counted < days:
        day += dt.timedelta(days=1)
        workday, missing = is_workday(day)
        note = note or missing
        counted += workday
    return day, note


def add_calendar_days(start: dt.date, days: int) -> dt.date:
    """``days`` days after ``start``; the first day is not counted (as 期间 are reckoned in law).

    Plain arithmetic: :func:`period_end` applies the holiday rule on top of it.
    """
    return start + dt.timedelta(days=days)


def period_end(start: dt.date, days: int) -> tuple[dt.date, str | None]:
    """The last day of a ``days``-day period starting after ``start``, with a note when it moved.

    A last day on a 法定休假日 (public holiday or weekly rest day) moves to the next working day
    (《民法典》第二百零三条); a 调休 working day is not a rest day and keeps the period's end.
    """
    raw = add_calendar_days(start, days)
    day = raw
    workday, missing = is_workday(day)
    while not workday:
        day += dt.timedelta(days=1)
        workday, later_missing = is_workday(day)
        missing = missing or later_missing
    notes = []
    if day != raw:
        notes.append(
            f"期间最后一日{raw.isoformat()}为法定休假日，以休假日结束的次日{day.isoformat()}为最后一日"
            f"（{CIVIL_CODE_203}）。"
        )
    if missing:
        notes.append(missing)
    return day, "".join(notes) or None


def _join(*notes: str | None) -> str | None:
    return "".join(n for n in notes if n) or None


def _report_urgent(received_on: dt.date | None) -> Deadline:
    return Deadline(
        code="report_urgent",
        label=(
            "重大、紧急信访事项及时报告本级党委和政府，通报相关主管部门和本级信访工作联席会议办公室；"
            "党委和政府信访部门并向上一级信访部门报告，同时报告国家信访局"
        ),
        basis="第二十五条第一款、第二款",
        days=0,
        unit="calendar_days",
        starts="收到信访事项时（“及时”）",
        due=received_on,
        calendar_note="条例只规定“及时”报告，未规定天数：按收到当日计，不因节假日顺延。",
    )


def _forward(channel: str, received_on: dt.date | None) -> Deadline:
    due, note = period_end(received_on, 15) if received_on else (None, None)
    if channel == Channel.litigation:
        label, basis = "党委和政府信访部门登记后将涉法涉诉信件转送同级政法部门", "第二十二条第二款"
    elif channel == Channel.discipline:
        label = "党委和政府信访部门登记后按照管理权限将检举控告类事项转送有关纪检监察机关"
        basis = "第二十二条第二款"
    else:
        label, basis = "党委和政府信访部门登记后转送、交办有权处理的机关、单位", "第二十二条第一款"
    if basis.endswith("第二款"):
        basis += "（15日期限：第二十二条第一款）"
        # 第二十三条第四款 takes the 15-day notice out for these routes; say where it went.
        note = _join(
            note,
            "政法部门处理涉及诉讼权利救济事项、纪检监察机关处理检举控告事项的告知按照有关规定执行"
            "（第二十三条第四款），不适用第二十三条的15日告知期限。",
        )
    return Deadline(
        code="forward",
        label=label,
        basis=basis,
        days=15,
        unit="calendar_days",
        starts="自信访部门收到信访事项之日起",
        due=due,
        calendar_note=note,
    )


def _notice(received_on: dt.date | None) -> Deadline:
    due, note = period_end(received_on, 15) if received_on else (None, None)
    return Deadline(
        code="notify_acceptance",
        label=(
            "书面告知信访人接收情况以及处理途径和程序（能够当场告知的当场书面告知；"
            "信访人姓名（名称）、住址不清的除外）"
        ),
        basis="第二十三条第二款、第三款",
        days=15,
        unit="calendar_days",
        starts="自收到信访事项（或者转送、交办）之日起",
        due=due,
        calendar_note=note,
    )


def _objection(received_on: dt.date | None) -> Deadline:
    due, note = add_working_days(received_on, 5) if received_on else (None, None)
    return Deadline(
        code="object_to_misrouting",
        label="收到转送、交办事项的机关认为不属于其职权范围的，提出异议并详细说明理由",
        basis="第二十三条第三款",
        days=5,
        unit="working_days",
        starts="自收到转送、交办之日起",
        due=due,
        calendar_note=note,
    )


def _handling(accepted_on: dt.date | None) -> list[Deadline]:
    due, note = period_end(accepted_on, 60) if accepted_on else (None, None)
    return [
        Deadline(
            code="conclude",
            label="办结（情况复杂的，经批准可延长，延长不超过30日，并告知延期理由）",
            basis="第三十四条",
            days=60,
            unit="calendar_days",
            extension_days=30,
            starts="自受理之日起",
            due=due,
            calendar_note=note,
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
            basis="第三十六条第一款",
            days=30,
            unit="calendar_days",
            starts="自收到复查书面答复之日起",
        ),
    ]


# The remedy's own clock for redirected matters. These run from when the person knew of the act,
# the award or the decision, which the letter rarely dates, so they carry no due date: the officer
# tells the writer the limit when redirecting.


def _administrative_remedies(facts: frozenset[str]) -> list[Deadline]:
    if "review_done" in facts:
        # After 复议 the remedy is the court, within 15 days of the 复议决定; the 60-day 复议 limit
        # and the 6-month limit for suing the original act no longer describe the writer's position.
        return [
            Deadline(
                code="litigation_after_review_limit",
                label="不服行政复议决定，向人民法院提起行政诉讼",
                basis="《行政诉讼法》第四十五条",
                days=15,
                unit="calendar_days",
                starts="自收到复议决定书之日起（复议机关逾期不作决定的，自复议期满之日起）",
                calendar_note="来信称已申请或者经过行政复议；已经提起行政诉讼的，由人民法院依诉讼程序处理。",
            )
        ]
    return [
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
    ]


def _arbitration_remedies(facts: frozenset[str]) -> list[Deadline]:
    if "arbitration_done" in facts:
        # Arbitration was applied for or an award exists: the application limit is spent. An award
        # in force that the other side does not honour is enforced by the people's court
        # (《劳动争议调解仲裁法》第五十一条), which starts from the award, not from this letter.
        return []
    if "land_contract_dispute" in facts and "labour_dispute" not in facts:
        return [
            Deadline(
                code="land_contract_arbitration_limit",
                label="申请农村土地承包经营纠纷仲裁（仲裁时效二年）",
                basis="《农村土地承包经营纠纷调解仲裁法》第十八条",
                days=24,
                unit="months",
                starts="自当事人知道或者应当知道其权利被侵害之日起",
            )
        ]
    unsure = None
    if "labour_dispute" not in facts:
        unsure = (
            "来信未表明是劳动人事争议：一年仲裁时效只适用于劳动人事争议；农村土地承包经营纠纷为二年"
            "（《农村土地承包经营纠纷调解仲裁法》第十八条），合同约定仲裁的按仲裁法的时效规定。请核实后再告知。"
        )
    return [
        Deadline(
            code="labour_arbitration_limit",
            label="申请劳动人事争议仲裁（仲裁时效一年）",
            basis="《劳动争议调解仲裁法》第二十七条",
            days=12,
            unit="months",
            starts="自当事人知道或者应当知道其权利被侵害之日起",
            calendar_note=unsure,
        )
    ]


def _personnel_remedies() -> list[Deadline]:
    # personnel_appeal holds both 党员申诉 (R-DY-01) and the 人事申诉 of civil servants and public
    # institution staff (R-DY-02). No fact tag tells them apart (sanction_self covers all three), so
    # the 30-day limit is given with the one group it binds named, never asserted for the others.
    return [
        Deadline(
            code="personnel_appeal_limit",
            label="公务员对涉及本人的人事处理不服，向原处理机关申请复核或者直接提出申诉",
            basis="《公务员法》第九十五条",
            days=30,
            unit="calendar_days",
            starts="自知道该人事处理之日起",
            calendar_note=(
                "此30日只适用于公务员（《公务员法》第九十五条）。党员对党纪处分的申诉（第三十一条第三项"
                "“党员申诉”）依党内法规办理，不适用此期限；事业单位工作人员依《事业单位人事管理条例》"
                "第三十八条按照国家有关规定申请复核、提出申诉。来信不能表明信访人属于哪一类，告知前请核实。"
            ),
        )
    ]


def _duty_remedies() -> list[Deadline]:
    return [
        Deadline(
            code="duty_reply_remedy",
            label=(
                "依法履行或者以投诉（举报）处理情况告知书答复（第三十一条第五项）；不服的可申请行政复议"
                "（60日），或者提起行政诉讼（6个月，《行政诉讼法》第四十六条）"
            ),
            basis="《行政复议法》第二十条",
            days=60,
            unit="calendar_days",
            starts="自收到告知书之日起",
        )
    ]


def _remedies(channel: str, facts: frozenset[str]) -> list[Deadline]:
    if channel == Channel.administrative_review:
        return _administrative_remedies(facts)
    if channel == Channel.arbitration:
        return _arbitration_remedies(facts)
    if channel == Channel.personnel_appeal:
        return _personnel_remedies()
    if channel == Channel.duty_request:
        return _duty_remedies()
    return []


def deadlines_for(
    channel: str,
    disposition: str,
    received_on: dt.date | None,
    *,
    accepted_on: dt.date | None = None,
    facts: frozenset[str] = frozenset(),
) -> tuple[Deadline, ...]:
    """The time limits that apply to a letter routed to ``channel`` with ``disposition``.

    Args:
        channel: a :class:`routing.codes.Channel` code.
        disposition: a :class:`routing.codes.Disposition` code.
        received_on: the day the office received the letter; starts the 转送, notice and objection
            clocks (and is the due day of an urgent report).
        accepted_on: the day it was accepted (受理); starts the 60-day clock of 第三十四条.
        facts: fact tags of ../shared/data/FACTS.md the letter states (``arbitration_done``,
            ``review_done``, ``labour_dispute``, ``land_contract_dispute``…), plus ``urgent``;
            they choose the remedy clock and add the 第二十五条 report.

    Raises:
        ValueError: a fact tag that is not in :data:`KNOWN_FACTS` (a misspelt tag would silently
            give the wrong clock).
    """
    unknown = sorted(set(facts) - KNOWN_FACTS)
    if unknown:
        raise ValueError(f"unknown fact tag(s) {unknown}; known tags: {', '.join(sorted(KNOWN_FACTS))}")
    out: list[Deadline] = []
    if _URGENT_FACTS & facts:
        out.append(_report_urgent(received_on))
    handled = disposition in (Disposition.accept, Disposition.redirect)
    # 第二十三条第四款: only the 政法部门's and 纪检监察机关's own notice follows their rules.
    if not (handled and channel in (Channel.litigation, Channel.discipline)):
        out.append(_notice(received_on))
    if handled:
        out.append(_forward(channel, received_on))
        out.append(_objection(received_on))
        if channel == Channel.ordinary and disposition == Disposition.accept:
            out.extend(_handling(accepted_on))
    if disposition != Disposition.no_longer_accepted:
        out.extend(_remedies(channel, facts))
    return tuple(out)


def earliest_due(deadlines: Iterable[Deadline]) -> dt.date | None:
    dates = [d.due for d in deadlines if d.due is not None]
    return min(dates) if dates else None
