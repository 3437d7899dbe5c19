"""The database fixtures of the store's tests and the case's life on the store, written once.

Every test gets a fresh database on SQLite (its own file, copied from the migrated template) and,
when ``DATABASE_URL`` names a server, on PostgreSQL (its own schema, ``tests/databases.py``). A
package's ``conftest.py`` imports the fixtures it uses from here.
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
