"""Statutory clocks: which route carries which clock, on which basis, and the exact day it falls on."""

from __future__ import annotations

import datetime as dt

import pytest

from routing.deadlines import (
    KNOWN_FACTS,
    add_calendar_days,
    add_working_days,
    deadlines_for,
    earliest_due,
    period_end,
)
from routing.schemas import Deadline

D = dt.date
RECEIVED = D(2026, 12, 1)


def clocks(
    channel: str,
    disposition: str,
    received_on: dt.date | None = RECEIVED,
    *,
    accepted_on: dt.date | None = None,
    facts: frozenset[str] = frozenset(),
) -> dict[str, Deadline]:
    return {
        d.code: d
        for d in deadlines_for(channel, disposition, received_on, accepted_on=accepted_on, facts=facts)
    }


# ------------------------------------------------------------------------------ counting days


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (D(2026, 12, 1), 5, D(2026, 12, 8)),  # Tue -> next Tue over a weekend
        # National Day 2026: 1-7 October off, Saturday 10 October a make-up working day
        (D(2026, 9, 30), 5, D(2026, 10, 13)),
        (D(2026, 2, 13), 1, D(2026, 2, 14)),  # Saturday 14 February 2026 is a make-up day
        # Spring Festival 2025: 28 Jan - 4 Feb off; Sunday 26 Jan and Saturday 8 Feb are working days
        (D(2025, 1, 24), 5, D(2025, 2, 7)),  # Sun 26 (1), Mon 27 (2), Wed 5 (3), Thu 6 (4), Fri 7 (5)
        (D(2025, 2, 5), 5, D(2025, 2, 11)),  # Thu 6, Fri 7, Sat 8 (make-up, 3), Mon 10, Tue 11
        # National Day 2024: 1-7 Oct off; Sunday 29 Sep and Saturday 12 Oct are working days
        (D(2024, 9, 27), 5, D(2024, 10, 10)),  # Sun 29 (1), Mon 30 (2), Tue 8, Wed 9, Thu 10
        (D(2024, 10, 9), 5, D(2024, 10, 15)),  # Thu 10, Fri 11, Sat 12 (make-up, 3), Mon 14, Tue 15
    ],
    ids=["weekend", "national-day-2026", "make-up-day", "spring-2025-in", "spring-2025-out",
         "national-day-2024-in", "national-day-2024-out"],
)  # fmt: skip
def test_working_days_follow_the_official_calendar(start: dt.date, days: int, due: dt.date) -> None:
    assert add_working_days(start, days) == (due, None)


def test_an_unpublished_year_falls_back_to_weekdays_and_says_so() -> None:
    due, note = add_working_days(D(2027, 3, 1), 5)
    assert due == D(2027, 3, 8)
    assert note is not None and "2027" in note


def test_calendar_days_do_not_count_the_first_day() -> None:
    assert add_calendar_days(D(2026, 12, 1), 15) == D(2026, 12, 16)
    assert period_end(D(2026, 12, 1), 15) == (D(2026, 12, 16), None)


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # 民法典第二百零三条: a last day on a 法定休假日 moves to the day after the holiday ends
        (D(2025, 1, 17), 15, D(2025, 2, 5)),  # day 15 = Sat 1 Feb, inside the Spring Festival break
        (D(2024, 12, 1), 60, D(2025, 2, 5)),  # day 60 = Thu 30 Jan, inside the Spring Festival break
        (D(2024, 9, 18), 15, D(2024, 10, 8)),  # day 15 = Thu 3 Oct, National Day
        (D(2024, 8, 5), 60, D(2024, 10, 8)),  # day 60 = Fri 4 Oct, National Day
        (D(2026, 12, 4), 15, D(2026, 12, 21)),  # day 15 = Saturday, a weekly rest day -> Monday
    ],
    ids=["spring-15", "spring-60", "national-15", "national-60", "weekend"],
)
def test_a_period_ending_on_a_holiday_ends_on_the_next_working_day(
    start: dt.date, days: int, due: dt.date
) -> None:
    end, note = period_end(start, days)
    assert end == due
    raw = add_calendar_days(start, days)
    assert note is not None and raw.isoformat() in note and "民法典》第二百零三条" in note


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (D(2025, 1, 11), D(2025, 1, 26)),  # Sunday 26 Jan 2025, a make-up working day
        (D(2025, 1, 24), D(2025, 2, 8)),  # Saturday 8 Feb 2025, a make-up working day
        (D(2024, 9, 14), D(2024, 9, 29)),  # Sunday 29 Sep 2024, a make-up working day
        (D(2024, 9, 27), D(2024, 10, 12)),  # Saturday 12 Oct 2024, a make-up working day
    ],
)
def test_a_period_ending_on_a_make_up_working_day_is_not_extended(start: dt.date, due: dt.date) -> None:
    assert period_end(start, 15) == (due, None)


