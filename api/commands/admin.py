"""Administration commands: ``xinfang db upgrade``, ``xinfang users add``.

Thin shells over ``store``: they parse options, open a session, call one store function and turn
``StoreError`` into a ``ClickException``. The database URL defaults to ``XINFANG_DATABASE_URL``
(``api.settings``) and can be given with ``--database-url``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

F = TypeVar("F", bound=Callable[..., Any])


def _database_url_option(func: F) -> F:
    return click.option(
        "--database-url",
        metavar="URL",
        default=None,
        help="SQLAlchemy URL of the database (default: XINFANG_DATABASE_URL or the settings' default).",
    )(func)


def _resolve_url(database_url: str | None) -> str:
    if database_url:
        return database_url
    from api.settings import get_settings

    return get_settings().database_url


@contextmanager
def _session(database_url: str | None, *, check_schema: bool = True) -> Iterator[Session]:
    from store.db import check_schema as _check_schema
    from store.db import make_engine, make_session_factory, session_scope
    from store.errors import StoreError

    url = _resolve_url(database_url)
    try:
        if check_schema:
            _check_schema(url)
        engine = make_engine(url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    except OperationalError as exc:
        raise click.ClickException(_cannot_open(url, exc)) from exc
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    except OperationalError as exc:
        raise click.ClickException(_cannot_open(url, exc)) from exc
    finally:
        engine.dispose()


def _cannot_open(url: str, exc: OperationalError) -> str:
    from sqlalchemy.engine import make_url

    shown = make_url(url).render_as_string(hide_password=True)
    return f"cannot use the database {shown}: {exc.orig}. Check --database-url / XINFANG_DATABASE_URL."


# --- xinfang db ---------------------------------------------------------------------------------


@click.group("db")
def db() -> None:
    """Create and migrate the database schema."""


@db.command("upgrade")
@_database_url_option
@click.option("--revision", default="head", show_default=True, help="migrate up to this revision")
def db_upgrade(database_url: str | None, revision: str) -> None:
    """Apply the schema migrations (creates the database tables on first run)."""
    from store.db import current_revision, upgrade
    from store.errors import StoreError

    url = _resolve_url(database_url)
    try:
        upgrade(url, revision)
        click.echo(f"database at migration {current_revision(url)}")
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    except OperationalError as exc:
        raise click.ClickException(_cannot_open(url, exc)) from exc


@db.command("current")
@_database_url_option
def db_current(database_url: str | None) -> None:
    """Show the database's migration revision and the newest one this version ships."""
    from store.db import current_revision, head_revision

    url = _resolve_url(database_url)
    try:
        current = current_revision(url)
    except OperationalError as exc:
        raise click.ClickException(_cannot_open(url, exc)) from exc
    head = head_revision()
    click.echo(f"current: {current or '(empty database)'}  newest: {head}")
    if current != head:
        raise click.ClickException("the database is not up to date; run `xinfang db upgrade`")


# --- xinfang users ------------------------------------------------------------------------------


@click.group("users")
def users() -> None:
    """Manage workbench accounts (there is no default account or password)."""


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise click.ClickException("--password-stdin was given but standard input is empty")
        return line.rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@users.command("add")
@click.argument("username")
@click.option(
    "--role",
    required=True,
    type=click.Choice(
        [
            "intake_officer",
            "supervisor",
            "analyst",
            "administrator",
            "department_handler",
            "discipline_inspector",
        ]
    ),
    help="the account's role",
)
@click.option("--display-name", required=True, help="the name shown in the workbench")
@click.option("--department", default=None, help="department code (department_handler only)")
@click.option("--password-stdin", is_flag=True, help="read the password from one line of standard input")
@click.option("--actor", default="admin-cli", show_default=True, help="who is creating it, for the audit log")
@_database_url_option
def users_add(
    username: str,
    role: str,
    display_name: str,
    department: str | None,
    password_stdin: bool,
    actor: str,
    database_url: str | None,
) -> None:
    """Create the account USERNAME; asks for its password (never taken as an option)."""
    from store.users import check_password_strength, create_user

    password = _read_password(password_stdin)
    try:
        check_password_strength(password, username=username)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    with _session(database_url) as session:
        user = create_user(
            session,
            username=username,
            password=password,
            role=role,
            display_name=display_name,
            department=department,
            created_by=actor,
        )
        click.echo(f"created user {user.username} ({user.role})")


@users.command("list")
@_database_url_option
def users_list(database_url: str | None) -> None:
    """List accounts: username, role, department, active, locked."""
    from store.users import list_users, lock_states

    with _session(database_url) as session:
        locks = lock_states(session)
        for user in list_users(session):
            lock = locks.get(user.id)
            locked = (
                f" locked for {lock.addresses} address(es) until {lock.until:%Y-%m-%d %H:%M} UTC"
                if lock and lock.until
                else ""
            )
            state = "active" if user.active else "inactive"
            click.echo(f"{user.username}\t{user.role}\t{user.department or '-'}\t{state}{locked}")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="read the password from one line of standard input")
@click.option("--actor", default="admin-cli", show_default=True, help="who is changing it, for the audit log")
@_database_url_option
def users_set_password(username: str, password_stdin: bool, actor: str, database_url: str | None) -> None:
    """Set a new password for USERNAME and clear its lockout."""
    from store.users import set_password

    password = _read_password(password_stdin)
    with _session(database_url) as session:
        set_password(session, username, password, changed_by=actor)
        click.echo(f"password of {username} changed")
