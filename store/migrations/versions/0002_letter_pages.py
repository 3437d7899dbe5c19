"""Letter pages: the page images of a scanned letter, kept by content hash, in letter order.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 11:40:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "letter_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("file_page", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=127), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("stored_path", sa.String(length=1024), nullable=False),
        sa.Column("blank", sa.Boolean(), nullable=False),
        sa.CheckConstraint("position >= 1", name=op.f("ck_letter_pages_position")),
        sa.CheckConstraint("file_page >= 1", name=op.f("ck_letter_pages_file_page")),
        sa.CheckConstraint("width >= 1 AND height >= 1", name=op.f("ck_letter_pages_size")),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_letter_pages_bytes")),
        sa.ForeignKeyConstraint(
            ["letter_id"], ["letters.id"], name=op.f("fk_letter_pages_letter_id_letters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letter_pages")),
        sa.UniqueConstraint("letter_id", "position", name=op.f("uq_letter_pages_letter_id_position")),
    )
    with op.batch_alter_table("letter_pages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_letter_pages_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("letter_pages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_letter_pages_sha256"))
    op.drop_table("letter_pages")