def test_a_period_ending_in_an_unpublished_year_moves_off_the_weekend_and_says_so() -> None:
    end, note = period_end(D(2026, 12, 26), 15)  # 10 January 2027 is a Sunday
    assert end == D(2027, 1, 11)
    assert note is not None and "2027年" in note and "第二百零三条" in note


# ------------------------------------------------------------- 第二十二条, 第二十三条: receipt clocks


def test_ordinary_letter_gets_forwarding_notice_and_objection_clocks() -> None:
    c = clocks("ordinary", "accept", D(2026, 12, 1))
    assert list(c)[:3] == ["notify_acceptance", "forward", "object_to_misrouting"]
    assert (c["forward"].basis, c["forward"].days, c["forward"].due) == (
        "第二十二条第一款",
        15,
        D(2026, 12, 16),
    )
    assert (c["notify_acceptance"].basis, c["notify_acceptance"].due) == (
        "第二十三条第二款、第三款",
        D(2026, 12, 16),
    )
    assert "住址不清的除外" in c["notify_acceptance"].label
    assert (c["object_to_misrouting"].basis, c["object_to_misrouting"].unit) == (
        "第二十三条第三款",
        "working_days",
    )
    assert c["object_to_misrouting"].due == D(2026, 12, 8)


def test_receipt_clocks_across_the_spring_festival() -> None:
    c = clocks("ordinary", "accept", D(2025, 1, 17))
    assert c["forward"].due == c["notify_acceptance"].due == D(2025, 2, 5)
    assert c["forward"].calendar_note and "2025-02-01" in c["forward"].calendar_note
    assert c["object_to_misrouting"].due == D(2025, 1, 24)  # Mon 20 .. Fri 24 January
    later = clocks("ordinary", "accept", D(2025, 1, 24))
    assert later["object_to_misrouting"].due == D(2025, 2, 7)  # Sun 26 (make-up), Mon 27, Wed 5 .. Fri 7
    assert later["forward"].due == later["notify_acceptance"].due == D(2025, 2, 8)  # a make-up Saturday
    assert later["forward"].calendar_note is None


def test_receipt_clocks_across_national_day() -> None:
    c = clocks("suggestion", "accept", D(2024, 9, 18))
    assert c["forward"].due == c["notify_acceptance"].due == D(2024, 10, 8)
    # Thu 19, Fri 20, Mon 23, Tue 24, Wed 25 September
    assert c["object_to_misrouting"].due == D(2024, 9, 25)


@pytest.mark.parametrize(("channel", "disposition"), [("litigation", "redirect"), ("discipline", "accept")])
def test_politics_law_and_discipline_routes_lose_only_the_notice(channel: str, disposition: str) -> None:
    """第二十三条第四款 takes out the 15-day notice for these routes; 转送 and 异议 remain."""
    c = clocks(channel, disposition, D(2025, 1, 17))
    assert "notify_acceptance" not in c
    assert c["forward"].basis.startswith("第二十二条第二款") and c["forward"].due == D(2025, 2, 5)
    assert c["forward"].calendar_note and "第二十三条第四款" in c["forward"].calendar_note
    assert c["object_to_misrouting"].due == D(2025, 1, 24)


