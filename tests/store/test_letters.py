"""Letters, proposals, decisions, the queue and the training labels."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from store_factories import AGREE, make_letter, make_proposal, make_user

from store.errors import (
    AppendOnlyError,
    ConflictError,
    InvalidStateError,
    InvalidValueError,
    NotFoundError,
    ReasonRequiredError,
)
from store.letters import (
    CHINA_TZ,
    add_proposal,
    create_letter,
    decide,
    decisions_for_training,
    get_letter,
    get_letter_by_case_number,
    latest_decision,
    latest_proposal,
    list_queue,
)
from store.models import Decision, Proposal

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def officer(session: Session) -> str:
    return make_user(session).username


def test_case_numbers_follow_the_year_in_china(session: Session, officer: str) -> None:
    first = create_letter(session, title="a", text="x", created_by=officer, now=NOW)
    second = create_letter(session, title="b", text="y", created_by=officer, now=NOW)
    # 2026-12-31 17:00 UTC is already 2027-01-01 in China: a new year. (What the digits may say:
    # tests/store/test_case_numbers.py.)
    new_year = create_letter(
        session, title="c", text="z", created_by=officer, now=dt.datetime(2026, 12, 31, 17, 0, tzinfo=dt.UTC)
    )
    assert [c.case_number[:8] for c in (first, second, new_year)] == ["XF-2026-", "XF-2026-", "XF-2027-"]
    assert first.case_number != second.case_number
    assert first.received_on == NOW.astimezone(CHINA_TZ).date()
    assert (first.status, first.version, first.source) == ("pending", 1, "manual")


def test_letter_keeps_its_particulars(session: Session, officer: str) -> None:
    letter = create_letter(
        session,
        title="征地补偿",
        text="村里征地补偿款未发放",
        created_by=officer,
        form="visit",
        visitors=3,
        received_on=dt.date(2026, 3, 1),
        petitioner_name=" 王五 ",
        address="河北省石家庄市长安区建设路8号",
        contact_phone="13912345678",
        id_number="13010219800101123x",
        request="发放补偿款",
        facts="",
        now=NOW,
    )
    session.commit()
    session.expire_all()
    loaded = get_letter_by_case_number(session, letter.case_number)
    assert loaded.petitioner_name == "王五"
    assert loaded.id_number == "13010219800101123X"
    assert loaded.facts is None  # empty strings are stored as "not given"
    assert (loaded.form, loaded.visitors, loaded.received_on) == ("visit", 3, dt.date(2026, 3, 1))
    assert loaded.created_at == NOW and loaded.created_at.tzinfo is not None


# fmt: off
BAD_LETTERS = [
    ({"form": "fax"}, "来信形式“fax”不是可选的值；可选：来信（letter）、网上信访（online）、来访（visit）"),
    ({"source": "email"}, "来源“email”不是可选的值"),
    ({"received_on": dt.date(2026, 3, 9)}, "收到日期 2026-03-09 晚于今天"),
    ({"visitors": 0}, "来访人数至少为 1"),
    ({"id_number": "12345"}, "身份证号码“12345”不是居民身份证号码"),
    ({"contact_phone": "call me"}, "联系电话“call me”不是电话号码"),
    ({"title": "长" * 501}, "标题有 501 字"),
    ({"created_by": " "}, "created_by is empty"),
    ({"source_part": 1}, "source_part is set but source_file_id is not"),
]
# fmt: on


@pytest.mark.parametrize(("changes", "message"), BAD_LETTERS, ids=[next(iter(c)) for c, _ in BAD_LETTERS])
def test_bad_letters_are_refused_and_nothing_is_stored(
    session: Session, officer: str, changes: dict[str, object], message: str
) -> None:
    fields: dict[str, object] = {"title": "t", "text": "x", "created_by": officer, "now": NOW} | changes
    with pytest.raises(InvalidValueError, match=message.replace("(", r"\(")):
        create_letter(session, **fields)  # type: ignore[arg-type]
    assert session.scalar(text("SELECT count(*) FROM letters")) == 0


def test_unknown_letter_and_case_number(session: Session) -> None:
    with pytest.raises(NotFoundError, match="letter 99 does not exist"):
        get_letter(session, 99)
    with pytest.raises(NotFoundError, match=r"案件编号形如 XF-2026-000123"):
        get_letter_by_case_number(session, "2026-1")


def test_proposal_round_trips_and_bumps_the_version(session: Session, officer: str) -> None:
    letter = make_letter(session, routed=False)
    proposal = make_proposal(urgent=True, due=dt.date(2026, 3, 16), letter_id=None)
    row = add_proposal(session, letter.id, proposal)
    session.commit()
    session.expire_all()
    stored = latest_proposal(session, letter.id)
    assert stored is not None and stored.id == row.id
    assert stored.route_proposal() == proposal
    assert (stored.category, stored.department, stored.urgent, stored.earliest_due) == (
        "appeal",
        "housing",
        True,
        dt.date(2026, 3, 16),
    )
    assert get_letter(session, letter.id).version == 2


def test_a_new_proposal_keeps_the_old_one(session: Session, officer: str) -> None:
    letter = make_letter(session)
    add_proposal(session, letter.id, make_proposal(category="suggestion", channel="suggestion"))
    rows = session.scalars(
        select(Proposal).where(Proposal.letter_id == letter.id).order_by(Proposal.id)
    ).all()
    assert [r.category for r in rows] == ["appeal", "suggestion"]
    newest = latest_proposal(session, letter.id)
    assert newest is not None and newest.category == "suggestion"


def test_proposal_for_another_letter_is_refused(session: Session, officer: str) -> None:
    letter = make_letter(session, routed=False)
    with pytest.raises(InvalidValueError, match="the proposal is for letter 'XF-1999-000001'"):
        add_proposal(session, letter.id, make_proposal(letter_id="XF-1999-000001"))
    add_proposal(session, letter.id, make_proposal(letter_id=letter.case_number))  # its own number is fine


def test_confirming_the_proposal(session: Session, officer: str) -> None:
    letter = make_letter(session)
    decision = decide(session, letter.id, expected_version=2, decided_by=officer, now=NOW, **AGREE)
    assert decision.agreed_with_proposal is True
    assert decision.changed_fields == []
    assert decision.reason is None
    assert decision.letter_version == 3
    letter = get_letter(session, letter.id)
    assert (letter.status, letter.version) == ("decided", 3)


def test_correcting_the_proposal_needs_a_reason(session: Session, officer: str) -> None:
    letter = make_letter(session)
    changed = AGREE | {"department": "urban_management", "channel": "duty_request"}
    with pytest.raises(ReasonRequiredError, match="承办部门由“housing”改为“urban_management”；处理途径由"):
        decide(session, letter.id, expected_version=2, decided_by=officer, reason="  ", **changed)
    # the refusal left the letter as it was
    assert get_letter(session, letter.id).version == 2
    decision = decide(
        session,
        letter.id,
        expected_version=2,
        decided_by=officer,
        reason="违建属城管职责",
        comment="已电话核实",
        **changed,
    )
    assert decision.agreed_with_proposal is False
    assert decision.changed_fields == ["department", "channel"]
    proposal = latest_proposal(session, letter.id)
    assert proposal is not None and proposal.department == "housing"  # the proposal is never overwritten


def test_the_database_refuses_a_changed_decision_without_reason(session: Session, officer: str) -> None:
    letter = make_letter(session)
    proposal = latest_proposal(session, letter.id)
    assert proposal is not None
    session.add(
        Decision(
            letter_id=letter.id,
            proposal_id=proposal.id,
            decided_by=officer,
            decided_at=NOW,
            agreed_with_proposal=False,
            changed_fields=["category"],
            letter_version=3,
            **(AGREE | {"category": "suggestion"}),
        )
    )
    with pytest.raises(IntegrityError, match="reason_when_changed"):
        session.flush()


def test_a_stale_version_conflicts(session: Session, officer: str) -> None:
    letter = make_letter(session)
    decide(session, letter.id, expected_version=2, decided_by=officer, **AGREE)
    with pytest.raises(ConflictError, match="you read version 2, it is now version 3") as info:
        decide(session, letter.id, expected_version=2, decided_by=officer, reason="again", **AGREE)
    assert (info.value.expected_version, info.value.current_version) == (2, 3)
    assert session.scalar(select(text("count(*)")).select_from(Decision)) == 1


def test_a_new_proposal_makes_an_open_decision_conflict(session: Session, officer: str) -> None:
    letter = make_letter(session)
    seen = get_letter(session, letter.id).version
    add_proposal(session, letter.id, make_proposal(category="accusation", channel="discipline"))
    with pytest.raises(ConflictError):
        decide(session, letter.id, expected_version=seen, decided_by=officer, **AGREE)


def test_a_correction_supersedes_and_needs_a_reason(session: Session, officer: str) -> None:
    make_user(session, "zhao.lei", role="supervisor", display_name="赵磊")
    letter = make_letter(session)
    first = decide(session, letter.id, expected_version=2, decided_by=officer, **AGREE)
    with pytest.raises(ReasonRequiredError, match="已由.*确认过，更正确认结果必须填写理由"):
        decide(session, letter.id, expected_version=3, decided_by="zhao.lei", **AGREE)
    second = decide(
        session,
        letter.id,
        expected_version=3,
        decided_by="zhao.lei",
        reason="复核：应为建议类",
        **(AGREE | {"category": "suggestion", "channel": "suggestion"}),
    )
    assert second.supersedes_id == first.id
    latest = latest_decision(session, letter.id)
    assert latest is not None and latest.id == second.id


# fmt: off
BAD_DECISIONS = [
    ({"category": "complaint"}, "类别“complaint”不是可选的值；可选：申诉求决类（appeal）、意见建议类"),
    ({"channel": "court"}, "处理途径“court”不是可选的值"),
    ({"disposition": "ignore"}, "处理方式“ignore”不是可选的值"),
    ({"domain": "外星事务"}, "领域“外星事务”不是可选的值"),
    ({"department": "moon_office"}, "承办部门“moon_office”不是可选的值；可选：housing、urban_"),
]
# fmt: on


@pytest.mark.parametrize(("changes", "message"), BAD_DECISIONS, ids=[next(iter(c)) for c, _ in BAD_DECISIONS])
def test_unknown_codes_are_refused(
    session: Session, officer: str, changes: dict[str, str], message: str
) -> None:
    letter = make_letter(session)
    with pytest.raises(InvalidValueError, match=message):
        decide(
            session,
            letter.id,
            expected_version=2,
            decided_by=officer,
            reason="r",
            department_codes=("housing", "urban_management"),
            **(AGREE | changes),
        )
    assert get_letter(session, letter.id).status == "pending"


def test_decide_needs_a_real_active_user_and_a_proposal(session: Session, officer: str) -> None:
    letter = make_letter(session)
    with pytest.raises(NotFoundError, match="账户“ghost”不存在"):
        decide(session, letter.id, expected_version=2, decided_by="ghost", **AGREE)
    make_user(session, "old.hand", display_name="老手").active = False
    with pytest.raises(InvalidStateError, match="账户“old.hand”已停用"):
        decide(session, letter.id, expected_version=2, decided_by="old.hand", **AGREE)
    unrouted = make_letter(session, routed=False)
    with pytest.raises(InvalidValueError, match="还没有办理建议"):
        decide(session, unrouted.id, expected_version=1, decided_by=officer, **AGREE)
    with pytest.raises(NotFoundError, match="内部编号 999）不存在"):
        decide(session, 999, expected_version=1, decided_by=officer, **AGREE)
    proposal = latest_proposal(session, letter.id)
    assert proposal is not None
    add_proposal(session, letter.id, make_proposal())
    with pytest.raises(InvalidValueError, match=f"您看到的是第 {proposal.id} 号建议"):
        decide(session, letter.id, expected_version=3, decided_by=officer, proposal_id=proposal.id, **AGREE)


def test_history_rows_cannot_be_changed_through_the_orm(session: Session, officer: str) -> None:
    letter = make_letter(session)
    decision = decide(session, letter.id, expected_version=2, decided_by=officer, **AGREE)
    session.commit()
    decision.category = "suggestion"
    with pytest.raises(AppendOnlyError, match="Decision rows are append-only"):
        session.flush()
    session.rollback()
    proposal = latest_proposal(session, letter.id)
    session.delete(proposal)
    with pytest.raises(AppendOnlyError, match="Proposal rows are append-only"):
        session.flush()


@pytest.mark.parametrize("table", ["proposals", "decisions", "audit_events"])
def test_history_rows_cannot_be_changed_with_sql(session: Session, officer: str, table: str) -> None:
    letter = make_letter(session)
    decide(session, letter.id, expected_version=2, decided_by=officer, **AGREE)
    session.commit()
    with pytest.raises(IntegrityError, match="append-only"):
        session.execute(text(f"DELETE FROM {table}"))
    session.rollback()
    column = "actor" if table == "audit_events" else "letter_id"
    value = "'x'" if table == "audit_events" else "letter_id"
    with pytest.raises(IntegrityError, match="append-only"):
        session.execute(text(f"UPDATE {table} SET {column} = {value}"))


def test_training_labels_come_from_decisions_only(session: Session, officer: str) -> None:
    make_user(session, "zhao.lei", role="supervisor", display_name="赵磊")
    confirmed = make_letter(session, title="确认")
    corrected = make_letter(session, title="纠正")
    make_letter(session, title="只有提议")  # never decided: no label
    decide(session, confirmed.id, expected_version=2, decided_by=officer, **AGREE)
    decide(
        session,
        corrected.id,
        expected_version=2,
        decided_by=officer,
        reason="城管职责",
        **(AGREE | {"department": "urban_management"}),
    )
    decide(
        session,
        corrected.id,
        expected_version=3,
        decided_by="zhao.lei",
        reason="复核为自然资源",
        **(AGREE | {"department": "natural_resources", "domain": "城乡建设"}),
    )
    labels = decisions_for_training(session)
    assert [label.title for label in labels] == ["确认", "纠正"]
    assert labels[0].labels() == AGREE and labels[0].agreed_with_proposal and not labels[0].corrected
    # the correction outranks the first decision, and neither is the proposal's "housing"
    assert labels[1].department == "natural_resources"
    assert labels[1].decided_by == "zhao.lei" and labels[1].corrected
    assert labels[1].text.startswith("我们小区")


def test_training_labels_by_decision_time(session: Session, officer: str) -> None:
    early, late = make_letter(session), make_letter(session)
    decide(session, early.id, expected_version=2, decided_by=officer, now=NOW, **AGREE)
    decide(session, late.id, expected_version=2, decided_by=officer, now=NOW + dt.timedelta(days=2), **AGREE)
    after = decisions_for_training(session, decided_after=NOW + dt.timedelta(days=1))
    before = decisions_for_training(session, decided_before=NOW + dt.timedelta(days=1))
    assert [x.letter_id for x in after] == [late.id]
    assert [x.letter_id for x in before] == [early.id]


def test_queue_order_filters_and_counts(session: Session, officer: str) -> None:
    today = dt.date(2026, 3, 20)
    calm = make_letter(
        session,
        title="平常",
        proposal=make_proposal(due=dt.date(2026, 4, 1)),
        received_on=dt.date(2026, 3, 1),
    )
    late = make_letter(
        session, title="超期", proposal=make_proposal(due=dt.date(2026, 3, 10), needs_review=True)
    )
    urgent = make_letter(session, title="紧急", proposal=make_proposal(urgent=True, due=dt.date(2026, 4, 5)))
    secret = make_letter(
        session,
        title="举报",
        form="online",
        proposal=make_proposal(
            category="accusation", channel="discipline", department="public_security", confidential=True
        ),
    )
    unrouted = make_letter(session, title="未路由", routed=False)
    done = make_letter(session, title="已办")
    decide(session, done.id, expected_version=2, decided_by=officer, **AGREE)

    page = list_queue(session, today=today)
    assert [i.title for i in page.items] == ["紧急", "超期", "平常", "举报", "未路由"]
    assert page.count == 5
    assert page.counts == {
        "urgent": 1,
        "needs_review": 1,
        "overdue": 1,
        "confidential": 1,
        "pending": 5,
        "decided": 0,
    }
    by_title = {i.title: i for i in page.items}
    assert by_title["超期"].overdue and not by_title["平常"].overdue
    assert by_title["未路由"].proposal_id is None and by_title["未路由"].category is None

    def titles(**filters: object) -> list[str]:
        return [i.title for i in list_queue(session, today=today, **filters).items]  # type: ignore[arg-type]

    assert titles(overdue=True) == ["超期"]
    assert titles(needs_review=True) == ["超期"]
    assert titles(form="online") == ["举报"]
    assert titles(category="accusation") == ["举报"]
    assert titles(confidential=False) == ["紧急", "超期", "平常"]
    assert titles(department="housing", urgent=False) == ["超期", "平常"]
    assert titles(status="decided") == ["已办"]
    assert titles(status=None) == ["紧急", "超期", "平常", "举报", "未路由", "已办"]
    second = list_queue(session, today=today, limit=2, offset=2)
    assert [i.title for i in second.items] == ["平常", "举报"] and second.count == 5
    assert {calm.id, late.id, urgent.id, secret.id, unrouted.id} == {i.letter_id for i in page.items}


# fmt: off
BAD_QUEUE = [
    ({"form": "fax"}, "来信形式“fax”不是可选的值"),
    ({"status": "closed"}, "状态“closed”不是可选的值；可选：待处理（pending）、已确认（decided）"),
    ({"category": "x"}, "类别“x”不是可选的值"),
    ({"limit": 0}, r"每页件数（limit）须在 1 到 500 之间，收到的是 0"),
    ({"offset": -1}, "起始位置（offset）不能为负数"),
]
# fmt: on


@pytest.mark.parametrize(("filters", "message"), BAD_QUEUE, ids=[next(iter(f)) for f, _ in BAD_QUEUE])
def test_queue_refuses_bad_filters(session: Session, filters: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        list_queue(session, **filters)  # type: ignore[arg-type]
