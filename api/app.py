"""The web application: the JSON API under ``/api/v1`` and the officers' pages, built by a factory.

Nothing is built at import time. ``create_app(settings)`` makes the database engine, the template
environment and the middleware; the migrations run and the routing model is loaded when the app
starts (its lifespan), so importing this module is cheap and tests build as many apps as they like.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from fastapi_offline import FastAPIOffline
from starlette.middleware.sessions import SessionMiddleware

from api import errors
from api.deps import RouterHolder
from api.errors import error_body
from service.errors import ServiceUnavailable
from service.settings import Settings, get_settings

log = logging.getLogger("xinfang.api")

HERE = Path(__file__).resolve().parent
API_V1 = "/api/v1"
SESSION_COOKIE = "xinfang_session"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 before they are read into memory.

    A declared ``Content-Length`` is checked up front; a chunked body is counted as it streams in
    and cut off at the limit, so a lying client cannot push more than the limit either. Paths in
    ``larger`` (batch uploads of many files) have their own limit.
    """

    def __init__(self, app: ASGIApp, limit: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(str(scope.get("path", "")), self.limit)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False
            if too_big:
                await self._refuse(scope, send, int(declared), limit)
                return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(received)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge as exc:
            if not started:
                await self._refuse(scope, send, exc.size, limit)

    async def _refuse(self, scope: Scope, send: Send, size: int, limit: int) -> None:
        import html
        import json

        setting = "XINFANG_MAX_UPLOAD_BYTES" if limit == self.limit else "XINFANG_MAX_BATCH_UPLOAD_BYTES"
        message = (
            f"the request body is {size} bytes or more, over the limit of {limit} bytes "
            f"({setting}); send a smaller file or split it"
        )
        if str(scope.get("path", "")).startswith(errors.API_PREFIX):
            body = json.dumps(error_body(413, message), ensure_ascii=False).encode("utf-8")
            content_type = b"application/json"
        else:
            # The page's templates need a request this middleware does not build; a plain page will do.
            body = (
                '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>文件过大</title>'
                '<link rel="stylesheet" href="/static/app.css"><main><section class="card error">'
                '<h1>文件过大（413）</h1><p class="message">上传的内容超过大小限制，请拆分后再上传。</p>'
                f'<p class="hint">{html.escape(message)}</p><p><a href="/letters/new">返回登记页面</a></p>'
                "</section></main></html>"
            ).encode()
            content_type = b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", content_type), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


class SecurityHeaders:
    """Headers that keep the pages from being framed, sniffed or made to load foreign scripts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                # A response with its own policy keeps it: a second header could only narrow the first,
                # and the model's evaluation report needs its inline styles (and nothing else).
                own = any(k.lower() == b"content-security-policy" for k, _ in headers)
                if not own and not path.startswith(("/docs", "/redoc")):
                    headers.append(
                        (
                            b"content-security-policy",
                            b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                            b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
                        )
                    )
                if path.startswith(("/letters", "/api/v1/letters", "/api/v1/exports", "/api/v1/audit")):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, add_headers)


def create_app(settings: Settings | None = None, *, router: Any | None = None) -> FastAPI:
    """Build the web application.

    Args:
        settings: the installation's settings; defaults to :func:`service.settings.get_settings`.
        router: an already loaded ``routing.router.Router``; by default the app loads the model
            named by ``settings`` when it starts.

    Returns:
        The FastAPI app. Run it with ``xinfang serve`` (uvicorn) or a test client.
    """
    from store.db import make_engine, make_session_factory

    settings = settings or get_settings()
    if settings.database_url.startswith("sqlite:///"):
        db_path = Path(settings.database_url.removeprefix("sqlite:///"))
        if str(db_path) not in ("", ":memory:"):
            db_path.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    holder = RouterHolder(settings, router)
    from store.audit_key import use_audit_key

    # The installation's key, kept outside the database: every audit event this process appends is
    # keyed with it, and the audit page verifies with it.
    use_audit_key(settings.audit_key_bytes)
    from routing.calendar import use_holidays

    # Case clocks count working days on the pages without loading the model.
    use_holidays(settings.holidays_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            from store.db import upgrade

            upgrade(settings.database_url)
        sweep_storage(settings)
        if settings.preload_model:
            # A failure is logged by the holder; the pages that need the model answer 503 with the reason.
            with contextlib.suppress(ServiceUnavailable):
                holder.get()
            # What is alive now (the libraries, the model) lives as long as the server: frozen, the
            # garbage collector stops walking it on every full collection, which took a sixth of
            # routing's CPU time (BENCHMARKS.md, "Statutory routing"). Collected first, so no garbage
            # is frozen; thawed at shutdown, so an app built in tests leaves nothing behind.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if settings.preload_model:
                gc.unfreeze()
            engine.dispose()

    # The API docs' scripts and styles come from a package, not a CDN: offices run without internet.
    app = FastAPIOffline(
        static_url="/docs-assets",
        title="xinfang",
        summary="Routing of petition letters (信访来信) under the 2022 《信访工作条例》",
        version="1",
        lifespan=lifespan,
        openapi_url=f"{API_V1}/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.routers = holder
    app.state.templates = _templates()

    from service.security import LoginLimiter, TokenSigner

    app.state.token_signer = TokenSigner(settings.secret_key, settings.token_max_age)
    app.state.login_limiter = LoginLimiter(settings.login_attempts, settings.login_window)

    errors.install(app)
    from api.pages import PAGE_ROUTERS
    from api.routes import API_ROUTERS

    for api_router in API_ROUTERS:
        app.include_router(api_router, prefix=API_V1)
    for page_router in PAGE_ROUTERS:
        app.include_router(page_router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    # Outermost first: the body limit answers before anything reads the body.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age,
        same_site="strict",
        https_only=settings.environment == "production",
    )
    app.add_middleware(SecurityHeaders)
    batch_limit = max(settings.max_batch_upload_bytes, settings.max_upload_bytes) + _FORM_OVERHEAD
    app.add_middleware(
        BodyLimit,
        limit=settings.max_upload_bytes + _FORM_OVERHEAD,
        larger={path: batch_limit for path in BATCH_UPLOAD_PATHS},
    )
    return app


# A multipart form carries the particulars and boundaries besides the file itself.
_FORM_OVERHEAD = 256 * 1024
# Where a batch of files is uploaded at once (the API and the page): XINFANG_MAX_BATCH_UPLOAD_BYTES.
BATCH_UPLOAD_PATHS = (f"{API_V1}/batches", "/batches")


def sweep_storage(settings: Settings) -> None:
    """Remove what uploads cut short by a killed server left in the storage folder, and log it.

    Run at every start: the folder of an upload whose server process is gone holds the letters of
    that upload and nothing refers to it (``intake.debris``). A failure is logged, not raised: the
    workbench must start even if the folder cannot be cleaned (``xinfang files sweep`` says why).
    """
    import datetime as dt

    from intake.debris import sweep

    try:
        report = sweep(Path(settings.storage_dir), older_than=dt.timedelta(seconds=settings.debris_after))
    except OSError as exc:
        log.error("could not sweep the storage folder %s: %s", settings.storage_dir, exc)
        return
    if report.removed or report.failed:
        log.warning("storage folder %s swept at start: %s", settings.storage_dir, report.summary())
    for path, error in report.failed:
        log.error("could not remove %s from the storage folder: %s", path, error)


def _templates() -> Jinja2Templates:
    from api.pages.render import configure_templates

    return configure_templates(Jinja2Templates(directory=HERE / "templates"))
