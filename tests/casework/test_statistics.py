"""The office's figures on a small office built step by step, where each rate is known exactly.

Eight letters, seven of them received in March 2026, walked through the case steps officers take
(SQLite and PostgreSQL). Every expected number is counted by hand from the story below, not
computed, so a change in a definition (``service.statistics``) that the story does not follow fails.
"""

from __future__ import annotations

import datetime as dt

import pytest
from casework_office import (
    ANALYST,
    BODY,
    HANDLER,
    INSPECTOR,
    INTAKE,
    SUPERVISOR,
    D,
    at,
    officers,
    routed_letter,
    step,
)
from sqlalchemy.orm import Session

from casework.cases import link_same_matter, sync_case
from routing.deadlines import period_end
from service import access
from service.errors import Forbidden, InvalidInput
from service.statistics import (
    NO_SATISFACTION,
    OFFICE_ITSELF,
    Statistics,
    compute,
    date_range,
    parse_period,
    region_of,
    statistics_for,
)
from store.models import User

TODAY = D(2026, 6, 30)
MARCH = parse_period("2026-03")


def office(session: Session) -> dict[str, int]:
    """The story (each letter's number in March is its key):

    - L1 02 Mar: 转送 05 Mar (in time), 受理 09 Mar, 处理意见 30 Mar (in time), 满意; 复查 asked and
      answered, 复核 asked 01 May and never answered (its 30 days ran out 31 May: overdue).
    - L2 02 Mar: 转送 20 Mar (late: due 17 Mar), 受理 23 Mar, 延期 20 days, 处理意见 20 Jun (late:
      due 11 Jun even with the extension), 不满意.
    - L3 10 Mar: 不予受理 with its notice 12 Mar (in time).
    - L4 16 Mar: decided, nothing since (late, overdue).
    - L5 25 Mar: an accusation, decided by the inspector, nothing since (late, overdue, confidential).
    - L6 28 Mar: linked to L1 as the same matter, nothing since (late, overdue).
    - L8 20 Mar: 转送 07 Apr, 18 days later, yet in time: the 15th day, 4 Apr, starts the 清明 holiday,
      so the period ends on 7 Apr (民法典第二百零三条).
    - L7 02 Apr: outside March.
    """
    officers(session)
    doc = iter(range(1, 100))

    def no() -> str:
        return f"某区信〔2026〕{next(doc)}号"

    l1 = routed_letter(session, D(2026, 3, 2), title="A市A3区小区电梯多次故障")
    step(session, INTAKE, l1, "transfer", D(2026, 3, 5), document_no=no())
    step(session, HANDLER, l1, "receive", D(2026, 3, 6))
    step(session, HANDLER, l1, "accept", D(2026, 3, 9), document_no=no())
    step(session, HANDLER, l1, "answer", D(2026, 3, 30), document_no=no())
    step(session, HANDLER, l1, "serve", D(2026, 4, 1), effective_on=D(2026, 4, 1))
    step(session, INTAKE, l1, "rate", D(2026, 4, 2), rating="satisfied")
    step(session, INTAKE, l1, "request_review", D(2026, 4, 10), reason="不服处理意见")
    step(session, INTAKE, l1, "answer_review", D(2026, 4, 20), document_no=no())
    step(session, INTAKE, l1, "serve", D(2026, 4, 22), effective_on=D(2026, 4, 22))
    step(session, INTAKE, l1, "request_recheck", D(2026, 5, 1), reason="不服复查意见")

    l2 = routed_letter(session, D(2026, 3, 2), title="反映K1区供暖不热")
    step(session, INTAKE, l2, "transfer", D(2026, 3, 20), document_no=no())
    step(session, HANDLER, l2, "receive", D(2026, 3, 21))
    step(session, HANDLER, l2, "accept", D(2026, 3, 23), document_no=no())
    step(session, SUPERVISOR, l2, "extend", D(2026, 5, 10), days=20, reason="需要鉴定", document_no=no())
    step(session, HANDLER, l2, "answer", D(2026, 6, 20), document_no=no())
    step(session, INTAKE, l2, "rate", D(2026, 6, 22), rating="dissatisfied")

    l3 = routed_letter(session, D(2026, 3, 10), title="A7县某村道路问题", disposition="not_accepted")
    step(
        session,
        INTAKE,
        l3,
        "not_accept",
        D(2026, 3, 12),
        reason="已由法院受理",
        basis="第十九条",
        document_no=no(),
    )

    l4 = routed_letter(session, D(2026, 3, 16))
    sync_case(session, l4, now=at(D(2026, 3, 16), 11))
    l5 = routed_letter(
        session,
        D(2026, 3, 25),
        decider=INSPECTOR,
        category="accusation",
        channel="discipline",
        department="discipline_inspection",
        confidential=True,
    )
    sync_case(session, l5, now=at(D(2026, 3, 25), 11))
    l6 = routed_letter(session, D(2026, 3, 28))
    link_same_matter(session, INTAKE, l6, l1, reason="同一事实和理由", now=at(D(2026, 3, 29)))
    l7 = routed_letter(session, D(2026, 4, 2))
    l8 = routed_letter(session, D(2026, 3, 20))
    step(session, INTAKE, l8, "transfer", D(2026, 4, 7), document_no=no())
    session.commit()
    return {"L1": l1.id, "L2": l2.id, "L3": l3.id, "L4": l4.id, "L5": l5.id, "L6": l6.id, "L7": l7.id}


