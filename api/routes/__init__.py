"""The JSON API under ``/api/v1``: one ``APIRouter`` per resource."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import audit, auth, batches, cases, exports, hot_issues, letters, meta, models, regroup, users
from api.routes import statistics as statistics_api

API_ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    letters.router,
    cases.router,
    regroup.router,
    exports.router,
    batches.router,
    audit.router,
    users.router,
    models.router,
    statistics_api.router,
    hot_issues.router,
    meta.router,
)
