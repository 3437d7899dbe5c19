"""The tables of xinfang, as SQLAlchemy 2 declarative models.

Machine proposals and officer decisions are different rows (a decision never overwrites a
proposal); proposals, decisions and audit events are append-only. The schema is created and
changed only by the Alembic migrations in ``store/migrations`` (``store.db.upgrade``); a test
checks that the migrated schema matches these models.

Codes (category, channel, disposition, domain) are stored as the strings of ``routing.codes``;
a code is never renamed because stored decisions refer to it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from routing.schemas import RouteProposal

# Letter forms of 条例 第十七条: 来信, 网上信访, 来访, 来电.
FORMS: tuple[str, ...] = ("letter", "online", "visit", "call")
FORM_NAMES: dict[str, str] = {"letter": "来信", "online": "网上信访", "visit": "来访", "call": "来电"}
SOURCES: tuple[str, ...] = ("manual", "batch")
# ``merged``: the letter went into another one (store.regroup); it stays on record, out of the queue.
LETTER_STATUSES: tuple[str, ...] = ("pending", "decided", "merged")
ROLES: tuple[str, ...] = (
    "intake_officer",
    "supervisor",
    "analyst",
    "administrator",
    "department_handler",
    "discipline_inspector",
)
# What officers call each role; messages name roles by these, never by their codes.
ROLE_NAMES: dict[str, str] = {
    "intake_officer": "接待／办信人员",
    "supervisor": "科室负责人",
    "analyst": "统计分析人员",
    "administrator": "系统管理员",
    "department_handler": "承办单位人员",
    "discipline_inspector": "纪检监察人员",
}
FILE_STATUSES: tuple[str, ...] = ("received", "processing", "done", "failed")
# A page session lives in a signed cookie, an API one in a bearer token; both are rows of user_sessions.
SESSION_KINDS: tuple[str, ...] = ("page", "api")
# ``create``: a new account with the role; ``raise``: an existing account moves to it.
ROLE_REQUEST_KINDS: tuple[str, ...] = ("create", "raise")
ROLE_REQUEST_STATUSES: tuple[str, ...] = ("pending", "approved", "refused")
# The decision fields an officer confirms or corrects, in display order.
DECISION_FIELDS: tuple[str, ...] = ("category", "domain", "department", "channel", "disposition")

# Constraint names are fixed so that migrations can refer to them on every backend.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite has no timezone type and hands back naive datetimes; this stores UTC and always returns an
    aware UTC value, so hashes over timestamps (the audit chain) are the same on SQLite and PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime, e.g. datetime.now(UTC)")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}


class CaseCounter(Base):
    """How many case numbers were given out per year; its row lock makes one year's registrations queue.

    The numbers themselves are drawn at random (``store.letters._next_case_number``), so
    ``last_number`` is a count, not the last number.
    """

    __tablename__ = "case_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, nullable=False)


# ``text`` is a column's name inside ``Letter``
_TRUE = text("true")


class Letter(Base):
    """One registered 信访事项 with its 一事一码 case number and the particulars of 条例 第十九条."""

    __tablename__ = "letters"
    __table_args__ = (
        CheckConstraint(_in("form", FORMS), name="form"),
        CheckConstraint(_in("source", SOURCES), name="source"),
        CheckConstraint(_in("status", LETTER_STATUSES), name="status"),
        CheckConstraint("visitors IS NULL OR visitors >= 1", name="visitors"),
        CheckConstraint("version >= 1", name="version"),
        # Reprocessing a scanned file must not register its letters twice.
        UniqueConstraint("source_file_id", "source_part"),
        Index(None, "status", "received_on"),
        # the band of ids a period's letters hold, read from the index alone (service.statistics)
        Index(None, "received_on", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_number: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    form: Mapped[str] = mapped_column(String(16), nullable=False)
    received_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    visitors: Mapped[int | None] = mapped_column(Integer)
    petitioner_name: Mapped[str | None] = mapped_column(String(200))
    petitioner_organisation: Mapped[str | None] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(500))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    id_number: Mapped[str | None] = mapped_column(String(18))
    request: Mapped[str | None] = mapped_column(Text)
    facts: Mapped[str | None] = mapped_column(Text)
    reasons: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), nullable=False, default="manual")
    source_file_id: Mapped[int | None] = mapped_column(ForeignKey("source_files.id"), index=True)
    source_part: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id"))
    #: The first county-level unit (区县) and the first city (地市) the title names, else the text
    #: (``store.letters.named_places``; NULL: none), written with the title and text so the
    #: statistics group a year's letters by region without running a regular expression on each.
    named_county: Mapped[str | None] = mapped_column(String(32))
    named_city: Mapped[str | None] = mapped_column(String(32))
    #: The letter's route as the statistics read it, written in the transaction that stores a
    #: proposal or a decision (``store.routes``), so a year's figures need not look for every
    #: letter's newest proposal and newest decision: the newest decision's fields, else the newest
    #: proposal's (NULL before any proposal); whether ``store.confidentiality`` holds the letter
    #: confidential (true without a proposal, the most sensitive kind); the newest decision's id
    #: (NULL while undecided; no foreign key, since a second path between letters and decisions
    #: would make the ORM's joins between them ambiguous); the newest proposal's earliest deadline.
    route_category: Mapped[str | None] = mapped_column(String(32))
    route_channel: Mapped[str | None] = mapped_column(String(32))
    route_disposition: Mapped[str | None] = mapped_column(String(32))
    route_domain: Mapped[str | None] = mapped_column(String(32))
    route_department: Mapped[str | None] = mapped_column(String(64))
    route_confidential: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=_TRUE
    )
    route_decision_id: Mapped[int | None] = mapped_column(Integer)
    proposed_due: Mapped[dt.date | None] = mapped_column(Date)

    proposals: Mapped[list[Proposal]] = relationship(
        back_populates="letter", order_by="Proposal.id", viewonly=True
    )
    decisions: Mapped[list[Decision]] = relationship(
        back_populates="letter", order_by="Decision.id", viewonly=True
    )
    source_file: Mapped[SourceFile | None] = relationship(back_populates="letters", viewonly=True)
    merged_into: Mapped[Letter | None] = relationship(remote_side=[id], viewonly=True)
    pages: Mapped[list[LetterPage]] = relationship(
        back_populates="letter", order_by="LetterPage.position", viewonly=True
    )

    def __repr__(self) -> str:
        return f"Letter(id={self.id}, case_number={self.case_number!r}, status={self.status!r})"


class Proposal(Base):
    """A machine route proposal for a letter (append-only), with its key fields indexed for the queue."""

    __tablename__ = "proposals"
    __table_args__ = (Index(None, "letter_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"), nullable=False)
    proposal: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    model_version: Mapped[str] = mapped_column(String(128), nullable=False)
    rulebook_version: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    category: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    domain: Mapped[str] = mapped_column(String(32), nullable=False)
    department: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    channel: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    disposition: Mapped[str] = mapped_column(String(32), nullable=False)
    confidential: Mapped[bool] = mapped_column(Boolean, nullable=False, index=True)
    needs_review: Mapped[bool] = mapped_column(Boolean, nullable=False, index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, nullable=False, index=True)
    earliest_due: Mapped[dt.date | None] = mapped_column(Date, index=True)

    letter: Mapped[Letter] = relationship(back_populates="proposals", viewonly=True)

    def route_proposal(self) -> RouteProposal:
        """The stored proposal as the ``RouteProposal`` it was made from."""
        return RouteProposal.model_validate(self.proposal)

    def field_values(self) -> dict[str, str]:
        """The proposed value of each decision field (``DECISION_FIELDS``)."""
        return {f: getattr(self, f) for f in DECISION_FIELDS}

    def __repr__(self) -> str:
        return f"Proposal(id={self.id}, letter_id={self.letter_id}, category={self.category!r})"


class Decision(Base):
    """An officer's confirmation or correction of a proposal (append-only; the latest per letter wins)."""

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint("agreed_with_proposal OR reason IS NOT NULL", name="reason_when_changed"),
        Index(None, "letter_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"), nullable=False)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), nullable=False, index=True)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    decided_by: Mapped[str] = mapped_column(ForeignKey("users.username"), nullable=False, index=True)
    decided_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    domain: Mapped[str] = mapped_column(String(32), nullable=False)
    department: Mapped[str] = mapped_column(String(64), nullable=False)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    disposition: Mapped[str] = mapped_column(String(32), nullable=False)
    agreed_with_proposal: Mapped[bool] = mapped_column(Boolean, nullable=False)
    changed_fields: Mapped[list[str]] = mapped_column(nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    letter_version: Mapped[int] = mapped_column(Integer, nullable=False)

    letter: Mapped[Letter] = relationship(back_populates="decisions", viewonly=True)
    proposal: Mapped[Proposal] = relationship(viewonly=True)

    def field_values(self) -> dict[str, str]:
        """The decided value of each decision field (``DECISION_FIELDS``)."""
        return {f: getattr(self, f) for f in DECISION_FIELDS}

    def __repr__(self) -> str:
        return f"Decision(id={self.id}, letter_id={self.letter_id}, agreed={self.agreed_with_proposal})"


class User(Base):
    """A person who signs in to the workbench. There is no default user and no default password.

    Failed sign-ins are counted per account and client address (``LoginThrottle``), so that
    guessing from one address cannot lock the account for everyone else.
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint(
            "(role = 'department_handler') = (department IS NOT NULL)", name="department_for_handlers"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    department: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    password_changed_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    last_login_at: Mapped[dt.datetime | None] = mapped_column()

    def __repr__(self) -> str:  # never the hash
        return f"User(username={self.username!r}, role={self.role!r}, active={self.active})"


class UserSession(Base):
    """One signed-in session: a page cookie or an API bearer token carries its secret.

    Only the secret's sha256 is stored, so reading the table does not let anyone sign in. A session
    is valid while it is neither revoked nor expired and its account is active; logout revokes it,
    a password change or a deactivation revokes every session of the account.
    """

    __tablename__ = "user_sessions"
    __table_args__ = (CheckConstraint(_in("kind", SESSION_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(nullable=False, index=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_why: Mapped[str | None] = mapped_column(String(32))

    user: Mapped[User] = relationship(viewonly=True)

    def __repr__(self) -> str:  # never the hash
        return f"UserSession(id={self.id}, user_id={self.user_id}, kind={self.kind!r})"


class LoginThrottle(Base):
    """Consecutive failed sign-ins to one account from one client address, and the lock they earned.

    Keyed by account *and* address: someone guessing from one address locks the account only for
    that address. A successful sign-in from the address or an administrator's unlock removes the row.
    """

    __tablename__ = "login_throttles"
    __table_args__ = (CheckConstraint("failures >= 0", name="failures"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False)
    last_failed_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    locked_until: Mapped[dt.datetime | None] = mapped_column()


class RoleRequest(Base):
    """A request to create an account with, or raise one to, a role that may read accusations.

    It takes effect only when a second person approves it (``store.approvals``). For a new account
    the password's hash waits here, and is cleared once the request is decided.
    """

    __tablename__ = "role_requests"
    __table_args__ = (
        CheckConstraint(_in("kind", ROLE_REQUEST_KINDS), name="kind"),
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint(_in("status", ROLE_REQUEST_STATUSES), name="status"),
        # A pending new account must have what the account will be created from.
        CheckConstraint(
            "kind = 'raise' OR status <> 'pending' "
            "OR (display_name IS NOT NULL AND password_hash IS NOT NULL)",
            name="new_account",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    previous_role: Mapped[str | None] = mapped_column(String(32))
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(128), nullable=False)
    requested_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    answer: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:  # never the hash
        return f"RoleRequest(id={self.id}, username={self.username!r}, role={self.role!r}, {self.status})"


class AuditEvent(Base):
    """One entry of the hash-chained audit log (append-only).

    ``hash = sha256(canonical JSON of (seq, at, actor, action, object, details) + prev_hash)`` and
    ``mac = HMAC(audit key, hash + ":" + previous mac)``; see ``store.audit``.
    """

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(nullable=False, index=True)
    actor: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    action: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    object: Mapped[str | None] = mapped_column(String(200), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    # Null only on a row written outside xinfang: migration 0006 gave the older rows theirs.
    mac: Mapped[str | None] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"AuditEvent(seq={self.seq}, action={self.action!r}, actor={self.actor!r})"


class AuditHead(Base):
    """The single row naming the last audit event; appenders lock it so the chain never forks."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    mac: Mapped[str | None] = mapped_column(String(64))


class Batch(Base):
    """One batch of scanned files handed to triage, with running totals."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    file_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    done_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    failed_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    letter_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    # The day the batch's letters arrived and their form, so that a resumed batch (``xinfang batches
    # resume``, a web upload's worker) routes and registers them as the run that recorded them would.
    # NULL for batches recorded before they were kept: those are triaged as arriving today.
    received_on: Mapped[dt.date | None] = mapped_column(Date)
    form: Mapped[str] = mapped_column(String(16), nullable=False, default="letter", server_default="letter")

    files: Mapped[list[SourceFile]] = relationship(
        back_populates="batch", order_by="SourceFile.id", viewonly=True
    )


class SourceFile(Base):
    """A received file (scan, PDF, text); its sha256 is unique so a file is processed once."""

    __tablename__ = "source_files"
    __table_args__ = (
        CheckConstraint(_in("status", FILE_STATUSES), name="status"),
        CheckConstraint("size_bytes >= 0", name="size"),
        Index(None, "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    original_name: Mapped[str] = mapped_column(String(255), nullable=False)
    media_type: Mapped[str] = mapped_column(String(127), nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    stored_path: Mapped[str] = mapped_column(String(1024), nullable=False)
    pages: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="received")
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[dt.datetime | None] = mapped_column()
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(nullable=False)

    batch: Mapped[Batch | None] = relationship(back_populates="files", viewonly=True)
    letters: Mapped[list[Letter]] = relationship(
        back_populates="source_file", order_by="Letter.source_part", viewonly=True
    )

    @property
    def letter_ids(self) -> list[int]:
        """Ids of the letters registered from this file, in part order."""
        return [letter.id for letter in self.letters]

    def __repr__(self) -> str:
        return f"SourceFile(id={self.id}, sha256={self.sha256[:12]}…, status={self.status!r})"


class LetterPage(Base):
    """One page image of a scanned letter, in the order it appears in the letter.

    The image is kept under the storage folder by its sha256 (``stored_path``), so a page seen
    twice is stored once; ``file_page`` is its page number in the source file, which differs from
    ``position`` when one file holds several letters. ``blank`` pages belong to the letter (a
    duplex scan's empty back) but gave it no text.
    """

    __tablename__ = "letter_pages"
    __table_args__ = (
        UniqueConstraint("letter_id", "position"),
        CheckConstraint("position >= 1", name="position"),
        CheckConstraint("file_page >= 1", name="file_page"),
        CheckConstraint("width >= 1 AND height >= 1", name="size"),
        CheckConstraint("size_bytes >= 0", name="bytes"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    file_page: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    media_type: Mapped[str] = mapped_column(String(127), nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    stored_path: Mapped[str] = mapped_column(String(1024), nullable=False)
    blank: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    letter: Mapped[Letter] = relationship(back_populates="pages", viewonly=True)

    def __repr__(self) -> str:
        return f"LetterPage(letter_id={self.letter_id}, position={self.position}, sha256={self.sha256[:12]}…)"


# -- the case's life after the route (casework) ------------------------------------------------

# The states and steps of ``casework.states`` as strings: the store does not import casework (a
# test keeps the two equal). 登记 and 确定去向 are the letter and its decisions, so ``case_events``
# holds every other step.
CASE_STATES: tuple[str, ...] = (
    "registered",
    "decided",
    "transferred",
    "assigned",
    "received",
    "handling",
    "answered",
    "closed",
    "not_accepted",
    "no_longer_accepted",
    "returned",
    "under_review",
    "review_answered",
    "under_recheck",
    "final",
)
CASE_EVENT_STEPS: tuple[str, ...] = (
    "transfer",
    "assign",
    "not_accept",
    "no_longer_accept",
    "receive",
    "object",
    "accept",
    "extend",
    "answer",
    "serve",
    "close",
    "request_review",
    "answer_review",
    "request_recheck",
    "answer_recheck",
    "hearing",
    "supervise",
    "escalate",
    "rate",
)


class CaseRecord(Base):
    """What a letter's case history comes to, kept beside it so queues filter without replaying it.

    Written by ``casework.cases`` in the transaction of each step (and by ``sync_case`` after a
    decision recorded elsewhere). A letter without a row has taken no step after its route: it is
    ``decided`` when it has a decision and ``registered`` otherwise. ``decision_id`` is the newest
    decision the row accounts for. ``next_due`` is the earliest last day of a running duty (a
    window the petitioner or the body may leave unused is not a duty); ``late_count`` counts the
    duties that ran past their last day and have stopped since. ``linked_to_id`` is an earlier case
    an officer found to be the same matter (第三十六条第三款).

    The office's figures of the case (``service.statistics``), kept so that a year's statistics
    read one row per letter instead of aggregating every step again, written with each step in its
    transaction (``casework.figures``): the first day of a 转送/交办/不予受理/不再受理
    (``forwarded_on``), of 受理 (``accepted_on``) and of 处理意见 (``answered_on``), each step
    counted from its ``effective_on`` else its recording day in China; the longest approved
    extension in days (0 without one); whether 复查 was requested, 复查意见 given and 复核 requested;
    and how many 满意度评价 steps gave each grade. They aggregate ``case_events`` alone, so a
    decision, a return or a merge leaves them as they are.
    """

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("state", CASE_STATES), name="state"),
        CheckConstraint("late_count >= 0", name="late_count"),
        CheckConstraint("linked_to_id IS NULL OR linked_to_id <> letter_id", name="not_linked_to_itself"),
        Index(None, "state", "next_due"),
        Index(None, "handling_body", "state"),
    )

    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"), primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(32), nullable=False)
    handling_body: Mapped[str | None] = mapped_column(String(64))
    next_due: Mapped[dt.date | None] = mapped_column(Date)
    late_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    open_escalation: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=text("false"), index=True
    )
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    linked_to_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id"), index=True)
    linked_by: Mapped[str | None] = mapped_column(ForeignKey("users.username"))
    linked_at: Mapped[dt.datetime | None] = mapped_column()
    link_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    forwarded_on: Mapped[dt.date | None] = mapped_column(Date)
    accepted_on: Mapped[dt.date | None] = mapped_column(Date)
    answered_on: Mapped[dt.date | None] = mapped_column(Date)
    extension_days: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    review_requested: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=text("false")
    )
    review_answered: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=text("false")
    )
    recheck_requested: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=text("false")
    )
    rated_satisfied: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    rated_basically_satisfied: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    rated_dissatisfied: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )

    def __repr__(self) -> str:
        return f"CaseRecord(letter_id={self.letter_id}, state={self.state!r})"


class CaseEventRecord(Base):
    """One step taken on a case after its route (append-only): who, in which role and department,
    when it was recorded and the day it counts from, why, and the step's particulars as JSON.

    ``seq`` numbers a letter's steps from 1. ``after_decision_id`` is the newest decision when the
    step was taken, which places the step among the letter's decisions without trusting clocks.
    """

    __tablename__ = "case_events"
    __table_args__ = (
        UniqueConstraint("letter_id", "seq"),
        CheckConstraint("seq >= 1", name="seq"),
        CheckConstraint(_in("step", CASE_EVENT_STEPS), name="step"),
        CheckConstraint(_in("role", ROLES), name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    step: Mapped[str] = mapped_column(String(32), nullable=False)
    actor: Mapped[str] = mapped_column(ForeignKey("users.username"), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    actor_department: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    effective_on: Mapped[dt.date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    fields: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    after_decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))

    def __repr__(self) -> str:
        return f"CaseEventRecord(letter_id={self.letter_id}, seq={self.seq}, step={self.step!r})"


class CaseDocument(Base):
    """A document issued on a case, kept exactly as issued: its 文号, the text the officer approved
    (``draft``: title, salutation, paragraphs, signature, recipient) and the DOCX file's bytes.

    The 文号 is ``office`` + ``prefix`` (the kind's) + 〔``year``〕 + ``seq``号; ``seq`` counts from 1
    without gaps per office, prefix and year (``document_counters``). Only ``sent_on`` may be set
    afterwards, once; the migration's triggers refuse any other change and every deletion.
    """

    __tablename__ = "case_documents"
    __table_args__ = (
        UniqueConstraint("office", "prefix", "year", "seq"),
        CheckConstraint("seq >= 1", name="seq"),
        CheckConstraint("sent_on IS NULL OR sent_on >= issued_on", name="sent_after_issued"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    number: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    office: Mapped[str] = mapped_column(String(64), nullable=False)
    prefix: Mapped[str] = mapped_column(String(32), nullable=False)
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    draft: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    docx: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    docx_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    issued_by: Mapped[str] = mapped_column(ForeignKey("users.username"), nullable=False)
    issued_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    issued_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    sent_on: Mapped[dt.date | None] = mapped_column(Date)

    def __repr__(self) -> str:
        return f"CaseDocument(id={self.id}, letter_id={self.letter_id}, number={self.number!r})"


class DocumentCounter(Base):
    """How many documents with one 文号 prefix an office issued in a year; its row lock makes
    concurrent issuers queue, so numbers have neither gaps nor duplicates."""

    __tablename__ = "document_counters"
    __table_args__ = (CheckConstraint("last_seq >= 0", name="last_seq"),)

    office: Mapped[str] = mapped_column(String(64), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer, nullable=False)


# -- repeat and related letters (重复信访, 一事一码) ---------------------------------------------

# The kinds of a petitioner's identity key (``classifier.similarity.petitioner_keys``).
PETITIONER_KEY_KINDS: tuple[str, ...] = ("id", "phone", "name")


class PetitionerKey(Base):
    """One identity key of a letter's petitioner (a normalised ID number, phone or full name).

    The primary key leads with (kind, value), so "which letters has this petitioner written" is an
    index lookup however many letters are stored; ``store.repeats`` rewrites a letter's rows
    whenever its particulars change.
    """

    __tablename__ = "petitioner_keys"
    __table_args__ = (CheckConstraint(_in("kind", PETITIONER_KEY_KINDS), name="kind"),)

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    letter_id: Mapped[int] = mapped_column(
        ForeignKey("letters.id"), primary_key=True, autoincrement=False, index=True
    )


class MatterBand(Base):
    """One LSH band key of a letter's title and text (``classifier.similarity.matter_bands``).

    Two letters sharing a band are candidates for the same matter; the primary key leads with the
    band key for that lookup.
    """

    __tablename__ = "matter_bands"

    band: Mapped[str] = mapped_column(String(40), primary_key=True)
    letter_id: Mapped[int] = mapped_column(
        ForeignKey("letters.id"), primary_key=True, autoincrement=False, index=True
    )


class UnrelatedMark(Base):
    """An officer's finding that an earlier letter shown beside a letter is not its matter.

    Kept when cleared (``cleared_by``/``cleared_at``): with the links of ``cases.linked_to_id``
    these are the office's own judgements of which letters are one matter, what the search and
    its threshold are measured against. One uncleared mark per pair at a time.
    """

    __tablename__ = "unrelated_marks"
    __table_args__ = (
        CheckConstraint("letter_id <> other_letter_id", name="not_itself"),
        CheckConstraint("(cleared_by IS NULL) = (cleared_at IS NULL)", name="cleared_both"),
        Index(None, "letter_id", "other_letter_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"), nullable=False)
    other_letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"), nullable=False, index=True)
    marked_by: Mapped[str] = mapped_column(ForeignKey("users.username"), nullable=False)
    marked_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    cleared_by: Mapped[str | None] = mapped_column(ForeignKey("users.username"))
    cleared_at: Mapped[dt.datetime | None] = mapped_column()

    def __repr__(self) -> str:
        return f"UnrelatedMark(letter_id={self.letter_id}, other_letter_id={self.other_letter_id})"


APPEND_ONLY_TABLES: tuple[str, ...] = ("proposals", "decisions", "audit_events", "case_events")

__all__ = [
    "APPEND_ONLY_TABLES",
    "CASE_EVENT_STEPS",
    "CASE_STATES",
    "DECISION_FIELDS",
    "FILE_STATUSES",
    "FORMS",
    "FORM_NAMES",
    "LETTER_STATUSES",
    "PETITIONER_KEY_KINDS",
    "ROLES",
    "ROLE_NAMES",
    "ROLE_REQUEST_KINDS",
    "ROLE_REQUEST_STATUSES",
    "SESSION_KINDS",
    "SOURCES",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Batch",
    "CaseCounter",
    "CaseDocument",
    "CaseEventRecord",
    "CaseRecord",
    "Decision",
    "DocumentCounter",
    "Letter",
    "LetterPage",
    "LoginThrottle",
    "MatterBand",
    "PetitionerKey",
    "Proposal",
    "RoleRequest",
    "SourceFile",
    "UnrelatedMark",
    "User",
    "UserSession",
]
