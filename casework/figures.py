"""The office's figures of one case, kept on its ``cases`` row for ``service.statistics``.

The statistics page judges every letter of a period by a few facts of its steps: when it was first
forwarded (转送/交办) or refused with a notice (不予受理/不再受理), first accepted (受理) and first
answered (处理意见), the longest approved extension (延期), whether 复查 was requested and answered
and 复核 requested, and the 满意度评价 it received. Deriving them from ``case_events`` for a year of
letters meant reading and grouping half a million steps on every request; kept on the ``cases``
row, the page reads one row per letter.

They are an aggregate of the letter's stored steps and nothing else (not its decisions, not its day
of receipt), so they are written only where a step is stored (``casework.cases.take_step``, in the
step's transaction), and a re-route, a return, a split or a merge cannot make them stale. The two
forms below compute the same thing: :func:`figures_of` over the rows in hand, :func:`refill`
in SQL over stored rows (after migration 0009, or to check a database against its steps).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Date, and_, case, cast, func, select
from sqlalchemy.orm import Session

from casework.states import CHINA_TZ, Rating, Step
from store._sql import write_where_different
from store.audit import lock_audit_head
from store.models import CaseEventRecord, CaseRecord

#: The steps that stop the 15-day clock from receipt (第二十二条第一款, 第二十三条第二款).
FORWARD_STEPS: tuple[str, ...] = (
    Step.transfer.value,
    Step.assign.value,
    Step.not_accept.value,
    Step.no_longer_accept.value,
)
#: The ``cases`` column counting the 满意度评价 steps of each grade.
RATING_COLUMNS: dict[str, str] = {grade.value: f"rated_{grade.value}" for grade in Rating}
#: Every column this module writes, with its value for a case without steps.
EMPTY: dict[str, Any] = {
    "forwarded_on": None,
    "accepted_on": None,
    "answered_on": None,
    "extension_days": 0,
    "review_requested": False,
    "review_answered": False,
    "recheck_requested": False,
    **{column: 0 for column in RATING_COLUMNS.values()},
}


def _first(current: Any, day: Any) -> Any:
    return day if current is None or day < current else current


def figures_of(rows: Iterable[CaseEventRecord]) -> dict[str, Any]:
    """The figures of a case from all its stored steps (``case_events`` rows), as column values."""
    out = dict(EMPTY)
    for row in rows:
        day = row.effective_on or row.recorded_at.astimezone(CHINA_TZ).date()
        fields = row.fields or {}
        if row.step in FORWARD_STEPS:
            out["forwarded_on"] = _first(out["forwarded_on"], day)
        elif row.step == Step.accept.value:
            out["accepted_on"] = _first(out["accepted_on"], day)
        elif row.step == Step.answer.value:
            out["answered_on"] = _first(out["answered_on"], day)
        elif row.step == Step.extend.value and fields.get("days") is not None:
            out["extension_days"] = max(out["extension_days"], int(fields["days"]))
        elif row.step == Step.request_review.value:
            out["review_requested"] = True
        elif row.step == Step.answer_review.value:
            out["review_answered"] = True
        elif row.step == Step.request_recheck.value:
            out["recheck_requested"] = True
        elif row.step == Step.rate.value and fields.get("rating") in RATING_COLUMNS:
            out[RATING_COLUMNS[fields["rating"]]] += 1
    return out


def step_day(dialect: str) -> Any:
    """The day a stored step counts from, in SQL: its ``effective_on``, else its recording day in China."""
    if dialect == "postgresql":
        recorded: Any = cast(func.timezone("Asia/Shanghai", CaseEventRecord.recorded_at), Date)
    else:
        recorded = func.date(CaseEventRecord.recorded_at, "+8 hours")
    return func.coalesce(CaseEventRecord.effective_on, recorded)


def _aggregate(dialect: str, first_id: int, last_id: int) -> Any:
    """Each ``cases`` row of the id range with the figures its steps give (the defaults without any)."""
    day = step_day(dialect)
    step = CaseEventRecord.step
    rating = CaseEventRecord.fields["rating"].as_string()

    def flag(name: str) -> Any:
        return func.coalesce(func.max(case((step == name, 1), else_=0)), 0)

    columns = {
        "forwarded_on": func.min(case((step.in_(FORWARD_STEPS), day))),
        "accepted_on": func.min(case((step == Step.accept.value, day))),
        "answered_on": func.min(case((step == Step.answer.value, day))),
        "extension_days": func.coalesce(
            func.max(case((step == Step.extend.value, CaseEventRecord.fields["days"].as_integer()))), 0
        ),
        "review_requested": flag(Step.request_review.value),
        "review_answered": flag(Step.answer_review.value),
        "recheck_requested": flag(Step.request_recheck.value),
        **{
            column: func.coalesce(
                func.sum(case((and_(step == Step.rate.value, rating == grade), 1), else_=0)), 0
            )
            for grade, column in RATING_COLUMNS.items()
        },
    }
    return (
        select(CaseRecord.letter_id.label("letter_id"), *(v.label(k) for k, v in columns.items()))
        .select_from(CaseRecord)
        .outerjoin(CaseEventRecord, CaseEventRecord.letter_id == CaseRecord.letter_id)
        .where(CaseRecord.letter_id.between(first_id, last_id))
        .group_by(CaseRecord.letter_id)
        .subquery("figures")
    )


def refill(session: Session, first_id: int, last_id: int) -> int:
    """Write the figures of the ``cases`` rows of letters ``first_id`` … ``last_id`` from their
    stored steps; returns how many rows held other figures (0 on a database kept by the steps).

    Takes the steps' lock (the audit head's) first: a step committed between this statement's read
    of the steps and its write of a row would otherwise be written over with figures without it.
    """
    lock_audit_head(session)
    dialect = session.get_bind().dialect.name
    figures = _aggregate(dialect, first_id, last_id)
    # the flags are aggregated as 0/1 (SQLite has no boolean max) and stored as booleans
    values = {name: figures.c[name] == 1 if EMPTY[name] is False else figures.c[name] for name in EMPTY}
    return write_where_different(session, CaseRecord, CaseRecord.letter_id, figures.c.letter_id, values)


def id_range(session: Session) -> tuple[int, int]:
    """The smallest and largest letter id of a ``cases`` row ((0, -1) without any)."""
    low, high = session.execute(select(func.min(CaseRecord.letter_id), func.max(CaseRecord.letter_id))).one()
    return (int(low), int(high)) if low is not None else (0, -1)


__all__ = ["EMPTY", "FORWARD_STEPS", "RATING_COLUMNS", "figures_of", "id_range", "refill", "step_day"]
