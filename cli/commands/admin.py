"""Administration commands: ``xinfang db upgrade``, ``xinfang users add``.

Thin shells over ``store``: they parse options, open a session, call one store function and turn
``StoreError`` into a ``ClickException``. The database URL defaults to ``XINFANG_DATABASE_URL``
(``service.settings``) and can be given with ``--database-url``.
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
    from service.settings import get_settings

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


# store.models.ROLES, written out so that loading the command line does not load SQLAlchemy (a test
# keeps the two equal).
ROLE_CHOICES = (
    "intake_officer",
    "supervisor",
    "analyst",
    "administrator",
    "department_handler",
    "discipline_inspector",
)


def _catalogue_names() -> dict[str, str]:
    from routing.catalogue import load_catalogue
    from service.settings import get_settings

    try:
        return {d.code: d.name for d in load_catalogue(get_settings().departments_file).departments}
    except Exception:  # noqa: BLE001 - a listing should not fail for want of the catalogue: show codes
        return {}


def _role_name(role: str | None) -> str:
    from store.models import ROLE_NAMES

    return ROLE_NAMES.get(role or "", role or "—")


def _request_notice(request: Any) -> str:
    what = (
        f"开设{_role_name(request.role)}账户（{request.display_name}）"
        if request.kind == "create"
        else f"由{_role_name(request.previous_role)}改为{_role_name(request.role)}"
    )
    return (
        f"已提交第 {request.id} 号申请：为 {request.username} {what}。须由另一位科室负责人或纪检监察人员批准"
        f"后才生效：在工作台“角色审批”页，或运行 `xinfang users approve {request.id} --approver 用户名`"
    )


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLE_CHOICES), help="the account's role")
@click.option("--display-name", required=True, help="the name shown in the workbench")
@click.option("--department", default=None, help="department code (department_handler only)")
@click.option("--reason", default=None, help="why, for whoever approves a supervisor or inspector")
@click.option("--password-stdin", is_flag=True, help="read the password from one line of standard input")
@click.option("--actor", default="admin-cli", show_default=True, help="who is creating it, for the audit log")
@_database_url_option
def users_add(
    username: str,
    role: str,
    display_name: str,
    department: str | None,
    reason: str | None,
    password_stdin: bool,
    actor: str,
    database_url: str | None,
) -> None:
    """Create the account USERNAME; asks for its password (never taken as an option).

    A supervisor or discipline inspector may read accusations: such an account is a request that
    another supervisor or inspector approves. Only the installation's very first one is created
    at once (nobody could approve it yet), and its audit event says so.
    """
    from store.approvals import add_account
    from store.models import RoleRequest
    from store.users import check_password_strength

    password = _read_password(password_stdin)
    try:
        check_password_strength(password, username=username)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    with _session(database_url) as session:
        made = add_account(
            session,
            username=username,
            password=password,
            role=role,
            display_name=display_name,
            department=department,
            requested_by=actor,
            reason=reason,
            bootstrap=True,
        )
        if isinstance(made, RoleRequest):
            click.echo(_request_notice(made))
        else:
            click.echo(f"已创建账户 {made.username}（{_role_name(made.role)}）")


@users.command("list")
@_database_url_option
def users_list(database_url: str | None) -> None:
    """List accounts: username, role, department, active or deactivated, locked."""
    from store.users import list_users, lock_states

    names = _catalogue_names()
    with _session(database_url) as session:
        locks = lock_states(session)
        for user in list_users(session):
            lock = locks.get(user.id)
            locked = (
                f"\t已锁定（{lock.addresses} 个地址，至 {lock.until:%Y-%m-%d %H:%M} UTC）"
                if lock and lock.until
                else ""
            )
            state = "启用" if user.active else "已停用"
            department = names.get(user.department, user.department) if user.department else "—"
            click.echo(f"{user.username}\t{_role_name(user.role)}\t{department}\t{state}{locked}")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="read the password from one line of standard input")
@click.option("--actor", default="admin-cli", show_default=True, help="who is changing it, for the audit log")
@_database_url_option
def users_set_password(username: str, password_stdin: bool, actor: str, database_url: str | None) -> None:
    """Set a new password for USERNAME: its sessions end and its sign-in locks are lifted."""
    from store.users import set_password

    password = _read_password(password_stdin)
    with _session(database_url) as session:
        set_password(session, username, password, changed_by=actor)
        click.echo(f"已为 {username} 设置新密码；它原有的登录会话和令牌已全部失效")


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLE_CHOICES))
@click.option("--department", default=None, help="department code (department_handler only)")
@click.option("--reason", default=None, help="why, for whoever approves a supervisor or inspector")
@click.option("--actor", default="admin-cli", show_default=True, help="who is changing it, for the audit log")
@_database_url_option
def users_set_role(
    username: str, role: str, department: str | None, reason: str | None, actor: str, database_url: str | None
) -> None:
    """Give USERNAME the role ROLE; a supervisor's or inspector's is a request for approval."""
    from store.approvals import change_role
    from store.models import RoleRequest

    with _session(database_url) as session:
        made = change_role(
            session, username, role=role, department=department, changed_by=actor, reason=reason
        )
        if isinstance(made, RoleRequest):
            click.echo(_request_notice(made))
        else:
            click.echo(f"已将 {username} 的角色改为{_role_name(made.role)}")


@users.command("deactivate")
@click.argument("username")
@click.option("--actor", default="admin-cli", show_default=True, help="who deactivates it, for the audit log")
@_database_url_option
def users_deactivate(username: str, actor: str, database_url: str | None) -> None:
    """Deactivate USERNAME at once: it cannot sign in and its sessions and tokens end."""
    from store.users import deactivate_user

    with _session(database_url) as session:
        deactivate_user(session, username, actor=actor)
        click.echo(f"已停用账户 {username}；它的登录会话和令牌已全部失效")


@users.command("reactivate")
@click.argument("username")
@click.option("--actor", default="admin-cli", show_default=True, help="who reactivates it, for the audit log")
@_database_url_option
def users_reactivate(username: str, actor: str, database_url: str | None) -> None:
    """Let the deactivated account USERNAME sign in again."""
    from store.users import reactivate_user

    with _session(database_url) as session:
        reactivate_user(session, username, actor=actor)
        click.echo(f"已启用账户 {username}")


@users.command("unlock")
@click.argument("username")
@click.option("--actor", default="admin-cli", show_default=True, help="who unlocks it, for the audit log")
@_database_url_option
def users_unlock(username: str, actor: str, database_url: str | None) -> None:
    """Lift USERNAME's sign-in locks from every address."""
    from store.users import unlock_user

    with _session(database_url) as session:
        cleared = unlock_user(session, username, actor=actor)
        click.echo(f"已解除 {username} 的登录锁定（涉及 {cleared} 个地址）")


