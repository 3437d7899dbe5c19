"""The audit log, for supervisors: newest first, and a check of its hash chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import access, views
from api.deps import SessionDep, api_role
from api.schemas import AuditPublic, error_responses
from store.models import User
from store.queries_api import list_audit_events

router = APIRouter(prefix="/audit", tags=["audit"])

Auditor = Annotated[User, api_role(access.READ_AUDIT, "read the audit log")]


@router.get("", response_model=AuditPublic, responses=error_responses(401, 403, 422))
def read_audit(
    session: SessionDep,
    user: Auditor,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    verify: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AuditPublic:
    """Audit events, newest first; ``verify=true`` also checks the whole hash chain."""
    events, total = list_audit_events(session, action=action, actor=actor, limit=limit, offset=offset)
    chain_ok = None
    if verify:
        from store.audit import verify_chain

        chain_ok = not verify_chain(session)
    return AuditPublic(data=[views.audit_event_public(e) for e in events], count=total, chain_ok=chain_ok)
