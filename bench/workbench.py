"""Workbench load: N concurrent simulated officers registering and deciding letters over loopback.

The app runs under uvicorn in its own process on 127.0.0.1 (a free port), against a fresh SQLite
file or a fresh PostgreSQL database; the officers are asyncio tasks in this process sharing one
HTTP connection pool, each signed in with its own account. Every officer does, per letter:

1. ``POST /api/v1/letters`` (register; the routing model proposes),
2. ``GET /api/v1/letters/{case}`` (read the proposal, as the letter page does),
3. ``POST /api/v1/letters/{case}/decisions`` (accept, or every third letter correct the
   department with a reason),
4. every fifth letter ``GET /api/v1/letters`` (the queue);

then the case's life after the route, for every letter whose route is a 转送 (the rest stop at the
decision, as they would stop at a notice):

5. ``GET /api/v1/letters/{case}/case`` (the case with its clocks and the steps allowed),
6. ``POST …/documents/draft`` and ``POST …/documents`` (the 转送函, issued under the next 文号),
7. ``POST …/steps`` 转送 citing it, then the handling body's 签收, 受理, 出具处理意见 and 办结 (its
   handler for an ordinary letter, the discipline inspector for a confidential one; their notices
   cited by the numbers the body gave them on paper),
8. every fifth letter a supervisor's ``GET /api/v1/supervision`` (督办: due within 7 days and overdue).

Afterwards the tables are counted directly: letters, proposals and decisions must each equal the
letters registered, with distinct case numbers; the cached ``cases`` rows the letters decided; the
stored steps and the issued documents (with distinct 文号) what the officers were told they took
and issued, or the run reports them as lost or duplicated.

The servers also report, for every transaction that took the audit head's row lock (the lock every
write of the office queues on), how long it waited for it and held it, by request kind (each
request names its kind in a header).

It prints a table and replaces the ``## Workbench`` section of BENCHMARKS.md (other sections are
left as they are, and so is its ``### Profile`` subsection, written by hand). Only loopback is used,
and every loop is bounded in count and in time.

    python bench/workbench.py --officers 20 --letters 15 --backend both
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import os
import platform
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Workbench"
PASSWORD = "Bench-pass 2026 xf"
INSPECTOR = "inspector"
SUPERVISOR = "supervisor"
#: The handling body's steps after a 转送, each citing what it needs.
BODY_STEPS: tuple[tuple[str, dict[str, str]], ...] = (
    ("receive", {}),
    ("accept", {"document_no": "{body}受告〔2026〕{n}号"}),
    ("answer", {"document_no": "{body}处意〔2026〕{n}号"}),
    ("close", {}),
)
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

FALLBACK_LETTERS = [
    ("物业乱收费", "我们小区物业公司乱收费，每月多收三百元停车费，多次反映无人处理，请求责令退还。"),
    ("拖欠工资", "公司拖欠工资三个月，要求申请劳动仲裁，请求督促发放工资。"),
    ("噪音扰民", "小区旁边工地夜间施工噪音很大，严重影响休息，请求环保部门查处。"),
    ("学校收费", "孩子所在学校违规收取资料费，每学期两百元，请求教育局调查。"),
    ("公交线路", "建议增开一条通往新区的公交线路，方便居民出行。"),
]


def letters_from(data_dir: Path, count: int) -> list[tuple[str, str]]:
    """``count`` real letters (title, text) from messages.csv, or the built-in few when it is absent."""
    path = data_dir / "messages.csv"
    if not path.exists():
        return [FALLBACK_LETTERS[i % len(FALLBACK_LETTERS)] for i in range(count)]
    with path.open(encoding="utf-8", newline="") as f:
        rows = [(r["title"], r["text"]) for r in csv.DictReader(f) if r["text"].strip()]
    step = max(1, len(rows) // count)
    return [rows[(i * step) % len(rows)] for i in range(count)]


# --- the server process -------------------------------------------------------------------------


#: The request header the officers name each request's kind in, for the server's lock figures.
KIND_HEADER = "x-bench-kind"


def watch_audit_lock(app: Any, out: Path) -> Any:
    """Wrap ``app`` so that every transaction holding the audit head's row lock writes a line
    ``request kind, ms waited for the lock, ms held until commit or rollback`` to ``out`` (at once:
    uvicorn ends the process by re-raising the signal that stopped it, so nothing runs after).

    Writes go one at a time through that lock, so the time each one holds it bounds how many
    writes a second the whole office gets, whatever the number of server processes. Measured with
    SQLAlchemy's events from the statement that takes the lock (``SELECT … FROM audit_head … FOR
    UPDATE``) to the end of its transaction; the request's kind comes from the officers' header.
    """
    import contextvars
    import threading

    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    # One mutable slot per request, shared by the threads its handler and its session's
    # dependency run in (contextvars are copied into the thread pool, the dict is not).
    current: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
        "bench_kind", default=None
    )
    guard = threading.Lock()
    sink = out.open("a", encoding="utf-8")

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        slot = current.get()
        if (
            slot is not None
            and "asked" not in slot
            and "audit_head" in statement
            and "FOR UPDATE" in statement
        ):
            slot["asked"] = time.perf_counter()

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        slot = current.get()
        if slot is not None and "asked" in slot and "held" not in slot:
            slot["held"] = time.perf_counter()

    def _ended(session: Session) -> None:
        slot = current.get()
        if slot is not None and "held" in slot:
            end = time.perf_counter()
            waited, held = (slot["held"] - slot["asked"]) * 1000, (end - slot["held"]) * 1000
            with guard:
                sink.write(f"{slot['kind']}\t{waited:.3f}\t{held:.3f}\n")
                sink.flush()
            slot.pop("asked")
            slot.pop("held")

    event.listen(Session, "after_commit", _ended)
    event.listen(Session, "after_rollback", _ended)

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        kind = dict(scope["headers"]).get(KIND_HEADER.encode(), b"other").decode()
        token = current.set({"kind": kind})
        try:
            await app(scope, receive, send)
        finally:
            current.reset(token)

    return wrapped


def serve(
    database_url: str, sock_fd: int, router_kind: str, secret_file: Path, lock_file: Path | None
) -> None:
    """Run the app on an inherited listening socket (the parent picked the free port)."""
    import uvicorn

    from api.app import create_app
    from service.settings import Settings

    settings = Settings(
        environment="test",
        database_url=database_url,
        secret_key=secret_file.read_text(encoding="utf-8").strip(),
        login_attempts=1_000_000,
        preload_model=True,
        migrate_on_start=False,  # prepare() migrated; several workers must not race to do it
    )
    router: Any = None
    if router_kind in ("standin", "tiny"):
        sys.path.insert(0, str(ROOT / "tests" / "api"))
    if router_kind == "standin":
        from standin_router import StandInRouter

        router = StandInRouter()
    elif router_kind == "tiny":
        from tiny_model import train_tiny_router

        router = train_tiny_router(Path(tempfile.mkdtemp(prefix="xinfang-bench-model-")) / "tiny")
    app = create_app(settings, router=router)
    served = watch_audit_lock(app, lock_file) if lock_file is not None else app
    sock = socket.socket(fileno=sock_fd)
    # Keep idle connections longer than an officer pauses, so that the client never sends on a
    # connection the server is closing (a transport error that is no fault of the app).
    config = uvicorn.Config(served, log_level="warning", access_log=False, timeout_keep_alive=120)
    uvicorn.Server(config).run(sockets=[sock])


# --- the load ------------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    registered: int = 0
    decided: int = 0
    steps: int = 0
    documents: int = 0

    def all(self) -> list[float]:
        return [x for v in self.latencies.values() for x in v]


def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def is_confidential(proposal: Any, decision: Any) -> bool:
    from store.confidentiality import is_confidential as rule

    return rule(proposal, decision)


async def officer(
    client: Any,
    token: str,
    inspector: str,
    supervisor: str,
    handlers: dict[str, str],
    letters: list[tuple[str, str]],
    stats: Stats,
    index: int,
    deadline: float,
    think: float,
) -> None:
    own = {"Authorization": f"Bearer {token}"}
    rng = random.Random(index)  # the same pauses on every run

    async def pause() -> None:
        # An officer reads and types between two requests; 0 makes every officer a tight loop.
        if think > 0:
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))

    discipline = {"Authorization": f"Bearer {inspector}"}
    supervisor_headers = {"Authorization": f"Bearer {supervisor}"}

    async def call(kind: str, method: str, url: str, headers: dict[str, str] = own, **kwargs: Any) -> Any:
        await pause()
        started = time.perf_counter()
        try:
            r = await client.request(method, url, headers={**headers, KIND_HEADER: kind}, **kwargs)
        except Exception as exc:  # a transport failure counts as an error of this request
            stats.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            return None
        stats.latencies[kind].append(time.perf_counter() - started)
        if r.status_code >= 400:
            stats.errors.append(f"{kind}: {r.status_code} {r.text[:200]}")
            return None
        return r.json()

    for n, (title, text) in enumerate(letters):
        if time.monotonic() > deadline:
            stats.errors.append(f"officer {index}: time budget used up after {n} letters")
            return
        receipt = await call(
            "register",
            "POST",
            "/api/v1/letters",
            json={
                "title": title[:500],
                "text": text,
                "received_on": "2026-11-02",
                "petitioner_name": f"信访人{index:02d}{n:02d}",  # the 转送函 names the petitioner
            },
        )
        if receipt is None:
            continue
        stats.registered += 1
        case = receipt["case_number"]
        # An accusation is not readable by the intake officer who registered it: the discipline
        # inspector reads and decides it, as in the office.
        who = own if receipt["readable"] else discipline
        letter = await call("read", "GET", f"/api/v1/letters/{case}", headers=who)
        if letter is None:
            continue
        body: dict[str, Any] = {"proposal_id": letter["proposal"]["id"], "letter_version": letter["version"]}
        if n % 3 == 2:
            body |= {"department": "township", "reason": "属地街道先行调处"}
        decision = await call("decide", "POST", f"/api/v1/letters/{case}/decisions", headers=who, json=body)
        if decision is not None:
            stats.decided += 1
        if n % 5 == 4:
            await call("queue", "GET", "/api/v1/letters?limit=50")
        if decision is None:
            continue
        # The decision says from now on who opens the letter: an inspector's decision can make a
        # letter flagged as a possible accusation ordinary again, and the intake officer's office.
        office = discipline if is_confidential(None, SimpleNamespace(**decision)) else own
        await case_life(call, case, office, discipline, handlers, stats, index * 1000 + n)
        if n % 5 == 4:
            await call("supervision", "GET", "/api/v1/supervision?within=7", headers=supervisor_headers)


async def case_life(
    call: Any,
    case: str,
    office: dict[str, str],
    discipline: dict[str, str],
    handlers: dict[str, str],
    stats: Stats,
    serial: int,
) -> None:
    """The case after its route: the 转送函, the 转送, and the body's 签收 → 受理 → 处理意见 → 办结."""
    seen = await call("case", "GET", f"/api/v1/letters/{case}/case", headers=office)
    if seen is None or "transfer" not in {s["code"] for s in seen["allowed_steps"]}:
        return  # routed to a notice rather than a body
    draft = await call(
        "draft",
        "POST",
        f"/api/v1/letters/{case}/documents/draft",
        headers=office,
        json={"kind": "transfer_letter"},
    )
    if draft is None:
        return
    document = await call(
        "issue",
        "POST",
        f"/api/v1/letters/{case}/documents",
        headers=office,
        json={"kind": "transfer_letter", "title": draft["title"], "paragraphs": draft["paragraphs"]},
    )
    if document is None:
        return
    stats.documents += 1
    version = seen["version"]

    async def step(name: str, who: dict[str, str], fields: dict[str, str]) -> Any:
        nonlocal version
        after = await call(
            name,
            "POST",
            f"/api/v1/letters/{case}/steps",
            headers=who,
            json={"step": name, "fields": fields, "version": version},
        )
        if after is not None:
            stats.steps += 1
            version = after["version"]
        return after

    sent = await step("transfer", office, {"document_no": document["number"]})
    if sent is None:
        return
    body = sent["handling_body"]
    token = handlers.get(body)
    who = discipline if sent["confidential"] or token is None else {"Authorization": f"Bearer {token}"}
    for name, fields in BODY_STEPS:
        filled = {k: v.format(body=f"B{serial}", n=serial) for k, v in fields.items()}
        if await step(name, who, filled) is None:
            return


