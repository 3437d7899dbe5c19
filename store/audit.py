"""The audit log: who saw or did what, and proof that nobody edited it afterwards.

Every event's ``hash`` is ``sha256(canonical_json(event) + prev_hash)``, where the event is
``{seq, at, actor, action, object, details}`` and canonical JSON sorts keys, keeps non-ASCII text
and has no spaces. Editing, deleting or reordering a row breaks the chain from that row on, and
``verify_chain`` names the first broken ``seq``. The single ``audit_head`` row holds the last seq,
hash and MAC: appenders lock it (so two transactions never both append seq N), and it reveals
truncation of the newest events. On top of that the migrations install triggers that refuse
UPDATE and DELETE on the table.

A hash chain alone can be rebuilt by anyone who can write the table: edit a row, recompute every
hash after it and the head, and the chain verifies again. So every event also carries
``mac = HMAC-SHA256(key, hash + ":" + previous mac)``, with a key kept outside the database
(``XINFANG_AUDIT_KEY`` or ``XINFANG_AUDIT_KEY_FILE``, handed over by the shells through
``store.audit_key``). Without the key a rewritten row cannot be given a MAC that verifies, and
since each MAC covers the one before it, neither can any row after it. What the key does not
protect against is written in the README (section "The audit log").

Details are masked (``store.masking.mask_record``) before they are hashed and stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, func, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from store._sql import insert_ignore
from store.audit_key import audit_key
from store.errors import InvalidValueError
from store.masking import mask_record
from store.models import AuditEvent, AuditHead

GENESIS_HASH = "0" * 64

# Known actions. An unknown one is refused so that typos do not split the log into synonyms;
# add new actions here.
AUDIT_ACTIONS: dict[str, str] = {
    "login": "a user signed in",
    "login_failed": "a sign-in was refused (wrong password, locked or inactive account)",
    "logout": "a user signed out",
    "register_letter": "a letter was registered and given its case number",
    "view_letter": "a user opened a letter",
    "view_confidential": "a user opened a confidential letter (检举控告) or its particulars",
    "decide": "an officer confirmed or corrected a route proposal",
    "split_letter": "an officer split a letter in two; the second part got its own case number",
    "merge_letters": "an officer merged a letter into another; the merged one stays on record",
    "export": "data left the system (export file, report)",
    "promote_model": "a model version was promoted to serve proposals",
    "promote_model_refused": "a model version was not promoted: it measured worse than the one in service",
    "rollback_model": "the model in service was rolled back to the one that served before it",
    "user_created": "an account was created",
    "user_updated": "an account's role, department, password or active flag changed",
    "user_deactivated": "an administrator deactivated an account; its sessions ended",
    "user_reactivated": "an administrator reactivated an account",
    "user_unlocked": "an administrator lifted an account's sign-in locks",
    "password_reset": "an administrator set a new password for an account; its sessions ended",
    "role_requested": "an account was asked for with, or raised to, a role that may read accusations",
    "role_request_approved": "a second person approved a role request; it took effect",
    "role_request_refused": "a role request was refused; nothing changed",
    "batch_created": "a batch of scanned files was started",
    "file_received": "a source file was recorded",
    "file_failed": "processing a source file failed",
    "audit_anchored": "the events written before the log was keyed were given their MACs (migration 0006)",
    "case_step": "a step was taken on a case after its route (转送, 签收, 督办 …); details name the step",
    "case_linked": "an officer linked a letter to an earlier case as the same matter, or removed the link",
    "letter_unrelated": "an officer found that an earlier letter shown beside a letter is not its matter",
    "letter_unrelated_cleared": "an officer withdrew the finding that an earlier letter is not its matter",
    "document_issued": "a notice of a case was issued under its 文号 and kept exactly as issued",
    "document_sent": "the day an issued document was sent was recorded",
}


@dataclass(frozen=True)
class ChainProblem:
    """One place where the audit chain does not verify."""

    seq: int
    problem: str

    def __str__(self) -> str:
        return f"第 {self.seq} 条：{self.problem}"


def canonical_json(value: Any) -> str:
    """The JSON text hashed by the chain: sorted keys, UTF-8 text as is, no whitespace."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def event_hash(
    *,
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    object: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """The chain hash of one event given the hash of the event before it."""
    body = {
        "seq": seq,
        "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "object": object,
        "details": details,
    }
    return hashlib.sha256((canonical_json(body) + prev_hash).encode("utf-8")).hexdigest()


def event_mac(key: bytes, *, hash: str, prev_mac: str) -> str:
    """The keyed MAC of one event: its hash (which covers its content and the chain before it)
    and the MAC of the event before it (``GENESIS_HASH`` for the first)."""
    return hmac.new(key, f"{hash}:{prev_mac}".encode("ascii"), hashlib.sha256).hexdigest()


