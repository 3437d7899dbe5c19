"""Repeat and related letters: the petitioner's identity keys, the matter's LSH bands, and the
officers' "unrelated" marks.

- ``petitioner_keys``: (kind, value, letter_id), kind ``id``/``phone``/``name``; the primary key
  leads with (kind, value), so finding a petitioner's letters is an index lookup.
- ``matter_bands``: (band, letter_id), the MinHash bands of a letter's title and text; the primary
  key leads with the band key.
- ``unrelated_marks``: an officer's finding that an earlier letter is not the letter's matter,
  kept when cleared.

No existing row is touched and the new tables start empty: the letters registered before this
migration are indexed by ``xinfang letters reindex`` (``store.repeats.reindex_all``), which can run
while the workbench serves, since indexing a letter only rewrites its own rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 18:40:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "petitioner_keys",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("letter_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.CheckConstraint("kind IN ('id', 'phone', 'name')", name=op.f("ck_petitioner_keys_kind")),
        sa.ForeignKeyConstraint(
            ["letter_id"], ["letters.id"], name=op.f("fk_petitioner_keys_letter_id_letters")
        ),
        sa.PrimaryKeyConstraint("kind", "value", "letter_id", name=op.f("pk_petitioner_keys")),
    )
    op.create_index(op.f("ix_petitioner_keys_letter_id"), "petitioner_keys", ["letter_id"], unique=False)
    op.create_table(
        "matter_bands",
        sa.Column("band", sa.String(length=40), nullable=False),
        sa.Column("letter_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["letter_id"], ["letters.id"], name=op.f("fk_matter_bands_letter_id_letters")
        ),
        sa.PrimaryKeyConstraint("band", "letter_id", name=op.f("pk_matter_bands")),
    )
    op.create_index(op.f("ix_matter_bands_letter_id"), "matter_bands", ["letter_id"], unique=False)
    op.create_table(
        "unrelated_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("other_letter_id", sa.Integer(), nullable=False),
        sa.Column("marked_by", sa.String(length=64), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("cleared_by", sa.String(length=64), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("letter_id <> other_letter_id", name=op.f("ck_unrelated_marks_not_itself")),
        sa.CheckConstraint(
            "(cleared_by IS NULL) = (cleared_at IS NULL)", name=op.f("ck_unrelated_marks_cleared_both")
        ),
        sa.ForeignKeyConstraint(
            ["cleared_by"], ["users.username"], name=op.f("fk_unrelated_marks_cleared_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["letter_id"], ["letters.id"], name=op.f("fk_unrelated_marks_letter_id_letters")
        ),
        sa.ForeignKeyConstraint(
            ["marked_by"], ["users.username"], name=op.f("fk_unrelated_marks_marked_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["other_letter_id"], ["letters.id"], name=op.f("fk_unrelated_marks_other_letter_id_letters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unrelated_marks")),
    )
    op.create_index(
        op.f("ix_unrelated_marks_letter_id_other_letter_id"),
        "unrelated_marks",
        ["letter_id", "other_letter_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_unrelated_marks_other_letter_id"), "unrelated_marks", ["other_letter_id"], unique=False
    )


def downgrade() -> None:
    """Downgrade schema: the index and the marks go with their tables (the audit log keeps the marks)."""
    op.drop_index(op.f("ix_unrelated_marks_other_letter_id"), table_name="unrelated_marks")
    op.drop_index(op.f("ix_unrelated_marks_letter_id_other_letter_id"), table_name="unrelated_marks")
    op.drop_table("unrelated_marks")
    op.drop_index(op.f("ix_matter_bands_letter_id"), table_name="matter_bands")
    op.drop_table("matter_bands")
    op.drop_index(op.f("ix_petitioner_keys_letter_id"), table_name="petitioner_keys")
    op.drop_table("petitioner_keys")
