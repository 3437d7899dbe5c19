"""Fixtures of the training tests: the tiny corpus on disk, a migrated SQLite database, tiny models."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from databases import postgres_schema
from sqlalchemy.orm import Session, sessionmaker
from tiny_corpus import TINY_OVERRIDES, write_tiny_data

import store.users
from store.db import make_engine, make_session_factory
from training.train import train

_FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id with small cost parameters, so creating an officer stays fast."""
    monkeypatch.setattr(store.users, "password_hasher", lambda: _FAST_HASHER)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_data(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh migrated SQLite database of this test."""
    path = tmp_path / "xinfang.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_factory(request: pytest.FixtureRequest, db_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions of a migrated database on SQLite, and on PostgreSQL when DATABASE_URL names one.

    On PostgreSQL the test gets its own schema (``tests/databases.py``).
    """
    if request.param == "sqlite":
        engine = make_engine(db_url)
        yield make_session_factory(engine)
        engine.dispose()
        return
    with postgres_schema("xinfang_training", migrate=True) as url:
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> Path:
    """A registry with two tiny models trained once: ``good`` and the much worse ``poor``."""
    models = tmp_path_factory.mktemp("models")
    train(data_dir=tiny_data, models_dir=models, version="good", overrides=TINY_OVERRIDES)
    # One word and one character of vocabulary: every head is left guessing.
    poor = (*TINY_OVERRIDES, "features.word_max_features=1", "features.char_max_features=1")
    train(data_dir=tiny_data, models_dir=models, version="poor", overrides=poor)
    return models


@pytest.fixture
def models_dir(tmp_path: Path, tiny_models: Path) -> Path:
    """A copy of the tiny registry for a test that promotes or breaks models."""
    return Path(shutil.copytree(tiny_models, tmp_path / "models"))
