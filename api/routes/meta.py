"""The label sets a client needs, and a health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from api.deps import CatalogueDep, CurrentUser
from api.errors import error_responses
from routing.codes import CATEGORY_NAMES, CHANNEL_NAMES, DISPOSITION_NAMES, DOMAINS
from service.schemas import DepartmentPublic, HealthPublic, LabelsPublic
from store.models import FORM_NAMES

router = APIRouter(tags=["meta"])


@router.get("/labels", response_model=LabelsPublic, responses=error_responses(401))
def labels(user: CurrentUser, catalogue: CatalogueDep) -> LabelsPublic:
    """Categories, domains, channels, dispositions, departments and forms with their Chinese names."""
    return LabelsPublic(
        categories={str(k): v for k, v in CATEGORY_NAMES.items()},
        domains=list(DOMAINS),
        channels={str(k): v for k, v in CHANNEL_NAMES.items()},
        dispositions={str(k): v for k, v in DISPOSITION_NAMES.items()},
        departments=[DepartmentPublic(code=d.code, name=d.name) for d in catalogue.departments],
        forms=FORM_NAMES,
    )


@router.get("/health", response_model=HealthPublic)
def health(request: Request) -> HealthPublic:
    """Whether the database answers and the routing model is loaded (no login needed, no data shown)."""
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = True
    except Exception:
        database = False
    holder = request.app.state.routers
    return HealthPublic(
        ok=database and holder.loaded,
        database=database,
        model_loaded=holder.loaded,
        model_version=holder.model_version,
    )
