"""The case's life on the letter page (办理过程), as officers read it: events, clocks, step forms,
documents and the link to an earlier case, in Chinese with names rather than codes.

:func:`case_section` reads the case through ``service.cases`` (never ``casework`` itself) and shapes
it for ``letter/_case.html``. Each step the signed-in user may take now becomes a form whose fields
are the step's particulars (``service.cases.STEP_SPECS``), labelled in Chinese, with choices by
name; a posted form is read back into the plain values ``take_step`` expects (:func:`read_step_form`).
The letter page (``api.pages.letters``) includes the section; the forms post to ``api.pages.cases``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from routing.catalogue import Catalogue
from routing.codes import CHANNEL_NAMES, DISPOSITION_NAMES
from service import cases
from service.access import ROLE_NAMES
from service.cases import (
    CHINA_TZ,
    DOCUMENT_KINDS,
    FIELD_NAMES,
    MAX_EXTENSION_DAYS,
    PENDING_REPEAT_BASIS,
    RATING_NAMES,
    STEP_NAMES,
    STEP_SPECS,
    CaseEvent,
    CaseState,
    Clock,
    ClockStatus,
    EarlierRuling,
    Step,
    cn_date,
    document_kind_for,
)
from service.errors import ServiceError
from service.settings import Settings
from store import masking
from store.errors import StoreError
from store.models import Letter, User

#: Steps that have a form of their own elsewhere: 确定去向 is the decision form; 登记 is the letter.
OWN_FORMS = frozenset({Step.register, Step.decide})
#: Steps whose document is issued by the step's own form, never drafted and issued beforehand.
ISSUED_WITH_STEP = frozenset({Step.supervise})
#: The order particulars are asked for on a step's form (dates and numbers before free text).
FIELD_ORDER = (
    "body",
    "channel",
    "disposition",
    "effective_on",
    "due_on",
    "days",
    "basis",
    "document_no",
    "rating",
    "reported_to",
    "participants",
    "reason",
    "measures",
    "minutes",
)
#: Particulars that hold several names, one a line on the form.
LIST_FIELDS = frozenset({"participants", "reported_to"})
TEXT_AREAS = frozenset({"reason", "minutes", "measures", *LIST_FIELDS})
#: What a field asks for, where the bare label would leave the officer guessing.
FIELD_HINTS: dict[str, str] = {
    "participants": "每行一人（姓名、单位）",
    "reported_to": "每行一个单位或负责人",
    "effective_on": "事情发生之日，如送达信访人的日期",
    "document_no": "先在下方“文书”中出具，文号会自动填入",
    "days": "延期不超过30日（第三十四条）",
    "due_on": "须晚于今天",
}
#: The labels a step's particular goes by on that step's form, where the general name is vague.
STEP_LABELS: dict[tuple[Step, str], str] = {
    (Step.object, "reason"): "异议理由（不属于本单位职权范围的依据）",
    (Step.extend, "reason"): "延期理由（告知信访人）",
    (Step.extend, "days"): "延长天数",
    (Step.supervise, "due_on"): "督办办结期限",
    (Step.supervise, "reason"): "督办事由",
    (Step.assign, "due_on"): "反馈办结结果期限",
    (Step.serve, "effective_on"): "送达日期",
    (Step.hearing, "days"): "听证所需天数",
    (Step.escalate, "reason"): "重大紧急情况",
    (Step.request_review, "reason"): "复查请求及理由",
    (Step.request_recheck, "reason"): "复核请求及理由",
    (Step.not_accept, "reason"): "不予受理的理由",
    (Step.no_longer_accept, "reason"): "不再受理的理由",
    (Step.transfer, "body"): "转送单位",
    (Step.assign, "body"): "交办单位",
}
#: What the submit button of a step's form says, when the step's name alone would not.
STEP_BUTTONS: dict[Step, str] = {
    Step.supervise: "出具督办单并督办",
    Step.receive: "签收",
    Step.object: "异议退回",
    Step.accept: "受理",
    Step.answer: "出具处理意见",
    Step.close: "办结",
    Step.escalate: "报告重大紧急情况",
    Step.rate: "记录满意度",
}


@dataclass(frozen=True)
class Choice:
    value: str
    name: str


@dataclass(frozen=True)
class FieldView:
    """One input of a step form: its name, Chinese label, widget and prefilled value."""

    name: str
    label: str
    widget: str  # "text", "textarea", "date", "number", "select"
    required: bool
    value: str = ""
    choices: tuple[Choice, ...] = ()
    hint: str = ""
    min: str = ""
    max: str = ""


@dataclass(frozen=True)
class StepForm:
    step: str
    name: str
    button: str
    fields: tuple[FieldView, ...]
    #: The document the step cites, by name (its 文号 is asked for), or "".
    document: str = ""


@dataclass(frozen=True)
class EventView:
    """One step of the case as the history shows it: what, who, when, why and its particulars."""

    step: str
    name: str
    actor: str
    role: str
    at: dt.datetime
    effective_on: dt.date | None
    reason: str
    particulars: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ClockView:
    code: str
    label: str
    basis: str
    starts_on: dt.date
    due: dt.date
    status: str
    status_name: str
    #: "overdue", "soon" (three days or fewer left), "due", or "done" (met or ended).
    mark: str
    days_left: int
    length: str
    note: str = ""
    closed: str = ""


@dataclass(frozen=True)
class DocumentRef:
    """An issued document, for prefilling a step's 文号."""

    kind: str
    number: str


