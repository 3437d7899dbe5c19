"""Benchmark of the core pipeline: accuracy of the final route proposal and speed of ``Router``.

Run from the project root::

    .venv/bin/python bench/core.py [--model models/default] [--data-dir ../shared/data] [--no-write]

Accuracy is measured on the group-held-out letters of the split recorded in the model's
``meta.json`` (rebuilt here and checked against its ``test_ids_hash``), through ``Router.propose_many``
(rules + model), beside two baselines measured in the same run: the training side's majority class
and a keyword table per head (:func:`keyword_tables`). Speed is measured on the same letters:
single-letter latency, batch throughput in one and in two worker processes, the share of each stage,
jieba against rjieba, and the model's load time and memory in a fresh process. It prints the tables
and replaces the ``## Core pipeline`` section of BENCHMARKS.md (other sections are left as they are).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import json
import multiprocessing
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    BENCHMARKS,
    SHARED_DATA,
    machine,
    markdown_table,
    memory_mb,
    replace_section,
)

SECTION = "## Core pipeline"
HEADS = ("category", "domain", "department", "channel")
TARGETS = {"domain_macro_f1": 0.92, "letters_per_s": 2000.0, "p99_ms": 20.0, "rule_recall": 0.9}

# -- the held-out letters ----------------------------------------------------------------------


def held_out(examples: Sequence[Any], split: Mapping[str, Any]) -> tuple[list[Any], list[Any], str]:
    """The training and held-out sides of the split ``meta.json`` records, checked by its id hash.

    The split is rebuilt with ``training.datasets.group_split``. Models trained before the split
    became a seeded hash of the group (no ``method`` in ``meta.json``) used scikit-learn's
    ``GroupShuffleSplit`` with the same seed; that split is rebuilt for them, so an older shipped
    model is still measured on exactly the letters it never saw.
    """
    from training.datasets import group_split

    want = split.get("test_ids_hash")
    size, seed = float(split["test_size"]), int(split["seed"])

    def digest(test: Sequence[Any]) -> tuple[str, str]:
        ids = [e.id for e in test]
        return (
            hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest(),
            hashlib.sha256("\n".join(ids).encode()).hexdigest(),
        )

    train, test = group_split(examples, size, seed)
    if want is None or want in digest(test):
        return train, test, str(split.get("method", "group split"))
    if "method" not in split:
        import numpy as np
        from sklearn.model_selection import GroupShuffleSplit

        groups = np.array([e.group for e in examples])
        splitter = GroupShuffleSplit(n_splits=1, test_size=size, random_state=seed)
        train_idx, test_idx = next(splitter.split(np.zeros(len(examples)), groups=groups))
        train = [examples[i] for i in sorted(train_idx)]
        test = [examples[i] for i in sorted(test_idx)]
        if want in digest(test):
            return train, test, "GroupShuffleSplit (the model predates the group-hash split)"
    raise SystemExit(
        f"the model's meta.json records a held-out set with test_ids_hash {want[:12]}…, and neither the "
        "current group split nor the older GroupShuffleSplit with the same seed and test_size gives it. "
        "Retrain the model with this code (xinfang train) or benchmark it from the commit that trained it."
    )


# -- baselines ---------------------------------------------------------------------------------

#: Which issue domain (the 涉及领域 of messages.csv) each department's duties belong to; the
#: domain keyword table takes the duty words of these departments.
DEPARTMENT_DOMAIN = {
    "housing": "城乡建设",
    "natural_resources": "城乡建设",
    "urban_management": "城乡建设",
    "utilities": "城乡建设",
    "housing_fund": "城乡建设",
    "ecology_environment": "环境保护",
    "transport": "交通运输",
    "education": "教育文体",
    "sports": "教育文体",
    "hr_social_security": "劳动和社会保障",
    "civil_affairs": "劳动和社会保障",
    "medical_security": "劳动和社会保障",
    "veterans": "劳动和社会保障",
    "culture_tourism": "商贸旅游",
    "market_regulation": "商贸旅游",
    "commerce": "商贸旅游",
    "health": "卫生计生",
}

#: A few everyday cue words per label, beside the duty words of data/departments.yaml.
CUES: dict[str, dict[str, tuple[str, ...]]] = {
    "domain": {
        "城乡建设": ("物业", "小区", "房屋", "拆迁", "规划", "违建", "装修"),
        "环境保护": ("污染", "噪音", "环保", "排放", "异味"),
        "交通运输": ("公交", "道路", "交通", "出租车", "高速"),
        "教育文体": ("学校", "学生", "老师", "教师", "幼儿园", "教育", "文化"),
        "劳动和社会保障": ("工资", "社保", "养老", "劳动", "就业", "退休"),
        "商贸旅游": ("旅游", "商家", "消费", "价格", "超市", "景区"),
        "卫生计生": ("医院", "医生", "卫生", "生育", "疫苗", "患者"),
    },
    "category": {
        "accusation": (
            "贪污",
            "受贿",
            "挪用",
            "截留",
            "克扣",
            "腐败",
            "违纪",
            "滥用职权",
            "村支书",
            "村干部",
            "举报",
        ),
        "suggestion": ("建议", "提议", "希望", "意见"),
        "appeal": ("投诉", "解决", "要求", "请求"),
    },
    "channel": {
        "litigation": ("法院", "起诉", "判决", "诉讼", "立案", "强制执行"),
        "arbitration": ("仲裁", "劳动合同", "辞退", "解除合同"),
        "administrative_review": ("行政复议", "行政诉讼", "处罚决定", "征收决定", "工伤认定", "罚款"),
        "discipline": ("贪污", "受贿", "挪用", "截留", "克扣", "腐败", "违纪", "滥用职权"),
        "personnel_appeal": ("处分", "党员申诉", "人事申诉"),
        "duty_request": ("查处", "整治", "违法", "违规", "投诉", "举报"),
        "suggestion": ("建议", "提议"),
    },
}


def duty_words(duties: str) -> list[str]:
    """The words of a statement of duties: split at 、，和, words of two characters or more."""
    for sep in "，和":
        duties = duties.replace(sep, "、")
    return [w.strip() for w in duties.split("、") if len(w.strip()) >= 2]


def keyword_tables(catalogue: Any) -> dict[str, dict[str, tuple[str, ...]]]:
    """The keyword -> label table of each head.

    - ``department``: each department's duty words from ``data/departments.yaml``;
    - ``domain``: the duty words of the departments of that domain (:data:`DEPARTMENT_DOMAIN`) plus
      the cue words of :data:`CUES`;
    - ``category`` and ``channel``: the cue words of :data:`CUES` (``ordinary`` has none: it is
      what is left).
    """
    tables: dict[str, dict[str, list[str]]] = {h: {} for h in HEADS}
    for d in catalogue.departments:
        words = duty_words(d.duties)
        tables["department"][d.code] = words
        if d.code in DEPARTMENT_DOMAIN:
            tables["domain"].setdefault(DEPARTMENT_DOMAIN[d.code], []).extend(words)
    for head, cues in CUES.items():
        for label, cue_words in cues.items():
            tables[head].setdefault(label, []).extend(cue_words)
    return {h: {label: tuple(dict.fromkeys(ws)) for label, ws in t.items()} for h, t in tables.items()}


@dataclass
class Ranker:
    """Ranks the labels of one head for a letter; what both baselines are.

    A label's score is how many times its keywords occur in the normalised letter; labels with
    the same score (all of them, for a letter without any keyword) keep the order of their
    frequency on the training side. With no keywords this is the majority-class baseline.
    """

    prior: list[str]  # labels, most frequent on the training side first
    keywords: Mapping[str, tuple[str, ...]]

    def rank(self, text: str) -> list[str]:
        score = {label: sum(text.count(w) for w in self.keywords.get(label, ())) for label in self.prior}
        return sorted(self.prior, key=lambda label: -score[label])  # sorted is stable: ties by prior


def prior(train: Sequence[Any], head: str, labels: Sequence[str]) -> list[str]:
    counts = Counter(e.label(head) for e in train if e.label(head) is not None)
    return sorted(labels, key=lambda label: (-counts[label], label))


# -- accuracy ----------------------------------------------------------------------------------


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    from training.metrics import classification_metrics

    return float(classification_metrics(list(gold), list(pred))["macro_f1"])


def accuracy(router: Any, train: Sequence[Any], test: Sequence[Any], catalogue: Any) -> dict[str, Any]:
    """Every accuracy number of the section: final proposal, model heads, both baselines."""
    from classifier.features import preprocess
    from routing.codes import DOMAINS, Category, Channel
    from routing.schemas import Letter
    from training.rule_eval import TARGET_CHANNELS, LabelledLetter, evaluate_rules, load_annotated

    proposals = router.propose_many([Letter(id=e.id, title=e.title, text=e.text) for e in test])
    texts = [preprocess(e.full_text) for e in test]
    labels = {
        "category": [c.value for c in Category],
        "domain": list(DOMAINS),
        "department": list(catalogue.codes),
        "channel": [c.value for c in Channel],
    }
    tables = keyword_tables(catalogue)
    baselines = {
        name: {h: Ranker(prior(train, h, labels[h]), tables[h] if name == "keywords" else {}) for h in HEADS}
        for name in ("majority", "keywords")
    }
    ranked = {
        name: {h: [r.rank(t) for t in texts] for h, r in heads.items()} for name, heads in baselines.items()
    }

    def rows(head: str) -> list[int]:
        return [i for i, e in enumerate(test) if e.label(head) is not None]

    def implied_category(channel: str) -> str:
        # The class the final route treats the letter as: discipline handles accusations,
        # suggestions are answered as such, every other route handles an appeal.
        return {"discipline": "accusation", "suggestion": "suggestion"}.get(channel, "appeal")

    out: dict[str, Any] = {"n": {h: len(rows(h)) for h in HEADS}, "table": []}
    for head in HEADS:
        idx = rows(head)
        gold = [str(test[i].label(head)) for i in idx]
        final = [getattr(proposals[i], head) for i in idx]
        final_top1 = [p if isinstance(p, str) else p.label for p in final]
        entry: dict[str, Any] = {"head": head, "n": len(idx)}
        entry["final"] = macro_f1(gold, final_top1)
        entry["final_acc"] = statistics.mean(g == p for g, p in zip(gold, final_top1, strict=True))
        for name in ("majority", "keywords"):
            pred = [ranked[name][head][i][0] for i in idx]
            entry[name] = macro_f1(gold, pred)
            entry[f"{name}_acc"] = statistics.mean(g == p for g, p in zip(gold, pred, strict=True))
            entry[f"{name}_top3"] = statistics.mean(
                g in ranked[name][head][i][:3] for g, i in zip(gold, idx, strict=True)
            )
        if head != "channel":
            tops = [[s.code for s in getattr(proposals[i], head).top] for i in idx]
            entry["head_top1"] = [t[0] for t in tops]
            entry["final_top3"] = statistics.mean(g in t for g, t in zip(gold, tops, strict=True))
            entry["head_f1"] = macro_f1(gold, entry["head_top1"])
            entry["head_acc"] = statistics.mean(g == t[0] for g, t in zip(gold, tops, strict=True))
        if head == "category":
            implied = [implied_category(proposals[i].channel) for i in idx]
            entry["route_f1"] = macro_f1(gold, implied)
            entry["route_acc"] = statistics.mean(g == p for g, p in zip(gold, implied, strict=True))
            entry["per_class"] = {
                c: (f1_of(gold, entry["head_top1"], c), f1_of(gold, implied, c)) for c in labels["category"]
            }
        if head == "channel":
            entry["per_class"] = {c: pr_of(gold, final_top1, c) for c in labels["channel"]}
        out[head] = entry
    # The rule layer on the same held-out letters and on every annotated letter (bench/rules.py
    # publishes the full per-rule table; only the recall of the target channels is repeated here).
    idx = rows("channel")
    held = [
        LabelledLetter(
            letter=Letter(id=test[i].id, title=test[i].title, text=test[i].text), channel=str(test[i].channel)
        )
        for i in idx
    ]
    out["rules_held"] = evaluate_rules(router.rulebook, held)
    out["rules_all"] = evaluate_rules(router.rulebook, load_annotated(ROOT_DATA[0]))
    out["targets"] = TARGET_CHANNELS
    out["confidential"] = {
        "accusations": sum(1 for i in rows("category") if test[i].category == "accusation"),
        "accusations_confidential": sum(
            1 for i in rows("category") if test[i].category == "accusation" and proposals[i].confidential
        ),
        "needs_review": sum(p.needs_review for p in proposals) / len(proposals),
    }
    return out


ROOT_DATA: list[Path] = [SHARED_DATA]  # set from --data-dir in main()


def f1_of(gold: Sequence[str], pred: Sequence[str], label: str) -> float:
    p, r = pr_of(gold, pred, label)
    return 2 * p * r / (p + r) if p + r else 0.0


def pr_of(gold: Sequence[str], pred: Sequence[str], label: str) -> tuple[float, float]:
    tp = sum(g == p == label for g, p in zip(gold, pred, strict=True))
    n_pred, n_gold = sum(p == label for p in pred), sum(g == label for g in gold)
    return (tp / n_pred if n_pred else 0.0, tp / n_gold if n_gold else 0.0)


# -- speed -------------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency(router: Any, letters: Sequence[Any]) -> dict[str, float]:
    """One ``Router.propose`` per letter, warm: wall and CPU milliseconds per letter."""
    for letter in letters[:20]:
        router.propose(letter)
    wall, cpu = [], []
    for letter in letters:
        w, c = time.perf_counter(), time.thread_time()
        router.propose(letter)
        cpu.append(1000 * (time.thread_time() - c))
        wall.append(1000 * (time.perf_counter() - w))
    return {
        "n": len(letters),
        "p50_ms": pct(wall, 0.5),
        "p99_ms": pct(wall, 0.99),
        "max_ms": max(wall),
        "cpu_p50_ms": pct(cpu, 0.5),
        "cpu_p99_ms": pct(cpu, 0.99),
    }


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def throughput(router: Any, letters: Sequence[Any], batch_size: int, repeat: int) -> dict[str, float]:
    """``propose_many`` over all letters in batches; the best of ``repeat`` passes counts.

    Each round times one pass with the garbage collector as Python starts it and one after
    ``gc.freeze()`` (everything alive so far, the loaded Router included, moved out of the
    collector's scans), so the cost of collecting is measured beside the pipeline's own.
    """
    best = {mode: [float("inf"), float("inf")] for mode in ("default", "frozen")}
    for _ in range(repeat):
        for mode, (wall, cpu) in best.items():
            if mode == "frozen":
                gc.collect()
                gc.freeze()
            try:
                w, c = time.perf_counter(), time.process_time()
                for chunk in batches(letters, batch_size):
                    router.propose_many(chunk)
                best[mode] = [min(wall, time.perf_counter() - w), min(cpu, time.process_time() - c)]
            finally:
                if mode == "frozen":
                    gc.unfreeze()
    n = len(letters)
    return {
        "letters_per_s": n / best["default"][0],
        "letters_per_cpu_s": n / best["default"][1],
        "frozen_letters_per_s": n / best["frozen"][0],
        "frozen_letters_per_cpu_s": n / best["frozen"][1],
    }


_WORKER: dict[str, Any] = {}


def _worker_init(model_dir: str) -> None:
    from routing.router import Router

    _WORKER["router"] = Router.load(Path(model_dir))


def _worker_route(rows: Sequence[tuple[str, str, str]]) -> tuple[list[str], float]:
    """Route a chunk in a worker; JSON lines back, as batch routing writes them, and CPU seconds."""
    from routing.schemas import Letter

    c = time.process_time()
    proposals = _WORKER["router"].propose_many([Letter(id=i, title=t, text=x) for i, t, x in rows])
    lines = [json.dumps(p.summary(), ensure_ascii=False) for p in proposals]
    return lines, time.process_time() - c


def _worker_warm(rows: Sequence[tuple[str, str, str]]) -> float:
    _worker_route(rows)
    time.sleep(1.0)  # so every worker of the pool takes one warm-up chunk
    return memory_mb()["rss_mb"]


def processes(
    model_dir: Path, letters: Sequence[Any], counts: Sequence[int], chunk: int, repeat: int
) -> dict[int, dict[str, float]]:
    """Throughput of pools of ``counts`` worker processes, each worker with its own Router.

    All pools are started (and every worker loaded and warmed) before any timing, and the timed
    passes alternate between the pools, so a burst of load from other work on the shared machine
    hits each of them alike. Letters go out in chunks of ``chunk`` so that the workers share the
    pass evenly; each returns the JSON lines batch routing writes.
    """
    rows = [(x.id, x.title, x.text) for x in letters]
    ctx = multiprocessing.get_context("spawn")
    pools = {
        n: ProcessPoolExecutor(n, mp_context=ctx, initializer=_worker_init, initargs=(str(model_dir),))
        for n in counts
    }
    out: dict[int, dict[str, float]] = {}
    try:
        rss = {n: list(pool.map(_worker_warm, [rows[:50]] * n)) for n, pool in pools.items()}
        best = dict.fromkeys(pools, float("inf"))
        cpu = dict.fromkeys(pools, 0.0)
        for _ in range(repeat):
            for n, pool in pools.items():
                start = time.perf_counter()
                results = list(pool.map(_worker_route, list(batches(rows, chunk))))
                seconds = time.perf_counter() - start
                if sum(len(r[0]) for r in results) != len(rows):
                    raise RuntimeError(f"{n} worker(s) returned fewer proposals than letters")
                if seconds < best[n]:
                    best[n], cpu[n] = seconds, sum(r[1] for r in results)
        for n in pools:
            out[n] = {
                "letters_per_s": len(rows) / best[n],
                "letters_per_cpu_s": len(rows) / cpu[n],
                "wall_s": best[n],
                "worker_rss_mb": max(rss[n]),
            }
    finally:
        for pool in pools.values():
            pool.shutdown()
    return out


STAGES = (
    ("normalise", "the title and text normalised once, for the features, the facts and the rules"),
    ("segmentation", "jieba's words of the normalised letter and of its title (the shipped backend)"),
    ("char n-grams", "compact the letter and its title, character n-grams"),
    ("tf-idf matrix", "vocabulary look-up, sublinear tf × idf, CSR rows (the letter's and the title's)"),
    ("heads", "four calibrated linear heads (predict_proba)"),
    ("facts", "the fact layer: sentences, their character n-grams, the detectors, the spans"),
    ("rules", "the rulebook over title and text"),
    ("evidence", "each head's strongest features for its choice"),
    ("proposal", "input checks and RouteProposal assembly"),
    ("other", "clipping, letter text, probability dicts, loop"),
)


class _TimedSegmenter:
    """Stands in for the featurizer's segmenter and adds up the time spent in it."""

    def __init__(self, segmenter: Any, clock: Callable[[], float], acc: dict[str, float]) -> None:
        self._segmenter, self._clock, self._acc = segmenter, clock, acc

    def __call__(self, text: str) -> list[str]:
        start = self._clock()
        words: list[str] = self._segmenter(text)
        self._acc["segmentation"] += self._clock() - start
        return words

    def cut_compacted(self, compacted: str) -> list[str]:
        start = self._clock()
        words: list[str] = self._segmenter.cut_compacted(compacted)
        self._acc["segmentation"] += self._clock() - start
        return words

    def __getattr__(self, name: str) -> Any:
        return getattr(self._segmenter, name)


@contextmanager
def _timers(router: Any, acc: dict[str, float], clock: Callable[[], float]) -> Iterator[None]:
    """Wrap each stage of ``Router.propose_many`` with a timer, on this router only, then undo it."""
    import routing.router as router_module

    model, featurizer = router.model, router.model.featurizer

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                acc[name] += clock() - start

        return wrapper

    patched: list[tuple[Any, str, Any, bool]] = []

    def patch(owner: Any, attr: str, name: str) -> None:
        if not hasattr(owner, attr):
            return
        own = attr in vars(owner)  # a module's function or an instance attribute, not a method
        patched.append((owner, attr, getattr(owner, attr), own))
        setattr(owner, attr, timed(name, getattr(owner, attr)))

    patch(model, "transform", "_transform")
    patch(model, "transform_letters", "_transform")
    patch(router_module, "normalize", "normalise")
    if model.facts is not None:
        patch(model.facts, "detect", "facts")
    patch(featurizer, "_matrix", "tf-idf matrix")
    patch(model, "predict_heads", "heads")
    patch(model, "strongest_features", "evidence")
    patch(model, "strongest_features_many", "evidence")
    patch(router_module, "match_rules_many", "rules")
    patch(router_module, "propose", "proposal")
    patch(router_module, "input_problems", "proposal")
    for name in ("_evidence", "_evidence_many"):  # the router's own evidence code, if it has one
        patch(router, name, "evidence")
    segmenter = featurizer.segmenter
    featurizer.segmenter = _TimedSegmenter(segmenter, clock, acc)
    try:
        yield
    finally:
        featurizer.segmenter = segmenter
        for owner, attr, original, own in reversed(patched):
            if own:
                setattr(owner, attr, original)
            else:
                delattr(owner, attr)


def stage_shares(router: Any, letters: Sequence[Any], batch_size: int) -> dict[str, float]:
    """CPU seconds per letter in each stage of one batch pass, by timers around each stage's function.

    The segmenter is called through the featurizer, the n-grams are what is left of the
    featurizer's time after segmentation and the matrix; "other" is what is left of the pass.
    """
    acc: dict[str, float] = dict.fromkeys(("_transform", *(name for name, _ in STAGES)), 0.0)
    # CPU time of this thread: what other processes on the shared cores do does not land in a stage.
    clock = time.thread_time
    with _timers(router, acc, clock):
        start = clock()
        for chunk in batches(letters, batch_size):
            router.propose_many(chunk)
        total = clock() - start
    acc["char n-grams"] = acc.pop("_transform") - acc["segmentation"] - acc["tf-idf matrix"]
    acc["other"] = total - sum(acc.values())
    return {name: acc[name] / len(letters) for name, _ in STAGES} | {"total": total / len(letters)}


def profile(router: Any, letters: Sequence[Any], batch_size: int, top: int = 25) -> str:
    """cProfile of one batch pass, the functions with the most time of their own."""
    prof = cProfile.Profile()
    prof.enable()
    for chunk in batches(letters, batch_size):
        router.propose_many(chunk)
    prof.disable()
    buffer = io.StringIO()
    pstats.Stats(prof, stream=buffer).sort_stats("tottime").print_stats(top)
    return buffer.getvalue()


def backends(router: Any, letters: Sequence[Any], batch_size: int, repeat: int) -> dict[str, Any]:
    """The same batch passes with the rjieba and the jieba segmenter, alternating, in CPU time.

    Also checks that both give the same proposals, so the ratio compares equal work. Both run with
    the collector frozen (``gc.freeze()``) after the two engines are built.
    """
    from classifier.segment import Segmenter

    featurizer = router.model.featurizer
    shipped = featurizer.segmenter
    segmenters = {}
    for backend in ("rjieba", "jieba"):
        seg = Segmenter(user_dict=None, backend=backend)
        seg.entries = shipped.entries
        seg("预热")  # build the engine outside the timing
        segmenters[backend] = seg
    best = dict.fromkeys(segmenters, float("inf"))
    outputs: dict[str, list[str]] = {}
    # jieba's tokenizer holds dictionaries of some 350,000 entries that every full collection would
    # walk during the rjieba passes too; frozen, each pass pays for its own segmenter only.
    gc.collect()
    gc.freeze()
    try:
        for _ in range(repeat):
            for backend, seg in segmenters.items():
                featurizer.segmenter = seg
                start = time.process_time()
                out = [p for chunk in batches(letters, batch_size) for p in router.propose_many(chunk)]
                best[backend] = min(best[backend], time.process_time() - start)
                outputs[backend] = [p.model_dump_json() for p in out]
    finally:
        featurizer.segmenter = shipped
        gc.unfreeze()
    return {
        "shipped": shipped.backend,
        "letters_per_cpu_s": {b: len(letters) / s for b, s in best.items()},
        "ratio": best["jieba"] / best["rjieba"],
        "identical": outputs["jieba"] == outputs["rjieba"],
    }


def load_in_child(model_dir: Path, letters: Sequence[Any]) -> dict[str, float]:
    """Import, load and first use of the Router in a fresh process, with its memory."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for x in letters:
            f.write(json.dumps({"id": x.id, "title": x.title, "text": x.text}, ensure_ascii=False) + "\n")
    try:
        result = subprocess.run(
            [sys.executable, __file__, "--child-load", str(model_dir), f.name],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(f.name).unlink()
    values: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return values


def _child_load(model_dir: Path, letters_file: Path) -> None:
    out: dict[str, float] = {"rss_start_mb": memory_mb()["rss_mb"]}
    start = time.perf_counter()
    from routing.router import Router
    from routing.schemas import Letter

    out["import_s"] = time.perf_counter() - start
    out["rss_imported_mb"] = memory_mb()["rss_mb"]
    start = time.perf_counter()
    router = Router.load(model_dir)
    out["load_s"] = time.perf_counter() - start
    out["rss_loaded_mb"] = memory_mb()["rss_mb"]
    rows = [json.loads(line) for line in letters_file.read_text(encoding="utf-8").splitlines()]
    letters = [Letter(**row) for row in rows]
    start = time.perf_counter()
    router.propose(letters[0])
    out["first_s"] = time.perf_counter() - start
    out["rss_first_mb"] = memory_mb()["rss_mb"]
    for chunk in batches(letters, 256):
        router.propose_many(chunk)
    out |= {"rss_after_mb": memory_mb()["rss_mb"], "peak_mb": memory_mb()["peak_rss_mb"]}
    print(json.dumps(out))


# -- report ------------------------------------------------------------------------------------


def met(ok: bool) -> str:
    return "met" if ok else "not met"


def cue_summary() -> str:
    """The cue words of :data:`CUES` as one line, so the section states the table it measured."""
    parts = []
    for head in ("category", "channel"):
        cues = "; ".join(f"{label} {'/'.join(words)}" for label, words in CUES[head].items())
        parts.append(f"{head}: {cues}")
    domain = "; ".join(f"{label} {'/'.join(words)}" for label, words in CUES["domain"].items())
    return " — ".join(parts) + f" — domain cue words: {domain}"


def render(
    *,
    model_dir: Path,
    meta: Mapping[str, Any],
    split_how: str,
    n_test: int,
    acc: Mapping[str, Any],
    lat: Mapping[str, float],
    batch: Mapping[str, float],
    procs: Mapping[int, Mapping[str, float]],
    shares: Mapping[str, float],
    back: Mapping[str, Any],
    load: Mapping[str, float],
    batch_size: int,
    chunk: int,
    started_load: float,
) -> str:
    f2, f3 = "{:.2f}".format, "{:.3f}".format
    rows = []
    names = {
        "domain": "domain macro-F1",
        "category": "category macro-F1",
        "channel": "channel macro-F1",
    }
    for head in ("domain", "category", "channel"):
        e = acc[head]
        rows.append([names[head], e["n"], f3(e["final"]), f3(e["majority"]), f3(e["keywords"])])
    d = acc["department"]
    rows.append(
        [
            "department accuracy top-1",
            d["n"],
            f3(d["final_acc"]),
            f3(d["majority_acc"]),
            f3(d["keywords_acc"]),
        ]
    )
    rows.append(
        [
            "department accuracy top-3",
            d["n"],
            f3(d["final_top3"]),
            f3(d["majority_top3"]),
            f3(d["keywords_top3"]),
        ]
    )
    c = acc["category"]
    dom = acc["domain"]
    target = TARGETS["domain_macro_f1"]
    lines = [
        f"Model `{model_dir.relative_to(ROOT) if model_dir.is_relative_to(ROOT) else model_dir}` "
        f"(version `{meta.get('version')}`, trained {meta.get('trained_at')}), rulebook "
        f"`{acc['rules_held'].rulebook_version}`, measured by `bench/core.py` on the {n_test:,} "
        f"group-held-out letters of the split in its `meta.json` (seed {meta['split']['seed']}, test_size "
        f"{meta['split']['test_size']}, {split_how}; test ids hash checked), of which "
        f"{acc['n']['category']} carry annotations (category, department, channel). Every number "
        "comes from `Router.propose_many`, the one code path of the API, the CLI and batch triage. "
        f"{machine()}.",
        "",
        "### Accuracy of the final proposal against baselines",
        "",
        *markdown_table(
            ["measure", "letters", "proposal (rules + model)", "majority class", "keywords"],
            rows,
            "lrrrr",
        ),
        "",
        f"- Domain macro-F1 {dom['final']:.4f} against the goal ≥ {target:.2f}: "
        f"{'met' if dom['final'] >= target else 'not met'} (accuracy {dom['final_acc']:.3f}).",
        f"- Category: the proposal's `category` is the model head's top-1 (macro-F1 {c['head_f1']:.3f}, "
        f"accuracy {c['head_acc']:.3f}); the rules never change it. The class the final *route* treats "
        f"the letter as (discipline → accusation, suggestion → suggestion, any other channel → appeal) "
        f"scores macro-F1 {c['route_f1']:.3f} (accuracy {c['route_acc']:.3f}). Per class, head → route "
        "F1: " + ", ".join(f"{k} {a:.2f} → {b:.2f}" for k, (a, b) in c["per_class"].items()) + ".",
        f"- Department: top-1 of the final proposal {d['final_acc']:.3f} (the model head's own top-1 "
        f"{d['head_acc']:.3f}; a confidential letter is routed to the discipline body whatever the head "
        f"says), top-3 {d['final_top3']:.3f} (the `department_top` list the proposal ships).",
        f"- Confidentiality: {acc['confidential']['accusations_confidential']}/"
        f"{acc['confidential']['accusations']} annotated accusations came out `confidential`. "
        f"{acc['confidential']['needs_review']:.0%} of the held-out proposals ask for review.",
        "- Baselines, measured in the same run on the same letters. *Majority class*: the most frequent "
        "label of the training side (top-3: the three most frequent). *Keywords*: for each head a table "
        "keyword → label, and a letter gets the label whose keywords occur most often in its normalised "
        "title + text (ties and letters without any keyword fall back to the training-side frequency "
        "order). Department keywords are the duty words of `data/departments.yaml` (duties split at 、，和, "
        "two characters or more); domain keywords are the duty words of the departments of each domain "
        "(`DEPARTMENT_DOMAIN`) plus a few cue words; the category and channel tables are cue words only "
        f"({cue_summary()}). The tables are `keyword_tables` in `bench/core.py`.",
        "",
        "### Channels: the rule layer and the final proposal",
        "",
    ]
    held, every = acc["rules_held"], acc["rules_all"]
    goal = TARGETS["rule_recall"]
    ch_rows = []
    for ch, (p, r) in acc["channel"]["per_class"].items():
        rs = held.channels[ch]
        ra = every.channels[ch]
        mark = " *" if ch in acc["targets"] else ""
        ch_rows.append(
            [
                f"{ch}{mark}",
                rs.support,
                f2(rs.precision),
                f2(rs.recall),
                f2(p),
                f2(r),
                ra.support,
                f2(ra.precision),
                f2(ra.recall),
            ]
        )
    lines += [
        *markdown_table(
            [
                "channel",
                "held-out letters",
                "rules P",
                "rules R",
                "proposal P",
                "proposal R",
                "all annotated",
                "rules P (all)",
                "rules R (all)",
            ],
            ch_rows,
            "lrrrrrrrr",
        ),
        "",
        "`*` = recall goal ≥ 0.9 for the rule layer. *Rules* = the channel of the highest-priority "
        "channel rule that fired (`training.rule_eval.evaluate_rules`, no prediction where none fires); "
        "*proposal* = the final channel (rules, then category, then the channel head). The full per-rule "
        "table and the rules' tune/held-out folds are in *Rule layer* (`bench/rules.py`). Rule-layer "
        "recall on all annotated letters: "
        + ", ".join(
            f"{ch} {every.channels[ch].recall:.2f} ({met(every.channels[ch].recall >= goal)})"
            for ch in acc["targets"]
        )
        + "; the final proposal's recall on the held-out letters: "
        + ", ".join(f"{ch} {acc['channel']['per_class'][ch][1]:.2f}" for ch in acc["targets"])
        + ".",
        "",
        "### Speed",
        "",
    ]
    one = procs.get(1, {})
    two = procs.get(2, {})
    speed_rows = [
        [
            "latency, one letter (`propose`, warm), p50",
            f"{lat['p50_ms']:.2f} ms",
            f"CPU {lat['cpu_p50_ms']:.2f} ms",
        ],
        [
            "latency, one letter, p99",
            f"{lat['p99_ms']:.2f} ms (goal ≤ {TARGETS['p99_ms']:.0f})",
            f"CPU {lat['cpu_p99_ms']:.2f} ms; max wall {lat['max_ms']:.1f} ms",
        ],
        [
            f"batch, one process (`propose_many`, batches of {batch_size})",
            f"{batch['letters_per_s']:,.0f} letters/s",
            f"{batch['letters_per_cpu_s']:,.0f} letters per CPU-second",
        ],
        [
            "same, after `gc.freeze()`",
            f"{batch['frozen_letters_per_s']:,.0f} letters/s",
            f"{batch['frozen_letters_per_cpu_s']:,.0f} letters per CPU-second "
            f"({batch['frozen_letters_per_cpu_s'] / batch['letters_per_cpu_s']:.2f} × in CPU time)",
        ],
    ]
    if one:
        speed_rows.append(
            [
                f"batch, 1 worker process (chunks of {chunk}, JSON lines back)",
                f"{one['letters_per_s']:,.0f} letters/s",
                f"{one['letters_per_cpu_s']:,.0f} letters per worker CPU-second; baseline of the next row",
            ]
        )
    if two:
        speed_rows.append(
            [
                "batch, 2 worker processes",
                f"{two['letters_per_s']:,.0f} letters/s (goal ≥ {TARGETS['letters_per_s']:,.0f})",
                (f"{two['letters_per_s'] / one['letters_per_s']:.2f} × 1 process; " if one else "")
                + f"{two['letters_per_cpu_s']:,.0f} letters per worker CPU-second",
            ]
        )
    lpc = back["letters_per_cpu_s"]
    speed_rows += [
        [
            "segmenter backend, batch pass in CPU time (after `gc.freeze()`)",
            f"rjieba {lpc['rjieba']:,.0f} / jieba {lpc['jieba']:,.0f} letters per CPU-second",
            f"{back['ratio']:.2f} × (shipped: {back['shipped']}; "
            f"same proposals: {'yes' if back['identical'] else 'NO'})",
        ],
        [
            "model load (`Router.load`, fresh process)",
            f"{load['load_s']:.2f} s",
            f"imports {load['import_s']:.2f} s; first letter (builds the segmenter) {load['first_s']:.2f} s",
        ],
        [
            "resident memory",
            f"{load['rss_loaded_mb']:.0f} MB after load",
            f"{load['rss_imported_mb']:.0f} MB after imports; {load['rss_after_mb']:.0f} MB after the "
            f"held-out letters; peak {load['peak_mb']:.0f} MB",
        ],
    ]
    lines += markdown_table(["measure", "value", "beside it"], speed_rows, "lrl")
    total = shares["total"]
    share_rows = [
        [name, f"{1000 * shares[name]:.3f}", f"{shares[name] / total:.0%}", what] for name, what in STAGES
    ]
    share_rows.append(["total", f"{1000 * total:.3f}", "100%", f"one pass, batches of {batch_size}"])
    fastest = max([batch["letters_per_s"], *(p["letters_per_s"] for p in procs.values())])
    ceiling = 2 * batch["letters_per_cpu_s"]
    lines += [
        "",
        f"Where the time of a batch goes (CPU ms per letter, timers around each stage's function in one "
        f"pass over the {n_test:,} letters):",
        "",
        *markdown_table(["stage", "ms/letter", "share", "what"], share_rows, "lrrl"),
        "",
        f"Wall-clock numbers depend on what else runs on the 2 shared cores (load average "
        f"{started_load:.1f} at the start of the run); CPU-time figures and ratios measured in the same run "
        "are the comparable ones. Latency is per letter over all held-out letters; throughput is the best "
        "of the passes. Worker processes use `spawn`, each loads its own Router before timing starts, and "
        "the timed passes alternate between the pools.",
        "",
        f"Goals: p99 ≤ {TARGETS['p99_ms']:.0f} ms per letter "
        f"{met(lat['p99_ms'] <= TARGETS['p99_ms'])} in wall time ({lat['p99_ms']:.1f} ms), "
        f"{met(lat['cpu_p99_ms'] <= TARGETS['p99_ms'])} in CPU time ({lat['cpu_p99_ms']:.1f} ms); "
        f"≥ {TARGETS['letters_per_s']:,.0f} letters/s in batch {met(fastest >= TARGETS['letters_per_s'])} "
        f"({fastest:,.0f} letters/s at best). At {batch['letters_per_cpu_s']:,.0f} letters per CPU-second, "
        f"two idle cores would give at most about {ceiling:,.0f} letters/s"
        + (
            ", so the batch goal is out of reach on this machine even without other load; the stage "
            "table says where the time goes."
            if ceiling < TARGETS["letters_per_s"]
            else "."
        ),
        "",
        FINDINGS,
    ]
    return "\n".join(lines)


#: What profiling found and what was changed, with the numbers measured at the time (same machine,
#: same held-out letters, CPU time of one process; the machine's load average was 5–9 throughout).
FINDINGS = """**Profile and changes.** Before the changes below, a batch pass ran at 377 letters per
CPU-second (2.65 ms per letter) and one letter through `propose` took 13.3 ms of CPU, 10 ms of it
in the four heads. What cProfile and the stage timers showed, and what was done about it:

- *Heads, single letters.* `CalibratedClassifierCV.predict_proba` validates its input again in the
  linear model and once per class calibrator (47 over the four heads, through `check_array` and
  narwhals' dataframe checks): about 10 ms per call whatever the batch size. `LetterClassifier`
  now computes the same sigmoid calibration itself and accepts the featurizer's finite float CSR of
  the fitted width without re-validation; the probabilities are bitwise scikit-learn's
  (`tests/classifier/test_calibrated_proba.py`). Four heads now cost about 0.5 ms for one letter.
- *Evidence.* Each letter's row was sliced out of the CSR matrix with scipy (about 0.3 ms per
  letter) and each head looked its weights up per letter; `TriageModel.strongest_features_many`
  reads rows straight from the CSR arrays and fetches each head's weight rows once per batch
  (`tests/classifier/test_evidence.py`). Co-occurring n-grams get identical weights, so exact
  ties happen; they are ordered by column, which lets a partial sort pick the same evidence a
  full sort would (below).
- *Scores.* Validating the router's own probability mapping (`Scores`, nested `Mapping`s) cost
  about 0.14 ms per letter; the router builds it with `model_construct` from the model's arrays.
- *Normalising twice.* The segmenter normalised and compacted the letter again after the
  character n-grams had done so; `Segmenter.cut_compacted` takes the compacted text
  (`tests/classifier/test_featurize_once.py`).
- *Garbage collection.* About a sixth of a batch's CPU time went to Python's cyclic collector,
  most of it inside proposal assembly (each letter allocates a few hundred containers and pydantic
  objects, and every full collection walks everything alive, the loaded model included): with the
  held-out proposals kept alive, 1.56 ms per letter with the collector as it starts, 1.34 ms after
  `gc.freeze()`, 1.26 ms with it disabled. The table above measures the frozen case beside the
  default in every run. The pipeline does not change a process-wide setting itself; a long-running
  process (the API, `xinfang route --jsonl`, batch workers) can call `gc.freeze()` once after
  `Router.load`.
- *Tried and left out.* `model_construct` for the proposal's own parts (`LabelScore`,
  `FeatureWeight`, `RouteProposal`): slower than validating them in pydantic-core 2.14
  (7.2 against 3.7 µs per `LabelScore`), so `routing/proposal.py` is unchanged. A hash table
  instead of `searchsorted` for the character n-gram vocabulary: about 25% faster on that step
  alone, not worth a second index.

