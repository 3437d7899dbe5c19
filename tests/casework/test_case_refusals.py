"""Every refusal of the case's life on the store: who may not act, what the state or a period does
not allow, what a step is missing, and that a refused step leaves the caller's transaction as it was.
Each refusal is a store error (so the web layer's mapping to HTTP applies) with a Chinese message."""

from __future__ import annotations

import datetime as dt

import pytest
from casework_office import (
    ANALYST,
    BODY,
    HANDLER,
    INSPECTOR,
    INTAKE,
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
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casework.cases import CaseChangedError, CaseStepRefused, case_of, link_same_matter, take_step
from casework.issuing import draft_document, issue_document, record_sent
from casework.states import Step
from store.errors import (
    ConflictError,
    InvalidStateError,
    InvalidValueError,
    NotAllowedError,
    NotFoundError,
)
from store.letters import get_letter
from store.models import AuditEvent, CaseEventRecord, Letter
from store.regroup import merge_letters
from store.users import deactivate_user


@pytest.fixture
def office(session: Session) -> Session:
    officers(session)
    return session


def transferred(session: Session, **route: object) -> Letter:
    letter = routed_letter(session, D(2026, 3, 2), **route)  # type: ignore[arg-type]
    step(session, INTAKE, letter, Step.transfer, D(2026, 3, 3), document_no="某区信转〔2026〕1号")
    return letter


def handling(session: Session) -> Letter:
    letter = transferred(session)
    step(session, HANDLER, letter, Step.receive, D(2026, 3, 5))
    step(session, HANDLER, letter, Step.accept, D(2026, 3, 6), document_no="某区信受告〔2026〕1号")
    return letter


def counts(session: Session) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(CaseEventRecord)) or 0,
        session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        session.scalar(select(func.max(Letter.version))) or 0,
    )


# ----------------------------------------------------------------------------- who may not act


def test_a_handler_of_another_body_may_not_act(office: Session) -> None:
    letter = transferred(office)
    with pytest.raises(NotAllowedError, match=r"承办单位人员只能办理本单位承办的案件.*承办单位：housing"):
        step(office, OTHER_HANDLER, letter, Step.receive, D(2026, 3, 5))


def test_a_handler_may_not_act_before_the_case_reaches_a_body(office: Session) -> None:
    letter = routed_letter(office, D(2026, 3, 2))
    with pytest.raises(NotAllowedError, match="尚未转送、交办"):
        step(office, HANDLER, letter, Step.escalate, D(2026, 3, 3), reason="紧急", reported_to=("区委",))


def test_a_handler_never_acts_on_an_accusation_even_one_sent_to_their_body(office: Session) -> None:
    # an accusation against the 住建局, decided by an inspector to the discipline channel and
    # forwarded; the 住建局's handler may not sign for it
    letter = routed_letter(
        office,
        D(2026, 3, 2),
        decider=INSPECTOR,
        category="accusation",
        channel="discipline",
        confidential=True,
    )
    view = step(office, INSPECTOR, letter, Step.transfer, D(2026, 3, 3), document_no="某区信转〔2026〕9号")
    assert view.confidential and view.handling_body == BODY
    assert case_of(office, letter, user=HANDLER).allowed == ()
    with pytest.raises(NotAllowedError, match="保密事项.*承办单位人员不能办理"):
        step(office, HANDLER, letter, Step.receive, D(2026, 3, 5))
    with pytest.raises(NotAllowedError, match="保密事项.*接待／办信人员不能办理"):
        step(office, INTAKE, letter, Step.escalate, D(2026, 3, 5), reason="紧急", reported_to=("区委",))
    with pytest.raises(NotAllowedError, match="不能为其出具文书"):
        issued(office, HANDLER, letter, "acceptance_notice", D(2026, 3, 5), accepted_on=D(2026, 3, 5))
    # those who read accusations act on it
    assert step(office, INSPECTOR, letter, Step.receive, D(2026, 3, 5)).state == "received"


def test_a_role_the_table_never_lets_take_a_step_is_refused(office: Session) -> None:
    letter = routed_letter(office, D(2026, 3, 2))
    with pytest.raises(
        NotAllowedError,
        match="统计分析人员不能进行「转送」；该步骤限：接待／办信人员、科室负责人、纪检监察人员",
    ):
        step(office, ANALYST, letter, Step.transfer, D(2026, 3, 3), document_no="某区信转〔2026〕1号")
    with pytest.raises(NotAllowedError, match="接待／办信人员不能进行「督办」；该步骤限：科室负责人"):
        step(
            office,
            INTAKE,
            letter,
            Step.supervise,
            D(2026, 3, 3),
            reason="催办",
            due_on=D(2026, 3, 10),
            document_no="x督〔2026〕1号",
        )
    assert case_of(office, letter, user=ANALYST).allowed == ()


