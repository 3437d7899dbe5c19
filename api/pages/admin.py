"""Account management and the audit log, as pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api import access, views
from api.deps import CatalogueDep, PageUser, SessionDep
from api.errors import Forbidden
from api.pages.csrf import CsrfChecked
from api.pages.render import render
from store.audit import verify_chain
from store.errors import StoreError
from store.queries_api import list_audit_events
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
def audit_page(request: Request, session: SessionDep, user: PageUser) -> Response:
    if user.role not in access.READ_AUDIT:
        raise Forbidden(f"role {user.role!r} may not read the audit log")
    events, total = list_audit_events(session, limit=200)
    problems = [str(p) for p in verify_chain(session)]
    return render(
        request,
        "audit.html",
        {
            "user": user,
            "events": [views.audit_event_public(e) for e in events],
            "count": total,
            "chain_ok": not problems,
            "problems": problems,
        },
    )
