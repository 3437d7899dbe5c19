"""A later letter on the same matter: 不予受理 while the earlier case is accepted and handled within
its time limit (第十九条第三款), 不再受理 once it is final after 复核 (第三十六条第三款)."""

from __future__ import annotations

from casework_events import D, accept, handler, ordinary_until_handling, supervisor
from casework_office import HANDLER, INTAKE, officers, routed_letter, step
from sqlalchemy.orm import Session

from casework.states import (
    FINAL_REPEAT_BASIS,
    PENDING_REPEAT_BASIS,
    CaseState,
    Step,
    apply,
    handling_due,
    repeat_letter_ruling,
    replay,
)


def test_an_accepted_case_within_its_time_limit_makes_a_later_letter_not_accepted() -> None:
    case = replay(ordinary_until_handling(D(2026, 3, 2), D(2026, 3, 5)))
    assert case.state == CaseState.handling
    due = handling_due(case)
    # 60 days from 受理 on 3月5日 end on 5月4日, a 法定休假日, so on the next working day 5月6日
    assert due == D(2026, 5, 6)
    ruling = repeat_letter_ruling(case, D(2026, 4, 1))
    assert ruling is not None
    assert (ruling.disposition, ruling.basis, ruling.since, ruling.due_on) == (
        "not_accepted",
        PENDING_REPEAT_BASIS,
        D(2026, 3, 5),
        due,
    )
    assert "2026年3月5日受理" in ruling.reason and "上级机关、单位不予受理" in ruling.reason
    assert repeat_letter_ruling(case, due) is not None  # the last day is still within the limit
    assert repeat_letter_ruling(case, D(2026, 12, 1)) is None  # the limit has run out
    assert repeat_letter_ruling(case, D(2026, 3, 4)) is None  # not yet accepted on that day
    assert repeat_letter_ruling(case) is None  # without the later letter's day it cannot be judged


def test_an_extension_lengthens_the_limit_and_other_procedures_give_no_ruling() -> None:
    case = replay(ordinary_until_handling(D(2026, 3, 2), D(2026, 3, 5)))
    due = handling_due(case)
    assert due is not None
    extended = apply(
        case,
        supervisor(Step.extend, D(2026, 4, 20), days=30, reason="情况复杂", document_no="X延〔2026〕1号"),
    )
    longer = handling_due(extended)
    assert longer is not None and longer > due
    day_after = D.fromordinal(due.toordinal() + 1)
    assert repeat_letter_ruling(case, day_after) is None
    ruling = repeat_letter_ruling(extended, day_after)
    assert ruling is not None and ruling.due_on == longer

    # A 履职申请 follows its own procedure's periods, which the case does not record.
    duty = replay(ordinary_until_handling(D(2026, 3, 2), D(2026, 3, 5), channel="duty_request"))
    assert handling_due(duty) is None and repeat_letter_ruling(duty, D(2026, 3, 20)) is None
    # Received, not accepted yet: not "已经受理".
    received = replay(ordinary_until_handling(D(2026, 3, 2), D(2026, 3, 5))[:-1])
    assert received.state == CaseState.received and repeat_letter_ruling(received, D(2026, 3, 20)) is None
    # Answered: the handling is over; the petitioner's remedy is 复查, not this rule.
    answered = apply(case, handler(Step.answer, D(2026, 4, 1), document_no="X信处意〔2026〕1号"))
    assert repeat_letter_ruling(answered, D(2026, 4, 2)) is None
    assert accept(D(2026, 3, 5)).step == Step.accept


def test_a_linked_letter_cites_the_pending_case_and_the_final_rule_is_unchanged(session: Session) -> None:
    from casework.cases import case_of, earlier_final_case, earlier_ruling_case, link_same_matter

    officers(session)
    earlier = routed_letter(session, D(2026, 3, 2))
    step(session, INTAKE, earlier, Step.transfer, D(2026, 3, 3), document_no="某区信转〔2026〕1号")
    step(session, HANDLER, earlier, Step.receive, D(2026, 3, 4))
    step(session, HANDLER, earlier, Step.accept, D(2026, 3, 5), document_no="某区信受告〔2026〕1号")

    again = routed_letter(session, D(2026, 4, 1), decided=False)
    assert earlier_ruling_case(session, again) is None
    link = link_same_matter(session, INTAKE, again, earlier.case_number, reason="同一事实和理由")
    assert link.earlier_final is None  # not final after 复核
    assert link.earlier_ruling is not None
    assert link.earlier_ruling == earlier_ruling_case(session, again)
    assert (link.earlier_ruling.case_number, link.earlier_ruling.state) == (earlier.case_number, "handling")
    assert link.earlier_ruling.state_name == "办理中"
    assert link.earlier_ruling.ruling.basis == PENDING_REPEAT_BASIS
    assert link.earlier_ruling.ruling.disposition == "not_accepted"
    assert earlier_final_case(session, again) is None
    assert case_of(session, again).linked_to == earlier.case_number

    # A letter received after the limit ran out gets no ruling from the pending case.
    late = routed_letter(session, D(2026, 11, 2), decided=False)
    link_same_matter(session, INTAKE, late, earlier.case_number, reason="同一事项")
    assert earlier_ruling_case(session, late) is None
    assert FINAL_REPEAT_BASIS == "第三十六条第三款"
