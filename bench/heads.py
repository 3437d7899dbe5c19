"""Benchmark of the four heads against a plain baseline, by 5-fold group cross-validation.

Run from the project root::

    .venv/bin/python bench/heads.py [--data-dir ../shared/data] [--no-write] [--folds 5]

The shipped held-out 20% (the config's ``split``) takes no part in tuning: the other 80% is cut
into 5 folds by a seeded hash of each letter's group (like :func:`training.datasets.in_test`), every
variant is fitted on four folds and measured on the fifth, and only then are the baseline, the
config's heads and the adopted variant fitted on the whole 80% and measured once on the held-out 20%.

The baseline is ``sklearn.svm.LinearSVC()`` with its defaults (C=1, squared hinge, L2, no class
weights, no calibration; ``dual="auto"``, ``random_state=0``) over the letter's words and
characters as the heads read them (the project's jieba words + character 1–3-gram TF-IDF, fitted on
the same training letters; the heads also read the title's own block, the baseline does not),
trained on the same letters without the department duty examples and without sample weights.

Segmentation is the slow part, so every text is segmented once (kept in a cache under the system's
temporary folder) and each fold's vocabulary and matrices are built from those counts.

It prints one table per head and replaces the ``## Heads against the plain baseline`` section of
BENCHMARKS.md. Measures: domain macro-F1, department top-1 accuracy, category macro-F1, channel
macro-F1 (macro over the classes present in the measured letters, as ``training.metrics``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import LinearSVC

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import BENCHMARKS, SHARED_DATA, machine, markdown_table, replace_section  # noqa: E402
from classifier.features import LetterVectorizer, make_featurizer  # noqa: E402
from classifier.model import HEADS, LetterClassifier, NBLinearSVC  # noqa: E402
from classifier.segment import DEFAULT_USER_DICT, Segmenter  # noqa: E402
from routing.catalogue import DEFAULT_CATALOGUE, load_catalogue  # noqa: E402
from training.config import load_config  # noqa: E402
from training.datasets import (  # noqa: E402
    Example,
    duty_examples,
    group_split,
    load_examples,
    load_unlabelled_texts,
    text_key,
)
from training.metrics import classification_metrics  # noqa: E402

SECTION = "## Heads against the plain baseline"
MEASURE = {"domain": "macro_f1", "department": "accuracy", "category": "macro_f1", "channel": "macro_f1"}
MEASURE_NAME = {"macro_f1": "macro-F1", "accuracy": "top-1 accuracy"}
FOLD_SALT = "heads-bench-fold"
ADOPT_T = 2.0
CV_CACHE = Path(tempfile.gettempdir()) / "xinfang-heads-cv.pkl"


@dataclass(frozen=True)
class Variant:
    """How one head is fitted. ``kind`` "baseline" ignores every other field but ``features``."""

    name: str
    kind: str = "head"  # "baseline" or "head"
    C: float = 0.5
    class_weight: str | None = "balanced"
    calibration: str = "sigmoid"  # "sigmoid", "isotonic" or "none" (the SVM's own argmax)
    # "base": vocabulary of the training letters; "unl": and the unlabelled ones; "plain": "base"
    # without the title's own block (the letter's words and character n-grams alone)
    features: str = "base"
    duty: bool = True  # the department duty examples (department head only)
    second_weight: float = 1.0  # weight of a letter whose second annotator gave another label
    candidates: bool = True  # the letters of annotations_candidates.jsonl
    self_train: float = 0.0  # add pseudo-labels with at least this probability (0: none)
    pseudo_weight: float = 0.5
    weighting: str = "none"  # "nb": features scaled by each class's log-count ratio (NBLinearSVC)


# ---------------------------------------------------------------------------------------------
# data and segmentation


@dataclass
class Corpus:
    examples: list[Example]
    dev: list[int]  # indices of the training side of the shipped split
    held: list[int]  # the shipped held-out side
    pool: list[str]  # unlabelled texts that are no example's text
    duties: list[tuple[str, str]]
    grams: Any  # classifier.features._Grams of examples + pool + duty texts
    fold: np.ndarray  # fold of each dev letter (aligned with dev)

    @property
    def n_ex(self) -> int:
        return len(self.examples)

    def pool_rows(self) -> np.ndarray:
        return np.arange(self.n_ex, self.n_ex + len(self.pool))

    def duty_rows(self) -> np.ndarray:
        start = self.n_ex + len(self.pool)
        return np.arange(start, start + len(self.duties))


def fold_of(group: str, seed: int, folds: int) -> int:
    digest = hashlib.sha256(f"{seed}:{FOLD_SALT}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % folds


def new_vectorizer(config: dict[str, Any]) -> LetterVectorizer:
    segmenter = Segmenter(DEFAULT_USER_DICT, backend=config["segmenter"]["backend"])
    return make_featurizer(segmenter, **config["features"])


def count_cached(vec: LetterVectorizer, texts: list[str], config: dict[str, Any]) -> Any:
    key = hashlib.sha256(
        repr(("grams-v2", config["segmenter"], config["features"], texts)).encode("utf-8")
    ).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"xinfang-heads-grams-{key}.pkl"
    if path.exists():
        with path.open("rb") as f:
            return pickle.load(f)
    grams = vec._count(texts)
    with path.open("wb") as f:
        pickle.dump(grams, f, protocol=pickle.HIGHEST_PROTOCOL)
    return grams


def subset(grams: Any, rows: Sequence[int]) -> Any:
    return grams.subset(rows)


def load_corpus(data_dir: Path, config: dict[str, Any], folds: int) -> tuple[Corpus, float]:
    examples = load_examples(data_dir)
    split = config["split"]
    train_side, _ = group_split(examples, split["test_size"], split["seed"])
    train_ids = {id(e) for e in train_side}
    dev = [i for i, e in enumerate(examples) if id(e) in train_ids]
    held = [i for i, e in enumerate(examples) if id(e) not in train_ids]
    # an unlabelled text that is also an example's (the candidates' ``u…`` letters) is left out
    known = {text_key("", e.full_text) for e in examples}
    pool, seen = [], set()
    for text in load_unlabelled_texts(data_dir):
        key = text_key("", text)
        if key not in known and key not in seen:
            seen.add(key)
            pool.append(text)
    duties = duty_examples(load_catalogue(DEFAULT_CATALOGUE))
    texts = [e.full_text for e in examples] + pool + [t for t, _ in duties]
    cpu = time.process_time()
    grams = count_cached(new_vectorizer(config), texts, config)
    seg_cpu = time.process_time() - cpu
    fold = np.array([fold_of(examples[i].group, split["seed"], folds) for i in dev])
    corpus = Corpus(examples, dev, held, pool, duties, grams, fold)
    return corpus, seg_cpu


# ---------------------------------------------------------------------------------------------
# fitting one head


@dataclass
class Matrices:
    """One fitted vocabulary's rows for every text of the corpus (examples, pool, duties)."""

    X: sp.csr_matrix
    n_features: int
    # columns of the letter's own word and character blocks; the title's block, if any, follows
    own_features: int

    def letter_only(self) -> Matrices:
        """The same rows without the title's block: what the plain baseline reads."""
        X: sp.csr_matrix = self.X[:, : self.own_features].tocsr()
        return Matrices(X=X, n_features=self.own_features, own_features=self.own_features)


