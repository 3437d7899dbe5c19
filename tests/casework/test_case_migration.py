"""Migration 0007 on a database in use: every letter, proposal, decision and audit row of 0006 is
kept, the decided letters start their case life decided, and the schema matches the models."""

from __future__ import annotations

from casework_office import HANDLER, INTAKE, D, officers, routed_letter, step
from sqlalchemy import text

from casework.cases import case_of
from casework.states import CaseState, Step
from store.audit import verify_chain
from store.db import (
    current_revision,
    head_revision,
    make_engine,
    make_session_factory,
    schema_differences,
    session_scope,
    upgrade,
)

_TABLES = ("letters", "proposals", "decisions", "audit_events", "users")


def _rows(
    url: str, like: dict[str, list[tuple[object, ...]]] | None = None
) -> dict[str, list[tuple[object, ...]]]:
    """Every row of 0006's tables; with ``like``, only the columns its rows have (later revisions
    add columns to some of these tables)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = {
                table: [tuple(r) for r in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
                for table in _TABLES
            }
    finally:
        engine.dispose()
    if like is None:
        return rows
    return {t: [r[: len(like[t][0])] if like[t] else r for r in found] for t, found in rows.items()}


def test_the_upgrade_from_0006_keeps_every_row_and_starts_decided_letters_decided(db_url: str) -> None:
    from alembic import command

    from store.db import alembic_config

    # The rows are written by today's store, which writes columns later revisions added, then the
    # database is taken down to 0006: its tables only, the store's letters, proposals, decisions
    # and audit events.
    upgrade(db_url)
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    try:
        with session_scope(factory) as session:
            officers(session)
            decided_id = routed_letter(session, D(2026, 3, 2)).id
            pending_id = routed_letter(session, D(2026, 3, 2), decided=False).id
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "0006")
    finally:
        engine.dispose()
    before = _rows(db_url)
    assert len(before["letters"]) == 2 and len(before["decisions"]) == 1 and len(before["audit_events"]) >= 9

    upgrade(db_url)
    assert current_revision(db_url) == head_revision()
    assert schema_differences(db_url) == []
    assert _rows(db_url, like=before) == before

    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    try:
        with session_scope(factory) as session:
            assert verify_chain(session) == []
            assert case_of(session, decided_id).state == CaseState.decided
            assert case_of(session, pending_id).state == CaseState.registered
            # and the case goes on from there
            step(session, INTAKE, decided_id, Step.transfer, D(2026, 3, 3), document_no="某区信转〔2026〕1号")
            view = step(session, HANDLER, decided_id, Step.receive, D(2026, 3, 4))
            assert view.state == CaseState.received
            assert verify_chain(session) == []
    finally:
        engine.dispose()
    after = _rows(db_url)
    # the letter's version rose with its two steps; nothing else of 0006's rows changed
    assert after["proposals"] == before["proposals"] and after["decisions"] == before["decisions"]
    assert after["audit_events"][: len(before["audit_events"])] == before["audit_events"]


def test_the_downgrade_to_0006_drops_the_case_tables_and_keeps_the_rest(db_url: str) -> None:
    from alembic import command

    from store.db import alembic_config

    upgrade(db_url)
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    try:
        with session_scope(factory) as session:
            officers(session)
            letter = routed_letter(session, D(2026, 3, 2))
            step(session, INTAKE, letter, Step.transfer, D(2026, 3, 3), document_no="某区信转〔2026〕1号")
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "0006")
        with engine.connect() as connection:
            tables = set(
                connection.execute(
                    text(
                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                        if engine.dialect.name == "sqlite"
                        else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                    )
                ).scalars()
            )
            assert not tables & {"cases", "case_events", "case_documents", "document_counters"}
            assert connection.execute(text("SELECT count(*) FROM letters")).scalar() == 1
    finally:
        engine.dispose()
    upgrade(db_url)
    assert schema_differences(db_url) == []


def test_the_stores_copies_of_the_states_and_steps_are_caseworks() -> None:
    from store.models import CASE_EVENT_STEPS, CASE_STATES

    assert tuple(CaseState) == CASE_STATES
    # 登记 and 确定去向 are the letter and its decisions; every other step is a stored event
    assert tuple(s for s in Step if s not in (Step.register, Step.decide)) == CASE_EVENT_STEPS
