"""The places a letter names, kept on the letter, so the statistics stop running regular
expressions over every letter of a period.

New columns of ``letters``: ``named_county`` and ``named_city``, the first county-level unit
(``[A-Z]<digits>区`` or ``…县``) and the first city (``[A-Z]市``) the title names, else the text;
NULL where it names none (``store.letters.named_places``). From now on they are written with the
title and text (registration, split, merge). Every existing row is kept; the letters that name a
place get their columns filled here (PostgreSQL in one statement; SQLite, which has no regular
expressions, a thousand letters at a time in Python); the others need no write.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 21:40:00.000000

"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The patterns as of this revision, written out rather than imported, so a later change of
# ``store.letters`` does not change what this migration did.
_COUNTY = "[A-Z][0-9]+[区县]"
_CITY = "[A-Z]市"
_FILL_POSTGRESQL = f"""
UPDATE letters SET named_county = f.county, named_city = f.city
FROM (
  SELECT id, county, city FROM (
    SELECT id,
      coalesce(substring(title FROM '{_COUNTY}'), substring(text FROM '{_COUNTY}')) AS county,
      coalesce(substring(title FROM '{_CITY}'), substring(text FROM '{_CITY}')) AS city
    FROM letters
  ) AS named
  WHERE county IS NOT NULL OR city IS NOT NULL
) AS f
WHERE letters.id = f.id
"""
_BATCH = 1000


def _first(pattern: re.Pattern[str], title: str | None, text: str | None) -> str | None:
    found = pattern.search(title or "") or pattern.search(text or "")
    return found.group(0) if found else None


def _fill_in_python() -> None:
    county, city = re.compile(_COUNTY), re.compile(_CITY)
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.text("SELECT id, title, text FROM letters WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": _BATCH},
        ).all()
        if not rows:
            return
        named = [
            {
                "id": row.id,
                "county": _first(county, row.title, row.text),
                "city": _first(city, row.title, row.text),
            }
            for row in rows
        ]
        named = [n for n in named if n["county"] is not None or n["city"] is not None]
        if named:
            bind.execute(
                sa.text("UPDATE letters SET named_county = :county, named_city = :city WHERE id = :id"), named
            )
        last = rows[-1].id


def upgrade() -> None:
    """Upgrade schema: the columns, then the places each existing letter names."""
    op.add_column("letters", sa.Column("named_county", sa.String(length=32), nullable=True))
    op.add_column("letters", sa.Column("named_city", sa.String(length=32), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FILL_POSTGRESQL)
    else:
        _fill_in_python()


def downgrade() -> None:
    """Downgrade schema: the columns go; the title and text they were read from stay."""
    op.drop_column("letters", "named_city")
    op.drop_column("letters", "named_county")
