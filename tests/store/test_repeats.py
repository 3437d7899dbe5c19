"""The index of petitioners and matters, the earlier letters of a letter and the "unrelated" marks,
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from store_factories import AGREE, make_letter, make_proposal, make_user

from classifier.similarity import SAME_MATTER_THRESHOLD
from store.audit import verify_chain
from store.db import (
    current_revision,
    head_revision,
    make_engine,
    make_session_factory,
    schema_differences,
    session_scope,
)
from store.errors import InvalidStateError, InvalidValueError
from store.letters import decide
from store.models import AuditEvent, CaseRecord, Letter, MatterBand, PetitionerKey, UnrelatedMark
from store.regroup import merge_letters, split_letter
from store.repeats import (
    clear_unrelated,
    earlier_letters,
    index_counts,
    index_letter,
    letters_with_earlier,
    mark_unrelated,
    reindex_all,
)

D = dt.date
NOW = dt.datetime(2026, 12, 4, 2, 0, tzinfo=dt.UTC)
ID18 = "11010519491231002X"

PARKING = (
    "A3区某小区物业违规收取停车费",
    "尊敬的领导：A3区某小区物业公司未经业主大会同意，利用小区公共道路划定车位向业主收取停车费，"
    "每月三百元，业主多次向社区反映无果。请求责令物业停止收费并退还已收费用。",
)
PARKING_AGAIN = (
    "再次反映A3区某小区物业乱收停车费",
    "上个月我反映过A3区某小区物业公司利用小区公共道路划定车位收取停车费、每月三百元的问题，"
    "至今物业仍在收费，社区也没有答复。请求责令物业停止收费并退还已收费用。",
)
SCHOOL = (
    "B区学校周边道路拥堵",
    "B区第二中学放学时段校门口车辆乱停，道路拥堵严重，学生过马路很危险，建议增设交警执勤和临时停车区。",
)
NOISE = (
    "夜间施工噪音扰民",
    "C区河西工地每天晚上十一点以后还在打桩，噪音很大，居民无法休息，请环保部门查处。",
)


def _letter(session: Session, body: tuple[str, str], received_on: dt.date, **kw: object) -> Letter:
    return make_letter(session, title=body[0], text=body[1], received_on=received_on, now=NOW, **kw)


@pytest.fixture
def officer(session: Session) -> str:
    make_user(session, "li.ming", "intake_officer")
    return "li.ming"


def test_registration_indexes_keys_and_bands(session: Session, officer: str) -> None:
    letter = _letter(
        session,
        PARKING,
        D(2026, 11, 2),
        petitioner_name="王小明先生",
        id_number=ID18,
        contact_phone="+86 138 1234 5678",
    )
    keys = session.execute(
        select(PetitionerKey.kind, PetitionerKey.value).where(PetitionerKey.letter_id == letter.id)
    ).all()
    assert sorted(tuple(k) for k in keys) == [("id", ID18), ("name", "王小明"), ("phone", "13812345678")]
    bands = session.scalar(select(func.count()).where(MatterBand.letter_id == letter.id))
    assert bands == 32
    # A letter with no usable particulars and no text has no index rows, and that is no error.
    empty = make_letter(session, title="", text="", petitioner_name="王先生", now=NOW, routed=False)
    assert session.scalar(select(func.count()).where(PetitionerKey.letter_id == empty.id)) == 0
    assert session.scalar(select(func.count()).where(MatterBand.letter_id == empty.id)) == 0


def test_earlier_letters_by_petitioner_and_by_matter_newest_first(session: Session, officer: str) -> None:
    first = _letter(session, PARKING, D(2026, 9, 1), id_number=ID18)
    other_matter_same_person = _letter(session, SCHOOL, D(2026, 10, 1), contact_phone="138-1234-5678")
    same_matter_stranger = _letter(session, PARKING_AGAIN, D(2026, 10, 15))
    same_name_other_matter = _letter(session, NOISE, D(2026, 10, 20), petitioner_name="王小明")
    unrelated = _letter(session, NOISE, D(2026, 10, 21))
    later = _letter(session, PARKING, D(2026, 11, 30), id_number=ID18)
    letter = _letter(
        session,
        PARKING_AGAIN,
        D(2026, 11, 2),
        petitioner_name="王小明",
        id_number=ID18[:6] + ID18[8:17],  # the same person's 15-digit number
        contact_phone="13812345678",
    )
    found = earlier_letters(session, letter)
    assert [e.case_number for e in found] == [
        same_matter_stranger.case_number,
        other_matter_same_person.case_number,
        first.case_number,
    ]
    by_number = {e.case_number: e for e in found}
    assert by_number[first.case_number].why == ("id", "matter")
    assert by_number[other_matter_same_person.case_number].why == ("phone",)
    assert by_number[other_matter_same_person.case_number].score < 0.2
    assert by_number[same_matter_stranger.case_number].why == ("matter",)
    assert by_number[same_matter_stranger.case_number].score == pytest.approx(1.0)
    assert by_number[first.case_number].score >= SAME_MATTER_THRESHOLD
    assert by_number[first.case_number].same_matter
    # a shared name alone, on another matter, is a stranger; a later letter is not an earlier one
    assert same_name_other_matter.case_number not in by_number
    assert unrelated.case_number not in by_number and later.case_number not in by_number
    assert [e.case_number for e in earlier_letters(session, letter, limit=1)] == [
        same_matter_stranger.case_number
    ]
    with pytest.raises(InvalidValueError, match="1 至 200"):
        earlier_letters(session, letter, limit=0)


def test_state_decision_and_scope(session: Session, officer: str) -> None:
    ordinary = _letter(session, PARKING, D(2026, 9, 1), id_number=ID18)
    decided = decide(session, ordinary.id, expected_version=2, decided_by=officer, now=NOW, **AGREE)
    accusation = _letter(
        session,
        PARKING,
        D(2026, 9, 2),
        id_number=ID18,
        proposal=make_proposal(category="accusation", channel="discipline", confidential=True),
    )
    session.add(
        CaseRecord(
            letter_id=ordinary.id,
            state="handling",
            handling_body="housing",
            decision_id=decided.id,
            updated_at=NOW,
        )
    )
    session.flush()
    letter = _letter(session, PARKING_AGAIN, D(2026, 11, 2), id_number=ID18)

    everyone = {e.case_number: e for e in earlier_letters(session, letter)}
    assert set(everyone) == {ordinary.case_number, accusation.case_number}
    assert everyone[accusation.case_number].confidential
    assert everyone[accusation.case_number].state == "registered"
    seen = everyone[ordinary.case_number]
    assert (seen.state, seen.decision_disposition, seen.decision_channel) == (
        "handling",
        "accept",
        "ordinary",
    )
    assert not seen.confidential

    # An intake officer's scope: the accusation is not there at all, not even counted.
    ordinary_only = earlier_letters(session, letter, confidential=False, routed_department=None)
    assert [e.case_number for e in ordinary_only] == [ordinary.case_number]
    assert letters_with_earlier(session, [letter], confidential=False) == {letter.id: 1}
    # A handler of another department sees nothing; of housing, the letter its body is handling.
    assert earlier_letters(session, letter, confidential=False, routed_department="education") == []
    housing = earlier_letters(session, letter, confidential=False, routed_department="housing")
    assert [e.case_number for e in housing] == [ordinary.case_number]
    # An inspector's: the accusation only.
    assert [e.case_number for e in earlier_letters(session, letter, confidential=True)] == [
        accusation.case_number
    ]


def test_unrelated_marks_are_kept_audited_and_cleared(session: Session, officer: str) -> None:
    earlier = _letter(session, PARKING, D(2026, 9, 1))
    letter = _letter(session, PARKING_AGAIN, D(2026, 11, 2))
    mark, made = mark_unrelated(session, letter, earlier, actor=officer, reason="不同小区", now=NOW)
    again, made_again = mark_unrelated(session, letter, earlier, actor=officer, reason="再标一次", now=NOW)
    assert made and not made_again and again.id == mark.id  # one standing mark per pair
    [shown] = earlier_letters(session, letter)
    assert shown.unrelated is not None and shown.unrelated.reason == "不同小区"
    assert earlier_letters(session, letter, include_unrelated=False) == []
    assert letters_with_earlier(session, [letter]) == {letter.id: 0}

    assert clear_unrelated(session, letter, earlier, actor=officer, now=NOW)
    assert not clear_unrelated(session, letter, earlier, actor=officer, now=NOW)
    [shown] = earlier_letters(session, letter)
    assert shown.unrelated is None
    row = session.scalars(select(UnrelatedMark)).one()
    assert (row.marked_by, row.cleared_by, row.reason) == (officer, officer, "不同小区")
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("letter_unrelated%")).order_by(AuditEvent.seq)
    ).all()
    assert actions == ["letter_unrelated", "letter_unrelated_cleared"]
    assert verify_chain(session) == []

    with pytest.raises(InvalidValueError, match="不能标为与自身无关"):
        mark_unrelated(session, letter, letter, actor=officer)
    with pytest.raises(InvalidValueError, match="不是 .* 的在先来信"):
        mark_unrelated(session, earlier, letter, actor=officer)
    session.add(CaseRecord(letter_id=letter.id, state="registered", linked_to_id=earlier.id, updated_at=NOW))
    session.flush()
    with pytest.raises(InvalidStateError, match="请先取消关联"):
        mark_unrelated(session, letter, earlier, actor=officer)
    [shown] = earlier_letters(session, letter)
    assert shown.linked


def test_split_and_merge_keep_the_index_current(session: Session, officer: str) -> None:
    both = _letter(session, (PARKING[0], PARKING[1] + SCHOOL[1]), D(2026, 9, 1), routed=False)
    at = len(PARKING[1])
    result = split_letter(
        session, both.id, at=at, expected_version=1, actor=officer, reason="两件事项", now=NOW
    )
    school_again = _letter(session, SCHOOL, D(2026, 11, 2))
    found = [e.case_number for e in earlier_letters(session, school_again)]
    assert result.second.case_number in found  # the split-off part is indexed under its own text
    assert result.first.case_number not in found  # and the first part no longer reads as the school

    a = _letter(session, NOISE, D(2026, 9, 3), routed=False)
    b = _letter(session, PARKING, D(2026, 9, 4), routed=False)
    merge_letters(
        session, a.id, b.id, keep_version=1, merged_version=1, actor=officer, reason="同一来信", now=NOW
    )
    parking_again = _letter(session, PARKING_AGAIN, D(2026, 11, 3))
    found = [e.case_number for e in earlier_letters(session, parking_again)]
    assert a.case_number in found  # the kept letter now holds the parking text
    assert b.case_number not in found  # the merged one is found through it, not twice
    assert session.scalar(select(func.count()).where(MatterBand.letter_id == b.id)) == 0


def test_reindex_all_rebuilds_an_emptied_index(session: Session, officer: str) -> None:
    letters = [_letter(session, body, D(2026, 9, 1 + i)) for i, body in enumerate((PARKING, SCHOOL, NOISE))]
    letter = _letter(session, PARKING_AGAIN, D(2026, 11, 2), contact_phone="0731-84567890")
    before = earlier_letters(session, letter)
    session.execute(text("DELETE FROM matter_bands"))
    session.execute(text("DELETE FROM petitioner_keys"))
    assert earlier_letters(session, letter) == []
    seen: list[int] = []
    assert reindex_all(session, batch_size=2, progress=seen.append) == 4
    assert seen == [2, 4]
    letter = session.get(Letter, letter.id)
    assert letter is not None
    assert earlier_letters(session, letter) == before
    assert index_counts(session) == {"letters": 4, "with_bands": 4, "with_keys": 1}
    index_letter(session, letters[0])  # indexing twice leaves one set of rows
    assert session.scalar(select(func.count()).where(MatterBand.letter_id == letters[0].id)) == 32


def test_the_upgrade_from_0007_keeps_letters_and_reindex_fills_the_index(db_url: str) -> None:
    from alembic import command

    from store.db import alembic_config, upgrade

    upgrade(db_url, "0007")
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO letters (id, case_number, title, text, form, received_on, source,"
                    " created_by, created_at, status, version, contact_phone) VALUES"
                    " (1, 'XF-2026-000001', :t1, :x1, 'letter', '2026-09-01', 'manual', 'intake',"
                    " '2026-09-01 08:00:00', 'pending', 1, '13812345678'),"
                    " (2, 'XF-2026-000002', :t2, :x2, 'letter', '2026-11-02', 'manual', 'intake',"
                    " '2026-11-02 08:00:00', 'pending', 1, NULL)"
                ),
                {"t1": PARKING[0], "x1": PARKING[1], "t2": PARKING_AGAIN[0], "x2": PARKING_AGAIN[1]},
            )
        upgrade(db_url)
        assert current_revision(db_url) == head_revision()
        assert schema_differences(db_url) == []
        factory = make_session_factory(engine)
        with session_scope(factory) as session:
            letter = session.get(Letter, 2)
            assert letter is not None
            assert earlier_letters(session, letter) == []  # registered before 0008: not indexed yet
            assert reindex_all(session) == 2
            assert [e.case_number for e in earlier_letters(session, letter)] == ["XF-2026-000001"]
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "0007")
            assert connection.execute(text("SELECT count(*) FROM letters")).scalar() == 2
    finally:
        engine.dispose()
    upgrade(db_url)
    assert schema_differences(db_url) == []


def test_batch_counts_are_what_each_list_holds(session: Session, officer: str) -> None:
    """``letters_with_earlier`` reads the index for many letters at once; it must count exactly
    what ``earlier_letters`` lists for each, in every scope, marks left out."""
    accusation = make_proposal(category="accusation", channel="discipline", confidential=True)
    bodies = [PARKING, SCHOOL, NOISE, PARKING_AGAIN, SCHOOL, PARKING]
    letters = [
        _letter(
            session,
            body,
            D(2026, 9, 1 + i),
            contact_phone="13812345678" if i % 2 else None,
            petitioner_name="王小明" if i % 3 == 0 else None,
            proposal=accusation if i == 1 else None,
        )
        for i, body in enumerate(bodies)
    ]
    mark_unrelated(session, letters[-1], letters[0], actor=officer)
    for scope in ({}, {"confidential": False}, {"confidential": True}, {"routed_department": "housing"}):
        counts = letters_with_earlier(session, letters, **scope)  # type: ignore[arg-type]
        for letter in letters:
            listed = earlier_letters(session, letter, limit=200, include_unrelated=False, **scope)  # type: ignore[arg-type]
            assert counts[letter.id] == len(listed), (scope, letter.case_number)
    # the last: by phone the accusation and the restated letter; the first is marked unrelated
    assert letters_with_earlier(session, letters)[letters[-1].id] == 2


def test_the_reindex_command_indexes_letters_stored_before_0008(migrated_url: str) -> None:
    from click.testing import CliRunner

    from cli.commands.letters import letters

    engine = make_engine(migrated_url)
    try:
        factory = make_session_factory(engine)
        with session_scope(factory) as session:
            make_user(session, "li.ming", "intake_officer")
            first = _letter(session, PARKING, D(2026, 9, 1), contact_phone="13812345678")
            second = _letter(session, PARKING_AGAIN, D(2026, 11, 2))
            second_id = second.id
            # as a database upgraded from 0007 has them: no index rows at all
            session.execute(text("DELETE FROM matter_bands"))
            session.execute(text("DELETE FROM petitioner_keys"))
        result = CliRunner().invoke(letters, ["reindex", "--batch-size", "1", "--database-url", migrated_url])
        assert result.exit_code == 0, result.output
        assert "已索引 2 封来信：2 封有内容特征，1 封有信访人身份信息（共 2 封）" in result.output
        with session_scope(factory) as session:
            letter = session.get(Letter, second_id)
            assert letter is not None
            assert [e.case_number for e in earlier_letters(session, letter)] == [first.case_number]
        bad = CliRunner().invoke(letters, ["reindex", "--batch-size", "0", "--database-url", migrated_url])
        assert bad.exit_code == 2
    finally:
        engine.dispose()


# Two writers on one compound's mixing plant in their own words: few 3-grams in common, one place.
PLANT = (
    "青松苑旁搅拌站噪音扰民",
    "青松苑小区东侧的混凝土搅拌站每天夜里十二点以后还在作业，大车进出轰鸣，粉尘落满阳台，"
    "老人孩子无法入睡。请环保部门依法查处，让搅拌站停止夜间生产。",
)
PLANT_OTHER_WRITER = (
    "再次投诉青松苑搅拌站",
    "青松苑边上那家搅拌站晚上一直作业，噪音和粉尘让人受不了，请环保部门依法查处。",
)


def test_a_matter_written_again_in_other_words_is_found_by_the_place_it_names(
    session: Session, officer: str
) -> None:
    from classifier.similarity import matter_bands, matter_places, matter_score

    first = _letter(session, PLANT, D(2026, 10, 8))
    for n in range(3):  # other letters that name the compound on other matters stay below the floor
        _letter(
            session, (f"青松苑车位{n}", f"青松苑的地下车位第{n}次涨价，开发商不公示成本。"), D(2026, 10, 9)
        )
    later = _letter(session, PLANT_OTHER_WRITER, D(2026, 11, 2))
    # the bands alone would not bring them together; the place does
    assert not set(matter_bands(*PLANT)) & set(matter_bands(*PLANT_OTHER_WRITER))
    assert "p1:青松苑" in matter_places(*PLANT_OTHER_WRITER)
    found = earlier_letters(session, later)
    assert [e.case_number for e in found] == [first.case_number]
    assert found[0].why == ("matter",) and found[0].shared_bands == 0
    assert found[0].score == pytest.approx(matter_score(*PLANT_OTHER_WRITER, *PLANT), abs=1e-4)
    assert letters_with_earlier(session, [later]) == {later.id: 1}


# A road and the compound beside it, each named by many other letters on other matters.
FLOODING = (
    "金桂苑门前道路积水",
    "金桂苑小区北门外的劳动东路每逢下雨便积水半米深，雨水倒灌进地下车库，业主车辆多次被淹。"
    "请市政部门尽快疏通排水管网，彻底解决积水问题。",
)
FLOODING_AGAIN = ("劳动东路排水", "劳动东路在金桂苑北门一带下雨积水，业主车辆被淹，要求彻底解决积水。")


def test_a_matter_is_found_by_the_places_it_shares_among_many_newer_letters_naming_one_of_them(
    session: Session, officer: str
) -> None:
    from classifier.similarity import matter_bands, matter_places

    first = _letter(session, FLOODING, D(2025, 6, 1))
    for n in range(60):  # newer letters on other matters, each naming only the road or the compound
        day = D(2025, 7, 1) + dt.timedelta(days=n)
        _letter(
            session,
            (f"劳动东路公交站{n}", f"劳动东路第{n}个公交站台的顶棚破损，乘客淋雨，请公交公司维修。"),
            day,
        )
        _letter(
            session,
            (f"金桂苑物业费{n}", f"金桂苑物业第{n}次上调物业费，未经业主大会表决，请住建部门核查。"),
            day,
        )
    later = _letter(session, FLOODING_AGAIN, D(2026, 11, 2))
    # no band in common: the two places are what the letters share
    assert not set(matter_bands(*FLOODING)) & set(matter_bands(*FLOODING_AGAIN))
    assert {"p1:劳动东路", "p1:金桂苑"} <= set(matter_places(*FLOODING)) & set(matter_places(*FLOODING_AGAIN))
    found = earlier_letters(session, later)
    assert [e.case_number for e in found] == [first.case_number]
    assert found[0].why == ("matter",) and found[0].same_matter
    assert letters_with_earlier(session, [later]) == {later.id: 1}


def test_the_likeliest_letters_make_a_short_list_and_it_is_read_newest_first(
    session: Session, officer: str
) -> None:
    phone = "13912345678"
    first = _letter(session, PARKING, D(2025, 3, 1), contact_phone=phone)
    # the same petitioner wrote 25 times since, on another matter
    newer = [
        _letter(session, NOISE, D(2025, 4, 1) + dt.timedelta(days=n), contact_phone=phone) for n in range(25)
    ]
    letter = _letter(session, PARKING_AGAIN, D(2026, 11, 2), contact_phone=phone)
    found = earlier_letters(session, letter, limit=20)
    assert len(found) == 20
    assert first.case_number in {e.case_number for e in found}
    assert [e.received_on for e in found] == sorted((e.received_on for e in found), reverse=True)
    # the other 19 are the newest of the petitioner's other letters
    assert {e.case_number for e in found if e.case_number != first.case_number} == {
        n.case_number for n in newer[-19:]
    }
    assert found[-1].case_number == first.case_number and found[-1].same_matter
    assert [e.case_number for e in earlier_letters(session, letter, limit=1)] == [first.case_number]
    assert letters_with_earlier(session, [letter]) == {letter.id: 26}
