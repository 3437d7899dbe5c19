"""Every statutory clock of a case computed to the day, per article, across holidays and 调休 days.

The 2026 official calendar (chinese_calendar): 春节 15-23 February off, Saturdays 14 and 28
February working days; 中秋 25 September (Friday) off; 国庆 1-7 October off, Sunday 20 September
and Saturday 10 October working days. 2027 is not published yet.
"""

from __future__ import annotations

import datetime as dt

import pytest
from casework_events import (
    BODY,
    D,
    accept,
    answer,
    decide,
    ev,
    handler,
    ordinary_until_handling,
    register,
    serve,
    supervisor,
    transfer,
)

from casework.clocks import Clock, ClockStatus, case_clocks, next_due, overdue, running
from casework.errors import StepRefused
from casework.states import CaseEvent, Step


def by_code(events: list[CaseEvent], today: dt.date) -> dict[str, Clock]:
    clocks = case_clocks(events, today)
    codes = [c.code for c in clocks]
    assert len(codes) == len(set(codes)), codes
    return {c.code: c for c in clocks}


def received(on: dt.date, channel: str = "ordinary") -> list[CaseEvent]:
    """Registered on 1 Sep 2026, transferred on 2 Sep, received by the body ``on``."""
    return [
        register(D(2026, 9, 1)),
        decide(D(2026, 9, 1), channel),
        transfer(D(2026, 9, 2)),
        handler(Step.receive, on),
    ]


# ------------------------------------------------------------------------ 第二十二条: forward


def test_forward_within_fifteen_days_of_receipt_across_national_day() -> None:
    # received Wed 16 Sep 2026: day 15 is Thu 1 Oct, so the period ends Thu 8 Oct
    events = [register(D(2026, 9, 16))]
    clock = by_code(events, D(2026, 10, 8))["forward"]
    assert (clock.basis, clock.days, clock.unit, clock.kind) == (
        "第二十二条第一款",
        15,
        "calendar_days",
        "duty",
    )
    assert (clock.starts_on, clock.due, clock.status) == (D(2026, 9, 16), D(2026, 10, 8), ClockStatus.due)
    assert clock.calendar_note is not None and "2026-10-01" in clock.calendar_note
    assert clock.days_left(D(2026, 10, 8)) == 0
    late = by_code(events, D(2026, 10, 9))["forward"]
    assert (late.status, late.status_name, late.days_left(D(2026, 10, 9))) == (
        ClockStatus.overdue,
        "已超期",
        -1,
    )
    met = by_code([*events, decide(D(2026, 10, 8)), transfer(D(2026, 10, 8))], D(2026, 12, 1))["forward"]
    assert (met.status, met.closed_on, met.closed_by, met.late, met.status_name) == (
        ClockStatus.met,
        D(2026, 10, 8),
        Step.transfer,
        False,
        "已完成",
    )
    after = by_code([*events, decide(D(2026, 10, 9)), transfer(D(2026, 10, 9))], D(2026, 12, 1))["forward"]
    assert (after.status, after.late, after.status_name) == (ClockStatus.met, True, "已完成（逾期）")


def test_forward_to_the_courts_or_discipline_bodies_cites_the_second_paragraph() -> None:
    events = [register(D(2026, 9, 16)), decide(D(2026, 9, 16), "litigation", "redirect")]
    clock = by_code(events, D(2026, 9, 20))["forward"]
    assert clock.basis == "第二十二条第二款（15日期限：第二十二条第一款）"
    assert "同级政法部门" in clock.label and clock.due == D(2026, 10, 8)


def test_an_office_refusal_owes_the_written_notice_in_the_same_fifteen_days() -> None:
    events = [
        register(D(2026, 9, 16)),
        decide(D(2026, 9, 16), "ordinary", "not_accepted"),
        ev(
            Step.not_accept,
            D(2026, 9, 30),
            reason="正由下级机关办理",
            basis="第十九条第三款",
            document_no="X信不受告〔2026〕3号",
        ),
    ]
    clocks = by_code(events, D(2026, 10, 9))
    assert list(clocks) == ["notify_refusal"]
    clock = clocks["notify_refusal"]
    assert (clock.basis, clock.due, clock.status, clock.closed_on) == (
        "第二十三条第二款",
        D(2026, 10, 8),
        ClockStatus.met,
        D(2026, 9, 30),
    )


