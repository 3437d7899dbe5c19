"""The input and output shapes of the operations: one schema per direction (``XCreate`` in, ``XPublic`` out).

The JSON API sends and takes them as they are; the pages fill their forms and templates from them.
Only what a schema names leaves the service. Output schemas are built from stored rows by the
``from_*`` helpers in ``service/views.py``, which also apply the masking a role calls for; an output
schema never carries a field "just in case".
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from routing.codes import Category, Channel, Disposition
from routing.schemas import (
    Deadline,
    FactEvidence,
    FeatureWeight,
    HeadPrediction,
    LabelScore,
    ReviewReason,
    RuleHit,
)

Form = Literal["letter", "online", "visit", "call"]
# ``merged``: the letter went into another one (its text and pages), see store.regroup.
LetterStatus = Literal["pending", "decided", "merged"]
Role = Literal[
    "intake_officer", "supervisor", "analyst", "administrator", "department_handler", "discipline_inspector"
]

# Control characters other than line breaks and tabs have no place in a letter and break exports.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    if _CONTROL.search(value):
        bad = _CONTROL.search(value)
        assert bad is not None
        raise ValueError(f"含有控制字符 U+{ord(bad.group()):04X}，请删除（只允许换行和制表符）")
    value = value.strip()
    return value or None


ShortText = Annotated[str, StringConstraints(max_length=200)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Particulars(_In):
    """The particulars a letter should state (条例 第十九条): who writes, how to reach them, what they ask."""

    petitioner_name: str | None = Field(default=None, max_length=200, description="姓名（名称）")
    petitioner_organisation: str | None = Field(default=None, max_length=300, description="单位／组织名称")
    id_number: str | None = Field(default=None, max_length=18, description="公民身份号码")
    address: str | None = Field(default=None, max_length=500, description="住址")
    contact_phone: str | None = Field(default=None, max_length=40, description="联系方式")
    request: str | None = Field(default=None, max_length=20_000, description="信访请求")
    facts: str | None = Field(default=None, max_length=50_000, description="事实")
    reasons: str | None = Field(default=None, max_length=50_000, description="理由")

    @field_validator(
        "petitioner_name",
        "petitioner_organisation",
        "id_number",
        "address",
        "contact_phone",
        "request",
        "facts",
        "reasons",
    )
    @classmethod
    def _no_control(cls, value: str | None) -> str | None:
        return _clean(value)

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{17}[\dXx]|\d{15}", value):
            raise ValueError(f"“{value}”不是 15 位或 18 位的公民身份号码（全为数字，最后一位可以是 X）")
        return value.upper() if value else value


class LetterCreate(Particulars):
    """A letter registered by an officer: its text and the particulars of 第十九条."""

    title: str = Field(default="", max_length=500, description="标题（可空）")
    text: str = Field(min_length=1, max_length=500_000, description="来信正文")
    form: Form = Field(default="letter", description="来信 letter / 网上信访 online / 来访 visit / 来电 call")
    received_on: dt.date | None = Field(
        default=None, description="收到日期；starts the statutory clocks; default today"
    )
    visitors: int | None = Field(default=None, ge=1, le=10_000, description="来访人数, only for visits")

    @field_validator("title", "text")
    @classmethod
    def _text(cls, value: str) -> str:
        # Scans and PDFs leave form feeds and the like in the text; normalisation turns them into
        # spaces. A NUL byte, though, cannot be stored (PostgreSQL refuses it) and means a binary file.
        if "\x00" in value:
            raise ValueError("含有空字符（NUL，U+0000），不是文本；请以 UTF-8 文本提交来信")
        return value.strip()

    @model_validator(mode="after")
    def _consistent(self) -> LetterCreate:
        if not self.text:
            raise ValueError("正文为空，请粘贴来信正文或上传 .txt 文件")
        if self.visitors is not None and self.form != "visit":
            raise ValueError("只有来访才填写来访人数，请留空")
        if self.received_on is not None and self.received_on > dt.date.today() + dt.timedelta(days=1):
            raise ValueError(f"收到日期 {self.received_on} 晚于今天，请填写来信实际收到的日期")
        if self.received_on is not None:
            from store.letters import EARLIEST_RECEIVED_ON, received_on_too_early

            if self.received_on < EARLIEST_RECEIVED_ON:
                raise ValueError(received_on_too_early(self.received_on))
        return self


class ParticularsPublic(_Out):
    """The 第十九条 particulars as the caller's role may see them (masked where it has no need)."""

    petitioner_name: str | None
    petitioner_organisation: str | None
    id_number: str | None
    address: str | None
    contact_phone: str | None
    request: str | None
    facts: str | None
    reasons: str | None
    masked: bool = Field(description="true when personal data was masked for the caller's role")