def numbers(stats: Statistics) -> dict[str, tuple[int, int]]:
    return {key: (rate.numerator, rate.denominator) for key, rate in stats.rates.items()}


def user(session: Session, username: str) -> User:
    found = session.query(User).filter_by(username=username).one()
    return found


def test_the_holiday_the_story_relies_on() -> None:
    assert period_end(D(2026, 3, 20), 15)[0] == D(2026, 4, 7)  # 清明 2026: 4–6 April
    assert period_end(D(2026, 3, 2), 15)[0] == D(2026, 3, 17)
    assert period_end(D(2026, 3, 23), 80)[0] == D(2026, 6, 11)


def test_every_rate_is_the_one_counted_by_hand(session: Session) -> None:
    office(session)
    stats = compute(
        session, MARCH, today=TODAY, reader_scope=access.Scope(confidential=None, routed_department=None)
    )
    assert stats.total == 7 and stats.confidential == 1
    assert numbers(stats) == {
        "timely_acceptance": (3, 7),  # L1, L3, L8 in time; L2 late; L4, L5, L6 never forwarded
        "on_time_conclusion": (1, 2),  # L1 in time, L2 late despite its 20 days
        "extension": (1, 2),
        "review": (1, 2),
        "recheck": (1, 1),
        "repeat": (1, 7),
    }
    assert stats.satisfaction is not None
    assert {c.code: c.count for c in stats.satisfaction.by_rating} == {
        "satisfied": 1,
        "basically_satisfied": 0,
        "dissatisfied": 1,
    }
    assert (stats.satisfaction.satisfied_rate.numerator, stats.satisfaction.satisfied_rate.denominator) == (
        1,
        2,
    )
    counts = {c.code: c.count for c in stats.by_category}
    assert counts == {"appeal": 6, "accusation": 1}
    assert {c.code: c.count for c in stats.by_disposition} == {"accept": 6, "not_accepted": 1}
    assert {c.code: c.count for c in stats.by_channel} == {"ordinary": 6, "discipline": 1}
    assert {c.code: c.count for c in stats.by_state} == {
        "under_recheck": 1,
        "answered": 1,
        "not_accepted": 1,
        "decided": 3,
        "transferred": 1,
    }
    assert {c.code: c.count for c in stats.by_county} == {"A3区": 1, "K1区": 1, "A7县": 1, "未注明": 4}
    assert {c.code: c.count for c in stats.by_city} == {"A市": 2, "K市": 1, "未注明": 4}
    days = {c.code: c.count for c in stats.series_day if c.count}
    assert days == {
        "2026-03-02": 2,
        "2026-03-10": 1,
        "2026-03-16": 1,
        "2026-03-20": 1,
        "2026-03-25": 1,
        "2026-03-28": 1,
    }
    assert len(stats.series_day) == 31 and sum(c.count for c in stats.series_month) == 7
    assert sum(c.count for c in stats.series_week) == 7
    # overdue on 30 June: L1's 复核 answer, and L4, L5, L6 never forwarded
    assert stats.overdue_total == 4
    assert {c.code: c.count for c in stats.top_bodies_overdue} == {"": 3, BODY: 1}
    assert {c.name for c in stats.top_bodies_overdue} == {OFFICE_ITSELF, BODY}
    assert len(stats.overdue_cases) == 4 and stats.overdue_withheld == 0


