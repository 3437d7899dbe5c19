"""Account management and the audit log, as pages."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from api import access, views
from api.audit_view import ACTION_NAMES, audit_event_public
from api.deps import CatalogueDep, PageUser, SessionDep
from api.errors import Forbidden
from api.pages.csrf import CsrfChecked
from api.pages.render import render
from store.audit import AuditQuery, audit_actors, search_events, verify_chain
from store.errors import InvalidValueError, StoreError
from store.models import AuditEvent
from store.users import create_user, list_users

router = APIRouter()


def _users_page(
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    error: str | None = None,
    created: str | None = None,
    status_code: int = 200,
) -> Response:
    users = [views.user_public(u) for u in list_users(session)]
    return render(
        request,
        "users.html",
        {
            "user": user,
            "users": users,
            "departments": catalogue.departments,
            "error": error,
            "created": created,
        },
        status_code=status_code,
    )


@router.get("/admin/users")
def users_page(request: Request, session: SessionDep, user: PageUser, catalogue: CatalogueDep) -> Response:
    if user.role not in access.MANAGE_USERS:
        raise Forbidden(f"role {user.role!r} may not manage accounts")
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
) -> Response:
    if user.role not in access.MANAGE_USERS:
        raise Forbidden(f"role {user.role!r} may not manage accounts")
    if department and department not in catalogue.codes:
        return _users_page(
            request, session, user, catalogue, error=f"未知部门代码 {department}", status_code=422
        )
    try:
        created = create_user(
            session,
            username=username.strip(),
            password=password,
            role=role,
            display_name=display_name,
            department=department or None,
            created_by=user.username,
        )
    except StoreError as exc:
        session.rollback()
        return _users_page(request, session, user, catalogue, error=str(exc), status_code=422)
    return _users_page(request, session, user, catalogue, created=created.username, status_code=201)


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
