"""Statistics page at a million letters: seed PostgreSQL fast, time ``service.statistics.compute``.

Named ``office_statistics`` rather than ``statistics``: run as a script, ``bench/`` comes first on
the import path, and a ``statistics.py`` there would replace the standard library's module for the
other benchmarks (``core``, ``rules``, ``ocr`` use it).

Run from the project root (PostgreSQL on 127.0.0.1:5432 with trust auth, ``make system``)::

    .venv/bin/python bench/office_statistics.py [--letters 1000000] [--repeat 15] [--reseed] [--no-write]

It creates the database ``xinfang_bench_stats`` (migrated by the project's Alembic migrations)
and fills it with ``--letters`` synthetic letters in a few ``INSERT … SELECT FROM
generate_series`` statements, never through Python rows, so a million letters take minutes. A
database already holding that many letters is reused (``--reseed`` drops and refills it).

What is seeded (every figure of the page has rows to read):

- letters spread evenly over the ten years 2016-12-01 … 2026-11-30 (about 100,000 a year, 8,300 a
  month: a large office's decade); a title naming an anonymised 区/县 (A3区 …) for 80%, the place
  only in the text for 15%, none for 5%; a text of about 200 characters; four forms;
- one proposal each (category 6% accusation, 11% suggestion, else appeal; seven domains; twelve
  departments; channels as the annotated data has them roughly), with a short JSON body: the
  statistics never read the body, and PostgreSQL keeps a real proposal's large body out of line
  (TOAST) anyway;
- a decision as proposed for 95% of the letters (5% pending), by one ``bench`` account;
- case steps for the decided letters routed to a body, dated from receipt: 转送 after 0–18 days
  (some late), 签收, then for ordinary matters 受理, 延期 for 5%, 处理意见 after 10–84 days of
  受理 (some late), 满意度评价 for 30% (60/25/15 满意/基本满意/不满意), 复查 for 4% of the answered
  and 复核 for a quarter of those; refusals get their 不予受理/不再受理 step; steps that would fall
  after today are not recorded; a ``cases`` row per decided letter, 3% linked to an earlier letter,
  with the case's figures (``casework.figures``) aggregated from those steps in the same statement.

A database seeded before the figures, the named places and the letters' routes were kept is brought
up by migrations 0009, 0010 and 0012 when reused, which fill them from ``case_events``, the letters'
titles and texts, and their newest proposals and decisions.

It then times :func:`service.statistics.compute` (one SQL statement and the Python that reads its
grouped rows) for a month, a quarter and a year of 2025, ``--repeat`` times each after one warm-up
run, then the PostgreSQL backend's own CPU time for the statement in 5 more runs with parallel
workers off (read from ``/proc``, so only with the server on this machine): on a shared machine
the wall times move with the load, that CPU time does not. It writes its section of BENCHMARKS.md.
Target: p95 ≤ 500 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import BENCHMARKS, machine, markdown_table, replace_section  # noqa: E402

SECTION = "## Statistics at a million letters"
#: The hand-written profile at the end of the section, which a run keeps.
PROFILE = "### Profile"
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE = "xinfang_bench_stats"
FIRST_DAY = dt.date(2016, 12, 1)
SPAN_DAYS = 3652
PERIODS = ("2025-07", "2025-Q3", "2025")
TARGET_MS = 500.0
CPU_RUNS = 5
DEPARTMENTS = (
    "housing",
    "urban_management",
    "ecology_environment",
    "transport",
    "education",
    "hr_social_security",
    "health",
    "market_regulation",
    "natural_resources",
    "public_security",
    "civil_affairs",
    "agriculture_rural",
)
DOMAINS = ("城乡建设", "环境保护", "交通运输", "教育文体", "劳动和社会保障", "商贸旅游", "卫生计生")


def _array(values: Sequence[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


def seed_sql(n: int, today: dt.date) -> list[str]:
    """The statements that fill a migrated, empty database with ``n`` letters and their rows."""
    deps, doms = _array(DEPARTMENTS), _array(DOMAINS)
    t = f"DATE '{today.isoformat()}'"
    return [
        "INSERT INTO users (username, display_name, role, department, password_hash, active, created_at, "
        "password_changed_at) VALUES ('bench', '基准测试', 'supervisor', NULL, 'not-a-hash', false, "
        "now(), now())",
        # one plan row per letter: every random choice made once, read by each table's INSERT
        f"""CREATE UNLOGGED TABLE bench_plan AS
        SELECT g,
          DATE '{FIRST_DAY.isoformat()}' + ((g - 1)::bigint * {SPAN_DAYS} / {n})::int AS received_on,
          (ARRAY['letter','online','visit','call'])[1 + g % 4] AS form,
          CASE WHEN g % 100 < 6 THEN 'accusation' WHEN g % 100 < 17 THEN 'suggestion' ELSE 'appeal' END
            AS category,
          CASE WHEN g % 100 < 6 THEN 'discipline' WHEN g % 100 < 17 THEN 'suggestion'
               WHEN g % 100 < 19 THEN 'litigation' WHEN g % 100 < 21 THEN 'arbitration'
               WHEN g % 100 < 23 THEN 'administrative_review' WHEN g % 100 < 60 THEN 'ordinary'
               ELSE 'duty_request' END AS channel,
          CASE WHEN g % 100 BETWEEN 17 AND 22 THEN 'redirect' WHEN g % 97 = 1 THEN 'not_accepted'
               WHEN g % 211 = 2 THEN 'no_longer_accepted' ELSE 'accept' END AS disposition,
          CASE WHEN g % 100 < 6 THEN 'discipline_inspection'
               ELSE ({deps})[1 + (g / 7) % {len(DEPARTMENTS)}] END AS department,
          ({doms})[1 + (g / 3) % 7] AS domain,
          chr(65 + g % 13) AS city, (1 + (g / 13) % 12) AS county_no,
          CASE WHEN g % 2 = 0 THEN '区' ELSE '县' END AS county_kind,
          g % 20 <> 7 AS decided,
          g % 19 AS forward_lag, 1 + g % 5 AS receive_lag, 2 + g % 9 AS accept_lag,
          10 + (g * 7) % 75 AS answer_lag, g % 20 = 3 AS extended, 10 + g % 21 AS ext_days
        FROM generate_series(1, {n}) AS g""",
        # named_county / named_city: the places the title (g % 20 < 16) or else the text
        # (16 … 18) names, as store.letters.named_places reads them at registration; the route the
        # letter keeps (store.routes): the decision's where there is one, else the proposal's, which
        # agree here; confidential by either's category or channel (the proposal's flag is set for
        # accusations only)
        """INSERT INTO letters (id, case_number, title, text, form, received_on, created_by, created_at,
          status, version, source, named_county, named_city, route_category, route_channel,
          route_disposition, route_domain, route_department, route_confidential, route_decision_id,
          proposed_due)
        SELECT g, 'XF-B-' || lpad(g::text, 8, '0'),
          CASE WHEN g % 20 < 16
               THEN '反映' || city || '市' || city || county_no || county_kind || '小区物业问题'
               ELSE '反映小区物业问题' END,
          repeat('我们小区的电梯多次故障，物业公司长期不维修，请求有关部门督促处理。', 3)
            || CASE WHEN g % 20 BETWEEN 16 AND 18 THEN '地址在' || city || '市' || city || county_no
                    || county_kind || '幸福路。' ELSE '' END,
          form, received_on, 'bench',
          received_on::timestamp AT TIME ZONE 'Asia/Shanghai' + interval '9 hours',
          CASE WHEN decided THEN 'decided' ELSE 'pending' END, 1, 'manual',
          CASE WHEN g % 20 < 19 THEN city || county_no || county_kind END,
          CASE WHEN g % 20 < 19 THEN city || '市' END,
          category, channel, disposition, domain, department,
          category = 'accusation' OR channel = 'discipline', CASE WHEN decided THEN g END, received_on + 15
        FROM bench_plan""",
        """INSERT INTO proposals (id, letter_id, proposal, model_version, rulebook_version, created_at,
          category, domain, department, channel, disposition, confidential, needs_review, urgent,
          earliest_due)
        SELECT g, g, '{"bench": true}'::json, 'bench', 'bench',
          received_on::timestamp AT TIME ZONE 'Asia/Shanghai' + interval '9 hours 5 minutes',
          category, domain, department, channel, disposition, category = 'accusation', g % 10 = 0,
          g % 50 = 0, received_on + 15
        FROM bench_plan""",
        """INSERT INTO decisions (id, letter_id, proposal_id, decided_by, decided_at, category, domain,
          department, channel, disposition, agreed_with_proposal, changed_fields, letter_version)
        SELECT g, g, g, 'bench', received_on::timestamp AT TIME ZONE 'Asia/Shanghai' + interval '10 hours',
          category, domain, department, channel, disposition, true, '[]'::json, 1
        FROM bench_plan WHERE decided""",
        # the steps, as (letter, seq, step, day, fields); only those not after today
        """CREATE UNLOGGED TABLE bench_steps AS
        WITH p AS (SELECT *, received_on + forward_lag AS fwd,
                     received_on + forward_lag + receive_lag AS rcv,
                     received_on + forward_lag + receive_lag + accept_lag AS acc
                   FROM bench_plan WHERE decided)
        SELECT g, 1 AS seq, CASE WHEN disposition = 'not_accepted' THEN 'not_accept'
                                 WHEN disposition = 'no_longer_accepted' THEN 'no_longer_accept'
                                 ELSE 'transfer' END AS step, fwd AS day,
               CASE WHEN disposition IN ('accept', 'redirect') THEN json_build_object('body', department,
                 'document_no', 'B转〔' || g || '〕号') ELSE json_build_object('basis', '第十九条',
                 'document_no', 'B告〔' || g || '〕号') END AS fields FROM p
        UNION ALL SELECT g, 2, 'receive', rcv, '{}'::json FROM p WHERE disposition IN ('accept', 'redirect')
        UNION ALL SELECT g, 3, 'accept', acc, json_build_object('document_no', 'B受〔' || g || '〕号') FROM p
          WHERE disposition = 'accept' AND channel <> 'discipline'
        UNION ALL SELECT g, 4, 'extend', acc + 50, json_build_object('days', ext_days, 'document_no',
          'B延〔' || g || '〕号') FROM p WHERE disposition = 'accept' AND channel = 'ordinary' AND extended
        UNION ALL SELECT g, 5, 'answer', acc + answer_lag,
            json_build_object('document_no', 'B意〔' || g || '〕号') FROM p
          WHERE disposition = 'accept' AND channel <> 'discipline'
        UNION ALL SELECT g, 6, 'serve', acc + answer_lag + 3, '{}'::json FROM p
          WHERE disposition = 'accept' AND channel <> 'discipline'
        UNION ALL SELECT g, 7, 'rate', acc + answer_lag + 5, json_build_object('rating',
            CASE WHEN (g / 10) % 20 < 12 THEN 'satisfied' WHEN (g / 10) % 20 < 17 THEN 'basically_satisfied'
                 ELSE 'dissatisfied' END)
          FROM p WHERE disposition = 'accept' AND channel <> 'discipline' AND g % 10 < 3
        UNION ALL SELECT g, 8, 'request_review', acc + answer_lag + 20, '{}'::json FROM p
          WHERE disposition = 'accept' AND channel = 'ordinary' AND g % 25 = 4
        UNION ALL SELECT g, 9, 'answer_review', acc + answer_lag + 45, '{}'::json FROM p
          WHERE disposition = 'accept' AND channel = 'ordinary' AND g % 25 = 4
        UNION ALL SELECT g, 10, 'request_recheck', acc + answer_lag + 60, '{}'::json FROM p
          WHERE disposition = 'accept' AND channel = 'ordinary' AND g % 100 = 4""",
        f"DELETE FROM bench_steps WHERE day > {t}",
        """INSERT INTO case_events (letter_id, seq, step, actor, role, actor_department, recorded_at,
          effective_on, reason, fields, after_decision_id)
        SELECT g, seq, step, 'bench', 'supervisor', NULL,
          day::timestamp AT TIME ZONE 'Asia/Shanghai' + interval '15 hours', day,
          CASE WHEN step IN ('not_accept', 'no_longer_accept', 'extend', 'request_review', 'request_recheck')
               THEN '基准测试' ELSE '' END, fields, g
        FROM bench_steps""",
        # each case's figures (casework.figures) as its steps would have written them: every
        # bench step's day is its effective_on
        """INSERT INTO cases (letter_id, state, handling_body, next_due, late_count, open_escalation,
          decision_id, linked_to_id, updated_at, forwarded_on, accepted_on, answered_on, extension_days,
          review_requested, review_answered, recheck_requested, rated_satisfied, rated_basically_satisfied,
          rated_dissatisfied)
        SELECT p.g,
          CASE s.step WHEN 'transfer' THEN 'transferred' WHEN 'not_accept' THEN 'not_accepted'
            WHEN 'no_longer_accept' THEN 'no_longer_accepted' WHEN 'receive' THEN 'received'
            WHEN 'accept' THEN 'handling' WHEN 'extend' THEN 'handling' WHEN 'answer' THEN 'answered'
            WHEN 'serve' THEN 'answered' WHEN 'rate' THEN 'answered' WHEN 'request_review' THEN 'under_review'
            WHEN 'answer_review' THEN 'review_answered' WHEN 'request_recheck' THEN 'under_recheck'
            ELSE 'decided' END,
          CASE WHEN s.step IS NULL OR s.step IN ('not_accept', 'no_longer_accept') THEN NULL
               ELSE p.department END,
          CASE WHEN s.step IS NULL THEN p.received_on + 15 WHEN s.step IN ('transfer', 'receive')
               THEN s.day + 15 WHEN s.step IN ('accept', 'extend') THEN s.day + 60 ELSE NULL END,
          0, false, p.g, CASE WHEN p.g % 33 = 5 AND p.g > 5000 THEN p.g - 4000 END, now(),
          f.forwarded_on, f.accepted_on, f.answered_on, coalesce(f.extension_days, 0),
          coalesce(f.review_requested, false), coalesce(f.review_answered, false),
          coalesce(f.recheck_requested, false), coalesce(f.rated_satisfied, 0),
          coalesce(f.rated_basically_satisfied, 0), coalesce(f.rated_dissatisfied, 0)
        FROM bench_plan p LEFT JOIN (SELECT DISTINCT ON (g) g, step, day FROM bench_steps
          ORDER BY g, seq DESC) s ON s.g = p.g
        LEFT JOIN (SELECT g,
            min(day) FILTER (WHERE step IN ('transfer', 'assign', 'not_accept', 'no_longer_accept'))
              AS forwarded_on,
            min(day) FILTER (WHERE step = 'accept') AS accepted_on,
            min(day) FILTER (WHERE step = 'answer') AS answered_on,
            max((fields ->> 'days')::int) FILTER (WHERE step = 'extend') AS extension_days,
            bool_or(step = 'request_review') AS review_requested,
            bool_or(step = 'answer_review') AS review_answered,
            bool_or(step = 'request_recheck') AS recheck_requested,
            count(*) FILTER (WHERE step = 'rate' AND fields ->> 'rating' = 'satisfied') AS rated_satisfied,
            count(*) FILTER (WHERE step = 'rate' AND fields ->> 'rating' = 'basically_satisfied')
              AS rated_basically_satisfied,
            count(*) FILTER (WHERE step = 'rate' AND fields ->> 'rating' = 'dissatisfied')
              AS rated_dissatisfied
          FROM bench_steps GROUP BY g) f ON f.g = p.g
        WHERE p.decided""",
        "DROP TABLE bench_steps",
        "DROP TABLE bench_plan",
        "SELECT setval(pg_get_serial_sequence('letters', 'id'), (SELECT max(id) FROM letters))",
        "SELECT setval(pg_get_serial_sequence('proposals', 'id'), (SELECT max(id) FROM proposals))",
        "SELECT setval(pg_get_serial_sequence('decisions', 'id'), (SELECT max(id) FROM decisions))",
    ]


def ensure_database(server: str, n: int, reseed: bool, today: dt.date) -> tuple[str, float | None]:
    """The bench database's URL, seeded with ``n`` letters; the seconds seeding took (None: reused)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from store.db import upgrade

    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    url = make_url(server).set(database=DATABASE).render_as_string(hide_password=False)
    with admin.connect() as c:
        exists = c.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DATABASE})
    if exists and not reseed:
        engine = create_engine(url)
        try:
            with engine.connect() as c:
                have = c.scalar(text("SELECT count(*) FROM letters"))
        except Exception:  # noqa: BLE001 - a half-made database is made again
            have = None
        finally:
            engine.dispose()
        if have == n:
            upgrade(url)  # a newer migration's indexes, if any
            return url, None
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    upgrade(url)
    started = time.perf_counter()
    engine = create_engine(url)
    with engine.begin() as c:
        for statement in seed_sql(n, today):
            c.execute(text(statement))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return url, time.perf_counter() - started


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def backend_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a PostgreSQL backend on this machine has used (None: not here)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, repeat: int, today: dt.date) -> list[dict[str, object]]:
    from sqlalchemy import text

    from service.statistics import compute, parse_period
    from store.db import make_engine, make_session_factory

    engine = make_engine(url)
    factory = make_session_factory(engine)
    results: list[dict[str, object]] = []
    try:
        for code in PERIODS:
            period = parse_period(code)
            times: list[float] = []
            figures = None
            for i in range(repeat + 1):
                with factory() as session:
                    session.execute(text("SELECT 1"))  # the connection is open before the clock starts
                    started = time.perf_counter()
                    figures = compute(session, period, today=today)
                    elapsed = (time.perf_counter() - started) * 1000
                if i:  # the first run warms the caches
                    times.append(elapsed)
            assert figures is not None
            # The statement's own cost, whatever else the machine runs: the backend's CPU time with
            # parallel workers off (their CPU would not show in the backend's), median of CPU_RUNS.
            cpu: list[float] = []
            for _ in range(CPU_RUNS):
                with factory() as session:
                    session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
                    pid = int(session.scalar(text("SELECT pg_backend_pid()")) or 0)
                    before = backend_cpu_seconds(pid)
                    compute(session, period, today=today)
                    after = backend_cpu_seconds(pid)
                if before is not None and after is not None:
                    cpu.append((after - before) * 1000)
            results.append(
                {
                    "period": code,
                    "cpu": percentile(cpu, 0.5) if cpu else None,
                    "letters": figures.total,
                    "p50": percentile(times, 0.5),
                    "p95": percentile(times, 0.95),
                    "max": max(times),
                    "timely": figures.rates["timely_acceptance"].shown,
                    "on_time": figures.rates["on_time_conclusion"].shown,
                    "satisfied": figures.satisfaction.satisfied_rate.shown if figures.satisfaction else "—",
                }
            )
            print(
                f"{code}: {figures.total} letters, p50 {results[-1]['p50']:.0f} ms, "
                f"p95 {results[-1]['p95']:.0f} ms, backend CPU {results[-1]['cpu'] or float('nan'):.0f} ms"
            )
    finally:
        engine.dispose()
    return results


