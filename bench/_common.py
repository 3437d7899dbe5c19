"""What every benchmark script shares: writing its own section of BENCHMARKS.md, tables, the machine.

Each ``bench/*.py`` owns one ``## `` section of BENCHMARKS.md and replaces only that one, so scripts
run by different people at different times never overwrite each other's numbers.
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"
SHARED_DATA = ROOT.parent / "shared" / "data"


def replace_section(path: Path, section: str, body: str, *, keep: str | None = None) -> None:
    """Replace ``section`` (a ``## `` heading line) of ``path`` up to the next ``## ``, or append it.

    Args:
        path: the Markdown file; created with a ``# Benchmarks`` title when missing.
        section: the heading line, e.g. ``"## Core pipeline"``.
        body: the new text under the heading.
        keep: a ``### `` heading line whose subsection, written by hand (a profile), stays at the
            end of the section when the rest is rewritten.
    """
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    found = pattern.search(text)
    kept = ""
    if keep is not None and found is not None and f"\n{keep}\n" in found.group(0):
        kept = "\n" + found.group(0)[found.group(0).index(f"\n{keep}\n") + 1 :].strip() + "\n"
    block = f"{section}\n\n{body.strip()}\n{kept}"
    if found is not None:
        text = pattern.sub(lambda _: block + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> list[str]:
    """A Markdown table as lines. ``align`` holds one of ``l``/``r`` per column (default: left)."""
    marks = ["---:" if a == "r" else "---" for a in align.ljust(len(header), "l")]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def machine() -> str:
    """One line naming the interpreter, the cores and how loaded they were when the numbers were taken."""
    return (
        f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} when it ran"
    )


def memory_mb() -> dict[str, float]:
    """Resident memory of this process now (``VmRSS``) and at its peak (``VmHWM``), in MB (Linux)."""
    out = {"rss_mb": float("nan"), "peak_rss_mb": float("nan")}
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return out
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = int(value.split()[0]) / 1024
    return out
