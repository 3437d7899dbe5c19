"""The office's figures kept on each ``cases`` row (``casework.figures``) are exactly what the
statistics used to derive from the raw steps on every request.

An office walks letters through every way a step is written (a return and a new route, 交办, refusals
by the office and by the body, an extension, 复查 and 复核, several ratings, steps recorded just
after midnight and late at night Beijing time, a step dated before its recording, a pending letter
supervised then merged, a letter split, a link to an earlier case), on SQLite and PostgreSQL. The
figures each step wrote must equal the definition the statistics statement used before: an
aggregate of ``case_events`` per letter, written out again here as it was. Migration 0009 must fill
the same figures into a database that had the steps but not the columns.

The route each letter keeps (``store.routes``) is held the same way: after the story and a few
more corrections (a decision corrected to an accusation, a proposal after a decision, a second
proposal of a pending letter, a letter without any), it must equal its newest decision, else its
newest proposal, as read from those rows here; the statistics' counts by route, state and
confidentiality must be those the rows give; migration 0012 must fill the same columns.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from casework_office import (
    BODY,
    HANDLER,
    INTAKE,
    OTHER_BODY,
    OTHER_HANDLER,
    SUPERVISOR,
    D,
    at,
    officers,
    proposal,
    routed_letter,
    step,
)
from sqlalchemy import Date, and_, case, cast, func, select, text, update
from sqlalchemy.orm import Session

from casework.cases import link_same_matter, sync_case
from casework.figures import EMPTY, figures_of, id_range, refill
from routing.schemas import Deadline
from service.access import Scope
from service.statistics import compute, parse_period
from store import routes
from store.confidentiality import admits
from store.db import make_engine, make_session_factory, schema_differences, session_scope, upgrade
from store.letters import add_proposal, create_letter, decide
from store.models import CaseEventRecord, CaseRecord, Decision, Letter, Proposal
from store.regroup import merge_letters, split_letter

GRADES = ("satisfied", "basically_satisfied", "dissatisfied")


def office(session: Session) -> dict[str, int]:
    """The letters of the story, by name; every step goes through ``casework.cases.take_step``."""
    officers(session)
    numbers = iter(range(1, 1000))

    def no() -> str:
        return f"某区信〔2026〕{next(numbers)}号"

    full = routed_letter(session, D(2026, 3, 2), title="A市A3区小区电梯多次故障")
    step(session, INTAKE, full, "transfer", D(2026, 3, 5), 23, document_no=no())  # 15:00 UTC
    step(session, HANDLER, full, "receive", D(2026, 3, 6))
    # 00:00 on 9 March in Beijing is still 8 March in UTC: the day is Beijing's
    step(session, HANDLER, full, "accept", D(2026, 3, 9), 0, document_no=no())
    step(session, HANDLER, full, "answer", D(2026, 3, 30), document_no=no())
    step(session, HANDLER, full, "serve", D(2026, 4, 1), effective_on=D(2026, 4, 1))
    step(session, INTAKE, full, "rate", D(2026, 4, 2), rating="satisfied")
    step(session, INTAKE, full, "request_review", D(2026, 4, 10), reason="不服处理意见")
    step(session, SUPERVISOR, full, "answer_review", D(2026, 4, 20), document_no=no())
    step(session, INTAKE, full, "serve", D(2026, 4, 22), effective_on=D(2026, 4, 22))
    step(session, INTAKE, full, "rate", D(2026, 4, 23), rating="basically_satisfied")
    step(session, INTAKE, full, "request_recheck", D(2026, 5, 1), reason="不服复查意见")
    step(session, SUPERVISOR, full, "answer_recheck", D(2026, 5, 20), document_no=no())
    step(session, INTAKE, full, "rate", D(2026, 5, 21), rating="dissatisfied")

    returned = routed_letter(session, D(2026, 3, 3), title="反映K1区供暖不热")
    step(session, INTAKE, returned, "transfer", D(2026, 3, 4), document_no=no())
    step(session, HANDLER, returned, "receive", D(2026, 3, 5))
    step(session, HANDLER, returned, "object", D(2026, 3, 6), reason="供暖属城管职责")
    step(
        session,
        INTAKE,
        returned,
        "decide",
        D(2026, 3, 7),
        channel="ordinary",
        disposition="accept",
        body=OTHER_BODY,
        reason="异议成立，改送城管局",
    )
    step(session, INTAKE, returned, "transfer", D(2026, 3, 8), document_no=no())
    step(session, OTHER_HANDLER, returned, "receive", D(2026, 3, 9))
    step(session, OTHER_HANDLER, returned, "accept", D(2026, 3, 10), document_no=no())
    step(
        session, SUPERVISOR, returned, "extend", D(2026, 4, 30), days=20, reason="需要鉴定", document_no=no()
    )
    step(session, OTHER_HANDLER, returned, "answer", D(2026, 5, 25), document_no=no())
    step(session, INTAKE, returned, "rate", D(2026, 5, 26), rating="dissatisfied")

    assigned = routed_letter(session, D(2026, 3, 4))
    step(session, INTAKE, assigned, "assign", D(2026, 3, 5), due_on=D(2026, 4, 30), document_no=no())
    step(session, HANDLER, assigned, "receive", D(2026, 3, 6))
    step(session, HANDLER, assigned, "accept", D(2026, 3, 7), document_no=no())
    # recorded on 25 March, dated the 20th: the step counts from its own date
    step(session, HANDLER, assigned, "answer", D(2026, 3, 25), document_no=no(), effective_on=D(2026, 3, 20))

    refused = routed_letter(session, D(2026, 3, 10), disposition="not_accepted")
    step(
        session,
        INTAKE,
        refused,
        "not_accept",
        D(2026, 3, 12),
        reason="已由法院受理",
        basis="第十九条",
        document_no=no(),
    )

    body_refused = routed_letter(session, D(2026, 3, 11))
    step(session, INTAKE, body_refused, "transfer", D(2026, 3, 12), 0, document_no=no())
    step(session, HANDLER, body_refused, "receive", D(2026, 3, 13))
    step(
        session,
        HANDLER,
        body_refused,
        "no_longer_accept",
        D(2026, 3, 14),
        reason="已经复核终结",
        basis="第三十六条第三款",
        document_no=no(),
    )

    decided = routed_letter(session, D(2026, 3, 16))
    sync_case(session, decided, now=at(D(2026, 3, 16), 11))

    # a pending letter supervised, then merged into another pending one, which is routed on
    supervised = routed_letter(session, D(2026, 3, 17), decided=False)
    step(
        session,
        SUPERVISOR,
        supervised,
        "supervise",
        D(2026, 3, 18),
        reason="尽快登记",
        due_on=D(2026, 3, 25),
        document_no=no(),
    )
    kept = routed_letter(session, D(2026, 3, 19), decided=False)
    merge_letters(
        session,
        kept.id,
        supervised.id,
        keep_version=kept.version,
        merged_version=session.scalar(select(Letter.version).where(Letter.id == supervised.id)) or 0,
        actor=INTAKE,
        reason="同一来信的后续页",
        now=at(D(2026, 3, 19), 12),
    )
    step(session, INTAKE, kept, "decide", D(2026, 3, 20), channel="ordinary", disposition="accept")
    step(session, INTAKE, kept, "transfer", D(2026, 3, 21), document_no=no())

    # a pending letter split in two; the new letter is routed and transferred
    whole = routed_letter(session, D(2026, 3, 23), decided=False)
    parts = split_letter(
        session,
        whole.id,
        at=8,
        expected_version=whole.version,
        actor=INTAKE,
        reason="两件事项",
        now=at(D(2026, 3, 23), 12),
    )
    second = parts.second
    add_proposal(session, second.id, proposal(), now=at(D(2026, 3, 23), 13))
    step(session, INTAKE, second, "decide", D(2026, 3, 24), channel="ordinary", disposition="accept")
    step(session, INTAKE, second, "transfer", D(2026, 3, 25), document_no=no())
    step(session, HANDLER, second, "receive", D(2026, 3, 26))
    step(session, HANDLER, second, "accept", D(2026, 3, 27), document_no=no())

    # linked to an earlier case after its steps: the link rewrites the row, not its figures
    linked = routed_letter(session, D(2026, 3, 28))
    step(session, INTAKE, linked, "transfer", D(2026, 3, 29), document_no=no())
    link_same_matter(session, INTAKE, linked, full, reason="同一事实和理由", now=at(D(2026, 3, 30)))
    session.commit()
    return {
        "full": full.id,
        "returned": returned.id,
        "assigned": assigned.id,
        "refused": refused.id,
        "body_refused": body_refused.id,
        "decided": decided.id,
        "supervised": supervised.id,
        "kept": kept.id,
        "second": second.id,
        "linked": linked.id,
        "whole": whole.id,
    }


def _day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def old_definition(session: Session) -> dict[int, dict[str, Any]]:
    """The figures of each letter with steps, as ``service.statistics`` aggregated ``case_events``
    on every request before the figures were kept (its ``letter_events`` part, unchanged)."""
    if session.get_bind().dialect.name == "postgresql":
        recorded: Any = cast(func.timezone("Asia/Shanghai", CaseEventRecord.recorded_at), Date)
    else:
        recorded = func.date(CaseEventRecord.recorded_at, "+8 hours")
    day = func.coalesce(CaseEventRecord.effective_on, recorded)
    step_ = CaseEventRecord.step
    rating = CaseEventRecord.fields["rating"].as_string()
    forward = ("transfer", "assign", "not_accept", "no_longer_accept")
    query = select(
        CaseEventRecord.letter_id,
        func.min(case((step_.in_(forward), day))),
        func.min(case((step_ == "accept", day))),
        func.min(case((step_ == "answer", day))),
        func.max(case((step_ == "extend", CaseEventRecord.fields["days"].as_integer()))),
        func.max(case((step_ == "request_review", 1), else_=0)),
        func.max(case((step_ == "answer_review", 1), else_=0)),
        func.max(case((step_ == "request_recheck", 1), else_=0)),
        *(func.sum(case((and_(step_ == "rate", rating == grade), 1), else_=0)) for grade in GRADES),
    ).group_by(CaseEventRecord.letter_id)
    out: dict[int, dict[str, Any]] = {}
    for row in session.execute(query):
        letter_id, forwarded, accepted, answered, days, reviewed, review_answered, rechecked, *rated = row
        out[letter_id] = {
            "forwarded_on": _day(forwarded),
            "accepted_on": _day(accepted),
            "answered_on": _day(answered),
            "extension_days": days or 0,
            "review_requested": reviewed == 1,
            "review_answered": review_answered == 1,
            "recheck_requested": rechecked == 1,
            **{f"rated_{grade}": int(n) for grade, n in zip(GRADES, rated, strict=True)},
        }
    return out


def kept_figures(session: Session) -> dict[int, dict[str, Any]]:
    """The figures on every ``cases`` row."""
    session.expire_all()
    return {
        record.letter_id: {name: getattr(record, name) for name in EMPTY}
        for record in session.scalars(select(CaseRecord))
    }


def expected(session: Session) -> dict[int, dict[str, Any]]:
    """The old definition for every ``cases`` row; a row without steps has the empty figures."""
    old = old_definition(session)
    rows = session.scalars(select(CaseRecord.letter_id)).all()
    assert set(old) <= set(rows), "every letter with steps has its cases row"
    return {letter_id: old.get(letter_id, dict(EMPTY)) for letter_id in rows}


def test_each_step_keeps_the_figures_the_statistics_derived_from_the_steps(session: Session) -> None:
    ids = office(session)
    kept = kept_figures(session)
    assert kept == expected(session)
    # the story reaches every figure, so a figure written wrong anywhere cannot pass unseen
    full, returned = kept[ids["full"]], kept[ids["returned"]]
    assert full["accepted_on"] == D(2026, 3, 9) and full["forwarded_on"] == D(2026, 3, 5)
    grades = (full["rated_satisfied"], full["rated_basically_satisfied"], full["rated_dissatisfied"])
    assert grades == (1, 1, 1)  # one per answer: 处理意见, 复查意见, 复核意见
    assert full["review_requested"] and full["review_answered"] and full["recheck_requested"]
    assert returned["forwarded_on"] == D(2026, 3, 4) and returned["extension_days"] == 20  # the first 转送
    assert kept[ids["assigned"]]["answered_on"] == D(2026, 3, 20)
    assert kept[ids["body_refused"]]["forwarded_on"] == D(2026, 3, 12)
    assert kept[ids["decided"]] == EMPTY and kept[ids["supervised"]] == EMPTY
    assert kept[ids["second"]]["accepted_on"] == D(2026, 3, 27)
    assert kept[ids["linked"]]["forwarded_on"] == D(2026, 3, 29)
    # the statistics count the period's letters once: the merged one only in the letter it went into
    march = compute(session, parse_period("2026-03"), today=D(2026, 6, 30))
    assert march.total == 10 and sum(c.count for c in march.by_county) == 10
    # the Python form over the rows in hand agrees too
    rows = session.scalars(select(CaseEventRecord).where(CaseEventRecord.letter_id == ids["full"])).all()
    assert figures_of(rows) == full


def test_refill_finds_nothing_to_correct_and_corrects_what_differs(session: Session) -> None:
    ids = office(session)
    first, last = id_range(session)
    assert refill(session, first, last) == 0
    before = kept_figures(session)
    session.execute(
        update(CaseRecord)
        .where(CaseRecord.letter_id.in_([ids["full"], ids["decided"]]))
        .values(forwarded_on=D(2000, 1, 1), rated_satisfied=7, review_answered=False)
    )
    assert refill(session, first, last) == 2
    assert kept_figures(session) == before == expected(session)
    # a range holds only its own rows
    session.execute(update(CaseRecord).values(extension_days=99))
    assert refill(session, ids["full"], ids["full"]) == 1
    assert kept_figures(session)[ids["returned"]]["extension_days"] == 99


def _downgrade_and_upgrade_keeping_every_row(
    db_url: str, engine: Any, revision: str, tables: tuple[str, ...]
) -> None:
    """Take the database down to ``revision``, read ``tables``, upgrade it again and check that every
    row is as it was, in the columns it had (later revisions add columns to some tables)."""
    from alembic import command

    from store.db import alembic_config

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), revision)
    with engine.connect() as connection:
        before = {t: connection.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all() for t in tables}
    upgrade(db_url)
    assert schema_differences(db_url) == []
    with engine.connect() as connection:
        for table, rows in before.items():
            after = connection.execute(text(f"SELECT * FROM {table} ORDER BY 1")).all()
            assert [tuple(r)[: len(rows[0])] for r in after] == [tuple(r) for r in rows], table


def test_migration_0009_fills_the_figures_of_a_database_with_steps_and_keeps_every_row(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    tables = ("letters", "proposals", "decisions", "case_events", "cases", "audit_events", "users")
    try:
        with session_scope(factory) as session:
            office(session)
        with session_scope(factory) as session:
            figures = kept_figures(session)
        # as a database of 0008 has them: the steps and the cases rows, without the figures
        _downgrade_and_upgrade_keeping_every_row(db_url, engine, "0008", tables)
        with session_scope(factory) as session:
            assert kept_figures(session) == figures == expected(session)
            first, last = id_range(session)
            assert refill(session, first, last) == 0
    finally:
        engine.dispose()


def test_the_refill_command_reports_and_corrects_what_differs(migrated_url: str) -> None:
    from click.testing import CliRunner

    from cli.commands.cases import cases

    engine = make_engine(migrated_url)
    factory = make_session_factory(engine)
    try:
        with session_scope(factory) as session:
            ids = office(session)
            session.execute(
                update(CaseRecord).where(CaseRecord.letter_id == ids["full"]).values(accepted_on=None)
            )
        result = CliRunner().invoke(
            cases, ["refill-figures", "--batch-size", "3", "--database-url", migrated_url]
        )
        assert result.exit_code == 0, result.output
        assert "已核对 10 件案件的统计数据：1 件与办理记录不符，已按办理记录更正" in result.output
        assert "已核对 11 件来信的分流数据：0 件与最新办理建议、确认结果不符" in result.output
        with session_scope(factory) as session:
            assert kept_figures(session) == expected(session)
            session.execute(
                update(Letter).where(Letter.id == ids["refused"]).values(route_disposition="accept")
            )
        again = CliRunner().invoke(cases, ["refill-figures", "--database-url", migrated_url])
        assert "0 件与办理记录不符" in again.output
        assert "已核对 11 件来信的分流数据：1 件与最新办理建议、确认结果不符，已按其更正" in again.output
        with session_scope(factory) as session:
            assert kept_routes(session) == route_by_definition(session)
    finally:
        engine.dispose()


# ------------------------------------------------------------------------ the route a letter keeps


def reroute(session: Session, ids: dict[str, int]) -> dict[str, int]:
    """After the story: the corrections that change a kept route without a case step."""
    # a decision corrected: the ordinary letter is an accusation after all (confidential now)
    decided = session.get(Letter, ids["decided"])
    assert decided is not None
    decide(
        session,
        decided.id,
        expected_version=decided.version,
        decided_by=SUPERVISOR,
        category="accusation",
        domain="城乡建设",
        department="discipline_inspection",
        channel="discipline",
        disposition="accept",
        reason="反映公职人员违纪",
        now=at(D(2026, 3, 17), 10),
    )
    # a proposal after the decision: the route stays the decision's, the date due is the proposal's
    due = Deadline(
        code="forward", label="转送", basis="第二十二条", days=15, unit="calendar_days", starts="收到"
    )
    later = proposal(category="accusation", channel="discipline", confidential=True)
    add_proposal(
        session,
        ids["assigned"],
        later.model_copy(update={"deadlines": (due.model_copy(update={"due": D(2026, 3, 19)}),)}),
        now=at(D(2026, 3, 18)),
    )
    # the pending first part of the split letter is proposed for again, as an accusation
    add_proposal(session, ids["whole"], proposal(category="accusation"), now=at(D(2026, 3, 24)))
    # a letter registered and never proposed for: the most sensitive kind, no route
    bare = create_letter(
        session,
        title="来信",
        text="内容待补充。",
        created_by=INTAKE,
        received_on=D(2026, 3, 30),
        now=at(D(2026, 3, 30)),
    )
    session.commit()
    return {**ids, "bare": bare.id}


def newest_rows(session: Session) -> dict[int, tuple[Proposal | None, Decision | None]]:
    """Each letter's newest proposal and newest decision (the largest id), read row by row."""
    session.expire_all()
    out: dict[int, tuple[Proposal | None, Decision | None]] = {}
    for letter in session.scalars(select(Letter)):
        proposals = session.scalars(select(Proposal).where(Proposal.letter_id == letter.id)).all()
        decisions = session.scalars(select(Decision).where(Decision.letter_id == letter.id)).all()
        out[letter.id] = (
            max(proposals, key=lambda r: r.id) if proposals else None,
            max(decisions, key=lambda r: r.id) if decisions else None,
        )
    return out