# --------------------------------------------------- 第二十三条第三款: notice and objection


@pytest.mark.parametrize(
    ("receipt", "due"),
    [
        (D(2026, 9, 22), D(2026, 10, 8)),  # day 15 = Wed 7 Oct, National Day: next working day
        (D(2026, 9, 25), D(2026, 10, 10)),  # day 15 = Sat 10 Oct, a 调休 working day: stays
        (D(2026, 2, 1), D(2026, 2, 24)),  # day 15 = Mon 16 Feb, Spring Festival: Tue 24 Feb
    ],
    ids=["national-day", "make-up-saturday", "spring-festival"],
)
def test_the_body_tells_the_petitioner_within_fifteen_days_of_receipt(receipt: dt.date, due: dt.date) -> None:
    events = (
        received(receipt)
        if receipt.month >= 9
        else [
            register(D(2026, 1, 20)),
            decide(D(2026, 1, 20)),
            transfer(D(2026, 1, 21)),
            handler(Step.receive, receipt),
        ]
    )
    clock = by_code(events, receipt)["notify_acceptance"]
    assert (clock.basis, clock.days, clock.starts_on, clock.due, clock.status) == (
        "第二十三条第三款",
        15,
        receipt,
        due,
        ClockStatus.due,
    )
    met = by_code([*events, accept(due)], due)["notify_acceptance"]
    assert (met.status, met.closed_by, met.late) == (ClockStatus.met, Step.accept, False)


@pytest.mark.parametrize(
    ("receipt", "due"),
    [
        # Mon 28 Sep: Tue 29, Wed 30, (1-7 Oct off) Thu 8, Fri 9, Sat 10 (调休) -> Sat 10 Oct
        (D(2026, 9, 28), D(2026, 10, 10)),
        # Tue 29 Sep: Wed 30, Thu 8, Fri 9, Sat 10 (调休), Mon 12 -> Mon 12 Oct
        (D(2026, 9, 29), D(2026, 10, 12)),
        # Thu 12 Feb: Fri 13, Sat 14 (调休), (15-23 off) Tue 24, Wed 25, Thu 26 -> Thu 26 Feb
        (D(2026, 2, 12), D(2026, 2, 26)),
    ],
    ids=["national-day-to-make-up-saturday", "national-day", "spring-festival"],
)
def test_the_body_objects_within_five_working_days(receipt: dt.date, due: dt.date) -> None:
    start = D(2026, 9, 1) if receipt.month >= 9 else D(2026, 2, 2)
    events = [register(start), decide(start), transfer(start), handler(Step.receive, receipt)]
    clock = by_code(events, receipt)["object_to_misrouting"]
    assert (clock.basis, clock.days, clock.unit, clock.kind, clock.due) == (
        "第二十三条第三款",
        5,
        "working_days",
        "window",
        due,
    )
    objected = by_code([*events, handler(Step.object, due, reason="不属于本单位职权范围")], due)
    assert (objected["object_to_misrouting"].status, objected["object_to_misrouting"].status_name) == (
        ClockStatus.met,
        "已行使",
    )
    # the objection is the body's answer under the same paragraph: its notice clock stops
    assert (objected["notify_acceptance"].status, objected["notify_acceptance"].closed_by) == (
        ClockStatus.ended,
        Step.object,
    )
    accepted = by_code([*events, accept(receipt)], due + dt.timedelta(days=30))["object_to_misrouting"]
    assert (accepted.status, accepted.closed_by, accepted.status_name) == (
        ClockStatus.ended,
        Step.accept,
        "已停止",
    )
    lapsed = by_code(events, due + dt.timedelta(days=1))["object_to_misrouting"]
    assert (lapsed.status, lapsed.status_name) == (ClockStatus.overdue, "已届满")


