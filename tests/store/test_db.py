"""Engines, sessions and migrations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from store.db import (
    check_schema,
    current_revision,
    head_revision,
    make_engine,
    make_session_factory,
    schema_differences,
    session_scope,
    upgrade,
)
from store.errors import InvalidValueError, SchemaError
from store.models import Base


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}", sqlite_busy_timeout_ms=1234)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    finally:
        engine.dispose()


def test_plain_postgresql_urls_use_psycopg_3() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:5432/test")  # no connection is made
    assert engine.url.drivername == "postgresql+psycopg"
    engine.dispose()


# fmt: off
BAD_URLS = [
    ("mysql://root@localhost/x", "unsupported database backend 'mysql'"),
    ("not a url", "cannot parse database URL"),
]
# fmt: on


@pytest.mark.parametrize(("url", "message"), BAD_URLS, ids=["mysql", "garbage"])
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        make_engine(url)


def test_importing_store_builds_nothing() -> None:
    # In a fresh interpreter, so this test cannot disturb the modules other tests imported.
    probe = (
        "import sys, sqlalchemy, store\n"
        "import store.db, store.models, store.letters, store.users, store.audit, store.files\n"
        "modules = [vars(sys.modules[m]) for m in list(sys.modules) if m.startswith('store')]\n"
        "engines = [v for m in modules for v in m.values() if isinstance(v, sqlalchemy.Engine)]\n"
        "assert engines == [], engines\n"
        "assert 'alembic' not in sys.modules, 'alembic is imported only when migrating'\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_migrations_build_exactly_the_models(db_url: str) -> None:
    assert current_revision(db_url) is None
    with pytest.raises(
        SchemaError, match=r"is at migration \(none: empty database\).*run `xinfang db upgrade`"
    ):
        check_schema(db_url)
    upgrade(db_url)
    upgrade(db_url)  # a second run is a no-op
    assert current_revision(db_url) == head_revision()
    check_schema(db_url)
    assert schema_differences(db_url) == []
    engine = make_engine(db_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        with engine.connect() as connection:
            head = connection.execute(text("SELECT seq, hash FROM audit_head")).one()
        assert tuple(head) == (0, "0" * 64)
    finally:
        engine.dispose()


def test_migrations_go_down_and_up_again(db_url: str) -> None:
    upgrade(db_url)
    from alembic import command

    from store.db import alembic_config

    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(db_url)
    assert schema_differences(db_url) == []


def test_upgrade_creates_the_sqlite_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'deep' / 'xinfang.sqlite3'}"
    upgrade(url)
    assert current_revision(url) == head_revision()


def test_session_scope_commits_or_rolls_back(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        session.execute(text("INSERT INTO case_counters (year, last_number) VALUES (2030, 7)"))
    with pytest.raises(RuntimeError, match="boom"), session_scope(factory) as session:
        session.execute(text("INSERT INTO case_counters (year, last_number) VALUES (2031, 1)"))
        raise RuntimeError("boom")
    with session_scope(factory) as session:
        rows = session.execute(text("SELECT year, last_number FROM case_counters")).all()
    assert [tuple(r) for r in rows] == [(2030, 7)]


def test_migration_files_ship_with_the_package() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["store"]
    shipped = {p for pattern in patterns for p in (root / "store").glob(pattern)}
    needed = {root / "store" / "alembic.ini", root / "store" / "migrations" / "env.py"}
    needed |= set((root / "store" / "migrations" / "versions").glob("0*.py"))
    assert needed <= shipped
    deps = " ".join(config["project"]["dependencies"])
    for dep in ("sqlalchemy", "alembic", "psycopg[binary]", "argon2-cffi"):
        assert dep in deps


def test_an_upgrade_that_rebuilds_a_referenced_table_keeps_every_row(db_url: str) -> None:
    # On SQLite, 0003 rebuilds ``letters`` (a new CHECK); rows in other tables point at it.
    upgrade(db_url, "0002")
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO letters (id, case_number, title, text, form, received_on, source,"
                    " created_by, created_at, status, version) VALUES (1, 'XF-2026-000001', '来信',"
                    " '正文', 'letter', '2026-11-30', 'batch', 'intake', '2026-11-30 08:00:00',"
                    " 'pending', 1)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO letter_pages (letter_id, position, file_page, sha256, media_type, width,"
                    " height, size_bytes, stored_path, blank) VALUES (1, 1, 1, :h, 'image/png', 10, 10, 5,"
                    " 'pages/ab/x.png', false)"
                ),
                {"h": "ab" * 32},
            )
    finally:
        engine.dispose()
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            pages = connection.execute(text("SELECT letter_id FROM letter_pages")).scalars().all()
            assert pages == [1]
            connection.execute(text("UPDATE letters SET status = 'merged' WHERE id = 1"))
            if engine.dialect.name == "sqlite":
                # enforcement is back on after the migration
                assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
    assert current_revision(db_url) == head_revision()
    assert schema_differences(db_url) == []
