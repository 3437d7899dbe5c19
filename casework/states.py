"""The states of a 信访事项 after registration, the steps between them, and who may take each.

One table, :data:`TRANSITIONS`, says which step may follow which state, which roles may take it
and what state it leads to. Everything else here reads that table: :func:`apply` takes one step,
:func:`replay` rebuilds a case from its recorded events, :func:`allowed_steps` lists what can be
done next. The path it encodes (《信访工作条例》 2022):

- 登记 → 确定去向: the 信访部门 registers the matter and decides its route (第二十二条第一款);
- 转送 / 交办 within 15 days of receipt (第二十二条); a 交办 names a date by which the body reports
  its result (第二十二条第一款第三项);
- the receiving body 签收, then either 受理 and tells the petitioner in writing within 15 days
  (第二十三条第三款), or objects within 5 working days with its reasons (异议退回, same paragraph),
  after which the office routes the matter again;
- 不予受理 / 不再受理, each only with its written notice (文号 required): by the office on its
  decision, or by the receiving body (e.g. 第十九条第三款, 第三十六条第三款);
- 办理 → 出具处理意见 within 60 days of 受理 for a 第三十一条第六项 matter, extended once by at most
  30 days with a 负责人's approval and a reason told to the petitioner (第三十四条) → 办结;
- 复查 within 30 days of the written answer reaching the petitioner, answered within 30 days
  (第三十五条); 复核 likewise (第三十六条第一款), after which the matter is final: a later letter on
  the same facts and reasons is 不再受理 (第三十六条第三款). Only a 信访处理意见 (第三十一条第六项) can
  be reviewed: the answer to a 履职申请 is challenged by 行政复议 or 行政诉讼 instead;
- 听证 may be held while handling (第三十一条第六项) and during 复查/复核; its time does not count
  toward the 复核 period (第三十六条第二款);
- 督办 by a supervisor on any open case (第四十条), 重大紧急 reports (第二十五条) and the
  petitioner's satisfaction (第二十一条第二款: 方便信访人查询、评价) do not change the state.

Roles are those of the workbench (``service.access``), copied as strings so this package stays free of
the web layer. A department handler acts only for the body the case was transferred or assigned
to (the ``actor_department`` of the event must be that body). Whether a user may open a case at
all (confidential accusations, 第三十条第三款) is decided by the workbench's read policy before a
step reaches this module.

Every step is a :class:`CaseEvent`: who (``actor``, ``role``), when (``at``, and ``effective_on``
when the legal date differs from the recording, e.g. the day a letter arrived), why (``reason``)
and the particulars the step needs. Refusals raise :class:`casework.errors.StepRefused` with a
Chinese message naming the state and the steps it allows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from casework.errors import StepRefused
from casework.periods import (
    MAX_EXTENSION_DAYS,
    cn_date,
    conclude_due,
    objection_due,
    recheck_window_end,
    review_window_end,
)
from routing.codes import CHANNEL_NAMES, DISPOSITION_NAMES, Channel, Disposition
from store.models import ROLE_NAMES as STORED_ROLE_NAMES

#: China Standard Time, which has no daylight saving: the day an event happened is its date here,
#: not in UTC (an answer signed at 07:00 in Beijing is still the previous day in UTC).
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), name="CST")

# The workbench's roles (service/access.py), as strings.
INTAKE = "intake_officer"
SUPERVISOR = "supervisor"
INSPECTOR = "discipline_inspector"
HANDLER = "department_handler"
ANALYST = "analyst"
ADMINISTRATOR = "administrator"
ALL_ROLES: tuple[str, ...] = (INTAKE, SUPERVISOR, ANALYST, ADMINISTRATOR, HANDLER, INSPECTOR)
# The role names of the store, where the roles are defined (one table for the project).
ROLE_NAMES: dict[str, str] = STORED_ROLE_NAMES


class CaseState(StrEnum):
    registered = "registered"
    decided = "decided"
    transferred = "transferred"
    assigned = "assigned"
    received = "received"
    handling = "handling"
    answered = "answered"
    closed = "closed"
    not_accepted = "not_accepted"
    no_longer_accepted = "no_longer_accepted"
    returned = "returned"
    under_review = "under_review"
    review_answered = "review_answered"
    under_recheck = "under_recheck"
    final = "final"


STATE_NAMES: dict[CaseState, str] = {
    CaseState.registered: "已登记",
    CaseState.decided: "已确定去向",
    CaseState.transferred: "已转送",
    CaseState.assigned: "已交办",
    CaseState.received: "已签收",
    CaseState.handling: "办理中",
    CaseState.answered: "已出具处理意见",
    CaseState.closed: "已办结",
    CaseState.not_accepted: "不予受理",
    CaseState.no_longer_accepted: "不再受理",
    CaseState.returned: "已退回",
    CaseState.under_review: "复查中",
    CaseState.review_answered: "已出具复查意见",
    CaseState.under_recheck: "复核中",
    CaseState.final: "复核终结",
}


class Step(StrEnum):
    register = "register"
    decide = "decide"
    transfer = "transfer"
    assign = "assign"
    not_accept = "not_accept"
    no_longer_accept = "no_longer_accept"
    receive = "receive"
    object = "object"
    accept = "accept"
    extend = "extend"
    answer = "answer"
    serve = "serve"
    close = "close"
    request_review = "request_review"
    answer_review = "answer_review"
    request_recheck = "request_recheck"
    answer_recheck = "answer_recheck"
    hearing = "hearing"
    supervise = "supervise"
    escalate = "escalate"
    rate = "rate"


STEP_NAMES: dict[Step, str] = {
    Step.register: "登记",
    Step.decide: "确定去向",
    Step.transfer: "转送",
    Step.assign: "交办",
    Step.not_accept: "不予受理",
    Step.no_longer_accept: "不再受理",
    Step.receive: "签收",
    Step.object: "异议退回",
    Step.accept: "受理",
    Step.extend: "延期",
    Step.answer: "出具处理意见",
    Step.serve: "记录送达",
    Step.close: "办结",
    Step.request_review: "申请复查",
    Step.answer_review: "出具复查意见",
    Step.request_recheck: "申请复核",
    Step.answer_recheck: "出具复核意见",
    Step.hearing: "听证",
    Step.supervise: "督办",
    Step.escalate: "重大紧急报告",
    Step.rate: "满意度评价",
}


class Rating(StrEnum):
    """The petitioner's satisfaction with an answer, in the three grades offices record."""

    satisfied = "satisfied"
    basically_satisfied = "basically_satisfied"
    dissatisfied = "dissatisfied"