def route_by_definition(session: Session) -> dict[int, dict[str, Any]]:
    """What each letter must keep, written out from the definition: the newest decision's route,
    else the newest proposal's; confidential by the decision's category or channel, else by the
    proposal's flag, category or channel, else (no proposal) confidential."""
    fields = ("category", "channel", "disposition", "domain", "department")
    out: dict[int, dict[str, Any]] = {}
    for letter_id, (p, d) in newest_rows(session).items():
        source = d if d is not None else p
        if d is not None:
            secret = d.category == "accusation" or d.channel == "discipline"
        elif p is not None:
            secret = p.confidential or p.category == "accusation" or p.channel == "discipline"
        else:
            secret = True
        out[letter_id] = {
            **{f"route_{f}": getattr(source, f) if source is not None else None for f in fields},
            "route_confidential": secret,
            "route_decision_id": d.id if d is not None else None,
            "proposed_due": p.earliest_due if p is not None else None,
        }
    return out


def kept_routes(session: Session) -> dict[int, dict[str, Any]]:
    session.expire_all()
    return {
        letter.id: {name: getattr(letter, name) for name in routes.EMPTY}
        for letter in session.scalars(select(Letter))
    }


def test_every_proposal_and_decision_keeps_the_route_of_the_newest_ones(session: Session) -> None:
    ids = reroute(session, office(session))
    kept = kept_routes(session)
    assert kept == route_by_definition(session)
    # the story reaches every way a route changes, so one written wrong anywhere cannot pass unseen
    assert kept[ids["returned"]]["route_department"] == OTHER_BODY  # re-decided after the return
    assert (
        kept[ids["decided"]]["route_confidential"] and kept[ids["decided"]]["route_channel"] == "discipline"
    )
    assigned = kept[ids["assigned"]]
    assert assigned["route_category"] == "appeal" and not assigned["route_confidential"]
    assert assigned["proposed_due"] == D(2026, 3, 19)
    assert (
        kept[ids["whole"]]["route_category"] == "accusation"
        and kept[ids["whole"]]["route_decision_id"] is None
    )
    assert kept[ids["second"]]["route_decision_id"] is not None  # split off, proposed for, decided
    assert kept[ids["bare"]] == routes.EMPTY
    # the Python form over the rows in hand agrees too
    p, d = newest_rows(session)[ids["decided"]]
    assert routes.route_of(p, d) == kept[ids["decided"]]


