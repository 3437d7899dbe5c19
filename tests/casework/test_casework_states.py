"""The case's states: the one table, who may take which step, and the statutory limits on steps."""

from __future__ import annotations

import datetime as dt
from collections import deque

import pytest
from casework_events import (
    BODY,
    OTHER_BODY,
    D,
    answer,
    at,
    decide,
    ev,
    handler,
    ordinary_until_handling,
    register,
    serve,
    supervisor,
    transfer,
)
from pydantic import ValidationError

from casework.errors import StepRefused
from casework.states import (
    ADMINISTRATOR,
    ALL_ROLES,
    ANALYST,
    HANDLER,
    INSPECTOR,
    INTAKE,
    OPEN_STATES,
    STATE_NAMES,
    STEP_NAMES,
    STEP_SPECS,
    SUPERVISOR,
    TRANSITIONS,
    Case,
    CaseEvent,
    CaseState,
    Rating,
    Step,
    allowed_steps,
    apply,
    repeat_letter_ruling,
    replay,
)

S = CaseState


def states_along(events: list[CaseEvent]) -> list[CaseState]:
    case: Case | None = None
    out = []
    for event in events:
        case = apply(case, event)
        out.append(case.state)
    return out


def full_life() -> list[CaseEvent]:
    """An ordinary letter from registration to a final 复核."""
    return [
        *ordinary_until_handling(D(2026, 3, 2), D(2026, 3, 5)),
        answer(D(2026, 4, 20)),
        serve(D(2026, 4, 22)),
        ev(Step.close, D(2026, 4, 23)),
        ev(Step.request_review, D(2026, 5, 10), reason="不服处理意见，认为补偿标准过低"),
        ev(Step.answer_review, D(2026, 6, 1), document_no="Y信复查〔2026〕3号"),
        serve(D(2026, 6, 3)),
        ev(Step.request_recheck, D(2026, 6, 20), reason="不服复查意见"),
        ev(Step.hearing, D(2026, 7, 1), participants=("信访人", "原办理单位"), minutes="双方陈述", days=2),
        ev(Step.answer_recheck, D(2026, 7, 15), document_no="Z信复核〔2026〕1号"),
    ]


# ---------------------------------------------------------------------------------- the table


def test_a_letter_goes_from_registration_to_a_final_recheck() -> None:
    assert states_along(full_life()) == [
        S.registered,
        S.decided,
        S.transferred,
        S.received,
        S.handling,
        S.answered,
        S.answered,  # 送达 records a date, the state stays
        S.closed,
        S.under_review,
        S.review_answered,
        S.review_answered,
        S.under_recheck,
        S.under_recheck,  # 听证 likewise
        S.final,
    ]


def test_every_state_is_reachable_and_every_step_is_named() -> None:
    seen: set[CaseState | None] = {None}
    queue: deque[CaseState | None] = deque([None])
    while queue:
        state = queue.popleft()
        for t in TRANSITIONS:
            if t.state == state and t.to is not None and t.to not in seen:
                seen.add(t.to)
                queue.append(t.to)
    assert seen - {None} == set(CaseState)
    assert set(STATE_NAMES) == set(CaseState)
    assert set(STEP_NAMES) == set(STEP_SPECS) == set(Step) == {t.step for t in TRANSITIONS}


def test_analysts_and_administrators_take_no_step_and_only_the_office_registers() -> None:
    for t in TRANSITIONS:
        assert ANALYST not in t.roles and ADMINISTRATOR not in t.roles
        assert t.roles <= set(ALL_ROLES)
    assert [t for t in TRANSITIONS if t.step == Step.register] == [
        next(t for t in TRANSITIONS if t.state is None)
    ]
    assert {r for t in TRANSITIONS if t.step == Step.register for r in t.roles} == {INTAKE, SUPERVISOR}


def test_department_handlers_only_take_the_handling_bodys_steps() -> None:
    handler_steps = {t.step for t in TRANSITIONS if HANDLER in t.roles}
    assert handler_steps == {
        Step.receive,
        Step.object,
        Step.accept,
        Step.not_accept,
        Step.no_longer_accept,
        Step.hearing,
        Step.answer,
        Step.serve,
        Step.close,
        Step.escalate,
    }
    # the not-accepting a handler may do is the body's own, after receipt
    assert {t.state for t in TRANSITIONS if HANDLER in t.roles and t.step == Step.not_accept} == {S.received}


