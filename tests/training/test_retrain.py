"""End to end: officers correct a proposal in the database, retraining learns the correction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from tiny_corpus import TINY_OVERRIDES

from routing.router import Router
from routing.schemas import Letter
from store.db import session_scope
from store.letters import add_proposal, create_letter, decide
from store.users import create_user
from training.datasets import in_test, read_decisions, text_key
from training.train import train

TITLE = "物业经理"
TEXT = "物业经理收受装修公司好处费，默许业主违规装修。"
ROUTE: dict[str, Any] = {
    "category": "appeal",
    "domain": "城乡建设",
    "department": "housing",
    "channel": "ordinary",
}
CORRECTED: dict[str, Any] = {
    "category": "accusation",
    "domain": "城乡建设",
    "department": "discipline_inspection",
    "channel": "discipline",
}


def officer_corrects(factory: sessionmaker[Session], router: Router) -> None:
    """Register the letter, store the router's proposal, confirm it, then correct the decision."""
    with session_scope(factory) as session:
        create_user(
            session,
            username="li.ming",
            password="Lantern-river 2026",
            role="intake_officer",
            display_name="李明",
        )
        letter = create_letter(session, title=TITLE, text=TEXT, created_by="li.ming")
        proposal = router.propose(Letter(title=TITLE, text=TEXT))
        add_proposal(session, letter.id, proposal)
        first = decide(
            session,
            letter.id,
            expected_version=letter.version,
            decided_by="li.ming",
            disposition="accept",
            reason="按建议办理",
            **ROUTE,
        )
        decide(
            session,
            letter.id,
            expected_version=letter.version,
            decided_by="li.ming",
            disposition="accept",
            reason="系经理收受好处，属检举控告",
            **CORRECTED,
        )
        assert first.id is not None
        # A letter that was only proposed for: the proposal must never become a label.
        other = create_letter(
            session, title="电梯", text="电梯坏了，物业不修，请求处理电梯维修。", created_by="li.ming"
        )
        add_proposal(session, other.id, router.propose(Letter(text=other.text)))


@pytest.mark.slow
def test_a_correction_in_the_database_changes_the_prediction(
    tmp_path: Path, tiny_data: Path, db_url: str, factory: sessionmaker[Session]
) -> None:
    # The corrected letter's group (its text) falls on the training side of the tiny split.
    assert not in_test("text:" + text_key(TITLE, TEXT)[:20], 0.25, 10)
    before = train(
        data_dir=tiny_data, models_dir=tmp_path, version="before", overrides=TINY_OVERRIDES, report=False
    )
    router_before = Router.load(before.model_dir)
    assert router_before.propose(Letter(title=TITLE, text=TEXT)).department.top[0].code == "housing"

    officer_corrects(factory, router_before)
    labels = read_decisions(db_url)
    assert [(label.department, label.corrected) for label in labels] == [("discipline_inspection", True)]

    after = train(
        data_dir=tiny_data,
        models_dir=tmp_path,
        version="after",
        overrides=TINY_OVERRIDES,
        database_url=db_url,
    )
    meta = after.model.meta
    assert meta["decisions"]["decisions"] == 1 and meta["decisions"]["added_letters"] == 1
    assert meta["decisions"]["corrections"] == 1 and meta["rows"]["train_department"] == 19
    assert meta["label_distribution"]["department"]["discipline_inspection"] == 6
    proposal = Router.load(after.model_dir).propose(Letter(title=TITLE, text=TEXT))
    assert proposal.department.top[0].code == "discipline_inspection"
    assert proposal.category.label == "accusation"
    # evaluate (run at the end of train) rebuilt the split with the decisions read again
    assert after.evaluation is not None and after.evaluation["proposal"]["letters"] == 6


@pytest.mark.slow
def test_a_decision_on_a_shared_letter_replaces_its_label(
    tmp_path: Path, tiny_data: Path, factory: sessionmaker[Session], db_url: str
) -> None:
    """The same text registered in the workbench joins the shared letter; the officer outranks it."""
    base = train(
        data_dir=tiny_data, models_dir=tmp_path, version="base", overrides=TINY_OVERRIDES, report=False
    )
    router = Router.load(base.model_dir)
    with session_scope(factory) as session:
        create_user(
            session,
            username="li.ming",
            password="Lantern-river 2026",
            role="intake_officer",
            display_name="李明",
        )
        # h1 of the tiny corpus as a scan reads it, with stray spaces: the same text after normalising
        letter = create_letter(
            session,
            title="物业乱收费",
            text="小区物业公司乱收费， 每月 多收停车费，请求退还。",
            created_by="li.ming",
        )
        add_proposal(session, letter.id, router.propose(Letter(title=letter.title, text=letter.text)))
        decide(
            session,
            letter.id,
            expected_version=letter.version,
            decided_by="li.ming",
            disposition="accept",
            reason="欠薪问题",
            **{**ROUTE, "channel": "arbitration", "department": "hr_social_security"},
        )
    result = train(
        data_dir=tiny_data,
        models_dir=tmp_path,
        version="joined",
        overrides=TINY_OVERRIDES,
        database_url=db_url,
        report=False,
    )
    decisions = result.model.meta["decisions"]
    assert decisions["replaced_ids"] == ["h1"] and decisions["added_letters"] == 0
    assert result.model.meta["rows"]["letters"] == 24
    assert (
        result.model.meta["label_distribution"]["department"]["hr_social_security"] == 4 + 1
    )  # w2 w3 w5 w6 and h1
