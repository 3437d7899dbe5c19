"""Each path of a case's life, walked on a real database (SQLite, and PostgreSQL when configured):
the steps, the state and clocks they lead to, the documents issued, the cached row and the audit log."""

from __future__ import annotations

import io

import docx
from casework_office import (
    BODY,
    HANDLER,
    INTAKE,
    OFFICE,
    OTHER_BODY,
    OTHER_HANDLER,
    SUPERVISOR,
    D,
    at,
    issued,
    officers,
    routed_letter,
    step,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.cases import case_of, sync_case
from casework.clocks import ClockStatus
from casework.issuing import document_html, documents_of
from casework.states import CaseState, Step
from store.audit import verify_chain
from store.letters import decide, latest_decision
from store.models import AuditEvent, CaseEventRecord, CaseRecord, Decision

S = CaseState


def clock(view, code):  # type: ignore[no-untyped-def]
    return next(c for c in view.clocks if c.code == code)


def record(session: Session, letter_id: int) -> CaseRecord:
    row = session.get(CaseRecord, letter_id)
    assert row is not None
    session.refresh(row)
    return row


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_accept_transfer_receive_answer_close(session: Session) -> None:
    officers(session)
    letter = routed_letter(session, D(2026, 3, 2))
    view = case_of(session, letter, user=INTAKE, today=D(2026, 3, 2))
    assert view.state == S.decided and view.may_decide
    assert view.allowed == (Step.decide, Step.transfer, Step.assign, Step.escalate)
    assert clock(view, "forward").due == D(2026, 3, 17)

    sent = issued(session, INTAKE, letter, "transfer_letter", D(2026, 3, 3))
    assert sent.number == f"{OFFICE}信转〔2026〕1号"
    view = step(session, INTAKE, letter, Step.transfer, D(2026, 3, 3), document_no=sent.number)
    assert view.state == S.transferred and view.handling_body == BODY and not view.may_decide
    assert clock(view, "forward").status == ClockStatus.met
    # the department's handler now sees the steps that are theirs, the other body's none
    assert case_of(session, letter, user=HANDLER).allowed == (Step.receive, Step.escalate)
    assert case_of(session, letter, user=OTHER_HANDLER).allowed == ()

    step(session, HANDLER, letter, Step.receive, D(2026, 3, 5))
    notice = issued(session, HANDLER, letter, "acceptance_notice", D(2026, 3, 6), accepted_on=D(2026, 3, 6))
    view = step(session, HANDLER, letter, Step.accept, D(2026, 3, 6), document_no=notice.number)
    assert view.state == S.handling
    assert clock(view, "notify_acceptance").status == ClockStatus.met
    assert clock(view, "object_to_misrouting").status == ClockStatus.ended
    # 60 days end on 5 May, a 劳动节 holiday: the period ends on the next working day
    assert clock(view, "conclude").due == D(2026, 5, 6)
    cached = record(session, letter.id)
    assert (cached.state, cached.handling_body, cached.next_due) == ("handling", BODY, D(2026, 5, 6))

    opinion = issued(session, HANDLER, letter, "handling_opinion", D(2026, 4, 20))
    view = step(session, HANDLER, letter, Step.answer, D(2026, 4, 20), document_no=opinion.number)
    assert clock(view, "conclude").status == ClockStatus.met and not clock(view, "conclude").late
    step(session, INTAKE, letter, Step.serve, D(2026, 4, 24), effective_on=D(2026, 4, 22))
    view = step(session, HANDLER, letter, Step.close, D(2026, 4, 24), 11)
    assert view.state == S.closed
    assert clock(view, "review_window").due == D(2026, 5, 22)
    cached = record(session, letter.id)
    assert (cached.state, cached.next_due, cached.late_count) == ("closed", None, 0)

    # five stored steps after 登记 and 确定去向, in order, each audited once with its step
    assert [e.step for e in view.events] == [
        Step.register,
        Step.decide,
        Step.transfer,
        Step.receive,
        Step.accept,
        Step.answer,
        Step.serve,
        Step.close,
    ]
    rows = session.scalars(select(CaseEventRecord).order_by(CaseEventRecord.seq)).all()
    assert [(r.seq, r.step, r.actor) for r in rows] == [
        (1, "transfer", INTAKE),
        (2, "receive", HANDLER),
        (3, "accept", HANDLER),
        (4, "answer", HANDLER),
        (5, "serve", INTAKE),
        (6, "close", HANDLER),
    ]
    assert rows[2].fields == {"document_no": notice.number}
    steps = session.scalars(select(AuditEvent).where(AuditEvent.action == "case_step")).all()
    assert [e.details["step"] for e in steps] == [r.step for r in rows]
    assert steps[0].details["body"] == BODY and steps[0].details["from_state"] == "decided"
    assert actions(session).count("document_issued") == 3
    assert verify_chain(session) == []

    # the documents are kept as issued: the DOCX carries the text approved, the page prints it
    documents = documents_of(session, letter)
    assert [d.kind for d in documents] == ["transfer_letter", "acceptance_notice", "handling_opinion"]
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(documents[0].docx)).paragraphs)
    assert sent.number in text and "某区住房和城乡建设局：" in text and "13800138000" in text
    assert "110101199003071234" not in text
    assert "张某某：" in document_html(documents[1]) and "13800138000" not in document_html(documents[1])
    # the version rose with every step, so a page read before any of them is stale
    assert view.version == letter.version


