"""Small dialect-specific SQL helpers shared by the repository modules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert


def insert_ignore(
    session: Session, model: Any, values: dict[str, Any], conflict_columns: Sequence[str]
) -> Insert:
    """``INSERT ... ON CONFLICT (cols) DO NOTHING`` for the session's backend.

    Used where two transactions may race to create the same row (a counter, the audit head, a
    source file): the loser's insert becomes a no-op instead of an error that aborts its transaction.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return (
            postgresql.insert(model)
            .values(**values)
            .on_conflict_do_nothing(index_elements=list(conflict_columns))
        )
    if dialect == "sqlite":
        return (
            sqlite.insert(model)
            .values(**values)
            .on_conflict_do_nothing(index_elements=list(conflict_columns))
        )
    raise NotImplementedError(
        f"unsupported database dialect {dialect!r}; xinfang supports sqlite and postgresql"
    )


def write_where_different(
    session: Session, model: Any, key: Any, source_key: Any, values: dict[str, Any]
) -> int:
    """``UPDATE model SET values FROM source WHERE key = source_key`` on the rows where any value
    differs; returns how many rows were written.

    For the recomputes of kept columns (a case's figures, a letter's route): comparing first, with
    ``IS DISTINCT FROM`` so a NULL counts as a value, leaves right rows unwritten and tells the
    operator how many were not.
    """
    differs = or_(*(getattr(model, name).is_distinct_from(value) for name, value in values.items()))
    result = session.execute(
        update(model)
        .where(key == source_key, differs)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