def test_redirected_routes_keep_the_notice() -> None:
    for channel in ("arbitration", "administrative_review", "personnel_appeal"):
        c = clocks(channel, "redirect", D(2024, 9, 18))
        assert c["notify_acceptance"].due == c["forward"].due == D(2024, 10, 8), channel
        assert c["forward"].basis == "第二十二条第一款"


def test_a_refused_letter_is_told_but_not_forwarded() -> None:
    """不予受理/不再受理: the office's own notice stays (no 政法部门 gives it); nothing is forwarded."""
    for channel, disposition in [("litigation", "not_accepted"), ("litigation", "no_longer_accepted"),
                                 ("ordinary", "not_accepted")]:  # fmt: skip
        c = clocks(channel, disposition, D(2026, 12, 1))
        assert list(c) == ["notify_acceptance"], (channel, disposition)
        assert c["notify_acceptance"].due == D(2026, 12, 16)


# ------------------------------------------------------------------------ 第二十五条: urgent report


def test_urgent_letters_are_reported_the_day_they_arrive_even_on_a_holiday() -> None:
    c = clocks("ordinary", "accept", D(2025, 1, 29), facts=frozenset({"urgent"}))
    report = c["report_urgent"]
    assert list(c)[0] == "report_urgent"
    assert report.basis == "第二十五条第一款、第二款" and "国家信访局" in report.label
    assert report.due == D(2025, 1, 29)  # inside the Spring Festival break: no postponement
    assert clocks("litigation", "not_accepted", D(2025, 1, 29), facts=frozenset({"self_harm_or_violence"}))[
        "report_urgent"
    ].due == D(2025, 1, 29)
    assert "report_urgent" not in clocks("ordinary", "accept", D(2025, 1, 29))


# ------------------------------------------------------------------- 第三十四条: 60 days from 受理


def test_the_60_day_clock_runs_from_acceptance() -> None:
    pending = clocks("ordinary", "accept", D(2026, 12, 1))
    assert pending["conclude"].due is None and pending["conclude"].extension_days == 30
    accepted = clocks("ordinary", "accept", D(2026, 12, 1), accepted_on=D(2026, 12, 5))
    assert accepted["conclude"].basis == "第三十四条" and accepted["conclude"].due == D(2027, 2, 3)
    assert accepted["conclude"].calendar_note and "2027" in accepted["conclude"].calendar_note


@pytest.mark.parametrize(
    ("accepted_on", "due"),
    [(D(2024, 12, 1), D(2025, 2, 5)), (D(2024, 8, 5), D(2024, 10, 8)), (D(2025, 3, 1), D(2025, 4, 30))],
    ids=["spring-festival", "national-day", "plain"],
)
def test_the_60_day_clock_skips_the_holiday_it_ends_in(accepted_on: dt.date, due: dt.date) -> None:
    assert (
        clocks("ordinary", "accept", accepted_on - dt.timedelta(days=3), accepted_on=accepted_on)[
            "conclude"
        ].due
        == due
    )


def test_only_ordinary_matters_have_the_60_day_clock() -> None:
    for channel in ("duty_request", "suggestion", "discipline"):
        assert "conclude" not in clocks(channel, "accept", accepted_on=D(2026, 12, 5)), channel


def test_the_positional_form_still_works_and_accepted_on_is_keyword_only() -> None:
    assert deadlines_for("ordinary", "accept", D(2026, 12, 1)) == deadlines_for(
        "ordinary", "accept", D(2026, 12, 1), accepted_on=None, facts=frozenset()
    )
    with pytest.raises(TypeError):
        deadlines_for("ordinary", "accept", D(2026, 12, 1), D(2026, 12, 5))  # type: ignore[misc]


def test_every_fact_the_fact_layer_gives_is_accepted() -> None:
    from classifier.facts import FACT_TAGS, LETTER_HEADS

    assert set(FACT_TAGS) | set(LETTER_HEADS) <= KNOWN_FACTS
    assert deadlines_for("ordinary", "accept", RECEIVED, facts=frozenset(FACT_TAGS) | set(LETTER_HEADS))


