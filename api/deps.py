"""Dependencies of the routes and pages, as ``Annotated`` aliases tests can override.

``SessionDep`` is one unit of work per request: committed when the handler returns (before the
response is sent, so a failed commit is an error response, never a lost write), rolled back when
it raises. ``CurrentUser`` reads an API bearer token, ``PageUser`` a signed session cookie; both
re-check the account on every request, so deactivating it or changing its password takes effect
at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.errors import Forbidden, NotAuthenticated
from api.security import LoginLimiter, TokenSigner, password_fingerprint
from api.settings import Settings
from routing.catalogue import Catalogue, load_catalogue
from store.db import session_scope
from store.models import User


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.session_factory) as session:
        yield session


def get_router(request: Request) -> Any:
    return request.app.state.routers.get()


def get_token_signer(request: Request) -> TokenSigner:
    signer: TokenSigner = request.app.state.token_signer
    return signer


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
RouterDep = Annotated[Any, Depends(get_router)]
SignerDep = Annotated[TokenSigner, Depends(get_token_signer)]

_bearer = HTTPBearer(auto_error=False, description="a token from POST /api/v1/auth/token")


def _active_user(session: Session, user_id: object, fingerprint: object) -> User | None:
    from store.queries_api import user_by_id

    if not isinstance(user_id, int):
        return None
    user = user_by_id(session, user_id)
    if user is None or not user.active or fingerprint != password_fingerprint(user.password_hash):
        return None
    return user


def get_api_user(
    session: SessionDep,
    signer: SignerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated(
            "no bearer token; get one from POST /api/v1/auth/token and send 'Authorization: Bearer <token>'"
        )
    claims = signer.check(credentials.credentials)
    user = _active_user(session, claims.user_id, claims.fingerprint) if claims else None
    if user is None:
        raise NotAuthenticated(
            "the bearer token is invalid or expired, or the account changed; "
            "get a new one from POST /api/v1/auth/token"
        )
    return user


def get_page_user(request: Request, session: SessionDep) -> User:
    user = _active_user(session, request.session.get("uid"), request.session.get("fp"))
    if user is None:
        request.session.clear()
        raise NotAuthenticated("please sign in")
    return user


CurrentUser = Annotated[User, Depends(get_api_user)]
PageUser = Annotated[User, Depends(get_page_user)]


def _role_check(user_dep: Callable[..., User], roles: frozenset[str], what: str) -> Callable[..., User]:
    # A default rather than Annotated: with postponed annotations a closure's local could not be resolved.
    def check(user: User = Depends(user_dep)) -> User:  # noqa: B008
        if user.role not in roles:
            raise Forbidden(
                f"role {user.role!r} may not {what}; roles allowed: {', '.join(sorted(roles))}. "
                "Ask an administrator if your role is wrong."
            )
        return user

    return check


def api_role(roles: frozenset[str], what: str) -> Any:
    """A dependency that yields the API caller if their role is in ``roles``, else 403."""
    return Depends(_role_check(get_api_user, roles, what))


def page_role(roles: frozenset[str], what: str) -> Any:
    """The same for the pages (session cookie)."""
    return Depends(_role_check(get_page_user, roles, what))


def get_catalogue(settings: SettingsDep) -> Catalogue:
    return load_catalogue(settings.departments_file)


CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]


def get_login_limiter(request: Request) -> LoginLimiter:
    limiter: LoginLimiter = request.app.state.login_limiter
    return limiter


LimiterDep = Annotated[LoginLimiter, Depends(get_login_limiter)]
