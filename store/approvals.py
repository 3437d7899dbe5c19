"""Two people for a role that may read accusations.

Creating an account with, or raising one to, a role in ``store.users.APPROVAL_ROLES`` (supervisor,
discipline inspector: they read 检举控告 and who wrote them, 条例 第四十六条) is recorded as a
``RoleRequest`` and takes effect only when a second person approves it: an active supervisor or
discipline inspector who is neither the requester nor the account concerned. An administrator
therefore cannot give themselves, or an account they control, access to accusations. Until then
a new account does not exist (nobody can sign in with it) and a raised account keeps its old role.
Request, approval and refusal are each audited (``role_requested``, ``role_request_approved``,
``role_request_refused``).

The one exception is the first such account of an installation, which nobody could approve:
``add_account(..., bootstrap=True)`` (only ``xinfang users add``, run on the server) creates it
directly while no account holds either role, and records ``bootstrap`` in its audit event.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.audit import append_event, lock_audit_head
from store.errors import (
    DuplicateError,
    InvalidStateError,
    InvalidValueError,
    NotAllowedError,
    NotFoundError,
)
from store.models import RoleRequest, User
from store.users import (
    APPROVAL_ROLES,
    check_display_name,
    check_password_strength,
    check_role,
    check_username,
    create_user,
    get_user,
    insert_user,
    password_hasher,
    role_name,
    update_user,
    username_taken,
)

_APPROVERS = "、".join(role_name(r) for r in sorted(APPROVAL_ROLES, reverse=True))


def needs_approval(role: str) -> bool:
    """Does giving ``role`` take a second person's approval?"""
    return role in APPROVAL_ROLES


def _holders_exist(session: Session, *, active_only: bool) -> bool:
    stmt = select(User.id).where(User.role.in_(APPROVAL_ROLES))
    if active_only:
        stmt = stmt.where(User.active.is_(True))
    return session.scalar(stmt.limit(1)) is not None


def add_account(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str,
    department: str | None = None,
    requested_by: str,
    reason: str | None = None,
    bootstrap: bool = False,
    now: dt.datetime | None = None,
) -> User | RoleRequest:
    """Create an account, or, for a role that may read accusations, ask for it.

    Args:
        bootstrap: create the first supervisor or inspector directly when no account holds either
            role (nobody could approve it). Only the server's command line passes it.

    Returns:
        The new ``User``, or the pending ``RoleRequest``.
    """
    if not needs_approval(role):
        return create_user(
            session,
            username=username,
            password=password,
            role=role,
            display_name=display_name,
            department=department,
            created_by=requested_by,
            now=now,
        )
    if bootstrap and not _holders_exist(session, active_only=False):
        return create_user(
            session,
            username=username,
            password=password,
            role=role,
            display_name=display_name,
            department=department,
            created_by=requested_by,
            now=now,
            audit_details={"bootstrap": "no account could approve it yet"},
        )
    return request_account(
        session,
        username=username,
        password=password,
        role=role,
        display_name=display_name,
        department=department,
        requested_by=requested_by,
        reason=reason,
        now=now,
    )


def _check_someone_can_approve(session: Session) -> None:
    if not _holders_exist(session, active_only=True):
        raise InvalidStateError(
            f"现在没有可以批准的{_APPROVERS}账户。安装后的第一位科室负责人请由服务器上的 "
            "`xinfang users add 用户名 --role supervisor` 直接创建，之后的申请由他批准"
        )