class ProposalPublic(_Out):
    """The machine's proposal as stored: never overwritten, with the versions it came from."""

    id: int
    created_at: dt.datetime
    model_version: str
    rulebook_version: str
    category: HeadPrediction
    domain: HeadPrediction
    department: HeadPrediction
    channel: str
    channel_name: str
    channel_source: Literal["rule", "model", "category", "none"]
    channel_scores: list[LabelScore]
    disposition: str
    disposition_name: str
    target_body: str
    deadlines: list[Deadline]
    routed: bool = Field(
        description="false when the letter could not be routed (empty, garbled, meaningless, no Chinese, "
        "too short): the route fields then hold no proposal, review_reasons say why, and an officer "
        "routes it by hand"
    )
    confidential: bool
    confidential_reason: str | None = Field(description="why the letter is held confidential (Chinese)")
    urgent: bool
    needs_review: bool
    review_reasons: list[ReviewReason]
    rule_hits: list[RuleHit]
    facts: list[FactEvidence] = Field(
        description="the legal facts the letter states, likeliest first, each with its span and sentence; "
        "the sentence is masked like the text for roles that see personal data masked"
    )
    evidence: dict[str, list[FeatureWeight]]
    confidence: float


class DecisionCreate(_In):
    """An officer's decision on a proposal: every field left empty keeps the proposed value.

    Any change needs a ``reason``. ``letter_version`` is the version the officer read; if someone
    decided in between, the decision is refused as a conflict and nothing is stored.
    """

    proposal_id: int = Field(ge=1, description="the proposal being confirmed or corrected")
    letter_version: int = Field(ge=1, description="the letter's version as read (optimistic locking)")
    category: Category | None = None
    domain: str | None = Field(default=None, max_length=32)
    department: str | None = Field(default=None, max_length=64)
    channel: Channel | None = None
    disposition: Disposition | None = None
    reason: str | None = Field(default=None, max_length=5_000, description="required when any field changes")
    comment: str | None = Field(default=None, max_length=5_000)

    @field_validator("reason", "comment", "domain", "department")
    @classmethod
    def _no_control(cls, value: str | None) -> str | None:
        return _clean(value)


class LetterSplit(_In):
    """Split a pending letter in two: the text from ``at`` on (and the pages from ``pages_from`` on)
    become a new letter with its own case number; both parts are routed again."""

    letter_version: int = Field(ge=1, description="the letter's version as read (optimistic locking)")
    at: int = Field(
        ge=1, le=200_000, description="character offset in the letter's text where the second letter starts"
    )
    pages_from: int | None = Field(
        default=None,
        ge=2,
        le=10_000,
        description="page from which the pages go to the new letter; empty keeps them all",
    )
    reason: str = Field(min_length=1, max_length=5_000, description="why, for the record (e.g. 两件事项)")

    @field_validator("reason")
    @classmethod
    def _no_control(cls, value: str) -> str:
        return _clean(value) or ""


class LetterMerge(_In):
    """Merge another pending letter into this one (the other keeps its case number, marked merged)."""

    letter_version: int = Field(ge=1, description="this letter's version as read")
    other_case_number: str = Field(min_length=1, max_length=32, description="the letter merged into this one")
    other_version: int = Field(ge=1, description="the other letter's version as read")
    reason: str = Field(
        min_length=1, max_length=5_000, description="why, for the record (e.g. 同一来信的后续页)"
    )

    @field_validator("reason")
    @classmethod
    def _no_control(cls, value: str) -> str:
        return _clean(value) or ""


class DecisionPublic(_Out):
    id: int
    proposal_id: int
    supersedes_id: int | None
    decided_by: str
    decided_at: dt.datetime
    category: str
    domain: str
    department: str
    department_name: str
    channel: str
    disposition: str
    agreed_with_proposal: bool
    changed_fields: list[str]
    reason: str | None
    comment: str | None