RATING_NAMES: dict[Rating, str] = {
    Rating.satisfied: "满意",
    Rating.basically_satisfied: "基本满意",
    Rating.dissatisfied: "不满意",
}

#: States in which the case still waits for someone to act: 督办 and 重大紧急 reports apply to
#: them. An answered case is open until closed, since 第四十条 also supervises the execution of a
#: 处理意见; a refused, closed or final case, and one whose 复查 answer stands, are not.
OPEN_STATES: frozenset[CaseState] = frozenset(
    {
        CaseState.registered,
        CaseState.decided,
        CaseState.transferred,
        CaseState.assigned,
        CaseState.received,
        CaseState.handling,
        CaseState.answered,
        CaseState.returned,
        CaseState.under_review,
        CaseState.under_recheck,
    }
)

_REGISTRARS = frozenset({INTAKE, SUPERVISOR})
# The office's own steps: who decides a route may carry it out. Discipline inspectors decide and
# forward the confidential matters (第二十二条第二款).
_OFFICE = frozenset({INTAKE, SUPERVISOR, INSPECTOR})
# The handling body's steps. A supervisor records them for a body that answers on paper; an
# inspector for the 纪检监察机关's own matters.
_BODY = frozenset({HANDLER, SUPERVISOR, INSPECTOR})
# Either side (closing, recording when an answer was served).
_EITHER = _OFFICE | _BODY
# 复查 and 复核 are requested of and answered by the bodies one level up; the office registers the
# request against the original case and records the answer.
_REVIEW = frozenset({INTAKE, SUPERVISOR})
# 第三十四条: the extension is approved by the body's 负责人; 第四十条: the office supervises.
_HEADS = frozenset({SUPERVISOR})
_ESCALATORS = frozenset({INTAKE, SUPERVISOR, INSPECTOR, HANDLER})
_RATERS = frozenset({INTAKE, SUPERVISOR})


