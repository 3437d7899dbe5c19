"""The case's life after the route, as both shells offer it: reading a case, taking its steps,
drafting and issuing its documents, supervision (督办) and the open 重大紧急 reports.

Every operation first asks whether the user may open the letter at all (``service.access``, through
:func:`service.workflows.open_letter`, which audits a look at a confidential letter), and answers a
letter they may not open exactly as one that does not exist. A department handler sees only the cases
their own body handles (转送 or 交办 to it), and never a confidential one, so never an accusation
against their body. What a role may then do is ``casework``'s: its refusals are store errors with
Chinese messages, which ``api.errors`` maps (403 a role or body that may not act, 409 a state or a
changed case, 422 a malformed step).

Writes commit as soon as their rows are in, as :mod:`service.workflows` does: the store holds the audit
log's head for the whole transaction, and building a response must not keep other officers waiting.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import cases as store_cases
from casework import issuing
from casework import supervision as store_supervision

# casework's names, enums and the shapes of its answers, as the shells read them: api/ imports
# none of casework (tests/test_layers.py), so the shells meet the case's law only through here.
from casework.cases import CaseLink, CaseView, EarlierRuling
from casework.clocks import Clock, ClockStatus
from casework.documents import (
    DOCUMENT_KINDS,
    STEP_DOCUMENTS,
    Draft,
    Template,
    document_kind_for,
    load_templates,
)
from casework.periods import MAX_EXTENSION_DAYS, cn_date
from casework.states import (
    CHINA_TZ,
    FIELD_NAMES,
    PENDING_REPEAT_BASIS,
    RATING_NAMES,
    STATE_NAMES,
    STEP_NAMES,
    STEP_SPECS,
    TRANSITIONS,
    CaseEvent,
    CaseState,
    Step,
)
from casework.supervision import OpenEscalation, SupervisedCase
from routing.catalogue import Catalogue
from service import access
from service.errors import Forbidden, InvalidInput, NotFound
from service.settings import Settings
from service.views import department_name
from service.workflows import open_letter, role_name
from store.errors import InvalidStateError, NotFoundError
from store.letters import china_today
from store.models import CaseDocument, CaseRecord, Letter, User
from store.queries_api import letter_bundle

#: Who reads the supervisor's view (第四十条 督查督办): 科室负责人 every case, 纪检监察人员 the
#: confidential ones (the others are counted, not listed, to them).
SUPERVISE = frozenset({access.SUPERVISOR, access.INSPECTOR})
#: Who reads the open 重大紧急 reports (第二十五条): those who may make one; each sees the cases
#: they may open.
READ_ESCALATIONS = frozenset({access.INTAKE, access.SUPERVISOR, access.INSPECTOR, access.HANDLER})

#: Who drafts and issues documents, and reads them once issued: the roles that see the
#: petitioner's particulars unmasked (a document names the petitioner, a 转送函 also their address
#: and telephone). Which kinds each may issue is ``casework.issuing``'s.
DOCUMENT_ROLES = access.UNMASKED_ON_LETTER

#: What a draft shows where the officer still has to write something (the opinion, a reason …);
#: a document that still holds it is not issued.
TO_FILL = "【请填写：{label}】"
_TO_FILL_RE = re.compile(r"【请填写：[^】]*】")


def unfilled_marks(text: str) -> list[str]:
    """The 【请填写：…】 marks still in ``text``."""
    return _TO_FILL_RE.findall(text)


# The kinds the handling body issues in its own name; the rest are the office's.
_BODY_KINDS = frozenset({"acceptance_notice", "handling_opinion", "complaint_outcome_notice"})


def _hidden(case_number: str) -> NotFound:
    return NotFound(f"没有您可以查看的案件编号为“{case_number}”的信访事项，请核对案件编号")


@dataclass(frozen=True)
class _Opened:
    """A letter ``user`` may open as a case: its row, and the body handling it (the ``cases``
    row's, which each step writes in its own transaction)."""

    letter: Letter
    handling_body: str | None


def _open(session: Session, user: User, case_number: str, purpose: str) -> _Opened:
    """The letter of a case ``user`` may open, or NotFound as for a case number that does not
    exist. Cheap: the writes check who may act again under their locks."""
    bundle = open_letter(session, user, case_number, purpose=purpose)
    body = session.scalar(select(CaseRecord.handling_body).where(CaseRecord.letter_id == bundle.letter.id))
    if user.role == access.HANDLER and (body is None or body != user.department):
        raise _hidden(case_number)
    return _Opened(letter=bundle.letter, handling_body=body)


def _case_for(
    session: Session, user: User, case_number: str, today: dt.date | None, purpose: str
) -> CaseView:
    """The case of a letter ``user`` may open, or NotFound as for a case number that does not exist."""
    opened = _open(session, user, case_number, purpose)
    view = store_cases.case_of(session, opened.letter, user=user.username, today=today or china_today())
    if user.role == access.HANDLER and (view.handling_body is None or view.handling_body != user.department):
        raise _hidden(case_number)
    return view


def sees_particulars(user: User, view: CaseView) -> bool:
    """Whether ``user`` reads the case's free text (reasons, minutes, measures, participants)
    unmasked: as the letter's particulars (``service.access.sees_particulars``)."""
    if view.confidential:
        return user.role in access.CONFIDENTIAL_READERS
    return user.role in access.UNMASKED_ON_LETTER


def _may_handle_documents(user: User) -> None:
    if user.role not in DOCUMENT_ROLES:
        raise Forbidden(
            f"{role_name(user.role)}不能起草、出具或查看文书（文书载有信访人个人信息）；限："
            + "、".join(role_name(r) for r in access.ALL_ROLES if r in DOCUMENT_ROLES)
        )


def may_open_case(user: User, *, confidential: bool, handling_body: str | None) -> bool:
    """Whether ``user`` may open a case listed somewhere (supervision, escalations), by the same rule
    as :func:`case_page`: the role's scope of letters, and a handler only their own body's cases."""
    if user.role not in access.READ_LETTERS:
        return False
    scope = access.scope_of(user)
    if scope.confidential is not None and scope.confidential != confidential:
        return False
    if user.role == access.HANDLER:
        return handling_body is not None and handling_body == user.department
    return True


# ------------------------------------------------------------------------------------ the case


def case_page(session: Session, user: User, case_number: str, *, today: dt.date | None = None) -> CaseView:
    """The case of ``case_number`` with its clocks as on ``today`` (default today in China) and the
    steps ``user`` may take next (``CaseView.allowed``; pass ``CaseView.version`` back with a step).

    Raises:
        Forbidden: the role reads no letter.
        NotFound: no such letter, or one the user may not open (a handler: not their body's case).
    """
    return _case_for(session, user, case_number, today, "case")


def opened_case(session: Session, user: User, letter: Letter) -> CaseView | None:
    """The case of a letter ``user`` has opened already (``service.workflows.open_letter``, which
    audited a look at a confidential one), as :func:`case_page` reads it, for the letter page; None
    for a merged letter, or for a handler whose body does not handle the case."""
    try:
        view = store_cases.case_of(session, letter, user=user.username, today=china_today())
    except InvalidStateError:
        return None
    if user.role == access.HANDLER and (view.handling_body is None or view.handling_body != user.department):
        return None
    return view


def earlier_ruling(session: Session, view: CaseView) -> EarlierRuling | None:
    """What the earlier case this letter is linked to as the same matter proposes for it (不再受理
    after a 复核, 不予受理 while that case is handled within its time limit), while the case is
    still open: once refused, the proposal has been acted on."""
    if view.linked_to is None or not view.case.is_open:
        return None
    return store_cases.earlier_ruling_case(session, view.letter_id)


def issuing_roles(kind: str) -> frozenset[str]:
    """Who may issue, and record the sending of, a document of ``kind``: whoever takes a step that
    sends it, as ``casework.issuing`` checks it."""
    steps = {step for step, sent in STEP_DOCUMENTS.items() if sent == kind}
    if kind in ("handling_opinion", "complaint_outcome_notice"):
        steps.add(Step.answer)
    return frozenset(r for t in TRANSITIONS if t.step in steps for r in t.roles)


def case_documents(session: Session, view: CaseView) -> list[CaseDocument]:
    """The documents issued on a case already opened with :func:`case_page`, in the order issued."""
    return issuing.documents_of(session, view.letter_id)


def take_step(
    session: Session,
    user: User,
    case_number: str,
    step: str,
    fields: Mapping[str, Any] | None,
    *,
    expected_version: int,
    catalogue: Catalogue | None = None,
) -> CaseView:
    """``user`` takes ``step`` with its ``fields`` on the case, as it was at ``expected_version``.

    Raises:
        NotFound: as :func:`case_page`.
        store.errors.NotAllowedError: the role, or the handler's body, may not take the step.
        store.errors.InvalidValueError: the fields are incomplete or malformed.
        casework.cases.CaseStepRefused: the state or a statutory period does not allow it.
        casework.cases.CaseChangedError: the case changed since ``expected_version``.
    """
    if step == Step.supervise.value:
        raise InvalidInput(
            f"督办与督办单一并办理：请在督办页面或 {case_number} 的办理过程中填写督办事由和办结期限，"
            f"出具督办单并督办（POST /api/v1/letters/{case_number}/supervise）"
        )
    opened = _open(session, user, case_number, "step")
    codes = {d.code: d.name for d in catalogue.departments} if catalogue is not None else None
    after = store_cases.take_step(
        session,
        user.username,
        opened.letter.id,
        step,
        dict(fields or {}),
        expected_version=expected_version,
        department_codes=codes,
    )
    session.commit()
    return after


def still_opens(session: Session, user: User, case_number: str) -> bool:
    """Whether ``user`` may still open the letter after a step they took on it: a body's 异议退回
    sends the case back to the office, out of its handlers' scope."""
    try:
        bundle = letter_bundle(session, case_number)
    except NotFoundError:
        return False
    return access.can_read(user, access.letter_state(bundle))


def link(
    session: Session,
    user: User,
    case_number: str,
    earlier_case_number: str | None,
    reason: str | None,
    *,
    expected_version: int,
) -> CaseLink:
    """Record that the letter raises the same matter as an earlier case (``None`` unlinks): after a
    复核 the later letter is proposed 不再受理 (第三十六条第三款). Both letters must be ones the user
    may open.

    Raises:
        NotFound: either letter is unknown or one the user may not open.
        store.errors.NotAllowedError: the role does not decide routes.
        store.errors.InvalidValueError: no reason, itself, a later case, a loop.
        casework.cases.CaseChangedError: the letter changed since ``expected_version``.
    """
    bundle = open_letter(session, user, case_number, purpose="link")
    earlier = None
    if earlier_case_number is not None and earlier_case_number.strip():
        earlier = open_letter(session, user, earlier_case_number.strip().upper(), purpose="link").letter
    result = store_cases.link_same_matter(
        session,
        user.username,
        bundle.letter,
        earlier,
        reason=reason,
        expected_version=expected_version,
    )
    session.commit()
    return result


# ---------------------------------------------------------------------------------- documents


def _issuer(kind: str, opened: _Opened, settings: Settings, catalogue: Catalogue | None) -> str:
    """Who signs a document of ``kind``: the handling body its own notices and answers, the office
    the rest."""
    body = opened.handling_body
    if kind in _BODY_KINDS and body is not None:
        return (department_name(catalogue, body) if catalogue is not None else None) or body
    return settings.office_name


def _department_names(catalogue: Catalogue | None) -> dict[str, str]:
    return {d.code: d.name for d in catalogue.departments} if catalogue is not None else {}


def _template(kind: str, templates: Mapping[str, Template]) -> Template:
    template = templates.get(kind)
    if template is None:
        kinds = "、".join(f"{name}（{code}）" for code, name in DOCUMENT_KINDS.items() if code in templates)
        raise InvalidInput(f"没有“{kind}”这种文书；可选：{kinds}")
    return template


def _draft_for(
    session: Session,
    opened: _Opened,
    kind: str,
    values: Mapping[str, object] | None,
    *,
    settings: Settings,
    catalogue: Catalogue | None,
    templates: Mapping[str, Template],
) -> Draft:
    template = _template(kind, templates)
    known = issuing.case_values(session, opened.letter.id, department_names=_department_names(catalogue))
    given = {"issuer": _issuer(kind, opened, settings, catalogue), **known, **(values or {})}
    if kind == "acceptance_notice" and given.get("accepted_on") is None:
        # The notice is issued with the 受理 it reports (the step cites its 文号): that day, today.
        given["accepted_on"] = china_today()
    # What only the officer can write (the opinion, the reason …) is marked for them to fill in.
    for name, spec in template.fields.items():
        if spec.required and (given.get(name) is None or (isinstance(given[name], str) and not given[name])):
            given[name] = TO_FILL.format(label=spec.label)
    return issuing.draft_document(
        session,
        opened.letter.id,
        kind,
        given,
        department_names=_department_names(catalogue),
        templates=templates,
    )


def draft(
    session: Session,
    user: User,
    case_number: str,
    kind: str,
    *,
    settings: Settings,
    catalogue: Catalogue | None = None,
    values: Mapping[str, object] | None = None,
    templates: Mapping[str, Template] | None = None,
) -> Draft:
    """The ``kind`` document of the case filled from the case and its route, for the officer to
    review and edit; what only the officer can write is marked 【请填写：…】.

    Raises:
        NotFound: as :func:`case_page`.
        Forbidden: a role that handles no documents.
        InvalidInput: no such kind.
    """
    _may_handle_documents(user)
    opened = _open(session, user, case_number, "draft")
    table = templates if templates is not None else load_templates()
    return _draft_for(session, opened, kind, values, settings=settings, catalogue=catalogue, templates=table)


def issue(
    session: Session,
    user: User,
    case_number: str,
    kind: str,
    title: str,
    paragraphs: Sequence[str],
    *,
    settings: Settings,
    catalogue: Catalogue | None = None,
    salutation: str | None = None,
    sent_on: dt.date | None = None,
    templates: Mapping[str, Template] | None = None,
) -> CaseDocument:
    """Issue the officer's reviewed text of a ``kind`` document under the office's next 文号
    (``settings.office_abbreviation``), signed as drafted (the office, ``settings.office_name``, or
    the handling body for its own notices); ``sent_on`` records the day it went out.

    Raises:
        NotFound: as :func:`case_page`.
        InvalidInput: no such kind, or the text still holds a 【请填写：…】 mark.
        store.errors.NotAllowedError: the role, or the handler's body, may not issue the kind.
        store.errors.InvalidValueError: an empty title or body, a day sent before the issue or after today.
    """
    if kind == store_supervision.SUPERVISION_SHEET:
        raise InvalidInput(
            f"督办单与督办一并出具：请在督办页面或 {case_number} 的办理过程中填写督办事由和办结期限，"
            f"出具督办单并督办（POST /api/v1/letters/{case_number}/supervise）"
        )
    _may_handle_documents(user)
    opened = _open(session, user, case_number, "issue")
    table = templates if templates is not None else load_templates()
    drafted = _draft_for(session, opened, kind, None, settings=settings, catalogue=catalogue, templates=table)
    try:
        reviewed = drafted.edit(title=title, paragraphs=list(paragraphs), salutation=salutation)
    except ValueError as exc:  # casework.errors.DocumentError
        raise InvalidInput(str(exc)) from None
    texts = [reviewed.title, reviewed.salutation or "", *reviewed.paragraphs, reviewed.signature]
    unfilled = sorted({m for t in texts for m in unfilled_marks(t)})
    if unfilled:
        raise InvalidInput(f"文书中还有未填写的内容：{'、'.join(unfilled)}；请填写后再出具")
    document = issuing.issue_document(
        session,
        user.username,
        opened.letter.id,
        reviewed,
        office=settings.office_abbreviation,
        sent_on=sent_on,
        templates=table,
    )
    session.commit()
    return document


def _document_for(session: Session, user: User, document_id: int, purpose: str) -> CaseDocument:
    """An issued document of a case ``user`` may open, else NotFound as for one that does not exist."""
    _may_handle_documents(user)
    hidden = NotFound(f"没有您可以查看的文书（编号 {document_id}）")
    document = session.get(CaseDocument, document_id)
    if document is None:
        raise hidden
    case_number = session.scalar(select(Letter.case_number).where(Letter.id == document.letter_id))
    if case_number is None:
        raise hidden
    try:
        _open(session, user, case_number, purpose)
    except NotFound:
        raise hidden from None
    return document


def record_sent(session: Session, user: User, document_id: int, sent_on: dt.date) -> CaseDocument:
    """Record the day an issued document went out (once).

    Raises:
        NotFound: no such document, or one on a case the user may not open.
        store.errors.NotAllowedError: the user may not issue this kind on this case.
        store.errors.InvalidValueError: a day before the issue or after today.
        store.errors.InvalidStateError: the day is already recorded.
    """
    document = _document_for(session, user, document_id, "document sent")
    issuing.record_sent(session, user.username, document, sent_on)
    session.commit()
    return document


def document_filename(number: str, extension: str = ".docx") -> str:
    """A file name made of the 文号, of letters, digits and Chinese characters only:
    ``X信受告〔2026〕12号`` → ``X信受告-2026-12号.docx``."""
    stem = re.sub(r"[^0-9A-Za-z\u4e00-\u9fff]+", "-", number).strip("-") or "document"
    return f"{stem}{extension}"


def document_file(session: Session, user: User, document_id: int) -> tuple[str, bytes]:
    """The issued DOCX exactly as stored, with a file name made of its 文号.

    Raises:
        NotFound: no such document, or one on a case the user may not open.
    """
    document = _document_for(session, user, document_id, "document")
    return document_filename(document.number), bytes(document.docx)


def document_page(session: Session, user: User, document_id: int) -> str:
    """The printable page of an issued document.

    Raises:
        NotFound: no such document, or one on a case the user may not open.
    """
    return issuing.document_html(_document_for(session, user, document_id, "document"))


def document_of(session: Session, user: User, document_id: int) -> CaseDocument:
    """The issued document row, for a user who may open its case (else NotFound)."""
    return _document_for(session, user, document_id, "document")


# -------------------------------------------------------------------------------- supervision


@dataclass(frozen=True)
class SupervisionView:
    """The supervisor's view as one user may read it: ``by_body`` and ``for_notice`` list the cases
    they may open; ``withheld`` counts those due or overdue they may not (confidential ones, for
    instance), which are not listed."""

    supervision: store_supervision.Supervision
    by_body: dict[str | None, tuple[store_supervision.SupervisedCase, ...]]
    for_notice: tuple[store_supervision.SupervisedCase, ...]
    withheld: int

    @property
    def today(self) -> dt.date:
        return self.supervision.today

    @property
    def until(self) -> dt.date:
        return self.supervision.until

    @property
    def within_days(self) -> int:
        return self.supervision.within_days

    @property
    def count(self) -> int:
        return sum(len(items) for items in self.by_body.values())

    @property
    def overdue(self) -> int:
        return sum(1 for items in self.by_body.values() for item in items if item.overdue)


def supervision_view(
    session: Session, user: User, *, today: dt.date | None = None, within_days: int = 7
) -> SupervisionView:
    """Everything due within ``within_days`` days and overdue, by handling body, and the cases late
    twice or more (for 通报), as ``user`` may read them.

    Raises:
        Forbidden: not a 科室负责人 or 纪检监察人员.
        store.errors.InvalidValueError: ``within_days`` outside 0..366.
    """
    if user.role not in SUPERVISE:
        raise Forbidden(f"{role_name(user.role)}不能查看督办情况；限科室负责人、纪检监察人员")
    whole = store_supervision.supervision(session, today or china_today(), within_days)

    def shown(item: store_supervision.SupervisedCase) -> bool:
        return may_open_case(user, confidential=item.confidential, handling_body=item.handling_body)

    by_body: dict[str | None, tuple[store_supervision.SupervisedCase, ...]] = {}
    withheld = 0
    for body, items in whole.by_body.items():
        visible = tuple(i for i in items if shown(i))
        withheld += len(items) - len(visible)
        if visible:
            by_body[body] = visible
    return SupervisionView(
        supervision=whole,
        by_body=by_body,
        for_notice=tuple(i for i in whole.for_notice if shown(i)),
        withheld=withheld,
    )


def supervise(
    session: Session,
    user: User,
    case_number: str,
    *,
    reason: str,
    due_on: dt.date | None,
    settings: Settings,
    catalogue: Catalogue | None = None,
    situation: str | None = None,
    expected_version: int | None = None,
    templates: Mapping[str, Template] | None = None,
) -> store_supervision.Supervised:
    """督办 in one act (第四十条): draft the 督办单 from the case with ``reason``, the new last day
    ``due_on`` and the ``situation`` (default: the case's state), issue it under the office's next
    文号 and record the 督办 step citing it, in one transaction; both are audited.

    ``expected_version``, when given, refuses a case that moved on since the caller read it.

    Raises:
        NotFound: as :func:`case_page`.
        Forbidden: a role that handles no documents.
        InvalidInput: no reason or no date.
        store.errors.NotAllowedError: the role may not supervise (督办 is the 科室负责人's).
        store.errors.InvalidValueError: a date not after today.
        casework.cases.CaseStepRefused: the case is not open to 督办 (closed, refused, final).
        casework.cases.CaseChangedError: the case changed since ``expected_version``.
    """
    reason = reason.strip()
    missing = [name for name, given in (("督办事由", reason), ("办结期限", due_on)) if not given]
    if missing:
        raise InvalidInput(f"督办须填写{'和'.join(missing)}")
    assert due_on is not None
    _may_handle_documents(user)
    opened = _open(session, user, case_number, "supervise")
    view = store_cases.case_of(session, opened.letter, user=user.username, today=china_today())
    # Said in the officer's words here; who may not supervise, or a case closed to it, is refused
    # below as the step is (403, 409).
    if Step.supervise in view.allowed and due_on <= view.today:
        raise InvalidInput(f"办结期限须晚于今天（{cn_date(view.today)}）")
    values: dict[str, object] = {
        "reason": reason,
        "new_due": due_on,
        "situation": (situation or "").strip() or f"目前处于「{view.state_name}」",
    }
    if not any(e.step in (Step.transfer, Step.assign) for e in view.events):
        values["transferred_on"] = "尚未转送、交办"
    table = templates if templates is not None else load_templates()
    sheet = _draft_for(
        session,
        opened,
        store_supervision.SUPERVISION_SHEET,
        values,
        settings=settings,
        catalogue=catalogue,
        templates=table,
    )
    done = store_supervision.supervise(
        session,
        user.username,
        opened.letter,
        sheet,
        reason=reason,
        due_on=due_on,
        office=settings.office_abbreviation,
        expected_version=expected_version,
        department_codes=_department_names(catalogue) or None,
        templates=table,
    )
    session.commit()
    return done


@dataclass(frozen=True)
class EscalationsView:
    """The open 重大紧急 reports ``user`` may open, and how many others there are."""

    items: tuple[store_supervision.OpenEscalation, ...]
    withheld: int


def escalations(session: Session, user: User) -> EscalationsView:
    """Every open case with a 重大紧急 report that ``user`` may open, the longest open first.

    Raises:
        Forbidden: a role that makes no such report (analyst, administrator).
    """
    if user.role not in READ_ESCALATIONS:
        raise Forbidden(
            f"{role_name(user.role)}不能查看重大紧急信息；限："
            + "、".join(role_name(r) for r in access.ALL_ROLES if r in READ_ESCALATIONS)
        )
    every = store_supervision.open_escalations(session)
    items = tuple(
        e for e in every if may_open_case(user, confidential=e.confidential, handling_body=e.handling_body)
    )
    return EscalationsView(items=items, withheld=len(every) - len(items))


def step_name(step: Step | str) -> str:
    try:
        return STEP_NAMES[Step(step)]
    except ValueError:
        return str(step)


__all__ = [
    "CHINA_TZ",
    "DOCUMENT_KINDS",
    "FIELD_NAMES",
    "MAX_EXTENSION_DAYS",
    "PENDING_REPEAT_BASIS",
    "RATING_NAMES",
    "STATE_NAMES",
    "STEP_NAMES",
    "STEP_SPECS",
    "CaseEvent",
    "CaseLink",
    "CaseState",
    "CaseView",
    "Clock",
    "ClockStatus",
    "Draft",
    "EarlierRuling",
    "OpenEscalation",
    "Step",
    "SupervisedCase",
    "cn_date",
    "document_kind_for",
    "DOCUMENT_ROLES",
    "READ_ESCALATIONS",
    "SUPERVISE",
    "TO_FILL",
    "EscalationsView",
    "SupervisionView",
    "case_documents",
    "case_page",
    "document_file",
    "document_filename",
    "document_of",
    "document_page",
    "draft",
    "earlier_ruling",
    "escalations",
    "issue",
    "issuing_roles",
    "link",
    "may_open_case",
    "opened_case",
    "record_sent",
    "sees_particulars",
    "step_name",
    "still_opens",
    "supervise",
    "supervision_view",
    "take_step",
    "unfilled_marks",
]
