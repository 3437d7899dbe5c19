"""Benchmark of segmentation: speed of every backend, and what its words do to the domain head.

Run from the project root::

    .venv/bin/python bench/segment.py [--data-dir ../shared/data] [--repeat 3] [--no-write]

Speed. Every backend of ``classifier.segment`` (jieba, the token-identical rjieba and rjieba-native,
jieba-rs's own cut) segments the same letters (title and text) in the same run, with the domain user
dictionary, passes alternating so that load from other processes hits all alike; the best pass of
each counts, in CPU seconds of this process (``time.process_time``: the machine is shared, wall
time would count other people's work). jieba-rs with its built-in dictionary (``rjieba.Jieba()``
plus the user entries) is timed too, as it comes out of the box.

Accuracy. For each backend, a plain TF-IDF + ``LinearSVC`` domain classifier is trained on the
words that backend gives, with the features of the shipped config (words, and words beside
character 1-3-grams, which do not depend on the segmenter) and the domain head's ``C`` and class
weights, on the group-held-out split of ``training/configs/default.toml`` (``in_test`` with its
seed and share), and scored by macro-F1 on the held-out letters. No calibration, no rules: the
only thing that changes between rows is the segmenter.

It prints the tables and replaces the ``## Segmentation`` section of BENCHMARKS.md (other sections
are left as they are).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import BENCHMARKS, SHARED_DATA, machine, markdown_table, replace_section  # noqa: E402
from classifier import segment  # noqa: E402
from classifier.features import letter_text, make_featurizer  # noqa: E402
from classifier.normalize import compact, normalize  # noqa: E402
from classifier.segment import BACKENDS, DEFAULT_USER_DICT, Segmenter, read_user_dict  # noqa: E402
from training.config import load_config  # noqa: E402
from training.datasets import in_test  # noqa: E402

SECTION = "## Segmentation"
# A backend may replace the token-identical one when the domain head loses no more than this.
F1_TOLERANCE = 0.003


@dataclass(frozen=True)
class Letter:
    title: str
    text: str
    domain: str
    group: str


def load_letters(data_dir: Path) -> list[Letter]:
    """Every letter of ``messages.csv`` with its domain and group."""
    path = data_dir / "messages.csv"
    if not path.exists():
        raise SystemExit(f"no letters at {path}; pass --data-dir pointing at the shared data folder")
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Letter(row["title"] or "", row["text"] or "", row["domain"], str(row["group"]))
            for row in csv.DictReader(handle)
        ]


def timed(cut: Callable[[str], object], texts: Sequence[str]) -> tuple[float, list[object]]:
    """CPU seconds to apply ``cut`` to every text, and what it returned."""
    start = time.process_time()
    out = [cut(t) for t in texts]
    return time.process_time() - start, out


@dataclass(frozen=True)
class Scores:
    words_f1: float
    both_f1: float
    predictions: list[str]
    n_train: int
    n_test: int
    word_terms: int


def domain_scores(seg: Segmenter, letters: Sequence[Letter], config: dict[str, Any]) -> Scores:
    """Macro-F1 on the held-out letters of a LinearSVC over this segmenter's TF-IDF features."""
    from sklearn.metrics import f1_score
    from sklearn.svm import LinearSVC

    split, head = config["split"], config["heads"]["domain"]
    held_out = [in_test(x.group, split["test_size"], split["seed"]) for x in letters]
    train = [x for x, out in zip(letters, held_out, strict=True) if not out]
    test = [x for x, out in zip(letters, held_out, strict=True) if out]
    featurizer = make_featurizer(seg, **config["features"])
    x_train = featurizer.fit_transform([letter_text(x.title, x.text) for x in train])
    x_test = featurizer.transform([letter_text(x.title, x.text) for x in test])
    y_train, y_test = [x.domain for x in train], [x.domain for x in test]
    n_words = len(featurizer.word_terms_)

    def fit_score(a: Any, b: Any) -> tuple[float, list[str]]:
        svm = LinearSVC(C=head["C"], class_weight=head["class_weight"], random_state=0)
        predicted = [str(p) for p in svm.fit(a, y_train).predict(b)]
        return float(f1_score(y_test, predicted, average="macro")), predicted

    words_f1, _ = fit_score(x_train[:, :n_words], x_test[:, :n_words])
    both_f1, predictions = fit_score(x_train, x_test)
    return Scores(words_f1, both_f1, predictions, len(train), len(test), n_words)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    ap.add_argument("--repeat", type=int, default=3, help="timed passes per backend (best counts)")
    ap.add_argument("--output", type=Path, default=BENCHMARKS)
    ap.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    args = ap.parse_args(argv)

    letters = load_letters(args.data_dir)
    raw = [f"{x.title}\n{x.text}" for x in letters]
    texts = [compact(normalize(t))[0] for t in raw]
    chars = sum(len(t) for t in texts)
    entries = read_user_dict(DEFAULT_USER_DICT)
    config = load_config()

    import rjieba

    load: dict[str, float] = {}
    engines: dict[str, segment._Engine] = {}
    for backend in BACKENDS:
        start = time.process_time()
        engines[backend] = segment._ENGINES[backend](entries)
        load[backend] = time.process_time() - start
    bare = rjieba.Jieba()
    for word, freq, tag in entries:
        bare.add_word(word, freq, tag)

    # Cold: the rjieba backend's HMM memo is emptied before every pass, so no pass profits from an
    # earlier one. Warm: a second pass over the same letters right after.
    cuts: dict[str, Callable[[str], list[str]]] = {name: engine.cut for name, engine in engines.items()}
    built_in = "jieba-rs, built-in dictionary"
    cuts[built_in] = lambda text: list(bare.cut(text, True))
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
    # alone, which every backend pays.
    segmenters: dict[str, Segmenter] = {}
    public: dict[str, float] = {}
    for backend, engine in engines.items():
        seg = segmenters[backend] = Segmenter(backend=backend)
        seg._engine = engine
        segment._finalseg_cached.cache_clear()
        public[backend] = timed(seg, raw)[0]
    normalising = timed(lambda text: compact(normalize(text)), raw)[0]

    scores = {backend: domain_scores(seg, letters, config) for backend, seg in segmenters.items()}

    reference = words["jieba"]
    n = len(texts)
    speed_rows = []
    for name in cuts:
        same = sum(a == b for a, b in zip(reference, words[name], strict=True))
        speed_rows.append(
            (
                name,
                f"{n / best[name]:,.0f}",
                f"{chars / best[name]:,.0f}",
                f"{best['jieba'] / best[name]:.1f}",
                f"{same:,} / {n:,}",
            )
        )
    base = scores["jieba"]
    accuracy_rows = []
    for backend, s in scores.items():
        differ = sum(a != b for a, b in zip(base.predictions, s.predictions, strict=True))
        accuracy_rows.append(
            (
                backend,
                f"{s.words_f1:.4f}",
                f"{s.words_f1 - base.words_f1:+.4f}",
                f"{s.both_f1:.4f}",
                f"{s.both_f1 - base.both_f1:+.4f}",
                f"{s.word_terms:,}",
                f"{differ:,}",
            )
        )
    native = scores["rjieba-native"]
    worst = min(native.words_f1 - base.words_f1, native.both_f1 - base.both_f1)
    verdict = (
        f"rjieba-native is within {F1_TOLERANCE} macro-F1 of jieba's words (and so of the "
        f"token-identical rjieba backend) on both feature sets: worst difference {worst:+.4f}"
        if worst >= -F1_TOLERANCE
        else f"rjieba-native loses more than {F1_TOLERANCE} macro-F1 against jieba's words "
        f"(worst difference {worst:+.4f})"
    )
    split = config["split"]
    head = config["heads"]["domain"]
    lines = [
        f"{n:,} letters (title + text), {chars:,} characters after normalisation, user dictionary of "
        f"{len(entries)} entries; best of {args.repeat} alternating passes in CPU time "
        f"(`time.process_time`). jieba {version('jieba')}, rjieba {version('rjieba')}, {machine()}.",
        "",
        *markdown_table(
            ["engine", "letters / CPU-s", "chars / CPU-s", "× jieba", "letters with jieba's exact tokens"],
            speed_rows,
            "lrrrr",
        ),
        "",
        f"Domain head on each backend's words: `LinearSVC` (C={head['C']}, class_weight="
        f"{head['class_weight']!r}) over the shipped TF-IDF features, trained on {base.n_train:,} letters "
        f"and scored on the {base.n_test:,} held out by group (seed {split['seed']}, test_size "
        f"{split['test_size']}). Character 1-3-grams are the same for every backend.",
        "",
        *markdown_table(
            [
                "backend",
                "macro-F1, words",
                "Δ jieba",
                "macro-F1, words + chars",
                "Δ jieba",
                "word terms",
                "held-out letters predicted differently from jieba (words + chars)",
            ],
            accuracy_rows,
            "lrrrrrr",
        ),
        "",
        f"- {verdict}.",
        f"- rjieba backend with its HMM memo warm: {n / warm:,.0f} letters/s "
        f"({best['jieba'] / warm:.1f} × jieba).",
        "- End to end through `Segmenter`, normalisation included: "
        + ", ".join(f"{b} {n / public[b]:,.0f} letters/s" for b in public)
        + f" ({public['jieba'] / public['rjieba-native']:.1f} × jieba for rjieba-native, "
        f"{public['rjieba'] / public['rjieba-native']:.1f} × rjieba). `normalize` + `compact` alone run at "
        f"{n / normalising:,.0f} letters/s, about {normalising / public['rjieba-native']:.0%} of the "
        "rjieba-native path's time.",
        "- Building the engine (dictionary and user entries): "
        + ", ".join(f"{b} {load[b]:.2f} s" for b in load)
        + " (jieba from its cache file; both Rust backends load jieba's `dict.txt` word by word).",
        "- rjieba-native differs from jieba where jieba-rs does: it counts more code points as Chinese, "
        "its HMM carries probabilities rounded to six decimals, and it keeps Latin runs joined by `.`, "
        "`_` or `-` whole inside unknown words (baidu.com where jieba gives baidu/./com). The rjieba "
        "backend closes each of these in Python; see `classifier/segment.py`.",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        replace_section(args.output, SECTION, body)
        print(f"\nwrote the '{SECTION}' section of {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