def lock_audit_head(session: Session) -> tuple[int, str]:
    """Take the audit head's row lock for this transaction and return ``(last seq, last hash)``.

    Lock order: a transaction that appends audit events takes this lock before any other row lock
    (case counters, letters, users, files). Every store function that audits or changes a letter
    does so first; call this yourself before changing rows when your own transaction appends
    events afterwards. With one order for everyone, PostgreSQL transactions queue instead of
    deadlocking. (On SQLite the whole database is locked by ``BEGIN IMMEDIATE`` anyway.)
    """
    seq, digest, _ = _lock_head(session)
    return seq, digest


def _lock_head(session: Session) -> tuple[int, str, str]:
    # FOR UPDATE makes concurrent appenders queue here on PostgreSQL.
    locking = select(AuditHead.seq, AuditHead.hash, AuditHead.mac).where(AuditHead.id == 1).with_for_update()
    row = session.execute(locking).one_or_none()
    if row is None:
        # Only the log's very first event finds no head; two first appenders race to create it,
        # and the loser's insert waits for the winner and then does nothing.
        session.execute(
            insert_ignore(
                session, AuditHead, {"id": 1, "seq": 0, "hash": GENESIS_HASH, "mac": GENESIS_HASH}, ["id"]
            )
        )
        row = session.execute(locking).one()
    return int(row[0]), str(row[1]), str(row[2] or GENESIS_HASH)


@dataclass(frozen=True)
class _Checked:
    """An event checked and masked when it happened, ready to be chained."""

    actor: str
    action: str
    object: str | None
    details: dict[str, Any]
    at: dt.datetime


#: Where a session keeps the events waiting for its commit (``append_event_at_commit``).
_PENDING = "xinfang.audit.pending"


def _checked(
    actor: str, action: str, object: str | None, details: dict[str, Any] | None, at: dt.datetime | None
) -> _Checked:
    if action not in AUDIT_ACTIONS:
        raise InvalidValueError(
            f"unknown audit action {action!r}; allowed: {', '.join(sorted(AUDIT_ACTIONS))}. "
            "Add a new action to store.audit.AUDIT_ACTIONS with a description."
        )
    if not actor or not actor.strip():
        raise InvalidValueError("audit actor is empty; pass the username or a system actor name")
    at = at or dt.datetime.now(dt.UTC)
    if at.tzinfo is None:
        raise InvalidValueError(f"audit time {at!r} is naive; pass an aware datetime")
    try:
        # Round-trip through canonical JSON so the stored value is exactly what was hashed.
        masked = json.loads(canonical_json(mask_record(details or {})))
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"audit details for {action!r} are not JSON-serialisable: {exc}") from exc
    # Timestamps are stored to the microsecond on both backends; hash what will be read back.
    return _Checked(actor=actor, action=action, object=object, details=masked, at=at.astimezone(dt.UTC))


def _write(session: Session, checked: _Checked) -> AuditEvent:
    key = audit_key()
    last_seq, last_hash, last_mac = _lock_head(session)
    seq = last_seq + 1
    digest = event_hash(
        seq=seq,
        at=checked.at,
        actor=checked.actor,
        action=checked.action,
        object=checked.object,
        details=checked.details,
        prev_hash=last_hash,
    )
    mac = event_mac(key, hash=digest, prev_mac=last_mac)
    event = AuditEvent(
        seq=seq,
        at=checked.at,
        actor=checked.actor,
        action=checked.action,
        object=checked.object,
        details=checked.details,
        prev_hash=last_hash,
        hash=digest,
        mac=mac,
    )
    session.add(event)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=digest, mac=mac))
    session.flush()
    return event


def _write_pending(session: Session) -> None:
    pending: list[_Checked] = session.info.pop(_PENDING, [])
    for checked in pending:
        _write(session, checked)