class DecisionsPublic(_Out):
    data: list[DecisionPublic]
    count: int


class LetterPublic(_Out):
    """A letter with its latest proposal and its decisions, as the caller's role may see it."""

    case_number: str
    title: str
    text: str
    form: Form
    received_on: dt.date
    visitors: int | None
    particulars: ParticularsPublic
    source: str
    created_by: str
    created_at: dt.datetime
    status: LetterStatus
    version: int
    confidential: bool
    merged_into: str | None = Field(
        default=None, description="case number of the letter this one was merged into (status merged)"
    )
    proposal: ProposalPublic | None
    decisions: list[DecisionPublic]


class LettersPublic(_Out):
    """Letters that one operation produced (a split gives the original and the new one)."""

    data: list[LetterPublic]
    count: int


class UnrelatedPublic(_Out):
    """An officer's standing finding that an earlier letter is not this letter's matter."""

    marked_by: str
    marked_at: dt.datetime
    reason: str | None


class EarlierLetterPublic(_Out):
    """An earlier letter of the same petitioner or matter, as the caller may see it.

    Only letters the caller's role may open are listed; the others are neither listed nor counted.
    """

    case_number: str
    title: str
    received_on: dt.date
    status: LetterStatus
    state: str = Field(description="its case's state: registered, decided, handling, final …")
    state_name: str
    disposition: str | None = Field(description="its newest decision's disposition; null when undecided")
    disposition_name: str | None
    channel: str | None = Field(description="its newest decision's channel; null when undecided")
    channel_name: str | None
    decided_at: dt.datetime | None
    why: list[str] = Field(description="id, phone, name (same petitioner) and matter (similar text)")
    why_names: list[str]
    score: float = Field(description="matter_score of the two letters, 0..1")
    same_matter: bool = Field(description="score at or above the threshold: 可能同一事项")
    encoder_score: float | None = Field(
        default=None, description="the sentence encoder's cosine, when the embeddings extra is installed"
    )
    linked: bool = Field(description="this letter is linked to it as the same matter")
    unrelated: UnrelatedPublic | None = Field(description="an officer marked it unrelated (not cleared)")


class EarlierLettersPublic(_Out):
    case_number: str
    data: list[EarlierLetterPublic] = Field(description="newest first")
    count: int
    threshold: float = Field(description="the score from which a letter is called 可能同一事项")


class UnrelatedCreate(_In):
    """Mark an earlier letter as not this letter's matter, or (``clear``) withdraw the mark."""

    earlier_case_number: str = Field(min_length=1, max_length=32)
    reason: str | None = Field(default=None, max_length=2000)
    clear: bool = False


class UnrelatedResult(_Out):
    case_number: str
    earlier_case_number: str
    unrelated: bool = Field(description="whether the mark stands after the request")
    changed: bool = Field(description="false when the mark already stood (or was already cleared)")


class LetterReceipt(_Out):
    """What registering a letter returns to a role that may not read it back (an accusation)."""

    case_number: str
    status: LetterStatus
    confidential: bool
    readable: bool = Field(description="false when the caller's role may not open this letter")
    letter: LetterPublic | None
    earlier: list[EarlierLetterPublic] = Field(
        default_factory=list,
        description="earlier letters of the same petitioner or matter the caller may open, newest first",
    )


class QueueItem(_Out):
    """One line of the queue: enough to sort and pick a letter; no text and no particulars.

    The route fields are the newest decision's when the letter is decided, else the newest proposal's.
    """

    case_number: str
    title: str
    form: Form
    received_on: dt.date
    status: LetterStatus
    category: str | None
    domain: str | None
    department: str | None
    department_name: str | None
    channel: str | None
    confidential: bool
    urgent: bool
    needs_review: bool
    earliest_due: dt.date | None
    overdue: bool
    case_state: str | None = Field(default=None, description="the case's state once it has taken a step")
    case_state_name: str | None = None
    next_due: dt.date | None = Field(
        default=None, description="the case's next last day of a running duty, else the proposal's earliest"
    )
    case_overdue: bool = Field(default=False, description="the date next due has passed")
    open_escalation: bool = Field(default=False, description="a 重大紧急 report is open on the case")


