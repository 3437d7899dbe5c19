"""Signing in and out, and account management, shared by the JSON API and the pages.

A sign-in checks the per-address rate limit (``LoginLimiter``), then the password
(``store.users.authenticate``, which keeps the per-account-and-address locks and audits the
attempt), and opens a server-side session (``store.sessions``) whose secret the caller hands out
inside a signed cookie or bearer token. Only failures count toward the rate limit.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from routing.catalogue import Catalogue
from service import access
from service.errors import Forbidden, InvalidInput, NotAuthenticated, ServiceError, TooManyRequests
from service.schemas import RoleRequestPublic
from service.security import LoginLimiter
from service.settings import Settings
from store import approvals
from store.audit import append_event
from store.errors import StoreError
from store.models import RoleRequest, User
from store.sessions import end_session, open_session
from store.users import (
    LOGIN_REFUSED,
    authenticate,
    deactivate_user,
    get_user,
    reactivate_user,
    set_password,
    unlock_user,
)

# What a page catches from an account operation, to show on the page itself instead of an error page.
FAILURES: tuple[type[Exception], ...] = (StoreError, ServiceError)


def sign_in(
    session: Session,
    settings: Settings,
    limiter: LoginLimiter,
    address: str,
    username: str,
    password: str,
    *,
    kind: str,
) -> tuple[User, str]:
    """Check a sign-in and open a session of ``kind`` (``page`` or ``api``).

    Returns:
        The account and the new session's secret.

    Raises:
        TooManyRequests: the address failed too often lately (with the seconds to wait).
        NotAuthenticated: any failure, with one message whatever the cause.
    """
    wait = limiter.hit(address)
    if wait:
        raise TooManyRequests(f"这个地址登录失败的次数过多，请 {wait} 秒后再试", retry_after=wait)
    result = authenticate(
        session,
        username.strip(),
        password,
        address=address,
        max_failures=settings.login_max_failures,
        lockout=dt.timedelta(seconds=settings.login_lockout),
        lockout_max=dt.timedelta(seconds=settings.login_lockout_max),
    )
    if not result.ok or result.user is None:
        # The failure count and the audit event are the refusal's trace: keep them.
        session.commit()
        raise NotAuthenticated(LOGIN_REFUSED)
    limiter.forgive(address)
    max_age = settings.session_max_age if kind == "page" else settings.token_max_age
    secret = open_session(session, result.user, kind=kind, max_age=dt.timedelta(seconds=max_age))
    session.commit()
    return result.user, secret


def sign_out(session: Session, user: User, secret: str) -> None:
    """End the session with ``secret`` at once and audit it; a copy of its cookie or token is dead too."""
    end_session(session, secret, why="logout")
    append_event(session, actor=user.username, action="logout", object=f"user:{user.username}")


def require_role(user: User, roles: frozenset[str], what: str) -> None:
    """Refuse (``Forbidden``) unless ``user``'s role is one of ``roles``; ``what`` says what was
    asked, in Chinese."""
    if user.role not in roles:
        allowed = "、".join(access.ROLE_NAMES[r] for r in access.ALL_ROLES if r in roles)
        raise Forbidden(
            f"{access.ROLE_NAMES.get(user.role, user.role)}不能{what}；只有{allowed}可以。"
            "如果您的角色有误，请联系系统管理员"
        )


def check_department(department: str | None, catalogue: Catalogue) -> None:
    """Refuse (``InvalidInput``) a department code the catalogue does not know."""
    if department is not None and department not in catalogue.codes:
        known = "、".join(f"{d.name}（{d.code}）" for d in catalogue.departments)
        raise InvalidInput(f"部门代码“{department}”不在部门目录中；可选：{known}")


def role_request_public(request: RoleRequest) -> RoleRequestPublic:
    return RoleRequestPublic(
        id=request.id,
        username=request.username,
        kind=request.kind,  # type: ignore[arg-type]
        role=request.role,  # type: ignore[arg-type]
        previous_role=request.previous_role,  # type: ignore[arg-type]
        display_name=request.display_name,
        reason=request.reason,
        requested_by=request.requested_by,
        requested_at=request.requested_at,
        status=request.status,  # type: ignore[arg-type]
        decided_by=request.decided_by,
        decided_at=request.decided_at,
        answer=request.answer,
    )


def message(exc: Exception) -> str:
    return exc.message if isinstance(exc, ServiceError) else str(exc)


def _role(role: str) -> str:
    return access.ROLE_NAMES.get(role, role)


def add_account(
    session: Session,
    actor: User,
    catalogue: Catalogue,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str,
    department: str | None,
    reason: str | None,
) -> User | RoleRequest:
    """Create an account, or ask for it when its role may read accusations (``store.approvals``)."""
    check_department(department, catalogue)
    return approvals.add_account(
        session,
        username=username,
        password=password,
        role=role,
        display_name=display_name,
        department=department,
        requested_by=actor.username,
        reason=reason,
    )


def made_notice(made: User | RoleRequest) -> str:
    """What the page says after creating an account or asking for it."""
    if isinstance(made, RoleRequest):
        what = f"开设{_role(made.role)}账户" if made.kind == "create" else f"改为{_role(made.role)}"
        return (
            f"已提交第 {made.id} 号申请：为“{made.username}”{what}。须由另一位科室负责人或纪检监察人员"
            "在“角色审批”页批准后才生效。"
        )
    return f"已创建账户“{made.username}”（{_role(made.role)}）。"


def reset_password(session: Session, actor: User, username: str, password: str) -> User:
    """Set another account's password as ``actor``; its sessions end and its locks are lifted.

    An administrator manages accounts but reads no accusation. Setting the password of an account
    that may read them (a supervisor's or an inspector's) would let the administrator sign in as its
    holder and read what a role request could not grant without a second person, so it is refused:
    the holder changes it, or the server's operator resets it with ``xinfang users set-password``,
    audited like any reset.
    """
    target = get_user(session, username)
    if target.role in access.CONFIDENTIAL_READERS and target.username != actor.username:
        raise Forbidden(
            f"“{username}”是{_role(target.role)}，可以查看检举控告材料；其密码不能由他人在此重置，"
            "请本人修改，或由服务器管理人员用 xinfang users set-password 重置（记入审计日志）"
        )
    return set_password(session, username, password, changed_by=actor.username)


def account_action(
    session: Session,
    actor: User,
    catalogue: Catalogue,
    username: str,
    action: str,
    *,
    password: str = "",
    role: str = "",
    department: str | None = None,
    reason: str = "",
) -> str:
    """Deactivate, reactivate, unlock, reset the password of or change the role of an account.

    Returns:
        What was done, in the officer's words.
    """
    if action == "deactivate":
        deactivate_user(session, username, actor=actor.username)
        return f"已停用账户“{username}”，它的登录会话和令牌已全部失效。"
    if action == "reactivate":
        reactivate_user(session, username, actor=actor.username)
        return f"已启用账户“{username}”。"
    if action == "unlock":
        cleared = unlock_user(session, username, actor=actor.username)
        return f"已解除“{username}”的登录锁定（涉及 {cleared} 个地址）。"
    if action == "password":
        reset_password(session, actor, username, password)
        return f"已为“{username}”设置新密码，它原有的登录会话和令牌已全部失效。"
    if action == "role":
        check_department(department, catalogue)
        made = approvals.change_role(
            session, username, role=role, department=department, changed_by=actor.username, reason=reason
        )
        if isinstance(made, RoleRequest):
            return made_notice(made)
        return f"已将“{username}”的角色改为{_role(made.role)}。"
    raise InvalidInput(f"没有“{action}”这项账户操作")


def decide_request(session: Session, actor: User, request_id: int, decision: str, *, reason: str = "") -> str:
    """Approve or refuse a role request as ``actor``; returns what was done, in the officer's words."""
    if decision == "approve":
        user = approvals.approve(session, request_id, approver=actor.username)
        return f"已批准第 {request_id} 号申请：“{user.username}”现在是{_role(user.role)}。"
    refused = approvals.refuse(session, request_id, refuser=actor.username, answer=reason)
    return f"已拒绝第 {request_id} 号申请（“{refused.username}”），理由已记入审计日志。"