def test_no_fifteen_day_notice_where_the_courts_or_discipline_bodies_give_their_own() -> None:
    for channel in ("litigation", "discipline"):
        clocks = by_code(received(D(2026, 9, 22), channel), D(2026, 9, 22))
        assert "notify_acceptance" not in clocks
        # Wed 23, Thu 24, (Fri 25 中秋 off) Mon 28, Tue 29, Wed 30
        assert clocks["object_to_misrouting"].due == D(2026, 9, 30)


def test_a_new_transfer_after_a_return_starts_the_new_bodys_clocks() -> None:
    events = [
        *received(D(2026, 9, 3)),
        handler(Step.object, D(2026, 9, 7), reason="属于交通部门职权"),
        decide(D(2026, 9, 8)),
        transfer(D(2026, 9, 8), "district_transport", seq=2),
        handler(Step.receive, D(2026, 9, 22), department="district_transport"),
    ]
    clocks = case_clocks(events, D(2026, 9, 22))
    notices = [c for c in clocks if c.code == "notify_acceptance"]
    assert [(c.starts_on, c.due, c.status) for c in notices] == [
        (D(2026, 9, 3), D(2026, 9, 18), ClockStatus.ended),
        (D(2026, 9, 22), D(2026, 10, 8), ClockStatus.due),
    ]
    assert [c.code for c in running(clocks)] == ["object_to_misrouting", "notify_acceptance"]


# ----------------------------------------------------------- 第二十二条第一款第三项: 交办


def test_an_assignment_reports_back_by_the_date_it_names() -> None:
    events = [
        register(D(2026, 9, 1)),
        decide(D(2026, 9, 1)),
        ev(Step.assign, D(2026, 9, 2), body=BODY, due_on=D(2026, 10, 3), document_no="X信交〔2026〕1号"),
    ]
    clock = by_code(events, D(2026, 10, 3))["assignment_report"]
    # a date the office sets is the date it set, even on a holiday
    assert (clock.basis, clock.unit, clock.days, clock.due, clock.status) == (
        "第二十二条第一款第三项",
        "date",
        None,
        D(2026, 10, 3),
        ClockStatus.due,
    )
    done = [*events, handler(Step.receive, D(2026, 9, 3)), accept(D(2026, 9, 3)), answer(D(2026, 10, 8))]
    met = by_code(done, D(2026, 10, 9))["assignment_report"]
    assert (met.status, met.closed_on, met.late) == (ClockStatus.met, D(2026, 10, 8), True)


# --------------------------------------------------------------------- 第三十四条: conclude


@pytest.mark.parametrize(
    ("accepted", "extension", "due"),
    [
        (D(2026, 8, 2), 0, D(2026, 10, 8)),  # day 60 = Thu 1 Oct, National Day
        (D(2026, 8, 11), 0, D(2026, 10, 10)),  # day 60 = Sat 10 Oct, a 调休 working day
        (D(2026, 8, 2), 10, D(2026, 10, 12)),  # day 70 = Sun 11 Oct, a rest day
        (D(2026, 8, 2), 30, D(2026, 11, 2)),  # day 90 = Sat 31 Oct, a rest day
        (D(2025, 12, 17), 0, D(2026, 2, 24)),  # day 60 = Sun 15 Feb, Spring Festival
    ],
    ids=["national-day", "make-up-saturday", "extended-10", "extended-30", "spring-festival"],
)
def test_conclude_within_sixty_days_of_acceptance_plus_the_extension(
    accepted: dt.date, extension: int, due: dt.date
) -> None:
    events = ordinary_until_handling(accepted, accepted)
    if extension:
        events.append(
            supervisor(
                Step.extend,
                D(2026, 9, 30),
                days=extension,
                reason="需要现场勘验",
                document_no="X信延告〔2026〕1号",
            )
        )
    clock = by_code(events, accepted)["conclude"]
    assert (clock.basis, clock.days, clock.starts_on, clock.extension_days, clock.due) == (
        "第三十四条",
        60,
        accepted,
        extension,
        due,
    )
    met = by_code([*events, answer(due)], due)["conclude"]
    assert (met.status, met.closed_by, met.late) == (ClockStatus.met, Step.answer, False)