def test_the_statistics_count_each_letter_by_its_newest_proposal_and_decision(session: Session) -> None:
    reroute(session, office(session))
    today = D(2026, 6, 30)
    march = parse_period("2026-03")
    rows = newest_rows(session)
    cases = {r.letter_id: r for r in session.scalars(select(CaseRecord))}
    letters = [
        letter
        for letter in session.scalars(select(Letter))
        if march.start <= letter.received_on <= march.end and letter.status != "merged"
    ]
    fields = ("category", "channel", "disposition", "domain", "department")
    expected: dict[str, dict[str, int]] = {name: {} for name in (*fields, "state")}
    secret = 0
    for letter in letters:
        p, d = rows[letter.id]
        source = d if d is not None else p
        case_row = cases.get(letter.id)
        state = case_row.state if case_row is not None else ("decided" if d is not None else "registered")
        for name, value in (*((f, getattr(source, f) if source else "") for f in fields), ("state", state)):
            expected[name][value] = expected[name].get(value, 0) + 1
        if d is not None:
            secret += d.category == "accusation" or d.channel == "discipline"
        else:
            secret += p is None or p.confidential or p.category == "accusation" or p.channel == "discipline"
    stats = compute(session, march, today=today)
    assert stats.total == len(letters) == 11
    assert stats.confidential == secret == 3  # the corrected decision, the re-proposed part, the bare letter
    for name in expected:
        assert {c.code: c.count for c in getattr(stats, f"by_{name}")} == expected[name], name
    housing = compute(session, march, department=BODY, today=today)
    assert housing.total == expected["department"][BODY]
    # a handler lists only what the office has carried out to their body, as the Python rule says
    scope = Scope(confidential=False, routed_department=BODY)
    theirs = compute(session, march, reader_scope=scope, today=today)
    may_open = set()
    for letter in letters:
        p, d = rows[letter.id]
        case_row = cases.get(letter.id)
        handled = (
            case_row.handling_body
            if case_row is not None and d is not None and case_row.decision_id == d.id
            else None
        )
        due = case_row.next_due if case_row is not None else (p.earliest_due if p else None)
        if (
            due is not None
            and due < today
            and admits(p, d, confidential=False, routed_department=BODY, handling_body=handled)
        ):
            may_open.add(letter.case_number)
    assert {c.case_number for c in theirs.overdue_cases} == may_open
    assert may_open  # the story leaves the body an overdue case to list


