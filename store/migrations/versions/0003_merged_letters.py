"""Merged letters: a letter merged into another keeps its row, with status ``merged`` and a pointer.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 12:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_letters_merged_into_id_letters"), "letters", ["merged_into_id"], ["id"]
        )
        batch_op.drop_constraint(batch_op.f("ck_letters_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_letters_status"), "status IN ('pending', 'decided', 'merged')"
        )


def downgrade() -> None:
    """Downgrade schema: merged letters go back to pending (their text is still their own)."""
    op.execute("UPDATE letters SET status = 'pending' WHERE status = 'merged'")
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_letters_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_letters_status"), "status IN ('pending', 'decided')")
        batch_op.drop_constraint(batch_op.f("fk_letters_merged_into_id_letters"), type_="foreignkey")
        batch_op.drop_column("merged_into_id")