def test_not_accepted_with_its_notice(session: Session) -> None:
    officers(session)
    letter = routed_letter(session, D(2026, 3, 2), disposition="not_accepted", channel="litigation")
    notice = issued(session, INTAKE, letter, "not_accepted_notice", D(2026, 3, 9))
    assert "该事项已由人民法院受理" in document_html(notice) and notice.number == "某区信不受告〔2026〕1号"
    view = step(
        session,
        INTAKE,
        letter,
        Step.not_accept,
        D(2026, 3, 9),
        reason="该事项已由人民法院受理",
        basis="第三十一条第一项",
        document_no=notice.number,
    )
    assert view.state == S.not_accepted and not view.case.is_open and view.allowed == ()
    refusal = clock(view, "notify_refusal")
    assert refusal.status == ClockStatus.met and refusal.basis == "第二十三条第二款"
    assert record(session, letter.id).state == "not_accepted"


def test_returned_by_the_receiving_body_and_routed_again(session: Session) -> None:
    officers(session)
    letter = routed_letter(session, D(2026, 3, 2))
    step(session, INTAKE, letter, Step.transfer, D(2026, 3, 3), document_no="某区信转〔2026〕7号")
    step(session, HANDLER, letter, Step.receive, D(2026, 3, 4))
    view = step(session, HANDLER, letter, Step.object, D(2026, 3, 10), reason="违章建筑查处属城管职责")
    assert view.state == S.returned and view.handling_body is None and view.may_decide
    assert clock(view, "object_to_misrouting").status == ClockStatus.met
    assert case_of(session, letter, user=HANDLER).allowed == ()
    # the audit log says which step, not the free text of its reason, which may name people
    objected = session.scalars(select(AuditEvent).where(AuditEvent.action == "case_step")).all()[-1]
    assert objected.details["step"] == "object" and "违章建筑" not in str(objected.details)

    # the office routes it again: a new decision, with its reason, through the same step table
    view = step(
        session,
        INTAKE,
        letter,
        Step.decide,
        D(2026, 3, 11),
        channel="ordinary",
        disposition="accept",
        body=OTHER_BODY,
        reason="住建局异议成立，改送城管局",
    )
    assert view.state == S.decided and view.case.target_body == OTHER_BODY
    newest = latest_decision(session, letter.id)
    assert (
        newest is not None
        and newest.department == OTHER_BODY
        and newest.reason == "住建局异议成立，改送城管局"
    )
    assert session.scalar(select(func.count()).select_from(Decision)) == 2
    assert record(session, letter.id).decision_id == newest.id

    view = step(session, INTAKE, letter, Step.transfer, D(2026, 3, 11), 11, document_no="某区信转〔2026〕8号")
    assert view.handling_body == OTHER_BODY
    assert case_of(session, letter, user=OTHER_HANDLER).allowed == (Step.receive, Step.escalate)
    view = step(session, OTHER_HANDLER, letter, Step.receive, D(2026, 3, 12))
    assert view.state == S.received
    assert [e.step for e in view.events] == [
        Step.register,
        Step.decide,
        Step.transfer,
        Step.receive,
        Step.object,
        Step.decide,
        Step.transfer,
        Step.receive,
    ]


