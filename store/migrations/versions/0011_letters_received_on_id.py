"""Letters indexed by day of receipt and id, so the statistics find a period's band of letter ids
from the index alone.

``service.statistics`` first asks for the smallest and largest id of the letters received in the
period. With only the (status, day of receipt) index PostgreSQL read every letter for it (a
sequential scan: 200 ms of CPU at a million letters, for a month as for a year); this index answers
it by an index-only scan of the period's entries. No row changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 21:55:00.000000

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index(op.f("ix_letters_received_on_id"), "letters", ["received_on", "id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_letters_received_on_id"), table_name="letters")
