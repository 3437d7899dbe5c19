"""Accounts: no default password, argon2id hashes, password policy, sign-in with lockout."""

from __future__ import annotations

import datetime as dt
import inspect

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from store_factories import PASSWORD, make_user

import store.users
from store.db import session_scope
from store.errors import (
    AuthenticationError,
    DuplicateError,
    InvalidValueError,
    NotFoundError,
    WeakPasswordError,
)
from store.models import AuditEvent, User
from store.users import (
    authenticate,
    check_password_strength,
    create_user,
    get_user,
    list_users,
    set_password,
    update_user,
)

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def test_there_is_no_default_password() -> None:
    parameter = inspect.signature(create_user).parameters["password"]
    assert parameter.default is inspect.Parameter.empty
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY


def test_a_fresh_database_has_no_accounts(session: Session) -> None:
    assert list_users(session) == []


def test_passwords_are_stored_as_argon2id_hashes(session: Session) -> None:
    user = make_user(session)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert "password_hash" not in repr(user) and user.password_hash not in repr(user)
    other = make_user(session, "wang.fang", display_name="王芳")
    assert other.password_hash != user.password_hash  # salted


@pytest.mark.real_argon2
def test_production_hash_parameters() -> None:
    hasher = store.users.password_hasher()
    assert isinstance(hasher, PasswordHasher)
    assert (hasher.type.name, hasher.memory_cost, hasher.time_cost) == ("ID", 65536, 3)


# fmt: off
WEAK = [
    ("short1", "at least 12 are needed"),
    ("abcdefghijklmnop", "uses only one kind of character"),
    ("Password1234", "it is a well-known password"),
    ("li.ming-2026-spring", "it contains the username"),
    ("111111111111", "it repeats one character"),
    (" Lantern-river 2026", "starts or ends with whitespace"),
]
# fmt: on


@pytest.mark.parametrize(("password", "message"), WEAK, ids=[m.split(" ")[-1] for _, m in WEAK])
def test_weak_passwords_are_refused(session: Session, password: str, message: str) -> None:
    with pytest.raises(WeakPasswordError, match=message):
        create_user(session, username="li.ming", password=password, role="analyst", display_name="李明")
    assert session.scalar(select(User)) is None


def test_strong_passwords_pass_including_chinese_passphrases() -> None:
    check_password_strength("Lantern-river 2026")
    check_password_strength("春江潮水连海平，明月共潮生2026")


# fmt: off
BAD_ACCOUNTS = [
    ({"username": "Li Ming"}, "username 'Li Ming' is not allowed"),
    ({"role": "root"}, "role 'root' is not allowed; allowed: intake_officer, supervisor"),
    ({"role": "department_handler"}, "a department_handler needs a department code"),
    ({"department": "housing"}, "only department_handler accounts have a department"),
    ({"display_name": "  "}, "display_name is empty"),
]
# fmt: on


@pytest.mark.parametrize(
    ("changes", "message"), BAD_ACCOUNTS, ids=["username", "role", "handler", "dept", "name"]
)
def test_bad_accounts_are_refused(session: Session, changes: dict[str, str], message: str) -> None:
    fields = {
        "username": "li.ming",
        "password": PASSWORD,
        "role": "intake_officer",
        "display_name": "李明",
    } | changes
    with pytest.raises(InvalidValueError, match=message):
        create_user(session, **fields)


def test_usernames_are_unique(session: Session) -> None:
    make_user(session)
    with pytest.raises(DuplicateError, match="username 'li.ming' is taken"):
        make_user(session)


def test_department_handlers_have_a_department(session: Session) -> None:
    handler = make_user(
        session, "zhou.qiang", role="department_handler", department="housing", display_name="周强"
    )
    assert handler.department == "housing"
    moved = update_user(session, "zhou.qiang", changed_by="admin", role="supervisor")
    assert (moved.role, moved.department) == ("supervisor", None)


def test_sign_in(session: Session) -> None:
    make_user(session)
    result = authenticate(session, "li.ming", PASSWORD, now=T0)
    assert result.ok and result.user is not None and result.user.last_login_at == T0
    assert result.raise_for_failure().username == "li.ming"
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert actions == ["user_created", "login"]


def test_wrong_password_and_unknown_user_look_the_same(session: Session) -> None:
    make_user(session)
    wrong = authenticate(session, "li.ming", "not the password", now=T0)
    unknown = authenticate(session, "nobody", PASSWORD, now=T0)
    assert (wrong.outcome, unknown.outcome) == ("bad_credentials", "bad_credentials")
    for result in (wrong, unknown):
        with pytest.raises(AuthenticationError, match="wrong username or password, or the account is locked"):
            result.raise_for_failure()


def test_failures_lock_the_account_and_the_lock_expires(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as session:
        make_user(session)
    # each attempt in its own transaction, committed whatever the outcome, as the web app does
    for i in range(4):
        with session_scope(factory) as session:
            assert (
                authenticate(session, "li.ming", "guess", now=T0 + dt.timedelta(seconds=i)).outcome
                == "bad_credentials"
            )
    with session_scope(factory) as session:
        fifth = authenticate(session, "li.ming", "guess", now=T0 + dt.timedelta(seconds=5))
    assert fifth.outcome == "locked" and fifth.locked_until == T0 + dt.timedelta(seconds=5, minutes=15)
    with session_scope(factory) as session:
        # the right password does not help while locked
        assert (
            authenticate(session, "li.ming", PASSWORD, now=T0 + dt.timedelta(minutes=10)).outcome == "locked"
        )
        assert get_user(session, "li.ming").failed_logins == 5
    with session_scope(factory) as session:
        later = authenticate(session, "li.ming", PASSWORD, now=T0 + dt.timedelta(minutes=21))
        assert later.ok
    with session_scope(factory) as session:
        user = get_user(session, "li.ming")
        assert (user.failed_logins, user.locked_until) == (0, None)
        whys = [
            e.details.get("why")
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed"))
        ]
    assert whys == ["wrong_password"] * 4 + ["locked_now", "locked"]


def test_inactive_accounts_cannot_sign_in(session: Session) -> None:
    make_user(session)
    update_user(session, "li.ming", changed_by="admin", active=False)
    assert authenticate(session, "li.ming", PASSWORD).outcome == "inactive"


def test_set_password_checks_strength_and_clears_the_lock(session: Session) -> None:
    make_user(session)
    for _ in range(5):
        authenticate(session, "li.ming", "guess")
    with pytest.raises(WeakPasswordError):
        set_password(session, "li.ming", "short", changed_by="admin")
    set_password(session, "li.ming", "Another-strong 2027", changed_by="admin")
    assert authenticate(session, "li.ming", "Another-strong 2027").ok
    with pytest.raises(NotFoundError, match="user 'ghost' does not exist"):
        set_password(session, "ghost", "Another-strong 2027", changed_by="admin")
