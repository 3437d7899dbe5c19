"""Benchmark of segmentation: speed of the jieba and rjieba backends on the real letters.

Run from the project root::

    .venv/bin/python bench/segment.py [--data-dir ../shared/data] [--repeat 3] [--no-write]

Both backends segment the same letters (title and text) in the same run, with the domain user
dictionary, passes alternating so that load from other processes hits both alike; the best pass
of each counts, in CPU seconds of this process (the machine is shared, wall time would count
other people's work). jieba-rs on its own (``rjieba.Jieba().cut``, which does not give jieba's
words) is timed too, as the ceiling. It prints a table and replaces the ``## Segmentation`` section of
BENCHMARKS.md (other sections are left as they are).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import replace_section  # noqa: E402
from classifier import segment  # noqa: E402
from classifier.normalize import compact, normalize  # noqa: E402
from classifier.segment import DEFAULT_USER_DICT, Segmenter, read_user_dict  # noqa: E402

SECTION = "## Segmentation"


def load_letters(data_dir: Path) -> list[str]:
    """Title and text of every letter in ``messages.csv``, one string per letter."""
    path = data_dir / "messages.csv"
    if not path.exists():
        raise SystemExit(f"no letters at {path}; pass --data-dir pointing at the shared data folder")
    with path.open(encoding="utf-8", newline="") as handle:
        return [f"{row['title']}\n{row['text']}" for row in csv.DictReader(handle)]


def timed(cut: Callable[[str], object], texts: Sequence[str]) -> tuple[float, list[object]]:
    """Seconds to apply ``cut`` to every text, and what it returned."""
    start = time.process_time()
    out = [cut(t) for t in texts]
    return time.process_time() - start, out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes per backend (best counts)")
    ap.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    args = ap.parse_args(argv)

    letters = load_letters(args.data_dir)
    texts = [compact(normalize(t))[0] for t in letters]
    chars = sum(len(t) for t in texts)
    entries = read_user_dict(DEFAULT_USER_DICT)

    import rjieba

    load: dict[str, float] = {}
    engines: dict[str, segment._Engine] = {}
    for backend, engine_type in segment._ENGINES.items():
        start = time.process_time()
        engines[backend] = engine_type(entries)
        load[backend] = time.process_time() - start
    bare = rjieba.Jieba()
    for word, freq, tag in entries:
        bare.add_word(word, freq, tag)

    # Cold: the rjieba backend's HMM memo is emptied before every pass, so no pass profits from an
    # earlier one. Warm: a second pass over the same letters right after.
    cuts: dict[str, Callable[[str], list[str]]] = {name: engine.cut for name, engine in engines.items()}
    cuts["jieba-rs alone"] = lambda text: list(bare.cut(text, True))
    best = dict.fromkeys(cuts, float("inf"))
    warm = float("inf")
    words: dict[str, list[object]] = {}
    for _ in range(args.repeat):
        for name, cut in cuts.items():
            segment._finalseg_cached.cache_clear()
            seconds, words[name] = timed(cut, texts)
            best[name] = min(best[name], seconds)
            if name == "rjieba":
                warm = min(warm, timed(cut, texts)[0])

    # End to end through the public class, normalisation included, once each; and normalisation
    # alone, which both backends pay.
    public: dict[str, float] = {}
    for backend, engine in engines.items():
        seg = Segmenter(backend=backend)
        seg._engine = engine
        segment._finalseg_cached.cache_clear()
        public[backend] = timed(seg, letters)[0]
    normalising = timed(lambda text: compact(normalize(text)), letters)[0]

    reference = words["jieba"]
    n = len(texts)
    rows = []
    for name in ("jieba", "rjieba", "jieba-rs alone"):
        same = sum(a == b for a, b in zip(reference, words[name], strict=True))
        rows.append((name, chars / best[name], n / best[name], best["jieba"] / best[name], same))
    load_avg = os.getloadavg()[0]
    lines = [
        f"{n:,} letters (title + text), {chars:,} characters after normalisation, user dictionary of "
        f"{len(entries)} entries; best of {args.repeat} alternating passes in CPU time. "
        f"jieba {version('jieba')}, rjieba {version('rjieba')}, Python {platform.python_version()}, "
        f"{platform.machine()}, load average {load_avg:.1f} on {os.cpu_count()} cores when it ran.",
        "",
        "| engine | chars/s | letters/s | × jieba | letters with jieba's exact tokens |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, cps, lps, ratio, same in rows:
        lines.append(f"| {name} | {cps:,.0f} | {lps:,.0f} | {ratio:.1f} | {same:,} / {n:,} |")
    lines += [
        "",
        f"- rjieba backend with its HMM memo warm: {chars / warm:,.0f} chars/s "
        f"({best['jieba'] / warm:.1f} × jieba).",
        f"- End to end through `Segmenter`, normalisation included: jieba {n / public['jieba']:,.0f} "
        f"letters/s, rjieba {n / public['rjieba']:,.0f} letters/s "
        f"({public['jieba'] / public['rjieba']:.1f} ×). `normalize` + `compact` alone run at "
        f"{n / normalising:,.0f} letters/s ({chars / normalising:,.0f} chars/s), about "
        f"{normalising / public['rjieba']:.0%} of the rjieba path's time.",
        f"- Building the engine (dictionary and user entries): jieba {load['jieba']:.2f} s "
        f"(from its cache file), rjieba {load['rjieba']:.2f} s.",
        "- jieba-rs alone is not a backend: it differs from jieba on the letters counted above (HMM "
        "probabilities rounded to six decimals, Latin runs kept whole inside unknown words). The rjieba "
        "backend takes only the route from it; see `classifier/segment.py`.",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        replace_section(args.output, SECTION, body)
        print(f"\nwrote the '{SECTION}' section of {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