def test_only_ordinary_matters_have_the_sixty_days() -> None:
    clocks = by_code(ordinary_until_handling(D(2026, 8, 2), D(2026, 8, 2), "duty_request"), D(2026, 8, 2))
    assert "conclude" not in clocks and set(clocks) == {
        "forward",
        "notify_acceptance",
        "object_to_misrouting",
    }


# ------------------------------------------------------------- 第三十五条、第三十六条: 复查 and 复核


def reviewed(served: dt.date) -> list[CaseEvent]:
    return [*ordinary_until_handling(D(2026, 6, 1), D(2026, 6, 2)), answer(D(2026, 7, 20)), serve(served)]


def test_the_review_window_runs_thirty_days_from_service() -> None:
    # served Tue 1 Sep 2026: day 30 is Thu 1 Oct, so the window ends Thu 8 Oct
    events = reviewed(D(2026, 9, 1))
    clock = by_code(events, D(2026, 10, 8))["review_window"]
    assert (clock.basis, clock.kind, clock.starts_on, clock.due, clock.status, clock.status_name) == (
        "第三十五条",
        "window",
        D(2026, 9, 1),
        D(2026, 10, 8),
        ClockStatus.due,
        "期限内",
    )
    lapsed = by_code([*events, ev(Step.close, D(2026, 9, 2))], D(2026, 10, 9))["review_window"]
    assert (lapsed.status, lapsed.status_name) == (ClockStatus.overdue, "已届满")
    used = by_code([*events, ev(Step.request_review, D(2026, 10, 8), reason="不服")], D(2026, 10, 9))
    assert (used["review_window"].status, used["review_window"].status_name) == (ClockStatus.met, "已行使")


def test_the_review_is_answered_within_thirty_days_of_the_request() -> None:
    # request received Thu 10 Sep 2026: day 30 is Sat 10 Oct, a 调休 working day, which stays
    events = [*reviewed(D(2026, 8, 20)), ev(Step.request_review, D(2026, 9, 10), reason="不服")]
    clock = by_code(events, D(2026, 9, 10))["review_answer"]
    assert (clock.basis, clock.days, clock.due, clock.calendar_note) == (
        "第三十五条",
        30,
        D(2026, 10, 10),
        None,
    )
    # a hearing during 复查 does not stop its clock: only 复核's is (第三十六条第二款)
    heard = [*events, ev(Step.hearing, D(2026, 9, 20), participants=("信访人",), minutes="听证", days=3)]
    assert by_code(heard, D(2026, 9, 20))["review_answer"].due == D(2026, 10, 10)
    met = by_code([*heard, ev(Step.answer_review, D(2026, 10, 12))], D(2026, 10, 12))["review_answer"]
    assert (met.status, met.late) == (ClockStatus.met, True)


def recheck_events(review_served: dt.date) -> list[CaseEvent]:
    return [
        *ordinary_until_handling(D(2025, 9, 1), D(2025, 9, 2)),
        answer(D(2025, 10, 20)),
        serve(D(2025, 10, 21)),
        ev(Step.request_review, D(2025, 11, 10), reason="不服"),
        ev(Step.answer_review, D(2025, 12, 1)),
        serve(review_served),
    ]


def test_the_recheck_window_runs_thirty_days_from_the_review_answer_across_spring_festival() -> None:
    # served Fri 16 Jan 2026: day 30 is Sun 15 Feb, inside the break, so the window ends Tue 24 Feb
    clock = by_code(recheck_events(D(2026, 1, 16)), D(2026, 2, 1))["recheck_window"]
    assert (clock.basis, clock.kind, clock.due) == ("第三十六条第一款", "window", D(2026, 2, 24))
    assert clock.calendar_note is not None and "2026-02-15" in clock.calendar_note


