"""Accounts, for administrators. There is no default account: the first one comes from `xinfang users add`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from api import access, views
from api.deps import CatalogueDep, SessionDep, api_role
from api.errors import InvalidInput
from api.schemas import UserCreate, UserPublic, UsersPublic, error_responses
from store.models import User
from store.users import create_user, list_users

router = APIRouter(prefix="/users", tags=["users"])

Admin = Annotated[User, api_role(access.MANAGE_USERS, "manage accounts")]


@router.get("", response_model=UsersPublic, responses=error_responses(401, 403))
def read_users(session: SessionDep, user: Admin) -> UsersPublic:
    """Every account (never a password hash)."""
    users = list_users(session)
    return UsersPublic(data=[views.user_public(u) for u in users], count=len(users))


@router.post(
    "", response_model=UserPublic, status_code=201, responses=error_responses(400, 401, 403, 409, 422)
)
def add_user(payload: UserCreate, session: SessionDep, user: Admin, catalogue: CatalogueDep) -> UserPublic:
    """Create an account; the password must pass the strength policy."""
    if payload.department is not None and payload.department not in catalogue.codes:
        raise InvalidInput(
            f"department {payload.department!r} is not in the catalogue; "
            f"known codes: {', '.join(catalogue.codes)}"
        )
    created = create_user(
        session,
        username=payload.username,
        password=payload.password,
        role=payload.role,
        display_name=payload.display_name,
        department=payload.department,
        created_by=user.username,
    )
    return views.user_public(created)
