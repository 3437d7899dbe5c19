"""Fixtures of the web tests: a fresh migrated database per test, one account per role, an app.

The database is SQLite unless ``DATABASE_URL`` points at PostgreSQL; then the tests marked
``both_backends`` run on a fresh PostgreSQL database as well. SQLite databases are copied from one
migrated template per session, which keeps each test's setup to a file copy.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from databases import postgres_schema
from fastapi.testclient import TestClient

from api.app import create_app
from service.settings import Settings
from store.db import make_engine, make_session_factory, session_scope
from store.users import create_user

sys.path.insert(0, str(Path(__file__).resolve().parent))
from standin_router import StandInRouter  # noqa: E402
from web_factories import PASSWORD, make_settings  # noqa: E402

ROLES = (
    "intake_officer",
    "supervisor",
    "analyst",
    "administrator",
    "department_handler",
    "discipline_inspector",
)
# One account per role; the handler works for the housing bureau (住房和城乡建设局).
HANDLER_DEPARTMENT = "housing"


@pytest.fixture(scope="session")
def sqlite_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated template (tests/conftest.py) with one account per role added."""
    path = tmp_path_factory.mktemp("template") / "with-users.sqlite3"
    shutil.copyfile(sqlite_template, path)
    add_users(f"sqlite:///{path}")  # argon2 hashing is slow on purpose: do it once, copy the file
    return path


@pytest.fixture(scope="session")
def standin_router() -> StandInRouter:
    return StandInRouter()


@pytest.fixture(scope="session")
def tiny_router(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real ``routing.router.Router`` trained on a dozen inline letters (a few seconds, once)."""
    from tiny_model import train_tiny_router

    return train_tiny_router(tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A fresh migrated database; tests parametrise ``database_url`` indirectly to add PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "xinfang.sqlite3"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    with postgres_schema("xinfang_api", migrate=True) as url:
        add_users(url)
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


def add_users(database_url: str) -> dict[str, str]:
    """One active account per role, named after the role; returns role -> username."""
    engine = make_engine(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            for role in ROLES:
                create_user(
                    session,
                    username=role.replace("_", "."),
                    password=PASSWORD,
                    role=role,
                    display_name=f"测试{role}",
                    department=HANDLER_DEPARTMENT if role == "department_handler" else None,
                )
    finally:
        engine.dispose()
    return {role: role.replace("_", ".") for role in ROLES}


@pytest.fixture
def users(database_url: str) -> dict[str, str]:
    """role -> username of the accounts every test database starts with."""
    return {role: role.replace("_", ".") for role in ROLES}


@pytest.fixture
def app(settings: Settings, standin_router: StandInRouter, users: dict[str, str]) -> Any:
    return create_app(settings, router=standin_router)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def token_for(client: TestClient, users: dict[str, str]) -> Callable[[str], dict[str, str]]:
    """role -> Authorization header of a fresh token for that role's account."""
    cache: dict[str, dict[str, str]] = {}

    def get(role: str) -> dict[str, str]:
        if role not in cache:
            r = client.post("/api/v1/auth/token", data={"username": users[role], "password": PASSWORD})
            assert r.status_code == 200, r.text
            cache[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return cache[role]

    return get


# -- the browser tests' Chromium (Debian's, headless; tests/api/live_server.py) -----------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module; skipped where Playwright is not installed."""
    from live_server import chromium

    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page that may reach only the loopback server."""
    from live_server import open_page

    with open_page(browser) as pg:
        yield pg