async def run_load(
    base: str,
    usernames: list[str],
    letters: list[tuple[str, str]],
    budget: float,
    think: float,
    server_pids: Sequence[int],
) -> tuple[Stats, float, float]:
    import httpx

    stats = Stats()
    limits = httpx.Limits(max_connections=len(usernames), max_keepalive_connections=len(usernames))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:

        async def sign_in(name: str) -> str:
            r = await client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
            r.raise_for_status()
            return str(r.json()["access_token"])

        # sign-in is argon2, slow on purpose: not timed
        tokens = [await sign_in(name) for name in usernames]
        inspector = await sign_in(INSPECTOR)
        supervisor = await sign_in(SUPERVISOR)
        handlers = {code: await sign_in(handler_name(code)) for code in department_codes()}
        for token in tokens:  # warm the connections and the server's first-request paths, untimed
            (
                await client.get("/api/v1/letters?limit=1", headers={"Authorization": f"Bearer {token}"})
            ).raise_for_status()
        per = len(letters) // len(usernames)
        cpu_before = cpu_seconds(server_pids)
        started = time.perf_counter()
        deadline = time.monotonic() + budget
        await asyncio.gather(
            *(
                officer(
                    client,
                    token,
                    inspector,
                    supervisor,
                    handlers,
                    letters[i * per : (i + 1) * per],
                    stats,
                    i,
                    deadline,
                    think,
                )
                for i, token in enumerate(tokens)
            )
        )
        elapsed = time.perf_counter() - started
        server_cpu = cpu_seconds(server_pids) - cpu_before
    return stats, elapsed, server_cpu


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time the server processes have used (Linux ``/proc``; NaN elsewhere)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


