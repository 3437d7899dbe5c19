"""Letters, proposals and decisions: registering a letter, storing proposals, deciding, the queue.

Functions take an open ``Session`` first and never commit: the caller owns the transaction
(``store.db.session_scope``). Registering a letter and deciding also append their audit event in
the same transaction, so a decision without its audit entry cannot exist.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, case, false, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from routing.codes import (
    CATEGORY_NAMES,
    CHANNEL_NAMES,
    DISPOSITION_NAMES,
    DOMAINS,
    Category,
    Channel,
    Disposition,
)
from routing.schemas import RouteProposal
from store._sql import insert_ignore
from store.audit import append_event, lock_audit_head
from store.errors import (
    ConflictError,
    DuplicateError,
    InvalidStateError,
    InvalidValueError,
    NotFoundError,
    ReasonRequiredError,
)
from store.models import (
    DECISION_FIELDS,
    FORMS,
    LETTER_STATUSES,
    SOURCES,
    CaseCounter,
    Decision,
    Letter,
    Proposal,
    User,
)
from store.repeats import index_letter
from store.routes import KEPT_COLUMNS, after_proposal, route_of

# China Standard Time has had no daylight saving since 1991: a fixed offset is exact and needs no tzdata.
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), name="CST")
CASE_NUMBER_PREFIX = "XF"
CASE_NUMBER_RE = re.compile(r"^XF-(\d{4})-(\d{6,})$")
# A case number's digits are drawn at random from at least this many per year (see _next_case_number).
CASE_NUMBER_SPACE = 999_999
# The earliest day of receipt a letter may carry. The office's records do not go further back, and
# an earlier date is a typing slip (0001, 1026) that would start the statutory clocks centuries ago.
EARLIEST_RECEIVED_ON = dt.date(1990, 1, 1)
#: The anonymised place names letters use: a county-level unit (A3区, A7县) and a city (A市).
COUNTY_RE = re.compile(r"[A-Z][0-9]+[区县]")
CITY_RE = re.compile(r"[A-Z]市")
_ID_NUMBER_RE = re.compile(r"^(\d{17}[\dX]|\d{15})$")
_PHONE_RE = re.compile(r"^\+?[\d\- ()]{5,30}$")
_ALLOWED: dict[str, Collection[str]] = {
    "category": tuple(Category),
    "channel": tuple(Channel),
    "disposition": tuple(Disposition),
    "domain": DOMAINS,
}
# Officers read these messages on the pages and in the CLI: fields and values by their Chinese
# names; a value's code follows its name only where an API caller has to send that code.
FIELD_LABELS: dict[str, str] = {
    "form": "来信形式",
    "source": "来源",
    "status": "状态",
    "category": "类别",
    "domain": "领域",
    "department": "承办部门",
    "channel": "处理途径",
    "disposition": "处理方式",
    "received_on": "收到日期",
    "visitors": "来访人数",
    "title": "标题",
    "text": "正文",
    "id_number": "身份证号码",
    "contact_phone": "联系电话",
    "petitioner_name": "信访人姓名",
    "petitioner_organisation": "信访人单位",
    "address": "住址",
    "request": "信访请求",
    "facts": "事实",
    "reasons": "理由",
    "reason": "理由",
    "comment": "备注",
}
VALUE_NAMES: dict[str, dict[str, str]] = {
    "form": {"letter": "来信", "online": "网上信访", "visit": "来访", "call": "来电"},
    "source": {"manual": "人工登记", "batch": "批量录入"},
    "status": {"pending": "待处理", "decided": "已确认", "merged": "已合并"},
    "category": CATEGORY_NAMES,
    "channel": CHANNEL_NAMES,
    "disposition": DISPOSITION_NAMES,
}


def _label(name: str) -> str:
    return FIELD_LABELS.get(name, name)


def value_name(name: str, value: str, department_names: dict[str, str] | None = None) -> str:
    """``value`` of field ``name`` as an officer knows it: 城市管理局, not ``urban_management``."""
    names = (department_names or {}) if name == "department" else VALUE_NAMES.get(name, {})
    return names.get(value, value)


def received_on_too_early(day: dt.date, field: str = "收到日期") -> str:
    """The message refusing a day before :data:`EARLIEST_RECEIVED_ON` (``field`` names it, or is
    empty for a message its caller prefixes)."""
    subject = f"{field} {day.isoformat()}" if field else day.isoformat()
    return f"{subject} 早于 {EARLIEST_RECEIVED_ON.isoformat()}，请核对年份"


def china_today() -> dt.date:
    """Today's date in China, the calendar that statutory deadlines and case numbers follow."""
    return dt.datetime.now(CHINA_TZ).date()


