"""Accounts: no default password, argon2id hashes, password policy, sign-in with per-address locks,
and what administrators do to accounts (deactivate, reactivate, unlock, reset the password)."""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

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
    InvalidStateError,
    InvalidValueError,
    NotAllowedError,
    NotFoundError,
    WeakPasswordError,
)
from store.models import AuditEvent, LoginThrottle, User
from store.sessions import open_session, session_user
from store.users import (
    authenticate,
    check_password_strength,
    create_user,
    deactivate_user,
    get_user,
    list_users,
    lock_duration,
    lock_states,
    reactivate_user,
    set_password,
    unlock_user,
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
    ("short1", "只有 6 个字符，至少需要 12 个"),
    ("abcdefghijklmnop", "只用了一类字符"),
    ("Password1234", "这是常见密码"),
    ("li.ming-2026-spring", "包含了用户名“li.ming”"),
    ("111111111111", "只重复了同一个字符"),
    (" Lantern-river 2026", "开头或结尾有空白字符"),
]
# fmt: on


@pytest.mark.parametrize(
    ("password", "message"), WEAK, ids=["short", "one_kind", "common", "name", "repeat", "space"]
)
def test_weak_passwords_are_refused(session: Session, password: str, message: str) -> None:
    with pytest.raises(WeakPasswordError, match=message):
        create_user(session, username="li.ming", password=password, role="analyst", display_name="李明")
    assert session.scalar(select(User)) is None


def test_the_password_message_names_only_what_is_wrong(session: Session) -> None:
    # Long enough and mixed: the only fault is the username, and the message says so, not "longer".
    with pytest.raises(WeakPasswordError) as refused:
        create_user(
            session, username="wu", password="Wu-jiang 2026 chun", role="analyst", display_name="吴江"
        )
    assert refused.value.problems == ["包含了用户名“wu”，请去掉它"]
    assert "至少需要" not in str(refused.value) and str(refused.value).startswith("密码不符合要求：")


def test_strong_passwords_pass_including_chinese_passphrases() -> None:
    check_password_strength("Lantern-river 2026")
    check_password_strength("春江潮水连海平，明月共潮生2026")


@pytest.mark.parametrize("username", ["li", "wu", "li.ming"])
def test_two_letter_pinyin_usernames_are_accepted(session: Session, username: str) -> None:
    user = make_user(session, username)
    assert user.username == username


# fmt: off
BAD_ACCOUNTS = [
    ({"username": "Li Ming"}, "用户名“Li Ming”不可用：请用 2 至 64 个小写字母"),
    ({"username": "l"}, "用户名“l”不可用"),
    ({"role": "root"}, "没有“root”这个角色；可选的角色：接待／办信人员、科室负责人"),
    ({"role": "department_handler"}, "承办单位人员必须指定所属部门"),
    ({"department": "housing"}, "接待／办信人员不能指定部门"),
    ({"display_name": "  "}, "姓名为空"),
]
# fmt: on


