"""Each letter keeps its route, so the statistics stop looking for every letter's newest proposal
and newest decision.

New columns of ``letters`` (``store.letters``): ``route_category``, ``route_channel``,
``route_disposition``, ``route_domain``, ``route_department`` (the newest decision's, else the
newest proposal's; NULL before any proposal), ``route_confidential`` (the confidentiality rule of
``store.confidentiality`` over those two rows; true for a letter without either, the most sensitive
kind), ``route_decision_id`` (the newest decision, NULL while undecided) and ``proposed_due`` (the
newest proposal's earliest deadline). From now on they are written in the transaction that stores a
proposal or a decision.

Every existing row is kept; the letters with a proposal or a decision get their columns filled here
in one statement (about a minute for a million letters on PostgreSQL); the others keep the
defaults.
``xinfang cases refill-figures`` recomputes them and says how many differed.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 23:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("route_category", sa.String(length=32), nullable=True),
        sa.Column("route_channel", sa.String(length=32), nullable=True),
        sa.Column("route_disposition", sa.String(length=32), nullable=True),
        sa.Column("route_domain", sa.String(length=32), nullable=True),
        sa.Column("route_department", sa.String(length=64), nullable=True),
        sa.Column("route_confidential", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("route_decision_id", sa.Integer(), nullable=True),
        sa.Column("proposed_due", sa.Date(), nullable=True),
    ]


# The rule as of this revision, written out rather than imported: a later change of
# ``store.confidentiality`` or ``store.letters`` must not change what this migration did.
_FILL = """
UPDATE letters SET
  route_category = coalesce(f.d_category, f.p_category),
  route_channel = coalesce(f.d_channel, f.p_channel),
  route_disposition = coalesce(f.d_disposition, f.p_disposition),
  route_domain = coalesce(f.d_domain, f.p_domain),
  route_department = coalesce(f.d_department, f.p_department),
  route_confidential = CASE
    WHEN f.d_id IS NOT NULL THEN (f.d_category = 'accusation' OR f.d_channel = 'discipline')
    WHEN f.p_id IS NOT NULL
      THEN (f.p_confidential OR f.p_category = 'accusation' OR f.p_channel = 'discipline')
    ELSE true END,
  route_decision_id = f.d_id,
  proposed_due = f.p_earliest_due
FROM (
  SELECT l.id AS letter_id,
    p.id AS p_id, p.category AS p_category, p.channel AS p_channel, p.disposition AS p_disposition,
    p.domain AS p_domain, p.department AS p_department, p.confidential AS p_confidential,
    p.earliest_due AS p_earliest_due,
    d.id AS d_id, d.category AS d_category, d.channel AS d_channel, d.disposition AS d_disposition,
    d.domain AS d_domain, d.department AS d_department
  FROM letters l
  LEFT JOIN (SELECT letter_id, max(id) AS id FROM proposals GROUP BY letter_id) np ON np.letter_id = l.id
  LEFT JOIN proposals p ON p.id = np.id
  LEFT JOIN (SELECT letter_id, max(id) AS id FROM decisions GROUP BY letter_id) nd ON nd.letter_id = l.id
  LEFT JOIN decisions d ON d.id = nd.id
  WHERE np.id IS NOT NULL OR nd.id IS NOT NULL
) AS f
WHERE letters.id = f.letter_id
"""


def upgrade() -> None:
    """Upgrade schema: the columns, then every letter's route from its newest proposal and decision."""
    for column in _columns():
        op.add_column("letters", column)
    op.execute(_FILL)


def downgrade() -> None:
    """Downgrade schema: the kept route goes; the proposals and decisions it was read from stay."""
    for column in reversed(_columns()):
        op.drop_column("letters", column.name)
