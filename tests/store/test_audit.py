"""The hash-chained audit log: appending, masking, and catching every kind of tampering."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from api.commands.admin import audit
from store.audit import GENESIS_HASH, append_event, canonical_json, event_hash, events_for, verify_chain
from store.db import session_scope
from store.errors import InvalidValueError
from store.models import AuditEvent

AT = dt.datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=dt.UTC)


def _fill(factory: sessionmaker[Session], n: int = 5) -> None:
    with session_scope(factory) as session:
        for i in range(n):
            append_event(
                session,
                actor="li.ming",
                action="view_letter",
                object=f"letter:XF-2026-{i:06d}",
                details={"n": i, "note": "查看"},
                at=AT + dt.timedelta(seconds=i),
            )


def _unprotect(session: Session, backend: str) -> None:
    """What someone with database access would do first: get the append-only trigger out of the way."""
    if backend == "postgresql":
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
    else:
        session.execute(text("DROP TRIGGER audit_events_no_update"))
        session.execute(text("DROP TRIGGER audit_events_no_delete"))


def test_events_chain_from_the_genesis_hash(session: Session) -> None:
    first = append_event(session, actor="li.ming", action="login", at=AT)
    second = append_event(
        session, actor="li.ming", action="view_letter", object="letter:XF-2026-000001", at=AT
    )
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.hash
    expected = event_hash(
        seq=1, at=AT, actor="li.ming", action="login", object=None, details={}, prev_hash=GENESIS_HASH
    )
    assert first.hash == expected
    assert verify_chain(session) == []
    assert [e.seq for e in events_for(session, "letter:XF-2026-000001")] == [2]


def test_canonical_json_is_stable_and_keeps_chinese() -> None:
    assert canonical_json({"b": 1, "a": ["举报", None]}) == '{"a":["举报",null],"b":1}'


def test_chain_survives_a_round_trip_through_the_database(factory: sessionmaker[Session]) -> None:
    _fill(factory)
    with session_scope(factory) as session:
        assert verify_chain(session) == []
        stored = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert stored[0].at == AT and stored[0].details == {"n": 0, "note": "查看"}


def test_personal_data_in_details_is_masked(session: Session) -> None:
    event = append_event(
        session,
        actor="li.ming",
        action="export",
        object="queue",
        details={
            "petitioner_name": "张三丰",
            "filters": {"phone": "13812345678"},
            "note": "身份证110101199003071234，电话13912345678",
        },
    )
    assert event.details == {
        "petitioner_name": "张**",
        "filters": {"phone": "138****5678"},
        "note": "身份证110***********1234，电话139****5678",
    }
    assert "13812345678" not in canonical_json(event.details)


# fmt: off
BAD_EVENTS = [
    ({"action": "hack"}, "unknown audit action 'hack'; allowed: "),
    ({"actor": " "}, "audit actor is empty"),
    ({"at": dt.datetime(2026, 1, 1)}, "is naive"),
    ({"details": {"x": object()}}, "not JSON-serialisable"),
    ({"details": {"x": float("nan")}}, "not JSON-serialisable"),
]
# fmt: on


@pytest.mark.parametrize(
    ("changes", "message"), BAD_EVENTS, ids=["action", "actor", "naive", "object", "nan"]
)
def test_bad_events_are_refused(session: Session, changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"actor": "li.ming", "action": "login"} | changes
    with pytest.raises(InvalidValueError, match=message):
        append_event(session, **fields)  # type: ignore[arg-type]
    assert session.scalar(text("SELECT count(*) FROM audit_events")) == 0


def test_an_edited_row_is_reported_with_its_seq(factory: sessionmaker[Session], backend: str) -> None:
    _fill(factory)
    with session_scope(factory) as session:
        _unprotect(session, backend)
        session.execute(
            text("""UPDATE audit_events SET details = '{"n": 2, "note": "没看"}' WHERE seq = 3""")
        )
    with session_scope(factory) as session:
        problems = verify_chain(session)
    assert [(p.seq, p.problem) for p in problems] == [
        (3, "content does not match its hash (the row was edited)")
    ]


def test_a_rehashed_edit_breaks_the_next_link(factory: sessionmaker[Session], backend: str) -> None:
    _fill(factory)
    with session_scope(factory) as session:
        _unprotect(session, backend)
        row = session.execute(text("SELECT * FROM audit_events WHERE seq = 2")).mappings().one()
        forged = event_hash(
            seq=2,
            at=AT + dt.timedelta(seconds=1),
            actor="someone.else",
            action=row["action"],
            object=row["object"],
            details={"n": 1, "note": "查看"},
            prev_hash=row["prev_hash"],
        )
        session.execute(
            text("UPDATE audit_events SET actor = 'someone.else', hash = :h WHERE seq = 2"), {"h": forged}
        )
    with session_scope(factory) as session:
        problems = verify_chain(session)
    assert [p.seq for p in problems] == [3]
    assert "prev_hash does not match" in problems[0].problem


def test_deleted_rows_are_reported(factory: sessionmaker[Session], backend: str) -> None:
    _fill(factory)
    with session_scope(factory) as session:
        _unprotect(session, backend)
        session.execute(text("DELETE FROM audit_events WHERE seq = 2"))
        session.execute(text("DELETE FROM audit_events WHERE seq = 5"))
    with session_scope(factory) as session:
        problems = verify_chain(session)
    assert [p.seq for p in problems] == [3, 3, 5]
    assert "events 2..2 are missing" in problems[0].problem
    assert "head records seq 5 but the last event is seq 4" in problems[2].problem


def test_cli_verify_exits_nonzero_with_the_broken_seq(
    factory: sessionmaker[Session], engine: Engine, backend: str
) -> None:
    _fill(factory)
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    ok = runner.invoke(audit, ["verify", "--database-url", url])
    assert ok.exit_code == 0, ok.output
    assert "audit chain intact: 5 events" in ok.output
    with session_scope(factory) as session:
        _unprotect(session, backend)
        session.execute(text("UPDATE audit_events SET actor = 'nobody' WHERE seq = 4"))
    broken = runner.invoke(audit, ["verify", "--database-url", url])
    assert broken.exit_code == 1
    assert "audit chain broken at seq 4" in broken.output
    assert "BROKEN seq 4: content does not match its hash" in broken.output