def request_account(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str,
    department: str | None = None,
    requested_by: str,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> RoleRequest:
    """Ask for a new account with a role that needs approval; the password waits as a hash."""
    check_username(username)
    check_role(role, department)
    display_name = check_display_name(display_name)
    check_password_strength(password, username=username)
    password_hash = password_hasher().hash(password)
    now = now or dt.datetime.now(dt.UTC)
    lock_audit_head(session)  # also serialises requests, so a name is asked for at most once
    if username_taken(session, username):
        raise DuplicateError(f"用户名“{username}”已被占用或已在申请中，请换一个")
    _check_someone_can_approve(session)
    request = RoleRequest(
        username=username,
        kind="create",
        role=role,
        display_name=display_name,
        password_hash=password_hash,
        reason=(reason or "").strip() or None,
        requested_by=requested_by,
        requested_at=now,
        status="pending",
    )
    return _record(session, request, now)


def change_role(
    session: Session,
    username: str,
    *,
    role: str,
    department: str | None = None,
    changed_by: str,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> User | RoleRequest:
    """Give an account another role: at once, or as a request when the role needs approval."""
    if not needs_approval(role):
        return update_user(
            session, username, changed_by=changed_by, role=role, department=department, now=now
        )
    check_role(role, department)
    now = now or dt.datetime.now(dt.UTC)
    lock_audit_head(session)
    user = get_user(session, username)
    if user.role == role:
        raise InvalidStateError(f"“{username}”已经是{role_name(role)}")
    if not user.active:
        raise InvalidStateError(f"账户“{username}”已停用；请先启用，再申请更改角色")
    if _pending_for(session, username) is not None:
        raise DuplicateError(f"“{username}”已有一项待批准的角色申请；请等它被批准或拒绝")
    _check_someone_can_approve(session)
    request = RoleRequest(
        username=username,
        kind="raise",
        role=role,
        previous_role=user.role,
        reason=(reason or "").strip() or None,
        requested_by=changed_by,
        requested_at=now,
        status="pending",
    )
    return _record(session, request, now)


def _pending_for(session: Session, username: str) -> RoleRequest | None:
    return session.scalar(
        select(RoleRequest).where(RoleRequest.username == username, RoleRequest.status == "pending")
    )


def _record(session: Session, request: RoleRequest, now: dt.datetime) -> RoleRequest:
    session.add(request)
    session.flush()
    append_event(
        session,
        actor=request.requested_by,
        action="role_requested",
        object=f"user:{request.username}",
        details={
            "request": request.id,
            "kind": request.kind,
            "role": request.role,
            "previous_role": request.previous_role,
        },
        at=now,
    )
    return request


def get_request(session: Session, request_id: int, *, for_update: bool = False) -> RoleRequest:
    """The role request with this number.

    Raises:
        NotFoundError: there is none.
    """
    stmt = select(RoleRequest).where(RoleRequest.id == request_id)
    if for_update:
        stmt = stmt.with_for_update()
    request = session.scalar(stmt)
    if request is None:
        raise NotFoundError(f"没有编号为 {request_id} 的角色申请；请在待批准列表中核对编号")
    return request


def list_requests(session: Session, *, status: str | None = "pending") -> list[RoleRequest]:
    """Role requests, newest first; only those with ``status`` unless it is None."""
    stmt = select(RoleRequest).order_by(RoleRequest.id.desc())
    if status is not None:
        stmt = stmt.where(RoleRequest.status == status)
    return list(session.scalars(stmt))


def why_not_decide(session: Session, request: RoleRequest, username: str) -> str | None:
    """Why ``username`` may not approve or refuse ``request``, or None if they may."""
    decider = session.scalar(select(User).where(User.username == username))
    if decider is None or not decider.active or decider.role not in APPROVAL_ROLES:
        return f"只有{_APPROVERS}可以批准或拒绝角色申请"
    if username == request.requested_by:
        return "不能批准或拒绝自己提交的申请；请另一位科室负责人或纪检监察人员处理"
    if username == request.username:
        return "不能批准或拒绝关于自己账户的申请；请另一位科室负责人或纪检监察人员处理"
    return None


def _decidable(session: Session, request_id: int, username: str) -> RoleRequest:
    lock_audit_head(session)  # lock order: audit head first, then the request and the account
    request = get_request(session, request_id, for_update=True)
    if request.status != "pending":
        decided = "批准" if request.status == "approved" else "拒绝"
        raise InvalidStateError(f"第 {request_id} 号申请已被 {request.decided_by} {decided}，无需再处理")
    why = why_not_decide(session, request, username)
    if why is not None:
        raise NotAllowedError(why)
    return request


def approve(session: Session, request_id: int, *, approver: str, now: dt.datetime | None = None) -> User:
    """Approve a pending request: the account is created or gets its role now.

    Raises:
        NotAllowedError: ``approver`` is not an active supervisor or inspector, or asked for it, or
            is the account concerned.
        InvalidStateError: the request was decided already, or the account changed since.
        DuplicateError: the username was taken meanwhile.
    """
    now = now or dt.datetime.now(dt.UTC)
    request = _decidable(session, request_id, approver)
    details: dict[str, object] = {
        "request": request.id,
        "kind": request.kind,
        "role": request.role,
        "requested_by": request.requested_by,
    }
    if request.kind == "create":
        assert request.display_name is not None and request.password_hash is not None
        user = insert_user(
            session,
            username=request.username,
            password_hash=request.password_hash,
            role=request.role,
            display_name=request.display_name,
            department=None,
            created_by=request.requested_by,
            now=now,
            audit_details={"approved_by": approver, "request": request.id},
        )
    else:
        user = get_user(session, request.username)
        if not user.active or user.role != request.previous_role:
            raise InvalidStateError(
                f"账户“{user.username}”在申请之后已有变动（停用或角色已改）；请拒绝此申请，需要时重新申请"
            )
        user.role = request.role
        user.department = None
        details["previous_role"] = request.previous_role
    request.status = "approved"
    request.decided_by = approver
    request.decided_at = now
    request.password_hash = None
    session.flush()
    append_event(
        session,
        actor=approver,
        action="role_request_approved",
        object=f"user:{request.username}",
        details=details,
        at=now,
    )
    return user


def refuse(
    session: Session, request_id: int, *, refuser: str, answer: str, now: dt.datetime | None = None
) -> RoleRequest:
    """Refuse a pending request with a reason; nothing else changes. Same deciders as ``approve``."""
    answer = answer.strip()
    if not answer:
        raise InvalidValueError("拒绝申请需要填写理由，以便申请人知道为什么")
    now = now or dt.datetime.now(dt.UTC)
    request = _decidable(session, request_id, refuser)
    request.status = "refused"
    request.decided_by = refuser
    request.decided_at = now
    request.answer = answer
    request.password_hash = None
    session.flush()
    append_event(
        session,
        actor=refuser,
        action="role_request_refused",
        object=f"user:{request.username}",
        details={"request": request.id, "kind": request.kind, "role": request.role, "reason": answer},
        at=now,
    )
    return request
