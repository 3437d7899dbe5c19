"""Engines, sessions and migrations. Nothing here runs at import time: callers pass the URL.

SQLite (the default for a single office) is opened in WAL mode with foreign keys on and a busy
timeout, and every transaction starts with ``BEGIN IMMEDIATE``: SQLite allows one writer at a time,
and taking the write lock up front makes a second writer wait (up to the busy timeout) instead of
failing half-way with "database is locked". PostgreSQL is reached through psycopg 3
(``postgresql+psycopg://user@host:5432/db``) and relies on row locks and ``UPDATE ... WHERE``.

The schema belongs to the Alembic migrations in ``store/migrations``; ``upgrade(url)`` applies
them (the web app calls it at start, ``xinfang db upgrade`` from the shell).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from store.errors import AppendOnlyError, InvalidValueError, SchemaError

ALEMBIC_INI = Path(__file__).resolve().parent / "alembic.ini"
DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(
    url: str | URL, *, echo: bool = False, sqlite_busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_TIMEOUT_MS
) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL.

    Args:
        url: a SQLAlchemy URL, e.g. ``sqlite:////srv/xinfang/xinfang.sqlite3`` or
            ``postgresql+psycopg://postgres@127.0.0.1:5432/xinfang``.
        echo: log every SQL statement (debugging only: statements carry personal data).
        sqlite_busy_timeout_ms: how long a SQLite writer waits for another one to finish.

    Returns:
        The engine. Dispose of it when done (``engine.dispose()``).

    Raises:
        InvalidValueError: the URL is malformed or names a backend other than SQLite/PostgreSQL.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise InvalidValueError(
            f"cannot parse database URL {_redacted(url)!r}: {exc}. Expected e.g. "
            "sqlite:///path/to/xinfang.sqlite3 or postgresql+psycopg://user@host:5432/dbname"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, echo=echo, busy_timeout_ms=sqlite_busy_timeout_ms)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            # plain postgresql:// would pick psycopg2, which is not a dependency
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, echo=echo, pool_pre_ping=True)
    raise InvalidValueError(
        f"unsupported database backend {backend!r} in {_redacted(url)!r}; "
        "allowed: sqlite (sqlite:///file) or postgresql (postgresql+psycopg://...)"
    )


def _redacted(url: str | URL) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def _sqlite_engine(url: URL, *, echo: bool, busy_timeout_ms: int) -> Engine:
    engine = create_engine(url, echo=echo, connect_args={"timeout": busy_timeout_ms / 1000})
    in_memory = url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Hand transaction control to SQLAlchemy: pysqlite's own implicit BEGIN is deferred and
        # would make savepoints and the IMMEDIATE lock below unreliable.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A ``sessionmaker`` bound to ``engine``; objects stay readable after commit.

    Its sessions refuse to flush changes to or deletions of proposals, decisions and audit events
    (the database triggers refuse them too; this says so before the SQL is sent).
    """
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    event.listen(factory, "before_flush", _refuse_history_changes)
    return factory


def _refuse_history_changes(session: Session, _context: Any, _instances: Any) -> None:
    from store.models import AuditEvent, Decision, Proposal

    append_only = (Proposal, Decision, AuditEvent)
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, append_only) and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnlyError(
                f"{type(obj).__name__} rows are append-only and cannot be changed or deleted ({obj!r}); "
                "record a new proposal or decision instead"
            )


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block ends normally, roll back when it raises.

    Example:
        >>> with session_scope(factory) as session:  # doctest: +SKIP
        ...     letter = create_letter(session, title="...", text="...", created_by="li.ming")
    """
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str | URL | None = None, connection: Connection | None = None) -> Any:
    """The Alembic ``Config`` of ``store/alembic.ini``, pointed at ``url`` or an open ``connection``."""
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    if url is not None:
        # ConfigParser treats % as interpolation; URL-encoded passwords contain it
        config.set_main_option(
            "sqlalchemy.url", make_url(url).render_as_string(hide_password=False).replace("%", "%%")
        )
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (default: the newest). Safe to run repeatedly.

    Args:
        url: the database URL (see ``make_engine``).
        revision: an Alembic revision id, or ``"head"``.
    """
    from alembic import command

    engine = make_engine(url)
    _ensure_sqlite_directory(engine.url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name != "sqlite":
                with connection.begin():
                    command.upgrade(alembic_config(connection=connection), revision)
                return
            # SQLite changes a constraint by rebuilding the table, and dropping the old table while
            # foreign keys are enforced fails on every row that references it. SQLite's own recipe:
            # enforcement off outside the transaction, migrate, check every reference, commit.
            raw = connection.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA foreign_keys=OFF")
            try:
                with connection.begin():
                    command.upgrade(alembic_config(connection=connection), revision)
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise SchemaError(
                            f"the migration to {revision} left {len(broken)} broken reference(s), e.g. "
                            f"{broken[0]}; nothing was changed. Report it with the database's backup"
                        )
            finally:
                raw.execute("PRAGMA foreign_keys=ON")
    finally:
        engine.dispose()


def _ensure_sqlite_directory(url: URL) -> None:
    # A first `xinfang db upgrade` should not fail only because var/ does not exist yet.
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def current_revision(url: str | URL) -> str | None:
    """The migration revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest migration revision shipped with this version of xinfang."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships its migrations
        raise SchemaError(f"no migrations found next to {ALEMBIC_INI}; reinstall xinfang")
    return head


def schema_differences(url: str | URL) -> list[Any]:
    """What differs between the database's schema and the models (Alembic ``compare_metadata``).

    An empty list means the migrated schema matches ``store.models``.
    """
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from store.models import Base

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def check_schema(url: str | URL) -> None:
    """Raise ``SchemaError`` unless the database is migrated to the newest revision."""
    current, head = current_revision(url), head_revision()
    if current != head:
        raise SchemaError(
            f"database {_redacted(url)} is at migration {current or '(none: empty database)'}, "
            f"this version of xinfang needs {head}; run `xinfang db upgrade`"
        )