# --- one backend ---------------------------------------------------------------------------------


def fresh_database(backend: str, pg_url: str, workdir: Path) -> tuple[str, Any]:
    """A fresh database URL and a function that drops it afterwards."""
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite3'}", lambda: None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(pg_url)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"xinfang_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin_url.set(database=name).render_as_string(hide_password=False), drop


def department_codes() -> list[str]:
    from routing.catalogue import load_catalogue

    return [d.code for d in load_catalogue(ROOT / "data" / "departments.yaml").departments]


def handler_name(code: str) -> str:
    return f"handler.{code.replace('_', '-')}"


def prepare(database_url: str, officers: int) -> list[str]:
    from store.db import make_engine, make_session_factory, session_scope, upgrade
    from store.users import create_user

    upgrade(database_url)
    engine = make_engine(database_url)
    names = [f"officer{i:02d}" for i in range(officers)]
    try:
        with session_scope(make_session_factory(engine)) as session:
            for name in names:
                create_user(
                    session,
                    username=name,
                    password=PASSWORD,
                    role="intake_officer",
                    display_name=f"办信员{name[-2:]}",
                )
            create_user(
                session,
                username=INSPECTOR,
                password=PASSWORD,
                role="discipline_inspector",
                display_name="纪检监察员",
            )
            create_user(
                session, username=SUPERVISOR, password=PASSWORD, role="supervisor", display_name="科室负责人"
            )
            for code in department_codes():  # one handler for each body a letter may be sent to
                create_user(
                    session,
                    username=handler_name(code),
                    password=PASSWORD,
                    role="department_handler",
                    display_name=f"承办人{code}",
                    department=code,
                )
    finally:
        engine.dispose()
    return names