def test_extension_approved_by_a_supervisor(session: Session) -> None:
    officers(session)
    letter = routed_letter(session, D(2026, 3, 2))
    step(session, INTAKE, letter, Step.transfer, D(2026, 3, 3), document_no="某区信转〔2026〕1号")
    step(session, HANDLER, letter, Step.receive, D(2026, 3, 5))
    step(session, HANDLER, letter, Step.accept, D(2026, 3, 6), document_no="某区信受告〔2026〕1号")
    notice = issued(session, SUPERVISOR, letter, "extension_notice", D(2026, 4, 30), extension_days=20)
    # the notice tells the petitioner the new last day, computed from the days asked for
    assert "2026年5月25日" in document_html(notice) and "2026年5月6日" in document_html(notice)
    view = step(
        session,
        SUPERVISOR,
        letter,
        Step.extend,
        D(2026, 4, 30),
        days=20,
        reason="需要委托鉴定",
        document_no=notice.number,
    )
    conclude = clock(view, "conclude")
    assert (conclude.extension_days, conclude.due) == (20, D(2026, 5, 25))
    assert record(session, letter.id).next_due == D(2026, 5, 25)
    assert Step.extend not in case_of(session, letter, user=SUPERVISOR).allowed


def test_overdue_then_supervised_then_listed_for_notice(session: Session) -> None:
    from casework.supervision import supervision

    officers(session)
    letter = routed_letter(session, D(2026, 3, 2))
    on_time = routed_letter(session, D(2026, 3, 2), title="路灯不亮")
    step(session, INTAKE, letter, Step.transfer, D(2026, 3, 3), document_no="某区信转〔2026〕1号")
    step(session, HANDLER, letter, Step.receive, D(2026, 3, 5))
    step(session, HANDLER, letter, Step.accept, D(2026, 3, 6), document_no="某区信受告〔2026〕1号")

    view = supervision(session, D(2026, 5, 8), within_days=7)
    assert [i.case_number for i in view.by_body[BODY]] == [letter.case_number]
    item = view.by_body[BODY][0]
    assert item.overdue and item.due[0].code == "conclude" and item.due[0].due == D(2026, 5, 6)
    # the other letter still waits at the office for its 转送, long overdue
    office = view.by_body[None]
    assert [i.case_number for i in office] == [on_time.case_number] and office[0].due[0].code == "forward"
    assert view.for_notice == ()

    sheet = issued(session, SUPERVISOR, letter, "supervision_sheet", D(2026, 5, 8), new_due=D(2026, 5, 20))
    view_case = step(
        session,
        SUPERVISOR,
        letter,
        Step.supervise,
        D(2026, 5, 8),
        reason="逾期未办结",
        due_on=D(2026, 5, 20),
        document_no=sheet.number,
    )
    assert clock(view_case, "supervision").due == D(2026, 5, 20)

    later = supervision(session, D(2026, 5, 25), within_days=0)
    (item,) = later.by_body[BODY]
    assert [c.code for c in item.due] == ["conclude", "supervision"] and item.times_late == 2
    assert [i.case_number for i in later.for_notice] == [letter.case_number]

    step(session, HANDLER, letter, Step.answer, D(2026, 5, 26), document_no="某区信处意〔2026〕1号")
    cached = record(session, letter.id)
    assert (cached.late_count, cached.next_due) == (2, None)
    after = supervision(session, D(2026, 5, 27), within_days=30)
    assert BODY not in after.by_body
    assert [(i.case_number, i.times_late) for i in after.for_notice] == [(letter.case_number, 2)]


