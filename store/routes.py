"""The route each letter keeps on its row for the office's figures (``service.statistics``).

A letter's route is its newest decision's category, channel, disposition, domain and department,
else its newest proposal's; whether it is confidential is ``store.confidentiality``'s rule over the
same two rows. The statistics of a year read a hundred thousand letters, and finding each one's
newest proposal and newest decision was the largest part of their time. So each letter
keeps, in ``letters.route_*`` and ``letters.proposed_due``, what the statistics read of the two rows:
the route, the confidentiality, the newest decision's id (the state "decided" and a handler's scope
need it) and the newest proposal's earliest deadline (the date due before any case step).

Proposals and decisions are append-only and are stored only by ``store.letters.add_proposal`` and
``store.letters.decide``, which write these columns in the same transaction: a proposal changes the
route only while the letter is undecided, a decision always. A return or a link stores neither and
leaves the route as it was; a split or a merge routes the new texts through ``add_proposal`` (the
split's new letter gets its route with its first proposal; a merged letter, left out of every
figure, keeps the route it had).

:func:`route_of` computes the columns from two rows in hand, :func:`refill` in SQL over the stored
rows (after migration 0012, or to check a database against its proposals and decisions).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, literal, select, true
from sqlalchemy.orm import Session, aliased

from store._sql import write_where_different
from store.audit import lock_audit_head
from store.confidentiality import confidential_clause, is_confidential
from store.models import CaseRecord, Decision, Letter, Proposal

#: The fields of a route, as proposals and decisions name them.
ROUTE_FIELDS: tuple[str, ...] = ("category", "channel", "disposition", "domain", "department")
#: The ``letters`` column keeping each route field.
ROUTE_COLUMNS: dict[str, str] = {name: f"route_{name}" for name in ROUTE_FIELDS}
#: Every column this module keeps, with its value for a letter without proposal or decision.
EMPTY: dict[str, Any] = {
    **{column: None for column in ROUTE_COLUMNS.values()},
    "route_confidential": True,
    "route_decision_id": None,
    "proposed_due": None,
}
KEPT_COLUMNS: tuple[str, ...] = tuple(EMPTY)


def route_of(proposal: Proposal | None, decision: Decision | None) -> dict[str, Any]:
    """The kept columns of a letter whose newest proposal and newest decision are these (None: none)."""
    source: Proposal | Decision | None = decision if decision is not None else proposal
    return {
        **{
            column: getattr(source, name) if source is not None else None
            for name, column in ROUTE_COLUMNS.items()
        },
        "route_confidential": is_confidential(proposal, decision),
        "route_decision_id": decision.id if decision is not None else None,
        "proposed_due": proposal.earliest_due if proposal is not None else None,
    }


def after_proposal(proposal: Proposal) -> dict[str, Any]:
    """The values of the ``UPDATE letters`` that stores ``proposal`` as the letter's newest.

    Its deadline is always the newest proposal's; its route and confidentiality only while no
    decision is kept. The test is made in the statement itself, on the row it updates, so it holds
    whatever the session last read of the letter.
    """
    new = route_of(proposal, None)
    undecided = Letter.route_decision_id.is_(None)
    values: dict[str, Any] = {"proposed_due": new["proposed_due"]}
    for column in (*ROUTE_COLUMNS.values(), "route_confidential"):
        current = getattr(Letter, column)
        values[column] = case((undecided, literal(new[column], type_=current.type)), else_=current)
    return values


def kept(session: Session, first_id: int, last_id: int) -> dict[int, dict[str, Any]]:
    """The kept columns of letters ``first_id`` … ``last_id``, by letter id."""
    columns = [getattr(Letter, name) for name in EMPTY]
    rows = session.execute(select(Letter.id, *columns).where(Letter.id.between(first_id, last_id)))
    return {row[0]: dict(zip(EMPTY, row[1:], strict=True)) for row in rows}


def _computed(first_id: int, last_id: int) -> Any:
    """Each letter of the id range with the columns its newest proposal and decision give."""
    letter = aliased(Letter, name="l")

    def newest(model: Any) -> Any:
        return (
            select(model.letter_id.label("letter_id"), func.max(model.id).label("id"))
            .where(model.letter_id.between(first_id, last_id))
            .group_by(model.letter_id)
            .subquery()
        )

    newest_p, newest_d = newest(Proposal), newest(Decision)
    secret = confidential_clause(Proposal, Decision)
    return (
        select(
            letter.id.label("letter_id"),
            *(
                func.coalesce(getattr(Decision, n), getattr(Proposal, n)).label(c)
                for n, c in ROUTE_COLUMNS.items()
            ),
            case((secret, True), else_=False).label("route_confidential"),
            Decision.id.label("route_decision_id"),
            Proposal.earliest_due.label("proposed_due"),
        )
        .select_from(letter)
        .outerjoin(newest_p, newest_p.c.letter_id == letter.id)
        .outerjoin(Proposal, Proposal.id == newest_p.c.id)
        .outerjoin(newest_d, newest_d.c.letter_id == letter.id)
        .outerjoin(Decision, Decision.id == newest_d.c.id)
        .where(letter.id.between(first_id, last_id))
        .subquery("routes")
    )


def refill(session: Session, first_id: int, last_id: int) -> int:
    """Write the kept columns of letters ``first_id`` … ``last_id`` from their stored proposals and
    decisions; returns how many letters held other values (0 on a database kept by its writers).

    Takes the writers' lock (the audit head's) first: a decision committed between this statement's
    read of the decisions and its write of a letter would otherwise be written over without it.
    """
    lock_audit_head(session)
    computed = _computed(first_id, last_id)
    values = {name: computed.c[name] for name in EMPTY}
    return write_where_different(session, Letter, Letter.id, computed.c.letter_id, values)


def id_range(session: Session) -> tuple[int, int]:
    """The smallest and largest letter id ((0, -1) without any letter)."""
    low, high = session.execute(select(func.min(Letter.id), func.max(Letter.id))).one()
    return (int(low), int(high)) if low is not None else (0, -1)


def admits_clause(*, confidential: bool | None, routed_department: str | None) -> Any:
    """``store.confidentiality.admits_clause`` over the route the letter keeps: the same scope,
    read from ``letters`` instead of its newest proposal and decision joined."""
    conditions: list[Any] = []
    if confidential is True:
        conditions.append(Letter.route_confidential.is_(True))
    elif confidential is False:
        conditions.append(Letter.route_confidential.is_(False))
    if routed_department is not None:
        handled = select(CaseRecord.decision_id).where(CaseRecord.handling_body == routed_department)
        conditions.append(
            and_(
                Letter.route_decision_id.is_not(None),
                Letter.route_department == routed_department,
                Letter.route_decision_id.in_(handled),
            )
        )
    return and_(true(), *conditions) if conditions else true()


__all__ = [
    "EMPTY",
    "KEPT_COLUMNS",
    "ROUTE_COLUMNS",
    "ROUTE_FIELDS",
    "admits_clause",
    "after_proposal",
    "id_range",
    "kept",
    "refill",
    "route_of",
]
