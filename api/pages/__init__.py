"""The officers' web pages (Chinese UI): sign-in, queue, registering a letter, the letter page, models."""

from __future__ import annotations

from fastapi import APIRouter

from api.pages import admin, auth, batches, cases, hot_issues, letters, models, regroup, statistics

PAGE_ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    letters.router,
    cases.router,
    regroup.router,
    batches.router,
    admin.router,
    models.router,
    statistics.router,
    hot_issues.router,
)
