"""The model registry for analysts: the versions with their held-out metrics, promotion and rollback.

The operations are :mod:`service.models`, shared with the models page; these routes parse the
request and answer with the operation's shape.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request

from api.deps import ModelVersion, SessionDep, SettingsDep, api_role, router_refresh, serving_version
from api.errors import error_responses
from service import access
from service.models import (
    ModelDetailPublic,
    ModelsPublic,
    PromoteCreate,
    PromotionPublic,
    RollbackCreate,
    RollbackPublic,
    list_model_versions,
    model_detail,
    promote_version,
    rollback_version,
)
from store.models import User

router = APIRouter(prefix="/models", tags=["models"])

Reader = Annotated[User, api_role(access.READ_MODELS, "read the models")]
Promoter = Annotated[User, api_role(access.PROMOTE_MODELS, "promote or roll back models")]


@router.get("", response_model=ModelsPublic, responses=error_responses(401, 403, 503))
def read_models(request: Request, settings: SettingsDep, user: Reader) -> ModelsPublic:
    """Every model version, newest first, with its held-out metrics per head; one is in service."""
    items, in_service = list_model_versions(settings)
    return ModelsPublic(data=items, count=len(items), in_service=in_service, serving=serving_version(request))


@router.get(
    "/{version}", response_model=ModelDetailPublic, responses=error_responses(401, 403, 404, 422, 503)
)
def read_model(version: ModelVersion, settings: SettingsDep, user: Reader) -> ModelDetailPublic:
    """One model: every head's metrics per class, its data, warnings and registry history."""
    return model_detail(settings, version)


@router.post(
    "/promote", response_model=PromotionPublic, responses=error_responses(400, 401, 403, 404, 409, 422, 503)
)
def promote_model(
    payload: PromoteCreate, request: Request, session: SessionDep, settings: SettingsDep, user: Promoter
) -> PromotionPublic:
    """Put a version in service unless it measured worse than the one in service on the same letters.

    A refusal answers 409 with one entry in ``errors`` per head that got worse; send ``force`` with
    a ``reason`` to promote it anyway. Promotions and refusals are audited with the caller as actor.
    """
    return promote_version(
        session,
        settings,
        user,
        payload.version,
        refresh=router_refresh(request),
        force=payload.force,
        reason=payload.reason,
    )


@router.post(
    "/rollback", response_model=RollbackPublic, responses=error_responses(400, 401, 403, 409, 422, 503)
)
def rollback_model(
    payload: RollbackCreate, request: Request, session: SessionDep, settings: SettingsDep, user: Promoter
) -> RollbackPublic:
    """Put the model that served before the current one back in service (audited)."""
    return rollback_version(session, settings, user, refresh=router_refresh(request), reason=payload.reason)
