"""Sign-in for API clients: a bearer token for a username and password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from api import views, workflows
from api.deps import CurrentUser, LimiterDep, SessionDep, SettingsDep, SignerDep
from api.schemas import TokenPublic, UserPublic, error_responses

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenPublic, responses=error_responses(400, 401, 422, 429))
def issue_token(
    request: Request,
    session: SessionDep,
    signer: SignerDep,
    limiter: LimiterDep,
    settings: SettingsDep,
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
) -> TokenPublic:
    """Exchange a username and password for a bearer token (OAuth2 password form)."""
    address = request.client.host if request.client else "unknown"
    user = workflows.sign_in(session, limiter, address, username, password)
    return TokenPublic(
        access_token=signer.issue(user.id, user.password_hash), expires_in=settings.token_max_age
    )


@router.get("/me", response_model=UserPublic, responses=error_responses(401))
def me(user: CurrentUser) -> UserPublic:
    """The account the token belongs to."""
    return views.user_public(user)