def test_the_refusal_names_the_state_and_what_it_allows() -> None:
    events = [
        *ordinary_until_handling(D(2026, 9, 1), D(2026, 9, 3)),
        answer(D(2026, 9, 10)),
        serve(D(2026, 9, 11)),
        ev(Step.close, D(2026, 9, 12)),
    ]
    case = replay(events)
    with pytest.raises(StepRefused) as refused:
        apply(case, handler(Step.receive, D(2026, 9, 13)))
    assert str(refused.value) == "案件处于「已办结」，不能「签收」；可进行：申请复查、满意度评价"
    assert refused.value.state == S.closed and refused.value.step == Step.receive
    assert refused.value.allowed == (Step.request_review, Step.rate)


def test_nothing_but_registration_opens_a_case() -> None:
    with pytest.raises(StepRefused, match="^案件尚未登记，不能「确定去向」；可进行：登记$"):
        apply(None, decide(D(2026, 9, 1)))
    assert allowed_steps(None) == (Step.register,)
    with pytest.raises(StepRefused, match="不能「登记」"):
        replay([register(D(2026, 9, 1)), register(D(2026, 9, 2))])


def test_open_states_take_supervision_and_urgent_reports_and_others_do_not() -> None:
    for state in CaseState:
        supervised = any(t.state == state and t.step == Step.supervise for t in TRANSITIONS)
        escalated = any(t.state == state and t.step == Step.escalate for t in TRANSITIONS)
        assert supervised == escalated == (state in OPEN_STATES), state


# ------------------------------------------------------------------------------------- roles


def test_a_role_not_in_the_row_is_refused_by_name() -> None:
    case = replay([register(D(2026, 9, 1))])
    with pytest.raises(StepRefused) as refused:
        apply(case, ev(Step.decide, D(2026, 9, 1), ANALYST, channel="ordinary", disposition="accept"))
    assert str(refused.value) == (
        "「统计分析人员」不能进行「确定去向」；该步骤限：接待／办信人员、科室负责人、纪检监察人员"
    )
    inspected = apply(
        case, ev(Step.decide, D(2026, 9, 1), INSPECTOR, channel="discipline", disposition="accept")
    )
    assert (inspected.state, inspected.channel) == (S.decided, "discipline")


def test_only_a_supervisor_approves_an_extension_and_issues_a_supervision() -> None:
    case = replay(ordinary_until_handling(D(2026, 9, 1), D(2026, 9, 3)))
    extension = {"days": 20, "reason": "需要现场勘验", "document_no": "X信延告〔2026〕1号"}
    for role in (INTAKE, INSPECTOR):
        with pytest.raises(StepRefused, match="该步骤限：科室负责人"):
            apply(case, ev(Step.extend, D(2026, 9, 20), role, **extension))
    with pytest.raises(StepRefused, match="「承办单位人员」不能进行「延期」"):
        apply(case, handler(Step.extend, D(2026, 9, 20), **extension))
    extended = apply(case, supervisor(Step.extend, D(2026, 9, 20), **extension))
    assert (extended.state, extended.extension_days) == (S.handling, 20)
    with pytest.raises(StepRefused, match="「接待／办信人员」不能进行「督办」"):
        apply(
            case,
            ev(
                Step.supervise,
                D(2026, 9, 20),
                reason="逾期",
                due_on=D(2026, 10, 9),
                document_no="X信督〔2026〕1号",
            ),
        )