def test_the_recheck_is_answered_within_thirty_days_not_counting_the_hearing() -> None:
    # request Sat 10 Jan 2026: day 30 is Mon 9 Feb; a 5-day hearing makes day 35 Sat 14 Feb, a
    # 调休 working day before the Spring Festival break, which stays
    events = [
        *recheck_events(D(2025, 12, 20)),
        ev(Step.request_recheck, D(2026, 1, 10), reason="不服复查意见"),
    ]
    clock = by_code(events, D(2026, 1, 10))["recheck_answer"]
    assert (clock.basis, clock.days, clock.due, clock.excluded_days) == (
        "第三十六条第一款、第二款",
        30,
        D(2026, 2, 9),
        0,
    )
    heard = [
        *events,
        ev(Step.hearing, D(2026, 1, 20), participants=("信访人", "复查机关"), minutes="听证", days=5),
    ]
    clock = by_code(heard, D(2026, 1, 20))["recheck_answer"]
    assert (clock.due, clock.excluded_days, clock.calendar_note) == (D(2026, 2, 14), 5, None)
    # one more day of hearing: day 36 is Sun 15 Feb, so the period runs past the break to Tue 24 Feb
    more = [*heard, ev(Step.hearing, D(2026, 1, 21), participants=("信访人",), minutes="续听证", days=1)]
    assert by_code(more, D(2026, 1, 21))["recheck_answer"].due == D(2026, 2, 24)
    final = by_code([*more, ev(Step.answer_recheck, D(2026, 2, 24))], D(2026, 3, 1))
    assert final["recheck_answer"].status == ClockStatus.met
    assert running(final.values()) == ()


# ----------------------------------------------------------------------- 第四十条: 督办


def test_a_supervision_runs_to_its_date_until_the_case_moves_or_a_newer_one_replaces_it() -> None:
    base = [register(D(2026, 9, 1)), decide(D(2026, 9, 1)), transfer(D(2026, 9, 2))]

    def supervise(day: dt.date, due: dt.date, seq: int) -> CaseEvent:
        return supervisor(
            Step.supervise, day, reason="逾期未签收", due_on=due, document_no=f"X信督〔2026〕{seq}号"
        )

    events = [*base, supervise(D(2026, 9, 20), D(2026, 9, 25), 1)]
    clock = by_code(events, D(2026, 9, 26))["supervision"]
    assert (clock.basis, clock.due, clock.status) == ("第四十条", D(2026, 9, 25), ClockStatus.overdue)
    moved = by_code([*events, handler(Step.receive, D(2026, 9, 24))], D(2026, 9, 26))["supervision"]
    assert (moved.status, moved.closed_by) == (ClockStatus.met, Step.receive)
    twice = case_clocks([*events, supervise(D(2026, 9, 28), D(2026, 9, 30), 2)], D(2026, 9, 29))
    supervisions = [(c.due, c.status) for c in twice if c.code == "supervision"]
    assert supervisions == [(D(2026, 9, 25), ClockStatus.ended), (D(2026, 9, 30), ClockStatus.due)]


# -------------------------------------------------------------------------- reading clocks


def test_running_clocks_sort_by_due_date_and_overdue_ones_are_listed() -> None:
    events = received(D(2026, 9, 29))
    clocks = case_clocks(events, D(2026, 10, 13))
    assert [(c.code, c.due) for c in running(clocks)] == [
        ("object_to_misrouting", D(2026, 10, 12)),
        ("notify_acceptance", D(2026, 10, 14)),
    ]
    assert [c.code for c in overdue(clocks)] == ["object_to_misrouting"]
    first = next_due(clocks)
    assert first is not None and first.code == "object_to_misrouting"
    assert (
        next_due(
            case_clocks([*events, handler(Step.object, D(2026, 10, 9), reason="不属于")], D(2026, 10, 13))
        )
        is None
    )


def test_a_clock_in_an_unpublished_year_says_the_date_must_be_checked() -> None:
    clock = by_code([register(D(2026, 12, 20))], D(2026, 12, 20))["forward"]
    assert clock.due == D(2027, 1, 4)
    assert clock.calendar_note is not None and "2027年的法定节假日安排尚未收录" in clock.calendar_note


def test_clocks_are_read_only_from_a_valid_history() -> None:
    with pytest.raises(StepRefused, match="^第2步「签收」"):
        case_clocks([register(D(2026, 9, 1)), handler(Step.receive, D(2026, 9, 2))], D(2026, 9, 2))