def test_a_role_not_allowed_in_this_state_is_refused(office: Session) -> None:
    letter = handling(office)
    step(office, HANDLER, letter, Step.answer, D(2026, 4, 20), document_no="某区信处意〔2026〕1号")
    step(office, INTAKE, letter, Step.serve, D(2026, 4, 22), effective_on=D(2026, 4, 22))
    step(office, INTAKE, letter, Step.request_review, D(2026, 5, 1), reason="不服")
    # a handler holds hearings while handling, but not during the 复查 one level up
    with pytest.raises(NotAllowedError, match="案件处于「复查中」时，承办单位人员不能进行「听证」"):
        step(
            office, HANDLER, letter, Step.hearing, D(2026, 5, 5), participants=("甲",), minutes="记录", days=1
        )


def test_a_deactivated_or_unknown_account_may_not_act(office: Session) -> None:
    letter = routed_letter(office, D(2026, 3, 2))
    deactivate_user(office, INTAKE, actor=SUPERVISOR, now=at(D(2026, 3, 2), 12))
    with pytest.raises(NotAllowedError, match="已停用"):
        step(office, INTAKE, letter, Step.transfer, D(2026, 3, 3), document_no="某区信转〔2026〕1号")
    with pytest.raises(NotFoundError, match="账户“nobody”不存在"):
        step(office, "nobody", letter, Step.transfer, D(2026, 3, 3), document_no="某区信转〔2026〕1号")


# ------------------------------------------------------------------- what the state does not allow


def test_a_step_the_state_does_not_allow_names_the_steps_it_does(office: Session) -> None:
    letter = routed_letter(office, D(2026, 3, 2))
    with pytest.raises(CaseStepRefused, match="案件处于「已确定去向」，不能「受理」") as refused:
        step(office, SUPERVISOR, letter, Step.accept, D(2026, 3, 3), document_no="某区信受告〔2026〕1号")
    assert refused.value.state == "decided" and refused.value.step == Step.accept
    assert Step.transfer in refused.value.allowed
    assert isinstance(refused.value, InvalidStateError)


def test_registration_is_not_a_step_and_a_route_is_not_decided_after_it_is_carried_out(
    office: Session,
) -> None:
    letter = transferred(office)
    with pytest.raises(CaseStepRefused, match="登记不作为案件步骤"):
        step(office, INTAKE, letter, Step.register, D(2026, 3, 3))
    assert not case_of(office, letter).may_decide
    with pytest.raises(CaseStepRefused, match="不能「确定去向」"):
        step(
            office,
            INTAKE,
            letter,
            Step.decide,
            D(2026, 3, 4),
            channel="ordinary",
            disposition="accept",
            reason="改",
        )


def test_a_route_to_a_notice_is_not_transferred(office: Session) -> None:
    letter = routed_letter(office, D(2026, 3, 2), disposition="not_accepted")
    with pytest.raises(CaseStepRefused, match="应出具告知书，不转送、交办"):
        step(office, INTAKE, letter, Step.transfer, D(2026, 3, 3), document_no="某区信转〔2026〕1号")


def test_an_objection_after_five_working_days_is_refused(office: Session) -> None:
    letter = transferred(office)
    step(office, HANDLER, letter, Step.receive, D(2026, 3, 4))
    with pytest.raises(CaseStepRefused, match=r"异议期限已过.*2026年3月11日前提出（第二十三条第三款）"):
        step(office, HANDLER, letter, Step.object, D(2026, 3, 12), reason="不属本单位职责")


def test_a_review_requested_after_thirty_days_is_refused(office: Session) -> None:
    letter = handling(office)
    step(office, HANDLER, letter, Step.answer, D(2026, 4, 20), document_no="某区信处意〔2026〕1号")
    step(office, INTAKE, letter, Step.serve, D(2026, 4, 23), effective_on=D(2026, 4, 22))
    with pytest.raises(CaseStepRefused, match=r"复查请求已超过期限.*2026年5月22日前请求复查（第三十五条）"):
        step(office, INTAKE, letter, Step.request_review, D(2026, 5, 25), reason="不服")