def build_matrices(corpus: Corpus, config: dict[str, Any], fit_rows: Sequence[int]) -> Matrices:
    vec = new_vectorizer(config)
    vec._fit_grams(subset(corpus.grams, fit_rows))
    X = vec._matrix(corpus.grams)
    return Matrices(X=X, n_features=vec.n_features, own_features=len(vec.word_terms_) + len(vec.char_terms_))


def is_candidate(e: Example) -> bool:
    # annotations.jsonl letters carry the second annotator's labels (facts.jsonl); candidates do not
    return e.category is not None and e.second is None


def training_rows(
    corpus: Corpus, head: str, train: Sequence[int], v: Variant
) -> tuple[list[int], list[str], np.ndarray]:
    rows, y, w = [], [], []
    for i in train:
        e = corpus.examples[i]
        label = e.label(head)
        if label is None or (not v.candidates and is_candidate(e)):
            continue
        weight = 1.0
        if e.second is not None and head in e.second and str(e.second[head]) != label:
            weight = v.second_weight
        if weight <= 0:
            continue
        rows.append(i)
        y.append(label)
        w.append(weight)
    return rows, y, np.array(w)


class Fitted:
    def __init__(self, model: Any, calibrated: bool) -> None:
        self.model = model
        self.calibrated = calibrated

    def predict(self, X: sp.csr_matrix) -> np.ndarray:
        return np.asarray(self.model.predict(X))

    def proba(self, X: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.model.predict_proba(X)), np.asarray(self.model.classes_)


