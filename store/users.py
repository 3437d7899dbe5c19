"""Users: accounts without default passwords, argon2id hashes, and sign-in with throttling.

There is no built-in account. The first administrator is created with ``xinfang users add``,
which asks for the password; no function here has a default password.

Sign-in (``authenticate``) checks a password hash exactly once whatever the outcome (unknown user,
wrong password, locked or deactivated account), so the answer takes the same time and timing does
not tell which usernames exist. Failures are counted per account *and* client address
(``LoginThrottle``): after ``max_failures`` consecutive failures from one address the account is
locked for that address only, for ``lockout``, doubled with every further failure after a lock
(up to ``lockout_max``). Someone guessing from one address therefore cannot lock an officer (or
the administrator) out from their own desk. A successful sign-in from the address, an
administrator's unlock (``unlock_user``) or a new password clears it. ``authenticate`` returns a
``LoginResult`` instead of raising, because the counters and the ``login_failed`` audit event must
be committed even when the sign-in is refused.

Roles that may read accusations (``APPROVAL_ROLES``) are never given by one person alone: see
``store.approvals``. ``create_user`` and ``update_user`` are the primitives beneath it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from store._sql import insert_ignore
from store.audit import append_event, lock_audit_head
from store.errors import (
    AuthenticationError,
    DuplicateError,
    InvalidStateError,
    InvalidValueError,
    NotAllowedError,
    NotFoundError,
    WeakPasswordError,
)
from store.models import ROLE_NAMES, ROLES, LoginThrottle, RoleRequest, User
from store.sessions import end_sessions

USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 12
DEFAULT_MAX_FAILURES = 5
DEFAULT_LOCKOUT = dt.timedelta(minutes=1)
DEFAULT_LOCKOUT_MAX = dt.timedelta(hours=1)
# The roles that may read accusations and who accused (service.access.CONFIDENTIAL_READERS; a test keeps
# the two equal). Giving one takes a second person's approval, and only holders of one may approve.
APPROVAL_ROLES: frozenset[str] = frozenset({"supervisor", "discipline_inspector"})
# Passwords people choose first; a length rule alone lets these through.
_COMMON_PASSWORDS = frozenset(
    {
        "password1234",
        "passw0rd1234",
        "123456789012",
        "1234567890ab",
        "qwertyuiop12",
        "qwerty123456",
        "administrator",
        "admin1234567",
        "iloveyou1234",
        "abc123456789",
        "woaini1314520",
        "a1234567890b",
        "changeme1234",
        "welcome12345",
        "xinfang12345",
        "xinfang123456",
    }
)


@lru_cache(maxsize=1)
def password_hasher() -> PasswordHasher:
    """The argon2id hasher (argon2-cffi's RFC 9106 low-memory profile, its default)."""
    return PasswordHasher()


def role_name(role: str) -> str:
    """The role as officers call it (科室负责人), for messages."""
    return ROLE_NAMES.get(role, role)


def check_password_strength(password: str, *, username: str | None = None) -> None:
    """Refuse weak passwords.

    The policy: at least 12 characters; at least two of letters, digits and other characters
    (Chinese characters count as other); not a well-known password; not containing the username;
    not one character repeated; no whitespace at either end.

    Raises:
        WeakPasswordError: listing every rule the password breaks, each saying exactly what is wrong.
    """
    problems: list[str] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"只有 {len(password)} 个字符，至少需要 {MIN_PASSWORD_LENGTH} 个")
    classes = sum(
        (
            any(c.isascii() and c.isalpha() for c in password),
            any(c.isdigit() for c in password),
            any(not (c.isascii() and c.isalnum()) for c in password),
        )
    )
    if classes < 2:
        problems.append("只用了一类字符，请混用字母、数字和其他字符（汉字、标点、空格都算其他字符）")
    if password.lower() in _COMMON_PASSWORDS:
        problems.append("这是常见密码，容易被猜中")
    if username and username.lower() in password.lower():
        problems.append(f"包含了用户名“{username}”，请去掉它")
    if password and len(set(password)) == 1:
        problems.append("只重复了同一个字符")
    if password != password.strip():
        problems.append("开头或结尾有空白字符")
    if problems:
        raise WeakPasswordError(problems)


