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
import re
from collections.abc import Iterable, Mapping
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


# Pydantic's messages are English; officers and the office's integrators read Chinese. Keyed by the
# error type (stable across pydantic releases), filled from the error's context.
_PYDANTIC_MESSAGES: dict[str, str] = {
    "missing": "缺少此项",
    "extra_forbidden": "不认识此项（请查看 API 文档中的字段名）",
    "string_type": "应为文本",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不对",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "date_type": "应为日期（YYYY-MM-DD）",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_inexact": "应为日期（YYYY-MM-DD），不带时刻",
    "datetime_type": "应为时间（ISO 8601）",
    "datetime_parsing": "应为时间（ISO 8601）",
    "literal_error": "只能是 {expected}",
    "enum": "只能是 {expected}",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "list_type": "应为列表",
    "dict_type": "应为 JSON 对象",
    "model_type": "应为 JSON 对象",
    "model_attributes_type": "应为 JSON 对象",
    "json_invalid": "不是有效的 JSON",
    "json_type": "不是有效的 JSON",
    "uuid_parsing": "应为 UUID",
}


def _chinese_message(err: Mapping[str, Any]) -> str:
    kind = str(err.get("type", ""))
    msg = str(err.get("msg", ""))
    if kind in ("value_error", "assertion_error"):
        # the project's own validators already write Chinese; pydantic prefixes "Value error, "
        return msg.split(", ", 1)[1] if msg.startswith(("Value error, ", "Assertion failed, ")) else msg
    template = _PYDANTIC_MESSAGES.get(kind)
    if template is None:
        return f"值无效（{msg}）" if msg else "值无效"
    context = {k: str(v) for k, v in (err.get("ctx") or {}).items()}
    if "expected" in context:  # "'a', 'b' or 'c'" → "'a'、'b'、'c'"
        context["expected"] = "、".join(re.split(r", | or ", context["expected"]))
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        return template.split("{", 1)[0].rstrip() or f"值无效（{msg}）"


def _validation_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        # Pydantic puts the offending input in "input"; it may be a whole letter with personal data,
        # so only its location, message and type go back (and into logs).
        out.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": _chinese_message(err),
                "type": err.get("type", ""),
            }
        )
    return out


def _validation_message(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return "请求无效"
    first = errors[0]
    loc = list(first["loc"])
    # the first element says where the value came from; a field may itself be called "form"
    if loc and loc[0] in ("body", "query", "path", "form", "header", "cookie"):
        loc = loc[1:]
    where = ".".join(loc)
    if first["type"] == "json_invalid":
        return "请求正文不是有效的 JSON：请发送 JSON 对象，并设置 Content-Type: application/json"
    more = f"（另有 {len(errors) - 1} 处问题）" if len(errors) > 1 else ""
    return f"{where or '请求'}：{first['msg']}{more}"


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
        errors = _validation_errors(exc.errors())
        return _respond(request, 422, _validation_message(errors), errors)

    @app.exception_handler(ValidationError)
    async def _model_validation(request: Request, exc: ValidationError) -> Response:
        # Raised when a route builds an input schema itself (an upload's text plus its form fields).
        errors = _validation_errors(exc.errors())
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
