"""The permission matrix: every endpoint (API and pages) x every role, and not signed in.

The letters in play:

- ``pending``: an ordinary letter (物业 → housing), not yet decided;
- ``decided``: an ordinary letter decided for housing, the department handler's own department, but
  not transferred there yet: still the office's, so not the handler's;
- ``transferred``: an ordinary letter decided for housing and transferred (转送) there: the handler's;
- ``returned``: a letter transferred to housing, returned by its handler (异议退回), routed again to
  the education bureau and transferred there: no longer the housing handler's;
- ``accusation``: an accusation about an official of the housing bureau, proposed (by the real
  ``propose``) for the discipline channel and 纪委监委, never for the bureau it accuses (confidential);
- ``accusation_decided``: the same, confirmed by a discipline inspector.

A letter a role may not open answers 404, exactly like a case number that does not exist.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_factories import ACCUSATION_TEXT, PASSWORD, letter_payload, make_settings

from api.app import create_app

ANON = "anonymous"
ROLES = (
    "intake_officer",
    "supervisor",
    "analyst",
    "administrator",
    "department_handler",
    "discipline_inspector",
)
WHO = (*ROLES, ANON)

IN, SU, AN, AD, HA, DI = ROLES


def expect(default: int, **by_role: int) -> dict[str, int]:
    table = dict.fromkeys(WHO, default)
    table.update({k: v for k, v in by_role.items()})
    return table


# (method, path, body kind, expected status per role). Paths name letters by their key in the world.
API: list[tuple[str, str, str | None, dict[str, int]]] = [
    ("GET", "/api/v1/auth/me", None, expect(200, anonymous=401)),
    ("GET", "/api/v1/health", None, expect(200)),
    ("GET", "/api/v1/labels", None, expect(200, anonymous=401)),
    ("GET", "/api/v1/letters", None, expect(200, administrator=403, anonymous=401)),
    ("POST", "/api/v1/letters", "letter", expect(403, intake_officer=201, supervisor=201, anonymous=401)),
    ("POST", "/api/v1/letters/file", "file", expect(403, intake_officer=201, supervisor=201, anonymous=401)),
    (
        "GET",
        "/api/v1/letters/{pending}",
        None,
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{decided}",
        None,
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{transferred}",
        None,
        expect(200, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{returned}",
        None,
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{accusation}",
        None,
        expect(404, supervisor=200, discipline_inspector=200, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{accusation_decided}",
        None,
        expect(404, supervisor=200, discipline_inspector=200, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{decided}/decisions",
        None,
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{accusation_decided}/decisions",
        None,
        expect(404, supervisor=200, discipline_inspector=200, administrator=403, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/letters/{pending}/decisions",
        "decision",
        expect(404, intake_officer=201, supervisor=201, analyst=403, administrator=403, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/letters/{accusation}/decisions",
        "decision",
        expect(404, supervisor=201, discipline_inspector=201, administrator=403, anonymous=401),
    ),
    # A letter's page images answer exactly as the letter does (every world letter has one page).
    (
        "GET",
        "/api/v1/letters/{pending}/pages",
        None,
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{accusation}/pages",
        None,
        expect(404, supervisor=200, discipline_inspector=200, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{pending}/pages/1",
        None,
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{decided}/pages/1",
        None,
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{accusation}/pages/1",
        None,
        expect(404, supervisor=200, discipline_inspector=200, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{accusation_decided}/pages/1",
        None,
        expect(404, supervisor=200, discipline_inspector=200, administrator=403, anonymous=401),
    ),
    # Splitting and merging: a role let through reaches the store, which refuses the impossible
    # request (a split past the end, a merge with itself) with 422, so the world stays as it is.
    (
        "POST",
        "/api/v1/letters/{pending}/split",
        "split",
        expect(404, intake_officer=422, supervisor=422, analyst=403, administrator=403, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/letters/{accusation}/split",
        "split",
        expect(404, supervisor=422, discipline_inspector=422, administrator=403, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/letters/{pending}/merge",
        "merge",
        expect(404, intake_officer=422, supervisor=422, analyst=403, administrator=403, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/letters/{accusation}/merge",
        "merge",
        expect(404, supervisor=422, discipline_inspector=422, administrator=403, anonymous=401),
    ),
    ("GET", "/api/v1/exports/letters", None, expect(403, supervisor=200, analyst=200, anonymous=401)),
    # Batches. The matrix does not resolve batch ids: a role let through gets 422 for the literal
    # "{batch_id}" (and for an upload without its "files"); test_api_batches.py checks a real batch.
    ("POST", "/api/v1/batches", "file", expect(403, intake_officer=422, supervisor=422, anonymous=401)),
    (
        "GET",
        "/api/v1/batches",
        None,
        expect(403, intake_officer=200, supervisor=200, analyst=200, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/batches/{batch_id}",
        None,
        expect(403, intake_officer=422, supervisor=422, analyst=422, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/batches/{batch_id}/resume",
        None,
        expect(403, intake_officer=422, supervisor=422, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/batches/{batch_id}/export",
        None,
        expect(403, supervisor=422, analyst=422, anonymous=401),
    ),
    ("GET", "/api/v1/audit", None, expect(403, supervisor=200, anonymous=401)),
    ("GET", "/api/v1/users", None, expect(403, administrator=200, anonymous=401)),
    ("POST", "/api/v1/users", "user", expect(403, administrator=201, anonymous=401)),
    # Account actions on an account that does not exist: 404 (or 422 without a body) shows the
    # administrator got through and changed nothing.
    ("POST", "/api/v1/users/{username}/role", None, expect(403, administrator=422, anonymous=401)),
    ("POST", "/api/v1/users/{username}/password", None, expect(403, administrator=422, anonymous=401)),
    ("POST", "/api/v1/users/{username}/deactivate", None, expect(403, administrator=404, anonymous=401)),
    ("POST", "/api/v1/users/{username}/reactivate", None, expect(403, administrator=404, anonymous=401)),
    ("POST", "/api/v1/users/{username}/unlock", None, expect(403, administrator=404, anonymous=401)),
    # Role requests: administrators see them, supervisors and inspectors decide them (request 0 never exists).
    (
        "GET",
        "/api/v1/users/requests",
        None,
        expect(403, administrator=200, supervisor=200, discipline_inspector=200, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/users/requests/0/approve",
        None,
        expect(403, supervisor=404, discipline_inspector=404, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/users/requests/0/refuse",
        None,
        expect(403, supervisor=422, discipline_inspector=422, anonymous=401),
    ),
    # The models: the matrix app serves the shipped models/ folder, so no row may change it. An unknown
    # version (404) and a reason over the limit (422) show the role got through without promoting.
    ("GET", "/api/v1/models", None, expect(403, analyst=200, supervisor=200, anonymous=401)),
    ("GET", "/api/v1/models/default", None, expect(403, analyst=200, supervisor=200, anonymous=401)),
    (
        "POST",
        "/api/v1/models/promote",
        "model_promote",
        expect(403, analyst=404, supervisor=404, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/models/rollback",
        "model_rollback",
        expect(403, analyst=422, supervisor=422, anonymous=401),
    ),
    # The case's life. ``transferred`` is an ordinary letter transferred to housing (the handler's
    # body); ``accusation_transferred`` the accusation against housing, forwarded to 纪委监委 by an
    # inspector: the housing handler is a handler of the accused body and gets 404 on all of it.
    # A step or a link that a role is let through to is refused after every check of who may act
    # (422: a 重大紧急报告 without its reason, a link to itself), so the world stays as it is.
    (
        "GET",
        "/api/v1/letters/{pending}/case",
        None,
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{decided}/case",
        None,
        # decided for housing but not yet sent there: not the handler's case yet
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{transferred}/case",
        None,
        expect(200, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{returned}/case",
        None,
        # returned by housing and transferred to education: no longer the housing handler's
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{accusation_transferred}/case",
        None,
        expect(404, supervisor=200, discipline_inspector=200, administrator=403, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/letters/{pending}/steps",
        "step",
        expect(
            422,
            analyst=403,
            department_handler=404,
            discipline_inspector=404,
            administrator=403,
            anonymous=401,
        ),
    ),
    (
        "POST",
        "/api/v1/letters/{transferred}/steps",
        "step",
        expect(422, analyst=403, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/letters/{accusation_transferred}/steps",
        "step",
        expect(404, supervisor=422, discipline_inspector=422, administrator=403, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/letters/{transferred}/documents/draft",
        "draft",
        expect(200, analyst=403, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/letters/{accusation_transferred}/documents/draft",
        "draft",
        expect(404, supervisor=200, discipline_inspector=200, analyst=403, administrator=403, anonymous=401),
    ),
    # Issuing: a 转送函 is the office's (the handler may not issue one).
    (
        "POST",
        "/api/v1/letters/{transferred}/documents",
        "issue",
        expect(
            201,
            analyst=403,
            department_handler=403,
            discipline_inspector=404,
            administrator=403,
            anonymous=401,
        ),
    ),
    (
        "POST",
        "/api/v1/letters/{accusation_transferred}/documents",
        "issue",
        expect(404, supervisor=201, discipline_inspector=201, analyst=403, administrator=403, anonymous=401),
    ),
    # Documents name the petitioner: the analyst, who reads letters masked, opens none.
    (
        "GET",
        "/api/v1/documents/{doc_transferred}",
        None,
        expect(200, analyst=403, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/documents/{doc_returned}",
        None,
        # the 转送函 that once sent it to housing
        expect(
            200,
            analyst=403,
            department_handler=404,
            discipline_inspector=404,
            administrator=403,
            anonymous=401,
        ),
    ),
    (
        "GET",
        "/api/v1/documents/{doc_accusation}",
        None,
        expect(404, supervisor=200, discipline_inspector=200, analyst=403, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/documents/{doc_transferred}.docx",
        None,
        expect(200, analyst=403, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/documents/{doc_accusation}.docx",
        None,
        expect(404, supervisor=200, discipline_inspector=200, analyst=403, administrator=403, anonymous=401),
    ),
    # Recording the day sent, refused for a day before the issue (422) once a role may issue the kind.
    (
        "POST",
        "/api/v1/documents/{doc_transferred}/sent",
        "sent",
        expect(
            422,
            analyst=403,
            department_handler=403,
            discipline_inspector=404,
            administrator=403,
            anonymous=401,
        ),
    ),
    (
        "POST",
        "/api/v1/documents/{doc_accusation}/sent",
        "sent",
        expect(404, supervisor=422, discipline_inspector=422, analyst=403, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/supervision",
        None,
        expect(403, supervisor=200, discipline_inspector=200, anonymous=401),
    ),
    # 督办 with a date in the past: refused (422) once the role may supervise the case at all. The
    # housing handler opens the transferred case but issues no 督办单 (403).
    (
        "POST",
        "/api/v1/letters/{transferred}/supervise",
        "supervise",
        expect(403, supervisor=422, discipline_inspector=404, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/letters/{accusation_transferred}/supervise",
        "supervise",
        expect(
            404,
            supervisor=422,
            discipline_inspector=403,
            analyst=403,
            administrator=403,
            anonymous=401,
        ),
    ),
    ("GET", "/api/v1/escalations", None, expect(200, analyst=403, administrator=403, anonymous=401)),
    ("GET", "/api/v1/statistics", None, expect(403, supervisor=200, analyst=200, anonymous=401)),
    ("GET", "/api/v1/statistics/report", None, expect(403, supervisor=200, analyst=200, anonymous=401)),
    ("GET", "/api/v1/hot-issues", None, expect(403, supervisor=200, analyst=200, anonymous=401)),
    (
        "POST",
        "/api/v1/letters/{transferred}/link",
        "link",
        expect(
            422,
            analyst=403,
            department_handler=403,
            discipline_inspector=404,
            administrator=403,
            anonymous=401,
        ),
    ),
    (
        "POST",
        "/api/v1/letters/{accusation_transferred}/link",
        "link",
        expect(404, supervisor=422, discipline_inspector=422, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{pending}/earlier",
        None,
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/letters/{accusation}/earlier",
        None,
        expect(404, supervisor=200, discipline_inspector=200, administrator=403, anonymous=401),
    ),
    # Marked unrelated to itself: refused (422) once the role may mark on that letter at all.
    (
        "POST",
        "/api/v1/letters/{pending}/unrelated",
        "unrelated",
        expect(
            422,
            analyst=403,
            department_handler=403,
            discipline_inspector=404,
            administrator=403,
            anonymous=401,
        ),
    ),
    (
        "POST",
        "/api/v1/letters/{accusation}/unrelated",
        "unrelated",
        expect(
            404,
            supervisor=422,
            discipline_inspector=422,
            analyst=403,
            department_handler=403,
            administrator=403,
            anonymous=401,
        ),
    ),
]

# Pages answer "not signed in" with a redirect to the login form.
PAGES: list[tuple[str, str, str | None, dict[str, int]]] = [
    ("GET", "/", None, expect(200, administrator=303, anonymous=303)),
    ("GET", "/letters/new", None, expect(403, intake_officer=200, supervisor=200, anonymous=303)),
    ("POST", "/letters/new", "page_letter", expect(403, intake_officer=303, supervisor=303, anonymous=303)),
    (
        "GET",
        "/letters/{pending}",
        None,
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=303),
    ),
    (
        "GET",
        "/letters/{decided}",
        None,
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=303),
    ),
    (
        "GET",
        "/letters/{transferred}",
        None,
        expect(200, discipline_inspector=404, administrator=403, anonymous=303),
    ),
    (
        "GET",
        "/letters/{returned}",
        None,
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=303),
    ),
    (
        "GET",
        "/letters/{accusation}",
        None,
        expect(404, supervisor=200, discipline_inspector=200, administrator=403, anonymous=303),
    ),
    (
        "GET",
        "/letters/{accusation_decided}",
        None,
        expect(404, supervisor=200, discipline_inspector=200, administrator=403, anonymous=303),
    ),
    (
        "GET",
        "/letters/{pending}/regroup",
        None,
        expect(404, intake_officer=200, supervisor=200, analyst=403, administrator=403, anonymous=303),
    ),
    (
        "GET",
        "/letters/{accusation}/regroup",
        None,
        expect(404, supervisor=200, discipline_inspector=200, administrator=403, anonymous=303),
    ),
    (
        "POST",
        "/letters/{pending}/split",
        "page_split",
        expect(404, intake_officer=422, supervisor=422, analyst=403, administrator=403, anonymous=303),
    ),
    (
        "POST",
        "/letters/{accusation}/merge",
        "page_merge",
        expect(404, supervisor=422, discipline_inspector=422, administrator=403, anonymous=303),
    ),
    (
        "GET",
        "/letters/{pending}/pages/1",
        None,
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=303),
    ),
    (
        "GET",
        "/letters/{decided}/pages/1",
        None,
        expect(200, department_handler=404, discipline_inspector=404, administrator=403, anonymous=303),
    ),
    (
        "GET",
        "/letters/{accusation}/pages/1",
        None,
        expect(404, supervisor=200, discipline_inspector=200, administrator=403, anonymous=303),
    ),
    (
        "GET",
        "/letters/{accusation_decided}/pages/1",
        None,
        expect(404, supervisor=200, discipline_inspector=200, administrator=403, anonymous=303),
    ),
    (
        "POST",
        "/letters/{pending}/decide",
        "page_decision",
        expect(404, intake_officer=303, supervisor=303, analyst=403, administrator=403, anonymous=303),
    ),
    (
        "POST",
        "/letters/{accusation}/decide",
        "page_decision",
        expect(404, supervisor=303, discipline_inspector=303, administrator=403, anonymous=303),
    ),
    ("GET", "/audit", None, expect(403, supervisor=200, anonymous=303)),
    ("GET", "/batches", None, expect(403, intake_officer=200, supervisor=200, analyst=200, anonymous=303)),
    ("POST", "/batches", "csrf_only", expect(403, intake_officer=422, supervisor=422, anonymous=303)),
    (
        "GET",
        "/batches/{batch_id}",
        None,
        expect(403, intake_officer=422, supervisor=422, analyst=422, anonymous=303),
    ),
    (
        "GET",
        "/batches/{batch_id}/progress",
        None,
        expect(403, intake_officer=422, supervisor=422, analyst=422, anonymous=303),
    ),
    (
        "POST",
        "/batches/{batch_id}/resume",
        "csrf_only",
        expect(403, intake_officer=422, supervisor=422, anonymous=303),
    ),
    ("GET", "/batches/{batch_id}/export", None, expect(403, supervisor=422, analyst=422, anonymous=303)),
    ("GET", "/admin/users", None, expect(403, administrator=200, anonymous=303)),
    ("POST", "/admin/users", "page_user", expect(403, administrator=201, anonymous=303)),
    ("POST", "/admin/users/{username}/role", "csrf_only", expect(403, administrator=404, anonymous=303)),
    ("POST", "/admin/users/{username}/password", "csrf_only", expect(403, administrator=404, anonymous=303)),
    (
        "POST",
        "/admin/users/{username}/deactivate",
        "csrf_only",
        expect(403, administrator=404, anonymous=303),
    ),
    (
        "POST",
        "/admin/users/{username}/reactivate",
        "csrf_only",
        expect(403, administrator=404, anonymous=303),
    ),
    ("POST", "/admin/users/{username}/unlock", "csrf_only", expect(403, administrator=404, anonymous=303)),
    ("GET", "/approvals", None, expect(403, supervisor=200, discipline_inspector=200, anonymous=303)),
    (
        "POST",
        "/approvals/0/approve",
        "csrf_only",
        expect(403, supervisor=404, discipline_inspector=404, anonymous=303),
    ),
    (
        "POST",
        "/approvals/0/refuse",
        "csrf_only",
        expect(403, supervisor=422, discipline_inspector=422, anonymous=303),
    ),
    ("GET", "/models", None, expect(403, analyst=200, supervisor=200, anonymous=303)),
    ("GET", "/models/default", None, expect(403, analyst=200, supervisor=200, anonymous=303)),
    ("GET", "/models/default/report", None, expect(403, analyst=200, supervisor=200, anonymous=303)),
    (
        "POST",
        "/models/default/promote",
        "page_model",
        expect(403, analyst=422, supervisor=422, anonymous=303),
    ),
    ("POST", "/models/rollback", "page_model", expect(403, analyst=422, supervisor=422, anonymous=303)),
    # The case's life on the letter page: a refused step, issue or link re-renders the page with
    # the refusal's status; a letter the role may not open is 404.
    (
        "POST",
        "/letters/{transferred}/steps/escalate",
        "page_step",
        expect(422, analyst=403, discipline_inspector=404, administrator=403, anonymous=303),
    ),
    (
        "POST",
        "/letters/{accusation_transferred}/steps/escalate",
        "page_step",
        expect(404, supervisor=422, discipline_inspector=422, administrator=403, anonymous=303),
    ),
    (
        "POST",
        "/letters/{transferred}/documents",
        "page_issue",
        expect(
            303,
            analyst=403,
            department_handler=403,
            discipline_inspector=404,
            administrator=403,
        ),
    ),
    (
        "POST",
        "/letters/{accusation_transferred}/documents",
        "page_issue",
        # the analyst's refusal is shown on the letter page, which the analyst may not open either
        expect(404, supervisor=303, discipline_inspector=303, administrator=403, anonymous=303),
    ),
    (
        "GET",
        "/documents/{doc_transferred}",
        None,
        expect(200, analyst=403, discipline_inspector=404, administrator=403, anonymous=303),
    ),
    (
        "GET",
        "/documents/{doc_returned}",
        None,
        expect(
            200,
            analyst=403,
            department_handler=404,
            discipline_inspector=404,
            administrator=403,
            anonymous=303,
        ),
    ),
    (
        "GET",
        "/documents/{doc_accusation}",
        None,
        expect(404, supervisor=200, discipline_inspector=200, analyst=403, administrator=403, anonymous=303),
    ),
    (
        "GET",
        "/documents/{doc_transferred}/file",
        None,
        expect(200, analyst=403, discipline_inspector=404, administrator=403, anonymous=303),
    ),
    (
        "GET",
        "/documents/{doc_accusation}/file",
        None,
        expect(404, supervisor=200, discipline_inspector=200, analyst=403, administrator=403, anonymous=303),
    ),
    (
        "POST",
        "/documents/{doc_transferred}/sent",
        "page_sent",
        expect(
            422,
            analyst=403,
            department_handler=403,
            discipline_inspector=404,
            administrator=403,
            anonymous=303,
        ),
    ),
    (
        "POST",
        "/documents/{doc_accusation}/sent",
        "page_sent",
        expect(404, supervisor=422, discipline_inspector=422, analyst=403, administrator=403, anonymous=303),
    ),
    (
        "POST",
        "/letters/{transferred}/link",
        "page_link",
        expect(
            422,
            analyst=403,
            department_handler=403,
            discipline_inspector=404,
            administrator=403,
            anonymous=303,
        ),
    ),
    (
        "POST",
        "/letters/{accusation_transferred}/link",
        "page_link",
        expect(404, supervisor=422, discipline_inspector=422, administrator=403, anonymous=303),
    ),
    (
        "POST",
        "/letters/{pending}/unrelated",
        "page_unrelated",
        expect(
            422,
            analyst=403,
            department_handler=403,
            discipline_inspector=404,
            administrator=403,
            anonymous=303,
        ),
    ),
    (
        "POST",
        "/letters/{accusation}/unrelated",
        "page_unrelated",
        expect(
            404,
            supervisor=422,
            discipline_inspector=422,
            analyst=403,
            department_handler=403,
            administrator=403,
            anonymous=303,
        ),
    ),
    ("GET", "/supervision", None, expect(403, supervisor=200, discipline_inspector=200, anonymous=303)),
    ("GET", "/statistics", None, expect(403, supervisor=200, analyst=200, anonymous=303)),
    ("GET", "/statistics/report.docx", None, expect(403, supervisor=200, analyst=200, anonymous=303)),
    ("GET", "/statistics/report.xlsx", None, expect(403, supervisor=200, analyst=200, anonymous=303)),
    ("GET", "/hot-issues", None, expect(403, supervisor=200, analyst=200, anonymous=303)),
    # 督办 without its reason and date: refused (422) once the role may supervise at all.
    (
        "POST",
        "/supervision/{transferred}",
        "page_supervise",
        expect(403, supervisor=422, discipline_inspector=422, anonymous=303),
    ),
    (
        "POST",
        "/supervision/{accusation_transferred}",
        "page_supervise",
        expect(403, supervisor=422, discipline_inspector=422, anonymous=303),
    ),
    ("POST", "/logout", "csrf_only", expect(303)),
    ("GET", "/login", None, expect(200)),
]
# Routes outside the matrix on purpose: the token endpoint (its own tests), the API docs, static files.
UNLISTED = {
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/logout"),  # it ends the caller's token: tests/api/test_api_accounts.py
    ("POST", "/login"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/static"),
    ("GET", "/docs-assets"),
}


def _template(path: str) -> str:
    return (
        path.replace("{accusation_transferred}", "{case_number}")
        .replace("{transferred}", "{case_number}")
        .replace("{doc_transferred}", "{document_id}")
        .replace("{doc_accusation}", "{document_id}")
        .replace("{doc_returned}", "{document_id}")
        .replace("{returned}", "{case_number}")
        .replace("/steps/escalate", "/steps/{step}")
        .replace("{pending}", "{case_number}")
        .replace("{decided}", "{case_number}")
        .replace("{accusation_decided}", "{case_number}")
        .replace("{accusation}", "{case_number}")
        .replace("/pages/1", "/pages/{number}")
        .replace("/models/default", "/models/{version}")
        .replace("/requests/0/", "/requests/{request_id}/")
        .replace("/approvals/0/", "/approvals/{request_id}/")
    )


def app_routes(app: Any) -> set[tuple[str, str]]:
    """Every ``(method, path)`` the app answers, as it routes them: the routes of included routers
    with their prefixes (``app.routes`` holds an included router as one entry without a path)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # a FastAPI that copies an included router's routes into app.routes
        contexts: list[Any] = list(app.routes)
    else:
        contexts = list(iter_route_contexts(app.routes))
    found = set()
    for route in contexts:
        path = getattr(route, "path", None)
        assert path, f"a route without a path, so the matrix cannot be checked against it: {route!r}"
        methods = getattr(route, "methods", None) or {"GET"}  # a mount (static files, docs assets)
        found |= {(method, path) for method in methods if method != "HEAD"}
    return found