def test_a_department_handler_acts_only_for_the_body_handling_the_case() -> None:
    case = replay([register(D(2026, 9, 1)), decide(D(2026, 9, 1)), transfer(D(2026, 9, 1))])
    with pytest.raises(
        StepRefused, match="^承办单位人员只能办理本单位承办的案件（本案承办单位：city_housing）$"
    ):
        apply(case, handler(Step.receive, D(2026, 9, 2), department=OTHER_BODY))
    with pytest.raises(StepRefused, match="本案承办单位：city_housing"):
        apply(case, ev(Step.receive, D(2026, 9, 2), HANDLER, actor_department=None))
    assert allowed_steps(case, HANDLER, department=OTHER_BODY) == ()
    assert allowed_steps(case, HANDLER, department=BODY) == (Step.receive, Step.escalate)
    assert apply(case, handler(Step.receive, D(2026, 9, 2))).state == S.received
    # before any 转送/交办 no handler acts at all
    registered = replay([register(D(2026, 9, 1))])
    assert allowed_steps(registered, HANDLER, department=BODY) == ()
    with pytest.raises(StepRefused, match="尚未转送、交办"):
        apply(registered, handler(Step.escalate, D(2026, 9, 1), reason="扬言", reported_to=("县委办",)))


def test_allowed_steps_by_role() -> None:
    case = replay([register(D(2026, 9, 1)), decide(D(2026, 9, 1))])
    assert allowed_steps(case) == (
        Step.decide,
        Step.transfer,
        Step.assign,
        Step.supervise,
        Step.escalate,
    )
    assert allowed_steps(case, INTAKE) == (Step.decide, Step.transfer, Step.assign, Step.escalate)
    assert allowed_steps(case, ANALYST) == ()


# ------------------------------------------------------------------------- refusal and return


def test_a_refusal_is_issued_with_its_notice_and_ends_the_case() -> None:
    decided = replay([register(D(2026, 9, 1)), decide(D(2026, 9, 1), "ordinary", "not_accepted")])
    with pytest.raises(StepRefused, match="确定的处理方式为「不予受理」，应出具告知书，不转送、交办"):
        apply(decided, transfer(D(2026, 9, 2)))
    with pytest.raises(StepRefused, match="请先改定去向"):
        apply(
            decided,
            ev(
                Step.no_longer_accept,
                D(2026, 9, 2),
                reason="已复核",
                basis="第三十六条第三款",
                document_no="X信不再告〔2026〕1号",
            ),
        )
    with pytest.raises(ValidationError, match="「不予受理」须填写：理由、依据条款、文号"):
        ev(Step.not_accept, D(2026, 9, 2))
    refused = apply(
        decided,
        ev(
            Step.not_accept,
            D(2026, 9, 2),
            reason="同一事项正由下级机关办理",
            basis="第十九条第三款",
            document_no="X信不受告〔2026〕1号",
        ),
    )
    assert refused.state == S.not_accepted and not refused.is_open
    assert allowed_steps(refused) == ()
    with pytest.raises(StepRefused, match="^案件处于「不予受理」，不能「督办」；可进行：无$"):
        apply(
            refused,
            supervisor(
                Step.supervise,
                D(2026, 9, 3),
                reason="x",
                due_on=D(2026, 9, 9),
                document_no="X信督〔2026〕1号",
            ),
        )


def test_the_handling_body_may_refuse_a_matter_it_received() -> None:
    case = replay(
        [
            register(D(2026, 9, 1)),
            decide(D(2026, 9, 1)),
            transfer(D(2026, 9, 1)),
            handler(Step.receive, D(2026, 9, 2)),
        ]
    )
    done = apply(
        case,
        handler(
            Step.no_longer_accept,
            D(2026, 9, 4),
            reason="同一事实和理由已经复核",
            basis="第三十六条第三款",
            document_no="X信不再告〔2026〕2号",
        ),
    )
    assert done.state == S.no_longer_accepted