@dataclass
class Names:
    """How codes are named on the page: people by display name, bodies by the catalogue."""

    people: Mapping[str, str] = field(default_factory=dict)
    body: Callable[[str], str] = str
    roles: Mapping[str, str] = field(default_factory=dict)


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


def _particular(name: str, value: Any, names: Names) -> str:
    if name == "channel":
        return CHANNEL_NAMES.get(value, str(value))
    if name == "disposition":
        return DISPOSITION_NAMES.get(value, str(value))
    if name == "body":
        return names.body(str(value))
    if name in ("due_on",) and isinstance(value, dt.date):
        return cn_date(value)
    if name == "days":
        return f"{value}日"
    if name == "rating":
        return RATING_NAMES.get(value, str(value))
    if isinstance(value, tuple | list):
        return "、".join(str(v) for v in value)
    return str(value)


#: A step's free text, which may name people: masked for a reader who reads the letter masked.
FREE_TEXT = frozenset({"reason", "minutes", "measures", "participants", "reported_to"})


def _masked(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return tuple(masking.mask_text(str(v)) or "" for v in value)
    return masking.mask_text(str(value)) or ""


def event_views(events: Sequence[CaseEvent], names: Names, *, masked: bool = False) -> list[EventView]:
    out = []
    for event in events:
        shown: list[tuple[str, str]] = []
        for name in FIELD_ORDER:
            if name in ("reason", "effective_on"):
                continue
            value = getattr(event, name, None)
            if value in (None, "", ()):
                continue
            if masked and name in FREE_TEXT:
                value = _masked(value)
            shown.append((FIELD_NAMES[name], _particular(name, value, names)))
        out.append(
            EventView(
                step=event.step.value,
                name=STEP_NAMES[event.step],
                actor=names.people.get(event.actor, event.actor),
                role=names.roles.get(event.role, event.role),
                at=event.at.astimezone(CHINA_TZ),
                effective_on=event.effective_on,
                reason=_masked(event.reason) if masked and event.reason else event.reason,
                particulars=tuple(shown),
            )
        )
    return out


_UNITS = {"calendar_days": "日", "working_days": "个工作日"}


def clock_views(clocks: Iterable[Clock], today: dt.date) -> list[ClockView]:
    out = []
    for clock in clocks:
        left = clock.days_left(today)
        if clock.status == ClockStatus.overdue:
            mark = "overdue"
        elif clock.running:
            mark = "soon" if left <= 3 else "due"
        else:
            mark = "done"
        if clock.days is None:
            length = "指定日期"
        else:
            length = f"{clock.days}{_UNITS.get(clock.unit, '日')}"
            if clock.extension_days:
                length += f"（延长{clock.extension_days}日）"
            if clock.excluded_days:
                length += f"（听证{clock.excluded_days}日不计入）"
        closed = ""
        if clock.closed_on is not None and clock.closed_by is not None:
            closed = f"{cn_date(clock.closed_on)}{STEP_NAMES[clock.closed_by]}"
        out.append(
            ClockView(
                code=clock.code,
                label=clock.label,
                basis=clock.basis,
                starts_on=clock.starts_on,
                due=clock.due,
                status=clock.status.value,
                status_name=clock.status_name,
                mark=mark,
                days_left=left,
                length=length,
                note=clock.calendar_note or "",
                closed=closed,
            )
        )
    return out


def _widget(name: str) -> str:
    if name in ("effective_on", "due_on"):
        return "date"
    if name == "days":
        return "number"
    if name in ("channel", "disposition", "rating", "body"):
        return "select"
    return "textarea" if name in TEXT_AREAS else "text"


def step_forms(
    steps: Iterable[Step],
    *,
    channel: str | None,
    today: dt.date,
    bodies: Sequence[Choice],
    target_body: str | None,
    documents: Sequence[DocumentRef] = (),
    values: Mapping[str, Mapping[str, str]] | None = None,
) -> list[StepForm]:
    """A form for each step in ``steps`` (but 确定去向, which the decision form records).

    ``documents`` prefill the 文号 of a step with the newest issued document of the kind the step
    sends; ``values`` (step -> field -> text) refill a form the officer sent and had refused.
    """
    forms = []
    for step in steps:
        if step in OWN_FORMS:
            continue
        spec = STEP_SPECS[step]
        wanted = document_kind_for(step, channel)
        # A 督办 issues its 督办单 itself (service.cases.supervise): its form asks for no 文号.
        issued_with_step = step in ISSUED_WITH_STEP
        issued = [d.number for d in documents if d.kind == wanted]
        given = (values or {}).get(step.value, {})
        fields = []
        for name in FIELD_ORDER:
            if name not in spec.required and name not in spec.optional:
                continue
            if name == "document_no" and issued_with_step:
                continue
            widget = _widget(name)
            choices: tuple[Choice, ...] = ()
            value = given.get(name, "")
            if name == "body":
                choices = tuple(bodies)
                value = value or (target_body or "")
            elif name == "channel":
                choices = tuple(Choice(c, n) for c, n in CHANNEL_NAMES.items())
            elif name == "disposition":
                choices = tuple(Choice(c, n) for c, n in DISPOSITION_NAMES.items())
            elif name == "rating":
                choices = tuple(Choice(c.value, n) for c, n in RATING_NAMES.items())
            elif name == "document_no" and not value and issued:
                value = issued[-1]
            elif name == "effective_on" and not value:
                value = today.isoformat()
            low = high = ""
            if name == "effective_on":
                high = today.isoformat()
            elif name == "due_on":
                low = (today + dt.timedelta(days=1)).isoformat()
            elif name == "days":
                low, high = "1", str(MAX_EXTENSION_DAYS) if step == Step.extend else ""
            fields.append(
                FieldView(
                    name=name,
                    label=STEP_LABELS.get((step, name), FIELD_NAMES[name]),
                    widget=widget,
                    required=name in spec.required,
                    value=value,
                    choices=choices,
                    hint=FIELD_HINTS.get(name, "") if not (name == "days" and step != Step.extend) else "",
                    min=low,
                    max=high,
                )
            )
        # The law asks for a reason on some steps only; elsewhere a note of why is welcome.
        if "reason" not in spec.required and "reason" not in spec.optional:
            fields.append(
                FieldView(
                    name="reason",
                    label="说明（可不填）",
                    widget="textarea",
                    required=False,
                    value=given.get("reason", ""),
                )
            )
        forms.append(
            StepForm(
                step=step.value,
                name=STEP_NAMES[step],
                button=STEP_BUTTONS.get(step, STEP_NAMES[step]),
                fields=tuple(fields),
                document=(
                    DOCUMENT_KINDS[wanted]
                    if wanted and "document_no" in spec.required and not issued_with_step
                    else ""
                ),
            )
        )
    return forms


def read_step_form(step: Step, form: Mapping[str, str]) -> dict[str, Any]:
    """The values ``take_step`` expects from a posted step form: blanks left out, the lists split
    one a line, whole numbers as numbers (anything else is passed on for the step to refuse in
    words)."""
    spec = STEP_SPECS[step]
    names = set(spec.required | spec.optional) | {"reason"}
    values: dict[str, Any] = {}
    for name in names:
        raw = (form.get(name) or "").strip()
        if not raw:
            continue
        if name in LIST_FIELDS:
            values[name] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif name == "days":
            values[name] = int(raw) if raw.isdigit() else raw
        else:
            values[name] = raw
    return values


def step_of(code: str) -> Step | None:
    try:
        return Step(code)
    except ValueError:
        return None


# ------------------------------------------------------------------------------ the whole section


@dataclass(frozen=True)
class DraftView:
    kind: str
    kind_name: str
    title: str
    salutation: str
    paragraphs: tuple[str, ...]
    signature: str
    #: The 【请填写：…】 marks still in the text: what the officer has to write before issuing.
    gaps: tuple[str, ...] = ()


@dataclass(frozen=True)
class DocumentRow:
    id: int
    kind: str
    kind_name: str
    number: str
    issued_on: dt.date
    issued_by: str
    sent_on: dt.date | None
    may_record_sent: bool


@dataclass
class CaseInput:
    """What a refused or half-done request brings back to the section: the message, the values of
    the form the officer sent, the draft being edited."""

    error: str | None = None
    notice: str | None = None
    open_step: str | None = None
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    draft_kind: str | None = None
    draft: DraftView | None = None


@dataclass(frozen=True)
class CaseSection:
    case_number: str
    version: int
    state: str
    state_name: str
    handling_body: str | None
    linked_to: str | None
    open_escalation: bool
    today: dt.date
    may_decide: bool
    clocks: list[ClockView]
    events: list[EventView]
    forms: list[StepForm]
    documents: list[DocumentRow]
    handles_documents: bool
    draft_kinds: list[Choice]
    suggested_kind: str | None
    draft: DraftView | None
    may_link: bool
    repeat: str | None
    readonly_reason: str | None
    #: What to do next where it is not one of the forms below (a new route after a return).
    hint: str | None = None
    error: str | None = None
    notice: str | None = None
    open_step: str | None = None


_GAP = re.compile(r"【请填写：([^】]*)】")


def _repeat_prompt(earlier: EarlierRuling | None) -> str | None:
    """What the linked earlier case proposes for this letter, citing it, for the officer to confirm."""
    if earlier is None:
        return None
    ruling = earlier.ruling
    if ruling.basis == PENDING_REPEAT_BASIS and ruling.since is not None and ruling.due_on is not None:
        return (
            f"已关联的原案 {earlier.case_number} 已于{cn_date(ruling.since)}受理，正在办理期限内"
            f"（{cn_date(ruling.due_on)}前办结，{ruling.basis}）：{ruling.reason}。请核实本件是否在办理期限内"
            "向原受理、办理机关的上级机关又提出同一信访事项，确认后在分流中选择不予受理并出具不予受理告知书。"
        )
    since = f"已于{cn_date(ruling.since)}复核终结" if ruling.since is not None else "已复核终结"
    return (
        f"已关联的原案 {earlier.case_number} {since}（{ruling.basis}）：{ruling.reason}。"
        "请核实是否同一事实和理由，确认后在分流中选择不再受理并出具不再受理告知书。"
    )


def draft_view(
    kind: str, title: str, salutation: str | None, paragraphs: Sequence[str], signature: str
) -> DraftView:
    texts = [title, salutation or "", *paragraphs]
    gaps = tuple(dict.fromkeys(m for t in texts for m in _GAP.findall(t)))
    return DraftView(
        kind=kind,
        kind_name=DOCUMENT_KINDS.get(kind, kind),
        title=title,
        salutation=salutation or "",
        paragraphs=tuple(paragraphs),
        signature=signature,
        gaps=gaps,
    )


#: Who links a later letter to an earlier case as the same matter (those who decide routes).
LINKERS = frozenset({"intake_officer", "supervisor", "discipline_inspector"})


def case_section(
    session: Session,
    user: User,
    letter: Letter,
    *,
    catalogue: Catalogue,
    settings: Settings,
    people: Callable[[Sequence[str]], Mapping[str, str]],
    given: CaseInput | None = None,
) -> CaseSection | None:
    """The 办理过程 section of the letter page for ``user``, or ``None`` when they have no case to
    see there (a department handler before the matter is sent to their body, a merged letter).

    The caller has opened ``letter`` for ``user`` (``service.workflows.open_letter``).
    """
    case_number = letter.case_number
    given = given or CaseInput()
    # The letter is open already (and a look at a confidential one audited once, by the caller):
    # the case is read as service.cases.case_page reads it after opening the letter.
    view = cases.opened_case(session, user, letter)
    if view is None:
        return None
    case = view.case
    body_names = {d.code: d.name for d in catalogue.departments}

    def body(code: str) -> str:
        return body_names.get(code, code)

    names = Names(
        people=people([e.actor for e in case.events]),
        body=body,
        roles=ROLE_NAMES,
    )
    # Documents name the petitioner: only the roles that read particulars unmasked handle them.
    handles_documents = user.role in cases.DOCUMENT_ROLES
    documents = cases.case_documents(session, view) if handles_documents else []
    refs = [DocumentRef(d.kind, d.number) for d in documents]
    issued_by = people([d.issued_by for d in documents])
    forms = step_forms(
        view.allowed,
        channel=case.channel,
        today=view.today,
        bodies=[Choice(d.code, d.name) for d in catalogue.departments],
        target_body=case.target_body,
        documents=refs,
        values=given.values,
    )
    kinds = [
        kind
        for kind in dict.fromkeys(
            document_kind_for(s, case.channel) for s in view.allowed if s not in ISSUED_WITH_STEP
        )
        if kind is not None and handles_documents
    ]
    draft = given.draft
    error = given.error
    if draft is None and given.draft_kind:
        try:
            drafted = cases.draft(
                session, user, case_number, given.draft_kind, settings=settings, catalogue=catalogue
            )
        except (ServiceError, StoreError) as exc:
            error = str(exc)
        else:
            draft = draft_view(
                drafted.kind, drafted.title, drafted.salutation, drafted.paragraphs, drafted.signature
            )
    earlier = cases.earlier_ruling(session, view)
    readonly = None
    if not forms:
        if view.confidential and user.role not in ("supervisor", "discipline_inspector"):
            readonly = "本件属检举控告等保密事项，由科室负责人或纪检监察人员办理。"
        elif not case.is_open:
            readonly = f"本件{case.state_name}，没有待办理的步骤。"
        elif view.may_decide:
            readonly = "请先在下方确认或更正分流，再转送、交办或出具告知书。"
        else:
            readonly = f"本件处于「{case.state_name}」，当前没有您可以办理的步骤。"
    hint = None
    if case.state == CaseState.returned and view.may_decide and user.role in LINKERS:
        hint = "承办单位已异议退回：请在上方“更正确认结果”中重新确定去向（须填写理由），再转送或交办。"
    return CaseSection(
        hint=hint,
        case_number=view.case_number,
        version=view.version,
        state=case.state.value,
        state_name=case.state_name,
        handling_body=body(case.handling_body) if case.handling_body else None,
        linked_to=view.linked_to,
        open_escalation=case.is_open and any(e.step == Step.escalate for e in case.events),
        today=view.today,
        may_decide=view.may_decide,
        clocks=clock_views(view.clocks, view.today),
        events=event_views(case.events, names, masked=not cases.sees_particulars(user, view)),
        handles_documents=handles_documents,
        forms=forms,
        documents=[
            DocumentRow(
                id=d.id,
                kind=d.kind,
                kind_name=DOCUMENT_KINDS.get(d.kind, d.kind),
                number=d.number,
                issued_on=d.issued_on,
                issued_by=issued_by.get(d.issued_by, d.issued_by),
                sent_on=d.sent_on,
                may_record_sent=d.sent_on is None and user.role in cases.issuing_roles(d.kind),
            )
            for d in documents
        ],
        draft_kinds=[Choice(k, DOCUMENT_KINDS.get(k, k)) for k in kinds],
        suggested_kind=kinds[0] if kinds else None,
        draft=draft,
        may_link=user.role in LINKERS and case.is_open,
        repeat=_repeat_prompt(earlier),
        readonly_reason=readonly,
        error=error,
        notice=given.notice,
        open_step=given.open_step,
    )
