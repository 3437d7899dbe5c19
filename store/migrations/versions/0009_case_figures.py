"""The office's figures of each case on its ``cases`` row, so the statistics stop replaying steps.

New columns of ``cases`` (``casework.figures``): ``forwarded_on``, ``accepted_on``,
``answered_on`` (the first 转送/交办/不予受理/不再受理, 受理 and 处理意见, each on its
``effective_on`` else its recording day in China), ``extension_days`` (the longest 延期, 0 without
one), ``review_requested``, ``review_answered``, ``recheck_requested`` and the count of 满意度评价
steps of each grade (``rated_satisfied``, ``rated_basically_satisfied``, ``rated_dissatisfied``).

Every existing row is kept and its figures are filled here from its ``case_events`` in one
statement (about a minute for a million cases on PostgreSQL); from now on each step writes them in
its own transaction. ``xinfang cases refill-figures`` recomputes them and says how many differed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 21:10:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FALSE = sa.text("false")
_ZERO = sa.text("0")


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("forwarded_on", sa.Date(), nullable=True),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("extension_days", sa.Integer(), server_default=_ZERO, nullable=False),
        sa.Column("review_requested", sa.Boolean(), server_default=_FALSE, nullable=False),
        sa.Column("review_answered", sa.Boolean(), server_default=_FALSE, nullable=False),
        sa.Column("recheck_requested", sa.Boolean(), server_default=_FALSE, nullable=False),
        sa.Column("rated_satisfied", sa.Integer(), server_default=_ZERO, nullable=False),
        sa.Column("rated_basically_satisfied", sa.Integer(), server_default=_ZERO, nullable=False),
        sa.Column("rated_dissatisfied", sa.Integer(), server_default=_ZERO, nullable=False),
    ]


# The figures as of this revision, written out rather than imported: a later change of
# ``casework.figures`` must not change what this migration did.
_FILL = """
UPDATE cases SET
  forwarded_on = f.forwarded_on, accepted_on = f.accepted_on, answered_on = f.answered_on,
  extension_days = f.extension_days, review_requested = (f.review_requested = 1),
  review_answered = (f.review_answered = 1), recheck_requested = (f.recheck_requested = 1),
  rated_satisfied = f.rated_satisfied, rated_basically_satisfied = f.rated_basically_satisfied,
  rated_dissatisfied = f.rated_dissatisfied
FROM (
  SELECT letter_id,
    min(CASE WHEN step IN ('transfer', 'assign', 'not_accept', 'no_longer_accept') THEN day END)
      AS forwarded_on,
    min(CASE WHEN step = 'accept' THEN day END) AS accepted_on,
    min(CASE WHEN step = 'answer' THEN day END) AS answered_on,
    coalesce(max(CASE WHEN step = 'extend' THEN {days} END), 0) AS extension_days,
    max(CASE WHEN step = 'request_review' THEN 1 ELSE 0 END) AS review_requested,
    max(CASE WHEN step = 'answer_review' THEN 1 ELSE 0 END) AS review_answered,
    max(CASE WHEN step = 'request_recheck' THEN 1 ELSE 0 END) AS recheck_requested,
    sum(CASE WHEN step = 'rate' AND {rating} = 'satisfied' THEN 1 ELSE 0 END) AS rated_satisfied,
    sum(CASE WHEN step = 'rate' AND {rating} = 'basically_satisfied' THEN 1 ELSE 0 END)
      AS rated_basically_satisfied,
    sum(CASE WHEN step = 'rate' AND {rating} = 'dissatisfied' THEN 1 ELSE 0 END) AS rated_dissatisfied
  FROM (SELECT letter_id, step, fields, coalesce(effective_on, {recorded_day}) AS day FROM case_events) e
  GROUP BY letter_id
) AS f
WHERE cases.letter_id = f.letter_id
"""
_POSTGRESQL = {
    "days": "(fields ->> 'days')::integer",
    "rating": "(fields ->> 'rating')",
    "recorded_day": "(recorded_at AT TIME ZONE 'Asia/Shanghai')::date",
}
_SQLITE = {
    "days": "CAST(json_extract(fields, '$.days') AS INTEGER)",
    "rating": "json_extract(fields, '$.rating')",
    "recorded_day": "date(recorded_at, '+8 hours')",
}


def upgrade() -> None:
    """Upgrade schema: the columns, then every case's figures from its steps."""
    for column in _columns():
        op.add_column("cases", column)
    dialect = op.get_bind().dialect.name
    op.execute(_FILL.format(**(_POSTGRESQL if dialect == "postgresql" else _SQLITE)))


def downgrade() -> None:
    """Downgrade schema: the figures go; the steps they were read from stay."""
    for column in reversed(_columns()):
        op.drop_column("cases", column.name)
