"""Plain factory functions for store tests: a RouteProposal, a user, a routed letter."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from routing.schemas import Deadline, HeadPrediction, LabelScore, RouteProposal
from store.letters import add_proposal, create_letter
from store.models import Letter, User
from store.users import create_user

PASSWORD = "Lantern-river 2026"


def head(label: str, p: float = 0.9, runner_up: str | None = None) -> HeadPrediction:
    top = [LabelScore(code=label, name=label, p=p)]
    if runner_up:
        top.append(LabelScore(code=runner_up, name=runner_up, p=round(1 - p, 4)))
    return HeadPrediction(label=label, name=label, p=p, top=tuple(top))


def make_proposal(
    *,
    category: str = "appeal",
    domain: str = "城乡建设",
    department: str = "housing",
    channel: str = "ordinary",
    disposition: str = "accept",
    urgent: bool = False,
    needs_review: bool = False,
    confidential: bool = False,
    due: dt.date | None = None,
    letter_id: str | None = None,
    model_version: str = "tfidf_lr-2026.12.1",
) -> RouteProposal:
    deadlines = ()
    if due is not None:
        deadlines = (
            Deadline(
                code="acceptance",
                label="受理告知",
                basis="条例 第三十二条",
                days=15,
                unit="calendar_days",
                starts="收到信访事项之日",
                due=due,
            ),
        )
    return RouteProposal(
        letter_id=letter_id,
        category=head(category, runner_up="suggestion" if category != "suggestion" else "appeal"),
        domain=head(domain),
        department=head(department),
        channel=channel,
        channel_name=channel,
        channel_source="model",
        disposition=disposition,
        disposition_name=disposition,
        target_body="住房和城乡建设局",
        deadlines=deadlines,
        confidential=confidential,
        urgent=urgent,
        needs_review=needs_review,
        confidence=0.9,
        model_version=model_version,
        rulebook_version="2026.12.1",
    )


def make_user(session: Session, username: str = "li.ming", role: str = "intake_officer", **kw: Any) -> User:
    kw.setdefault("display_name", "李明")
    kw.setdefault("password", PASSWORD)
    return create_user(session, username=username, role=role, **kw)


def make_letter(session: Session, *, proposal: RouteProposal | None = None, **kw: Any) -> Letter:
    """A registered letter with one proposal (pass ``proposal=None`` via ``routed=False`` to skip it)."""
    routed = kw.pop("routed", True)
    kw.setdefault("title", "小区物业长期不作为")
    kw.setdefault("text", "我们小区的物业公司长期不履行维修义务，电梯多次故障无人处理。")
    kw.setdefault("created_by", "li.ming")
    letter = create_letter(session, **kw)
    if routed:
        add_proposal(session, letter.id, proposal or make_proposal())
    return letter


AGREE = {
    "category": "appeal",
    "domain": "城乡建设",
    "department": "housing",
    "channel": "ordinary",
    "disposition": "accept",
}