def test_migration_0012_fills_the_routes_of_letters_stored_before_it(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    tables = ("letters", "proposals", "decisions", "case_events", "cases", "audit_events")
    try:
        with session_scope(factory) as session:
            reroute(session, office(session))
        with session_scope(factory) as session:
            kept = kept_routes(session)
        _downgrade_and_upgrade_keeping_every_row(db_url, engine, "0011", tables)
        with session_scope(factory) as session:
            assert kept_routes(session) == kept == route_by_definition(session)
            first, last = routes.id_range(session)
            assert routes.refill(session, first, last) == 0
    finally:
        engine.dispose()


def test_refill_corrects_the_routes_that_differ_and_only_in_its_range(session: Session) -> None:
    ids = reroute(session, office(session))
    first, last = routes.id_range(session)
    assert routes.refill(session, first, last) == 0
    before = kept_routes(session)
    session.execute(
        update(Letter)
        .where(Letter.id.in_([ids["decided"], ids["bare"]]))
        .values(
            route_category="suggestion",
            route_confidential=False,
            route_decision_id=None,
            proposed_due=D(2000, 1, 1),
        )
    )
    assert routes.refill(session, first, last) == 2
    assert kept_routes(session) == before == route_by_definition(session)
    session.execute(update(Letter).values(route_domain="商贸旅游"))
    assert routes.refill(session, ids["full"], ids["full"]) == 1
    assert kept_routes(session)[ids["returned"]]["route_domain"] == "商贸旅游"