def uncovered(app: Any, rows: list[tuple[str, str, str | None, dict[str, int]]]) -> set[tuple[str, str]]:
    """The app's routes that no row of ``rows`` checks (nor ``UNLISTED`` leaves out on purpose)."""
    return app_routes(app) - {(m, _template(p)) for m, p, _, _ in rows} - UNLISTED


def test_matrix_covers_every_route(app: Any) -> None:
    routes = app_routes(app)
    # The enumeration sees into the included routers: the JSON API's and the pages' routes are there.
    assert {("GET", "/api/v1/letters"), ("GET", "/letters/{case_number}"), ("GET", "/")} <= routes
    assert uncovered(app, API + PAGES) == set(), "add these routes to the permission matrix"
    stale = {(m, _template(p)) for m, p, _, _ in API + PAGES} - routes
    assert stale == set(), "these rows of the matrix name no route of the app"


@pytest.mark.parametrize("removed", [("GET", "/api/v1/audit"), ("POST", "/models/rollback")], ids=str)
def test_a_route_missing_from_the_matrix_is_found(app: Any, removed: tuple[str, str]) -> None:
    rows = [row for row in API + PAGES if (row[0], row[1]) != removed]
    assert len(rows) == len(API + PAGES) - 1
    assert uncovered(app, rows) == {removed}


