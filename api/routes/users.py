"""Accounts, for administrators, and role requests, for the second person who approves them.

There is no default account: the first one comes from `xinfang users add`. A role that may read
accusations (supervisor, discipline inspector) is never given by one request: creating or raising
an account to it answers 202 with a role request, which another supervisor or discipline inspector
approves or refuses under ``/users/requests``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from api.deps import CatalogueDep, CurrentUser, SessionDep
from api.errors import error_responses
from service import access, accounts, views
from service.schemas import (
    PasswordReset,
    RoleChange,
    RoleRequestPublic,
    RoleRequestRefusal,
    RoleRequestsPublic,
    UserCreate,
    UserPublic,
    UsersPublic,
)
from store import approvals
from store.models import RoleRequest, User
from store.users import deactivate_user, get_user, list_users, reactivate_user, unlock_user

router = APIRouter(prefix="/users", tags=["users"])

Username = Annotated[str, Path(min_length=1, max_length=64)]
_REQUESTED: dict[int | str, dict[str, object]] = {
    202: {"model": RoleRequestPublic, "description": "the role needs a second person's approval"}
}
# Who sees the pending requests: administrators (who asked for them) and those who may approve them.
_READ_REQUESTS = access.MANAGE_USERS | access.CONFIDENTIAL_READERS


# Role checks are dependencies, so that a refused caller learns nothing from validation of the body.
def _admin(user: CurrentUser) -> User:
    accounts.require_role(user, access.MANAGE_USERS, "管理账户")
    return user


def _request_reader(user: CurrentUser) -> User:
    accounts.require_role(user, _READ_REQUESTS, "查看角色申请")
    return user


def _approver(user: CurrentUser) -> User:
    accounts.require_role(user, access.CONFIDENTIAL_READERS, "批准或拒绝角色申请")
    return user


Admin = Annotated[User, Depends(_admin)]
RequestReader = Annotated[User, Depends(_request_reader)]
Approver = Annotated[User, Depends(_approver)]


def _made(made: User | RoleRequest) -> Response | UserPublic:
    if isinstance(made, RoleRequest):
        body = jsonable_encoder(accounts.role_request_public(made))
        return JSONResponse(body, status_code=202)
    return views.user_public(made)


@router.get("", response_model=UsersPublic, responses=error_responses(401, 403))
def read_users(session: SessionDep, user: Admin) -> UsersPublic:
    """Every account (never a password hash)."""
    users = list_users(session)
    return UsersPublic(data=[views.user_public(u) for u in users], count=len(users))


@router.post(
    "",
    response_model=UserPublic,
    status_code=201,
    responses=_REQUESTED | error_responses(400, 401, 403, 409, 422),
)
def add_user(
    payload: UserCreate, session: SessionDep, user: Admin, catalogue: CatalogueDep
) -> Response | UserPublic:
    """Create an account (201); for a supervisor or discipline inspector, ask for it (202).

    The password must pass the strength policy.
    """
    made = accounts.add_account(
        session,
        user,
        catalogue,
        username=payload.username,
        password=payload.password,
        role=payload.role,
        display_name=payload.display_name,
        department=payload.department,
        reason=payload.reason,
    )
    return _made(made)


@router.get("/requests", response_model=RoleRequestsPublic, responses=error_responses(401, 403, 422))
def read_role_requests(
    session: SessionDep,
    user: RequestReader,
    status: Annotated[str, Query(pattern="^(pending|approved|refused|all)$")] = "pending",
) -> RoleRequestsPublic:
    """Role requests, newest first (pending ones unless ``status`` says otherwise)."""
    rows = approvals.list_requests(session, status=None if status == "all" else status)
    return RoleRequestsPublic(data=[accounts.role_request_public(r) for r in rows], count=len(rows))


@router.post(
    "/requests/{request_id}/approve",
    response_model=UserPublic,
    responses=error_responses(401, 403, 404, 409, 422),
)
def approve_role_request(request_id: int, session: SessionDep, user: Approver) -> UserPublic:
    """Approve a pending request: the account is created or gets the role now.

    Only a supervisor or discipline inspector who neither asked for it nor is the account concerned.
    """
    return views.user_public(approvals.approve(session, request_id, approver=user.username))


@router.post(
    "/requests/{request_id}/refuse",
    response_model=RoleRequestPublic,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def refuse_role_request(
    request_id: int, payload: RoleRequestRefusal, session: SessionDep, user: Approver
) -> RoleRequestPublic:
    """Refuse a pending request with a reason; nothing else changes."""
    refused = approvals.refuse(session, request_id, refuser=user.username, answer=payload.reason)
    return accounts.role_request_public(refused)


@router.post(
    "/{username}/role",
    response_model=UserPublic,
    responses=_REQUESTED | error_responses(400, 401, 403, 404, 409, 422),
)
def change_role(
    username: Username, payload: RoleChange, session: SessionDep, user: Admin, catalogue: CatalogueDep
) -> Response | UserPublic:
    """Give the account another role (200); a supervisor's or inspector's needs approval (202)."""
    accounts.check_department(payload.department, catalogue)
    made = approvals.change_role(
        session,
        username,
        role=payload.role,
        department=payload.department,
        changed_by=user.username,
        reason=payload.reason,
    )
    return _made(made)


@router.post(
    "/{username}/deactivate", response_model=UserPublic, responses=error_responses(401, 403, 404, 409, 422)
)
def deactivate(username: Username, session: SessionDep, user: Admin) -> UserPublic:
    """Deactivate the account: it cannot sign in, and its sessions and tokens end at once."""
    return views.user_public(deactivate_user(session, username, actor=user.username))


@router.post(
    "/{username}/reactivate", response_model=UserPublic, responses=error_responses(401, 403, 404, 409, 422)
)
def reactivate(username: Username, session: SessionDep, user: Admin) -> UserPublic:
    """Let a deactivated account sign in again."""
    return views.user_public(reactivate_user(session, username, actor=user.username))


@router.post("/{username}/unlock", response_model=UserPublic, responses=error_responses(401, 403, 404, 422))
def unlock(username: Username, session: SessionDep, user: Admin) -> UserPublic:
    """Lift the account's sign-in locks from every address."""
    unlock_user(session, username, actor=user.username)
    return views.user_public(get_user(session, username))


@router.post(
    "/{username}/password", response_model=UserPublic, responses=error_responses(400, 401, 403, 404, 422)
)
def reset_password(
    username: Username, payload: PasswordReset, session: SessionDep, user: Admin
) -> UserPublic:
    """Set a new password (strength-checked); the account's sessions end and its locks are lifted."""
    return views.user_public(accounts.reset_password(session, user, username, payload.password))
