"""Dependencies of the routes and pages, as ``Annotated`` aliases tests can override, and the router
the app serves (:class:`RouterHolder`).

``SessionDep`` is one unit of work per request: committed when the handler returns (before the
response is sent, so a failed commit is an error response, never a lost write), rolled back when
it raises. ``CurrentUser`` reads an API bearer token, ``PageUser`` a signed session cookie; each
carries the secret of a server-side session (``store.sessions``), looked up on every request, so
logout, a password change or a deactivation takes effect at once, even for a copied cookie.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from routing.catalogue import Catalogue, load_catalogue
from service.errors import Forbidden, NotAuthenticated, ServiceUnavailable
from service.models import VERSION_PATTERN
from service.routers import load_router
from service.security import LoginLimiter, TokenSigner
from service.settings import Settings
from store.db import session_scope
from store.models import User
from store.sessions import session_user

log = logging.getLogger("xinfang.api")


class RouterHolder:
    """Serves the routing model in service, and swaps in a newly promoted one without a restart.

    Loading and swapping are ``training.registry.ModelHolder``'s: it watches the registry, loads a
    promoted model in the background while requests keep the old router, and never swaps in a model
    that fails to load. Each model is loaded by ``service.routers.load_router``, as the command line
    and batch triage load theirs.

    Args:
        settings: where the model registry is and which version to serve.
        router: an already loaded router (tests, benchmarks); then nothing is loaded from disk.
    """

    def __init__(self, settings: Settings, router: Any | None = None) -> None:
        self._settings = settings
        self._router = router
        self._models: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._router is not None or (self._models is not None and self._models.version is not None)

    @property
    def model_version(self) -> str | None:
        if self._router is None:
            if self._models is None:
                return None
            with contextlib.suppress(Exception):  # health reports; it does not fail on a missing model
                self._models.current_router()  # looks at the registry: a promotion shows here too
            return str(self._models.version) if self._models.version else None
        model = getattr(self._router, "model", None)
        version = getattr(model, "version", None) or getattr(self._router, "model_version", None)
        return str(version) if version else None

    def get(self) -> Any:
        """The router; raises ``ServiceUnavailable`` (503) with the load error when there is none."""
        if self._router is not None:
            return self._router
        from classifier.errors import ModelLoadError

        with self._lock:
            if self._models is None:
                self._models = self._holder()
        try:
            return self._models.current_router()
        except ModelLoadError as exc:
            log.error("routing model not loaded: %s", exc)
            raise ServiceUnavailable(f"the routing model is not available: {exc}") from exc

    def refresh(self) -> str | None:
        """Look at the registry now and wait for a newly promoted model; returns the version served.

        A promotion made through this app calls it, so the very next request gets the new model
        rather than one a check interval and a load later (other processes still swap on their own).
        """
        if self._router is not None:
            return self.model_version
        with contextlib.suppress(ServiceUnavailable):  # the new model failed: the old one serves on
            self.get()
        version = self._models.refresh() if self._models is not None else None
        return str(version) if version else None

    def _holder(self) -> Any:
        from routing.router import Router
        from routing.schemas import Letter
        from training.registry import ModelHolder

        settings = self._settings

        def load(model_dir: Path) -> Router:
            router = load_router(settings, model_dir)
            # Route one letter now: the segmenter builds its dictionary on first use, which would
            # otherwise make the first officers of the day wait seconds for their proposals.
            router.propose(Letter(title="启动自检", text="小区物业乱收费，请求有关部门处理。"))
            return router

        return ModelHolder(settings.models_dir, version=settings.model_version, loader=load)


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.session_factory) as session:
        yield session


def get_router(request: Request) -> Any:
    return get_router_holder(request).get()


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


def get_router_holder(request: Request) -> RouterHolder:
    holder: RouterHolder = request.app.state.routers
    return holder


def serving_version(request: Request) -> str | None:
    """The model version this server process routes with now."""
    return get_router_holder(request).model_version


def router_refresh(request: Request) -> Callable[[], str | None]:
    """What a promotion or rollback calls once committed: swap in the model now in service."""
    return get_router_holder(request).refresh


#: A model folder's name in a path (``service.models.VERSION_PATTERN``).
ModelVersion = Annotated[str, PathParam(pattern=VERSION_PATTERN, description="a model folder's name")]