def check_username(username: str) -> str:
    """``username`` if it is allowed, else ``InvalidValueError`` saying what an allowed one looks like."""
    if not USERNAME_RE.match(username):
        raise InvalidValueError(
            f"用户名“{username}”不可用：请用 2 至 64 个小写字母、数字或 . _ -，并以字母开头"
            "（例如 li、wu 或 li.ming）"
        )
    return username


def check_role(role: str, department: str | None) -> None:
    """Refuse an unknown role, a handler without a department, or a department on another role."""
    if role not in ROLES:
        raise InvalidValueError(
            f"没有“{role}”这个角色；可选的角色：{'、'.join(ROLE_NAMES[r] for r in ROLES)}"
        )
    if role == "department_handler" and not department:
        raise InvalidValueError("承办单位人员必须指定所属部门，请选择其承办的部门")
    if role != "department_handler" and department:
        raise InvalidValueError(
            f"只有承办单位人员的账户有所属部门；{role_name(role)}不能指定部门，请把部门留空"
        )


def check_display_name(display_name: str) -> str:
    display_name = display_name.strip()
    if not display_name:
        raise InvalidValueError("姓名为空，请填写在工作台上显示的姓名")
    return display_name


def username_taken(session: Session, username: str) -> bool:
    """Is the name an account's, or that of a new account waiting for approval?"""
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        return True
    pending = select(RoleRequest.id).where(
        RoleRequest.username == username, RoleRequest.kind == "create", RoleRequest.status == "pending"
    )
    return session.scalar(pending) is not None


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str,
    department: str | None = None,
    created_by: str = "system",
    now: dt.datetime | None = None,
    audit_details: dict[str, object] | None = None,
) -> User:
    """Create an account. There is no default password: the caller must supply a strong one.

    This is the primitive: it gives any role, including one that may read accusations. The shells
    (API, pages, CLI) go through ``store.approvals.add_account``, which sends those roles for a
    second person's approval.

    Args:
        session: the open session.
        username: 2-64 lowercase letters, digits, ``.``, ``_`` or ``-``, starting with a letter.
        password: checked by ``check_password_strength``; stored only as an argon2id hash.
        role: one of ``ROLES``.
        display_name: the name shown in the workbench.
        department: department code; required for (and only for) ``department_handler``.
        created_by: who created it, for the audit log.
        now: creation time (aware); defaults to now.
        audit_details: more to record in the ``user_created`` event (how it was approved, say).

    Raises:
        InvalidValueError: bad username, role, department or display name.
        WeakPasswordError: the password breaks the policy.
        DuplicateError: the username is taken.
    """
    check_username(username)
    check_role(role, department)
    display_name = check_display_name(display_name)
    check_password_strength(password, username=username)
    password_hash = password_hasher().hash(password)
    return insert_user(
        session,
        username=username,
        password_hash=password_hash,
        role=role,
        display_name=display_name,
        department=department,
        created_by=created_by,
        now=now,
        audit_details=audit_details,
    )


