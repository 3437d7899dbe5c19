"""Key the audit chain: every event and the head get a MAC made with a key kept outside the database.

``audit_events.mac`` and ``audit_head.mac`` are added in place (no table rebuild on SQLite). The
events already in the log get their MACs here, in seq order, with the installation's audit key
(``XINFANG_AUDIT_KEY`` or ``XINFANG_AUDIT_KEY_FILE``, which ``xinfang db upgrade`` and the web
app hand to ``store.audit``); the append-only trigger on UPDATE is lifted for that one statement
and put back in the same transaction. Then an ``audit_anchored`` event records how many events
were anchored and the hash of the last, so the step stays on record.

Anchoring does not vouch for those older events: a row that was edited before keeps a hash that
does not match and is still reported, but a chain that was rehashed before this upgrade cannot be
told apart. From here on, a rehash without the key is caught.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 10:00:00.000000

"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "xinfang-migration-0006"
_SQLITE_NO_UPDATE = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'table audit_events is append-only: UPDATE refused'); END"
)


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("audit_events", sa.Column("mac", sa.String(length=64), nullable=True))
    op.add_column("audit_head", sa.Column("mac", sa.String(length=64), nullable=True))
    _anchor()


def _anchor() -> None:
    from store.audit import GENESIS_HASH, event_hash, event_mac
    from store.audit_key import audit_key

    bind = op.get_bind()
    events = sa.table(
        "audit_events",
        sa.column("seq", sa.Integer),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("actor", sa.String),
        sa.column("action", sa.String),
        sa.column("object", sa.String),
        sa.column("details", sa.JSON),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
        sa.column("mac", sa.String),
    )
    head = sa.table(
        "audit_head",
        sa.column("id", sa.Integer),
        sa.column("seq", sa.Integer),
        sa.column("hash", sa.String),
        sa.column("mac", sa.String),
    )
    rows = bind.execute(sa.select(events.c.seq, events.c.hash).order_by(events.c.seq)).all()
    if not rows:
        op.execute(head.update().values(mac=GENESIS_HASH))
        return
    key = audit_key()
    prev_mac = GENESIS_HASH
    macs: list[dict[str, object]] = []
    for seq, digest in rows:
        prev_mac = event_mac(key, hash=digest, prev_mac=prev_mac)
        macs.append({"row_seq": seq, "row_mac": prev_mac})
    _lift_update_trigger(bind.dialect.name)
    bind.execute(
        events.update().where(events.c.seq == sa.bindparam("row_seq")).values(mac=sa.bindparam("row_mac")),
        macs,
    )
    _restore_update_trigger(bind.dialect.name)

    last_seq, last_hash = rows[-1]
    seq = int(last_seq) + 1
    at = dt.datetime.now(dt.UTC)
    details = {"events": len(rows), "last_seq": int(last_seq), "last_hash": str(last_hash)}
    digest = event_hash(
        seq=seq,
        at=at,
        actor=ACTOR,
        action="audit_anchored",
        object=None,
        details=details,
        prev_hash=last_hash,
    )
    mac = event_mac(key, hash=digest, prev_mac=prev_mac)
    bind.execute(
        events.insert().values(
            seq=seq,
            # stored as store.models.UTCDateTime stores it: naive UTC on SQLite
            at=at.replace(tzinfo=None) if bind.dialect.name == "sqlite" else at,
            actor=ACTOR,
            action="audit_anchored",
            object=None,
            details=details,
            prev_hash=last_hash,
            hash=digest,
            mac=mac,
        )
    )
    bind.execute(head.update().where(head.c.id == 1).values(seq=seq, hash=digest, mac=mac))


def _lift_update_trigger(dialect: str) -> None:
    if dialect == "postgresql":
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")


def _restore_update_trigger(dialect: str) -> None:
    if dialect == "postgresql":
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    else:
        op.execute(_SQLITE_NO_UPDATE)


def downgrade() -> None:
    """Downgrade schema: the events keep their hash chain; the MACs are dropped."""
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("mac")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("mac")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite rebuilt the table to drop the column, and its triggers went with the old table.
        op.execute(_SQLITE_NO_UPDATE.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS"))
        op.execute(
            "CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'table audit_events is append-only: DELETE refused'); END"
        )