def test_an_objection_within_five_working_days_returns_the_case_for_a_new_route() -> None:
    # received Tue 29 Sep 2026: Wed 30 (1), National Day 1-7 Oct off, Thu 8 (2), Fri 9 (3),
    # Sat 10 (调休 working day, 4), Mon 12 (5)
    base = [
        register(D(2026, 9, 25)),
        decide(D(2026, 9, 25)),
        transfer(D(2026, 9, 28)),
        handler(Step.receive, D(2026, 9, 29)),
    ]
    case = replay(base)
    with pytest.raises(ValidationError, match="「异议退回」须填写：理由"):
        handler(Step.object, D(2026, 10, 12))
    with pytest.raises(StepRefused) as late:
        apply(case, handler(Step.object, D(2026, 10, 13), reason="不属于本单位职权范围"))
    assert str(late.value) == (
        "异议期限已过：应自收到转送、交办之日（2026年9月29日）起5个工作日内，即2026年10月12日前提出（第二十三条第三款）"
    )
    returned = apply(case, handler(Step.object, D(2026, 10, 12), reason="属于交通运输部门职权"))
    assert returned.state == S.returned and returned.handling_body is None
    assert allowed_steps(returned) == (Step.decide, Step.supervise, Step.escalate)
    # the old body's handler has nothing more to do with it
    with pytest.raises(StepRefused):
        apply(returned, handler(Step.escalate, D(2026, 10, 12), reason="扬言", reported_to=("县委办",)))
    again = replay(
        [
            *base,
            handler(Step.object, D(2026, 10, 12), reason="属于交通运输部门职权"),
            decide(D(2026, 10, 13)),
            transfer(D(2026, 10, 13), OTHER_BODY, seq=2),
        ]
    )
    assert (again.state, again.handling_body, again.body_received_on) == (S.transferred, OTHER_BODY, None)
    assert apply(again, handler(Step.receive, D(2026, 10, 14), department=OTHER_BODY)).state == S.received
    with pytest.raises(StepRefused, match="本案承办单位：district_transport"):
        apply(again, handler(Step.receive, D(2026, 10, 14)))


def test_a_route_may_be_corrected_before_it_is_carried_out() -> None:
    case = replay(
        [register(D(2026, 9, 1)), decide(D(2026, 9, 1), "ordinary", "not_accepted"), decide(D(2026, 9, 2))]
    )
    assert (case.state, case.disposition) == (S.decided, "accept")
    assert apply(case, transfer(D(2026, 9, 2))).state == S.transferred


def test_an_assignment_names_a_report_date_after_its_own_day() -> None:
    case = replay([register(D(2026, 9, 1)), decide(D(2026, 9, 1))])
    with pytest.raises(ValidationError, match="「交办」须填写：期限"):
        ev(Step.assign, D(2026, 9, 2), body=BODY, document_no="X信交〔2026〕1号")
    with pytest.raises(ValidationError, match="期限2026年9月2日须晚于2026年9月2日"):
        ev(Step.assign, D(2026, 9, 2), body=BODY, due_on=D(2026, 9, 2), document_no="X信交〔2026〕1号")
    assigned = apply(
        case,
        ev(Step.assign, D(2026, 9, 2), body=BODY, due_on=D(2026, 10, 30), document_no="X信交〔2026〕1号"),
    )
    assert (assigned.state, assigned.handling_body) == (S.assigned, BODY)


def test_acceptance_needs_its_notice_except_where_other_rules_govern_it() -> None:
    received = [
        register(D(2026, 9, 1)),
        decide(D(2026, 9, 1)),
        transfer(D(2026, 9, 1)),
        handler(Step.receive, D(2026, 9, 2)),
    ]
    with pytest.raises(StepRefused, match="须填写受理告知书的文号"):
        replay([*received, handler(Step.accept, D(2026, 9, 3))])
    # 第二十三条第四款: the 纪检监察机关's notice of a 检举控告 follows its own rules
    discipline = [
        register(D(2026, 9, 1)),
        decide(D(2026, 9, 1), "discipline"),
        transfer(D(2026, 9, 1)),
        ev(Step.receive, D(2026, 9, 2), INSPECTOR),
    ]
    assert replay([*discipline, ev(Step.accept, D(2026, 9, 3), INSPECTOR)]).state == S.handling


# -------------------------------------------------------------------------------- extension