def format_case_number(year: int, number: int) -> str:
    """``format_case_number(2026, 123) == "XF-2026-000123"``."""
    return f"{CASE_NUMBER_PREFIX}-{year:04d}-{number:06d}"


def _next_case_number(session: Session, year: int) -> str:
    """A case number of ``year`` that no letter has, drawn at random.

    A number says which year the letter was registered in and nothing more. Sequential numbers
    would tell anyone who sees a few letters how many the office registered between them, and so,
    by the gaps, how many letters (accusations above all) their role may not open; random ones do
    not. The year's counter still counts the letters (the office's statistics) and its row lock
    makes registrations of one year queue, so the check for a free number below cannot race. The
    numbers are drawn from ten times as many as the year has letters (at least 999,999), so a draw
    is free nine times in ten or more.
    """
    session.execute(insert_ignore(session, CaseCounter, {"year": year, "last_number": 0}, ["year"]))
    # The UPDATE takes the row lock: a concurrent registration of the year waits for this
    # transaction, then sees the number it took.
    count = session.execute(
        update(CaseCounter)
        .where(CaseCounter.year == year)
        .values(last_number=CaseCounter.last_number + 1)
        .returning(CaseCounter.last_number)
    ).scalar_one()
    space = max(CASE_NUMBER_SPACE, 10 * count)
    for _ in range(64):
        candidate = format_case_number(year, _draw(space))
        if session.scalar(select(Letter.id).where(Letter.case_number == candidate)) is None:
            return candidate
    # 64 taken draws in a row at nine in ten free: the random source is broken, not unlucky.
    raise RuntimeError(f"no free case number of {year} found in 64 draws; check the random source")


def _draw(space: int) -> int:
    """A number from 1 to ``space``, unpredictable (``secrets``), so numbers cannot be guessed either."""
    return 1 + secrets.randbelow(space)