def test_a_second_extension_is_refused(office: Session) -> None:
    letter = handling(office)
    step(
        office,
        SUPERVISOR,
        letter,
        Step.extend,
        D(2026, 4, 1),
        days=10,
        reason="鉴定",
        document_no="某区信延告〔2026〕1号",
    )
    with pytest.raises(CaseStepRefused, match="办理期限只能延长一次"):
        step(
            office,
            SUPERVISOR,
            letter,
            Step.extend,
            D(2026, 4, 2),
            days=10,
            reason="再鉴定",
            document_no="某区信延告〔2026〕2号",
        )


def test_a_step_dated_before_the_one_it_follows_is_refused(office: Session) -> None:
    letter = transferred(office)
    with pytest.raises(CaseStepRefused, match="记录时间早于上一步「转送」"):
        take_step(office, HANDLER, letter, Step.receive, now=at(D(2026, 3, 3), 9))


def test_a_merged_letter_takes_no_step(office: Session) -> None:
    kept = routed_letter(office, D(2026, 3, 2), decided=False)
    merged = routed_letter(office, D(2026, 3, 2), decided=False)
    merge_letters(
        office,
        kept.id,
        merged.id,
        keep_version=get_letter(office, kept.id).version,
        merged_version=get_letter(office, merged.id).version,
        actor=INTAKE,
        reason="同一事项",
        now=at(D(2026, 3, 2), 11),
    )
    with pytest.raises(InvalidStateError, match=f"已并入 {kept.case_number}"):
        step(office, INTAKE, merged, Step.escalate, D(2026, 3, 3), reason="紧急", reported_to=("区委",))
    with pytest.raises(InvalidStateError, match=f"已并入 {kept.case_number}"):
        case_of(office, merged)


# --------------------------------------------------------------------- what a step is missing


def test_a_step_without_what_it_requires_is_refused_naming_it(office: Session) -> None:
    letter = routed_letter(office, D(2026, 3, 2))
    with pytest.raises(InvalidValueError, match="「转送」填写有误：「转送」须填写：文号"):
        step(office, INTAKE, letter, Step.transfer, D(2026, 3, 3))


def test_unknown_fields_steps_and_malformed_values_are_refused(office: Session) -> None:
    letter = handling(office)
    with pytest.raises(InvalidValueError, match="没有这些栏目：colour"):
        step(office, SUPERVISOR, letter, Step.supervise, D(2026, 4, 1), colour="red")
    with pytest.raises(InvalidValueError, match="没有“approve”这一办理步骤"):
        step(office, SUPERVISOR, letter, "approve", D(2026, 4, 1))
    with pytest.raises(InvalidValueError, match="「期限」应为日期"):
        step(
            office,
            SUPERVISOR,
            letter,
            Step.supervise,
            D(2026, 4, 1),
            reason="催",
            due_on="下周",
            document_no="x",
        )
    with pytest.raises(InvalidValueError, match="延长期限为1至30日"):
        step(office, SUPERVISOR, letter, Step.extend, D(2026, 4, 1), days=45, reason="鉴定", document_no="x")
    with pytest.raises(InvalidValueError, match="「延期」不填写：期限"):
        step(
            office,
            SUPERVISOR,
            letter,
            Step.extend,
            D(2026, 4, 1),
            days=5,
            reason="x",
            document_no="x",
            due_on=D(2026, 5, 1),
        )
    with pytest.raises(InvalidValueError, match="未带时区"):
        take_step(office, SUPERVISOR, letter, Step.close, now=dt.datetime(2026, 4, 1, 10))


def test_a_transfer_goes_to_the_department_the_route_decided(office: Session) -> None:
    letter = routed_letter(office, D(2026, 3, 2))
    with pytest.raises(
        InvalidValueError, match="与确定去向的承办部门「housing」不一致；如需改送，请先改定去向"
    ):
        step(
            office,
            INTAKE,
            letter,
            Step.transfer,
            D(2026, 3, 3),
            body=OTHER_BODY,
            document_no="某区信转〔2026〕1号",
        )


def test_a_document_number_of_another_case_or_kind_is_refused(office: Session) -> None:
    letter = routed_letter(office, D(2026, 3, 2))
    other = routed_letter(office, D(2026, 3, 2))
    theirs = issued(office, INTAKE, other, "transfer_letter", D(2026, 3, 3))
    with pytest.raises(
        InvalidValueError, match=f"是 {other.case_number} 的文书，不能用于 {letter.case_number}"
    ):
        step(office, INTAKE, letter, Step.transfer, D(2026, 3, 3), document_no=theirs.number)
    wrong = issued(office, INTAKE, letter, "assignment_sheet", D(2026, 3, 3), report_due=D(2026, 4, 1))
    with pytest.raises(InvalidValueError, match="是交办单；「转送」应附转送函"):
        step(office, INTAKE, letter, Step.transfer, D(2026, 3, 3), document_no=wrong.number)


def test_unknown_letters_are_not_found(office: Session) -> None:
    with pytest.raises(NotFoundError, match="内部编号 999"):
        case_of(office, 999)
    with pytest.raises(NotFoundError, match="XF-2026-000001"):
        step(
            office, INTAKE, "XF-2026-000001", Step.escalate, D(2026, 3, 3), reason="x", reported_to=("区委",)
        )  # type: ignore[arg-type]


# ------------------------------------------------------------ a refusal changes nothing, a stale page


def test_a_refused_step_leaves_the_transaction_as_it_was(office: Session) -> None:
    letter = transferred(office)
    before = counts(office)
    for attempt in (
        lambda: step(office, OTHER_HANDLER, letter, Step.receive, D(2026, 3, 5)),
        lambda: step(office, HANDLER, letter, Step.accept, D(2026, 3, 5), document_no="x"),
        lambda: step(office, INTAKE, letter, Step.escalate, D(2026, 3, 5)),
    ):
        with pytest.raises((NotAllowedError, CaseStepRefused, InvalidValueError)):
            attempt()
        assert counts(office) == before
    office.commit()
    assert counts(office) == before


def test_a_step_on_a_page_read_before_another_step_is_a_conflict(office: Session) -> None:
    letter = transferred(office)
    seen = case_of(office, letter).version
    take_step(office, HANDLER, letter, Step.receive, now=at(D(2026, 3, 5)), expected_version=seen)
    with pytest.raises(
        CaseChangedError,
        match=rf"{letter.case_number} 已有他人办理（您看到的是第 {seen} 版，现为第 {seen + 1} 版）",
    ) as conflict:
        take_step(
            office,
            HANDLER,
            letter,
            Step.accept,
            {"document_no": "某区信受告〔2026〕1号"},
            now=at(D(2026, 3, 6)),
            expected_version=seen,
        )
    assert isinstance(conflict.value, ConflictError) and conflict.value.current_version == seen + 1


# ----------------------------------------------------------------------------------- documents


def test_who_issues_what(office: Session) -> None:
    letter = transferred(office)
    with pytest.raises(
        NotAllowedError, match="承办单位人员不能出具转送函；限：接待／办信人员、科室负责人、纪检监察人员"
    ):
        issued(office, HANDLER, letter, "transfer_letter", D(2026, 3, 4))
    with pytest.raises(NotAllowedError, match="接待／办信人员不能出具受理告知书"):
        issued(office, INTAKE, letter, "acceptance_notice", D(2026, 3, 4), accepted_on=D(2026, 3, 4))
    with pytest.raises(NotAllowedError, match="承办单位人员只能为本单位承办的案件出具文书"):
        issued(office, OTHER_HANDLER, letter, "acceptance_notice", D(2026, 3, 4), accepted_on=D(2026, 3, 4))
    with pytest.raises(NotAllowedError, match="接待／办信人员不能出具督办单；限：科室负责人"):
        issued(office, INTAKE, letter, "supervision_sheet", D(2026, 3, 4), new_due=D(2026, 4, 1))


def test_a_document_missing_fields_a_bad_office_or_a_bad_date_is_refused(office: Session) -> None:
    letter = routed_letter(office, D(2026, 3, 2))
    with pytest.raises(InvalidValueError, match="「受理告知书」缺少：受理日期、处理途径和程序、落款单位"):
        draft_document(office, letter, "acceptance_notice")
    reviewed = draft_document(office, letter, "transfer_letter", {"issuer": "某区人民政府信访局"})
    with pytest.raises(InvalidValueError, match="机关代字不能为空"):
        issue_document(office, INTAKE, letter, reviewed, office=" ", now=at(D(2026, 3, 3)))
    with pytest.raises(InvalidValueError, match="发出日期 2026-03-02 早于成文日期 2026-03-03"):
        issue_document(
            office, INTAKE, letter, reviewed, office="某区", now=at(D(2026, 3, 3)), sent_on=D(2026, 3, 2)
        )
    with pytest.raises(InvalidValueError, match="没有文书模板「memo」"):
        draft_document(office, letter, "memo")


def test_the_day_sent_is_recorded_once(office: Session) -> None:
    letter = routed_letter(office, D(2026, 3, 2))
    document = issued(office, INTAKE, letter, "transfer_letter", D(2026, 3, 3))
    with pytest.raises(InvalidValueError, match="晚于今天"):
        record_sent(office, INTAKE, document, D(2026, 3, 5), now=at(D(2026, 3, 4)))
    record_sent(office, INTAKE, document.id, D(2026, 3, 4), now=at(D(2026, 3, 4)))
    assert document.sent_on == D(2026, 3, 4)
    with pytest.raises(InvalidStateError, match="已记录发出日期"):
        record_sent(office, INTAKE, document, D(2026, 3, 4), now=at(D(2026, 3, 4), 11))
    sent = office.scalars(select(AuditEvent).where(AuditEvent.action == "document_sent")).one()
    assert sent.details["sent_on"] == "2026-03-04"


def test_issued_documents_and_case_events_cannot_be_rewritten(office: Session, factory: object) -> None:
    letter = routed_letter(office, D(2026, 3, 2))
    document = issued(office, INTAKE, letter, "transfer_letter", D(2026, 3, 3))
    step(office, INTAKE, letter, Step.transfer, D(2026, 3, 3), document_no=document.number)
    office.commit()
    for sql in (
        "UPDATE case_events SET reason = 'x'",
        "DELETE FROM case_events",
        "UPDATE case_documents SET docx = :blob",
        "UPDATE case_documents SET number = 'X信转〔2026〕99号'",
        "DELETE FROM case_documents",
    ):
        with pytest.raises(IntegrityError), office.begin_nested():
            office.execute(text(sql), {"blob": b"forged"} if ":blob" in sql else {})
    office.execute(text("UPDATE case_documents SET sent_on = :d"), {"d": D(2026, 3, 4)})
    with pytest.raises(IntegrityError), office.begin_nested():
        office.execute(text("UPDATE case_documents SET sent_on = :d"), {"d": D(2026, 3, 5)})


# ------------------------------------------------------------------------------------- links


def test_linking_refusals(office: Session) -> None:
    earlier = routed_letter(office, D(2026, 3, 2))
    later = routed_letter(office, D(2026, 5, 2))
    with pytest.raises(NotAllowedError, match="承办单位人员不能关联同一信访事项"):
        link_same_matter(office, HANDLER, later, earlier, reason="同一事项", now=at(D(2026, 5, 2)))
    with pytest.raises(InvalidValueError, match="不能与自身关联"):
        link_same_matter(office, INTAKE, later, later, reason="同一事项", now=at(D(2026, 5, 2)))
    with pytest.raises(InvalidValueError, match="须填写理由"):
        link_same_matter(office, INTAKE, later, earlier, reason=" ", now=at(D(2026, 5, 2)))
    with pytest.raises(InvalidValueError, match="只能关联在先的信访事项"):
        link_same_matter(office, INTAKE, earlier, later, reason="同一事项", now=at(D(2026, 5, 2)))
    secret = routed_letter(
        office, D(2026, 1, 5), decider=INSPECTOR, category="accusation", channel="discipline"
    )
    with pytest.raises(NotAllowedError, match="保密事项，接待／办信人员不能关联"):
        link_same_matter(office, INTAKE, later, secret, reason="同一事项", now=at(D(2026, 5, 2)))
    same_day = routed_letter(office, D(2026, 5, 2))
    link_same_matter(office, INTAKE, later, same_day, reason="同一事项", now=at(D(2026, 5, 2), 11))
    with pytest.raises(InvalidValueError, match="不能再反向关联"):
        link_same_matter(office, INTAKE, same_day, later, reason="同一事项", now=at(D(2026, 5, 2), 12))
    # the link is removed by linking to nothing, and audited either way
    removed = link_same_matter(office, SUPERVISOR, later, None, now=at(D(2026, 5, 2), 13))
    assert removed.earlier_case_number is None and case_of(office, later).linked_to is None
    linked = office.scalars(select(AuditEvent).where(AuditEvent.action == "case_linked")).all()
    assert [e.details["earlier"] for e in linked] == [same_day.case_number, None]


def test_the_supervisors_view_looks_ahead_at_most_a_year(office: Session) -> None:
    from casework.supervision import supervision

    with pytest.raises(InvalidValueError, match="督办提前天数应在 0 到 366 之间，收到 -1"):
        supervision(office, D(2026, 3, 2), within_days=-1)
