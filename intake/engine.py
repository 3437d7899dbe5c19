"""Execution engines for batch triage: a plain loop in this process, or Dask distributed.

The engine only decides *where* a file is processed. Durable progress lives in the database
(``store.files``: a file is claimed, then done or failed in one transaction with its letters), so
an engine may lose, repeat or reorder tasks without losing or duplicating a letter: a repeated
task finds its file done and returns, a lost one is run again.

Why Dask distributed rather than Celery: the embedded default needs no broker at all (a
``LocalCluster`` of worker processes on this machine), more machines join with one command each
(``dask scheduler`` on one host, ``dask worker tcp://HOST:8786`` on the others), and the scheduler
recomputes the tasks of a worker that dies. Celery would need Redis or RabbitMQ running even for
one machine, and its late acknowledgement is what would have to be tuned to survive a worker's
death; with Dask that is the default behaviour.

Task functions and their arguments must be picklable: module-level functions and frozen
dataclasses. Each worker process keeps what it loads (database engine, router, OCR models) in a
per-process cache, so a process loads them once, not once per file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Protocol, TypeVar

from intake.errors import EngineError

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

# CPU per page inside a Dask worker, measured on one dense page (the same call after one warm-up
# page, median of two): plain process 6.70 CPU s, multiprocessing worker 6.57, Dask worker
# with one thread 6.94 of which its task thread 6.68; two Dask workers at once 7.5 (task thread
# 7.05: two OCR processes share the caches and memory bandwidth). So a worker adds a few per cent,
# not the doubling once seen in bench/batch.py (which timed each worker's first page, where
# RapidOCR opened its ONNX sessions, and ran ONNX Runtime without its memory arena). Thread
# oversubscription is not the cause: Dask's nanny already sets OMP/MKL/OPENBLAS_NUM_THREADS=1 and
# OCR runs one ONNX thread per worker.
#
# Settings for the worker processes of a local cluster (Dask config keys, sent by each nanny to
# its worker). The statistical profiler samples the task thread's stack every 10 ms from the
# worker's event loop for the dashboard's profile page; measured on a dense OCR page under load,
# the worker's other threads used 1.44 CPU s per page with it and 0.86 s without (task thread
# 7.9 s either way), and nothing here reads that profile. Workers started by hand take
# DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False in their environment for the same effect.
LOCAL_WORKER_CONFIG: dict[str, object] = {
    "distributed.worker.profile.enabled": False,
}

# A task is re-run this many times when it *raises* (a worker's death is handled by the scheduler
# and does not count against this). Bad files do not raise: they are recorded as failed.
DEFAULT_RETRIES = 2


class ExecutionEngine(Protocol):
    """Runs ``fn`` on every item and yields the results as they complete (in any order)."""

    name: str

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]: ...

    def close(self) -> None: ...


class InProcessEngine:
    """One file after the other in the calling process (``--workers 1``, the simplest default)."""

    name = "in-process"

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        """Yield ``fn(item)`` for each item, in order."""
        for item in items:
            yield fn(item)

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> InProcessEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DaskEngine:
    """Tasks on a Dask distributed cluster: local worker processes, or an existing scheduler.

    Args:
        scheduler_address: ``tcp://host:8786`` of a running ``dask scheduler``; ``None`` starts a
            ``LocalCluster`` of ``n_workers`` processes with one thread each on this machine.
        n_workers: worker processes of the local cluster (ignored with ``scheduler_address``).
        retries: how often a task that raised is run again.
        memory_limit: per local worker, as Dask accepts it (``"4GiB"``, ``0`` for none); OCR keeps
            about 1.3 GB resident per worker once it has read a dense page (ONNX Runtime's arena).

    Raises:
        EngineError: the scheduler cannot be reached or the local cluster does not start.
    """

    name = "dask"

    def __init__(
        self,
        *,
        scheduler_address: str | None = None,
        n_workers: int = 2,
        retries: int = DEFAULT_RETRIES,
        memory_limit: str | int = "auto",
        timeout_s: float = 30.0,
    ) -> None:
        if n_workers < 1:
            raise EngineError(f"n_workers must be at least 1, got {n_workers}")
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - a base dependency
            raise EngineError(
                f"Dask distributed is not installed ({exc}); pip install 'dask[distributed]'"
            ) from exc
        self.retries = retries
        self._cluster: Any = None
        try:
            if scheduler_address:
                self.client: Any = Client(scheduler_address, timeout=timeout_s)  # type: ignore[no-untyped-call]
            else:
                self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # a free port: a second cluster must not clash on 8787
                    memory_limit=memory_limit,
                    silence_logs=logging.WARNING,
                    config=LOCAL_WORKER_CONFIG,  # passed to each Nanny, applied in its worker
                )
                self.client = Client(self._cluster, timeout=timeout_s)  # type: ignore[no-untyped-call]
        except OSError as exc:  # distributed raises OSError (TimeoutError) for an unreachable scheduler
            self.close()
            where = scheduler_address or "a local cluster"
            raise EngineError(
                f"cannot connect to the Dask scheduler at {where}: {exc}. Start one with "
                "`dask scheduler` and workers with `dask worker tcp://HOST:8786`, or leave --scheduler "
                "out to run local worker processes"
            ) from exc
        except RuntimeError as exc:  # a local worker process did not start (e.g. out of memory)
            self.close()
            raise EngineError(
                f"the local Dask cluster of {n_workers} worker process(es) did not start: {exc}. "
                "Try fewer --workers, or run with --workers 1"
            ) from exc

    @property
    def worker_count(self) -> int:
        """Workers connected to the scheduler now."""
        return len(self.client.scheduler_info(n_workers=-1).get("workers", {}))

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        """Submit one task per item and yield results as they finish.

        Raises:
            Exception: whatever a task raised after its retries (the remaining tasks are cancelled).
        """
        from distributed import as_completed

        if not items:
            return
        futures = self.client.map(fn, list(items), pure=False, retries=self.retries)
        try:
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                yield future.result()
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        """Disconnect; stop the local cluster if this engine started it."""
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def make_engine(*, workers: int = 1, scheduler_address: str | None = None) -> InProcessEngine | DaskEngine:
    """The engine for ``--workers`` / ``--scheduler``: in-process for one local worker, else Dask."""
    if workers < 1:
        raise EngineError(f"--workers must be at least 1, got {workers}")
    if scheduler_address is None and workers == 1:
        return InProcessEngine()
    return DaskEngine(scheduler_address=scheduler_address, n_workers=workers)
