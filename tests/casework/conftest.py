"""Database fixtures for the case's life on the store: a fresh migrated database per test, on
SQLite and, when ``DATABASE_URL`` names a server, on PostgreSQL (a schema of its own per test,
``tests/databases.py``). The pure casework tests use none of them."""

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
    with postgres_schema("xinfang_case") as url:
        yield url


@pytest.fixture(params=BACKENDS)
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh database migrated to the newest revision."""
    if request.param == "sqlite":
        path = tmp_path / "xinfang.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    with postgres_schema("xinfang_case", migrate=True) as url:
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
    """An open session; a test commits when other sessions must see its rows."""
    with factory() as session:
        yield session
        session.rollback()


_FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id with small cost parameters, so creating the officers stays fast."""
    monkeypatch.setattr(store.users, "password_hasher", lambda: _FAST_HASHER)