def count_rows(database_url: str) -> dict[str, int]:
    from store.db import make_engine, make_session_factory, session_scope
    from store.queries_api import table_counts

    engine = make_engine(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            return table_counts(session)
    finally:
        engine.dispose()


def run_backend(backend: str, args: argparse.Namespace, letters: list[tuple[str, str]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="xinfang-bench-") as tmp:
        database_url, drop = fresh_database(backend, args.pg_url, Path(tmp))
        servers: list[subprocess.Popen[bytes]] = []
        lock_files = [Path(tmp) / f"audit-lock-{i}.tsv" for i in range(args.workers)]
        try:
            usernames = prepare(database_url, args.officers)
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            port = sock.getsockname()[1]
            # Every worker signs tokens with the same throwaway secret, kept in the run's temp folder.
            secret_file = Path(tmp) / "secret"
            secret_file.write_text(secrets.token_urlsafe(32), encoding="utf-8")
            secret_file.chmod(0o600)
            # Pre-fork: every worker process accepts on the same listening socket.
            for lock_file in lock_files:
                servers.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            __file__,
                            "--serve",
                            database_url,
                            "--fd",
                            str(sock.fileno()),
                            "--router",
                            args.router,
                            "--secret-file",
                            str(secret_file),
                            "--lock-file",
                            str(lock_file),
                        ],
                        pass_fds=[sock.fileno()],
                        cwd=ROOT,
                    )
                )
            sock.close()
            base = f"http://127.0.0.1:{port}"
            for server in servers:
                wait_until_up(base, timeout=120, process=server)
            stats, elapsed, server_cpu = asyncio.run(
                run_load(base, usernames, letters, args.time_budget, args.think, [p.pid for p in servers])
            )
            counts = count_rows(database_url)
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.kill()
            drop()
        lock = read_lock_samples(lock_files)
    latencies = stats.all()
    requests = len(latencies)
    expected = stats.registered
    intact = (
        counts["letters"]
        == counts["proposals"]
        == counts["decisions"]
        == counts["case_numbers_distinct"]
        == counts["cases"]
        == expected
        == stats.decided
        and counts["case_events"] == stats.steps
        and counts["case_documents"] == counts["document_numbers_distinct"] == stats.documents
    )
    return {
        "backend": backend,
        "officers": args.officers,
        "letters": expected,
        "steps": stats.steps,
        "documents": stats.documents,
        "requests": requests,
        "elapsed": elapsed,
        "throughput": requests / elapsed if elapsed else 0.0,
        "letters_per_s": expected / elapsed if elapsed else 0.0,
        "p50": pct(latencies, 50) * 1000,
        "p99": pct(latencies, 99) * 1000,
        "by_kind": {
            k: (pct(v, 50) * 1000, pct(v, 99) * 1000, len(v)) for k, v in sorted(stats.latencies.items())
        },
        "errors": len(stats.errors),
        "cpu_ms_per_request": server_cpu / requests * 1000 if requests else float("nan"),
        "lock_by_kind": {
            k: (pct([h for _, h in v], 50), pct([h for _, h in v], 99), pct([w for w, _ in v], 99), len(v))
            for k, v in sorted(lock.items())
        },
        "lock_held": [h for v in lock.values() for _, h in v],
        "error_samples": stats.errors[:5],
        "counts": counts,
        "intact": intact,
    }