def append_event_at_commit(
    session: Session,
    *,
    actor: str,
    action: str,
    object: str | None = None,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Append one event to the audit log when the caller's transaction commits, not now.

    For an event that is the only write of its transaction, or comes before its real work: a look
    at a confidential letter, before the step taken on it. Appending takes the audit head's lock,
    which every write of the office queues on until the transaction ends; taken at the start of a
    request, it would make everyone wait for the whole request. Here the event is checked and
    masked at once and keeps ``at`` (default: now) as the time it happened, but it is written, and
    the lock taken, only just before the commit, or before the next event the same transaction
    appends with :func:`append_event`, so that the log keeps the order of the calls. A transaction
    that rolls back drops it, as it would an event already written; a savepoint that rolls back
    does not, since the look it records happened all the same.

    Arguments and errors as :func:`append_event`.
    """
    session.info.setdefault(_PENDING, []).append(_checked(actor, action, object, details, at))


@sa_event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    if session.info.get(_PENDING):
        _write_pending(session)


@sa_event.listens_for(Session, "after_transaction_end")
def _drop_after_rollback(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended: committed (its events were written just before) or rolled back.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def append_event(
    session: Session,
    *,
    actor: str,
    action: str,
    object: str | None = None,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditEvent:
    """Append one event to the audit log in the caller's transaction.

    The event becomes visible when the transaction commits; if it rolls back the event never
    happened, and the chain has no gap because the head row rolled back with it.

    Args:
        session: the open session.
        actor: username, or a system actor such as ``"intake-batch"``.
        action: one of ``AUDIT_ACTIONS``.
        object: what the action was about, e.g. ``"letter:XF-2026-000123"``.
        details: JSON-serialisable facts; personal data in them is masked before storing.
        at: when it happened (aware datetime); defaults to now.

    Returns:
        The new ``AuditEvent`` (flushed, with its ``seq``, ``hash`` and ``mac``).

    Raises:
        InvalidValueError: unknown action, empty actor, or details that are not JSON.
    """
    checked = _checked(actor, action, object, details, at)
    _write_pending(session)  # events of this transaction waiting for its commit happened first
    return _write(session, checked)


# ---------------------------------------------------------------------------------------------
# verifying


_KEY_HINT = "XINFANG_AUDIT_KEY（或 XINFANG_AUDIT_KEY_FILE）"


def verify_chain(session: Session, *, key: bytes | None = None, batch_size: int = 1000) -> list[ChainProblem]:
    """Check every audit event against its hash, its MAC and its predecessor, and the head against
    the last event.

    Args:
        key: the audit key; the one this process was given (``store.audit_key``) when omitted.

    Returns:
        The problems found, in seq order; an empty list means the log is intact. A run of events
        whose MACs do not match is one problem naming the run.
    """
    key = key if key is not None else audit_key()
    problems: list[ChainProblem] = []
    expected_seq = 1
    prev_hash = GENESIS_HASH
    prev_mac = GENESIS_HASH
    macs_checked = macs_bad = 0
    bad_run: list[int] = []  # first and last seq of the current run of events whose MAC fails

    def close_run() -> None:
        if bad_run:
            first, last = bad_run[0], bad_run[-1]
            span = f"第 {first} 条" if first == last else f"第 {first}–{last} 条"
            problems.append(
                ChainProblem(
                    first,
                    f"{span}的密钥签名（MAC）不符：这些条目被改写并重新计算了哈希，"
                    f"或 {_KEY_HINT} 不是写入日志时的密钥",
                )
            )
            bad_run.clear()

    # Plain rows, not ORM objects: verification may read millions of events and must not fill the
    # caller's identity map.
    columns = [
        AuditEvent.__table__.c[name]
        for name in ("seq", "at", "actor", "action", "object", "details", "prev_hash", "hash", "mac")
    ]
    rows = session.execute(select(*columns).order_by(AuditEvent.seq).execution_options(yield_per=batch_size))
    for event in rows:
        if event.seq != expected_seq:
            problems.append(
                ChainProblem(
                    event.seq,
                    f"应为第 {expected_seq} 条，实为第 {event.seq} 条："
                    f"第 {expected_seq}–{event.seq - 1} 条缺失（被删除）",
                )
            )
        if event.prev_hash != prev_hash:
            problems.append(ChainProblem(event.seq, "所记前一条的哈希与前一条不符（链在此断开）"))
        recomputed = event_hash(
            seq=event.seq,
            at=event.at,
            actor=event.actor,
            action=event.action,
            object=event.object,
            details=event.details,
            prev_hash=event.prev_hash,
        )
        if recomputed != event.hash:
            problems.append(ChainProblem(event.seq, "内容与其哈希不符（该条被改动过）"))
        if event.mac is None:
            close_run()
            problems.append(
                ChainProblem(event.seq, "没有密钥签名（MAC）：该条不是本系统写入的，或签名被抹去")
            )
        else:
            macs_checked += 1
            # Over the stored hash: an edit that kept the old hash is reported above, one that
            # recomputed the hash is caught here, because only the key can make the MAC match.
            if not hmac.compare_digest(event_mac(key, hash=event.hash, prev_mac=prev_mac), event.mac):
                macs_bad += 1
                if bad_run:
                    bad_run[1:] = [event.seq]
                else:
                    bad_run.append(event.seq)
            else:
                close_run()
        expected_seq = event.seq + 1
        prev_hash = event.hash
        prev_mac = event.mac or GENESIS_HASH
    if macs_checked and macs_bad == macs_checked:
        bad_run.clear()
        problems.append(
            ChainProblem(
                1,
                f"没有一条的密钥签名（MAC）与所用密钥相符：{_KEY_HINT} 很可能不是写入日志时的密钥；"
                "若密钥无误，则整个日志被改写过",
            )
        )
    close_run()
    head = session.execute(
        select(AuditHead.seq, AuditHead.hash, AuditHead.mac).where(AuditHead.id == 1)
    ).one_or_none()
    last_seq = expected_seq - 1
    if head is None:
        if last_seq:
            problems.append(ChainProblem(last_seq, "链头记录（audit_head）缺失"))
    elif head.seq != last_seq or head.hash != prev_hash:
        problems.append(
            ChainProblem(
                head.seq,
                f"链头记录第 {head.seq} 条，最后一条却是第 {last_seq} 条：最新的条目被删除，或链头被改动",
            )
        )
    elif last_seq and head.mac != prev_mac:
        problems.append(ChainProblem(head.seq, "链头的密钥签名（MAC）与最后一条不符：链头被改动"))
    problems.sort(key=lambda p: p.seq)
    return problems


def mac_at(session: Session, seq: int) -> str | None:
    """The MAC stored with event ``seq`` (None when there is no such event), to compare with a
    checkpoint noted elsewhere: together they show whether the newest events were cut off."""
    return session.scalar(select(AuditEvent.mac).where(AuditEvent.seq == seq))


def head_checkpoint(session: Session) -> tuple[int, str]:
    """``(last seq, its MAC)``: note it outside the database; :func:`mac_at` checks it later."""
    row = session.execute(select(AuditHead.seq, AuditHead.mac).where(AuditHead.id == 1)).one_or_none()
    if row is None:
        return 0, GENESIS_HASH
    return int(row[0]), str(row[1] or GENESIS_HASH)


# ---------------------------------------------------------------------------------------------
# reading


def events_for(session: Session, object: str) -> list[AuditEvent]:
    """All events about ``object`` (e.g. ``"letter:XF-2026-000123"``), oldest first."""
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.object == object).order_by(AuditEvent.seq))
    )


@dataclass(frozen=True)
class AuditQuery:
    """What to look for in the audit log; every field left ``None`` matches everything.

    Attributes:
        actor: exactly this username or system actor.
        action: one of ``AUDIT_ACTIONS``.
        case_number: events about this letter, and those naming it (a split's new part, a merge).
        since, until: the first and last day, inclusive, on the calendar of China.
    """

    actor: str | None = None
    action: str | None = None
    case_number: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None


def search_events(
    session: Session, query: AuditQuery, *, limit: int = 100, offset: int = 0
) -> tuple[list[AuditEvent], int]:
    """Audit events matching ``query``, newest first, with how many match in all.

    Raises:
        InvalidValueError: an unknown action, a malformed case number, a period that ends before
            it starts, or a limit outside 1..1000.
    """
    from store.letters import CASE_NUMBER_RE, CHINA_TZ

    if not 1 <= limit <= 1000:
        raise InvalidValueError(f"每页条数应在 1 到 1000 之间，收到 {limit}")
    if offset < 0:
        raise InvalidValueError(f"起始位置不能为负数，收到 {offset}")
    conditions: list[Any] = []
    if query.actor:
        conditions.append(AuditEvent.actor == query.actor.strip())
    if query.action:
        if query.action not in AUDIT_ACTIONS:
            raise InvalidValueError(f"没有“{query.action}”这种操作；请从操作列表中选择")
        conditions.append(AuditEvent.action == query.action)
    if query.case_number:
        case_number = query.case_number.strip().upper()
        if not CASE_NUMBER_RE.match(case_number):
            raise InvalidValueError(f"“{query.case_number}”不是案件编号；案件编号形如 XF-2026-000123")
        # The number is checked above, so it holds no LIKE wildcard.
        conditions.append(
            or_(
                AuditEvent.object == f"letter:{case_number}",
                cast(AuditEvent.details, String).contains(f'"{case_number}"'),
            )
        )
    if query.since and query.until and query.until < query.since:
        raise InvalidValueError(
            f"时间段的结束日 {query.until.isoformat()} 早于开始日 {query.since.isoformat()}；请对调两者"
        )
    if query.since:
        conditions.append(AuditEvent.at >= dt.datetime.combine(query.since, dt.time(), CHINA_TZ))
    if query.until:
        end = dt.datetime.combine(query.until + dt.timedelta(days=1), dt.time(), CHINA_TZ)
        conditions.append(AuditEvent.at < end)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
    events = session.scalars(
        select(AuditEvent).where(*conditions).order_by(AuditEvent.seq.desc()).limit(limit).offset(offset)
    )
    return list(events), int(total)


def audit_actors(session: Session) -> list[str]:
    """Everyone who appears in the log, for the page's choice of person."""
    return list(session.scalars(select(AuditEvent.actor).distinct().order_by(AuditEvent.actor)))