def test_an_extension_is_once_at_most_thirty_days_within_the_period_and_on_ordinary_matters() -> None:
    # accepted Sun 2 Aug 2026: day 60 is 1 Oct (National Day), so the period ends Thu 8 Oct
    case = replay(ordinary_until_handling(D(2026, 8, 2), D(2026, 8, 2)))
    extension = {"reason": "需要多部门会商", "document_no": "X信延告〔2026〕1号"}
    with pytest.raises(ValidationError, match="延长期限为1至30日（第三十四条），不能为31日"):
        supervisor(Step.extend, D(2026, 9, 20), days=31, **extension)
    with pytest.raises(StepRefused) as late:
        apply(case, supervisor(Step.extend, D(2026, 10, 9), days=10, **extension))
    assert "办理期限已于2026年10月8日届满，不能再延期" in str(late.value)
    extended = apply(case, supervisor(Step.extend, D(2026, 10, 8), days=10, **extension))
    assert extended.state == S.handling
    with pytest.raises(StepRefused) as twice:
        apply(extended, supervisor(Step.extend, D(2026, 10, 9), days=5, **extension))
    assert str(twice.value).startswith("案件处于「办理中」，不能「延期」：已延期10日；办理期限只能延长一次")
    assert Step.extend not in allowed_steps(extended)
    duty = replay(ordinary_until_handling(D(2026, 8, 2), D(2026, 8, 2), channel="duty_request"))
    with pytest.raises(
        StepRefused, match="本案按「履职申请（投诉举报）」办理；延期只适用于第三十一条第六项事项"
    ):
        apply(duty, supervisor(Step.extend, D(2026, 9, 1), days=10, **extension))


# ---------------------------------------------------------------------------- 复查 and 复核


def answered(served: dt.date | None, channel: str = "ordinary") -> Case:
    events = [*ordinary_until_handling(D(2026, 7, 1), D(2026, 7, 2), channel), answer(D(2026, 8, 25))]
    if served is not None:
        events.append(serve(served))
    return replay(events)


def test_a_review_is_requested_within_thirty_days_of_the_answer_reaching_the_petitioner() -> None:
    # served Tue 1 Sep 2026: day 30 is 1 Oct (National Day), so the window ends Thu 8 Oct
    case = answered(D(2026, 9, 1))
    request = {"reason": "不服处理意见"}
    with pytest.raises(StepRefused) as late:
        apply(case, ev(Step.request_review, D(2026, 10, 9), **request))
    assert str(late.value) == (
        "复查请求已超过期限：处理意见于2026年9月1日送达信访人，应自收到书面答复之日起30日内，"
        "即2026年10月8日前请求复查（第三十五条）"
    )
    assert apply(case, ev(Step.request_review, D(2026, 10, 8), **request)).state == S.under_review


def test_a_review_needs_the_day_the_answer_was_served() -> None:
    case = answered(None)
    assert Step.request_review not in allowed_steps(case)
    with pytest.raises(StepRefused, match="处理意见尚未记录送达日期，无法计算复查请求期限"):
        apply(case, ev(Step.request_review, D(2026, 9, 1), reason="不服"))
    with pytest.raises(StepRefused, match="早于答复日期2026年8月25日"):
        apply(case, serve(D(2026, 8, 24), recorded=D(2026, 8, 30)))


def test_only_a_handling_opinion_is_reviewed() -> None:
    case = answered(D(2026, 9, 1), channel="duty_request")
    with pytest.raises(StepRefused) as refused:
        apply(case, ev(Step.request_review, D(2026, 9, 5), reason="不服"))
    assert "本案按「履职申请（投诉举报）」办理，其答复不适用复查" in str(refused.value)
    assert Step.request_review not in allowed_steps(case)


def test_a_recheck_is_requested_within_thirty_days_of_the_review_answer() -> None:
    # review answer served Fri 16 Jan 2026: day 30 is 15 Feb, inside the Spring Festival break
    # (15-23 Feb), so the window ends Tue 24 Feb
    events = [
        *ordinary_until_handling(D(2025, 9, 1), D(2025, 9, 2)),
        answer(D(2025, 10, 20)),
        serve(D(2025, 10, 21)),
        ev(Step.request_review, D(2025, 11, 10), reason="不服"),
        ev(Step.answer_review, D(2026, 1, 12)),
    ]
    case = replay(events)
    with pytest.raises(StepRefused, match="复查意见尚未记录送达日期"):
        apply(case, ev(Step.request_recheck, D(2026, 1, 20), reason="不服复查意见"))
    served = apply(case, serve(D(2026, 1, 16)))
    with pytest.raises(StepRefused, match="即2026年2月24日前请求复核（第三十六条第一款）"):
        apply(served, ev(Step.request_recheck, D(2026, 2, 25), reason="不服复查意见"))
    assert (
        apply(served, ev(Step.request_recheck, D(2026, 2, 24), reason="不服复查意见")).state
        == S.under_recheck
    )