Each change was checked by routing all 6,139 letters (held-out first) in batches of 256 and one by
one before and after it: the proposals' JSON was byte-identical every time.

**Later, with the fact layer.** The fact layer reads a letter as a dozen sentences, and numpy's
per-call overhead on each of them cost more than the counting: a batch's character n-grams are now
counted in one pass of array operations and kept in one array, and the sentences, cut from text
already normalised, are neither normalised again nor compacted one by one. The router normalises
each title and text once for the features, the facts and the rules (three passes became one), and
the input checks count Chinese characters as a code-point array instead of a regular expression's
list. On the same model, the code before and after these changes, in alternating runs on the
statutory benchmark's 859 letters: 457 against 605 and 358 against 497 letters per CPU-second.
The proposals of all 7,509 shared letters, in batches and one by one, were byte-identical. What is
left is spread out: pydantic objects of the proposal, the fact detectors, the rulebook, the
evidence and the n-gram vocabulary look-up.

**Then, counting and evidence.** Counting each block's (letter, column) pairs with `np.unique`
sorted them from scratch, although they arrive as a few runs already in order (letter by letter,
one run per n-gram length): a stable sort merges the runs at about twice the speed. Each head's
evidence sorted all of a letter's contributions to keep five: it now keeps those at least as large
as the fifth largest (`np.partition`) and sorts only them, equal ones by column. Word columns are
looked up with `map` over the vocabulary's `dict.get` instead of a comprehension. On the same model,
the code before and after, in three alternating runs on the statutory benchmark's 859 letters after
`gc.freeze()`: 727–757 against 786–812 letters per CPU-second (about 1.07 ×). On the 6,139 letters
of `messages.csv` the proposals were identical but for the order of exactly tied evidence features
in 127 of the evidence lists, which the old sort left to chance.

