"""Dependencies of the routes and pages, as ``Annotated`` aliases tests can override.

``SessionDep`` is one unit of work per request: committed when the handler returns (before the
response is sent, so a failed commit is an error response, never a lost write), rolled back when
it raises. ``CurrentUser`` reads an API bearer token, ``PageUser`` a signed session cookie; each
carries the secret of a server-side session (``store.sessions``), looked up on every request, so
logout, a password change or a deactivation takes effect at once, even for a copied cookie.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.errors import Forbidden, NotAuthenticated
from api.security import LoginLimiter, TokenSigner
from api.settings import Settings
from routing.catalogue import Catalogue, load_catalogue
from store.db import session_scope
from store.models import User
from store.sessions import session_user


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


def get_api_session_secret(
    signer: SignerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The session secret inside the request's bearer token (not yet checked against the database)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated(
            "请求没有携带令牌：先用 POST /api/v1/auth/token 取得令牌，"
            "再以请求头 'Authorization: Bearer <令牌>' 发送"
        )
    secret = signer.check(credentials.credentials)
    if secret is None:
        raise NotAuthenticated(_TOKEN_DEAD)
    return secret


_TOKEN_DEAD = (
    "令牌无效或已过期，或已被注销（退出登录、修改密码、停用账户都会注销令牌）；"
    "请用 POST /api/v1/auth/token 重新取得"
)
ApiSessionSecret = Annotated[str, Depends(get_api_session_secret)]


def get_api_user(session: SessionDep, secret: ApiSessionSecret) -> User:
    user = session_user(session, secret, kind="api")
    if user is None:
        raise NotAuthenticated(_TOKEN_DEAD)
    return user


def get_page_user(request: Request, session: SessionDep) -> User:
    user = session_user(session, request.session.get("sid"), kind="page")
    if user is None:
        request.session.clear()
        raise NotAuthenticated("请先登录")
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
