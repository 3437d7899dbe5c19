"""Database fixtures: every test gets a fresh, migrated database on SQLite, and on PostgreSQL too
when ``DATABASE_URL`` points at a server (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``).

On PostgreSQL each test gets its own schema (``tests/databases.py``), so tests never see each
other's rows or the tables already in that database.
On SQLite each test gets its own file.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from databases import BACKENDS, postgres_schema
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import store.users
from store.db import make_engine, make_session_factory


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty database (not migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'xinfang.sqlite3'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh database migrated to the newest revision."""
    if request.param == "sqlite":
        path = tmp_path / "xinfang.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    with postgres_schema(migrate=True) as url:
        yield url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """An open session; the test commits when it needs other sessions to see its rows."""
    with factory() as session:
        yield session
        session.rollback()


@pytest.fixture
def backend(engine: Engine) -> str:
    return engine.dialect.name


_FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def fast_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id with small cost parameters, so tests that create users stay fast.

    ``test_users.py::test_production_hash_parameters`` opts out (``@pytest.mark.real_argon2``) and
    checks the parameters actually used in production.
    """
    if request.node.get_closest_marker("real_argon2") is None:
        monkeypatch.setattr(store.users, "password_hasher", lambda: _FAST_HASHER)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_argon2: use the production argon2 cost parameters")