@dataclass(frozen=True)
class Transition:
    """One row of the table: ``step`` may be taken in ``state`` by ``roles``; ``to`` is the state it
    leads to (``None``: the step is recorded and the state stays). ``state`` is ``None`` only for
    the registration that opens a case."""

    state: CaseState | None
    step: Step
    roles: frozenset[str]
    to: CaseState | None


_S = CaseState

TRANSITIONS: tuple[Transition, ...] = (
    Transition(None, Step.register, _REGISTRARS, _S.registered),
    Transition(_S.registered, Step.decide, _OFFICE, _S.decided),
    # a route can be corrected until it is carried out, and is decided again after a return
    Transition(_S.decided, Step.decide, _OFFICE, _S.decided),
    Transition(_S.returned, Step.decide, _OFFICE, _S.decided),
    Transition(_S.decided, Step.transfer, _OFFICE, _S.transferred),
    Transition(_S.decided, Step.assign, _OFFICE, _S.assigned),
    Transition(_S.decided, Step.not_accept, _OFFICE, _S.not_accepted),
    Transition(_S.decided, Step.no_longer_accept, _OFFICE, _S.no_longer_accepted),
    Transition(_S.transferred, Step.receive, _BODY, _S.received),
    Transition(_S.assigned, Step.receive, _BODY, _S.received),
    Transition(_S.received, Step.object, _BODY, _S.returned),
    Transition(_S.received, Step.accept, _BODY, _S.handling),
    Transition(_S.received, Step.not_accept, _BODY, _S.not_accepted),
    Transition(_S.received, Step.no_longer_accept, _BODY, _S.no_longer_accepted),
    Transition(_S.handling, Step.extend, _HEADS, None),
    Transition(_S.handling, Step.hearing, _BODY, None),
    Transition(_S.handling, Step.answer, _BODY, _S.answered),
    Transition(_S.answered, Step.serve, _EITHER, None),
    Transition(_S.answered, Step.close, _EITHER, _S.closed),
    Transition(_S.answered, Step.request_review, _REVIEW, _S.under_review),
    Transition(_S.answered, Step.rate, _RATERS, None),
    Transition(_S.closed, Step.serve, _EITHER, None),
    Transition(_S.closed, Step.request_review, _REVIEW, _S.under_review),
    Transition(_S.closed, Step.rate, _RATERS, None),
    Transition(_S.under_review, Step.hearing, _REVIEW, None),
    Transition(_S.under_review, Step.answer_review, _REVIEW, _S.review_answered),
    Transition(_S.review_answered, Step.serve, _REVIEW, None),
    Transition(_S.review_answered, Step.request_recheck, _REVIEW, _S.under_recheck),
    Transition(_S.review_answered, Step.rate, _RATERS, None),
    Transition(_S.under_recheck, Step.hearing, _REVIEW, None),
    Transition(_S.under_recheck, Step.answer_recheck, _REVIEW, _S.final),
    Transition(_S.final, Step.serve, _REVIEW, None),
    Transition(_S.final, Step.rate, _RATERS, None),
    *(Transition(state, Step.supervise, _HEADS, None) for state in CaseState if state in OPEN_STATES),
    *(Transition(state, Step.escalate, _ESCALATORS, None) for state in CaseState if state in OPEN_STATES),
)