**Then, small objects and the input check.** On a shared host whose speed changed by a fifth
between runs, CPU seconds could not show a few per cent, so these were counted in instructions
(`valgrind --tool=callgrind`, one pass of 300 statutory-rich letters less the same process without
it). The check for a letter decoded with the wrong codec encoded each rare character to GB2312 and
Big5 in turn; it now looks each code point up in a table built once (35 ms), which agrees with
the old check on 31,534 texts (the shared letters, mis-decoded copies, every Chinese code point):
2.92 G → 2.87 G instructions. A fact finding and a sentence became named tuples (a frozen
dataclass's `__init__` sets each field through `object.__setattr__`), with byte-identical proposals
of the 6,139 letters in batches and one by one: 2.87 G → 2.77 G. Together 4.9 % fewer
instructions."""


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    ap.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3, help="timed passes per throughput measure (best counts)")
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="worker-process counts to time")
    ap.add_argument("--chunk", type=int, default=64, help="letters per task sent to a worker process")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of one batch pass")
    ap.add_argument("--output", type=Path, default=BENCHMARKS)
    ap.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    ap.add_argument("--child-load", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_load:
        _child_load(*args.child_load)
        return 0

    import os

    started_load = os.getloadavg()[0]
    from classifier.persistence import read_meta
    from routing.catalogue import load_catalogue
    from routing.router import Router
    from routing.schemas import Letter
    from training.datasets import load_examples

    ROOT_DATA[0] = args.data_dir
    model_dir = args.model.resolve()
    meta = read_meta(model_dir)
    examples = load_examples(args.data_dir)
    train, test, split_how = held_out(examples, meta["split"])
    catalogue = load_catalogue()
    print(f"held-out letters: {len(test)} ({split_how}); loading {model_dir} …", flush=True)
    load = load_in_child(model_dir, [Letter(id=e.id, title=e.title, text=e.text) for e in test])
    router = Router.load(model_dir)
    letters = [Letter(id=e.id, title=e.title, text=e.text) for e in test]

    print("accuracy …", flush=True)
    acc = accuracy(router, train, test, catalogue)
    n_test = len(test)
    # Only the letters stay alive for the speed passes, as in a process that routes them.
    del examples, train, test
    gc.collect()
    print("latency …", flush=True)
    lat = latency(router, letters)
    print("throughput …", flush=True)
    batch = throughput(router, letters, args.batch_size, args.repeat)
    shares = stage_shares(router, letters, args.batch_size)
    back = backends(router, letters, args.batch_size, max(1, args.repeat - 1))
    print(f"worker processes {args.workers} …", flush=True)
    procs = processes(model_dir, letters, args.workers, args.chunk, args.repeat) if args.workers else {}
    if args.profile:
        print(profile(router, letters, args.batch_size))

    body = render(
        model_dir=model_dir,
        meta=meta,
        split_how=split_how,
        n_test=n_test,
        acc=acc,
        lat=lat,
        batch=batch,
        procs=procs,
        shares=shares,
        back=back,
        load=load,
        batch_size=args.batch_size,
        chunk=args.chunk,
        started_load=started_load,
    )
    print(
        f"\n{SECTION}\n\n{body}\n\n"
        f"libraries: scikit-learn {version('scikit-learn')}, rjieba {version('rjieba')}"
    )
    if not args.no_write:
        replace_section(args.output, SECTION, body)
        print(f"\nwrote the '{SECTION}' section of {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