@users.command("requests")
@click.option("--all", "show_all", is_flag=True, help="decided requests too, not only pending ones")
@_database_url_option
def users_requests(show_all: bool, database_url: str | None) -> None:
    """List requests for a role that may read accusations (pending ones unless --all)."""
    from store.approvals import list_requests

    states = {"pending": "待批准", "approved": "已批准", "refused": "已拒绝"}
    with _session(database_url) as session:
        rows = list_requests(session, status=None if show_all else "pending")
        if not rows:
            click.echo("没有待批准的角色申请" if not show_all else "没有角色申请")
        for r in rows:
            what = (
                f"新开{_role_name(r.role)}账户（{r.display_name}）"
                if r.kind == "create"
                else f"由{_role_name(r.previous_role)}改为{_role_name(r.role)}"
            )
            decided = f"\t{r.decided_by}" if r.decided_by else ""
            click.echo(
                f"{r.id}\t{r.username}\t{what}\t申请人 {r.requested_by}\t{r.requested_at:%Y-%m-%d %H:%M} UTC"
                f"\t{states[r.status]}{decided}\t{r.reason or ''}"
            )


def _approver_signs_in(session: Session, approver: str, password_stdin: bool) -> None:
    # The approver proves who they are with their own password: --approver alone would let whoever
    # runs this command approve in anyone's name.
    from store.users import authenticate

    if password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise click.ClickException("给出了 --password-stdin，但标准输入为空")
        password = line.rstrip("\r\n")
    else:
        password = click.prompt(f"{approver} 的密码", hide_input=True)
    result = authenticate(session, approver, password, address="command line")
    session.commit()  # the attempt is audited and counted whatever its outcome
    if not result.ok:
        raise click.ClickException(f"{approver} 的密码不对，或账户已被锁定、停用；未做任何审批")


@users.command("approve")
@click.argument("request_id", type=int)
@click.option("--approver", required=True, help="the supervisor or discipline inspector approving it")
@click.option("--password-stdin", is_flag=True, help="read the approver's password from standard input")
@_database_url_option
def users_approve(request_id: int, approver: str, password_stdin: bool, database_url: str | None) -> None:
    """Approve role request REQUEST_ID as APPROVER (asks for the approver's password)."""
    from store.approvals import approve

    with _session(database_url) as session:
        _approver_signs_in(session, approver, password_stdin)
        user = approve(session, request_id, approver=approver)
        click.echo(f"已批准第 {request_id} 号申请：{user.username} 现在是{_role_name(user.role)}")


@users.command("refuse")
@click.argument("request_id", type=int)
@click.option("--approver", required=True, help="the supervisor or discipline inspector refusing it")
@click.option("--reason", required=True, help="why it is refused (kept in the audit log)")
@click.option("--password-stdin", is_flag=True, help="read the approver's password from standard input")
@_database_url_option
def users_refuse(
    request_id: int, approver: str, reason: str, password_stdin: bool, database_url: str | None
) -> None:
    """Refuse role request REQUEST_ID as APPROVER (asks for the approver's password)."""
    from store.approvals import refuse

    with _session(database_url) as session:
        _approver_signs_in(session, approver, password_stdin)
        refuse(session, request_id, refuser=approver, answer=reason)
        click.echo(f"已拒绝第 {request_id} 号申请")