def _answered_and_served(session: Session) -> tuple[object, object]:
    letter = routed_letter(session, D(2026, 3, 2))
    step(session, INTAKE, letter, Step.transfer, D(2026, 3, 3), document_no="某区信转〔2026〕1号")
    step(session, HANDLER, letter, Step.receive, D(2026, 3, 5))
    step(session, HANDLER, letter, Step.accept, D(2026, 3, 6), document_no="某区信受告〔2026〕1号")
    step(session, HANDLER, letter, Step.answer, D(2026, 4, 20), document_no="某区信处意〔2026〕1号")
    view = step(session, INTAKE, letter, Step.serve, D(2026, 4, 23), effective_on=D(2026, 4, 22))
    return letter, view


def test_review_then_recheck_then_a_new_letter_linked_is_no_longer_accepted(session: Session) -> None:
    from casework.cases import earlier_final_case, link_same_matter

    officers(session)
    letter, _ = _answered_and_served(session)
    # 复查 and 复核 are registered against the original case, not as new matters
    step(session, INTAKE, letter, Step.request_review, D(2026, 5, 15), reason="对处理意见不服")
    view = step(
        session, SUPERVISOR, letter, Step.answer_review, D(2026, 6, 5), document_no="某市复查〔2026〕3号"
    )
    assert view.state == S.review_answered and clock(view, "review_answer").status == ClockStatus.met
    step(session, INTAKE, letter, Step.serve, D(2026, 6, 9), effective_on=D(2026, 6, 8))
    step(session, INTAKE, letter, Step.request_recheck, D(2026, 6, 20), reason="对复查意见不服")
    view = step(
        session,
        SUPERVISOR,
        letter,
        Step.hearing,
        D(2026, 7, 1),
        participants=("信访人", "住建局"),
        minutes="听取双方意见",
        days=5,
    )
    assert clock(view, "recheck_answer").excluded_days == 5
    view = step(
        session, SUPERVISOR, letter, Step.answer_recheck, D(2026, 7, 10), document_no="某市复核〔2026〕2号"
    )
    assert view.state == S.final and view.allowed == (Step.serve, Step.rate)
    assert record(session, letter.id).state == "final"

    # the petitioner writes again on the same facts: registered as a new letter, linked, refused
    again = routed_letter(session, D(2026, 8, 3), disposition="no_longer_accepted")
    assert earlier_final_case(session, again) is None
    link = link_same_matter(
        session, INTAKE, again, letter.case_number, reason="同一事实和理由", now=at(D(2026, 8, 3))
    )
    assert link.earlier_case_number == letter.case_number and link.earlier_final is not None
    earlier = earlier_final_case(session, again)
    assert earlier is not None and earlier == link.earlier_final
    assert (earlier.case_number, earlier.final_on) == (letter.case_number, D(2026, 7, 10))
    assert earlier.ruling.basis == "第三十六条第三款" and earlier.ruling.disposition == "no_longer_accepted"
    assert case_of(session, again).linked_to == letter.case_number

    notice = issued(session, INTAKE, again, "no_longer_accepted_notice", D(2026, 8, 4))
    page = document_html(notice)
    assert letter.case_number in page and "2026年7月10日" in page and "第三十六条第三款" in page
    view = step(
        session,
        INTAKE,
        again,
        Step.no_longer_accept,
        D(2026, 8, 4),
        reason=earlier.ruling.reason,
        basis=earlier.ruling.basis,
        document_no=notice.number,
    )
    assert view.state == S.no_longer_accepted
    linked = session.scalars(select(AuditEvent).where(AuditEvent.action == "case_linked")).one()
    assert linked.details["earlier"] == letter.case_number and linked.object == f"letter:{again.case_number}"
    # a letter linked to the refused one still finds the final case behind it
    third = routed_letter(session, D(2026, 9, 1))
    link_same_matter(session, INTAKE, third, again, reason="同一事项", now=at(D(2026, 9, 1)))
    behind = earlier_final_case(session, third)
    assert behind is not None and behind.case_number == letter.case_number
    assert verify_chain(session) == []