def test_after_recheck_the_matter_is_final_and_a_repeat_letter_is_no_longer_accepted() -> None:
    case = replay(full_life())
    assert case.is_final and not case.is_open
    ruling = repeat_letter_ruling(case)
    assert ruling is not None
    assert (ruling.disposition, ruling.basis, ruling.case_received_on) == (
        "no_longer_accepted",
        "第三十六条第三款",
        D(2026, 3, 2),
    )
    assert "2026年7月15日出具复核意见" in ruling.reason and "同一事实和理由" in ruling.reason
    assert repeat_letter_ruling(replay(full_life()[:-1])) is None
    assert allowed_steps(case) == (Step.serve, Step.rate)


def test_hearings_are_recorded_in_handling_review_and_recheck_and_count_only_in_recheck() -> None:
    life = full_life()
    in_recheck = replay(life[:-1])
    assert in_recheck.hearing_days == 2
    more = apply(
        in_recheck, ev(Step.hearing, D(2026, 7, 3), participants=("信访人",), minutes="补充陈述", days=1)
    )
    assert more.hearing_days == 3
    handling = replay(ordinary_until_handling(D(2026, 3, 2), D(2026, 3, 5)))
    heard = apply(
        handling,
        handler(Step.hearing, D(2026, 3, 20), participants=("信访人", "街道"), minutes="听证", days=1),
    )
    assert (heard.state, heard.hearing_days) == (S.handling, 0)
    with pytest.raises(ValidationError, match="「听证」须填写：天数、参加人员、听证记录"):
        ev(Step.hearing, D(2026, 7, 1), participants=(" ",))


def test_a_satisfaction_rating_is_recorded_once_per_answer() -> None:
    case = answered(D(2026, 9, 1))
    rated = apply(case, ev(Step.rate, D(2026, 9, 2), rating=Rating.dissatisfied))
    assert rated.rated and rated.state == S.answered
    with pytest.raises(StepRefused, match="本次答复已记录满意度评价"):
        apply(rated, ev(Step.rate, D(2026, 9, 3), rating=Rating.satisfied))
    reviewed = replay(
        [
            *rated.events,
            ev(Step.request_review, D(2026, 9, 10), reason="不服"),
            ev(Step.answer_review, D(2026, 9, 30)),
        ]
    )
    assert not reviewed.rated
    assert apply(reviewed, ev(Step.rate, D(2026, 10, 8), rating="basically_satisfied")).rated
    with pytest.raises(ValidationError):
        ev(Step.rate, D(2026, 9, 2), rating="very_happy")


# ------------------------------------------------------------------------ supervision, urgency


def test_supervision_and_urgent_reports_leave_the_state_as_it_is() -> None:
    case = replay([register(D(2026, 9, 1)), decide(D(2026, 9, 1)), transfer(D(2026, 9, 2))])
    supervised = apply(
        case,
        supervisor(
            Step.supervise,
            D(2026, 9, 20),
            reason="逾期未签收",
            due_on=D(2026, 9, 25),
            document_no="X信督〔2026〕1号",
        ),
    )
    assert supervised.state == S.transferred
    with pytest.raises(ValidationError, match="「重大紧急报告」须填写：理由、报告对象"):
        ev(Step.escalate, D(2026, 9, 20))
    escalated = apply(
        supervised,
        ev(
            Step.escalate,
            D(2026, 9, 21),
            reason="扬言集体上访",
            reported_to=("县委办公室", "市信访局"),
            measures="已通知属地街道和公安派出所做好稳控",
        ),
    )
    assert escalated.state == S.transferred and len(escalated.events) == 5
    report = escalated.events[-1]
    assert (report.reported_to, report.measures, report.day) == (
        ("县委办公室", "市信访局"),
        "已通知属地街道和公安派出所做好稳控",
        D(2026, 9, 21),
    )