def read_lock_samples(paths: Sequence[Path]) -> dict[str, list[tuple[float, float]]]:
    """The servers' ``(waited, held)`` audit lock samples by request kind."""
    by_kind: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for path in paths:
        if not path.exists():
            print(
                f"warning: {path.name} was not written; its server's lock figures are missing",
                file=sys.stderr,
            )
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            kind, waited, held = line.split("\t")
            by_kind[kind].append((float(waited), float(held)))
    return by_kind


def wait_until_up(base: str, timeout: float, process: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} before it answered")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer {base}/api/v1/health within {timeout:.0f} s")


# --- report ---------------------------------------------------------------------------------------


def render(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"{args.officers} concurrent officers over loopback, {args.letters} letters each (register → read → "
        "decide; every third a correction with a reason; every fifth also reads the queue; then, for each "
        "letter routed to a body, the case → draft and issue the 转送函 → 转送 → the body's 签收, 受理, "
        "处理意见, 办结; every fifth also a supervisor's 督办 view). "
        "*think* is the mean pause an officer takes before each request (0 = a tight loop, a stress test). "
        f"{args.workers} uvicorn worker process(es); router: {args.router_label}. "
        f"Python {platform.python_version()}, {os.cpu_count()} cores shared with other work: load average "
        f"{args.load_start:.1f} before, {load:.1f} after; {dt.date.today().isoformat()}.",
        "",
        "| backend | think s | letters | requests | errors | p50 ms | p99 ms | requests/s "
        "| server CPU ms/request | rows intact |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        c = r["counts"]
        intact = ("yes" if r["intact"] else "**no**") + (
            f" ({c['letters']} letters, {c['proposals']} proposals, {c['decisions']} decisions, "
            f"{c['case_numbers_distinct']} case numbers, {c['cases']} cases, {c['case_events']} steps "
            f"of {r['steps']} taken, {c['case_documents']} documents of {r['documents']} issued, "
            f"{c['document_numbers_distinct']} 文号)"
        )
        lines.append(
            f"| {r['backend']} | {r['think']:g} | {r['letters']} | {r['requests']} | {r['errors']} "
            f"| {r['p50']:.0f} | {r['p99']:.0f} | {r['throughput']:.0f} | {r['cpu_ms_per_request']:.1f} "
            f"| {intact} |"
        )
    kinds = sorted({k for r in results for k in r["by_kind"]})
    lines += ["", "Per request (p50 / p99 ms):", ""]
    lines.append("| backend | think s | " + " | ".join(kinds) + " |")
    lines.append("|---|---:|" + "---:|" * len(kinds))
    for r in results:
        cells = [
            f"{r['by_kind'][k][0]:.0f} / {r['by_kind'][k][1]:.0f}" if k in r["by_kind"] else "–"
            for k in kinds
        ]
        lines.append(f"| {r['backend']} | {r['think']:g} | " + " | ".join(cells) + " |")
    lock_kinds = sorted({k for r in results for k in r["lock_by_kind"]})
    if lock_kinds:
        lines += [
            "",
            "The audit head's row lock, which every write takes and holds until it commits "
            "(held p50 / p99 ms, from taking it to the end of the transaction; waited p99 ms for it):",
            "",
            "| backend | think s | all writes | " + " | ".join(lock_kinds) + " |",
            "|---|---:|---:|" + "---:|" * len(lock_kinds),
        ]
        for r in results:
            held = r["lock_held"]
            by = r["lock_by_kind"]
            cells = [
                f"{by[k][0]:.1f} / {by[k][1]:.1f}; {by[k][2]:.0f}" if k in by else "–" for k in lock_kinds
            ]
            lines.append(
                f"| {r['backend']} | {r['think']:g} | {pct(held, 50):.1f} / {pct(held, 99):.1f} | "
                + " | ".join(cells)
                + " |"
            )
    lines.append("")
    for r in results:
        if r["backend"] == "postgresql":
            met = r["p99"] <= 200 and r["errors"] == 0 and r["intact"] and args.officers >= 20
            lines.append(
                f"- Goal (20 officers, p99 ≤ 200 ms, no errors, PostgreSQL), think {r['think']:g} s: "
                f"{'met' if met else 'not met'} (p99 {r['p99']:.0f} ms, {r['errors']} errors)."
            )
    lines += [
        "- Reading the numbers: a uvicorn worker runs Python on one core at a time, so in a tight loop the "
        "server's CPU per request sets the pace (requests/s ≈ available core share ÷ CPU per request) and "
        "latency is the queue in front of it (≈ officers ÷ requests/s). Every write (registering, deciding, "
        "each step, each document, a look at a confidential letter) appends to the hash-chained audit log, "
        "whose head row lets one write through at a time: the lock table shows how long each held it. The "
        "writes read the case, judge the step and write the DOCX before they take it, and a look at a "
        "confidential letter is logged at commit, so the lock covers only a write's own rows. Within one "
        "process a thread holding the lock still waits for the interpreter after each database round trip "
        "while the other requests compute, so the time it is held grows with the load on the machine.",
    ]
    for r in results:
        if r["error_samples"]:
            lines += ["", f"Errors on {r['backend']} (first {len(r['error_samples'])}):", ""]
            lines += [f"- `{e[:160]}`" for e in r["error_samples"]]
    return "\n".join(lines)


#: A subsection of the written section that a run keeps: what a profile of the server showed and
#: what was changed for it, written by hand, since the run does not profile.
KEPT = "### Profile"


def replace_section(path: Path, body: str) -> None:
    """Replace the ``## Workbench`` section of ``path`` (up to the next ``## ``), or append it; its
    ``### Profile`` subsection, if any, stays at its end."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    found = pattern.search(text)
    kept = ""
    if found and f"\n{KEPT}\n" in found.group(0):
        kept = "\n" + found.group(0)[found.group(0).index(f"\n{KEPT}\n") + 1 :].strip() + "\n"
    block = f"{SECTION}\n\n{body.strip()}\n{kept}"
    text = pattern.sub(lambda _: block + "\n", text, count=1) if found else f"{text.rstrip()}\n\n{block}"
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--officers", type=int, default=20, help="concurrent simulated officers")
    ap.add_argument("--letters", type=int, default=15, help="letters each officer registers and decides")
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--pg-url", default=DEFAULT_PG, help="server to create the fresh benchmark database on")
    ap.add_argument(
        "--router",
        choices=["model", "tiny", "standin"],
        default="model",
        help="model = the promoted model in models/ (XINFANG_MODELS_DIR); tiny = the real pipeline "
        "with a model trained on the tests' dozen inline letters; standin = the tests' stand-in "
        "(real rulebook, keyword heads)",
    )
    ap.add_argument(
        "--think",
        type=lambda v: [float(x) for x in v.split(",") if x],
        default=[1.0, 0.0],
        help="mean seconds an officer pauses before each request, comma separated: one run per value "
        "(0 = a tight loop, a stress test)",
    )
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes sharing the socket")
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--time-budget", type=float, default=300.0, help="seconds before the officers stop")
    ap.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    ap.add_argument("--serve", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    ap.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--secret-file", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--lock-file", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.serve, args.fd, args.router, args.secret_file, args.lock_file)
        return 0
    if args.officers < 1 or args.letters < 1:
        ap.error("--officers and --letters must be at least 1")
    args.router_label = {
        "model": "the promoted model",
        "tiny": "the real pipeline with a model trained on a dozen letters (tests/api/tiny_model.py)",
        "standin": "test stand-in (real rulebook, keyword heads; no trained model)",
    }[args.router]
    args.load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    letters = letters_from(args.data_dir, args.officers * args.letters)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    for backend in backends:
        for think in args.think:
            print(f"running {backend}, think {think:g} s …", flush=True)
            result = run_backend(backend, argparse.Namespace(**{**vars(args), "think": think}), letters)
            results.append({**result, "think": think})
    body = render(results, args)
    print(f"\n{SECTION}\n\n{body}")
    if not args.no_write:
        replace_section(args.output, body)
    return 0 if all(r["errors"] == 0 and r["intact"] for r in results) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