def test_an_urgent_letter_opens_an_escalation_that_stays_open_until_the_case_is(session: Session) -> None:
    from casework.supervision import open_escalations

    officers(session)
    urgent = routed_letter(session, D(2026, 3, 2), decided=False, urgent=True)
    quiet = routed_letter(session, D(2026, 3, 2))
    assert open_escalations(session) == ()
    view = step(
        session,
        INTAKE,
        urgent,
        Step.escalate,
        D(2026, 3, 2),
        11,
        reason="信访人扬言自伤",
        reported_to=("区委办公室", "市信访局"),
        measures="已联系属地街道稳控",
    )
    assert view.state == S.registered
    assert record(session, urgent.id).open_escalation
    step(session, SUPERVISOR, urgent, Step.escalate, D(2026, 3, 3), reason="续报", reported_to=("市信访局",))
    (open_,) = open_escalations(session)
    assert open_.case_number == urgent.case_number and len(open_.reports) == 2
    assert open_.reports[0].reported_to == ("区委办公室", "市信访局") and open_.reports[0].measures

    # the route decided on the letter page (store.letters.decide), then the cached row brought up to date
    decide(
        session,
        urgent.id,
        expected_version=urgent.version,
        decided_by=SUPERVISOR,
        category="appeal",
        domain="城乡建设",
        department=BODY,
        channel="ordinary",
        disposition="accept",
        now=at(D(2026, 3, 3), 12),
    )
    assert record(session, urgent.id).state == "registered"  # not yet
    view = sync_case(session, urgent, now=at(D(2026, 3, 3), 12))
    assert view.state == S.decided and record(session, urgent.id).state == "decided"
    assert [e.step for e in view.events] == [Step.register, Step.escalate, Step.escalate, Step.decide]
    assert [e.case_number for e in open_escalations(session)] == [urgent.case_number]

    step(session, INTAKE, quiet, Step.escalate, D(2026, 3, 4), reason="群体性事件苗头", reported_to=("区委",))
    assert [e.case_number for e in open_escalations(session)] == [urgent.case_number, quiet.case_number]
    step(session, INTAKE, urgent, Step.transfer, D(2026, 3, 4), document_no="某区信转〔2026〕2号")
    step(session, HANDLER, urgent, Step.receive, D(2026, 3, 5))
    step(
        session,
        HANDLER,
        urgent,
        Step.not_accept,
        D(2026, 3, 6),
        reason="已办结",
        basis="第十九条第三款",
        document_no="某住不受〔2026〕1号",
    )
    assert [e.case_number for e in open_escalations(session)] == [quiet.case_number]
    assert not record(session, urgent.id).open_escalation


def test_a_letter_decided_before_any_step_starts_decided_without_a_row(session: Session) -> None:
    officers(session)
    decided = routed_letter(session, D(2026, 3, 2))
    pending = routed_letter(session, D(2026, 3, 2), decided=False)
    assert session.scalar(select(func.count()).select_from(CaseRecord)) == 0
    assert case_of(session, decided).state == S.decided
    assert case_of(session, pending).state == S.registered
    assert case_of(session, pending, user=INTAKE).allowed == (Step.decide, Step.escalate)
