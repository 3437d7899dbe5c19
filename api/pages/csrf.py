"""CSRF protection of the pages: every form posts the session's token back."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request

from service.errors import Forbidden
from service.security import csrf_matches


def check_csrf(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> None:
    if not csrf_matches(request.session.get("csrf"), csrf_token):
        raise Forbidden(
            "the form's security token is missing or out of date (CSRF check); "
            "reload the page and submit it again"
        )


CsrfChecked = Depends(check_csrf)