def test_unknown_fact_tags_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fact tag.*arbitration-done"):
        deadlines_for("arbitration", "redirect", D(2026, 12, 1), facts=frozenset({"arbitration-done"}))


# ------------------------------------------------------------------------- the remedies' own limits


def test_administrative_act_not_yet_reviewed() -> None:
    c = clocks("administrative_review", "redirect")
    assert list(c) == [
        "notify_acceptance",
        "forward",
        "object_to_misrouting",
        "administrative_review_limit",
        "administrative_litigation_limit",
    ]
    assert (c["administrative_review_limit"].basis, c["administrative_review_limit"].days) == (
        "《行政复议法》第二十条",
        60,
    )
    assert (c["administrative_litigation_limit"].basis, c["administrative_litigation_limit"].unit) == (
        "《行政诉讼法》第四十六条",
        "months",
    )
    assert c["administrative_litigation_limit"].days == 6


def test_after_administrative_review_the_remedy_is_suit_within_15_days() -> None:
    c = clocks("administrative_review", "redirect", facts=frozenset({"admin_decision", "review_done"}))
    assert "administrative_review_limit" not in c and "administrative_litigation_limit" not in c
    suit = c["litigation_after_review_limit"]
    assert (suit.basis, suit.days, suit.unit) == ("《行政诉讼法》第四十五条", 15, "calendar_days")
    assert "复议决定书" in suit.starts and suit.due is None


def test_no_arbitration_limit_once_arbitration_was_sought() -> None:
    c = clocks("arbitration", "redirect", facts=frozenset({"labour_dispute", "arbitration_done"}))
    assert not [code for code in c if code.endswith("arbitration_limit")]


def test_the_arbitration_limit_follows_the_kind_of_dispute() -> None:
    labour = clocks("arbitration", "redirect", facts=frozenset({"labour_dispute"}))[
        "labour_arbitration_limit"
    ]
    assert (labour.basis, labour.days, labour.unit, labour.calendar_note) == (
        "《劳动争议调解仲裁法》第二十七条",
        12,
        "months",
        None,
    )
    land = clocks("arbitration", "redirect", facts=frozenset({"land_contract_dispute"}))
    assert "labour_arbitration_limit" not in land
    assert (land["land_contract_arbitration_limit"].basis, land["land_contract_arbitration_limit"].days) == (
        "《农村土地承包经营纠纷调解仲裁法》第十八条",
        24,
    )
    unsure = clocks("arbitration", "redirect")["labour_arbitration_limit"]
    assert unsure.calendar_note and "劳动人事争议" in unsure.calendar_note


def test_the_personnel_limit_names_the_civil_servants_it_binds_and_not_party_members() -> None:
    c = clocks("personnel_appeal", "redirect", facts=frozenset({"sanction_self"}))
    limit = c["personnel_appeal_limit"]
    assert (limit.basis, limit.days) == ("《公务员法》第九十五条", 30)
    assert limit.label.startswith("公务员")
    assert limit.calendar_note and "党员" in limit.calendar_note and "不适用" in limit.calendar_note


def test_the_duty_reply_remedy_rests_on_the_administrative_review_law() -> None:
    remedy = clocks("duty_request", "accept")["duty_reply_remedy"]
    assert (remedy.basis, remedy.days) == ("《行政复议法》第二十条", 60)
    assert "第三十一条第五项" in remedy.label and "《行政诉讼法》第四十六条" in remedy.label


def test_no_remedy_after_no_longer_accepted() -> None:
    assert list(clocks("administrative_review", "no_longer_accepted")) == ["notify_acceptance"]


def test_earliest_due() -> None:
    assert earliest_due(deadlines_for("ordinary", "accept", D(2026, 12, 1))) == D(2026, 12, 8)
    assert earliest_due(deadlines_for("discipline", "accept", None)) is None
