"""One way for every test package to get a PostgreSQL database of its own.

Each caller gets a uniquely named schema on the server ``DATABASE_URL`` names, with ``search_path``
pinned to it in the URL, so the code under test (web app, batch workers in other processes,
alembic) sees an empty database of its own; the schema is dropped afterwards. A schema costs a
fraction of a database per test. Without ``DATABASE_URL`` the PostgreSQL variants skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

# Tests are outside the service, so reading the environment here does not bypass service/settings.py.
PG_URL = os.environ.get("DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"]


def _server_url() -> URL:
    url = make_url(PG_URL)
    # A bare postgresql:// would pick psycopg2, which is not installed; psycopg 3 is.
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


def _admin_engine() -> Engine:
    return create_engine(_server_url(), isolation_level="AUTOCOMMIT")


@contextmanager
def postgres_schema(prefix: str = "xinfang_test", *, migrate: bool = False) -> Iterator[str]:
    """The URL of a fresh schema on the ``DATABASE_URL`` server (migrated when ``migrate``)."""
    if not PG_URL.startswith("postgresql"):
        pytest.skip("PostgreSQL tests need DATABASE_URL=postgresql+psycopg://user@host:5432/db")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = (
            _server_url()
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
        if migrate:
            from store.db import upgrade

            upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
