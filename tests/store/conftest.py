"""Database fixtures: every test gets a fresh, migrated database on SQLite, and on PostgreSQL too
when ``DATABASE_URL`` points at a server (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``).

On PostgreSQL each test gets its own schema (``tests/databases.py``), so tests never see each
other's rows or the tables already in that database. On SQLite each test gets its own file. The
fixtures themselves are ``tests/db_fixtures.py``, shared with the case's life on the store.
"""

from __future__ import annotations

import pytest
from db_fixtures import (  # noqa: F401  (fixtures, found by pytest under these names)
    backend,
    db_url,
    engine,
    factory,
    fast_password_hashing,
    migrated_url,
    session,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_argon2: use the production argon2 cost parameters")