@pytest.fixture(scope="module")
def mx_app(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, standin_router: Any) -> Any:
    # One database for the whole matrix: the cases only read, or act on a letter made for them.
    path = tmp_path_factory.mktemp("matrix") / "matrix.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return create_app(
        make_settings(f"sqlite:///{path}", login_attempts=1000, storage_dir=path.parent / "files"),
        router=standin_router,
    )


class Actor:
    """A signed-in browser session and an API token for one role (or neither, for anonymous)."""

    def __init__(self, app: Any, role: str) -> None:
        self.client = TestClient(app, raise_server_exceptions=False)
        self.headers: dict[str, str] = {}
        if role != ANON:
            r = self.client.post(
                "/api/v1/auth/token", data={"username": role.replace("_", "."), "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            r = self.client.post(
                "/login",
                data={
                    "username": role.replace("_", "."),
                    "password": PASSWORD,
                    "csrf_token": self.csrf(),
                    "next": "/",
                },
                follow_redirects=False,
            )
            assert r.status_code == 303, r.text

    def csrf(self) -> str:
        page = self.client.get("/login").text
        return str(page.split('name="csrf_token" value="')[1].split('"')[0])


@pytest.fixture(scope="module")
def actors(mx_app: Any) -> dict[str, Actor]:
    return {who: Actor(mx_app, who) for who in WHO}


def _new_letter(
    actors: dict[str, Actor], text: str | None = None, decide_as: str | None = None
) -> dict[str, Any]:
    sup = actors[SU]
    r = sup.client.post(
        "/api/v1/letters", json=letter_payload(**({"text": text} if text else {})), headers=sup.headers
    )
    assert r.status_code == 201, r.text
    case = r.json()["case_number"]
    if decide_as is not None:
        letter = sup.client.get(f"/api/v1/letters/{case}", headers=sup.headers).json()
        who = actors[decide_as]
        r = who.client.post(
            f"/api/v1/letters/{case}/decisions",
            headers=who.headers,
            json={
                "proposal_id": letter["proposal"]["id"],
                "letter_version": letter["version"],
                "department": letter["proposal"]["department"]["label"],
            },
        )
        assert r.status_code == 201, r.text
    return dict(sup.client.get(f"/api/v1/letters/{case}", headers=sup.headers).json())


@pytest.fixture(scope="module")
def world(actors: dict[str, Actor]) -> dict[str, dict[str, Any]]:
    built = {
        "pending": _new_letter(actors),
        "decided": _new_letter(actors, decide_as=SU),
        "accusation": _new_letter(actors, ACCUSATION_TEXT),
        "accusation_decided": _new_letter(actors, ACCUSATION_TEXT, decide_as=DI),
    }
    assert built["decided"]["decisions"][-1]["department"] == "housing"  # the handler's own
    assert built["accusation"]["proposal"]["department"]["label"] == "discipline_inspection"
    _give_each_a_page_image(actors[SU].client.app, built)
    transferred, doc_transferred = _transferred(actors, SU)
    accusation_transferred, doc_accusation = _transferred(actors, DI, ACCUSATION_TEXT)
    returned, doc_returned = _returned(actors)
    built.update(
        transferred=transferred,
        accusation_transferred=accusation_transferred,
        doc_transferred=doc_transferred,
        doc_accusation=doc_accusation,
        returned=returned,
        doc_returned=doc_returned,
    )
    return built


def _step(actor: Actor, case: str, step: str, fields: dict[str, Any]) -> None:
    version = actor.client.get(f"/api/v1/letters/{case}/case", headers=actor.headers).json()["version"]
    r = actor.client.post(
        f"/api/v1/letters/{case}/steps",
        headers=actor.headers,
        json={"step": step, "fields": fields, "version": version},
    )
    assert r.status_code == 201, r.text


def _issue_transfer_letter(actor: Actor, case: str) -> dict[str, Any]:
    draft = actor.client.post(
        f"/api/v1/letters/{case}/documents/draft", headers=actor.headers, json={"kind": "transfer_letter"}
    ).json()
    r = actor.client.post(
        f"/api/v1/letters/{case}/documents",
        headers=actor.headers,
        json={"kind": "transfer_letter", "title": draft["title"], "paragraphs": draft["paragraphs"]},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _returned(actors: dict[str, Actor]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A letter transferred to housing, returned by its handler, routed to education and transferred
    there; the letter as it is then, and the 转送函 that had sent it to housing."""
    letter, to_housing = _transferred(actors, SU)
    case, sup, handler = letter["case_number"], actors[SU], actors[HA]
    _step(handler, case, "receive", {})
    _step(handler, case, "object", {"reason": "该事项属教育部门职责，不属本单位职责范围"})
    fields = {"channel": "ordinary", "disposition": "accept", "body": "education", "reason": "改由教育局办理"}
    _step(sup, case, "decide", fields)
    _step(sup, case, "transfer", {"document_no": _issue_transfer_letter(sup, case)["number"]})
    return dict(sup.client.get(f"/api/v1/letters/{case}", headers=sup.headers).json()), to_housing


def _transferred(
    actors: dict[str, Actor], office: str, text: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A letter decided by ``office`` and transferred with its 转送函; the letter as it is then, and
    the 转送函."""
    letter = _new_letter(actors, text, decide_as=office)
    case, who = letter["case_number"], actors[office]
    document = _issue_transfer_letter(who, case)
    _step(who, case, "transfer", {"document_no": document["number"]})
    sup = actors[SU]
    return dict(sup.client.get(f"/api/v1/letters/{case}", headers=sup.headers).json()), document


def _give_each_a_page_image(app: Any, letters: dict[str, dict[str, Any]]) -> None:
    """One kept page image per world letter, as batch triage records a scan's pages."""
    from PIL import Image

    from intake.readers import encode_page_image
    from store.db import session_scope
    from store.files import NewLetterPage, add_letter_pages, keep_page_image
    from store.letters import get_letter_by_case_number

    image = encode_page_image(Image.new("L", (120, 170), 255))
    kept = keep_page_image(app.state.settings.storage_dir, image.data, image.media_type)
    with session_scope(app.state.session_factory) as session:
        for letter in letters.values():
            row = get_letter_by_case_number(session, letter["case_number"])
            page = NewLetterPage(file_page=1, image=kept, width=image.width, height=image.height)
            add_letter_pages(session, row.id, [page])


def _call(
    client: TestClient,
    method: str,
    path: str,
    body: str | None,
    headers: dict[str, str],
    csrf: str,
    letter: dict[str, Any] | None,
) -> int:
    kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
    if body == "letter":
        kwargs["json"] = letter_payload()
    elif body == "file":
        kwargs["files"] = {"file": ("来信.txt", "小区物业乱收费，请求处理。".encode(), "text/plain")}
        kwargs["data"] = {"title": "物业", "form": "letter"}
    elif body == "decision":
        assert letter is not None
        kwargs["json"] = {"proposal_id": letter["proposal"]["id"], "letter_version": letter["version"]}
    elif body == "user":
        kwargs["json"] = {
            "username": f"new.{uuid.uuid4().hex[:8]}",
            "display_name": "新同事",
            "role": "analyst",
            "password": "Qing-shui 2026 he",
        }
    elif body == "page_letter":
        kwargs["data"] = {"csrf_token": csrf, "text": "小区物业乱收费，请求处理。", "form": "letter"}
    elif body == "page_decision":
        assert letter is not None
        kwargs["data"] = {
            "csrf_token": csrf,
            "proposal_id": letter["proposal"]["id"],
            "letter_version": letter["version"],
            "action": "accept",
        }
    elif body == "page_user":
        kwargs["data"] = {
            "csrf_token": csrf,
            "username": f"new.{uuid.uuid4().hex[:8]}",
            "display_name": "新同事",
            "role": "analyst",
            "password": "Qing-shui 2026 he",
        }
    elif body in ("split", "page_split"):
        assert letter is not None
        fields = {"letter_version": letter["version"], "at": 150_000, "reason": "两件事项"}
        if body == "split":
            kwargs["json"] = fields
        else:
            kwargs["data"] = {"csrf_token": csrf, **fields}
    elif body in ("merge", "page_merge"):
        assert letter is not None
        fields = {
            "letter_version": letter["version"],
            "other_case_number": letter["case_number"],
            "other_version": letter["version"],
            "reason": "同一来信",
        }
        if body == "merge":
            kwargs["json"] = fields
        else:
            kwargs["data"] = {"csrf_token": csrf, **fields}
    elif body == "csrf_only":
        kwargs["data"] = {"csrf_token": csrf}
    elif body in ("step", "page_step"):
        assert letter is not None
        if body == "step":  # a 重大紧急报告 without its reason and whom it went to
            kwargs["json"] = {"step": "escalate", "fields": {}, "version": letter["version"]}
        else:
            kwargs["data"] = {"csrf_token": csrf, "version": letter["version"]}
    elif body == "draft":
        kwargs["json"] = {"kind": "transfer_letter"}
    elif body in ("issue", "page_issue"):
        fields = {"kind": "transfer_letter", "title": "转送函"}
        if body == "issue":
            kwargs["json"] = {**fields, "paragraphs": ["现将该信访事项转送你单位依规依法处理。"]}
        else:
            kwargs["data"] = {
                "csrf_token": csrf,
                **fields,
                "paragraph": "现将该信访事项转送你单位依规依法处理。",
            }
    elif body in ("sent", "page_sent"):  # a day before any document was issued
        if body == "sent":
            kwargs["json"] = {"sent_on": "2000-01-03"}
        else:
            kwargs["data"] = {"csrf_token": csrf, "sent_on": "2000-01-03"}
    elif body in ("link", "page_link"):  # to itself
        assert letter is not None
        if body == "link":
            kwargs["json"] = {
                "earlier_case_number": letter["case_number"],
                "reason": "同一事实和理由",
                "version": letter["version"],
            }
        else:
            kwargs["data"] = {
                "csrf_token": csrf,
                "earlier": letter["case_number"],
                "reason": "同一事实和理由",
                "version": letter["version"],
            }
    elif body in ("unrelated", "page_unrelated"):  # to itself
        assert letter is not None
        if body == "unrelated":
            kwargs["json"] = {"earlier_case_number": letter["case_number"], "reason": "另一事项"}
        else:
            kwargs["data"] = {"csrf_token": csrf, "earlier": letter["case_number"], "reason": "另一事项"}
    elif body == "supervise":
        kwargs["json"] = {"reason": "逾期未办结", "due_on": "2000-01-03"}
    elif body == "page_supervise":
        kwargs["data"] = {"csrf_token": csrf}
    elif body == "model_promote":
        kwargs["json"] = {"version": "no-such-model"}
    elif body == "model_rollback":
        kwargs["json"] = {"reason": "x" * 2001}
    elif body == "page_model":
        kwargs["data"] = {"csrf_token": csrf, "reason": "x" * 2001}
    return int(client.request(method, path, **kwargs).status_code)


def _cases(table: list[tuple[str, str, str | None, dict[str, int]]]) -> list[Any]:
    return [
        pytest.param(m, p, b, who, want[who], id=f"{m} {p} {who}") for m, p, b, want in table for who in WHO
    ]


def _resolve(
    path: str, body: str | None, world: dict[str, dict[str, Any]], actors: dict[str, Actor]
) -> tuple[str, dict[str, Any] | None]:
    for key in ("doc_transferred", "doc_accusation", "doc_returned"):
        if "{" + key + "}" in path:
            return path.replace("{" + key + "}", str(world[key]["id"])), None
    for key in (
        "accusation_transferred",
        "transferred",
        "returned",
        "accusation_decided",
        "accusation",
        "decided",
        "pending",
    ):
        if "{" + key + "}" in path:
            letter = world[key]
            if body in ("decision", "page_decision"):  # deciding changes the letter: use a fresh one
                letter = _new_letter(actors, ACCUSATION_TEXT if key.startswith("accusation") else None)
            return path.replace("{" + key + "}", letter["case_number"]), letter
    return path, None


@pytest.mark.parametrize(("method", "path", "body", "who", "status"), _cases(API))
def test_api_permissions(
    actors: dict[str, Actor],
    world: dict[str, dict[str, Any]],
    method: str,
    path: str,
    body: str | None,
    who: str,
    status: int,
) -> None:
    url, letter = _resolve(path, body, world, actors)
    actor = actors[who]
    got = _call(actor.client, method, url, body, actor.headers, "", letter)
    assert got == status, f"{who} {method} {path}: got {got}, want {status}"


@pytest.mark.parametrize(("method", "path", "body", "who", "status"), _cases(PAGES))
def test_page_permissions(
    actors: dict[str, Actor],
    world: dict[str, dict[str, Any]],
    method: str,
    path: str,
    body: str | None,
    who: str,
    status: int,
) -> None:
    url, letter = _resolve(path, body, world, actors)
    actor = actors[who]
    got = _call(actor.client, method, url, body, {}, actor.csrf(), letter)
    assert got == status, f"{who} {method} {path}: got {got}, want {status}"
    if path == "/logout" and who != ANON:  # sign back in for the cases that follow
        actors[who] = Actor(actor.client.app, who)
