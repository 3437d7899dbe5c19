"""Account management and the audit log, as pages."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from api.deps import CatalogueDep, PageUser, SessionDep
from api.errors import status_of
from api.pages.csrf import CsrfChecked
from api.pages.render import render
from service import access, accounts, views
from service.audit_view import ACTION_NAMES, audit_event_public
from service.errors import Forbidden
from store.approvals import list_requests, why_not_decide
from store.audit import AuditQuery, audit_actors, search_events, verify_chain
from store.errors import InvalidValueError
from store.models import AuditEvent, RoleRequest
from store.users import list_users, lock_states

router = APIRouter()


def _users_page(
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    accounts.require_role(user, access.MANAGE_USERS, "管理账户")
    locks = lock_states(session)
    rows = [
        {"account": views.user_public(u), "lock": locks.get(u.id), "self": u.username == user.username}
        for u in list_users(session)
    ]
    return render(
        request,
        "users.html",
        {
            "user": user,
            "users": rows,
            "requests": list_requests(session),
            "departments": catalogue.departments,
            "department_names": {d.code: d.name for d in catalogue.departments},
            "error": error,
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/admin/users")
def users_page(request: Request, session: SessionDep, user: PageUser, catalogue: CatalogueDep) -> Response:
    return _users_page(request, session, user, catalogue)


@router.post("/admin/users", dependencies=[CsrfChecked])
def add_user_page(
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    department: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    accounts.require_role(user, access.MANAGE_USERS, "管理账户")
    try:
        made = accounts.add_account(
            session,
            user,
            catalogue,
            username=username.strip(),
            password=password,
            role=role,
            display_name=display_name,
            department=department or None,
            reason=reason,
        )
    except accounts.FAILURES as exc:
        session.rollback()
        return _users_page(
            request, session, user, catalogue, error=accounts.message(exc), status_code=status_of(exc)
        )
    # 202: a role that may read accusations is only asked for; 201: the account exists.
    status_code = 202 if isinstance(made, RoleRequest) else 201
    return _users_page(
        request, session, user, catalogue, notice=accounts.made_notice(made), status_code=status_code
    )


def _account_action(
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    username: str,
    action: str,
    **values: str,
) -> Response:
    accounts.require_role(user, access.MANAGE_USERS, "管理账户")
    try:
        notice = accounts.account_action(
            session,
            user,
            catalogue,
            username,
            action,
            password=values.get("password", ""),
            role=values.get("role", ""),
            department=values.get("department") or None,
            reason=values.get("reason", ""),
        )
    except accounts.FAILURES as exc:
        session.rollback()
        error = f"对“{username}”的操作未成功：{accounts.message(exc)}"
        return _users_page(request, session, user, catalogue, error=error, status_code=status_of(exc))
    return _users_page(request, session, user, catalogue, notice=notice)


@router.post("/admin/users/{username}/deactivate", dependencies=[CsrfChecked])
def deactivate_page(
    request: Request, session: SessionDep, user: PageUser, catalogue: CatalogueDep, username: str
) -> Response:
    return _account_action(request, session, user, catalogue, username, "deactivate")


@router.post("/admin/users/{username}/reactivate", dependencies=[CsrfChecked])
def reactivate_page(
    request: Request, session: SessionDep, user: PageUser, catalogue: CatalogueDep, username: str
) -> Response:
    return _account_action(request, session, user, catalogue, username, "reactivate")


@router.post("/admin/users/{username}/unlock", dependencies=[CsrfChecked])
def unlock_page(
    request: Request, session: SessionDep, user: PageUser, catalogue: CatalogueDep, username: str
) -> Response:
    return _account_action(request, session, user, catalogue, username, "unlock")


@router.post("/admin/users/{username}/password", dependencies=[CsrfChecked])
def reset_password_page(
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    username: str,
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    return _account_action(request, session, user, catalogue, username, "password", password=password)


@router.post("/admin/users/{username}/role", dependencies=[CsrfChecked])
def change_role_page(
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    username: str,
    role: Annotated[str, Form(max_length=32)] = "",
    department: Annotated[str, Form(max_length=64)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _account_action(
        request, session, user, catalogue, username, "role", role=role, department=department, reason=reason
    )


def _approvals_page(
    request: Request,
    session: SessionDep,
    user: PageUser,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    accounts.require_role(user, access.CONFIDENTIAL_READERS, "审批角色申请")
    pending = [
        {"request": r, "why_not": why_not_decide(session, r, user.username)} for r in list_requests(session)
    ]
    decided = [r for r in list_requests(session, status=None) if r.status != "pending"][:20]
    return render(
        request,
        "approvals.html",
        {"user": user, "pending": pending, "decided": decided, "error": error, "notice": notice},
        status_code=status_code,
    )


@router.get("/approvals")
def approvals_page(request: Request, session: SessionDep, user: PageUser) -> Response:
    return _approvals_page(request, session, user)


def _decide_request(
    request: Request, session: SessionDep, user: PageUser, request_id: int, decision: str, reason: str = ""
) -> Response:
    accounts.require_role(user, access.CONFIDENTIAL_READERS, "审批角色申请")
    try:
        notice = accounts.decide_request(session, user, request_id, decision, reason=reason)
    except accounts.FAILURES as exc:
        session.rollback()
        return _approvals_page(
            request, session, user, error=accounts.message(exc), status_code=status_of(exc)
        )
    return _approvals_page(request, session, user, notice=notice)


@router.post("/approvals/{request_id}/approve", dependencies=[CsrfChecked])
def approve_page(request: Request, session: SessionDep, user: PageUser, request_id: int) -> Response:
    """Approve a role request: a supervisor or inspector other than its requester and its subject."""
    return _decide_request(request, session, user, request_id, "approve")


@router.post("/approvals/{request_id}/refuse", dependencies=[CsrfChecked])
def refuse_page(
    request: Request,
    session: SessionDep,
    user: PageUser,
    request_id: int,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _decide_request(request, session, user, request_id, "refuse", reason)


@router.get("/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    actor: Annotated[str, Query(max_length=128)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    case_number: Annotated[str, Query(max_length=32)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    if user.role not in access.READ_AUDIT:
        raise Forbidden(f"role {user.role!r} may not read the audit log")
    filters = {"actor": actor, "action": action, "case_number": case_number, "since": since, "until": until}
    errors: list[str] = []
    days: dict[str, dt.date | None] = {}
    for name, label in (("since", "开始日期"), ("until", "结束日期")):
        try:
            days[name] = dt.date.fromisoformat(filters[name]) if filters[name].strip() else None
        except ValueError:
            errors.append(f"{label}“{filters[name]}”不是日期，请写作 2026-12-01")
            days[name] = None
    events: list[AuditEvent] = []
    total = 0
    if not errors:
        query = AuditQuery(
            actor=actor or None,
            action=action or None,
            case_number=case_number or None,
            since=days["since"],
            until=days["until"],
        )
        try:
            events, total = search_events(session, query, limit=_AUDIT_PAGE, offset=(page - 1) * _AUDIT_PAGE)
        except InvalidValueError as exc:
            errors.append(str(exc))
    problems = [str(p) for p in verify_chain(session)]
    pages = max(1, -(-total // _AUDIT_PAGE))
    kept = {k: v for k, v in filters.items() if v}

    def page_url(number: int) -> str | None:
        return f"/audit?{urlencode({**kept, 'page': number})}" if 1 <= number <= pages else None

    return render(
        request,
        "audit.html",
        {
            "user": user,
            "events": [audit_event_public(e, catalogue) for e in events],
            "count": total,
            "page": page,
            "pages": pages,
            "previous_page": page_url(page - 1),
            "next_page": page_url(page + 1),
            "filters": filters,
            "errors": errors,
            "actions": ACTION_NAMES,
            "actors": audit_actors(session),
            "chain_ok": not problems,
            "problems": problems,
        },
        status_code=422 if errors else 200,
    )


_AUDIT_PAGE = 100
