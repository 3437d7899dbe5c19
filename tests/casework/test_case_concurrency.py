"""Officers acting on one case at once, and 文号 drawn at once, each in their own session and thread,
as two web requests would: on PostgreSQL through row locks and ``UPDATE … WHERE version = …``, on
SQLite through its one writer at a time."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import docx
import pytest
from casework_office import HANDLER, INTAKE, SUPERVISOR, D, at, issued, officers, routed_letter, step
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import casework.issuing
from casework.cases import CaseChangedError, CaseStepRefused, case_of, take_step
from casework.documents import IssuedDocument
from casework.states import Step
from store.audit import verify_chain
from store.db import session_scope
from store.models import CaseDocument, CaseEventRecord, DocumentCounter

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


def _transferred(factory: sessionmaker[Session]) -> int:
    with session_scope(factory) as session:
        officers(session)
        letter = routed_letter(session, D(2026, 3, 2))
        step(session, INTAKE, letter, Step.transfer, D(2026, 3, 3), document_no="某区信转〔2026〕1号")
        return letter.id


def test_two_officers_on_the_page_they_read_one_wins_the_other_is_told_to_reload(
    factory: sessionmaker[Session],
) -> None:
    letter_id = _transferred(factory)
    with session_scope(factory) as session:
        seen = case_of(session, letter_id).version

    def officer(i: int, barrier: threading.Barrier) -> str:
        barrier.wait()
        with session_scope(factory) as session:
            view = take_step(
                session,
                [HANDLER, SUPERVISOR][i],
                letter_id,
                Step.receive,
                now=at(D(2026, 3, 5), 10 + i),
                expected_version=seen,
            )
            time.sleep(0.3)  # hold the locks so that the other officer has to wait for them
            return view.state

    outcomes = _run_together(2, officer)
    assert sorted(type(o).__name__ for o in outcomes) == ["CaseChangedError", "CaseState"], outcomes
    loser = next(o for o in outcomes if isinstance(o, CaseChangedError))
    assert (loser.expected_version, loser.current_version) == (seen, seen + 1)
    with session_scope(factory) as session:
        assert [e.step for e in case_of(session, letter_id).events][-1] == Step.receive
        assert session.scalar(select(func.count()).select_from(CaseEventRecord)) == 2
        assert verify_chain(session) == []


def test_two_officers_acting_at_once_without_a_version_cannot_both_succeed(
    factory: sessionmaker[Session],
) -> None:
    letter_id = _transferred(factory)

    def officer(i: int, barrier: threading.Barrier) -> str:
        barrier.wait()
        with session_scope(factory) as session:
            view = take_step(
                session, [HANDLER, SUPERVISOR][i], letter_id, Step.receive, now=at(D(2026, 3, 5), 10)
            )
            time.sleep(0.3)
            return view.state

    outcomes = _run_together(2, officer)
    winners = [o for o in outcomes if isinstance(o, str)]
    losers = [o for o in outcomes if isinstance(o, CaseStepRefused)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    # the second read the case after the first had committed: it is received, not transferred
    assert losers[0].state == "received" and "不能「签收」" in losers[0].message
    with session_scope(factory) as session:
        assert session.scalar(select(func.count()).select_from(CaseEventRecord)) == 2
        assert verify_chain(session) == []


def test_document_numbers_have_no_gaps_and_no_duplicates_under_concurrent_issuing(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    workers, per_worker = 4, 5
    with session_scope(factory) as session:
        officers(session)
        letters = [routed_letter(session, D(2026, 3, 2)).id for _ in range(workers)]

    # one document fails to be written half-way: its number must be given back, not skipped
    real_to_docx = casework.issuing.to_docx
    calls = {"n": 0}
    lock = threading.Lock()

    def flaky_to_docx(doc: IssuedDocument) -> bytes:
        with lock:
            calls["n"] += 1
            fail = calls["n"] == 7
        if fail:
            raise OSError("disk full")
        return real_to_docx(doc)

    monkeypatch.setattr(casework.issuing, "to_docx", flaky_to_docx)

    def issuer(i: int, barrier: threading.Barrier) -> list[str]:
        barrier.wait()
        numbers = []
        for j in range(per_worker):
            try:
                with session_scope(factory) as session:
                    document = issued(session, INTAKE, letters[i], "transfer_letter", D(2026, 3, 3), 10 + j)
                    numbers.append(document.number)
            except OSError:
                numbers.append("failed")
        return numbers

    outcomes = _run_together(workers, issuer)
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    numbers = [n for o in outcomes if isinstance(o, list) for n in o if n != "failed"]
    assert sum(o.count("failed") for o in outcomes if isinstance(o, list)) == 1
    issued_count = workers * per_worker - 1
    assert sorted(numbers) == sorted(f"某区信转〔2026〕{n}号" for n in range(1, issued_count + 1))
    with session_scope(factory) as session:
        seqs = sorted(session.scalars(select(CaseDocument.seq)))
        assert seqs == list(range(1, issued_count + 1))
        # each DOCX is written before the number is taken, under the number expected then: one
        # whose number went to another document meanwhile must have been written again
        for document in session.scalars(select(CaseDocument)):
            lines = [p.text for p in docx.Document(io.BytesIO(document.docx)).paragraphs]
            assert lines[1] == document.number, (document.seq, lines[:2])
        assert session.scalar(select(DocumentCounter.last_seq)) == issued_count
        assert verify_chain(session) == []
