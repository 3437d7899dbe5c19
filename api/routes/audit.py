"""The audit log, for supervisors: newest first, filtered, and a check of its hash chain and MACs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CatalogueDep, SessionDep, api_role
from api.errors import error_responses
from service import access
from service.audit_view import audit_event_public
from service.schemas import AuditPublic
from store.audit import AuditQuery, search_events, verify_chain
from store.models import User

router = APIRouter(prefix="/audit", tags=["audit"])

Auditor = Annotated[User, api_role(access.READ_AUDIT, "read the audit log")]


@router.get("", response_model=AuditPublic, responses=error_responses(401, 403, 422))
def read_audit(
    session: SessionDep,
    user: Auditor,
    catalogue: CatalogueDep,
    action: Annotated[str | None, Query(max_length=64, description="one action, e.g. decide")] = None,
    actor: Annotated[str | None, Query(max_length=128, description="who did it: a username")] = None,
    case_number: Annotated[
        str | None, Query(max_length=32, description="events about this letter, or naming it")
    ] = None,
    since: Annotated[dt.date | None, Query(description="first day, inclusive (China's calendar)")] = None,
    until: Annotated[dt.date | None, Query(description="last day, inclusive (China's calendar)")] = None,
    verify: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AuditPublic:
    """Audit events, newest first; ``verify=true`` also checks the whole chain with the audit key."""
    query = AuditQuery(actor=actor, action=action, case_number=case_number, since=since, until=until)
    events, total = search_events(session, query, limit=limit, offset=offset)
    chain_ok = None
    problems: list[str] = []
    if verify:
        problems = [str(p) for p in verify_chain(session)]
        chain_ok = not problems
    return AuditPublic(
        data=[audit_event_public(e, catalogue) for e in events],
        count=total,
        chain_ok=chain_ok,
        problems=problems,
    )