_TABLE: dict[tuple[CaseState | None, Step], Transition] = {(t.state, t.step): t for t in TRANSITIONS}
if len(_TABLE) != len(TRANSITIONS):  # pragma: no cover - a duplicated row is a programming error
    raise RuntimeError("casework.states.TRANSITIONS has a duplicated (state, step) row")

# ------------------------------------------------------------------------ the event of one step

#: The particulars an event may carry, with their names on screen.
FIELD_NAMES: dict[str, str] = {
    "reason": "理由",
    "effective_on": "日期",
    "channel": "办理途径",
    "disposition": "处理方式",
    "body": "承办单位",
    "due_on": "期限",
    "days": "天数",
    "basis": "依据条款",
    "document_no": "文号",
    "rating": "满意度",
    "participants": "参加人员",
    "minutes": "听证记录",
    "reported_to": "报告对象",
    "measures": "采取的措施",
}
_PARTICULARS = frozenset(FIELD_NAMES) - {"reason", "effective_on"}


@dataclass(frozen=True)
class StepSpec:
    """What an event of a step must and may carry beyond who, when and why.

    ``required`` may name ``reason`` (the law asks for it: 异议 "详细说明理由", 延期 "告知延期理由",
    不予受理 with its reason …) and ``effective_on`` (a date that is the point of the step, such as
    the day the answer reached the petitioner). A step that issues a document requires its 文号.
    """

    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()


def _spec(required: str = "", optional: str = "") -> StepSpec:
    return StepSpec(frozenset(required.split()), frozenset(optional.split()))


STEP_SPECS: dict[Step, StepSpec] = {
    Step.register: _spec(),
    Step.decide: _spec("channel disposition", "body"),
    Step.transfer: _spec("body document_no"),
    Step.assign: _spec("body due_on document_no"),
    Step.not_accept: _spec("reason basis document_no"),
    Step.no_longer_accept: _spec("reason basis document_no"),
    Step.receive: _spec(),
    Step.object: _spec("reason"),
    # 第二十三条第四款: the 政法部门's and 纪检监察机关's notice follows their own rules, so the
    # 受理告知书's number is checked against the route in apply(), not here.
    Step.accept: _spec("", "document_no"),
    Step.extend: _spec("days reason document_no"),
    Step.answer: _spec("document_no"),
    Step.serve: _spec("effective_on"),
    Step.close: _spec(),
    Step.request_review: _spec("reason"),
    Step.answer_review: _spec("", "document_no"),
    Step.request_recheck: _spec("reason"),
    Step.answer_recheck: _spec("", "document_no"),
    Step.hearing: _spec("participants minutes days"),
    Step.supervise: _spec("reason due_on document_no"),
    # 第二十五条: reported to whom, and the measures taken "防止不良影响的产生、扩大" once known
    Step.escalate: _spec("reason reported_to", "measures"),
    Step.rate: _spec("rating"),
}


def _names(fields: Iterable[str]) -> str:
    return "、".join(FIELD_NAMES[f] for f in sorted(fields, key=list(FIELD_NAMES).index))