def fit_variant(
    corpus: Corpus,
    mats: dict[str, Matrices],
    head: str,
    train: Sequence[int],
    v: Variant,
    config: dict[str, Any],
) -> Fitted:
    X = mats[v.features].X
    rows, y, w = training_rows(corpus, head, train, v)
    if v.kind == "baseline":
        return Fitted(LinearSVC(dual="auto", random_state=0).fit(X[rows], y), False)
    X_fit = X[rows]
    if head == "department" and v.duty and config["data"]["duty_examples"]:
        X_fit = sp.vstack([X_fit, X[corpus.duty_rows()]]).tocsr()
        y = y + [code for _, code in corpus.duties]
        w = np.concatenate([w, np.full(len(corpus.duties), config["data"]["duty_example_weight"])])
    fitted = fit_plain(X_fit, y, w, v, config["heads"][head]["calibration_cv"])
    if v.self_train > 0:
        fitted = self_train(corpus, X, head, train, X_fit, y, w, fitted, v, config)
    return fitted


def fit_plain(X: sp.csr_matrix, y: list[str], w: np.ndarray, v: Variant, cv: int) -> Fitted:
    if v.calibration == "sigmoid":
        head = LetterClassifier(C=v.C, class_weight=v.class_weight, calibration_cv=cv, weighting=v.weighting)
        return Fitted(head.fit(X, y, sample_weight=w), True)
    svm: LinearSVC | NBLinearSVC = (
        NBLinearSVC(C=v.C, class_weight=v.class_weight)
        if v.weighting == "nb"
        else LinearSVC(C=v.C, class_weight=v.class_weight, max_iter=5000, dual="auto", random_state=0)
    )
    if v.calibration == "none":
        return Fitted(svm.fit(X, y, sample_weight=w), False)
    model = CalibratedClassifierCV(svm, method=v.calibration, cv=cv, ensemble=False)
    return Fitted(model.fit(X, y, sample_weight=w), True)


def self_train(
    corpus: Corpus,
    X: sp.csr_matrix,
    head: str,
    train: Sequence[int],
    X_fit: sp.csr_matrix,
    y: list[str],
    w: np.ndarray,
    fitted: Fitted,
    v: Variant,
    config: dict[str, Any],
) -> Fitted:
    """One round: letters without this head's label (training side and the unlabelled pool) whose
    predicted class has at least ``v.self_train`` probability join with weight ``v.pseudo_weight``."""
    unlabelled = [i for i in train if corpus.examples[i].label(head) is None]
    pool = np.concatenate([np.array(unlabelled, dtype=np.int64), corpus.pool_rows()])
    proba, classes = fitted.proba(X[pool])
    keep = proba.max(axis=1) >= v.self_train
    pseudo = [str(c) for c in classes[proba.argmax(axis=1)[keep]]]
    X_all = sp.vstack([X_fit, X[pool[keep]]]).tocsr()
    w_all = np.concatenate([w, np.full(len(pseudo), v.pseudo_weight)])
    return fit_plain(X_all, y + pseudo, w_all, v, config["heads"][head]["calibration_cv"])


