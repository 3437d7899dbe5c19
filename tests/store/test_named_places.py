"""The places a letter names (``letters.named_county``, ``named_city``) are what its title and text
name, after registration, a split and a merge, and after migration 0010 fills them for letters
stored before it (SQLite and PostgreSQL). The statistics group letters by region on these columns
alone, so a stale value would count a letter in the wrong region."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session
from store_factories import make_letter, make_user

from store.db import make_engine, make_session_factory, schema_differences, session_scope, upgrade
from store.letters import named_places
from store.models import Letter
from store.regroup import merge_letters, split_letter


def stored(session: Session) -> dict[int, tuple[str | None, str | None]]:
    session.expire_all()
    return {row.id: (row.named_county, row.named_city) for row in session.scalars(select(Letter))}


def read_again(session: Session) -> dict[int, tuple[str | None, str | None]]:
    return {row.id: named_places(row.title, row.text) for row in session.scalars(select(Letter))}


def letters(session: Session) -> dict[str, int]:
    make_user(session, "officer", "intake_officer")
    titled = make_letter(session, title="A市A3区小区电梯多次故障", text="电梯坏了。", created_by="officer")
    in_text = make_letter(
        session, title="反映供暖问题", text="地址在K市K12县幸福路，供暖不热。", created_by="officer"
    )
    city_only = make_letter(session, title="B市某小区停水", text="停水三天。", created_by="officer")
    nowhere = make_letter(session, title="小区物业", text="没有地名。", created_by="officer")
    # a split: the first part keeps the title's places, the second names its own in its text
    two = make_letter(session, title="两件事", text="噪音扰民。另外C5区道路破损。", created_by="officer")
    parts = split_letter(
        session, two.id, at=5, expected_version=two.version, actor="officer", reason="两件事项"
    )
    # a merge: the kept letter names nothing until the merged text brings D市D2县
    kept = make_letter(session, title="续页", text="第一页。", created_by="officer")
    later = make_letter(session, title="续页二", text="第二页写明D市D2县。", created_by="officer")
    session.flush()
    merge_letters(
        session,
        kept.id,
        later.id,
        keep_version=kept.version,
        merged_version=later.version,
        actor="officer",
        reason="同一来信的后续页",
    )
    return {
        "titled": titled.id,
        "in_text": in_text.id,
        "city_only": city_only.id,
        "nowhere": nowhere.id,
        "first": parts.first.id,
        "second": parts.second.id,
        "kept": kept.id,
    }


def test_registration_split_and_merge_keep_the_places_the_letter_names(session: Session) -> None:
    ids = letters(session)
    kept = stored(session)
    assert kept == read_again(session)
    assert kept[ids["titled"]] == ("A3区", "A市")
    assert kept[ids["in_text"]] == ("K12县", "K市")
    assert kept[ids["city_only"]] == (None, "B市")
    assert kept[ids["nowhere"]] == (None, None)
    assert kept[ids["first"]] == (None, None) and kept[ids["second"]] == ("C5区", None)
    assert kept[ids["kept"]] == ("D2县", "D市")


def test_migration_0010_fills_the_places_of_letters_stored_before_it(db_url: str) -> None:
    from alembic import command

    from store.db import alembic_config

    upgrade(db_url)
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    try:
        with session_scope(factory) as session:
            letters(session)
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "0009")
        with engine.connect() as connection:
            before = connection.execute(text("SELECT * FROM letters ORDER BY id")).all()
        upgrade(db_url)
        assert schema_differences(db_url) == []
        with engine.connect() as connection:
            after = connection.execute(text("SELECT * FROM letters ORDER BY id")).all()
        assert [tuple(r)[: len(before[0])] for r in after] == [tuple(r) for r in before]
        with session_scope(factory) as session:
            filled = stored(session)
            assert filled == read_again(session)
            assert sum(1 for county, city in filled.values() if county or city) == 6  # the merged one too
    finally:
        engine.dispose()
