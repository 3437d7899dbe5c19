"""Batches keep the day their letters arrived and their form, so a resumed batch routes with them.

Both columns are added in place (no table rebuild on SQLite). Batches recorded before have no day
(their letters are triaged as arriving the day they are read, as before) and the form ``letter``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 12:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("form", sa.String(length=16), server_default="letter", nullable=False))


def downgrade() -> None:
    """Downgrade schema: the letters already registered keep their own day and form."""
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("form")
        batch_op.drop_column("received_on")