def score(
    corpus: Corpus, X: sp.csr_matrix, head: str, test: Sequence[int], fitted: Fitted
) -> dict[str, float]:
    rows = [i for i in test if corpus.examples[i].label(head) is not None]
    y_true = [str(corpus.examples[i].label(head)) for i in rows]
    y_pred = [str(p) for p in fitted.predict(X[rows])]
    m = classification_metrics(y_true, y_pred)
    return {"macro_f1": m["macro_f1"], "accuracy": m["accuracy"], "n": float(len(rows))}


# ---------------------------------------------------------------------------------------------
# variants

_CORPUS: Corpus | None = None  # set before forking the fold workers


def project_variant(config: dict[str, Any], head: str) -> Variant:
    h = config["heads"][head]
    return Variant(name="config", C=float(h["C"]), class_weight=h["class_weight"], weighting=h["weighting"])


def variants_for(config: dict[str, Any], head: str) -> list[Variant]:
    """The baseline, the config's head, a few C / class-weight / calibration choices, and the data and
    feature choices, each one change on top of the config's head (one pass: the machine is shared)."""
    base = project_variant(config, head)
    out = [Variant(name="baseline", kind="baseline", features="plain"), base]
    if config["features"].get("lead_weight", 0.0) > 0:
        out.append(replace(base, name="without the title's block", features="plain"))
    for C, cw in ((1.0, "balanced"), (0.25, "balanced"), (0.5, None), (1.0, None)):
        if (C, cw) != (base.C, base.class_weight):
            out.append(replace(base, name=f"C={C:g} {cw or 'unweighted'}", C=C, class_weight=cw))
    other = "none" if base.weighting == "nb" else "nb"
    out.append(replace(base, name=f"weighting {other}", weighting=other))
    if head != "department":
        out.append(replace(base, name="uncalibrated argmax", calibration="none"))
    out.append(replace(base, name="unlabelled vocabulary", features="unl"))
    if head != "domain":
        out.append(replace(base, name="second-disagreed ×0.5", second_weight=0.5))
    if head == "category":
        out.append(replace(base, name="annotations.jsonl only", candidates=False))
    if head != "department":
        out.append(replace(base, name="self-training p≥0.9 ×0.5", self_train=0.9))
    return out


def run_fold(args: tuple[int, dict[str, list[Variant]], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    k, variants, config = args
    corpus = _CORPUS
    assert corpus is not None
    dev = np.array(corpus.dev)
    train = dev[corpus.fold != k].tolist()
    test = dev[corpus.fold == k].tolist()
    return evaluate(corpus, config, train, test, variants)


def evaluate(
    corpus: Corpus,
    config: dict[str, Any],
    train: list[int],
    test: list[int],
    variants: dict[str, list[Variant]],
) -> dict[str, dict[str, Any]]:
    """Every variant of every head fitted on ``train`` and scored on ``test``."""
    needed = {v.features for vs in variants.values() for v in vs}
    mats: dict[str, Matrices] = {}
    if "base" in needed or "plain" in needed:
        mats["base"] = build_matrices(corpus, config, train)
        mats["plain"] = mats["base"].letter_only()
    if "unl" in needed:
        mats["unl"] = build_matrices(corpus, config, [*train, *corpus.pool_rows().tolist()])
    out: dict[str, dict[str, Any]] = {}
    for head, vs in variants.items():
        for v in vs:
            cpu = time.process_time()
            fitted = fit_variant(corpus, mats, head, train, v, config)
            fit_cpu = time.process_time() - cpu
            out[f"{head}|{v.name}"] = {
                **score(corpus, mats[v.features].X, head, test, fitted),
                "fit_cpu_s": fit_cpu,
                "features": mats[v.features].n_features,
            }
    return out


def cross_validate(
    corpus: Corpus, config: dict[str, Any], variants: dict[str, list[Variant]], folds: int, workers: int
) -> dict[str, list[dict[str, Any]]]:
    global _CORPUS
    _CORPUS = corpus
    jobs = [(k, variants, config) for k in range(folds)]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run_fold, jobs))
    else:
        results = [run_fold(j) for j in jobs]
    merged: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        for key, value in r.items():
            merged.setdefault(key, []).append(value)
    return merged


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def paired(head: str, a: str, b: str, cv: dict[str, list[dict[str, Any]]]) -> tuple[float, float]:
    """Mean fold-by-fold difference of variant ``a`` over ``b`` and its t (mean / standard error)."""
    measure = MEASURE[head]
    d = np.array([x[measure] - y[measure] for x, y in zip(cv[f"{head}|{a}"], cv[f"{head}|{b}"], strict=True)])
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
    return float(d.mean()), float(d.mean() / se) if se > 0 else 0.0


