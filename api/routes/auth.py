"""Sign-in for API clients: a bearer token for a username and password, and its logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from api.deps import ApiSessionSecret, CurrentUser, LimiterDep, SessionDep, SettingsDep, SignerDep
from api.errors import error_responses
from service import accounts, views
from service.schemas import TokenPublic, UserPublic

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
    """Exchange a username and password for a bearer token (OAuth2 password form).

    The token stands for a session kept on the server: ``POST /auth/logout``, a password change or
    the account's deactivation ends it at once.
    """
    address = request.client.host if request.client else "unknown"
    _, secret = accounts.sign_in(session, settings, limiter, address, username, password, kind="api")
    return TokenPublic(access_token=signer.issue(secret), expires_in=settings.token_max_age)


@router.get("/me", response_model=UserPublic, responses=error_responses(401))
def me(user: CurrentUser) -> UserPublic:
    """The account the token belongs to."""
    return views.user_public(user)


@router.post("/logout", status_code=204, responses=error_responses(401))
def logout(session: SessionDep, user: CurrentUser, secret: ApiSessionSecret) -> Response:
    """End this token's session now: the token (and any copy of it) answers 401 from here on."""
    accounts.sign_out(session, user, secret)
    return Response(status_code=204)
