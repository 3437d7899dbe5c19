"""Batch triage on Dask distributed: real worker processes on 127.0.0.1.

(Named ``test_batch_engine`` because ``tests/routing/test_engine.py`` already owns the module
name ``test_engine``.) The tasks are picklable objects from this module; the worker processes
import it by name, which works because they start with the test run's ``sys.path``.

Starting a worker process costs several seconds (importing scikit-learn and skops), so the tests
share one local cluster of two worker processes; the test that kills a worker runs last on it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from test_batch import (  # noqa: F401  (fixtures)
    db_url,
    fresh_database,
    letters_by_file,
    sqlite_url,
    tiny_model_dir,
    write_letters,
)

from intake.batch import RouterLoader, run_batch
from intake.engine import DaskEngine, InProcessEngine, make_engine
from intake.errors import EngineError
from store.db import make_engine as make_db_engine
from store.db import make_session_factory
from store.models import Letter, Proposal, SourceFile

XINFANG = Path(sys.executable).with_name("xinfang")


@pytest.fixture(scope="module")
def cluster(tiny_model_dir: Path) -> Iterator[DaskEngine]:  # noqa: F811
    """Two local worker processes, each having loaded the tiny router once."""
    with DaskEngine(n_workers=2) as engine:
        loader = RouterLoader(tiny_model_dir)
        list(engine.map_unordered(_warm, [loader, loader]))
        yield engine


def _warm(loader: RouterLoader) -> str:
    loader()
    return str(os.getpid())


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:  # noqa: F811
    engine = make_db_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def _single_process(inbox: Path, tmp_path: Path, template: Path, model: Path) -> dict[str, Any]:
    folder = tmp_path / "single"
    folder.mkdir()
    url = next(fresh_database("sqlite", folder, template))
    engine = make_db_engine(url)
    try:
        factory = make_session_factory(engine)
        run_batch(
            [inbox],
            session_factory=factory,
            router_loader=RouterLoader(model),
            storage_dir=folder / "files",
            received_on=dt.date(2026, 11, 2),
            progress=False,
        )
        return letters_by_file(factory)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_two_local_worker_processes_give_the_single_process_result(
    sqlite_url: str,  # noqa: F811
    tiny_model_dir: Path,  # noqa: F811
    sqlite_template: Path,
    tmp_path: Path,
) -> None:
    """The embedded default: ``workers=2`` starts a LocalCluster of two processes, then stops it."""
    inbox = tmp_path / "inbox"
    write_letters(inbox, 24)
    engine = make_db_engine(sqlite_url)
    factory = make_session_factory(engine)
    summary = run_batch(
        [inbox],
        session_factory=factory,
        router_loader=RouterLoader(tiny_model_dir),
        storage_dir=tmp_path / "files",
        workers=2,
        received_on=dt.date(2026, 11, 2),
        progress=False,
    )
    assert (summary.engine, summary.workers, summary.letters, summary.failures) == ("dask", 2, 24, [])
    pids = {o.worker.split(":")[1] for o in summary.outcomes}
    assert len(pids) == 2 and str(os.getpid()) not in pids  # both worker processes did some, not us
    try:
        assert letters_by_file(factory) == _single_process(inbox, tmp_path, sqlite_template, tiny_model_dir)
    finally:
        engine.dispose()


def _worker_settings(dask_worker: Any) -> dict[str, object]:
    import dask

    return {
        "profile": dask.config.get("distributed.worker.profile.enabled"),
        "profiling": "profile" in dask_worker.periodic_callbacks,
        "threads": dask_worker.state.nthreads,
    }


@pytest.mark.slow
def test_local_workers_run_without_the_statistical_profiler(cluster: DaskEngine) -> None:
    # On by default in Dask: it samples the task's stack every 10 ms, CPU time no one reads here.
    settings = cluster.client.run(_worker_settings)
    assert len(settings) == 2
    assert all(s == {"profile": False, "profiling": False, "threads": 1} for s in settings.values()), settings


@pytest.mark.slow
def test_cli_sends_the_batch_to_a_scheduler(
    cluster: DaskEngine,
    sqlite_url: str,  # noqa: F811
    tiny_model_dir: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """``xinfang triage --scheduler tcp://HOST:PORT`` hands the files to a running scheduler's
    workers (here the shared cluster's two processes) instead of starting its own."""
    inbox = tmp_path / "inbox"
    write_letters(inbox, 10)
    address = cluster.client.scheduler.address
    assert address.startswith("tcp://127.0.0.1:")
    result = subprocess.run(
        [
            str(XINFANG),
            "triage",
            str(inbox),
            "--scheduler",
            address,
            "--database-url",
            sqlite_url,
            "--storage-dir",
            str(tmp_path / "files"),
            "--model",
            str(tiny_model_dir),
            "--json",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["letters"], summary["workers"], summary["engine"], summary["failed"]) == (
        10,
        2,
        "dask",
        0,
    )


@dataclass(frozen=True)
class KillFirstRouting:
    """A router loader whose router kills its own worker process in the middle of the first task
    that reaches routing: after the file was claimed and read, before its letters were written.
    The marker file (created atomically) makes it happen exactly once and records the victim's pid."""

    inner: RouterLoader
    marker: Path

    def __call__(self) -> _KillingRouter:
        return _KillingRouter(self.inner(), self.marker)


class _KillingRouter:
    def __init__(self, router: Any, marker: Path) -> None:
        self.router = router
        self.marker = marker

    def propose_many(self, letters: Sequence[Any]) -> Any:
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return self.router.propose_many(letters)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os._exit(1)  # like a kill -9 / OOM kill: no cleanup, no exception to catch


@pytest.mark.slow
def test_a_worker_killed_mid_task_loses_none_of_its_letters(
    cluster: DaskEngine,
    factory: sessionmaker[Session],
    tiny_model_dir: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    write_letters(inbox, 12)
    marker = tmp_path / "killed.pid"
    summary = run_batch(
        [inbox],
        session_factory=factory,
        router_loader=KillFirstRouting(RouterLoader(tiny_model_dir), marker),
        storage_dir=tmp_path / "files",
        engine=cluster,
        progress=False,
    )
    killed_pid = marker.read_text()
    assert killed_pid  # the kill happened
    assert summary.letters == 12 and summary.failures == []
    with factory() as session:
        assert set(session.scalars(select(SourceFile.status))) == {"done"}
        assert session.scalar(select(func.count()).select_from(Letter)) == 12
        assert session.scalar(select(func.count()).select_from(Proposal)) == 12
        per_file = session.execute(
            select(Letter.source_file_id, func.count()).group_by(Letter.source_file_id)
        ).all()
        retried = session.scalars(select(SourceFile).where(SourceFile.attempts > 1)).all()
    assert len(per_file) == 12 and {n for _, n in per_file} == {1}
    # the killed task's file was claimed by the dead process, released and done by another worker
    assert len(retried) >= 1
    assert all(f.claimed_by is not None and f":{killed_pid}:" not in f.claimed_by for f in retried)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(EngineError, match="cannot connect to the Dask scheduler.*dask worker"):
        DaskEngine(scheduler_address=f"tcp://127.0.0.1:{_free_port()}", timeout_s=2)


def test_engine_choice() -> None:
    assert isinstance(make_engine(workers=1), InProcessEngine)
    with pytest.raises(EngineError, match="at least 1"):
        make_engine(workers=0)
    assert list(InProcessEngine().map_unordered(lambda x: x * 2, [1, 2])) == [2, 4]
