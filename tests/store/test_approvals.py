"""Two people for a role that may read accusations: requests, approval, refusal, and the first one.

Also the migration that brought sessions, per-address locks and requests (0005): it keeps every row.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from store_factories import PASSWORD, make_user

from store.approvals import add_account, approve, change_role, list_requests, refuse, why_not_decide
from store.db import make_engine, upgrade
from store.errors import DuplicateError, InvalidStateError, InvalidValueError, NotAllowedError
from store.models import ROLE_NAMES, AuditEvent, RoleRequest, User
from store.users import APPROVAL_ROLES, authenticate, get_user, update_user


def _office(session: Session) -> None:
    make_user(session, "admin", role="administrator", display_name="管理员")
    make_user(session, "zhao.lei", role="supervisor", display_name="赵磊")
    make_user(session, "qian.jian", role="discipline_inspector", display_name="钱检")


def _ask_for_inspector(session: Session, username: str = "sun.li", by: str = "admin") -> RoleRequest:
    made = add_account(
        session,
        username=username,
        password=PASSWORD,
        role="discipline_inspector",
        display_name="孙立",
        requested_by=by,
        reason="新调入纪检组",
    )
    assert isinstance(made, RoleRequest)
    return made


def _actions(session: Session) -> list[tuple[str, str, str | None]]:
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.actor, AuditEvent.object).order_by(AuditEvent.seq)
    )
    return [tuple(r) for r in rows][3:]  # after the three accounts of the office


def test_the_roles_that_need_approval_are_those_that_read_accusations() -> None:
    from service import access

    assert APPROVAL_ROLES == access.CONFIDENTIAL_READERS
    assert ROLE_NAMES == access.ROLE_NAMES


def test_an_administrator_only_asks_for_an_inspector(session: Session) -> None:
    _office(session)
    request = _ask_for_inspector(session)
    assert (request.kind, request.status, request.requested_by) == ("create", "pending", "admin")
    assert request.password_hash is not None and PASSWORD not in request.password_hash
    # Nobody can sign in with the account before a second person approves it.
    assert session.scalar(select(User).where(User.username == "sun.li")) is None
    assert authenticate(session, "sun.li", PASSWORD).outcome == "bad_credentials"
    assert _actions(session)[-2] == ("role_requested", "admin", "user:sun.li")
    user = approve(session, request.id, approver="zhao.lei")
    assert (user.role, user.display_name) == ("discipline_inspector", "孙立")
    assert authenticate(session, "sun.li", PASSWORD).ok
    assert request.status == "approved" and request.decided_by == "zhao.lei" and request.password_hash is None
    created = session.scalars(select(AuditEvent).where(AuditEvent.action == "user_created")).all()[-1]
    assert created.details == {
        "role": "discipline_inspector",
        "department": None,
        "approved_by": "zhao.lei",
        "request": request.id,
    }
    assert [a for a, _, _ in _actions(session)] == [
        "role_requested",
        "login_failed",
        "user_created",
        "role_request_approved",
        "login",
    ]


@pytest.mark.parametrize(
    ("decider", "message"),
    [
        ("admin", "只有科室负责人、纪检监察人员可以批准"),
        ("li.ming", "只有科室负责人、纪检监察人员可以批准"),
        ("zhao.lei", "不能批准或拒绝自己提交的申请"),
        ("qian.jian", "不能批准或拒绝关于自己账户的申请"),
    ],
    ids=["administrator", "intake_officer", "requester", "subject"],
)
def test_who_may_not_approve(session: Session, decider: str, message: str) -> None:
    _office(session)
    make_user(session, "li.ming")
    # A supervisor asks for an inspector to become a supervisor too: neither may approve it.
    request = change_role(session, "qian.jian", role="supervisor", changed_by="zhao.lei")
    assert isinstance(request, RoleRequest) and request.kind == "raise"
    assert why_not_decide(session, request, decider) is not None
    with pytest.raises(NotAllowedError, match=message):
        approve(session, request.id, approver=decider)
    with pytest.raises(NotAllowedError, match=message):
        refuse(session, request.id, refuser=decider, answer="不同意")
    assert get_user(session, "qian.jian").role == "discipline_inspector"
    assert request.status == "pending"


def test_a_deactivated_supervisor_may_not_approve(session: Session) -> None:
    _office(session)
    make_user(session, "zhou.chief", role="supervisor", display_name="周")
    request = _ask_for_inspector(session)
    update_user(session, "zhou.chief", changed_by="admin", active=False)
    with pytest.raises(NotAllowedError):
        approve(session, request.id, approver="zhou.chief")


def test_a_raised_account_keeps_its_old_role_until_approved(session: Session) -> None:
    _office(session)
    make_user(session, "wu", role="analyst", display_name="吴")
    request = change_role(session, "wu", role="supervisor", changed_by="admin", reason="任科长")
    assert isinstance(request, RoleRequest) and (request.previous_role, request.role) == (
        "analyst",
        "supervisor",
    )
    assert get_user(session, "wu").role == "analyst"
    with pytest.raises(DuplicateError, match="已有一项待批准的角色申请"):
        change_role(session, "wu", role="discipline_inspector", changed_by="admin")
    assert approve(session, request.id, approver="qian.jian").role == "supervisor"
    with pytest.raises(InvalidStateError, match="已被 qian.jian 批准"):
        approve(session, request.id, approver="zhao.lei")


def test_an_account_changed_since_the_request_is_not_raised(session: Session) -> None:
    _office(session)
    make_user(session, "wu", role="analyst", display_name="吴")
    request = change_role(session, "wu", role="supervisor", changed_by="admin")
    update_user(session, "wu", changed_by="admin", role="intake_officer")
    with pytest.raises(InvalidStateError, match="在申请之后已有变动"):
        approve(session, request.id, approver="zhao.lei")


def test_refusal_needs_a_reason_changes_nothing_and_is_audited(session: Session) -> None:
    _office(session)
    request = _ask_for_inspector(session)
    with pytest.raises(InvalidValueError, match="需要填写理由"):
        refuse(session, request.id, refuser="zhao.lei", answer="  ")
    refuse(session, request.id, refuser="zhao.lei", answer="此人不在纪检组")
    assert (request.status, request.answer, request.password_hash) == ("refused", "此人不在纪检组", None)
    assert session.scalar(select(User).where(User.username == "sun.li")) is None
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "role_request_refused")).one()
    assert (event.actor, event.details["reason"]) == ("zhao.lei", "此人不在纪检组")
    assert list_requests(session) == [] and list_requests(session, status=None) == [request]
    # the name is free again for a new request
    assert _ask_for_inspector(session).status == "pending"


def test_a_name_is_asked_for_once(session: Session) -> None:
    _office(session)
    _ask_for_inspector(session)
    with pytest.raises(DuplicateError, match="已被占用或已在申请中"):
        _ask_for_inspector(session)
    with pytest.raises(DuplicateError, match="已被占用"):
        make_user(session, "zhao.lei", role="analyst")


def test_ordinary_roles_are_created_and_changed_at_once(session: Session) -> None:
    _office(session)
    made = add_account(
        session, username="li", password=PASSWORD, role="analyst", display_name="李", requested_by="admin"
    )
    assert isinstance(made, User) and made.role == "analyst"
    changed = change_role(session, "li", role="department_handler", department="housing", changed_by="admin")
    assert isinstance(changed, User) and (changed.role, changed.department) == (
        "department_handler",
        "housing",
    )


def test_the_first_supervisor_needs_no_approval_only_when_none_exists(session: Session) -> None:
    make_user(session, "admin", role="administrator", display_name="管理员")
    # Without the server's bootstrap, even the first one is only a request, and with nobody to
    # approve it that request would wait forever: say how to start instead.
    with pytest.raises(InvalidStateError, match="第一位科室负责人请由服务器上的 `xinfang users add"):
        add_account(
            session,
            username="zhao.lei",
            password=PASSWORD,
            role="supervisor",
            display_name="赵磊",
            requested_by="admin",
        )
    first = add_account(
        session,
        username="zhao.lei",
        password=PASSWORD,
        role="supervisor",
        display_name="赵磊",
        requested_by="installer",
        bootstrap=True,
    )
    assert isinstance(first, User) and first.role == "supervisor"
    event = session.scalars(select(AuditEvent).where(AuditEvent.object == "user:zhao.lei")).one()
    assert (event.action, event.actor, event.details["bootstrap"]) == (
        "user_created",
        "installer",
        "no account could approve it yet",
    )
    update_user(session, "zhao.lei", changed_by="installer", active=False)
    # One exists (even deactivated): bootstrap no longer creates, it asks, and nobody active could approve.
    with pytest.raises(InvalidStateError, match="现在没有可以批准的"):
        add_account(
            session,
            username="qian.jian",
            password=PASSWORD,
            role="discipline_inspector",
            display_name="钱检",
            requested_by="installer",
            bootstrap=True,
        )


def test_migration_0005_keeps_every_account_and_its_references(db_url: str) -> None:
    # On SQLite 0005 rebuilds ``users`` (columns dropped) while decisions refer to it by username.
    upgrade(db_url, "0004")
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, username, display_name, role, department, password_hash, active,"
                    " created_at, password_changed_at, failed_logins, locked_until) VALUES (7, 'li.ming',"
                    " '李明', 'intake_officer', NULL, '$argon2id$x', true, '2026-11-30 08:00:00',"
                    " '2026-11-30 08:00:00', 5, '2099-01-01 00:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO letters (id, case_number, title, text, form, received_on, source,"
                    " created_by, created_at, status, version) VALUES (1, 'XF-2026-000001', '来信',"
                    " '正文', 'letter', '2026-11-30', 'manual', 'li.ming', '2026-11-30 08:00:00',"
                    " 'decided', 2)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO proposals (id, letter_id, proposal, model_version, rulebook_version,"
                    " created_at, category, domain, department, channel, disposition, confidential,"
                    " needs_review, urgent)"
                    " VALUES (1, 1, '{}', 'm', 'r', '2026-11-30 08:00:00', 'appeal', '城乡建设', 'housing',"
                    " 'ordinary', 'accept', false, false, false)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO decisions (id, letter_id, proposal_id, decided_by, decided_at, category,"
                    " domain, department, channel, disposition, agreed_with_proposal, changed_fields,"
                    " letter_version)"
                    " VALUES (1, 1, 1, 'li.ming', '2026-11-30 09:00:00', 'appeal', '城乡建设', 'housing',"
                    " 'ordinary', 'accept', true, '[]', 1)"
                )
            )
    finally:
        engine.dispose()
    upgrade(db_url, "0005")
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            row = connection.execute(
                text("SELECT id, username, display_name, role, password_hash, active FROM users")
            ).one()
            assert tuple(row) == (7, "li.ming", "李明", "intake_officer", "$argon2id$x", True)
            assert connection.execute(text("SELECT decided_by FROM decisions")).scalar() == "li.ming"
            # the old per-account lock is lifted: which address earned it was never recorded
            assert connection.execute(text("SELECT count(*) FROM login_throttles")).scalar() == 0
            if engine.dialect.name == "sqlite":
                assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