def best_of(head: str, vs: Sequence[Variant], cv: dict[str, list[dict[str, Any]]]) -> Variant:
    measure = MEASURE[head]
    others = [v for v in vs if v.kind == "head" and v.name != "config"]
    return max(others, key=lambda v: mean_sd([f[measure] for f in cv[f"{head}|{v.name}"]])[0])


def adopt(head: str, vs: Sequence[Variant], cv: dict[str, list[dict[str, Any]]]) -> Variant:
    """The best variant on the fold mean when it beats ``config`` by at least ADOPT_T standard errors
    of the fold-by-fold difference; ``config`` otherwise (a gain inside the folds' noise is not one)."""
    best = best_of(head, vs, cv)
    gain, t = paired(head, best.name, "config", cv)
    return best if gain > 0 and t >= ADOPT_T else next(v for v in vs if v.name == "config")


# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    ap.add_argument("--output", type=Path, default=BENCHMARKS)
    ap.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--heads", default=",".join(HEADS), help="comma-separated heads to measure")
    ap.add_argument(
        "--reuse-folds", action="store_true", help=f"take the fold results of the last run from {CV_CACHE}"
    )
    args = ap.parse_args(argv)
    if not (args.data_dir / "messages.csv").exists():
        print(f"no training data in {args.data_dir}; nothing to measure")
        return 1
    config = load_config(None)
    heads = [h for h in args.heads.split(",") if h]
    started = time.perf_counter()
    corpus, seg_cpu = load_corpus(args.data_dir, config, args.folds)
    print(
        f"{corpus.n_ex} letters ({len(corpus.dev)} tuning, {len(corpus.held)} held out), "
        f"{len(corpus.pool)} unlabelled texts; segmentation {seg_cpu:.0f} s CPU (0 when cached)",
        flush=True,
    )
    variants = {h: variants_for(config, h) for h in heads}
    cached = None
    if args.reuse_folds and CV_CACHE.exists():
        with CV_CACHE.open("rb") as f:
            cached = pickle.load(f)
    wanted = {f"{h}|{v.name}" for h in heads for v in variants[h]}
    if cached is not None and cached.get("folds") == args.folds and wanted <= set(cached["cv"]):
        cv = cached["cv"]
        print(f"fold results reused from {CV_CACHE}", flush=True)
    else:
        cv = cross_validate(corpus, config, variants, args.folds, args.workers)
        with CV_CACHE.open("wb") as f:
            pickle.dump({"folds": args.folds, "cv": cv}, f)
    winners = {h: adopt(h, variants[h], cv) for h in heads}

    # once on the shipped held-out split, fitted on the whole tuning side
    final: dict[str, list[Variant]] = {}
    for h in heads:
        final[h] = [variants[h][0], variants[h][1], best_of(h, variants[h], cv)]
    held = evaluate(corpus, config, corpus.dev, corpus.held, final)
    # a fold winner replaces config only when the held-out letters do not rate it below config
    refuted = {
        h: v.name
        for h, v in winners.items()
        if v.name != "config" and held[f"{h}|{v.name}"][MEASURE[h]] < held[f"{h}|config"][MEASURE[h]]
    }
    adopted = {h: variants[h][1] if h in refuted else v for h, v in winners.items()}
    print("winners:", {h: v.name for h, v in adopted.items()}, flush=True)

    lines = report(corpus, config, heads, variants, cv, held, adopted, refuted, args.folds, seg_cpu)
    text = "\n".join(lines)
    print(text)
    print(f"\n{time.perf_counter() - started:.0f} s wall")
    if not args.no_write:
        replace_section(args.output, SECTION, text)
        print(f"wrote {SECTION!r} to {args.output}")
    return 0