def render(results: list[dict[str, object]], n: int, repeat: int, seeded: float | None, sizes: str) -> str:
    rows = [
        [
            r["period"],
            r["letters"],
            f"{r['p50']:.0f}",
            f"{r['p95']:.0f}",
            f"{r['max']:.0f}",
            f"{r['cpu']:.0f}" if r["cpu"] is not None else "—",
            "met" if float(str(r["p95"])) <= TARGET_MS else "**not met**",
            r["timely"],
            r["on_time"],
            r["satisfied"],
        ]
        for r in results
    ]
    seeding = f"seeded in {seeded:.0f} s" if seeded is not None else "reused an already seeded database"
    lines = [
        f"`bench/office_statistics.py`: {n:,} synthetic letters on PostgreSQL (`{DATABASE}`; {seeding}; "
        f"{sizes}), "
        "spread over 2016-12 … 2026-11, with proposals, decisions, case steps and `cases` rows "
        "(see the script's docstring for the mix). Time of `service.statistics.compute` (the query for the "
        "period's band of letter ids, the one SQL statement of every figure and the Python reading its "
        f"grouped rows), {repeat} runs after a warm-up; target p95 ≤ "
        f"{TARGET_MS:.0f} ms. {machine()}; {dt.date.today().isoformat()}. "
        "The wall times share the machine with whatever else runs on it; *backend CPU* is the "
        "PostgreSQL backend's own CPU time for a run (user + system from `/proc`, in 10 ms ticks), "
        f"median of {CPU_RUNS} runs with parallel workers off: what the statement costs on one idle "
        "core, whatever the load.",
        "",
        *markdown_table(
            [
                "period",
                "letters",
                "p50 ms",
                "p95 ms",
                "max ms",
                "backend CPU ms",
                "target",
                "及时受理率",
                "按期办结率",
                "满意率",
            ],
            rows,
            "lrrrrrllll",
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--letters", type=int, default=1_000_000, help="synthetic letters to seed")
    ap.add_argument("--repeat", type=int, default=15, help="timed runs per period (after one warm-up)")
    ap.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server (any database on it)")
    ap.add_argument("--reseed", action="store_true", help="drop and refill the bench database")
    ap.add_argument("--output", type=Path, default=BENCHMARKS)
    ap.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    args = ap.parse_args(argv)
    today = dt.date(2026, 12, 6)  # fixed, so that reruns judge the same clocks
    url, seeded = ensure_database(args.server, args.letters, args.reseed, today)
    if seeded is not None:
        print(f"seeded {args.letters} letters in {seeded:.0f} s")
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as c:
        counts = {
            t: c.scalar(text(f"SELECT count(*) FROM {t}"))
            for t in ("letters", "proposals", "decisions", "case_events", "cases")
        }
        size = c.scalar(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
    engine.dispose()
    sizes = ", ".join(f"{v:,} {k}" for k, v in counts.items()) + f", {size} on disk"
    print(sizes)
    results = measure(url, args.repeat, today)
    body = render(results, args.letters, args.repeat, seeded, sizes)
    print(body)
    if not args.no_write:
        replace_section(args.output, SECTION, body, keep=PROFILE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
