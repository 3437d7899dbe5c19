"""The case's life on the store: reading a case, taking a step on it, linking a later letter to it.

Functions take an open ``Session`` first and never commit: the caller owns the transaction, as in
``store.letters``. Every step appends its audit event in the same transaction, so a step without
its audit entry cannot exist.

Where a case's history lives:

- 登记 is the letter itself (its ``created_by``, ``created_at`` and day of receipt);
- 确定去向 is each of its decisions (``store.letters.decide``), with the decision's department as the
  body the route names;
- every other step is a row of ``case_events`` (append-only), whose ``after_decision_id`` places
  it among the decisions without trusting clocks.

:func:`replay <casework.states.replay>` of that history is the case; the ``cases`` row beside the
letter only caches what queues filter on (state, handling body, next due date, overdue count, open
escalation). A letter without that row has taken no step after its route and is ``decided`` or
``registered`` as its status says; that is how letters decided before migration 0007 start. After a
decision recorded by ``store.letters.decide`` directly, :func:`sync_case` brings the row up to date.

Concurrency: a step reads the history and judges the step first, then takes the audit head's lock
and bumps the letter's version from the one it read (``UPDATE … WHERE version = read``), so that
every other write of the office waits only for the step's writes, not for its reading. Two officers
acting on one case at once queue on those locks; the second one's version check fails, and it
reads again what the first did under the lock and is refused by the state (or, when it passes the
version it saw, by :class:`CaseChangedError`). The letter's version is also what
``store.letters.decide`` checks, so a decision taken on a page read before a step is refused too.

Who may act: the caller decides whether the user may open the letter at all. Here a role acts only
where :data:`casework.states.TRANSITIONS` lets it; a department handler only on cases its own
department handles; and only the roles that read accusations (科室负责人, 纪检监察人员) on a
confidential letter (``store.confidentiality``), so a handler never acts on an accusation, least of
all one against their own body.

Refusals are store errors with Chinese messages, so the web layer's mapping applies: an unknown
letter :class:`~store.errors.NotFoundError`, a role or department that may not act
:class:`~store.errors.NotAllowedError`, a malformed step :class:`~store.errors.InvalidValueError`,
a step the state or a statutory period does not allow :class:`CaseStepRefused` (an
``InvalidStateError``), a changed case :class:`CaseChangedError` (a ``ConflictError``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from casework.clocks import Clock, case_clocks
from casework.documents import DOCUMENT_KINDS, document_kind_for
from casework.errors import StepRefused
from casework.figures import figures_of
from casework.states import (
    CHINA_TZ,
    FIELD_NAMES,
    HANDLER,
    INSPECTOR,
    INTAKE,
    ROLE_NAMES,
    STATE_NAMES,
    STEP_NAMES,
    SUPERVISOR,
    TRANSITIONS,
    Case,
    CaseEvent,
    CaseState,
    RepeatRuling,
    Step,
    allowed_steps,
    apply,
    repeat_letter_ruling,
    replay,
)
from store._sql import insert_ignore
from store.audit import append_event, lock_audit_head
from store.confidentiality import is_confidential
from store.errors import (
    ConflictError,
    InvalidStateError,
    InvalidValueError,
    NotAllowedError,
    NotFoundError,
)
from store.letters import decide as record_decision
from store.models import (
    CaseDocument,
    CaseEventRecord,
    CaseRecord,
    Decision,
    Letter,
    Proposal,
    User,
)
from store.users import APPROVAL_ROLES

#: The roles that may act on a confidential letter: those that may read accusations
#: (``service.access.CONFIDENTIAL_READERS``, which a test keeps equal to ``store.users.APPROVAL_ROLES``).
CONFIDENTIAL_ACTORS: frozenset[str] = APPROVAL_ROLES
#: The roles that decide routes (``service.access.DECIDE_LETTERS``) and link a letter to an earlier case.
OFFICE_ROLES: frozenset[str] = frozenset({INTAKE, SUPERVISOR, INSPECTOR})
#: How far :func:`earlier_final_case` follows links from case to case.
MAX_LINK_DEPTH = 20
_CHUNK = 500

# ------------------------------------------------------------------------------------- errors


class CaseStepRefused(InvalidStateError):
    """A step the case's state, a statutory period or the route does not allow now.

    ``state`` and ``step`` are the codes involved; ``allowed`` lists the steps the state allows,
    so a page can offer them instead.
    """

    def __init__(
        self,
        message: str,
        *,
        state: CaseState | None = None,
        step: Step | None = None,
        allowed: tuple[Step, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.state = state
        self.step = step
        self.allowed = allowed


class CaseChangedError(ConflictError):
    """The case moved on since the officer read it (another step, a decision): reload and act again."""

    def __init__(
        self, letter_id: int, expected_version: int, current_version: int | None, case_number: str
    ) -> None:
        super().__init__(letter_id, expected_version, current_version)
        self.args = (
            f"{case_number} 已有他人办理（您看到的是第 {expected_version} 版，现为第 {current_version} 版）；"
            "请重新打开本件，按最新情况再办理",
        )


def _refused(exc: StepRefused, case_number: str | None = None) -> CaseStepRefused:
    where = f"{case_number}：" if case_number else ""
    return CaseStepRefused(
        f"{where}{exc.message}",
        state=CaseState(exc.state) if exc.state else None,
        step=Step(exc.step) if exc.step else None,
        allowed=tuple(Step(s) for s in exc.allowed),
    )


# ------------------------------------------------------------------------------------ helpers


def china_day(at: dt.datetime) -> dt.date:
    """The day ``at`` falls on in China, the calendar statutory periods count on."""
    return at.astimezone(CHINA_TZ).date()


def aware(now: dt.datetime | None) -> dt.datetime:
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidValueError(f"时间 {now!r} 未带时区；请传入带时区的时间（如 datetime.now(UTC)）")
    return now


def letter_row(session: Session, letter: Letter | int | str) -> Letter:
    """The letter given as a row, an id or a case number.

    Raises:
        NotFoundError: no such letter.
    """
    if isinstance(letter, Letter):
        return letter
    if isinstance(letter, str):
        row = session.scalar(select(Letter).where(Letter.case_number == letter.strip().upper()))
        if row is None:
            raise NotFoundError(f"没有案件编号为“{letter}”的信访事项")
        return row
    found = session.get(Letter, letter)
    if found is None:
        raise NotFoundError(f"信访事项（内部编号 {letter}）不存在，请核对后重试")
    return found


def acting_user(session: Session, user: User | str) -> User:
    """The account ``user`` names, as it stands now (role, department, active).

    Raises:
        NotFoundError: no such account.
        NotAllowedError: the account is deactivated.
    """
    username = user if isinstance(user, str) else user.username
    row = session.scalar(select(User).where(User.username == username))
    if row is None:
        raise NotFoundError(f"账户“{username}”不存在")
    if not row.active:
        raise NotAllowedError(f"账户“{username}”已停用，不能办理案件")
    return row


def _step(step: Step | str) -> Step:
    try:
        return Step(step)
    except ValueError:
        names = "、".join(f"{name}（{s.value}）" for s, name in STEP_NAMES.items())
        raise InvalidValueError(f"没有“{step}”这一办理步骤；可选：{names}") from None


def role_name(role: str) -> str:
    return ROLE_NAMES.get(role, role)


# ------------------------------------------------------------------------------------ history


@dataclass(frozen=True)
class History:
    """A letter's case history as stored (登记, decisions, stored steps, in order as ``events``),
    and the rows the rules about it read: the newest proposal and decision (confidentiality) and
    the ``cases`` row."""

    letter: Letter
    decisions: tuple[Decision, ...]
    rows: tuple[CaseEventRecord, ...]
    events: tuple[CaseEvent, ...]
    proposal: Proposal | None
    record: CaseRecord | None

    @property
    def decision(self) -> Decision | None:
        return self.decisions[-1] if self.decisions else None

    @property
    def confidential(self) -> bool:
        return is_confidential(self.proposal, self.decision)

    def case(self) -> Case:
        """The case the history leads to.

        Raises:
            InvalidStateError: the stored history does not hold together (a decision recorded
                where the case no longer allowed one).
        """
        try:
            return replay(self.events)
        except StepRefused as exc:
            raise InvalidStateError(
                f"{self.letter.case_number} 的办理记录不能依次成立（{exc.message}）；请联系系统管理员核对"
            ) from exc


def _register_event(letter: Letter) -> CaseEvent:
    # A letter from a batch was registered by the batch actor; the registrar's role is the intake
    # officer's in every case (登记 is theirs, 第十七条、第十九条).
    return CaseEvent(
        step=Step.register,
        actor=letter.created_by,
        role=INTAKE,
        at=letter.created_at,
        effective_on=letter.received_on,
    )


def _decide_event(decision: Decision, roles: Mapping[str, str]) -> CaseEvent:
    # Only the deciding roles record decisions; the decider's role now stands in for the one they
    # held then, and an account that has since left those roles counts as an intake officer's.
    role = roles.get(decision.decided_by, INTAKE)
    return CaseEvent(
        step=Step.decide,
        actor=decision.decided_by,
        role=role if role in OFFICE_ROLES else INTAKE,
        at=decision.decided_at,
        reason=decision.reason or "",
        channel=decision.channel,
        disposition=decision.disposition,
        body=decision.department,
    )


def _row_event(row: CaseEventRecord) -> CaseEvent:
    return CaseEvent(
        step=Step(row.step),
        actor=row.actor,
        role=row.role,
        at=row.recorded_at,
        reason=row.reason,
        effective_on=row.effective_on,
        actor_department=row.actor_department,
        **row.fields,
    )


def _events(
    letter: Letter,
    decisions: Sequence[Decision],
    rows: Sequence[CaseEventRecord],
    roles: Mapping[str, str],
) -> tuple[CaseEvent, ...]:
    """登记, then the decisions and the stored steps in the order they were taken."""
    events = [_register_event(letter)]
    pending = deque(decisions)
    for row in rows:
        while pending and row.after_decision_id is not None and pending[0].id <= row.after_decision_id:
            events.append(_decide_event(pending.popleft(), roles))
        events.append(_row_event(row))
    events.extend(_decide_event(d, roles) for d in pending)
    return tuple(events)


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def load_histories(session: Session, letter_ids: Iterable[int]) -> dict[int, History]:
    """The histories of several letters in a few queries (merged letters are left out)."""
    ids = sorted(set(letter_ids))
    letters: dict[int, Letter] = {}
    decisions: dict[int, list[Decision]] = defaultdict(list)
    rows: dict[int, list[CaseEventRecord]] = defaultdict(list)
    proposals: dict[int, Proposal] = {}
    records: dict[int, CaseRecord] = {}
    for chunk in _chunks(ids):
        for letter in session.scalars(select(Letter).where(Letter.id.in_(chunk), Letter.status != "merged")):
            letters[letter.id] = letter
        for decision in session.scalars(
            select(Decision).where(Decision.letter_id.in_(chunk)).order_by(Decision.letter_id, Decision.id)
        ):
            decisions[decision.letter_id].append(decision)
        for row in session.scalars(
            select(CaseEventRecord)
            .where(CaseEventRecord.letter_id.in_(chunk))
            .order_by(CaseEventRecord.letter_id, CaseEventRecord.seq)
        ):
            rows[row.letter_id].append(row)
        newest = (
            select(func.max(Proposal.id)).where(Proposal.letter_id.in_(chunk)).group_by(Proposal.letter_id)
        )
        for proposal in session.scalars(select(Proposal).where(Proposal.id.in_(newest))):
            proposals[proposal.letter_id] = proposal
        for record in session.scalars(select(CaseRecord).where(CaseRecord.letter_id.in_(chunk))):
            records[record.letter_id] = record
    deciders = sorted({d.decided_by for ds in decisions.values() for d in ds})
    roles: dict[str, str] = {}
    for start in range(0, len(deciders), _CHUNK):
        names = deciders[start : start + _CHUNK]
        for username, role in session.execute(
            select(User.username, User.role).where(User.username.in_(names))
        ):
            roles[username] = role
    return {
        letter_id: History(
            letter=letter,
            decisions=tuple(decisions[letter_id]),
            rows=tuple(rows[letter_id]),
            events=_events(letter, decisions[letter_id], rows[letter_id], roles),
            proposal=proposals.get(letter_id),
            record=records.get(letter_id),
        )
        for letter_id, letter in letters.items()
    }


def load_history(session: Session, letter: Letter) -> History:
    if letter.status == "merged":
        into = session.scalar(select(Letter.case_number).where(Letter.id == letter.merged_into_id))
        raise InvalidStateError(f"{letter.case_number} 已并入 {into}，请在该件中办理")
    return load_histories(session, [letter.id])[letter.id]


# ------------------------------------------------------------------------------- reading a case


@dataclass(frozen=True)
class CaseView:
    """A case as an officer sees it on ``today``: its state, every step, its clocks and what the
    user asked about may do next.

    ``version`` is the letter's version: pass it back as ``expected_version`` so that a step taken
    on a page read before someone else's step is refused. ``allowed`` is empty for a user who may
    not act on the case at all.
    """

    letter_id: int
    case_number: str
    version: int
    case: Case
    clocks: tuple[Clock, ...]
    allowed: tuple[Step, ...]
    confidential: bool
    today: dt.date
    linked_to: str | None = None

    @property
    def state(self) -> CaseState:
        return self.case.state

    @property
    def state_name(self) -> str:
        return self.case.state_name

    @property
    def handling_body(self) -> str | None:
        return self.case.handling_body

    @property
    def events(self) -> tuple[CaseEvent, ...]:
        return self.case.events

    @property
    def may_decide(self) -> bool:
        """Whether a route decision may be recorded now (before 转送/交办, or after a return):
        ``store.letters.decide`` must not be called on a case past that point."""
        return any(t.state == self.case.state and t.step == Step.decide for t in TRANSITIONS)


def _allowed_for(user: User | None, case: Case, confidential: bool) -> tuple[Step, ...]:
    if user is None:
        steps = allowed_steps(case)
    elif confidential and user.role not in CONFIDENTIAL_ACTORS:
        return ()
    else:
        steps = allowed_steps(case, user.role, department=user.department)
    return tuple(s for s in steps if s != Step.register)


def _linked_case_number(session: Session, history: History) -> str | None:
    linked = history.record.linked_to_id if history.record is not None else None
    if linked is None:
        return None
    return session.scalar(select(Letter.case_number).where(Letter.id == linked))


def _view_of(
    history: History, case: Case, user: User | None, today: dt.date, *, version: int, linked_to: str | None
) -> CaseView:
    return CaseView(
        letter_id=history.letter.id,
        case_number=history.letter.case_number,
        version=version,
        case=case,
        clocks=case_clocks(case.events, today),
        allowed=_allowed_for(user, case, history.confidential),
        confidential=history.confidential,
        today=today,
        linked_to=linked_to,
    )


def _view(session: Session, history: History, case: Case, user: User | None, today: dt.date) -> CaseView:
    version = session.scalar(select(Letter.version).where(Letter.id == history.letter.id)) or 0
    return _view_of(
        history, case, user, today, version=version, linked_to=_linked_case_number(session, history)
    )


def case_of(
    session: Session,
    letter: Letter | int | str,
    *,
    user: User | str | None = None,
    today: dt.date | None = None,
) -> CaseView:
    """The case of ``letter`` (a row, an id or a case number) with its clocks as on ``today``
    (default: today in China) and the steps ``user`` may take next (every step the state allows
    when no user is given).

    Raises:
        NotFoundError: no such letter or user.
        InvalidStateError: the letter was merged into another one.
    """
    row = letter_row(session, letter)
    history = load_history(session, row)
    actor = acting_user(session, user) if user is not None else None
    return _view(session, history, history.case(), actor, today or china_day(dt.datetime.now(dt.UTC)))


# ------------------------------------------------------------------------------ the cached row


def _summary(case: Case, clocks: Sequence[Clock]) -> dict[str, Any]:
    duties = [c for c in clocks if c.kind == "duty"]
    running = [c.due for c in duties if c.running]
    return {
        "state": case.state.value,
        "handling_body": case.handling_body,
        "next_due": min(running) if running else None,
        "late_count": sum(
            1 for c in duties if not c.running and c.closed_on is not None and c.closed_on > c.due
        ),
        "open_escalation": case.is_open and any(e.step == Step.escalate for e in case.events),
    }


def _store_record(
    session: Session,
    letter_id: int,
    case: Case,
    decision_id: int | None,
    now: dt.datetime,
    **extra: Any,
) -> None:
    """Write what the case comes to into its ``cases`` row, creating the row if needed."""
    values = {
        **_summary(case, case_clocks(case.events, china_day(now))),
        "decision_id": decision_id,
        "updated_at": now,
        **extra,
    }
    updating = (
        update(CaseRecord)
        .where(CaseRecord.letter_id == letter_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    # Every step after the first finds the row: one statement, under the audit head's lock.
    if session.execute(updating).rowcount == 0:  # type: ignore[attr-defined]
        row = {"letter_id": letter_id, **values}
        if session.execute(insert_ignore(session, CaseRecord, row, ["letter_id"])).rowcount == 0:  # type: ignore[attr-defined]
            session.execute(updating)  # another transaction made the row meanwhile
    loaded = session.identity_map.get(identity_key(CaseRecord, letter_id))
    if loaded is not None:
        session.expire(loaded)


def sync_case(session: Session, letter: Letter | int | str, *, now: dt.datetime | None = None) -> CaseView:
    """Bring the letter's ``cases`` row up to date with its history, and return the case.

    Steps taken here keep the row current by themselves; call this after recording a decision
    with ``store.letters.decide`` directly, in the same transaction.
    """
    now = aware(now)
    row = letter_row(session, letter)
    lock_audit_head(session)  # the steps' lock: the row is written from a history no step is changing
    history = load_history(session, row)
    case = history.case()
    decision = history.decision
    _store_record(session, row.id, case, decision.id if decision is not None else None, now)
    return _view(session, history, case, None, china_day(now))


# ------------------------------------------------------------------------------- taking a step


def _bump_version(session: Session, letter: Letter, expected_version: int | None) -> int:
    """Take the letter's row lock by raising its version; refuse when it is not ``expected_version``."""
    conditions = [Letter.id == letter.id, Letter.status != "merged"]
    if expected_version is not None:
        conditions.append(Letter.version == expected_version)
    new_version = session.execute(
        update(Letter)
        .where(*conditions)
        .values(version=Letter.version + 1)
        .returning(Letter.version)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    session.expire(letter, ["version", "status"])
    if new_version is None:
        found = session.execute(
            select(Letter.version, Letter.status, Letter.merged_into_id).where(Letter.id == letter.id)
        ).one()
        if found.status == "merged":
            into = session.scalar(select(Letter.case_number).where(Letter.id == found.merged_into_id))
            raise InvalidStateError(f"{letter.case_number} 已并入 {into}，请在该件中办理")
        raise CaseChangedError(letter.id, expected_version or 0, found.version, letter.case_number)
    return int(new_version)


def _check_actor(user: User, history: History, case: Case, step: Step) -> None:
    """Refuse ``user`` taking ``step`` on the case for who they are, before the state is judged.

    Raises:
        NotAllowedError: a confidential letter and a role that does not read accusations; a role
            the table never lets take the step, or not in this state; a department handler of
            another body.
    """
    number = history.letter.case_number
    if history.confidential and user.role not in CONFIDENTIAL_ACTORS:
        raise NotAllowedError(
            f"{number} 属检举控告等保密事项（第三十条第三款），{role_name(user.role)}不能办理；"
            "由科室负责人或纪检监察人员办理"
        )
    if user.role == HANDLER and (case.handling_body is None or user.department != case.handling_body):
        raise NotAllowedError(
            "承办单位人员只能办理本单位承办的案件"
            f"（{number} 的承办单位：{case.handling_body or '尚未转送、交办'}）"
        )
    rows = [t for t in TRANSITIONS if t.step == step]
    if not any(user.role in t.roles for t in rows):
        roles = sorted({r for t in rows for r in t.roles}, key=list(ROLE_NAMES).index)
        raise NotAllowedError(
            f"{role_name(user.role)}不能进行「{STEP_NAMES[step]}」；该步骤限："
            + "、".join(role_name(r) for r in roles)
        )
    here = next((t for t in rows if t.state == case.state), None)
    if here is not None and user.role not in here.roles:
        roles = sorted(here.roles, key=list(ROLE_NAMES).index)
        raise NotAllowedError(
            f"案件处于「{case.state_name}」时，{role_name(user.role)}不能进行「{STEP_NAMES[step]}」；"
            "此时该步骤限：" + "、".join(role_name(r) for r in roles)
        )


_ERROR_TYPES: dict[str, str] = {
    "date_from_datetime_parsing": "应为日期，如 2026-10-09",
    "date_parsing": "应为日期，如 2026-10-09",
    "date_type": "应为日期，如 2026-10-09",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "string_type": "应为文字",
    "tuple_type": "应为名单（可填多项）",
    "enum": "不是可选的值",
}


def _validation_message(step: Step, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        if error["type"] == "value_error":
            problems.append(str(error["msg"]).removeprefix("Value error, "))
            continue
        field = str(error["loc"][0]) if error["loc"] else ""
        label = FIELD_NAMES.get(field, field)
        problems.append(f"「{label}」{_ERROR_TYPES.get(error['type'], '格式有误')}")
    return f"「{STEP_NAMES[step]}」填写有误：" + "；".join(problems)


def build_event(step: Step, fields: Mapping[str, Any], user: User, at: dt.datetime) -> CaseEvent:
    """The event ``user`` records at ``at`` with the step's ``fields`` (reason, effective_on and
    the particulars of :data:`casework.states.FIELD_NAMES`; ``None`` means not given).

    Raises:
        InvalidValueError: an unknown field, or a field the step requires, refuses or cannot read
            (the messages of ``CaseEvent``, in Chinese).
    """
    unknown = sorted(set(fields) - set(FIELD_NAMES))
    if unknown:
        raise InvalidValueError(
            f"「{STEP_NAMES[step]}」没有这些栏目：{'、'.join(unknown)}；可填写："
            + "、".join(f"{label}（{name}）" for name, label in FIELD_NAMES.items())
        )
    given = {name: value for name, value in fields.items() if value is not None}
    try:
        return CaseEvent(
            step=step,
            actor=user.username,
            role=user.role,
            actor_department=user.department,
            at=at,
            **given,
        )
    except ValidationError as exc:
        raise InvalidValueError(_validation_message(step, exc)) from None


def _check_route_body(case: Case, step: Step, fields: dict[str, Any]) -> None:
    """A 转送/交办 goes to the department the route decided, which is also the department whose
    handlers may then open the letter; by default it goes there."""
    if step not in (Step.transfer, Step.assign):
        return
    body = fields.get("body")
    if body is None or not str(body).strip():
        fields["body"] = case.target_body
    elif case.target_body is not None and str(body).strip() != case.target_body:
        raise InvalidValueError(
            f"{STEP_NAMES[step]}的单位「{body}」与确定去向的承办部门「{case.target_body}」不一致；"
            "如需改送，请先改定去向"
        )


def _check_document_no(session: Session, letter: Letter, case: Case, event: CaseEvent) -> None:
    """A 文号 issued here must be this case's, and of the kind the step sends."""
    if not event.document_no:
        return
    document = session.scalar(select(CaseDocument).where(CaseDocument.number == event.document_no.strip()))
    if document is None:
        return  # a document issued on paper, outside the system
    if document.letter_id != letter.id:
        other = session.scalar(select(Letter.case_number).where(Letter.id == document.letter_id))
        raise InvalidValueError(
            f"文号「{event.document_no}」是 {other} 的文书，不能用于 {letter.case_number}"
        )
    wanted = document_kind_for(event.step, case.channel)
    if wanted is not None and document.kind != wanted:
        raise InvalidValueError(
            f"文号「{event.document_no}」是{DOCUMENT_KINDS.get(document.kind, document.kind)}；"
            f"「{event.step_name}」应附{DOCUMENT_KINDS[wanted]}"
        )


@dataclass(frozen=True)
class _Judged:
    """A step judged on the case's history: the history, the case before and after, the event."""

    history: History
    before: Case
    event: CaseEvent
    after: Case


def _judge(
    session: Session, actor: User, row: Letter, step: Step, values: Mapping[str, Any], now: dt.datetime
) -> _Judged:
    """Replay the case and judge ``actor`` taking ``step`` with ``values`` on it (no writes).

    Raises:
        NotAllowedError, InvalidValueError, CaseStepRefused: as :func:`take_step`.
    """
    history = load_history(session, row)
    before = history.case()
    _check_actor(actor, history, before, step)
    fields = dict(values)
    _check_route_body(before, step, fields)
    event = build_event(step, fields, actor, now)
    try:
        after = apply(before, event)
    except StepRefused as exc:
        raise _refused(exc, row.case_number) from None
    return _Judged(history, before, event, after)


def _bump_version_from(session: Session, letter: Letter, seen: int) -> int | None:
    """Raise the letter's version from ``seen`` (taking its row lock); ``None`` when it is no longer
    ``seen`` or the letter was merged meanwhile."""
    new_version = session.execute(
        update(Letter)
        .where(Letter.id == letter.id, Letter.version == seen, Letter.status != "merged")
        .values(version=Letter.version + 1)
        .returning(Letter.version)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    session.expire(letter, ["version", "status"])
    return None if new_version is None else int(new_version)


_AUDITED_PARTICULARS = ("channel", "disposition", "body", "due_on", "days", "basis", "document_no", "rating")


def _audit_details(event: CaseEvent, before: Case, after: Case, seq: int, letter_id: int) -> dict[str, Any]:
    # Free text (reasons, minutes, measures, names of participants) may name people and is not
    # logged (store.masking); the case history keeps it.
    details: dict[str, Any] = {
        "letter_id": letter_id,
        "seq": seq,
        "step": event.step.value,
        "from_state": before.state.value,
        "to_state": after.state.value,
    }
    if event.effective_on is not None:
        details["effective_on"] = event.effective_on.isoformat()
    for name in _AUDITED_PARTICULARS:
        value = getattr(event, name)
        if value is not None:
            details[name] = value.isoformat() if isinstance(value, dt.date) else str(value)
    return details


def take_step(
    session: Session,
    user: User | str,
    letter: Letter | int | str,
    step: Step | str,
    fields: Mapping[str, Any] | None = None,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
    department_codes: Collection[str] | None = None,
) -> CaseView:
    """``user`` takes ``step`` on the case of ``letter`` at ``now`` (default: now).

    ``fields`` are the step's reason, its date (``effective_on``) and particulars, as
    :data:`casework.states.STEP_SPECS` asks for them. A 转送/交办 goes to the department the route
    decided unless ``body`` says otherwise (which is refused). 确定去向 (``decide``: ``channel``,
    ``disposition``, ``body`` for the department, optionally ``category`` and ``domain``) is
    recorded as a decision through ``store.letters.decide``, which ``department_codes`` checks the
    department against; a new route after a return is such a decision and needs a reason.

    On success the step is stored, the ``cases`` row updated and the audit event appended, in the
    caller's transaction. A refusal leaves that transaction as it was.

    Returns:
        The case after the step, with its clocks as on the day of ``now``.

    Raises:
        NotFoundError: no such letter or user.
        NotAllowedError: the user may not take this step on this case (a confidential letter and a role
            that does not read accusations, a role the table does not let take it, a handler of
            another body),
            or their account is deactivated.
        InvalidValueError: the fields are incomplete or malformed, name a body other than the
            route's, or cite a 文号 of another case or kind.
        CaseStepRefused: the state, the route or a statutory period does not allow the step now.
        CaseChangedError: ``expected_version`` is given and the case moved on since.
        InvalidStateError: the letter was merged into another one.
    """
    now = aware(now)
    step = _step(step)
    actor = acting_user(session, user)
    row = letter_row(session, letter)
    values = dict(fields or {})
    if step == Step.register:
        raise CaseStepRefused(
            f"{row.case_number} 已于登记信访事项时登记；登记不作为案件步骤另行记录",
            state=None,
            step=step,
        )
    if step == Step.decide:
        return _decide(session, actor, row, values, expected_version, now, department_codes)
    # The case is read and the step judged before the audit head's lock, which every write of the
    # office queues on: under it, the letter's version shows whether the case is still the one
    # judged, and only the writes are left. The version is read before the history, so a change
    # committed in between makes the version check fail rather than pass on a history it missed.
    seen = row.version
    judged = _judge(session, actor, row, step, values, now) if expected_version in (None, seen) else None
    lock_audit_head(session)  # lock order: audit head, then the letter row
    with session.begin_nested():  # a refused step leaves the caller's transaction as it was
        if judged is None or (version := _bump_version_from(session, row, seen)) is None:
            # changed since it was read, or the officer's page is older: judged under the lock
            if judged is not None:
                session.expire_all()  # rows read before the change are stale in this session
            version = _bump_version(session, row, expected_version)
            judged = _judge(session, actor, row, step, values, now)
        history, before, event, after = judged.history, judged.before, judged.event, judged.after
        _check_document_no(session, row, before, event)
        seq = len(history.rows) + 1
        decision = history.decision
        record = CaseEventRecord(
            letter_id=row.id,
            seq=seq,
            step=step.value,
            actor=actor.username,
            role=actor.role,
            actor_department=actor.department,
            recorded_at=now,
            effective_on=event.effective_on,
            reason=event.reason,
            fields=_particulars(event),
            after_decision_id=decision.id if decision is not None else None,
        )
        session.add(record)
        session.flush()
        linked_to = _linked_case_number(session, history)
        # the statistics' figures change only when a step is stored, so only here
        _store_record(
            session,
            row.id,
            after,
            decision.id if decision is not None else None,
            now,
            **figures_of((*history.rows, record)),
        )
        append_event(
            session,
            actor=actor.username,
            action="case_step",
            object=f"letter:{row.case_number}",
            details={**_audit_details(event, before, after, seq, row.id), "event_id": record.id},
            at=now,
        )
    # From what is in hand: reading the case again would keep every other write waiting longer.
    return _view_of(history, after, actor, china_day(now), version=version, linked_to=linked_to)


def _particulars(event: CaseEvent) -> dict[str, Any]:
    names = set(FIELD_NAMES) - {"reason", "effective_on"}
    return event.model_dump(mode="json", include=names, exclude_defaults=True)


def _decide(
    session: Session,
    actor: User,
    letter: Letter,
    fields: dict[str, Any],
    expected_version: int | None,
    now: dt.datetime,
    department_codes: Collection[str] | None,
) -> CaseView:
    category = fields.pop("category", None)
    domain = fields.pop("domain", None)
    lock_audit_head(session)
    current = session.execute(select(Letter.version, Letter.status).where(Letter.id == letter.id)).one()
    history = load_history(session, letter)
    if expected_version is not None and current.version != expected_version:
        raise CaseChangedError(letter.id, expected_version, current.version, letter.case_number)
    before = history.case()
    _check_actor(actor, history, before, Step.decide)
    previous = history.decision
    proposal = history.proposal
    route = previous or proposal
    if route is None:
        raise InvalidValueError(f"{letter.case_number} 还没有办理建议，请先生成办理建议再确定去向")
    fields.setdefault("body", route.department)
    event = build_event(Step.decide, fields, actor, now)
    try:
        apply(before, event)
    except StepRefused as exc:
        raise _refused(exc, letter.case_number) from None
    assert event.channel is not None and event.disposition is not None and event.body is not None
    decision = record_decision(
        session,
        letter.id,
        expected_version=current.version,
        decided_by=actor.username,
        category=category or route.category,
        domain=domain or route.domain,
        department=event.body,
        channel=event.channel,
        disposition=event.disposition,
        reason=event.reason or None,
        department_codes=department_codes,
        now=now,
    )
    session.expire(letter, ["version", "status"])
    history = load_history(session, letter)
    after = history.case()
    _store_record(session, letter.id, after, decision.id, now)
    return _view(session, history, after, actor, china_day(now))


# ------------------------------------------------------------------------ the same matter again


@dataclass(frozen=True)
class EarlierCase:
    """An earlier case on the same matter that is final after 复核, and what a later letter gets.

    ``final_on`` is the day of the 复核意见; ``ruling`` the 不再受理 the later letter is proposed
    (第三十六条第三款), with its basis and reason to cite.
    """

    letter_id: int
    case_number: str
    received_on: dt.date
    final_on: dt.date
    ruling: RepeatRuling


@dataclass(frozen=True)
class CaseLink:
    """A letter linked by an officer to an earlier case as the same matter (or unlinked)."""

    case_number: str
    earlier_case_number: str | None
    linked_by: str
    linked_at: dt.datetime
    reason: str | None
    earlier_final: EarlierCase | None
    #: The earlier case's ruling on this letter, final or pending (``earlier_ruling_case``).
    earlier_ruling: EarlierRuling | None = None


@dataclass(frozen=True)
class EarlierRuling:
    """The earlier case a linked letter's ruling follows from: final after 复核 (不再受理,
    第三十六条第三款) or accepted and handled within its time limit (不予受理, 第十九条第三款)."""

    letter_id: int
    case_number: str
    received_on: dt.date
    state: CaseState
    ruling: RepeatRuling

    @property
    def state_name(self) -> str:
        return STATE_NAMES[self.state]


def _linked_ruling(
    session: Session, row: Letter, on: dt.date | None
) -> tuple[History, Case, RepeatRuling] | None:
    # Links are followed from case to case (a later letter may be linked to one that was itself
    # linked), up to MAX_LINK_DEPTH; the first case that decides the later letter is the one cited.
    seen = {row.id}
    linked = session.scalar(select(CaseRecord.linked_to_id).where(CaseRecord.letter_id == row.id))
    while linked is not None and linked not in seen and len(seen) <= MAX_LINK_DEPTH:
        seen.add(linked)
        histories = load_histories(session, [linked])
        history = histories.get(linked)
        if history is None:  # merged since: its matter continues in the letter it went into
            linked = session.scalar(select(Letter.merged_into_id).where(Letter.id == linked))
            continue
        case = history.case()
        ruling = repeat_letter_ruling(case, on)
        if ruling is not None:
            return history, case, ruling
        linked = history.record.linked_to_id if history.record is not None else None
    return None


def earlier_final_case(session: Session, letter: Letter | int | str) -> EarlierCase | None:
    """The earlier case final after 复核 that ``letter`` was linked to as the same matter, or ``None``.

    Links are followed from case to case (a later letter may be linked to one that was itself
    linked), up to :data:`MAX_LINK_DEPTH`; the first final case found is the one cited.
    """
    found = _linked_ruling(session, letter_row(session, letter), None)
    if found is None:
        return None
    history, case, ruling = found
    return EarlierCase(
        letter_id=history.letter.id,
        case_number=history.letter.case_number,
        received_on=case.received_on,
        final_on=case.entered_on,
        ruling=ruling,
    )


def earlier_ruling_case(session: Session, letter: Letter | int | str) -> EarlierRuling | None:
    """The earlier case whose state decides ``letter``, which an officer linked to it as the same
    matter: final after 复核 (不再受理), or accepted and still handled within its time limit on the
    day ``letter`` was received (不予受理, 第十九条第三款); ``None`` when neither.
    """
    row = letter_row(session, letter)
    found = _linked_ruling(session, row, row.received_on)
    if found is None:
        return None
    history, case, ruling = found
    return EarlierRuling(
        letter_id=history.letter.id,
        case_number=history.letter.case_number,
        received_on=case.received_on,
        state=case.state,
        ruling=ruling,
    )


def link_same_matter(
    session: Session,
    user: User | str,
    letter: Letter | int | str,
    earlier: Letter | int | str | None,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> CaseLink:
    """Record that ``letter`` raises the same matter as the earlier case ``earlier`` (``None``
    removes the link). Audited; the letter's version goes up, since its route may now differ.

    Raises:
        NotFoundError: no such letter, earlier case or user.
        NotAllowedError: the user does not decide routes, or may not act on a confidential letter.
        InvalidValueError: no reason, the letter itself, a case received after the letter, or a
            link that would lead back to the letter.
        InvalidStateError: either letter was merged into another one.
        CaseChangedError: ``expected_version`` is given and the letter changed since.
    """
    now = aware(now)
    actor = acting_user(session, user)
    row = letter_row(session, letter)
    if actor.role not in OFFICE_ROLES:
        raise NotAllowedError(
            f"{role_name(actor.role)}不能关联同一信访事项；限："
            + "、".join(role_name(r) for r in ROLE_NAMES if r in OFFICE_ROLES)
        )
    reason = (reason or "").strip() or None
    target = letter_row(session, earlier) if earlier is not None else None
    lock_audit_head(session)
    with session.begin_nested():
        _bump_version(session, row, expected_version)
        history = load_history(session, row)
        case = history.case()
        checks = [history]
        if target is not None:
            if target.id == row.id:
                raise InvalidValueError(f"{row.case_number} 不能与自身关联")
            if reason is None:
                raise InvalidValueError("关联同一信访事项须填写理由（如：同一事实和理由）")
            if target.received_on > row.received_on:
                raise InvalidValueError(
                    f"{target.case_number} 收到于 {target.received_on.isoformat()}，晚于 {row.case_number}"
                    f"（{row.received_on.isoformat()}）；只能关联在先的信访事项"
                )
            earlier_history = load_history(session, target)
            checks.append(earlier_history)
            if _links_back(session, target.id, row.id):
                raise InvalidValueError(
                    f"{target.case_number} 已（间接）关联到 {row.case_number}，不能再反向关联"
                )
        for checked in checks:
            if checked.confidential and actor.role not in CONFIDENTIAL_ACTORS:
                raise NotAllowedError(
                    f"{checked.letter.case_number} 属检举控告等保密事项，{role_name(actor.role)}不能关联"
                )
        decision = history.decision
        _store_record(
            session,
            row.id,
            case,
            decision.id if decision is not None else None,
            now,
            linked_to_id=target.id if target is not None else None,
            linked_by=actor.username,
            linked_at=now,
            link_reason=reason,
        )
        append_event(
            session,
            actor=actor.username,
            action="case_linked",
            object=f"letter:{row.case_number}",
            details={
                "letter_id": row.id,
                "earlier": target.case_number if target is not None else None,
                "earlier_letter_id": target.id if target is not None else None,
            },
            at=now,
        )
    return CaseLink(
        case_number=row.case_number,
        earlier_case_number=target.case_number if target is not None else None,
        linked_by=actor.username,
        linked_at=now,
        reason=reason,
        earlier_final=earlier_final_case(session, row) if target is not None else None,
        earlier_ruling=earlier_ruling_case(session, row) if target is not None else None,
    )


def _links_back(session: Session, start: int, letter_id: int) -> bool:
    seen: set[int] = set()
    current: int | None = start
    while current is not None and current not in seen and len(seen) <= MAX_LINK_DEPTH:
        if current == letter_id:
            return True
        seen.add(current)
        current = session.scalar(select(CaseRecord.linked_to_id).where(CaseRecord.letter_id == current))
    return False


__all__ = [
    "CONFIDENTIAL_ACTORS",
    "MAX_LINK_DEPTH",
    "OFFICE_ROLES",
    "CaseChangedError",
    "CaseLink",
    "CaseStepRefused",
    "CaseView",
    "EarlierCase",
    "EarlierRuling",
    "History",
    "acting_user",
    "aware",
    "build_event",
    "case_of",
    "china_day",
    "earlier_final_case",
    "earlier_ruling_case",
    "letter_row",
    "link_same_matter",
    "load_histories",
    "load_history",
    "role_name",
    "sync_case",
    "take_step",
]
