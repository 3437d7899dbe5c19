"""Run every benchmark script in ``bench/``, one after another, and report how each ended.

Run from the project root (``make bench`` does this; ``make bench BENCH_ARGS=--quick`` passes options)::

    .venv/bin/python bench/run_all.py [--quick] [--only core segment] [--skip ocr] [--no-write]
                                      [--data-dir ../shared/data] [--workbench-backend both]

Every ``bench/*.py`` except this file and ``_``-prefixed helpers is a benchmark script: those named
in :data:`QUICK` first, in that order, then any others alphabetically. Each runs in its own process
with this interpreter, with its full defaults, and writes its own section of BENCHMARKS.md. A
failing script does not stop the others. At the end a table names every script with its exit
status, wall and CPU seconds (CPU of the script's process and the children it waited for), and the
exit status is 1 when any failed.

``--quick`` is a smoke run: every script named in :data:`QUICK` gets its smallest sensible
workload (one timed pass, a page of OCR, a few officers on SQLite, no sentence-transformers check;
any other script its defaults), and every script gets ``--no-write``, so small-sample numbers never
replace the full ones in BENCHMARKS.md; a script without ``--no-write`` is not run by ``--quick``.
The workbench needs PostgreSQL for its default ``--backend both`` (``make system`` starts it);
pass ``--workbench-backend sqlite`` where there is none.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

# Script name -> the options of a --quick run (see each script's --help); also the running order.
QUICK: dict[str, list[str]] = {
    "core": ["--repeat", "1", "--workers", "1"],
    "rules": [],
    "segment": ["--repeat", "1"],
    "training": ["--skip-st"],
    "batch": ["--text-files", "20", "--image-pages", "1"],
    "workbench": ["--officers", "4", "--letters", "3", "--think", "0", "--time-budget", "60"],
    "ocr": ["--pages", "1"],
    "repeats": ["--skip-speed", "--skip-encoder"],
    "hot_issues": ["--sizes", "500"],
    # a smaller count drops and refills the million-letter database on the next full run
    "office_statistics": ["--letters", "20000", "--repeat", "2"],
}


@dataclass(frozen=True)
class Outcome:
    name: str
    returncode: int
    wall_s: float
    cpu_s: float


def discover() -> list[str]:
    """The benchmark scripts in ``bench/``: the known ones in order, then any others by name."""
    found = {p.stem for p in BENCH.glob("*.py") if not p.name.startswith("_") and p.stem != "run_all"}
    return [n for n in QUICK if n in found] + sorted(found - set(QUICK))


def takes(name: str, option: str) -> bool:
    """Whether the script declares ``option`` (all of them parse their options with argparse)."""
    return f'"{option}"' in (BENCH / f"{name}.py").read_text(encoding="utf-8")


def command(name: str, args: argparse.Namespace) -> list[str]:
    """The command line that runs one script with the options this run asks for."""
    cmd = [sys.executable, str(BENCH / f"{name}.py")]
    if args.quick:
        cmd += QUICK.get(name, [])
    if args.no_write or args.quick:
        cmd.append("--no-write")  # main() runs no script without it then
    if args.data_dir is not None and takes(name, "--data-dir"):
        cmd += ["--data-dir", str(args.data_dir)]
    if name == "workbench":
        backend = args.workbench_backend or ("sqlite" if args.quick else None)
        if backend:
            cmd += ["--backend", backend]
    return cmd


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(name: str, cmd: Sequence[str], timeout: float | None) -> Outcome:
    print(f"\n=== bench/{name}.py: {' '.join(cmd[1:])}", flush=True)
    wall, cpu = time.perf_counter(), children_cpu()
    try:
        returncode = subprocess.run(cmd, cwd=ROOT, timeout=timeout, check=False).returncode
    except subprocess.TimeoutExpired:
        print(f"bench/{name}.py ran past {timeout:g} s and was stopped", flush=True)
        returncode = 124
    return Outcome(name, returncode, time.perf_counter() - wall, children_cpu() - cpu)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smallest workloads, and nothing written")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only these scripts (names without .py)")
    ap.add_argument("--skip", nargs="+", default=[], metavar="NAME", help="run all but these")
    ap.add_argument("--no-write", action="store_true", help="pass --no-write: leave BENCHMARKS.md alone")
    ap.add_argument("--data-dir", type=Path, default=None, help="passed to the scripts that take it")
    ap.add_argument(
        "--workbench-backend",
        choices=["sqlite", "postgresql", "both"],
        default=None,
        help="database(s) for the workbench (default: its own, both; sqlite with --quick)",
    )
    ap.add_argument("--timeout", type=float, default=None, help="seconds before a script is stopped")
    args = ap.parse_args(argv)

    scripts = discover()
    unknown = sorted((set(args.only or ()) | set(args.skip)) - set(scripts))
    if unknown:
        ap.error(f"no benchmark script named {', '.join(unknown)}; there are {', '.join(scripts)}")
    names = [n for n in scripts if (args.only is None or n in args.only) and n not in args.skip]
    outcomes = []
    for name in names:
        if (args.quick or args.no_write) and not takes(name, "--no-write"):
            print(f"\n=== bench/{name}.py has no --no-write and would write BENCHMARKS.md; not run")
            continue
        outcomes.append(run(name, command(name, args), args.timeout))

    print("\n| script | exit status | wall s | CPU s |\n|---|---:|---:|---:|")
    for o in outcomes:
        status = "ok (0)" if o.returncode == 0 else f"FAILED ({o.returncode})"
        print(f"| {o.name} | {status} | {o.wall_s:.1f} | {o.cpu_s:.1f} |")
    ran = {o.name for o in outcomes}
    skipped = [n for n in scripts if n not in ran]
    if skipped:
        print(f"not run: {', '.join(skipped)}")
    failed = [o.name for o in outcomes if o.returncode != 0]
    print(
        f"{len(outcomes) - len(failed)} of {len(outcomes)} ran cleanly"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
