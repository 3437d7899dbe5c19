"""The one place where exceptions become HTTP responses.

Every error the JSON API returns has the same shape, pinned by ``tests/api/test_api_errors.py``::

    {"ok": false, "error": "<one readable sentence>", "errors": [<details>], "status": <int>}

``errors`` lists the individual problems (a field that failed validation, say) as
``{"loc": [...], "msg": ..., "type": ...}``; it is empty when there is only one problem. The web pages
get the same information rendered as an HTML page, and a page that needs a login redirects to it.

The operations raise ``service.errors`` and the store's errors without any HTTP in them;
:data:`STATUS`, :func:`status_of` and :func:`headers_of` say what each becomes, for the handlers
below and for a page that shows a failure on itself rather than on the error page.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from classifier.errors import InvalidLetterError
from routing.errors import UnknownCodeError
from service.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    ServiceUnavailable,
    TooManyRequests,
    UnsupportedMediaType,
)
from store import errors as store_errors

log = logging.getLogger("xinfang.api")

API_PREFIX = "/api/"


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    loc: list[str]
    msg: str
    type: str


class ErrorPublic(BaseModel):
    """The one shape of every error the API returns."""

    model_config = ConfigDict(extra="forbid")

    ok: Literal[False]
    error: str
    errors: list[ErrorDetail]
    status: int


def error_responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` documenting the error shape for ``codes`` (401 and 422 are usual)."""
    return {code: {"model": ErrorPublic} for code in codes}


# The status of each error a request can end with: the service's own, then those of the packages
# below it that mean the client sent or asked for something unusable. A class not listed takes the
# status of its nearest listed base (``status_of`` walks the MRO, most specific first).
STATUS: dict[type[Exception], int] = {
    ServiceError: 400,
    BadRequest: 400,
    NotAuthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    InvalidInput: 422,
    TooManyRequests: 429,
    ServiceUnavailable: 503,
    store_errors.InvalidValueError: 422,
    store_errors.NotFoundError: 404,
    store_errors.DuplicateError: 409,
    store_errors.ConflictError: 409,
    store_errors.InvalidStateError: 409,
    store_errors.AuthenticationError: 401,
    store_errors.NotAllowedError: 403,
    store_errors.SchemaError: 503,
    UnknownCodeError: 422,
    InvalidLetterError: 422,
}


def status_of(exc: Exception, default: int = 422) -> int:
    """The HTTP status for ``exc``: that of its class or nearest listed base in :data:`STATUS`, else
    ``default`` (another store error: a value the store refused)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return default


def headers_of(exc: Exception) -> dict[str, str] | None:
    """The headers an error response carries: how to authenticate, how long to wait."""
    if isinstance(exc, NotAuthenticated):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, TooManyRequests):
        return {"Retry-After": str(exc.retry_after)}
    return None


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


async def _known_error(request: Request, exc: Exception) -> Response:
    errors = exc.errors if isinstance(exc, ServiceError) else None
    return _respond(request, status_of(exc), str(exc), errors, headers_of(exc))


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``; called once by :func:`api.app.create_app`."""

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

    # Each class on its own, so that they are answered by the exception middleware (a clean 4xx)
    # rather than by the server-error middleware, which would also log them as crashes; Starlette
    # picks the handler by walking the exception's MRO.
    for cls in STATUS:
        app.add_exception_handler(cls, _known_error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _respond(request, 500, "internal error; it has been logged, try again or report it", None)
