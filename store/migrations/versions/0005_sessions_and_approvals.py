"""Server-side sessions, sign-in throttling per account and address, and role requests.

- ``user_sessions``: every signed-in page or API session, so that logout, a password change or a
  deactivation ends it at once (the cookie or token only carries the session's secret).
- ``login_throttles``: failed sign-ins counted per account *and* client address, replacing the
  per-account counters on ``users`` (``failed_logins``, ``last_failed_at``, ``locked_until``), which
  let anyone lock any account for everyone. A lock in force when upgrading is lifted: which address
  earned it was never recorded.
- ``role_requests``: creating or raising an account to a role that may read accusations waits for
  a second person's approval.

Every user row is kept; on SQLite ``users`` is rebuilt (decisions refer to it, see ``store.db.upgrade``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 16:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES = (
    "role IN ('intake_officer', 'supervisor', 'analyst', 'administrator', 'department_handler', "
    "'discipline_inspector')"
)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_why", sa.String(length=32), nullable=True),
        sa.CheckConstraint("kind IN ('page', 'api')", name=op.f("ck_user_sessions_kind")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_sessions_token_hash")),
    )
    op.create_index(op.f("ix_user_sessions_user_id"), "user_sessions", ["user_id"], unique=False)
    op.create_index(op.f("ix_user_sessions_expires_at"), "user_sessions", ["expires_at"], unique=False)

    op.create_table(
        "login_throttles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("failures >= 0", name=op.f("ck_login_throttles_failures")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_login_throttles_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "address", name=op.f("pk_login_throttles")),
    )

    op.create_table(
        "role_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("previous_role", sa.String(length=32), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('create', 'raise')", name=op.f("ck_role_requests_kind")),
        sa.CheckConstraint(_ROLES, name=op.f("ck_role_requests_role")),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'refused')", name=op.f("ck_role_requests_status")
        ),
        sa.CheckConstraint(
            "kind = 'raise' OR status <> 'pending' "
            "OR (display_name IS NOT NULL AND password_hash IS NOT NULL)",
            name=op.f("ck_role_requests_new_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_requests")),
    )
    op.create_index(op.f("ix_role_requests_username"), "role_requests", ["username"], unique=False)
    op.create_index(op.f("ix_role_requests_status"), "role_requests", ["status"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_users_failed_logins"), type_="check")
        batch_op.drop_column("locked_until")
        batch_op.drop_column("last_failed_at")
        batch_op.drop_column("failed_logins")


def downgrade() -> None:
    """Downgrade schema: sessions, throttles and requests are dropped; every account starts unlocked."""
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(batch_op.f("ck_users_failed_logins"), "failed_logins >= 0")
    op.drop_index(op.f("ix_role_requests_status"), table_name="role_requests")
    op.drop_index(op.f("ix_role_requests_username"), table_name="role_requests")
    op.drop_table("role_requests")
    op.drop_table("login_throttles")
    op.drop_index(op.f("ix_user_sessions_expires_at"), table_name="user_sessions")
    op.drop_index(op.f("ix_user_sessions_user_id"), table_name="user_sessions")
    op.drop_table("user_sessions")