def test_a_confidential_letter_is_counted_but_listed_only_to_who_may_open_it(session: Session) -> None:
    ids = office(session)
    analyst = statistics_for(session, user(session, ANALYST), MARCH, today=TODAY)
    supervisor = statistics_for(session, user(session, SUPERVISOR), MARCH, today=TODAY)
    from store.models import Letter

    numbers_by_id = {lid: session.get(Letter, lid).case_number for lid in ids.values()}  # type: ignore[union-attr]
    secret = numbers_by_id[ids["L5"]]
    assert analyst.total == supervisor.total == 7
    assert analyst.confidential == 1 and analyst.overdue_total == 4
    assert secret not in {c.case_number for c in analyst.overdue_cases}
    assert len(analyst.overdue_cases) == 3 and analyst.overdue_withheld == 1
    assert secret in {c.case_number for c in supervisor.overdue_cases} and supervisor.overdue_withheld == 0
    with pytest.raises(Forbidden):
        statistics_for(session, user(session, INTAKE), MARCH, today=TODAY)
    with pytest.raises(Forbidden):
        statistics_for(session, user(session, INSPECTOR), MARCH, today=TODAY)


def test_one_department_and_an_empty_period(session: Session) -> None:
    office(session)
    housing = compute(session, MARCH, department=BODY, today=TODAY)
    assert housing.total == 6 and housing.confidential == 0
    assert housing.rates["timely_acceptance"].denominator == 6
    empty = compute(session, parse_period("2025-03"), today=TODAY)
    assert empty.total == 0 and empty.satisfaction is None
    assert all(rate.denominator == 0 and rate.value is None for rate in empty.rates.values())
    assert empty.as_dict()["satisfaction_note"] == NO_SATISFACTION


def test_periods_and_their_errors() -> None:
    assert (parse_period("2019-Q3").start, parse_period("2019-Q3").end) == (D(2019, 7, 1), D(2019, 9, 30))
    assert (parse_period("2020-02").end, parse_period("2019").end) == (D(2020, 2, 29), D(2019, 12, 31))
    assert parse_period("2019-Q3").label == "2019年第3季度"
    for bad in ("2019-Q5", "2019-13", "Q3", "上月", ""):
        with pytest.raises(InvalidInput, match="统计期间"):
            parse_period(bad)
    with pytest.raises(InvalidInput, match="早于"):
        date_range(D(2020, 2, 1), D(2020, 1, 1))
    with pytest.raises(InvalidInput, match="三年"):
        date_range(D(2010, 1, 1), D(2020, 1, 1))
    with pytest.raises(InvalidInput, match="1900"):
        date_range(D(999, 1, 1), D(999, 2, 1))
    assert date_range(D(2020, 1, 1), dt.date(2020, 1, 31)).days == 31


def test_the_region_read_from_a_letter() -> None:
    assert region_of("A市A3区小区电梯", "") == ("A市", "A3区")
    assert region_of("反映问题", "地址在K市K12县幸福路") == ("K市", "K12县")
    assert region_of("B市某小区", "") == ("B市", "未注明")
    assert region_of("小区物业", "没有地名") == ("未注明", "未注明")