class CaseEvent(BaseModel):
    """One step taken on a case: who, when, why, and the step's own particulars.

    ``at`` is when the step was recorded (timezone-aware, as the store keeps it); ``effective_on``
    is the legal date of the step when it differs (the day the letter arrived, the day the answer
    reached the petitioner, the day of a hearing) and may not be later than the recording.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: Step
    actor: str = Field(min_length=1, description="the username of who took the step")
    role: str = Field(description="the actor's role when taking it (service.access roles)")
    at: dt.datetime
    reason: str = ""
    effective_on: dt.date | None = None
    #: The actor's department; checked against the handling body when a department handler acts.
    actor_department: str | None = None
    channel: str | None = None
    disposition: str | None = None
    body: str | None = None
    due_on: dt.date | None = None
    days: int | None = None
    basis: str | None = None
    document_no: str | None = None
    rating: Rating | None = None
    participants: tuple[str, ...] = ()
    minutes: str = ""
    reported_to: tuple[str, ...] = ()
    measures: str = ""

    @property
    def day(self) -> dt.date:
        """The date the step counts from: ``effective_on``, else the recording day in China."""
        return self.effective_on or self.at.astimezone(CHINA_TZ).date()

    @property
    def step_name(self) -> str:
        return STEP_NAMES[self.step]

    @model_validator(mode="after")
    def _check(self) -> CaseEvent:
        name = STEP_NAMES[self.step]
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError(f"「{name}」的记录时间须带时区（如 datetime.now(UTC)）")
        if self.role not in ALL_ROLES:
            raise ValueError(f"未知角色「{self.role}」")
        if self.effective_on is not None and self.effective_on > self.at.astimezone(CHINA_TZ).date():
            raise ValueError(f"「{name}」的日期{cn_date(self.effective_on)}晚于记录日期")
        spec = STEP_SPECS[self.step]
        missing = {f for f in spec.required if not _present(getattr(self, f))}
        if missing:
            raise ValueError(f"「{name}」须填写：{_names(missing)}")
        extra = {f for f in _PARTICULARS - spec.required - spec.optional if _present(getattr(self, f))}
        if extra:
            raise ValueError(f"「{name}」不填写：{_names(extra)}")
        if self.channel is not None and self.channel not in set(Channel):
            raise ValueError(f"未知办理途径「{self.channel}」")
        if self.disposition is not None and self.disposition not in set(Disposition):
            raise ValueError(f"未知处理方式「{self.disposition}」")
        if self.step == Step.extend and self.days is not None and not 1 <= self.days <= MAX_EXTENSION_DAYS:
            raise ValueError(f"延长期限为1至{MAX_EXTENSION_DAYS}日（第三十四条），不能为{self.days}日")
        if self.step == Step.hearing and self.days is not None and self.days < 1:
            raise ValueError("听证所需时间至少1日")
        if self.due_on is not None and self.due_on <= self.day:
            raise ValueError(f"「{name}」的期限{cn_date(self.due_on)}须晚于{cn_date(self.day)}")
        return self


def _present(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, str | tuple):
        return any(str(v).strip() for v in value) if isinstance(value, tuple) else bool(value.strip())
    return True


# ---------------------------------------------------------------------------- the case itself


@dataclass(frozen=True)
class Case:
    """A case as its events leave it: the state and what later steps and clocks need to know.

    ``received_on`` is the day the office received the matter; ``entered_on`` the day of the step
    that put the case in its state. ``answered_on``/``served_on``/``rated`` belong to the latest
    answer (处理意见, 复查意见 or 复核意见): each new answer starts them again.
    """

    state: CaseState
    events: tuple[CaseEvent, ...]
    received_on: dt.date
    entered_on: dt.date
    channel: str | None = None
    disposition: str | None = None
    target_body: str | None = None
    handling_body: str | None = None
    body_received_on: dt.date | None = None
    accepted_on: dt.date | None = None
    extension_days: int = 0
    answered_on: dt.date | None = None
    served_on: dt.date | None = None
    rated: bool = False
    #: 听证 days during the current 复核, which do not count toward its 30 days (第三十六条第二款).
    hearing_days: int = 0

    @property
    def state_name(self) -> str:
        return STATE_NAMES[self.state]

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_final(self) -> bool:
        return self.state == CaseState.final


def _allowed_names(steps: Iterable[Step]) -> str:
    return "、".join(STEP_NAMES[s] for s in steps) or "无"


def _blocked(case: Case | None, step: Step) -> str | None:
    """Why ``step``, which the table allows in the case's state, cannot be taken on this case now
    (whoever asks, whenever), or ``None``."""
    if case is None:
        return None
    route = CHANNEL_NAMES.get(case.channel or "", case.channel or "")
    disposition = DISPOSITION_NAMES.get(case.disposition or "", case.disposition or "")
    if step in (Step.transfer, Step.assign) and case.disposition not in (
        Disposition.accept,
        Disposition.redirect,
    ):
        return f"确定的处理方式为「{disposition}」，应出具告知书，不转送、交办"
    if case.state == CaseState.decided and step in (Step.not_accept, Step.no_longer_accept):
        wanted = Disposition.not_accepted if step == Step.not_accept else Disposition.no_longer_accepted
        if case.disposition != wanted:
            return f"确定的处理方式为「{disposition}」；如需{STEP_NAMES[step]}，请先改定去向"
    if step == Step.extend:
        if case.channel != Channel.ordinary:
            return f"本案按「{route}」办理；延期只适用于第三十一条第六项事项的60日办理期限（第三十四条）"
        if case.extension_days:
            return f"已延期{case.extension_days}日；办理期限只能延长一次，且不超过30日（第三十四条）"
    if step == Step.serve and case.served_on is not None:
        return f"本次答复已记录送达（{cn_date(case.served_on)}）"
    if step == Step.rate and case.rated:
        return "本次答复已记录满意度评价"
    if step == Step.request_review:
        if case.channel != Channel.ordinary:
            return (
                f"本案按「{route}」办理，其答复不适用复查：复查只适用于信访处理意见"
                "（第三十一条第六项、第三十五条）"
            )
        if case.served_on is None:
            return "处理意见尚未记录送达日期，无法计算复查请求期限（第三十五条：自收到书面答复之日起30日内）"
    if step == Step.request_recheck and case.served_on is None:
        return "复查意见尚未记录送达日期，无法计算复核请求期限（第三十六条：自收到书面答复之日起30日内）"
    return None


def allowed_steps(
    case: Case | None, role: str | None = None, *, department: str | None = None
) -> tuple[Step, ...]:
    """The steps that can be taken next on ``case`` (``None``: not registered yet), in table order.

    With ``role``, only the steps that role may take; a department handler also needs
    ``department`` to be the case's handling body.
    """
    state = case.state if case is not None else None
    if role == HANDLER and (case is None or case.handling_body is None or department != case.handling_body):
        return ()
    return tuple(
        t.step
        for t in TRANSITIONS
        if t.state == state and (role is None or role in t.roles) and _blocked(case, t.step) is None
    )


def _refuse(case: Case | None, step: Step, why: str | None = None) -> StepRefused:
    state = case.state if case is not None else None
    allowed = allowed_steps(case)
    where = f"案件处于「{STATE_NAMES[state]}」" if state is not None else "案件尚未登记"
    because = f"：{why}" if why else ""
    return StepRefused(
        f"{where}，不能「{STEP_NAMES[step]}」{because}；可进行：{_allowed_names(allowed)}",
        state=state,
        step=step,
        allowed=tuple(allowed),
    )


def _guard(case: Case | None, event: CaseEvent) -> None:
    """The limits that depend on the event itself: its date against a statutory period."""
    step, day = event.step, event.day
    if case is None:
        return

    def refuse(message: str) -> StepRefused:
        return StepRefused(message, state=case.state, step=step, allowed=allowed_steps(case))

    if step in (Step.serve, Step.rate):
        if case.answered_on is not None and day < case.answered_on:
            raise refuse(f"「{event.step_name}」的日期{cn_date(day)}早于答复日期{cn_date(case.answered_on)}")
    elif day < case.entered_on:
        raise refuse(
            f"「{event.step_name}」的日期{cn_date(day)}早于案件进入「{case.state_name}」的日期"
            f"{cn_date(case.entered_on)}"
        )
    if step == Step.object and case.body_received_on is not None:
        due, _ = objection_due(case.body_received_on)
        if day > due:
            raise refuse(
                f"异议期限已过：应自收到转送、交办之日（{cn_date(case.body_received_on)}）起5个工作日内，"
                f"即{cn_date(due)}前提出（第二十三条第三款）"
            )
    if step == Step.extend and case.accepted_on is not None:
        due, _ = conclude_due(case.accepted_on)
        if day > due:
            raise refuse(
                f"办理期限已于{cn_date(due)}届满，不能再延期；延期须在期限内经负责人批准（第三十四条）"
            )
    if step == Step.request_review and case.served_on is not None:
        end, _ = review_window_end(case.served_on)
        if day > end:
            raise refuse(
                f"复查请求已超过期限：处理意见于{cn_date(case.served_on)}送达信访人，"
                f"应自收到书面答复之日起30日内，即{cn_date(end)}前请求复查（第三十五条）"
            )
    if step == Step.request_recheck and case.served_on is not None:
        end, _ = recheck_window_end(case.served_on)
        if day > end:
            raise refuse(
                f"复核请求已超过期限：复查意见于{cn_date(case.served_on)}送达信访人，"
                f"应自收到书面答复之日起30日内，即{cn_date(end)}前请求复核（第三十六条第一款）"
            )
    if (
        step == Step.accept
        and not event.document_no
        and case.channel not in (Channel.litigation, Channel.discipline)
    ):
        raise refuse("「受理」须填写受理告知书的文号：收到之日起15日内书面告知信访人（第二十三条第三款）")


def apply(case: Case | None, event: CaseEvent) -> Case:
    """The case after ``event``; ``case`` is ``None`` for the registration that opens it.

    Raises:
        StepRefused: the state does not allow the step, the role may not take it, a department
            handler acts for another body, a statutory period has run out, or the event is dated
            before the step it follows.
    """
    if case is not None and event.at < case.events[-1].at:
        raise StepRefused(
            f"「{event.step_name}」的记录时间早于上一步「{case.events[-1].step_name}」",
            state=case.state,
            step=event.step,
            allowed=allowed_steps(case),
        )
    state = case.state if case is not None else None
    row = _TABLE.get((state, event.step))
    if row is None:
        raise _refuse(case, event.step)
    blocked = _blocked(case, event.step)
    if blocked:
        raise _refuse(case, event.step, blocked)
    if event.role not in row.roles:
        roles = "、".join(ROLE_NAMES[r] for r in ALL_ROLES if r in row.roles)
        raise StepRefused(
            f"「{ROLE_NAMES.get(event.role, event.role)}」不能进行「{event.step_name}」；该步骤限：{roles}",
            state=state,
            step=event.step,
            allowed=allowed_steps(case),
        )
    if event.role == HANDLER:
        body = case.handling_body if case is not None else None
        if body is None or event.actor_department != body:
            raise StepRefused(
                f"承办单位人员只能办理本单位承办的案件（本案承办单位：{body or '尚未转送、交办'}）",
                state=state,
                step=event.step,
                allowed=allowed_steps(case),
            )
    _guard(case, event)
    return _advance(case, event, row)


def _advance(case: Case | None, event: CaseEvent, row: Transition) -> Case:
    day = event.day
    if case is None:
        return Case(state=CaseState.registered, events=(event,), received_on=day, entered_on=day)
    changes: dict[str, object] = {"events": (*case.events, event)}
    if row.to is not None:
        changes.update(state=row.to, entered_on=day)
    step = event.step
    if step == Step.decide:
        changes.update(channel=event.channel, disposition=event.disposition, target_body=event.body)
    elif step in (Step.transfer, Step.assign):
        # a new 转送/交办 after a return starts the receiving body's part afresh
        changes.update(handling_body=event.body, body_received_on=None, accepted_on=None)
    elif step == Step.receive:
        changes.update(body_received_on=day)
    elif step == Step.object:
        changes.update(handling_body=None)
    elif step == Step.accept:
        changes.update(accepted_on=day)
    elif step == Step.extend:
        changes.update(extension_days=event.days)
    elif step in (Step.answer, Step.answer_review, Step.answer_recheck):
        changes.update(answered_on=day, served_on=None, rated=False)
    elif step == Step.serve:
        changes.update(served_on=day)
    elif step == Step.rate:
        changes.update(rated=True)
    elif step == Step.request_recheck:
        changes.update(hearing_days=0)
    elif step == Step.hearing and case.state == CaseState.under_recheck:
        changes.update(hearing_days=case.hearing_days + (event.days or 0))
    return dataclasses.replace(case, **changes)  # type: ignore[arg-type]


def replay(events: Iterable[CaseEvent]) -> Case:
    """The case its recorded ``events`` lead to, checking every step as :func:`apply` would.

    Raises:
        StepRefused: the list is empty or a step in it is not allowed where it stands; the message
            says which step (第N步).
    """
    case: Case | None = None
    for number, event in enumerate(events, start=1):
        try:
            case = apply(case, event)
        except StepRefused as exc:
            raise StepRefused(
                f"第{number}步「{event.step_name}」：{exc.message}",
                state=exc.state,
                step=exc.step,
                allowed=exc.allowed,
            ) from exc
    if case is None:
        raise StepRefused("没有任何记录：案件须从「登记」开始", allowed=(Step.register,))
    return case


@dataclass(frozen=True)
class RepeatRuling:
    """What a later letter on the same matter gets, and why (for the intake officer to confirm).

    ``since`` is the day the earlier case reached what decides it (its 复核意见, or its 受理);
    ``due_on`` the last day of the time limit it is handled within, when that is what counts.
    """

    disposition: str
    basis: str
    reason: str
    case_received_on: dt.date
    since: dt.date | None = None
    due_on: dt.date | None = None


#: 第十九条第三款: the earlier case is accepted and still handled within its time limit.
PENDING_REPEAT_BASIS = "第十九条第三款"
#: 第三十六条第三款: the earlier case is final after 复核.
FINAL_REPEAT_BASIS = "第三十六条第三款"


def handling_due(case: Case) -> dt.date | None:
    """The last day of the time limit an accepted case is handled within, when the law gives one here.

    Only a 第三十一条第六项 matter has it in the 条例 (60 days from 受理, extended at most once by 30
    days, 第三十四条); a matter handled in another procedure follows that procedure's periods,
    which the case does not record.
    """
    if case.accepted_on is None or case.channel != Channel.ordinary:
        return None
    return conclude_due(case.accepted_on, case.extension_days)[0]


def repeat_letter_ruling(case: Case, on: dt.date | None = None) -> RepeatRuling | None:
    """The ruling on a later letter raising the same matter as ``case``, or ``None`` if the case does
    not decide it.

    - After 复核 the matter is final: a petitioner who still objects on the same facts and reasons
      is not accepted again (第三十六条第三款).
    - While the case is accepted and handled within its time limit, a petitioner who brings the
      same matter to a higher body within that limit is not accepted there (第十九条第三款). ``on``
      is the day the later letter was received: the limit must not have run out by then. Without
      ``on`` this ruling is not given, since "within its time limit" cannot be judged.

    Whether the later letter raises the same matter (and, for 第十九条第三款, whether it went to a
    body above the one handling it) is for the officer to confirm; this only says what the earlier
    case implies.
    """
    if case.state == CaseState.final:
        return RepeatRuling(
            disposition=Disposition.no_longer_accepted,
            basis=FINAL_REPEAT_BASIS,
            reason=(
                f"同一信访事项已于{cn_date(case.entered_on)}出具复核意见；信访人对复核意见不服，"
                "仍然以同一事实和理由提出投诉请求的，不再受理"
            ),
            case_received_on=case.received_on,
            since=case.entered_on,
        )
    if case.state == CaseState.handling and on is not None and case.accepted_on is not None:
        due = handling_due(case)
        if due is None or on > due or on < case.accepted_on:
            return None
        return RepeatRuling(
            disposition=Disposition.not_accepted,
            basis=PENDING_REPEAT_BASIS,
            reason=(
                f"同一信访事项已于{cn_date(case.accepted_on)}受理，正在办理，办理期限至{cn_date(due)}；"
                "信访事项已经受理或者正在办理的，信访人在规定期限内向受理、办理机关、单位的上级机关、"
                "单位又提出同一信访事项的，上级机关、单位不予受理"
            ),
            case_received_on=case.received_on,
            since=case.accepted_on,
            due_on=due,
        )
    return None
