"""Benchmark of the router's input checks: how often a real letter is refused, how often noise is.

Run from the project root::

    .venv/bin/python bench/input_checks.py [--data-dir ../shared/data] [--samples 100] [--no-write]

It prints the tables and replaces the ``## Input checks`` section of BENCHMARKS.md; :data:`METHOD`
says what is measured.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import BENCHMARKS, SHARED_DATA, machine, markdown_table, replace_section  # noqa: E402
from classifier.features import letter_text  # noqa: E402
from classifier.normalize import encodes, han_count  # noqa: E402
from classifier.segment import Segmenter  # noqa: E402
from routing.proposal import ProposalConfig  # noqa: E402
from routing.router import looks_garbled, looks_meaningless  # noqa: E402
from training.datasets import load_routing_cases, load_unlabelled_texts  # noqa: E402

SECTION = "## Input checks"
METHOD = (
    "A letter the checks refuse gets no route (`routed: false`), only the reason, and an officer "
    "registers it by hand; a letter they let through is routed. So the two errors are a real letter "
    "refused (work for an officer) and noise routed (a false route with a legal effect). Real letters"
    " are every message of the 2020 board (labelled and unlabelled) and the hand-written cases. Noise"
    " is made from them with fixed seeds: characters drawn at random from GB2312 (a scan read as "
    "noise, keys struck at random), or from the traditional ones of Big5; a real letter's own "
    "characters shuffled (the hardest: the characters of prose in no order); its words shuffled (not "
    "meant to be caught: each is a word); and random characters before and after a real letter of 100"
    " Chinese characters or more (a scan's smudges around a letter: must not be refused). The garbled"
    " check is measured on the same letters encoded in UTF-8 and read as GBK, and in GBK read as "
    "UTF-8."
)
LENGTHS = (20, 40, 80, 120, 200, 400, 1000)


def real_letters(data_dir: Path) -> list[str]:
    with (data_dir / "messages.csv").open(encoding="utf-8") as f:
        texts = [letter_text(row.get("title", ""), row.get("text", "")) for row in csv.DictReader(f)]
    texts += load_unlabelled_texts(data_dir)
    texts += [letter_text(c.letter.title, c.letter.text) for c in load_routing_cases(data_dir)]
    return texts


def noise_makers(letters: Sequence[str], rng: random.Random) -> dict[str, Callable[[int], str]]:
    """Each kind of noise: a function of its length in characters."""
    gb2312 = [chr(c) for c in range(0x4E00, 0xA000) if encodes(chr(c), "gb2312")]
    traditional = [
        c for c in map(chr, range(0x4E00, 0xA000)) if encodes(c, "big5") and not encodes(c, "gb2312")
    ]
    long_letters = [x for x in letters if han_count(x) >= 100]
    segmenter = Segmenter()

    def shuffled(n: int) -> str:
        chars = [c for c in rng.choice(long_letters) if han_count(c)]
        return "".join(rng.choice(chars) for _ in range(n))

    def words(n: int) -> str:
        cut = [w for w in segmenter(rng.choice(long_letters)) if han_count(w)]
        rng.shuffle(cut)
        return "".join(cut)[:n]

    def around(n: int) -> str:
        half = "".join(rng.choice(gb2312) for _ in range(n // 2))
        return half + rng.choice(long_letters) + "".join(rng.choice(gb2312) for _ in range(n - n // 2))

    return {
        "random GB2312 characters": lambda n: "".join(rng.choice(gb2312) for _ in range(n)),
        "random traditional characters (Big5, not GB2312)": lambda n: "".join(
            rng.choice(traditional) for _ in range(n)
        ),
        "a real letter's characters, shuffled": shuffled,
        "a real letter's words, shuffled": words,
        "random characters around a real letter (n of them)": around,
    }


def cpu_us(check: Callable[[str], object], texts: Sequence[str]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for t in texts:
            check(t)
        best = min(best, time.process_time() - start)
    return best / len(texts) * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    ap.add_argument("--samples", type=int, default=100, help="noise texts of each kind and length")
    ap.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    args = ap.parse_args(argv)
    if not (args.data_dir / "messages.csv").exists():
        print(f"no letters in {args.data_dir}; give --data-dir", file=sys.stderr)
        return 2

    min_han = ProposalConfig().min_han_chars
    letters = real_letters(args.data_dir)
    looks_meaningless("预热" * 10 + letters[0], min_han)  # reads the dictionary's pairs once

    refused = [x for x in letters if looks_meaningless(x, min_han) is not None]
    garbled = [x for x in letters if looks_garbled(x)]
    utf8_as_gbk = [x.encode("utf-8").decode("gbk", "replace") for x in letters[:2000]]
    gbk_as_utf8 = [
        x.encode("gb18030").decode("utf-8", "replace") for x in letters[:2000] if encodes(x, "gb18030")
    ]
    real_rows = [
        ["real letters refused as meaningless", f"{len(refused)} / {len(letters)}"],
        ["real letters taken for garbled text", f"{len(garbled)} / {len(letters)}"],
        [
            "UTF-8 letters read as GBK, caught as garbled",
            f"{sum(map(looks_garbled, utf8_as_gbk))} / {len(utf8_as_gbk)}",
        ],
        [
            "GBK letters read as UTF-8, caught as garbled",
            f"{sum(map(looks_garbled, gbk_as_utf8))} / {len(gbk_as_utf8)}",
        ],
    ]

    rng = random.Random(20261207)
    noise_rows = []
    for kind, make in noise_makers(letters, rng).items():
        row: list[object] = [kind]
        for n in LENGTHS:
            texts = [make(n) for _ in range(args.samples)]
            texts = [t for t in texts if len(t) >= n]
            caught = sum(looks_meaningless(t, min_han) is not None for t in texts)
            row.append(f"{caught / len(texts):.2f}" if texts else "–")
        noise_rows.append(row)

    sample = letters[:3000]
    meaningless_us = cpu_us(lambda t: looks_meaningless(t, min_han), sample)
    cost_rows = [
        ["meaningless (`looks_meaningless`)", f"{meaningless_us:.0f}"],
        ["garbled (`looks_garbled`)", f"{cpu_us(looks_garbled, sample):.0f}"],
    ]

    lines = [
        f"Measured by `bench/input_checks.py` ({machine()}). {METHOD}",
        "",
        *markdown_table(["real letters", "count"], real_rows, "lr"),
        "",
        f"Share of noise refused as meaningless, {args.samples} texts of each kind and length in "
        "Chinese characters (seeded); the last row is real letters refused:",
        "",
        *markdown_table(["noise", *map(str, LENGTHS)], noise_rows, "l" + "r" * len(LENGTHS)),
        "",
        f"CPU per letter over the first {len(sample)} real letters, best of 3 passes:",
        "",
        *markdown_table(["check", "µs per letter"], cost_rows, "lr"),
    ]
    body = "\n".join(lines)
    print(f"{SECTION}\n\n{body}")
    if not args.no_write:
        replace_section(BENCHMARKS, SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
