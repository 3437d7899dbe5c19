"""The case's life after the route: its steps, the state they lead to, and the documents issued.

- ``case_events``: every step taken on a letter's case after its route (转送, 签收, 受理, 督办 …),
  append-only like the decisions (triggers refuse UPDATE and DELETE, and TRUNCATE on PostgreSQL).
  登记 and 确定去向 are not copied here: they are the letter and its decisions, which stay as they are.
- ``cases``: one row per letter that has taken such a step, caching its state, handling body,
  next due date, overdue count and open escalation for the queues, and the earlier case an officer
  linked it to as the same matter.
- ``case_documents``: each issued notice with its 文号 and the exact DOCX bytes; only the date sent
  may be filled in afterwards, once (triggers refuse every other change and every deletion).
- ``document_counters``: the sequence of 文号 per office, prefix and year.

No existing row is touched: the new tables start empty. A letter without a ``cases`` row is in the
state its status says (``decided`` with a decision, else ``registered``), which is how the letters
decided before this migration start their case life.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09 09:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES = (
    "role IN ('intake_officer', 'supervisor', 'analyst', 'administrator', 'department_handler', "
    "'discipline_inspector')"
)
_STATES = (
    "state IN ('registered', 'decided', 'transferred', 'assigned', 'received', 'handling', 'answered', "
    "'closed', 'not_accepted', 'no_longer_accepted', 'returned', 'under_review', 'review_answered', "
    "'under_recheck', 'final')"
)
_STEPS = (
    "step IN ('transfer', 'assign', 'not_accept', 'no_longer_accept', 'receive', 'object', 'accept', "
    "'extend', 'answer', 'serve', 'close', 'request_review', 'answer_review', 'request_recheck', "
    "'answer_recheck', 'hearing', 'supervise', 'escalate', 'rate')"
)
# Every column of case_documents but sent_on: none of them changes once the document is issued.
_DOCUMENT_COLUMNS = (
    "id",
    "letter_id",
    "kind",
    "number",
    "office",
    "prefix",
    "year",
    "seq",
    "draft",
    "docx",
    "docx_sha256",
    "issued_by",
    "issued_at",
    "issued_on",
)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "document_counters",
        sa.Column("office", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.CheckConstraint("last_seq >= 0", name=op.f("ck_document_counters_last_seq")),
        sa.PrimaryKeyConstraint("office", "prefix", "year", name=op.f("pk_document_counters")),
    )
    op.create_table(
        "case_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=128), nullable=False),
        sa.Column("office", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("docx", sa.LargeBinary(), nullable=False),
        sa.Column("docx_sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "sent_on IS NULL OR sent_on >= issued_on", name=op.f("ck_case_documents_sent_after_issued")
        ),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_case_documents_seq")),
        sa.ForeignKeyConstraint(
            ["issued_by"], ["users.username"], name=op.f("fk_case_documents_issued_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["letter_id"], ["letters.id"], name=op.f("fk_case_documents_letter_id_letters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_documents")),
        sa.UniqueConstraint("number", name=op.f("uq_case_documents_number")),
        sa.UniqueConstraint(
            "office", "prefix", "year", "seq", name=op.f("uq_case_documents_office_prefix_year_seq")
        ),
    )
    op.create_index(op.f("ix_case_documents_letter_id"), "case_documents", ["letter_id"], unique=False)
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("actor_department", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("after_decision_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(_ROLES, name=op.f("ck_case_events_role")),
        sa.CheckConstraint(_STEPS, name=op.f("ck_case_events_step")),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_case_events_seq")),
        sa.ForeignKeyConstraint(["actor"], ["users.username"], name=op.f("fk_case_events_actor_users")),
        sa.ForeignKeyConstraint(
            ["after_decision_id"],
            ["decisions.id"],
            name=op.f("fk_case_events_after_decision_id_decisions"),
        ),
        sa.ForeignKeyConstraint(["letter_id"], ["letters.id"], name=op.f("fk_case_events_letter_id_letters")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
        sa.UniqueConstraint("letter_id", "seq", name=op.f("uq_case_events_letter_id_seq")),
    )
    op.create_index(op.f("ix_case_events_actor"), "case_events", ["actor"], unique=False)
    op.create_table(
        "cases",
        sa.Column("letter_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("handling_body", sa.String(length=64), nullable=True),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column("late_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("open_escalation", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("linked_to_id", sa.Integer(), nullable=True),
        sa.Column("linked_by", sa.String(length=64), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("link_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_STATES, name=op.f("ck_cases_state")),
        sa.CheckConstraint("late_count >= 0", name=op.f("ck_cases_late_count")),
        sa.CheckConstraint(
            "linked_to_id IS NULL OR linked_to_id <> letter_id", name=op.f("ck_cases_not_linked_to_itself")
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"], name=op.f("fk_cases_decision_id_decisions")
        ),
        sa.ForeignKeyConstraint(["letter_id"], ["letters.id"], name=op.f("fk_cases_letter_id_letters")),
        sa.ForeignKeyConstraint(["linked_by"], ["users.username"], name=op.f("fk_cases_linked_by_users")),
        sa.ForeignKeyConstraint(["linked_to_id"], ["letters.id"], name=op.f("fk_cases_linked_to_id_letters")),
        sa.PrimaryKeyConstraint("letter_id", name=op.f("pk_cases")),
    )
    op.create_index(op.f("ix_cases_handling_body_state"), "cases", ["handling_body", "state"], unique=False)
    op.create_index(op.f("ix_cases_linked_to_id"), "cases", ["linked_to_id"], unique=False)
    op.create_index(op.f("ix_cases_open_escalation"), "cases", ["open_escalation"], unique=False)
    op.create_index(op.f("ix_cases_state_next_due"), "cases", ["state", "next_due"], unique=False)
    _create_triggers()


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # xinfang_refuse_change() is migration 0001's: SQLSTATE 23001, surfacing as IntegrityError.
        op.execute(
            "CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events "
            "FOR EACH ROW EXECUTE FUNCTION xinfang_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION xinfang_refuse_change()"
        )
        op.execute(
            """
            CREATE FUNCTION xinfang_document_as_issued() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND OLD.sent_on IS NULL
                   AND (to_jsonb(NEW) - 'sent_on') = (to_jsonb(OLD) - 'sent_on') THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION 'table % keeps documents as issued: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = '23001';
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER case_documents_as_issued BEFORE UPDATE OR DELETE ON case_documents "
            "FOR EACH ROW EXECUTE FUNCTION xinfang_document_as_issued()"
        )
        op.execute(
            "CREATE TRIGGER case_documents_no_truncate BEFORE TRUNCATE ON case_documents "
            "FOR EACH STATEMENT EXECUTE FUNCTION xinfang_refuse_change()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER case_events_no_{operation.lower()} BEFORE {operation} ON case_events "
            f"BEGIN SELECT RAISE(ABORT, 'table case_events is append-only: {operation} refused'); END"
        )
    op.execute(
        f"CREATE TRIGGER case_documents_no_update BEFORE UPDATE OF {', '.join(_DOCUMENT_COLUMNS)} "
        "ON case_documents "
        "BEGIN SELECT RAISE(ABORT, 'table case_documents keeps documents as issued: UPDATE refused'); END"
    )
    op.execute(
        "CREATE TRIGGER case_documents_sent_once BEFORE UPDATE OF sent_on ON case_documents "
        "WHEN OLD.sent_on IS NOT NULL "
        "BEGIN SELECT RAISE(ABORT, 'table case_documents keeps documents as issued: UPDATE refused'); END"
    )
    op.execute(
        "CREATE TRIGGER case_documents_no_delete BEFORE DELETE ON case_documents "
        "BEGIN SELECT RAISE(ABORT, 'table case_documents keeps documents as issued: DELETE refused'); END"
    )


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_events_append_only ON case_events")
        op.execute("DROP TRIGGER IF EXISTS case_events_no_truncate ON case_events")
        op.execute("DROP TRIGGER IF EXISTS case_documents_as_issued ON case_documents")
        op.execute("DROP TRIGGER IF EXISTS case_documents_no_truncate ON case_documents")
        op.execute("DROP FUNCTION IF EXISTS xinfang_document_as_issued()")
        return
    for name in (
        "case_events_no_update",
        "case_events_no_delete",
        "case_documents_no_update",
        "case_documents_sent_once",
        "case_documents_no_delete",
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")


def downgrade() -> None:
    """Downgrade schema: the case histories and issued documents are dropped with their tables."""
    _drop_triggers()
    op.drop_index(op.f("ix_cases_state_next_due"), table_name="cases")
    op.drop_index(op.f("ix_cases_open_escalation"), table_name="cases")
    op.drop_index(op.f("ix_cases_linked_to_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_handling_body_state"), table_name="cases")
    op.drop_table("cases")
    op.drop_index(op.f("ix_case_events_actor"), table_name="case_events")
    op.drop_table("case_events")
    op.drop_index(op.f("ix_case_documents_letter_id"), table_name="case_documents")
    op.drop_table("case_documents")
    op.drop_table("document_counters")
