"""Users: accounts without default passwords, argon2id hashes, and sign-in with lockout.

There is no built-in account. The first administrator is created with ``xinfang users add``,
which asks for the password; no function here has a default password.

Sign-in failures are counted per account: after ``max_failures`` consecutive failures the account
is locked for ``lockout`` (both parameters of ``authenticate``); once the lock has expired, the
next wrong password locks it again, and only a successful sign-in resets the count. ``authenticate`` returns a
``LoginResult`` instead of raising, because the failure counters and the ``login_failed`` audit
event must be committed even when the sign-in is refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import case, literal, select, update
from sqlalchemy.orm import Session

from store.audit import append_event, lock_audit_head
from store.errors import (
    AuthenticationError,
    DuplicateError,
    InvalidValueError,
    NotFoundError,
    WeakPasswordError,
)
from store.models import ROLES, User, UTCDateTime

USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
MIN_PASSWORD_LENGTH = 12
DEFAULT_MAX_FAILURES = 5
DEFAULT_LOCKOUT = dt.timedelta(minutes=15)
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


def check_password_strength(password: str, *, username: str | None = None) -> None:
    """Refuse weak passwords.

    The policy: at least 12 characters; at least two of letters, digits and other characters
    (Chinese characters count as other); not a well-known password; not containing the username;
    not one character repeated.

    Raises:
        WeakPasswordError: listing every rule the password breaks.
    """
    problems: list[str] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"it has {len(password)} characters, at least {MIN_PASSWORD_LENGTH} are needed")
    classes = sum(
        (
            any(c.isascii() and c.isalpha() for c in password),
            any(c.isdigit() for c in password),
            any(not (c.isascii() and c.isalnum()) for c in password),
        )
    )
    if classes < 2:
        problems.append("it uses only one kind of character; mix letters, digits and other characters")
    if password.lower() in _COMMON_PASSWORDS:
        problems.append("it is a well-known password")
    if username and len(username) >= 3 and username.lower() in password.lower():
        problems.append("it contains the username")
    if password and len(set(password)) == 1:
        problems.append("it repeats one character")
    if password != password.strip():
        problems.append("it starts or ends with whitespace")
    if problems:
        raise WeakPasswordError(problems)


def _check_username(username: str) -> str:
    if not USERNAME_RE.match(username):
        raise InvalidValueError(
            f"username {username!r} is not allowed: use 3-64 lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter (e.g. li.ming)"
        )
    return username


def _check_role(role: str, department: str | None) -> None:
    if role not in ROLES:
        raise InvalidValueError(f"role {role!r} is not allowed; allowed: {', '.join(ROLES)}")
    if role == "department_handler" and not department:
        raise InvalidValueError(
            "a department_handler needs a department code (the department they handle for)"
        )
    if role != "department_handler" and department:
        raise InvalidValueError(
            f"only department_handler accounts have a department; role {role!r} was given "
            f"department {department!r}"
        )


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
) -> User:
    """Create an account. There is no default password: the caller must supply a strong one.

    Args:
        session: the open session.
        username: 3-64 lowercase letters, digits, ``.``, ``_`` or ``-``.
        password: checked by ``check_password_strength``; stored only as an argon2id hash.
        role: one of ``ROLES``.
        display_name: the name shown in the workbench.
        department: department code; required for (and only for) ``department_handler``.
        created_by: who created it, for the audit log.
        now: creation time (aware); defaults to now.

    Raises:
        InvalidValueError: bad username, role, department or display name.
        WeakPasswordError: the password breaks the policy.
        DuplicateError: the username is taken.
    """
    _check_username(username)
    _check_role(role, department)
    display_name = display_name.strip()
    if not display_name:
        raise InvalidValueError("display_name is empty; give the name shown in the workbench")
    check_password_strength(password, username=username)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise DuplicateError(f"username {username!r} is taken; choose another or update the existing account")
    now = now or dt.datetime.now(dt.UTC)
    password_hash = password_hasher().hash(password)
    lock_audit_head(session)  # before the insert: one lock order for every auditing transaction
    user = User(
        username=username,
        display_name=display_name,
        role=role,
        department=department,
        password_hash=password_hash,
        active=True,
        created_at=now,
        password_changed_at=now,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    append_event(
        session,
        actor=created_by,
        action="user_created",
        object=f"user:{username}",
        details={"role": role, "department": department},
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
        raise NotFoundError(f"user {username!r} does not exist; create it with `xinfang users add`")
    return user


def list_users(session: Session, *, role: str | None = None, active: bool | None = None) -> list[User]:
    """Accounts, by username, optionally only one role or only (in)active ones."""
    stmt = select(User).order_by(User.username)
    if role is not None:
        _check_role(role, "x" if role == "department_handler" else None)
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.active == active)
    return list(session.scalars(stmt))


def set_password(
    session: Session, username: str, password: str, *, changed_by: str, now: dt.datetime | None = None
) -> User:
    """Replace a user's password (strength-checked) and clear their lockout."""
    user = get_user(session, username)
    check_password_strength(password, username=username)
    now = now or dt.datetime.now(dt.UTC)
    password_hash = password_hasher().hash(password)
    lock_audit_head(session)
    user.password_hash = password_hash
    user.password_changed_at = now
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    append_event(
        session,
        actor=changed_by,
        action="user_updated",
        object=f"user:{username}",
        details={"password": "changed"},
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

    When the role changes away from ``department_handler`` the department is cleared.
    """
    user = get_user(session, username)
    new_role = role if role is not None else user.role
    new_department = department if department is not None else user.department
    if new_role != "department_handler" and role is not None and department is None:
        new_department = None
    _check_role(new_role, new_department)
    changes: dict[str, object] = {}
    if new_role != user.role:
        changes["role"] = new_role
    if new_department != user.department:
        changes["department"] = new_department
    if display_name is not None and display_name.strip() != user.display_name:
        if not display_name.strip():
            raise InvalidValueError("display_name is empty; give the name shown in the workbench")
        changes["display_name"] = display_name.strip()
    if active is not None and active != user.active:
        changes["active"] = active
    if changes:
        lock_audit_head(session)
    for key, value in changes.items():
        setattr(user, key, value)
    session.flush()
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


LoginOutcome = Literal["ok", "bad_credentials", "locked", "inactive"]


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
        raise AuthenticationError(
            "sign-in refused: wrong username or password, or the account is locked or deactivated. "
            "Try again later or ask an administrator."
        )


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    max_failures: int = DEFAULT_MAX_FAILURES,
    lockout: dt.timedelta = DEFAULT_LOCKOUT,
    now: dt.datetime | None = None,
) -> LoginResult:
    """Check a username and password, count failures, lock after too many, and audit the attempt.

    Commit the session afterwards whatever the outcome: the counters and the ``login`` /
    ``login_failed`` event are part of the result.

    Args:
        session: the open session.
        username: as typed.
        password: as typed.
        max_failures: consecutive failures that lock the account.
        lockout: how long a locked account stays locked.
        now: the attempt's time (aware); defaults to now.

    Returns:
        ``LoginResult``; ``result.ok`` is True only for a correct password on an active, unlocked account.
    """
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    hasher = password_hasher()
    # No row lock while verifying: argon2 is deliberately slow and other sign-ins must not queue
    # behind it. The counters are changed afterwards with one atomic UPDATE.
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        # Spend the same time as for a real account, so timing does not reveal which usernames exist.
        _dummy_verify(hasher, password)
        _audit_failure(session, username[:64] or "(empty)", "unknown_user", now)
        return LoginResult("bad_credentials")
    if user.locked_until is not None and user.locked_until > now:
        _audit_failure(session, user.username, "locked", now)
        return LoginResult("locked", user=user, locked_until=user.locked_until)
    try:
        hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        lock_audit_head(session)  # lock order: audit head first, then the user row
        # Counted on the row as it is now, so concurrent wrong guesses all count.
        _, locked_until = session.execute(
            update(User)
            .where(User.id == user.id)
            .values(
                failed_logins=User.failed_logins + 1,
                last_failed_at=now,
                locked_until=case(
                    (User.failed_logins + 1 >= max_failures, literal(now + lockout, UTCDateTime())),
                    else_=None,
                ),
            )
            .returning(User.failed_logins, User.locked_until)
            .execution_options(synchronize_session=False)
        ).one()
        session.expire(user, ["failed_logins", "last_failed_at", "locked_until"])
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
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.flush()
    append_event(session, actor=user.username, action="login", object=f"user:{user.username}", at=now)
    return LoginResult("ok", user=user)


_DUMMY_HASH: list[str] = []


def _dummy_verify(hasher: PasswordHasher, password: str) -> None:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hasher.hash("not a real account: timing equaliser"))
    with contextlib.suppress(VerificationError):
        hasher.verify(_DUMMY_HASH[0], password)


def _audit_failure(session: Session, actor: str, why: str, now: dt.datetime) -> None:
    append_event(
        session, actor=actor, action="login_failed", object=f"user:{actor}", details={"why": why}, at=now
    )
