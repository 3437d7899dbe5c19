"""The one place where exceptions become HTTP responses.

Every error the JSON API returns has the same shape, pinned by ``tests/api/test_error_shape.py``::

    {"ok": false, "error": "<one readable sentence>", "errors": [<details>], "status": <int>}

``errors`` lists the individual problems (a field that failed validation, say) as
``{"loc": [...], "msg": ..., "type": ...}``; it is empty when there is only one problem. The web pages
get the same information rendered as an HTML page, and a page that needs a login redirects to it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("xinfang.api")

API_PREFIX = "/api/"


class ApiError(Exception):
    """Base of every error the web shell raises on purpose.

    Args:
        message: what was wrong, the value received, what is allowed and what to do next.
        errors: the individual problems, each ``{"loc": [...], "msg": ..., "type": ...}``.
    """

    status: int = 400
    headers: dict[str, str] | None = None

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class BadRequest(ApiError, ValueError):
    status = 400


class NotAuthenticated(ApiError, PermissionError):
    """No valid session or token came with the request."""

    status = 401
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(ApiError, PermissionError):
    """The user is known but their role does not allow this."""

    status = 403


class NotFound(ApiError, LookupError):
    status = 404


class Conflict(ApiError):
    """The resource changed since the client read it (optimistic locking)."""

    status = 409


class PayloadTooLarge(ApiError, ValueError):
    status = 413


class UnsupportedMediaType(ApiError, ValueError):
    status = 415


class InvalidInput(ApiError, ValueError):
    status = 422


class TooManyRequests(ApiError):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(max(1, retry_after))}


class ServiceUnavailable(ApiError):
    """A component the request needs (the routing model, say) is not available."""

    status = 503


def error_body(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The JSON error shape shared by every error response."""
    return {"ok": False, "error": message, "errors": errors or [], "status": status}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        # Pydantic puts the offending input in "input"; it may be a whole letter with personal data,
        # so only its location, message and type go back (and into logs).
        out.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": err.get("type", ""),
            }
        )
    return out


def _validation_message(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return "the request is not valid"
    first = errors[0]
    where = ".".join(p for p in first["loc"] if p not in ("body", "query", "path", "form"))
    if first["type"] == "json_invalid":
        return "the request body is not valid JSON; send a JSON object with Content-Type: application/json"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"invalid value for {where or 'the request'}: {first['msg']}{more}"


def _respond(
    request: Request,
    status: int,
    message: str,
    errors: list[dict[str, Any]] | None,
    headers: dict[str, str] | None = None,
) -> Response:
    if _is_api(request):
        return JSONResponse(error_body(status, message, errors), status_code=status, headers=headers)
    if status == 401:
        # A page that needs a login sends the browser to the login form, and back afterwards.
        target = request.url.path
        return RedirectResponse(f"/login?next={target}", status_code=303)
    from api.pages.render import render_error  # the pages import this module, not the reverse at import

    return render_error(request, status, message, errors or [], headers=headers)


def _domain_errors() -> list[tuple[type[Exception], int]]:
    """Errors of the core packages that mean the client sent or asked for something unusable.

    They are registered one by one so that they are answered by the exception middleware (a clean
    4xx) rather than by the server-error middleware, which would also log them as crashes.
    """
    from classifier.errors import InvalidLetterError
    from routing.errors import UnknownCodeError

    mapped: list[tuple[type[Exception], int]] = [(UnknownCodeError, 422), (InvalidLetterError, 422)]
    try:
        from store import errors as store_errors
    except ImportError:
        return mapped
    for name, status in (
        # most specific first: Starlette picks the handler by walking the exception's MRO
        ("InvalidValueError", 422),
        ("NotFoundError", 404),
        ("DuplicateError", 409),
        ("ConflictError", 409),
        ("InvalidStateError", 409),
        ("AuthenticationError", 401),
        ("NotAllowedError", 403),
        ("SchemaError", 503),
    ):
        cls = getattr(store_errors, name, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            mapped.append((cls, status))
    return mapped


def _domain_handler(status: int) -> Any:
    async def handler(request: Request, exc: Exception) -> Response:
        return _respond(request, status, str(exc), None)

    return handler


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``; called once by :func:`api.app.create_app`."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return _respond(request, exc.status, exc.message, exc.errors, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = _validation_errors(exc)
        return _respond(request, 422, _validation_message(errors), errors)

    @app.exception_handler(ValidationError)
    async def _model_validation(request: Request, exc: ValidationError) -> Response:
        # Raised when a route builds an input schema itself (an upload's text plus its form fields).
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        return _respond(request, 422, _validation_message(errors), errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail) if exc.detail else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such address: {request.url.path}; see /docs for the API"
        if exc.status_code == 400 and message == "There was an error parsing the body":
            message = (
                "the request body could not be parsed; send UTF-8 JSON with Content-Type: application/json "
                "(or a multipart form where the endpoint takes a file)"
            )
        if exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        return _respond(request, exc.status_code, message, None, getattr(exc, "headers", None))

    for cls, status in _domain_errors():
        app.add_exception_handler(cls, _domain_handler(status))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _respond(request, 500, "internal error; it has been logged, try again or report it", None)
