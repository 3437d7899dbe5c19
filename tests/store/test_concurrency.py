"""Races that must have exactly one winner, run with real sessions in real threads.

On PostgreSQL these exercise row locks and ``UPDATE ... WHERE version = ...``; on SQLite the
``BEGIN IMMEDIATE`` write lock. Each worker opens its own session, as two web requests would.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from store_factories import AGREE, make_letter, make_user

import store.letters
from store.audit import verify_chain
from store.db import session_scope
from store.errors import ConflictError
from store.files import claim_file, record_source_file
from store.letters import create_letter, decide, get_letter
from store.models import Decision, Letter, SourceFile

T = TypeVar("T")
pytestmark = pytest.mark.slow


def _run_together(n: int, work: Callable[[int, threading.Barrier], T]) -> list[T | BaseException]:
    barrier = threading.Barrier(n, timeout=30)

    def guarded(i: int) -> T | BaseException:
        try:
            return work(i, barrier)
        except BaseException as exc:  # the test inspects every outcome
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(guarded, range(n)))


def test_two_officers_deciding_at_once_exactly_one_wins(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as session:
        make_user(session, "li.ming")
        make_user(session, "wang.fang", display_name="王芳")
        letter_id = make_letter(session).id

    def officer(i: int, barrier: threading.Barrier) -> int:
        with session_scope(factory) as session:  # the page the officer looked at
            seen = get_letter(session, letter_id).version
        barrier.wait()
        with session_scope(factory) as session:
            decision = decide(
                session,
                letter_id,
                expected_version=seen,
                decided_by=["li.ming", "wang.fang"][i],
                reason=None if i == 0 else "改为城管",
                **(AGREE if i == 0 else AGREE | {"department": "urban_management"}),
            )
            time.sleep(0.3)  # hold the row lock so the other officer's UPDATE has to wait for it
            return decision.id

    outcomes = _run_together(2, officer)
    winners = [o for o in outcomes if isinstance(o, int)]
    losers = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert losers[0].expected_version == 2 and losers[0].current_version == 3
    with session_scope(factory) as session:
        assert session.scalar(select(func.count()).select_from(Decision)) == 1
        assert get_letter(session, letter_id).version == 3
        assert verify_chain(session) == []


def test_case_numbers_stay_unique_under_concurrent_registration(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    workers, per_worker = 4, 8
    # 32 letters drawn from 40 numbers: concurrent registrations keep drawing numbers another has
    # just taken, which the year counter's lock must make each of them see.
    monkeypatch.setattr(store.letters, "_draw", lambda space: 1 + secrets.randbelow(40))

    def register(i: int, barrier: threading.Barrier) -> list[str]:
        barrier.wait()
        numbers = []
        for j in range(per_worker):
            with session_scope(factory) as session:
                letter = create_letter(session, title=f"{i}-{j}", text="并发登记", created_by=f"worker{i}")
                numbers.append(letter.case_number)
        return numbers

    outcomes = _run_together(workers, register)
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    numbers = [n for o in outcomes if isinstance(o, list) for n in o]
    assert len(set(numbers)) == workers * per_worker
    assert all(1 <= int(n.rsplit("-", 1)[1]) <= 40 for n in numbers)
    with session_scope(factory) as session:
        assert session.scalar(select(func.count(func.distinct(Letter.case_number)))) == workers * per_worker
        # every registration appended its audit event to one unbroken chain
        assert verify_chain(session) == []


def test_the_same_file_recorded_twice_at_once_is_one_row(factory: sessionmaker[Session]) -> None:
    digest = "ab" * 32

    def record(i: int, barrier: threading.Barrier) -> tuple[int, bool]:
        barrier.wait()
        with session_scope(factory) as session:
            source_file, created = record_source_file(
                session,
                sha256=digest,
                original_name=f"scan{i}.pdf",
                media_type="application/pdf",
                size_bytes=10,
                stored_path=f"files/{digest}",
            )
            time.sleep(0.2)
            return source_file.id, created

    outcomes = _run_together(2, record)
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    ids = {o[0] for o in outcomes if isinstance(o, tuple)}
    created = [o[1] for o in outcomes if isinstance(o, tuple)]
    assert len(ids) == 1 and sorted(created) == [False, True]
    with session_scope(factory) as session:
        assert session.scalar(select(func.count()).select_from(SourceFile)) == 1


def test_two_workers_claiming_one_file_exactly_one_gets_it(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as session:
        file_id = record_source_file(
            session,
            sha256="cd" * 32,
            original_name="a.png",
            media_type="image/png",
            size_bytes=1,
            stored_path="a",
        )[0].id

    def worker(i: int, barrier: threading.Barrier) -> bool:
        barrier.wait()
        with session_scope(factory) as session:
            claimed = claim_file(session, file_id, worker=f"w{i}")
            time.sleep(0.2)
            return claimed is not None

    outcomes = _run_together(2, worker)
    assert sorted(o for o in outcomes if isinstance(o, bool)) == [False, True], outcomes


def test_auditing_before_deciding_queues_instead_of_deadlocking(factory: sessionmaker[Session]) -> None:
    """One officer's request audits a view and then decides; another decides straight away.

    Both take the audit head before the letter row (store's lock order), so the second waits for
    the first instead of the two holding one lock each and waiting for the other.
    """
    from store.audit import append_event

    with session_scope(factory) as session:
        make_user(session, "li.ming")
        make_user(session, "wang.fang", display_name="王芳")
        letter_id = make_letter(session).id
    viewed = threading.Event()

    def viewer_then_decider(i: int, barrier: threading.Barrier) -> object:
        barrier.wait()
        if i == 0:
            with session_scope(factory) as session:
                append_event(
                    session, actor="li.ming", action="view_confidential", object=f"letter:{letter_id}"
                )
                viewed.set()
                time.sleep(0.5)  # the other officer's decide starts meanwhile
                return decide(session, letter_id, expected_version=2, decided_by="li.ming", **AGREE).id
        assert viewed.wait(10)
        with session_scope(factory) as session:
            return decide(session, letter_id, expected_version=2, decided_by="wang.fang", **AGREE).id

    outcomes = _run_together(2, viewer_then_decider)
    assert isinstance(outcomes[0], int), outcomes
    assert isinstance(outcomes[1], ConflictError), outcomes
