"""Documents of a case on the store: drafted from the case, issued under the next 文号, kept as issued.

:func:`draft_document` fills a template (``casework.documents``) from what the letter and its case
know (:func:`case_values`) and what the officer adds; the officer edits the :class:`Draft`;
:func:`issue_document` gives it the next 文号 of the office, the kind's prefix and the year, writes
the DOCX, and stores the bytes and the approved text in ``case_documents``, in the caller's
transaction with its audit event. The 文号 is then cited by the step the document belongs to
(``document_no`` of 转送, 受理, 督办 …; :func:`casework.cases.take_step` checks that a 文号 issued
here is this case's and of that step's kind).

Numbering: ``document_counters`` holds the last sequence per office, prefix and year; issuing
raises it with ``UPDATE … RETURNING`` inside a savepoint, so concurrent issuers queue on its row
lock and a document that fails to be written gives its number back: numbers have neither gaps nor
duplicates.

Who may issue: whoever may take a step that sends the kind (``casework.states.TRANSITIONS``): the
office its letters and notices of refusal, the handling body its 受理告知书 and answers, a 科室负责人
the 督办单 and 延期办理告知书; a department handler only on its own body's cases, and only the roles
that read accusations on a confidential letter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer

from casework.cases import (
    CONFIDENTIAL_ACTORS,
    History,
    acting_user,
    aware,
    china_day,
    earlier_final_case,
    letter_row,
    load_history,
    role_name,
)
from casework.documents import (
    DOCUMENT_KINDS,
    STEP_DOCUMENTS,
    Draft,
    IssuedDocument,
    Template,
    document_number,
    draft,
    issue,
    load_templates,
    to_docx,
    to_html,
)
from casework.errors import DocumentError
from casework.periods import conclude_due
from casework.states import HANDLER, ROLE_NAMES, TRANSITIONS, Step
from routing.codes import Channel
from store._sql import insert_ignore
from store.audit import append_event, lock_audit_head
from store.errors import InvalidStateError, InvalidValueError, NotAllowedError, NotFoundError
from store.models import CaseDocument, DocumentCounter, Letter, User

#: The article a 不再受理告知书 cites for a matter final after 复核.
REPEAT_ARTICLE = "《信访工作条例》第三十六条第三款"


def _steps_sending(kind: str) -> tuple[Step, ...]:
    steps = [step for step, sent in STEP_DOCUMENTS.items() if sent == kind]
    if kind in ("handling_opinion", "complaint_outcome_notice"):
        steps.append(Step.answer)
    return tuple(steps)


def case_values(
    session: Session,
    letter: Letter | int | str,
    *,
    department_names: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """What the letter and its case give a document: the case number, the petitioner's
    particulars (a template takes only those its kind may carry), the matter, the dates of receipt,
    转送/交办 and 受理, the handling body by name, the dates a 交办 or the 60 days set, and, for a
    letter linked to a case final after 复核, that case and the date of its 复核意见.
    """
    row = letter_row(session, letter)
    case = load_history(session, row).case()
    names = department_names or {}
    body = case.handling_body or case.target_body
    routed = [e for e in case.events if e.step in (Step.transfer, Step.assign)]
    assigned = [e for e in routed if e.step == Step.assign]
    values: dict[str, object] = {
        "case_no": row.case_number,
        "petitioner_name": row.petitioner_name or row.petitioner_organisation,
        "petitioner_address": row.address,
        "petitioner_phone": row.contact_phone,
        "subject": row.title or row.request,
        "received_on": case.received_on,
        "request": row.request,
        "facts": "；".join(part for part in (row.facts, row.reasons) if part) or None,
        "handling_body": names.get(body, body) if body else None,
        "transferred_on": routed[-1].day if routed else None,
        "report_due": assigned[-1].due_on if assigned else None,
        "accepted_on": case.accepted_on,
    }
    if case.accepted_on is not None and case.channel == Channel.ordinary:
        values["original_due"] = conclude_due(case.accepted_on)[0]
        if case.extension_days:
            values["extension_days"] = case.extension_days
            values["new_due"] = conclude_due(case.accepted_on, case.extension_days)[0]
    earlier = earlier_final_case(session, row)
    if earlier is not None:
        values.update(
            earlier_case_no=earlier.case_number,
            final_on=earlier.final_on,
            article=REPEAT_ARTICLE,
            reason=earlier.ruling.reason,
        )
    return values


def draft_document(
    session: Session,
    letter: Letter | int | str,
    kind: str,
    values: Mapping[str, object] | None = None,
    *,
    department_names: Mapping[str, str] | None = None,
    templates: Mapping[str, Template] | None = None,
) -> Draft:
    """The ``kind`` document of the letter's case, filled from :func:`case_values` and the
    officer's ``values`` (which win: the issuer, the procedure, the reason, the opinion …), for the
    officer to review and edit before issuing.

    For a 延期办理告知书, an ``extension_days`` given here also sets the new last day.

    Raises:
        NotFoundError: no such letter.
        InvalidValueError: no such template, or a field the template requires is missing (all
            are named) or has a type a document cannot show.
    """
    merged = {**case_values(session, letter, department_names=department_names), **(values or {})}
    if kind == "extension_notice" and "new_due" not in (values or {}):
        accepted, days = merged.get("accepted_on"), merged.get("extension_days")
        if isinstance(accepted, dt.date) and isinstance(days, int) and days > 0:
            merged["new_due"] = conclude_due(accepted, days)[0]
    try:
        return draft(kind, merged, templates=templates)
    except DocumentError as exc:
        raise InvalidValueError(str(exc)) from None


def _check_issuer(user: User, history: History, kind: str) -> None:
    number = history.letter.case_number
    if history.confidential and user.role not in CONFIDENTIAL_ACTORS:
        raise NotAllowedError(
            f"{number} 属检举控告等保密事项，{role_name(user.role)}不能为其出具文书；"
            "由科室负责人或纪检监察人员出具"
        )
    steps = _steps_sending(kind)
    rows = [t for t in TRANSITIONS if t.step in steps] if steps else list(TRANSITIONS)
    roles = {r for t in rows for r in t.roles if t.step not in (Step.escalate, Step.rate)}
    name = DOCUMENT_KINDS.get(kind, kind)
    if user.role not in roles:
        raise NotAllowedError(
            f"{role_name(user.role)}不能出具{name}；限："
            + "、".join(role_name(r) for r in ROLE_NAMES if r in roles)
        )
    if user.role == HANDLER:
        body = history.case().handling_body
        if body is None or user.department != body:
            raise NotAllowedError(
                "承办单位人员只能为本单位承办的案件出具文书"
                f"（{number} 的承办单位：{body or '尚未转送、交办'}）"
            )


def _check_sent_on(sent_on: dt.date, issued_on: dt.date, today: dt.date) -> None:
    if sent_on < issued_on:
        raise InvalidValueError(f"发出日期 {sent_on.isoformat()} 早于成文日期 {issued_on.isoformat()}")
    if sent_on > today:
        raise InvalidValueError(f"发出日期 {sent_on.isoformat()} 晚于今天（{today.isoformat()}）")


def issue_document(
    session: Session,
    user: User | str,
    letter: Letter | int | str,
    reviewed: Draft,
    *,
    office: str,
    now: dt.datetime | None = None,
    sent_on: dt.date | None = None,
    templates: Mapping[str, Template] | None = None,
) -> CaseDocument:
    """Issue the reviewed draft on the letter's case under the next 文号 of ``office`` (机关代字),
    the kind's prefix and the year of ``now`` in China, dated that day; store the approved text
    and the exact DOCX; record ``sent_on`` when it is already known. Audited.

    Raises:
        NotFoundError: no such letter or user.
        NotAllowedError: the user may not issue this kind on this case.
        InvalidValueError: a malformed office abbreviation, an unknown kind, or a date sent before
            the document was issued or after today.
        InvalidStateError: the letter was merged into another one.
    """
    now = aware(now)
    actor = acting_user(session, user)
    row = letter_row(session, letter)
    history = load_history(session, row)
    _check_issuer(actor, history, reviewed.kind)
    table = templates if templates is not None else load_templates()
    template = table.get(reviewed.kind)
    if template is None:
        raise InvalidValueError(f"没有文书模板「{reviewed.kind}」")
    issued_on = china_day(now)
    if sent_on is not None:
        _check_sent_on(sent_on, issued_on, issued_on)
    office = office.strip()
    key = {"office": office, "prefix": template.number_prefix, "year": issued_on.year}
    counter = [getattr(DocumentCounter, name) == value for name, value in key.items()]

    def render(seq: int) -> tuple[str, IssuedDocument, bytes]:
        number = document_number(reviewed.kind, office=office, year=issued_on.year, seq=seq, templates=table)
        issued = issue(reviewed, number=number, issued_on=issued_on, templates=table)
        return number, issued, to_docx(issued)

    try:
        # The DOCX carries its 文号, which only the counter gives, under the audit head's lock
        # that every write of the office queues on. So it is written before, under the number the
        # counter will give unless another document of the kind is issued meanwhile; only then is
        # it written again, under the lock.
        guess = (session.scalar(select(DocumentCounter.last_seq).where(*counter)) or 0) + 1
        rendered = render(guess)
        lock_audit_head(session)  # lock order: audit head, then the counter
        with session.begin_nested():  # a document that fails to be written gives its number back
            if guess == 1:  # no document of the kind yet this year: its counter may not exist
                session.execute(insert_ignore(session, DocumentCounter, {**key, "last_seq": 0}, list(key)))
            seq = session.execute(
                update(DocumentCounter)
                .where(*counter)
                .values(last_seq=DocumentCounter.last_seq + 1)
                .returning(DocumentCounter.last_seq)
                .execution_options(synchronize_session=False)
            ).scalar_one()
            number, issued, data = rendered if seq == guess else render(seq)
            document = CaseDocument(
                letter_id=row.id,
                kind=reviewed.kind,
                number=number,
                seq=seq,
                draft={
                    "title": issued.title,
                    "salutation": issued.salutation,
                    "paragraphs": list(issued.paragraphs),
                    "signature": issued.signature,
                    "recipient": issued.recipient,
                },
                docx=data,
                docx_sha256=hashlib.sha256(data).hexdigest(),
                issued_by=actor.username,
                issued_at=now,
                issued_on=issued_on,
                sent_on=sent_on,
                **key,
            )
            session.add(document)
            session.flush()
    except DocumentError as exc:
        raise InvalidValueError(str(exc)) from None
    append_event(
        session,
        actor=actor.username,
        action="document_issued",
        object=f"letter:{row.case_number}",
        details={
            "letter_id": row.id,
            "document_id": document.id,
            "kind": reviewed.kind,
            "number": number,
            "docx_sha256": document.docx_sha256,
            "sent_on": sent_on.isoformat() if sent_on is not None else None,
        },
        at=now,
    )
    return document


def get_document(session: Session, document_id: int) -> CaseDocument:
    """The issued document with id ``document_id``.

    Raises:
        NotFoundError: no such document.
    """
    document = session.get(CaseDocument, document_id)
    if document is None:
        raise NotFoundError(f"文书（内部编号 {document_id}）不存在")
    return document


def record_sent(
    session: Session,
    user: User | str,
    document: CaseDocument | int,
    sent_on: dt.date,
    *,
    now: dt.datetime | None = None,
) -> CaseDocument:
    """Record the day an issued document was sent (once). Audited.

    Raises:
        NotFoundError: no such document or user.
        NotAllowedError: the user may not issue this kind on this case.
        InvalidValueError: a day before the document was issued, or after today.
        InvalidStateError: the day sent is already recorded.
    """
    now = aware(now)
    actor = acting_user(session, user)
    row = document if isinstance(document, CaseDocument) else get_document(session, document)
    letter = letter_row(session, row.letter_id)
    _check_issuer(actor, load_history(session, letter), row.kind)
    _check_sent_on(sent_on, row.issued_on, china_day(now))
    lock_audit_head(session)
    changed = session.execute(
        update(CaseDocument)
        .where(CaseDocument.id == row.id, CaseDocument.sent_on.is_(None))
        .values(sent_on=sent_on)
        .returning(CaseDocument.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    session.expire(row, ["sent_on"])
    if changed is None:
        raise InvalidStateError(f"文书 {row.number} 已记录发出日期（{row.sent_on}），不能更改")
    append_event(
        session,
        actor=actor.username,
        action="document_sent",
        object=f"letter:{letter.case_number}",
        details={
            "letter_id": letter.id,
            "document_id": row.id,
            "number": row.number,
            "sent_on": sent_on.isoformat(),
        },
        at=now,
    )
    return row


def documents_of(session: Session, letter: Letter | int | str) -> list[CaseDocument]:
    """The documents issued on the letter's case, in the order issued; each one's DOCX is read from
    the database only when asked for (a case's list of documents does not show it)."""
    row = letter_row(session, letter)
    return list(
        session.scalars(
            select(CaseDocument)
            .options(defer(CaseDocument.docx))
            .where(CaseDocument.letter_id == row.id)
            .order_by(CaseDocument.id)
        )
    )


def issued_document(document: CaseDocument) -> IssuedDocument:
    """The stored document as :mod:`casework.documents` writes it (its text exactly as issued)."""
    text = document.draft
    return IssuedDocument(
        kind=document.kind,
        title=str(text["title"]),
        number=document.number,
        salutation=text.get("salutation"),
        paragraphs=tuple(str(p) for p in text["paragraphs"]),
        signature=str(text["signature"]),
        issued_on=document.issued_on,
        recipient=text["recipient"],
    )


def document_html(document: CaseDocument) -> str:
    """The printable page of a stored document."""
    return to_html(issued_document(document))


__all__ = [
    "REPEAT_ARTICLE",
    "case_values",
    "document_html",
    "documents_of",
    "draft_document",
    "get_document",
    "issue_document",
    "issued_document",
    "record_sent",
]