# ------------------------------------------------------------------------- events and replay


def test_an_event_carries_who_when_and_why_and_only_its_own_particulars() -> None:
    with pytest.raises(ValidationError, match="须带时区"):
        CaseEvent(step=Step.register, actor="a", role=INTAKE, at=dt.datetime(2026, 9, 1, 10))
    with pytest.raises(ValidationError, match="未知角色「clerk」"):
        CaseEvent(step=Step.register, actor="a", role="clerk", at=at(D(2026, 9, 1)))
    with pytest.raises(ValidationError):
        CaseEvent(step=Step.register, actor="", role=INTAKE, at=at(D(2026, 9, 1)))
    with pytest.raises(ValidationError, match="「签收」不填写：天数、文号"):
        handler(Step.receive, D(2026, 9, 1), days=3, document_no="X")
    with pytest.raises(ValidationError, match="「受理」不填写：采取的措施"):
        handler(Step.accept, D(2026, 9, 1), measures="稳控")
    with pytest.raises(ValidationError, match="日期2026年9月2日晚于记录日期"):
        ev(Step.register, D(2026, 9, 1), effective_on=D(2026, 9, 2))
    with pytest.raises(ValidationError, match="未知办理途径「court」"):
        ev(Step.decide, D(2026, 9, 1), channel="court", disposition="accept")
    event = ev(Step.object, D(2026, 9, 1), HANDLER, reason="不属于本单位职权范围", actor_department=BODY)
    assert (event.actor, event.role, event.at, event.reason) == (
        "department_handler-1",
        HANDLER,
        at(D(2026, 9, 1)),
        "不属于本单位职权范围",
    )
    assert CaseEvent.model_validate_json(event.model_dump_json()) == event


def test_an_events_day_is_its_day_in_china() -> None:
    late_evening_utc = dt.datetime(2026, 10, 8, 23, 30, tzinfo=dt.UTC)  # 07:30 on 9 Oct in Beijing
    event = CaseEvent(step=Step.register, actor="a", role=INTAKE, at=late_evening_utc)
    assert event.day == D(2026, 10, 9)
    letter = CaseEvent(
        step=Step.register, actor="a", role=INTAKE, at=late_evening_utc, effective_on=D(2026, 9, 30)
    )
    assert replay([letter]).received_on == D(2026, 9, 30)


def test_replay_refuses_an_invalid_history_and_says_which_step() -> None:
    with pytest.raises(StepRefused, match="须从「登记」开始"):
        replay([])
    with pytest.raises(StepRefused, match="^第1步「确定去向」：案件尚未登记"):
        replay([decide(D(2026, 9, 1))])
    with pytest.raises(StepRefused, match="^第3步「签收」：案件处于「已确定去向」，不能「签收」"):
        replay([register(D(2026, 9, 1)), decide(D(2026, 9, 1)), handler(Step.receive, D(2026, 9, 2))])
    with pytest.raises(StepRefused, match="^第2步「确定去向」：「确定去向」的记录时间早于上一步「登记」$"):
        replay([register(D(2026, 9, 2)), decide(D(2026, 9, 1))])
    backdated = ev(Step.receive, D(2026, 9, 5), HANDLER, actor_department=BODY, effective_on=D(2026, 8, 30))
    with pytest.raises(StepRefused, match="早于案件进入「已转送」的日期2026年9月1日"):
        replay([register(D(2026, 9, 1)), decide(D(2026, 9, 1)), transfer(D(2026, 9, 1)), backdated])


def test_replay_equals_the_steps_applied_one_by_one() -> None:
    events = full_life()
    case: Case | None = None
    for event in events:
        case = apply(case, event)
    assert replay(events) == case
    assert case is not None and case.events == tuple(events)
    assert (case.channel, case.disposition, case.handling_body, case.received_on, case.accepted_on) == (
        "ordinary",
        "accept",
        BODY,
        D(2026, 3, 2),
        D(2026, 3, 5),
    )
