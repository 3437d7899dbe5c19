"""The audit log: appending, masking, and catching every kind of tampering, keyed or not."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

import service.settings
import store.audit_key
from cli.commands.audit import audit
from store.audit import (
    GENESIS_HASH,
    append_event,
    append_event_at_commit,
    canonical_json,
    event_hash,
    event_mac,
    events_for,
    head_checkpoint,
    verify_chain,
)
from store.audit_key import DEVELOPMENT_AUDIT_KEY, use_audit_key
from store.db import session_scope
from store.errors import InvalidValueError
from store.models import AuditEvent

AT = dt.datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=dt.UTC)
KEY = b"the-office-audit-key-kept-on-its-own-mount-0123456789"


@pytest.fixture(autouse=True)
def office_key() -> Iterator[bytes]:
    """This module's events are keyed with KEY; the next test module gets the development key back."""
    use_audit_key(KEY)
    yield KEY
    use_audit_key(DEVELOPMENT_AUDIT_KEY.encode())


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
    assert first.mac == event_mac(KEY, hash=first.hash, prev_mac=GENESIS_HASH)
    assert second.mac == event_mac(KEY, hash=second.hash, prev_mac=first.mac)
    assert verify_chain(session) == []
    assert [e.seq for e in events_for(session, "letter:XF-2026-000001")] == [2]


def test_an_event_appended_at_commit_is_written_then_in_the_order_of_the_calls(
    factory: sessionmaker[Session],
) -> None:
    with session_scope(factory) as session:
        append_event_at_commit(
            session, actor="li.ming", action="view_confidential", object="letter:XF-2026-000001", at=AT
        )
        # nothing is chained yet, so the audit head's lock is not taken
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0
        with pytest.raises(InvalidValueError, match="unknown audit action"):  # checked when it happens
            append_event_at_commit(session, actor="li.ming", action="peek")
        decided = append_event(
            session,
            actor="li.ming",
            action="decide",
            object="letter:XF-2026-000001",
            at=AT + dt.timedelta(seconds=1),
        )
        append_event_at_commit(
            session, actor="li.ming", action="view_confidential", at=AT + dt.timedelta(seconds=2)
        )
    with session_scope(factory) as session:
        stored = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert [(e.seq, e.action, e.at) for e in stored] == [
            (1, "view_confidential", AT),
            (decided.seq, "decide", AT + dt.timedelta(seconds=1)),
            (3, "view_confidential", AT + dt.timedelta(seconds=2)),
        ]
        assert decided.seq == 2
        assert verify_chain(session) == []


def test_an_event_appended_at_commit_is_dropped_with_a_rollback(factory: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), session_scope(factory) as session:
        append_event_at_commit(session, actor="li.ming", action="view_confidential", at=AT)
        raise RuntimeError("the request failed")
    with session_scope(factory) as session:  # the same session factory: nothing left waiting
        append_event(session, actor="li.ming", action="login", at=AT)
    with session_scope(factory) as session:
        assert [e.action for e in session.scalars(select(AuditEvent))] == ["login"]
        assert verify_chain(session) == []


def test_an_event_appended_at_commit_leaves_the_head_free_until_then(
    factory: sessionmaker[Session], backend: str
) -> None:
    """While a request that only looks at a confidential letter runs, other officers' writes go on."""
    if backend != "postgresql":
        pytest.skip("SQLite locks the whole database for every transaction (BEGIN IMMEDIATE)")
    _fill(factory, 1)
    with session_scope(factory) as looking:
        append_event_at_commit(looking, actor="li.ming", action="view_confidential", at=AT)
        with session_scope(factory) as other:
            other.execute(text("SET LOCAL lock_timeout = '2s'"))  # fails rather than hangs if held
            append_event(other, actor="wang.fang", action="login", at=AT)
    with session_scope(factory) as session:
        assert [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))] == [
            "view_letter",
            "login",
            "view_confidential",
        ]
        assert verify_chain(session) == []


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
    assert [(p.seq, p.problem) for p in problems] == [(3, "内容与其哈希不符（该条被改动过）")]


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
    # Row 2 itself fails its MAC (its new hash was never keyed); row 3 no longer follows it.
    assert [p.seq for p in problems] == [2, 3]
    assert "第 2 条的密钥签名（MAC）不符" in problems[0].problem
    assert "所记前一条的哈希与前一条不符" in problems[1].problem