def insert_user(
    session: Session,
    *,
    username: str,
    password_hash: str,
    role: str,
    display_name: str,
    department: str | None,
    created_by: str,
    now: dt.datetime | None = None,
    audit_details: dict[str, object] | None = None,
) -> User:
    """Insert an account whose values were checked and whose password is already hashed; audited."""
    now = now or dt.datetime.now(dt.UTC)
    lock_audit_head(session)  # before the insert: one lock order for every auditing transaction
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise DuplicateError(f"用户名“{username}”已被占用，请换一个，或修改已有的账户")
    user = User(
        username=username,
        display_name=display_name,
        role=role,
        department=department,
        password_hash=password_hash,
        active=True,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    append_event(
        session,
        actor=created_by,
        action="user_created",
        object=f"user:{username}",
        details={"role": role, "department": department} | (audit_details or {}),
        at=now,
    )
    return user


def get_user(session: Session, username: str) -> User:
    """The account named ``username``.

    Raises:
        NotFoundError: no such account.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"没有用户名为“{username}”的账户；请核对用户名，或先用 `xinfang users add` 创建")
    return user


def list_users(session: Session, *, role: str | None = None, active: bool | None = None) -> list[User]:
    """Accounts, by username, optionally only one role or only (in)active ones."""
    stmt = select(User).order_by(User.username)
    if role is not None:
        check_role(role, "x" if role == "department_handler" else None)
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.active == active)
    return list(session.scalars(stmt))


def set_password(
    session: Session, username: str, password: str, *, changed_by: str, now: dt.datetime | None = None
) -> User:
    """Replace a user's password (strength-checked), end their sessions and clear their locks.

    Every session ends, so whoever knew the old password (or holds a copied cookie) is signed out.
    Audited as ``password_reset`` when someone else set it.
    """
    user = get_user(session, username)
    check_password_strength(password, username=username)
    now = now or dt.datetime.now(dt.UTC)
    password_hash = password_hasher().hash(password)
    lock_audit_head(session)
    user.password_hash = password_hash
    user.password_changed_at = now
    session.flush()
    ended = end_sessions(session, user.id, why="password_changed", now=now)
    session.execute(delete(LoginThrottle).where(LoginThrottle.user_id == user.id))
    append_event(
        session,
        actor=changed_by,
        action="password_reset" if changed_by != username else "user_updated",
        object=f"user:{username}",
        details={"password": "changed", "sessions_ended": ended},
        at=now,
    )
    return user


def update_user(
    session: Session,
    username: str,
    *,
    changed_by: str,
    role: str | None = None,
    department: str | None = None,
    display_name: str | None = None,
    active: bool | None = None,
    now: dt.datetime | None = None,
) -> User:
    """Change an account's role, department, display name or active flag (None leaves a field as is).

    When the role changes away from ``department_handler`` the department is cleared. Deactivating
    ends the account's sessions.

    Raises:
        NotAllowedError: the new role may read accusations; that takes a second person's approval
            (``store.approvals.change_role``).
    """
    user = get_user(session, username)
    new_role = role if role is not None else user.role
    new_department = department if department is not None else user.department
    if new_role != "department_handler" and role is not None and department is None:
        new_department = None
    check_role(new_role, new_department)
    if new_role != user.role and new_role in APPROVAL_ROLES:
        raise NotAllowedError(
            f"把“{username}”改为{role_name(new_role)}需要第二人批准：请提交角色申请，"
            "由另一位科室负责人或纪检监察人员批准后生效"
        )
    changes: dict[str, object] = {}
    if new_role != user.role:
        changes["role"] = new_role
    if new_department != user.department:
        changes["department"] = new_department
    if display_name is not None and display_name.strip() != user.display_name:
        changes["display_name"] = check_display_name(display_name)
    if active is not None and active != user.active:
        changes["active"] = active
    if changes:
        lock_audit_head(session)
    for key, value in changes.items():
        setattr(user, key, value)
    session.flush()
    if changes.get("active") is False:
        end_sessions(session, user.id, why="deactivated", now=now)
    if changes:
        append_event(
            session,
            actor=changed_by,
            action="user_updated",
            object=f"user:{username}",
            details={k: v for k, v in changes.items() if k != "display_name"}
            | ({"display_name": "changed"} if "display_name" in changes else {}),
            at=now,
        )
    return user


def deactivate_user(session: Session, username: str, *, actor: str, now: dt.datetime | None = None) -> User:
    """Deactivate an account at once: it cannot sign in and every session of it ends.

    Raises:
        NotAllowedError: ``actor`` is the account itself (an administrator could otherwise lock the
            office out of account management by mistake).
        InvalidStateError: the account is already deactivated.
    """
    if actor == username:
        raise NotAllowedError("不能停用自己的账户；请另一位系统管理员停用")
    user = get_user(session, username)
    if not user.active:
        raise InvalidStateError(f"账户“{username}”已经停用；要恢复请用“启用”")
    now = now or dt.datetime.now(dt.UTC)
    lock_audit_head(session)
    user.active = False
    session.flush()
    ended = end_sessions(session, user.id, why="deactivated", now=now)
    append_event(
        session,
        actor=actor,
        action="user_deactivated",
        object=f"user:{username}",
        details={"sessions_ended": ended},
        at=now,
    )
    return user


def reactivate_user(session: Session, username: str, *, actor: str, now: dt.datetime | None = None) -> User:
    """Let a deactivated account sign in again (with its old password; reset it if in doubt).

    Raises:
        InvalidStateError: the account is active.
    """
    user = get_user(session, username)
    if user.active:
        raise InvalidStateError(f"账户“{username}”本来就是启用状态")
    now = now or dt.datetime.now(dt.UTC)
    lock_audit_head(session)
    user.active = True
    session.flush()
    append_event(session, actor=actor, action="user_reactivated", object=f"user:{username}", at=now)
    return user


def unlock_user(session: Session, username: str, *, actor: str, now: dt.datetime | None = None) -> int:
    """Lift every sign-in lock and failure count of an account, from every address.

    Returns:
        How many addresses had failures or a lock.
    """
    user = get_user(session, username)
    now = now or dt.datetime.now(dt.UTC)
    lock_audit_head(session)
    result = session.execute(delete(LoginThrottle).where(LoginThrottle.user_id == user.id))
    cleared = int(result.rowcount or 0)  # type: ignore[attr-defined]
    append_event(
        session,
        actor=actor,
        action="user_unlocked",
        object=f"user:{username}",
        details={"addresses": cleared},
        at=now,
    )
    return cleared


@dataclass(frozen=True)
class LockState:
    """An account's sign-in locks in force now, for the administrators' list."""

    addresses: int
    until: dt.datetime | None


def lock_states(session: Session, *, now: dt.datetime | None = None) -> dict[int, LockState]:
    """user id -> the locks in force now (accounts without one are absent)."""
    now = now or dt.datetime.now(dt.UTC)
    rows = session.execute(
        select(LoginThrottle.user_id, func.count(), func.max(LoginThrottle.locked_until))
        .where(LoginThrottle.locked_until > now)
        .group_by(LoginThrottle.user_id)
    ).all()
    return {int(user_id): LockState(addresses=int(n), until=until) for user_id, n, until in rows}


LoginOutcome = Literal["ok", "bad_credentials", "locked", "inactive"]
LOGIN_REFUSED = "登录失败：用户名或密码错误，或账户已被锁定、停用。请稍后再试，或联系系统管理员。"


@dataclass(frozen=True)
class LoginResult:
    """What a sign-in attempt came to. Show users one message for every failure."""

    outcome: LoginOutcome
    user: User | None = None
    locked_until: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def raise_for_failure(self) -> User:
        """The signed-in user, or ``AuthenticationError`` with the one message for every failure."""
        if self.outcome == "ok" and self.user is not None:
            return self.user
        raise AuthenticationError(LOGIN_REFUSED)


def lock_duration(
    failures: int, *, max_failures: int, lockout: dt.timedelta, lockout_max: dt.timedelta
) -> dt.timedelta | None:
    """How long ``failures`` consecutive failures lock the account for their address (None: not locked).

    ``lockout`` at the ``max_failures``-th failure, doubled at each one after, never over ``lockout_max``.
    """
    if failures < max_failures:
        return None
    doublings = min(failures - max_failures, 30)  # 2**30 lockouts is beyond any sane cap already
    longer: dt.timedelta = lockout * (2**doublings)
    return min(longer, lockout_max)


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    address: str = "unknown",
    max_failures: int = DEFAULT_MAX_FAILURES,
    lockout: dt.timedelta = DEFAULT_LOCKOUT,
    lockout_max: dt.timedelta = DEFAULT_LOCKOUT_MAX,
    now: dt.datetime | None = None,
) -> LoginResult:
    """Check a username and password, count failures per account and address, and audit the attempt.

    Commit the session afterwards whatever the outcome: the counters and the ``login`` /
    ``login_failed`` event are part of the result.

    Args:
        session: the open session.
        username: as typed.
        password: as typed.
        address: the client's address; failures and locks are kept per account and address.
        max_failures: consecutive failures from one address that lock the account for it.
        lockout: how long the first lock lasts; each further failure after it doubles it.
        lockout_max: the longest lock.
        now: the attempt's time (aware); defaults to now.

    Returns:
        ``LoginResult``; ``result.ok`` is True only for a correct password on an active account
        not locked for ``address``.
    """
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    address = address[:64] or "unknown"
    hasher = password_hasher()
    dummy = _dummy_hash(hasher)
    # No row lock while verifying: argon2 is deliberately slow and other sign-ins must not queue
    # behind it. The counters are changed afterwards with atomic statements.
    user = session.scalar(select(User).where(User.username == username))
    throttle = (
        session.get(LoginThrottle, (user.id, address), populate_existing=True) if user is not None else None
    )
    # Exactly one hash check whatever follows (unknown user, locked, deactivated, wrong password):
    # answering a locked account or an unknown name sooner would tell which names exist.
    correct = _verify(hasher, user.password_hash if user is not None else dummy, password)
    if user is None:
        _audit_failure(session, username[:64] or "(empty)", "unknown_user", now)
        return LoginResult("bad_credentials")
    if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
        # Not counted: the address is already held off, and counting would only lengthen its own lock.
        _audit_failure(session, user.username, "locked", now)
        return LoginResult("locked", user=user, locked_until=throttle.locked_until)
    if not correct:
        locked_until = _count_failure(
            session, user, address, now, max_failures=max_failures, lockout=lockout, lockout_max=lockout_max
        )
        _audit_failure(session, user.username, "locked_now" if locked_until else "wrong_password", now)
        if locked_until is not None:
            return LoginResult("locked", user=user, locked_until=locked_until)
        return LoginResult("bad_credentials", user=user)
    if not user.active:
        _audit_failure(session, user.username, "inactive", now)
        return LoginResult("inactive", user=user)
    new_hash = hasher.hash(password) if hasher.check_needs_rehash(user.password_hash) else None
    lock_audit_head(session)
    if new_hash is not None:
        user.password_hash = new_hash
    user.last_login_at = now
    session.execute(
        delete(LoginThrottle).where(LoginThrottle.user_id == user.id, LoginThrottle.address == address)
    )
    session.flush()
    append_event(session, actor=user.username, action="login", object=f"user:{user.username}", at=now)
    return LoginResult("ok", user=user)


def _count_failure(
    session: Session,
    user: User,
    address: str,
    now: dt.datetime,
    *,
    max_failures: int,
    lockout: dt.timedelta,
    lockout_max: dt.timedelta,
) -> dt.datetime | None:
    lock_audit_head(session)  # lock order: audit head first, then the throttle row
    session.execute(
        insert_ignore(
            session,
            LoginThrottle,
            {"user_id": user.id, "address": address, "failures": 0, "last_failed_at": now},
            ["user_id", "address"],
        )
    )
    # Counted on the row as it is now, so concurrent wrong guesses all count.
    where = (LoginThrottle.user_id == user.id, LoginThrottle.address == address)
    failures = session.execute(
        update(LoginThrottle)
        .where(*where)
        .values(failures=LoginThrottle.failures + 1, last_failed_at=now)
        .returning(LoginThrottle.failures)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    duration = lock_duration(failures, max_failures=max_failures, lockout=lockout, lockout_max=lockout_max)
    locked_until = now + duration if duration is not None else None
    session.execute(
        update(LoginThrottle)
        .where(*where)
        .values(locked_until=locked_until)
        .execution_options(synchronize_session=False)
    )
    return locked_until


_DUMMY_HASH: dict[tuple[object, ...], str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    # A hash with the hasher's own parameters, made once, so that checking it costs what checking a
    # real account's hash costs.
    key = (hasher.type, hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if key not in _DUMMY_HASH:
        _DUMMY_HASH[key] = hasher.hash("not a real account: timing equaliser")
    return _DUMMY_HASH[key]


def _verify(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return bool(hasher.verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _audit_failure(session: Session, actor: str, why: str, now: dt.datetime) -> None:
    append_event(
        session, actor=actor, action="login_failed", object=f"user:{actor}", details={"why": why}, at=now
    )