class QueuePublic(_Out):
    data: list[QueueItem]
    count: int = Field(description="letters matching the filters (all pages)")
    counts: dict[str, int] = Field(description="pending, needs_review, urgent and overdue among the matches")


class TokenPublic(_Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds")


class UserPublic(_Out):
    username: str
    display_name: str
    role: Role
    department: str | None
    active: bool


class UserCreate(_In):
    # The store checks the name itself (2-64 lowercase letters, digits, . _ -, a letter first), so
    # that a refusal says in words what is wrong.
    username: str = Field(min_length=1, max_length=64, description="2-64 lowercase letters, digits, . _ -")
    display_name: str = Field(min_length=1, max_length=200)
    role: Role
    department: str | None = Field(default=None, max_length=64, description="required for department_handler")
    password: str = Field(min_length=1, max_length=1024)
    reason: str | None = Field(
        default=None, max_length=2000, description="why; shown to whoever approves a role that needs approval"
    )

    @field_validator("display_name")
    @classmethod
    def _no_control(cls, value: str) -> str:
        cleaned = _clean(value)
        if not cleaned:
            raise ValueError("姓名为空，请填写在工作台上显示的姓名")
        return cleaned


class UsersPublic(_Out):
    data: list[UserPublic]
    count: int


class RoleChange(_In):
    role: Role
    department: str | None = Field(default=None, max_length=64, description="required for department_handler")
    reason: str | None = Field(
        default=None, max_length=2000, description="why; shown to whoever approves a role that needs approval"
    )


class PasswordReset(_In):
    password: str = Field(min_length=1, max_length=1024, description="the new password (strength-checked)")


class RoleRequestPublic(_Out):
    """A request for a role that may read accusations; it takes effect when a second person approves it."""

    id: int
    username: str
    kind: Literal["create", "raise"] = Field(description="a new account, or an existing one raised")
    role: Role
    previous_role: Role | None
    display_name: str | None
    reason: str | None
    requested_by: str
    requested_at: dt.datetime
    status: Literal["pending", "approved", "refused"]
    decided_by: str | None
    decided_at: dt.datetime | None
    answer: str | None = Field(description="the reason given for a refusal")


class RoleRequestsPublic(_Out):
    data: list[RoleRequestPublic]
    count: int


class RoleRequestRefusal(_In):
    reason: str = Field(min_length=1, max_length=2000, description="why it is refused (audited)")


class AuditDetail(_Out):
    """One fact of an event's details, as an officer reads it."""

    label: str = Field(description="the fact's name, e.g. 导出行数")
    value: str = Field(description="its value with names for codes, e.g. 来信, 是")


class AuditEventPublic(_Out):
    seq: int
    at: dt.datetime
    actor: str
    action: str
    action_name: str = Field(description="the action in words, e.g. 查看信访事项")
    object: str | None
    object_name: str | None = Field(description="what the action was about, e.g. 信访事项 XF-2026-583920")
    details: dict[str, Any] = Field(description="the details as stored (and hashed), personal data masked")
    readable: list[AuditDetail] = Field(description="the details as name and value, in the order stored")
    hash: str
    mac: str | None = Field(description="the event's keyed MAC (null only on a row not written by xinfang)")


class AuditPublic(_Out):
    data: list[AuditEventPublic]
    count: int
    chain_ok: bool | None = Field(default=None, description="result of verifying the chain, when asked")
    problems: list[str] = Field(default=[], description="where the chain does not verify, when asked")


class ExportRow(_Out):
    case_number: str
    received_on: dt.date
    form: Form
    status: LetterStatus
    petitioner: str | None
    category: str | None
    domain: str | None
    department: str | None
    channel: str | None
    disposition: str | None
    confidential: bool
    agreed_with_proposal: bool | None
    decided_at: dt.datetime | None


class ExportPublic(_Out):
    data: list[ExportRow]
    count: int
    masked: bool


class DepartmentPublic(_Out):
    code: str
    name: str


class LabelsPublic(_Out):
    """The label sets a client needs to build a decision form."""

    categories: dict[str, str]
    domains: list[str]
    channels: dict[str, str]
    dispositions: dict[str, str]
    departments: list[DepartmentPublic]
    forms: dict[str, str]


class HealthPublic(_Out):
    ok: bool
    database: bool
    model_loaded: bool
    model_version: str | None