def test_deleted_rows_are_reported(factory: sessionmaker[Session], backend: str) -> None:
    _fill(factory)
    with session_scope(factory) as session:
        _unprotect(session, backend)
        session.execute(text("DELETE FROM audit_events WHERE seq = 2"))
        session.execute(text("DELETE FROM audit_events WHERE seq = 5"))
    with session_scope(factory) as session:
        problems = verify_chain(session)
    assert [p.seq for p in problems][:2] == [3, 3] and problems[-1].seq == 5
    assert "第 2–2 条缺失" in problems[0].problem
    assert "链头记录第 5 条，最后一条却是第 4 条" in problems[-1].problem


def _rehash_from(session: Session, seq: int) -> None:
    """What a database superuser does after editing row ``seq``: recompute every hash after it and
    the head, so that the hash chain verifies again. They cannot recompute a MAC: no key."""
    columns = [AuditEvent.__table__.c[n] for n in ("seq", "at", "actor", "action", "object", "details")]
    rows = session.execute(select(*columns).where(AuditEvent.seq >= seq).order_by(AuditEvent.seq)).all()
    prev = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq - 1)) or GENESIS_HASH
    for row in rows:
        new = event_hash(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            object=row.object,
            details=row.details,
            prev_hash=prev,
        )
        session.execute(
            text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE seq = :s"),
            {"p": prev, "h": new, "s": row.seq},
        )
        prev = new
    session.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})


def test_a_rehashed_chain_verifies_without_the_key_but_not_with_it(
    factory: sessionmaker[Session], backend: str
) -> None:
    """The attack of an unkeyed chain: edit a row and rehash everything after it and the head."""
    _fill(factory)
    with session_scope(factory) as session:
        _unprotect(session, backend)
        session.execute(text("UPDATE audit_events SET actor = 'someone.else' WHERE seq = 2"))
        _rehash_from(session, 2)
    with session_scope(factory) as session:
        problems = verify_chain(session)
        # Every hash and link holds: only the MACs, which need the key, show the rewrite.
        assert [p.seq for p in problems] == [2]
        assert "第 2–5 条的密钥签名（MAC）不符" in problems[0].problem
        assert "XINFANG_AUDIT_KEY" in problems[0].problem


def test_erasing_the_macs_does_not_hide_a_rewrite(factory: sessionmaker[Session], backend: str) -> None:
    _fill(factory)
    with session_scope(factory) as session:
        _unprotect(session, backend)
        session.execute(text("UPDATE audit_events SET actor = 'someone.else', mac = NULL WHERE seq >= 2"))
        _rehash_from(session, 2)
        session.execute(text("UPDATE audit_head SET mac = NULL"))
    with session_scope(factory) as session:
        problems = verify_chain(session)
    assert [p.seq for p in problems] == [2, 3, 4, 5, 5]
    assert all("没有密钥签名" in p.problem for p in problems[:4])
    assert "链头的密钥签名" in problems[-1].problem


def test_another_key_is_named_as_the_likely_cause(factory: sessionmaker[Session]) -> None:
    _fill(factory)
    with session_scope(factory) as session:
        assert verify_chain(session) == []
        problems = verify_chain(session, key=b"not-the-office-key-but-another-one-entirely")
    assert len(problems) == 1
    assert "没有一条的密钥签名（MAC）与所用密钥相符" in problems[0].problem


def test_the_development_key_is_the_same_in_settings_and_store() -> None:
    # A database written by a tool given no key must verify in a development app, and the other way.
    assert service.settings.DEVELOPMENT_AUDIT_KEY == store.audit_key.DEVELOPMENT_AUDIT_KEY


def test_cli_verify_exits_nonzero_with_the_broken_seq(
    factory: sessionmaker[Session], engine: Engine, backend: str
) -> None:
    _fill(factory)
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    ok = runner.invoke(audit, ["verify", "--database-url", url])
    assert ok.exit_code == 0, ok.output
    assert "审计日志完整：共 5 条" in ok.output
    with session_scope(factory) as session:
        _unprotect(session, backend)
        session.execute(text("UPDATE audit_events SET actor = 'nobody' WHERE seq = 4"))
    broken = runner.invoke(audit, ["verify", "--database-url", url])
    assert broken.exit_code == 1
    assert "审计日志在第 4 条处不完整" in broken.output
    assert "校验失败 第 4 条：内容与其哈希不符" in broken.output