def _clean_optional(name: str, value: str | None, max_len: int | None = None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if max_len is not None and len(value) > max_len:
        raise InvalidValueError(f"{_label(name)}有 {len(value)} 字，最多 {max_len} 字，请删减后再提交")
    return value


def _check_choice(name: str, value: str, allowed: Collection[str]) -> str:
    if value not in allowed:
        names = dict(allowed) if isinstance(allowed, Mapping) else VALUE_NAMES.get(name, {})
        choices = "、".join(f"{names[a]}（{a}）" if a in names else str(a) for a in allowed)
        raise InvalidValueError(f"{_label(name)}“{value}”不是可选的值；可选：{choices}")
    return value


def _first_match(pattern: re.Pattern[str], title: str | None, text: str | None) -> str | None:
    found = pattern.search(title or "") or pattern.search(text or "")
    return found.group(0) if found else None


def named_places(title: str | None, text: str | None) -> tuple[str | None, str | None]:
    """(the first county-level unit, the first city) a letter names, each looked for in its title,
    else in its text; None where it names none. Kept on the letter as ``named_county`` and
    ``named_city`` whenever its title or text is written."""
    return _first_match(COUNTY_RE, title, text), _first_match(CITY_RE, title, text)


def create_letter(
    session: Session,
    *,
    title: str,
    text: str,
    created_by: str,
    form: str = "letter",
    received_on: dt.date | None = None,
    visitors: int | None = None,
    petitioner_name: str | None = None,
    petitioner_organisation: str | None = None,
    address: str | None = None,
    contact_phone: str | None = None,
    id_number: str | None = None,
    request: str | None = None,
    facts: str | None = None,
    reasons: str | None = None,
    source: str = "manual",
    source_file_id: int | None = None,
    source_part: int | None = None,
    now: dt.datetime | None = None,
) -> Letter:
    """Register a letter and give it a case number of the year (一事一码, ``XF-2026-583920``).

    Args:
        session: the open session.
        title: the letter's title (may be empty for scans without one).
        text: the letter's text.
        created_by: username of the registering officer, or the batch actor.
        form: ``letter`` 来信, ``online`` 网上信访, ``visit`` 来访 or ``call`` 来电.
        received_on: the day the letter arrived (starts the statutory clocks); defaults to today in China.
        visitors: number of people in a visit.
        petitioner_name, petitioner_organisation, address, contact_phone, id_number, request, facts,
            reasons: the particulars of 条例 第十九条; all optional.
        source: ``manual`` (typed in by an officer) or ``batch`` (scanned-file triage).
        source_file_id: the ``SourceFile`` the letter was read from.
        source_part: position of the letter within that file (0 for the first); a file's part is
            registered once, which makes reprocessing idempotent.
        now: registration time (aware); defaults to now. Its date in China gives the case-number year.

    Returns:
        The new ``Letter`` (flushed; status ``pending``, version 1).

    Raises:
        InvalidValueError: a field is not allowed (the message names it and the allowed values).
        DuplicateError: this part of this source file is already registered.
        NotFoundError: ``source_file_id`` names no source file.
    """
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise InvalidValueError(f"registration time {now!r} is naive; pass an aware datetime")
    today = now.astimezone(CHINA_TZ).date()
    _check_choice("form", form, FORMS)
    _check_choice("source", source, SOURCES)
    if received_on is None:
        received_on = today
    elif received_on > today:
        raise InvalidValueError(f"收到日期 {received_on} 晚于今天（{today}），请核对日期")
    elif received_on < EARLIEST_RECEIVED_ON:
        raise InvalidValueError(received_on_too_early(received_on))
    if visitors is not None and visitors < 1:
        raise InvalidValueError(f"来访人数至少为 1，收到的是 {visitors}；人数不明时请留空")
    if len(title) > 500:
        raise InvalidValueError(f"标题有 {len(title)} 字，最多 500 字，请删减后再提交")
    if not created_by or not created_by.strip():
        raise InvalidValueError(
            "created_by is empty; pass the registering officer's username or the batch actor"
        )
    id_number = _clean_optional("id_number", id_number)
    if id_number is not None:
        id_number = id_number.upper()
        if not _ID_NUMBER_RE.match(id_number):
            raise InvalidValueError(
                f"身份证号码“{id_number}”不是居民身份证号码：应为 18 位（17 位数字加 1 位数字或 X）"
                "或 15 位数字；来信未写明时请留空"
            )
    contact_phone = _clean_optional("contact_phone", contact_phone, 40)
    if contact_phone is not None and not _PHONE_RE.match(contact_phone):
        raise InvalidValueError(f"联系电话“{contact_phone}”不是电话号码：只能用数字、空格、“-”、“+”或括号")
    if source_part is not None and source_file_id is None:
        raise InvalidValueError("source_part is set but source_file_id is not; pass both or neither")
    if source_file_id is not None and source_part is None:
        source_part = 0

    if source_file_id is not None:
        from store.models import SourceFile

        if session.get(SourceFile, source_file_id) is None:
            raise NotFoundError(
                f"source file {source_file_id} does not exist; record it first (record_source_file)"
            )
        existing = session.scalar(
            select(Letter.case_number).where(
                Letter.source_file_id == source_file_id, Letter.source_part == source_part
            )
        )
        if existing is not None:
            raise DuplicateError(
                f"part {source_part} of source file {source_file_id} is already registered as {existing}; "
                "a reprocessed file must not register its letters again"
            )

    county, city = named_places(title, text)
    letter = Letter(
        title=title,
        text=text,
        named_county=county,
        named_city=city,
        form=form,
        received_on=received_on,
        visitors=visitors,
        petitioner_name=_clean_optional("petitioner_name", petitioner_name, 200),
        petitioner_organisation=_clean_optional("petitioner_organisation", petitioner_organisation, 300),
        address=_clean_optional("address", address, 500),
        contact_phone=contact_phone,
        id_number=id_number,
        request=_clean_optional("request", request),
        facts=_clean_optional("facts", facts),
        reasons=_clean_optional("reasons", reasons),
        source=source,
        source_file_id=source_file_id,
        source_part=source_part,
        created_by=created_by,
        created_at=now,
        status="pending",
        version=1,
    )
    lock_audit_head(session)  # lock order: audit head, then the case counter
    try:
        # A savepoint keeps the caller's transaction usable if a concurrent reprocessing of the same
        # file wins the race to the unique constraint.
        with session.begin_nested():
            letter.case_number = _next_case_number(session, today.year)
            session.add(letter)
            session.flush()
    except IntegrityError as exc:
        if source_file_id is None:  # not the source-part constraint: a real fault, do not disguise it
            raise
        raise DuplicateError(
            f"part {source_part} of source file {source_file_id} was registered concurrently; "
            "a reprocessed file must not register its letters again"
        ) from exc
    # Indexed in the registering transaction: the letter finds its earlier letters, and later
    # letters find it, from the moment it exists.
    index_letter(session, letter)
    append_event(
        session,
        actor=created_by,
        action="register_letter",
        object=f"letter:{letter.case_number}",
        details={"letter_id": letter.id, "form": form, "source": source, "source_file_id": source_file_id},
        at=now,
    )
    return letter


def get_letter(session: Session, letter_id: int) -> Letter:
    """The letter with id ``letter_id``.

    Raises:
        NotFoundError: no such letter.
    """
    letter = session.get(Letter, letter_id)
    if letter is None:
        raise NotFoundError(f"letter {letter_id} does not exist; check the id or look it up by case number")
    return letter


def get_letter_by_case_number(session: Session, case_number: str) -> Letter:
    """The letter with case number ``case_number`` (``XF-2026-000123``).

    Raises:
        NotFoundError: no such letter (the message says when the number is malformed).
    """
    letter = session.scalar(select(Letter).where(Letter.case_number == case_number.strip()))
    if letter is None:
        hint = "" if CASE_NUMBER_RE.match(case_number.strip()) else "（案件编号形如 XF-2026-000123）"
        raise NotFoundError(f"没有案件编号为“{case_number}”的信访事项{hint}")
    return letter


def add_proposal(
    session: Session, letter_id: int, proposal: RouteProposal, *, now: dt.datetime | None = None
) -> Proposal:
    """Store a machine proposal for a letter. Earlier proposals stay; the newest one is current.

    The letter's version goes up, so an officer who decided on an older proposal gets a
    ``ConflictError`` and sees the new one first.

    Args:
        session: the open session.
        letter_id: the letter the proposal is for.
        proposal: the ``RouteProposal``; its ``letter_id`` must be None, the letter id or its case number.
        now: when it was made (aware); defaults to now.

    Returns:
        The new ``Proposal`` row.

    Raises:
        NotFoundError: no such letter.
        InvalidValueError: the proposal names a different letter.
    """
    letter = get_letter(session, letter_id)
    if proposal.letter_id not in (None, str(letter.id), letter.case_number):
        raise InvalidValueError(
            f"the proposal is for letter {proposal.letter_id!r} but was added to letter {letter.id} "
            f"({letter.case_number}); route the right letter"
        )
    dues = [d.due for d in proposal.deadlines if d.due is not None]
    row = Proposal(
        letter_id=letter.id,
        proposal=proposal.model_dump(mode="json"),
        model_version=proposal.model_version,
        rulebook_version=proposal.rulebook_version,
        created_at=now or dt.datetime.now(dt.UTC),
        category=proposal.category.label,
        domain=proposal.domain.label,
        department=proposal.department.label,
        channel=proposal.channel,
        disposition=proposal.disposition,
        confidential=proposal.confidential,
        needs_review=proposal.needs_review,
        urgent=proposal.urgent,
        earliest_due=min(dues) if dues else None,
    )
    lock_audit_head(session)  # lock order: audit head, then the letter row
    session.add(row)
    session.execute(
        update(Letter)
        .where(Letter.id == letter.id)
        .values(version=Letter.version + 1, **after_proposal(row))
        .execution_options(synchronize_session=False)
    )
    session.flush()
    session.expire(letter, ["version", *KEPT_COLUMNS])
    return row


def latest_proposal(session: Session, letter_id: int) -> Proposal | None:
    """The newest proposal for a letter, or None when it has none yet."""
    return session.scalar(
        select(Proposal).where(Proposal.letter_id == letter_id).order_by(Proposal.id.desc()).limit(1)
    )


def latest_decision(session: Session, letter_id: int) -> Decision | None:
    """The decision in force for a letter (the newest one), or None when it is undecided."""
    return session.scalar(
        select(Decision).where(Decision.letter_id == letter_id).order_by(Decision.id.desc()).limit(1)
    )


def decide(
    session: Session,
    letter_id: int,
    *,
    expected_version: int,
    decided_by: str,
    category: str,
    domain: str,
    department: str,
    channel: str,
    disposition: str,
    reason: str | None = None,
    comment: str | None = None,
    proposal_id: int | None = None,
    department_codes: Collection[str] | None = None,
    now: dt.datetime | None = None,
) -> Decision:
    """Record an officer's decision on a letter: confirm the proposal or correct it.

    Optimistic locking: the letter's version is bumped with ``UPDATE ... WHERE version =
    expected_version``. Of two officers deciding the same version at once exactly one succeeds; the
    other gets ``ConflictError`` and must reload. Deciding an already decided letter records a
    correction, which supersedes the earlier decision and always needs a reason.

    Args:
        session: the open session.
        letter_id: the letter.
        expected_version: the letter version the officer saw (``Letter.version``).
        decided_by: username of an active user.
        category, domain, department, channel, disposition: the final route.
        reason: why the route differs from the proposal; required when any field differs, and for corrections.
        comment: a free note for colleagues.
        proposal_id: the proposal the officer saw; defaults to the newest. It must be the newest one.
        department_codes: the known department codes (``Catalogue.codes``); when given,
            ``department`` is checked against them. A mapping of code to name lets the messages
            name the departments.
        now: decision time (aware); defaults to now.

    Returns:
        The new ``Decision``.

    Raises:
        InvalidValueError: a code is not allowed, or the letter has no proposal to decide on.
        ReasonRequiredError: fields differ from the proposal (or it is a correction) and no reason was given.
        NotFoundError: no such letter, user or proposal.
        InvalidStateError: the deciding user is inactive.
        ConflictError: the letter's version is no longer ``expected_version``.
    """
    values = {
        "category": category,
        "domain": domain,
        "department": department,
        "channel": channel,
        "disposition": disposition,
    }
    for name, allowed in _ALLOWED.items():
        _check_choice(name, values[name], allowed)
    if department_codes is not None:
        _check_choice("department", department, department_codes)
    elif not department.strip():
        raise InvalidValueError("承办部门为空，请选择承办部门")
    department_names = dict(department_codes) if isinstance(department_codes, Mapping) else None
    reason = _clean_optional("reason", reason)
    comment = _clean_optional("comment", comment)
    now = now or dt.datetime.now(dt.UTC)

    user = session.scalar(select(User).where(User.username == decided_by))
    if user is None:
        raise NotFoundError(f"账户“{decided_by}”不存在；只有已登记的账户才能确认分流")
    if not user.active:
        raise InvalidStateError(f"账户“{decided_by}”已停用，不能确认分流；请联系系统管理员")

    lock_audit_head(session)  # lock order: audit head, then the letter row
    with session.begin_nested():  # a refused decision leaves the caller's transaction as it was
        result = session.execute(
            update(Letter)
            .where(Letter.id == letter_id, Letter.version == expected_version, Letter.status != "merged")
            .values(version=Letter.version + 1, status="decided")
            .returning(Letter.version, Letter.case_number)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if result is None:
            found = session.execute(
                select(Letter.version, Letter.status, Letter.merged_into_id).where(Letter.id == letter_id)
            ).one_or_none()
            if found is None:
                raise NotFoundError(f"信访事项（内部编号 {letter_id}）不存在，请核对后重试")
            if found.status == "merged":
                into = session.scalar(select(Letter.case_number).where(Letter.id == found.merged_into_id))
                raise InvalidStateError(f"本件已并入 {into}，请在该件中确认分流")
            raise ConflictError(letter_id, expected_version, found.version)
        new_version, case_number = result
        # Read the proposal only now that this transaction holds the letter's row lock: a proposal
        # added concurrently has bumped the version and made the UPDATE above fail instead.
        newest = latest_proposal(session, letter_id)
        if newest is None:
            raise InvalidValueError(f"{case_number} 还没有办理建议，请先生成办理建议再确认")
        if proposal_id is not None and proposal_id != newest.id:
            raise InvalidValueError(
                f"{case_number} 的办理建议已更新（您看到的是第 {proposal_id} 号建议，"
                f"现为第 {newest.id} 号），请重新打开本件，按最新建议确认"
            )
        previous = latest_decision(session, letter_id)
        proposed = newest.field_values()
        changed = [f for f in DECISION_FIELDS if values[f] != proposed[f]]
        if changed and reason is None:
            changes = "；".join(
                f"{_label(f)}由“{value_name(f, proposed[f], department_names)}”改为"
                f"“{value_name(f, values[f], department_names)}”"
                for f in changed
            )
            raise ReasonRequiredError(f"本确认更改了办理建议（{changes}），必须填写理由")
        if previous is not None and reason is None:
            by = session.scalar(select(User.display_name).where(User.username == previous.decided_by))
            raise ReasonRequiredError(
                f"{case_number} 已由{by or previous.decided_by}确认过，更正确认结果必须填写理由"
            )
        decision = Decision(
            letter_id=letter_id,
            proposal_id=newest.id,
            supersedes_id=previous.id if previous is not None else None,
            decided_by=decided_by,
            decided_at=now,
            agreed_with_proposal=not changed,
            changed_fields=changed,
            reason=reason,
            comment=comment,
            letter_version=new_version,
            **values,
        )
        session.add(decision)
        session.flush()
        # the decision's id is known only now, so the route it keeps is a second write of the row
        session.execute(
            update(Letter)
            .where(Letter.id == letter_id)
            .values(**route_of(newest, decision))
            .execution_options(synchronize_session=False)
        )
    # The UPDATEs bypassed the ORM; a Letter already loaded in this session must not show old values.
    loaded = session.identity_map.get(identity_key(Letter, letter_id))
    if loaded is not None:
        session.expire(loaded, ["version", "status", *KEPT_COLUMNS])
    append_event(
        session,
        actor=decided_by,
        action="decide",
        object=f"letter:{case_number}",
        details={
            "letter_id": letter_id,
            "decision_id": decision.id,
            "proposal_id": newest.id,
            "supersedes_id": decision.supersedes_id,
            "agreed_with_proposal": not changed,
            "changed_fields": changed,
            **values,
        },
        at=now,
    )
    return decision


@dataclass(frozen=True)
class QueueItem:
    """One row of the officer queue: the letter's listing fields and its current proposal's key fields.

    No letter text and no particulars: lists show only what is needed to pick the next letter.
    """

    letter_id: int
    case_number: str
    title: str
    form: str
    received_on: dt.date
    status: str
    version: int
    source: str
    created_at: dt.datetime
    proposal_id: int | None
    category: str | None
    domain: str | None
    department: str | None
    channel: str | None
    confidential: bool
    needs_review: bool
    urgent: bool
    earliest_due: dt.date | None
    overdue: bool
    #: From the case's cached row (``cases``), when it has one: its state, the next last day of a
    #: running duty, whether that day has passed, and whether a 重大紧急 report is open.
    case_state: str | None = None
    next_due: dt.date | None = None
    case_overdue: bool = False
    open_escalation: bool = False


@dataclass(frozen=True)
class QueuePage:
    """A page of the queue, the number of letters matching the filters, and counts among them."""

    items: list[QueueItem]
    count: int
    counts: dict[str, int] = field(default_factory=dict)


def list_queue(
    session: Session,
    *,
    form: str | None = None,
    category: str | None = None,
    department: str | None = None,
    channel: str | None = None,
    overdue: bool | None = None,
    needs_review: bool | None = None,
    urgent: bool | None = None,
    confidential: bool | None = None,
    status: str | None = "pending",
    today: dt.date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> QueuePage:
    """The officers' work queue, most urgent first, then by the earliest statutory deadline.

    Category, department, channel and the flags filter on each letter's current (newest) proposal;
    letters without a proposal yet match only when those filters are not set. A letter is overdue
    when it is still pending and its earliest deadline is before ``today``.

    Args:
        session: the open session.
        form, category, department, channel, overdue, needs_review, urgent, confidential, status:
            filters; None means "any". ``status`` defaults to ``pending``.
        today: the date overdue is judged against; defaults to today in China.
        limit: page size (1..500).
        offset: rows to skip.

    Returns:
        ``QueuePage(items, count, counts)`` where ``count`` is the number of letters matching the
        filters and ``counts`` has ``urgent``, ``needs_review``, ``overdue``, ``confidential``,
        ``pending`` and ``decided`` among them.

    Raises:
        InvalidValueError: an unknown form, status, category or channel, or a bad page.
    """
    check_queue_filters(form=form, status=status, limit=limit, offset=offset)
    if category is not None:
        _check_choice("category", category, _ALLOWED["category"])
    if channel is not None:
        _check_choice("channel", channel, _ALLOWED["channel"])
    today = today or china_today()
    route = QueueRoute(
        category=Proposal.category,
        domain=Proposal.domain,
        department=Proposal.department,
        channel=Proposal.channel,
        confidential=func.coalesce(Proposal.confidential, false()),
    )
    conditions = queue_conditions(form=form, status=status, overdue=overdue, today=today)
    for column, value in (
        (Proposal.category, category),
        (Proposal.department, department),
        (Proposal.channel, channel),
        (Proposal.needs_review, needs_review),
        (Proposal.urgent, urgent),
        (Proposal.confidential, confidential),
    ):
        if value is not None:
            conditions.append(column == value)
    return select_queue_page(
        session, _queue_select, route, conditions, today=today, limit=limit, offset=offset
    )


def _queue_select(columns: Sequence[Any]) -> Select[Any]:
    """Letters joined to their newest proposal."""
    newest = (
        select(Proposal.letter_id, func.max(Proposal.id).label("proposal_id"))
        .group_by(Proposal.letter_id)
        .subquery("newest")
    )
    return (
        select(*columns)
        .select_from(Letter)
        .outerjoin(newest, newest.c.letter_id == Letter.id)
        .outerjoin(Proposal, Proposal.id == newest.c.proposal_id)
    )


@dataclass(frozen=True)
class QueueRoute:
    """The route a queue shows for each letter, as column expressions.

    The officers' queue shows the newest proposal; a role-scoped queue shows the effective route
    (the newest decision, else the proposal). Everything else about a queue page is the same.
    """

    category: Any
    domain: Any
    department: Any
    channel: Any
    confidential: Any


def check_queue_filters(*, form: str | None, status: str | None, limit: int, offset: int) -> None:
    """Refuse an unknown form or status and a bad page, before any query runs.

    Raises:
        InvalidValueError: with the allowed values or range.
    """
    if form is not None:
        _check_choice("form", form, FORMS)
    if status is not None:
        _check_choice("status", status, LETTER_STATUSES)
    if not 1 <= limit <= 500:
        raise InvalidValueError(f"每页件数（limit）须在 1 到 500 之间，收到的是 {limit}")
    if offset < 0:
        raise InvalidValueError(f"起始位置（offset）不能为负数，收到的是 {offset}")


def overdue_condition(today: dt.date) -> Any:
    """Pending and past its earliest statutory deadline."""
    return and_(Letter.status == "pending", Proposal.earliest_due.is_not(None), Proposal.earliest_due < today)


def queue_conditions(
    *, form: str | None, status: str | None, overdue: bool | None, today: dt.date
) -> list[Any]:
    """The filters every queue has: form, status and overdue."""
    conditions: list[Any] = []
    if form is not None:
        conditions.append(Letter.form == form)
    if status is not None:
        conditions.append(Letter.status == status)
    if overdue is True:
        conditions.append(overdue_condition(today))
    elif overdue is False:
        conditions.append(~overdue_condition(today))
    return conditions


def select_queue_page(
    session: Session,
    base_select: Callable[[Sequence[Any]], Select[Any]],
    route: QueueRoute,
    conditions: Sequence[Any],
    *,
    today: dt.date,
    limit: int,
    offset: int,
    lead: Sequence[Any] = (),
    order_by: Sequence[Any] | None = None,
) -> QueuePage:
    """One page of a queue and its counts: most urgent first, then overdue, then earliest deadline.

    Args:
        base_select: builds the select of the given columns over letters and the joins ``route``
            and ``conditions`` refer to.
        route: the route columns shown (and counted as confidential).
        conditions: the page's filters, in terms of those joins.
        lead: orderings put before the queue's own (open escalations first, say).
        order_by: orderings that replace the queue's own (by the case's next due date, say).
    """
    is_overdue = overdue_condition(today)
    is_urgent = func.coalesce(Proposal.urgent, false())

    def flag(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    counts_stmt = base_select(
        [
            func.count(Letter.id),
            flag(Proposal.urgent.is_(True)),
            flag(Proposal.needs_review.is_(True)),
            flag(is_overdue),
            flag(route.confidential),
            flag(Letter.status == "pending"),
            flag(Letter.status == "decided"),
        ]
    )
    total, n_urgent, n_review, n_overdue, n_confidential, n_pending, n_decided = session.execute(
        counts_stmt.where(*conditions)
    ).one()
    items_stmt = base_select(
        [
            Letter.id,
            Letter.case_number,
            Letter.title,
            Letter.form,
            Letter.received_on,
            Letter.status,
            Letter.version,
            Letter.source,
            Letter.created_at,
            Proposal.id,
            route.category,
            route.domain,
            route.department,
            route.channel,
            case((route.confidential, True), else_=False),
            func.coalesce(Proposal.needs_review, false()),
            is_urgent,
            Proposal.earliest_due,
            case((is_overdue, True), else_=False),
        ]
    )
    rows = session.execute(
        items_stmt.where(*conditions)
        .order_by(
            *lead,
            *(
                order_by
                if order_by is not None
                else (
                    is_urgent.desc(),
                    case((is_overdue, 0), else_=1),
                    Proposal.earliest_due.is_(None),
                    Proposal.earliest_due,
                    Letter.received_on,
                    Letter.id,
                )
            ),
        )
        .limit(limit)
        .offset(offset)
    ).all()
    return queue_page(
        rows,
        total=total,
        urgent=n_urgent,
        needs_review=n_review,
        overdue=n_overdue,
        confidential=n_confidential,
        pending=n_pending,
        decided=n_decided,
    )


def queue_page(rows: Sequence[Any], *, total: int, **counts: int) -> QueuePage:
    """Build a queue page from rows selected in the queue's column order (letter, then proposal)."""
    items = [
        QueueItem(
            letter_id=r[0],
            case_number=r[1],
            title=r[2],
            form=r[3],
            received_on=r[4],
            status=r[5],
            version=r[6],
            source=r[7],
            created_at=r[8],
            proposal_id=r[9],
            category=r[10],
            domain=r[11],
            department=r[12],
            channel=r[13],
            confidential=bool(r[14]),
            needs_review=bool(r[15]),
            urgent=bool(r[16]),
            earliest_due=r[17],
            overdue=bool(r[18]),
        )
        for r in rows
    ]
    return QueuePage(items=items, count=int(total), counts={k: int(v) for k, v in counts.items()})


@dataclass(frozen=True)
class TrainingLabel:
    """The label officers gave a letter, as retraining reads it. Never a machine proposal."""

    letter_id: int
    case_number: str
    title: str
    text: str
    form: str
    received_on: dt.date
    category: str
    domain: str
    department: str
    channel: str
    disposition: str
    decision_id: int
    decided_by: str
    decided_at: dt.datetime
    agreed_with_proposal: bool
    corrected: bool = False  # the final decision supersedes an earlier one

    def labels(self) -> dict[str, str]:
        """The label of each decision field."""
        return {f: getattr(self, f) for f in DECISION_FIELDS}


def decisions_for_training(
    session: Session, *, decided_after: dt.datetime | None = None, decided_before: dt.datetime | None = None
) -> list[TrainingLabel]:
    """The officers' final labels, one per decided letter, oldest letter first.

    The label is the letter's newest decision: a correction outranks the decision it supersedes.
    Proposals are never used as labels; a letter that was only proposed for is absent.

    Args:
        session: the open session.
        decided_after: only letters whose final decision is at or after this time.
        decided_before: only letters whose final decision is before this time.
    """
    newest = (
        select(Decision.letter_id, func.max(Decision.id).label("decision_id"))
        .group_by(Decision.letter_id)
        .subquery("newest_decision")
    )
    stmt = (
        select(Decision, Letter)
        .join(newest, newest.c.decision_id == Decision.id)
        .join(Letter, Letter.id == Decision.letter_id)
        .order_by(Letter.id)
    )
    if decided_after is not None:
        stmt = stmt.where(Decision.decided_at >= decided_after)
    if decided_before is not None:
        stmt = stmt.where(Decision.decided_at < decided_before)
    labels = []
    for decision, letter in session.execute(stmt):
        labels.append(
            TrainingLabel(
                letter_id=letter.id,
                case_number=letter.case_number,
                title=letter.title,
                text=letter.text,
                form=letter.form,
                received_on=letter.received_on,
                decision_id=decision.id,
                decided_by=decision.decided_by,
                decided_at=decision.decided_at,
                agreed_with_proposal=decision.agreed_with_proposal,
                corrected=decision.supersedes_id is not None,
                **decision.field_values(),
            )
        )
    return labels


def letter_counts(session: Session) -> dict[str, int]:
    """Number of letters per status (``pending``, ``decided``)."""
    rows = session.execute(select(Letter.status, func.count()).group_by(Letter.status)).all()
    counts = dict.fromkeys(LETTER_STATUSES, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts
