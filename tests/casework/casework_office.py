"""An office on a real database for the casework store tests: its officers, routed letters, steps
taken on given days and documents issued, all dated on the 2026 calendar in Beijing time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from casework.cases import CaseView, take_step
from casework.issuing import draft_document, issue_document
from casework.states import CHINA_TZ, Step
from routing.schemas import HeadPrediction, LabelScore, RouteProposal
from store.letters import add_proposal, create_letter, decide
from store.models import CaseDocument, Letter, User
from store.users import create_user

D = dt.date
OFFICE = "某区"  # the office's 机关代字 in its 文号
ISSUER = "某区人民政府信访局"
BODY = "housing"
OTHER_BODY = "urban_management"
BODY_NAMES = {BODY: "某区住房和城乡建设局", OTHER_BODY: "某区城市管理和综合执法局"}
PASSWORD = "Lantern-river 2026"

INTAKE = "li.ming"
INTAKE_2 = "wang.fang"
SUPERVISOR = "zhao.lei"
HANDLER = "chen.jing"  # 住房和城乡建设局
OTHER_HANDLER = "wu.gang"  # 城市管理和综合执法局
INSPECTOR = "sun.li"
ANALYST = "qian.hui"

_ACCOUNTS: tuple[tuple[str, str, str | None], ...] = (
    (INTAKE, "intake_officer", None),
    (INTAKE_2, "intake_officer", None),
    (SUPERVISOR, "supervisor", None),
    (HANDLER, "department_handler", BODY),
    (OTHER_HANDLER, "department_handler", OTHER_BODY),
    (INSPECTOR, "discipline_inspector", None),
    (ANALYST, "analyst", None),
)

#: What an officer writes into each kind of document, beyond what the case gives it.
OFFICER_VALUES: dict[str, dict[str, object]] = {
    "transfer_letter": {},
    "assignment_sheet": {},
    "acceptance_notice": {"procedure": "本机关将调查核实，并在60日内出具信访处理意见书。"},
    "not_accepted_notice": {
        "reason": "该事项已由人民法院受理",
        "article": "《信访工作条例》第三十一条第一项",
        "where_to_turn": "依照诉讼程序向某区人民法院反映",
    },
    "no_longer_accepted_notice": {"where_to_turn": "依照法律程序提出", "final_body": "某市人民政府"},
    "complaint_outcome_notice": {
        "findings": "经现场核查属实",
        "outcome": "已责令改正",
        "review_authority": "某区人民政府",
        "court": "某区人民法院",
    },
    "handling_opinion": {
        "opinion": "支持你的请求，责成物业服务企业于30日内完成维修",
        "legal_basis": "《物业管理条例》第三十五条",
        "review_body": "某市住房和城乡建设局",
        "request": "请求维修电梯",
        "facts": "电梯多次故障无人处理",
    },
    "supervision_sheet": {"situation": "已超过办理期限，尚未办结", "reason": "逾期未办结"},
    "extension_notice": {"reason": "需要委托鉴定"},
}


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=CHINA_TZ)


def officers(session: Session) -> dict[str, User]:
    """The office's accounts, created on 2026-01-05."""
    return {
        username: create_user(
            session,
            username=username,
            password=PASSWORD,
            role=role,
            display_name=username,
            department=department,
            now=at(D(2026, 1, 5)),
        )
        for username, role, department in _ACCOUNTS
    }


def head(label: str) -> HeadPrediction:
    return HeadPrediction(label=label, name=label, p=0.9, top=(LabelScore(code=label, name=label, p=0.9),))


def proposal(
    *,
    category: str = "appeal",
    department: str = BODY,
    channel: str = "ordinary",
    disposition: str = "accept",
    urgent: bool = False,
    confidential: bool = False,
) -> RouteProposal:
    return RouteProposal(
        letter_id=None,
        category=head(category),
        domain=head("城乡建设"),
        department=head(department),
        channel=channel,
        channel_name=channel,
        channel_source="model",
        disposition=disposition,
        disposition_name=disposition,
        target_body="住房和城乡建设局",
        confidential=confidential,
        urgent=urgent,
        needs_review=False,
        confidence=0.9,
        model_version="tfidf_lr-2026.12.1",
        rulebook_version="2026.12.1",
    )


def routed_letter(
    session: Session,
    day: dt.date,
    *,
    decided: bool = True,
    decider: str = INTAKE,
    title: str = "小区电梯多次故障无人维修",
    **route: Any,
) -> Letter:
    """A letter received and registered on ``day`` at 09:00, proposed for at 09:05 and, when
    ``decided``, decided as proposed at 09:30."""
    letter = create_letter(
        session,
        title=title,
        text="我们小区的电梯多次故障，物业公司长期不维修。",
        created_by=INTAKE,
        received_on=day,
        petitioner_name="张某某",
        address="某市某区幸福路8号3单元502室",
        contact_phone="13800138000",
        id_number="110101199003071234",
        now=at(day, 9),
    )
    made = proposal(**route)
    add_proposal(session, letter.id, made, now=at(day, 9, 5))
    if decided:
        decide(
            session,
            letter.id,
            expected_version=letter.version,
            decided_by=decider,
            category=made.category.label,
            domain=made.domain.label,
            department=made.department.label,
            channel=made.channel,
            disposition=made.disposition,
            now=at(day, 9, 30),
        )
    return letter


def step(
    session: Session,
    user: str,
    letter: Letter | int,
    name: Step | str,
    day: dt.date,
    hour: int = 10,
    **fields: Any,
) -> CaseView:
    """``user`` takes step ``name`` on ``letter`` at ``hour`` o'clock on ``day``."""
    return take_step(session, user, letter, name, fields, now=at(day, hour))


def issued(
    session: Session,
    user: str,
    letter: Letter | int,
    kind: str,
    day: dt.date,
    hour: int = 10,
    **values: object,
) -> CaseDocument:
    """``user`` drafts the ``kind`` document with the officer's usual values and issues it as drafted."""
    reviewed = draft_document(
        session,
        letter,
        kind,
        {"issuer": ISSUER, **OFFICER_VALUES[kind], **values},
        department_names=BODY_NAMES,
    )
    return issue_document(session, user, letter, reviewed, office=OFFICE, now=at(day, hour))
