"""Sign-in and sign-out pages (a signed cookie carrying a server-side session)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import LimiterDep, PageUser, SessionDep, SettingsDep
from api.errors import headers_of
from api.pages.csrf import CsrfChecked
from api.pages.render import render
from service import accounts
from service.errors import NotAuthenticated, TooManyRequests
from service.security import new_csrf_token

router = APIRouter()


def _safe_next(target: str | None) -> str:
    # Only a path on this site: "//evil.example" or "https://..." would make the login an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next": _safe_next(next)})


@router.post("/login", dependencies=[CsrfChecked])
def login(
    request: Request,
    session: SessionDep,
    limiter: LimiterDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    address = request.client.host if request.client else "unknown"
    try:
        _, secret = accounts.sign_in(session, settings, limiter, address, username, password, kind="page")
    except NotAuthenticated:
        return render(
            request,
            "login.html",
            {
                "next": _safe_next(next),
                "username": username,
                "error": "用户名或密码错误，或账户已被锁定、停用。",
            },
            status_code=401,
        )
    except TooManyRequests as exc:
        return render(
            request,
            "login.html",
            {"next": _safe_next(next), "username": username, "error": "登录失败次数过多，请稍后再试。"},
            status_code=429,
            headers=headers_of(exc),
        )
    # A fresh cookie on sign-in: a token planted before it (session fixation) is worth nothing after.
    request.session.clear()
    request.session.update({"sid": secret, "csrf": new_csrf_token()})
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, session: SessionDep, user: PageUser) -> Response:
    # Ended in the database, not only in this browser: a copy of the cookie is refused too.
    accounts.sign_out(session, user, str(request.session.get("sid", "")))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