@pytest.mark.parametrize(
    ("changes", "message"), BAD_ACCOUNTS, ids=["username", "one_letter", "role", "handler", "dept", "name"]
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
    with pytest.raises(DuplicateError, match="用户名“li.ming”已被占用"):
        make_user(session)


def test_department_handlers_have_a_department(session: Session) -> None:
    handler = make_user(
        session, "zhou.qiang", role="department_handler", department="housing", display_name="周强"
    )
    assert handler.department == "housing"
    moved = update_user(session, "zhou.qiang", changed_by="admin", role="analyst")
    assert (moved.role, moved.department) == ("analyst", None)


def test_update_user_never_gives_a_role_that_reads_accusations(session: Session) -> None:
    make_user(session)
    for role in ("supervisor", "discipline_inspector"):
        with pytest.raises(NotAllowedError, match="需要第二人批准"):
            update_user(session, "li.ming", changed_by="admin", role=role)
    assert get_user(session, "li.ming").role == "intake_officer"


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
        with pytest.raises(AuthenticationError, match="用户名或密码错误，或账户已被锁定、停用"):
            result.raise_for_failure()


class CountingHasher:
    """The tests' hasher, counting how often a password is checked against a hash."""

    def __init__(self, inner: PasswordHasher) -> None:
        self.inner = inner
        self.verified = 0

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        return bool(self.inner.verify(password_hash, password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_every_sign_in_checks_one_hash_whatever_the_cause(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(factory) as session:
        make_user(session)
        make_user(session, "wang.fang", display_name="王芳")
        update_user(session, "wang.fang", changed_by="admin", active=False)
    counting = CountingHasher(store.users.password_hasher())
    monkeypatch.setattr(store.users, "password_hasher", lambda: counting)
    seen: dict[str, int] = {}

    def attempt(label: str, username: str, password: str, at: dt.datetime, address: str = "10.0.0.1") -> str:
        before = counting.verified
        with session_scope(factory) as session:
            outcome = authenticate(session, username, password, address=address, now=at).outcome
        seen[label] = counting.verified - before
        return outcome

    assert attempt("unknown", "nobody", PASSWORD, T0) == "bad_credentials"
    assert attempt("deactivated", "wang.fang", PASSWORD, T0) == "inactive"
    for i in range(5):
        attempt(f"wrong{i}", "li.ming", "guess-guess 1", T0 + dt.timedelta(seconds=i))
    assert attempt("locked", "li.ming", PASSWORD, T0 + dt.timedelta(seconds=6)) == "locked"
    assert attempt("ok", "li.ming", PASSWORD, T0, address="10.0.0.2") == "ok"
    assert seen == dict.fromkeys(seen, 1) and len(seen) == 9


def _attempts(factory: sessionmaker[Session], password: str, address: str, at: dt.datetime) -> str:
    # each attempt in its own transaction, committed whatever the outcome, as the web app does
    with session_scope(factory) as session:
        return authenticate(session, "li.ming", password, address=address, now=at).outcome


def test_failures_lock_the_account_for_that_address_only(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as session:
        make_user(session)
    attacker, desk = "203.0.113.9", "10.1.2.3"
    outcomes = [_attempts(factory, "guess", attacker, T0 + dt.timedelta(seconds=i)) for i in range(5)]
    assert outcomes == ["bad_credentials"] * 4 + ["locked"]
    # the right password does not help from the attacker's address while it is locked ...
    assert _attempts(factory, PASSWORD, attacker, T0 + dt.timedelta(seconds=30)) == "locked"
    # ... but the officer at their own desk signs in at once
    assert _attempts(factory, PASSWORD, desk, T0 + dt.timedelta(seconds=31)) == "ok"
    with session_scope(factory) as session:
        whys = [
            e.details.get("why")
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed"))
        ]
    assert whys == ["wrong_password"] * 4 + ["locked_now", "locked"]


def test_locks_double_with_each_failure_after_the_first_lock(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as session:
        make_user(session)
    address, at, untils = "203.0.113.9", T0, []
    for _ in range(4):
        _attempts(factory, "guess", address, at)
    for _ in range(4):
        at += dt.timedelta(hours=2)  # after any lock has run out
        with session_scope(factory) as session:
            result = authenticate(session, "li.ming", "guess", address=address, now=at)
        assert result.outcome == "locked" and result.locked_until is not None
        untils.append(result.locked_until - at)
    assert untils == [dt.timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert lock_duration(
        40, max_failures=5, lockout=dt.timedelta(minutes=1), lockout_max=dt.timedelta(hours=1)
    ) == dt.timedelta(hours=1)
    assert (
        lock_duration(4, max_failures=5, lockout=dt.timedelta(minutes=1), lockout_max=dt.timedelta(hours=1))
        is None
    )


def test_a_good_sign_in_clears_its_address_and_an_unlock_clears_all(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as session:
        make_user(session)
    for address in ("10.0.0.1", "10.0.0.2"):
        for i in range(5):
            _attempts(factory, "guess", address, T0 + dt.timedelta(seconds=i))
    _attempts(factory, "guess", "10.0.0.3", T0)
    with session_scope(factory) as session:
        user_id = get_user(session, "li.ming").id
        assert lock_states(session, now=T0 + dt.timedelta(seconds=10))[user_id].addresses == 2
    assert _attempts(factory, PASSWORD, "10.0.0.3", T0 + dt.timedelta(seconds=10)) == "ok"
    with session_scope(factory) as session:
        left = session.scalars(select(LoginThrottle.address).order_by(LoginThrottle.address)).all()
        assert left == ["10.0.0.1", "10.0.0.2"]
        assert unlock_user(session, "li.ming", actor="admin", now=T0) == 2
    assert _attempts(factory, PASSWORD, "10.0.0.1", T0 + dt.timedelta(seconds=11)) == "ok"
    with session_scope(factory) as session:
        assert session.scalar(select(LoginThrottle)) is None
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "user_unlocked")).one()
        assert (event.actor, event.object, event.details) == ("admin", "user:li.ming", {"addresses": 2})


def test_inactive_accounts_cannot_sign_in(session: Session) -> None:
    make_user(session)
    update_user(session, "li.ming", changed_by="admin", active=False)
    assert authenticate(session, "li.ming", PASSWORD).outcome == "inactive"


def test_set_password_checks_strength_clears_locks_and_ends_sessions(session: Session) -> None:
    user = make_user(session)
    secret = open_session(session, user, kind="page", max_age=dt.timedelta(hours=8))
    for _ in range(5):
        authenticate(session, "li.ming", "guess")
    with pytest.raises(WeakPasswordError):
        set_password(session, "li.ming", "short", changed_by="admin")
    set_password(session, "li.ming", "Another-strong 2027", changed_by="admin")
    assert session_user(session, secret, kind="page") is None
    assert authenticate(session, "li.ming", "Another-strong 2027").ok
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "password_reset")).one()
    assert (event.actor, event.details) == ("admin", {"password": "changed", "sessions_ended": 1})
    with pytest.raises(NotFoundError, match="没有用户名为“ghost”的账户"):
        set_password(session, "ghost", "Another-strong 2027", changed_by="admin")


def test_deactivation_ends_sessions_at_once_and_is_audited(session: Session) -> None:
    user = make_user(session)
    page = open_session(session, user, kind="page", max_age=dt.timedelta(hours=8))
    api = open_session(session, user, kind="api", max_age=dt.timedelta(hours=8))
    assert session_user(session, page, kind="page") is user
    deactivate_user(session, "li.ming", actor="admin")
    assert session_user(session, page, kind="page") is None and session_user(session, api, kind="api") is None
    assert authenticate(session, "li.ming", PASSWORD).outcome == "inactive"
    with pytest.raises(InvalidStateError, match="已经停用"):
        deactivate_user(session, "li.ming", actor="admin")
    reactivate_user(session, "li.ming", actor="admin")
    assert authenticate(session, "li.ming", PASSWORD).ok
    # reactivating brings no old session back
    assert session_user(session, page, kind="page") is None
    with pytest.raises(InvalidStateError, match="本来就是启用状态"):
        reactivate_user(session, "li.ming", actor="admin")
    events = session.execute(
        select(AuditEvent.action, AuditEvent.actor, AuditEvent.details)
        .where(AuditEvent.action.in_(["user_deactivated", "user_reactivated"]))
        .order_by(AuditEvent.seq)
    ).all()
    assert [tuple(e) for e in events] == [
        ("user_deactivated", "admin", {"sessions_ended": 2}),
        ("user_reactivated", "admin", {}),
    ]


def test_nobody_deactivates_their_own_account(session: Session) -> None:
    make_user(session, "admin", role="administrator", display_name="管理员")
    with pytest.raises(NotAllowedError, match="不能停用自己的账户"):
        deactivate_user(session, "admin", actor="admin")
    assert get_user(session, "admin").active