def report(
    corpus: Corpus,
    config: dict[str, Any],
    heads: Sequence[str],
    variants: dict[str, list[Variant]],
    cv: dict[str, list[dict[str, Any]]],
    held: dict[str, dict[str, Any]],
    adopted: dict[str, Variant],
    refuted: dict[str, str],
    folds: int,
    seg_cpu: float,
) -> list[str]:
    split = config["split"]
    lines = [
        f"Measured with `bench/heads.py` on {machine()}. {corpus.n_ex} letters from `load_examples`; "
        f"the shipped split (seed {split['seed']}, test_size {split['test_size']}) holds out "
        f"{len(corpus.held)} of them, which take no part in tuning. The other {len(corpus.dev)} are cut "
        f"into {folds} folds by a seeded hash of the group; each row is the mean ± sd over the folds "
        "(fitted on four, measured on the fifth), and `held-out` is the same variant fitted on all "
        f"{len(corpus.dev)} and measured once on the held-out letters.",
        "",
        "Baseline: `LinearSVC()` with scikit-learn's defaults (C=1, squared hinge, no class weights, "
        "no calibration) over the letter's jieba words + character 1–3-gram TF-IDF fitted on the "
        "same training letters (the heads' features without the title's own block), trained on the "
        "same letters without the department duty examples. `config` is the head as "
        "`training/configs/default.toml` had it before this benchmark (calibrated LinearSVC, C=0.5, "
        "balanced, sigmoid with 3 folds, duty examples for department, the title's own block at the "
        "config's weight). Every other row changes one thing of `config`. "
        f"The unlabelled pool is {len(corpus.pool)} texts of `unlabeled_messages.csv` that are no "
        f"example's text. Every text is segmented once (rjieba, about 7 s CPU; {seg_cpu:.0f} s in this "
        "run, whose counts may come from the cache) and fit times are CPU seconds (`time.process_time`) "
        "per fold. `vs baseline, paired` is the mean "
        "fold-by-fold difference and its t (mean over its standard error, 4 degrees of freedom). A "
        f"variant wins only when it beats `config` by t ≥ {ADOPT_T:g} on the folds and the held-out "
        "letters confirm it (not worse than `config` there); `training/configs/default.toml` says "
        "which winners the shipped heads take and why. The held-out column shows the "
        "baseline, `config` and the best of the rest on the fold mean.",
    ]
    for h in heads:
        measure = MEASURE[h]
        rows = []
        for v in variants[h]:
            key = f"{h}|{v.name}"
            mean, sd = mean_sd([f[measure] for f in cv[key]])
            fit = mean_sd([f["fit_cpu_s"] for f in cv[key]])[0]
            held_value = held.get(key)
            gain, t = paired(h, v.name, "baseline", cv)
            mark = ""
            if v.name == adopted[h].name:
                mark = " **(kept)**" if v.name == "config" else " **(wins on the folds and held out)**"
            elif v.name == refuted.get(h):
                mark = " (wins on the folds; worse held out, not adopted)"
            if v.name == best_of(h, variants[h], cv).name and not mark:
                mark = " (best of the rest; not adopted)"
            rows.append(
                [
                    v.name + mark,
                    f"{mean:.3f} ± {sd:.3f}",
                    "" if v.kind == "baseline" else f"{gain:+.3f} (t {t:+.1f})",
                    f"{held_value[measure]:.3f}" if held_value else "",
                    f"{fit:.1f}",
                ]
            )
        n = int(np.mean([f["n"] for f in cv[f"{h}|baseline"]]))
        lines += ["", f"### {h} — {MEASURE_NAME[measure]} (about {n} letters per fold)", ""]
        header = ["variant", "folds mean ± sd", "vs baseline, paired", "held-out", "fit s"]
        lines += markdown_table(header, rows, "lrrrr")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