def test_a_checkpoint_kept_elsewhere_shows_events_cut_off_the_end(
    factory: sessionmaker[Session], engine: Engine, backend: str
) -> None:
    """Deleting the newest events and setting the head back leaves a chain that verifies (every
    remaining MAC is genuine); only a checkpoint noted outside the database shows the cut."""
    _fill(factory)
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    first = runner.invoke(audit, ["verify", "--database-url", url])
    line = next(x for x in first.output.splitlines() if x.startswith("检查点 "))
    checkpoint = line.removeprefix("检查点 ")
    with session_scope(factory) as session:
        assert checkpoint == "{}:{}".format(*head_checkpoint(session))
        _unprotect(session, backend)
        keep = session.execute(text("SELECT seq, hash, mac FROM audit_events WHERE seq = 3")).one()
        session.execute(text("DELETE FROM audit_events WHERE seq > 3"))
        session.execute(
            text("UPDATE audit_head SET seq = :s, hash = :h, mac = :m"),
            {"s": keep[0], "h": keep[1], "m": keep[2]},
        )
    plain = runner.invoke(audit, ["verify", "--database-url", url])
    assert plain.exit_code == 0, plain.output  # the limit the README states
    checked = runner.invoke(audit, ["verify", "--checkpoint", checkpoint, "--database-url", url])
    assert checked.exit_code == 1
    assert "检查点不符 第 5 条：日志中已没有这一条" in checked.output
    bad = runner.invoke(audit, ["verify", "--checkpoint", "5:abc", "--database-url", url])
    assert bad.exit_code == 2 and "不是检查点" in bad.output


def test_the_upgrade_keys_the_events_written_before_and_records_it(db_url: str, backend_of_url: str) -> None:
    """Events written before migration 0006 get their MACs there, with the installation's key, and
    the step is an event of its own; from then on a rehash of those old events is caught too."""
    import sqlalchemy as sa

    from store.db import make_engine, make_session_factory, upgrade

    upgrade(db_url, "0005")
    table = sa.table(
        "audit_events",
        *(sa.column(n, sa.String) for n in ("actor", "action", "object", "prev_hash", "hash")),
        sa.column("seq", sa.Integer),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("details", sa.JSON),
    )
    engine = make_engine(db_url)
    prev = GENESIS_HASH
    with engine.begin() as connection:
        for seq in (1, 2, 3):
            at = AT + dt.timedelta(minutes=seq)
            details = {"n": seq}
            digest = event_hash(
                seq=seq, at=at, actor="li.ming", action="login", object=None, details=details, prev_hash=prev
            )
            stored_at = at.replace(tzinfo=None) if backend_of_url == "sqlite" else at
            connection.execute(
                table.insert().values(
                    seq=seq,
                    at=stored_at,
                    actor="li.ming",
                    action="login",
                    object=None,
                    details=details,
                    prev_hash=prev,
                    hash=digest,
                )
            )
            prev = digest
        connection.execute(text("UPDATE audit_head SET seq = 3, hash = :h"), {"h": prev})
    upgrade(db_url)
    factory = make_session_factory(engine)
    try:
        with session_scope(factory) as session:
            assert verify_chain(session) == []
            events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
            assert [e.action for e in events] == ["login", "login", "login", "audit_anchored"]
            assert events[-1].actor == "xinfang-migration-0006"
            assert events[-1].details == {"events": 3, "last_seq": 3, "last_hash": prev}
            assert events[0].mac == event_mac(KEY, hash=events[0].hash, prev_mac=GENESIS_HASH)
            # the trigger is back: the migration lifted it for its own UPDATE only
            with pytest.raises(sa.exc.DBAPIError), session.begin_nested():
                session.execute(text("UPDATE audit_events SET actor = 'x' WHERE seq = 1"))
        with session_scope(factory) as session:
            _unprotect(session, backend_of_url)
            session.execute(text("UPDATE audit_events SET actor = 'someone.else' WHERE seq = 1"))
            _rehash_from(session, 1)
        with session_scope(factory) as session:
            problems = verify_chain(session)
        assert len(problems) == 1 and "密钥签名" in problems[0].problem
    finally:
        engine.dispose()


@pytest.fixture
def backend_of_url(db_url: str) -> str:
    return "sqlite" if db_url.startswith("sqlite") else "postgresql"


def test_the_cli_verifies_with_the_key_in_the_settings(
    factory: sessionmaker[Session], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.main import main
    from service.settings import Settings

    _fill(factory)  # keyed with KEY
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    monkeypatch.setattr(service.settings, "get_settings", lambda: Settings(audit_key=KEY.decode()))
    assert runner.invoke(main, ["audit", "verify", "--database-url", url]).exit_code == 0
    monkeypatch.setattr(
        service.settings, "get_settings", lambda: Settings(audit_key="some-other-key-" + "z" * 20)
    )
    other = runner.invoke(main, ["audit", "verify", "--database-url", url])
    assert other.exit_code == 1 and "与所用密钥相符" in other.output
