"""Database fixtures for the case's life on the store: a fresh migrated database per test, on
SQLite and, when ``DATABASE_URL`` names a server, on PostgreSQL (a schema of its own per test,
``tests/databases.py``); the store's tests use the same ones (``tests/db_fixtures.py``). The pure
casework tests use none of them."""

from __future__ import annotations

from db_fixtures import (  # noqa: F401  (fixtures, found by pytest under these names)
    db_url,
    engine,
    factory,
    fast_password_hashing,
    migrated_url,
    session,
)
