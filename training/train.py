"""Train every head from the shared data and the officers' decisions, and write a model folder.

The split is by group and seeded (:func:`training.datasets.in_test`); the model is fitted on the
training side only, so the metrics in ``meta.json`` are held-out metrics and a later model can be
compared on exactly the same letters. ``meta.json`` records what is needed to rebuild that split:
the seed and share, the hash of the data files, the cut-off of the decisions read from the
database, and a hash of the held-out letter ids that :mod:`training.evaluate` checks.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import scipy.sparse as sp

from classifier.embeddings import EmbeddingCache, LetterFeatures, SentenceEncoder
from classifier.features import LetterVectorizer, letter_text, make_featurizer
from classifier.model import HEADS, LetterClassifier, TriageModel
from classifier.persistence import save_model
from classifier.segment import DEFAULT_USER_DICT, Segmenter
from routing.catalogue import DEFAULT_CATALOGUE, load_catalogue
from routing.codes import DOMAINS, Category, Channel
from routing.router import Router
from routing.rulebook import load_rulebook
from routing.schemas import Letter
from training.config import DEFAULT_CONFIG, dump_toml, load_config
from training.datasets import (
    DecisionLabel,
    Example,
    duty_examples,
    ids_hash,
    load_routing_cases,
    load_training_data,
    read_decisions,
    validate_examples,
)
from training.errors import ConfigError, RuleCheckError, TrainingError
from training.evaluate import evaluate_model
from training.metrics import classification_metrics, top_k_accuracy
from training.route_layers import ReviewedCases, fit_arbiter, fit_facts, fold_config
from training.routing_cases import case_results, cross_validated_proposals
from training.rule_eval import LabelledLetter, check_rules, evaluate_rules, gold_facts

FEATURE_KINDS = ("tfidf", "embeddings", "tfidf+embeddings")
EMBEDDING_CACHE_FILE = "embeddings.sqlite3"


@dataclass
class TrainResult:
    model_dir: Path
    model: TriageModel
    metrics: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    evaluation: dict[str, Any] | None = None


def allowed_labels(head: str, department_codes: Sequence[str]) -> list[str]:
    return {
        "category": [c.value for c in Category],
        "channel": [c.value for c in Channel],
        "domain": list(DOMAINS),
        "department": list(department_codes),
    }[head]


def build_featurizer(
    config: dict[str, Any], *, user_dict: Path = DEFAULT_USER_DICT, cache: EmbeddingCache | None = None
) -> LetterVectorizer | LetterFeatures:
    """The featurizer the config names: TF-IDF, sentence embeddings, or both side by side."""
    kind = config["model"]["features"]
    if kind not in FEATURE_KINDS:
        raise ConfigError(f"model.features={kind!r} is unknown; choose one of {', '.join(FEATURE_KINDS)}")
    tfidf = None
    if "tfidf" in kind:
        segmenter = Segmenter(user_dict, backend=config["segmenter"]["backend"])
        tfidf = make_featurizer(segmenter, **config["features"])
        if kind == "tfidf":
            return tfidf
    emb = config["embeddings"]
    encoder = SentenceEncoder(
        backend=emb["backend"],
        model=emb["model"],
        max_chars=emb["max_chars"],
        batch_size=emb["batch_size"],
        threads=emb["threads"],
    ).set_cache(cache)
    return LetterFeatures(tfidf=tfidf, embeddings=encoder, embedding_weight=emb["weight"])


def fit_heads(
    X: sp.csr_matrix,
    examples: Sequence[Example],
    config: dict[str, Any],
    *,
    department_extra: tuple[sp.csr_matrix, list[str]] | None = None,
    n_jobs: int = 1,
) -> dict[str, LetterClassifier]:
    """Fit each head on the rows that carry its label; heads run in ``n_jobs`` threads."""

    def fit_one(head: str) -> LetterClassifier:
        rows = [i for i, e in enumerate(examples) if e.label(head) is not None]
        X_head, y = X[rows], [str(examples[i].label(head)) for i in rows]
        weights = np.ones(len(rows), dtype=np.float64)
        if head == "department" and department_extra is not None:
            X_extra, labels = department_extra
            X_head = sp.vstack([X_head, X_extra]).tocsr()
            y = y + labels
            weights = np.concatenate([weights, np.full(len(labels), config["data"]["duty_example_weight"])])
        return LetterClassifier(**config["heads"][head]).fit(X_head, y, sample_weight=weights)

    # The largest heads first, so two threads finish at about the same time.
    order = sorted(HEADS, key=lambda h: -sum(e.label(h) is not None for e in examples))
    with ThreadPoolExecutor(max_workers=max(1, n_jobs)) as pool:
        fitted = dict(zip(order, pool.map(fit_one, order), strict=True))
    return {head: fitted[head] for head in HEADS}


def fit_model(
    examples: Sequence[Example],
    config: dict[str, Any],
    *,
    user_dict: Path = DEFAULT_USER_DICT,
    catalogue_path: Path = DEFAULT_CATALOGUE,
    version: str = "unversioned",
    cache: EmbeddingCache | None = None,
    timings: dict[str, float] | None = None,
) -> TriageModel:
    """Fit the featurizer on every letter and each head on the letters that carry its label."""
    timings = timings if timings is not None else {}
    started = time.perf_counter()
    featurizer = build_featurizer(config, user_dict=user_dict, cache=cache)
    X = featurizer.fit_transform([e.full_text for e in examples])
    extra = None
    if config["data"]["duty_examples"]:
        duties = duty_examples(load_catalogue(catalogue_path))
        extra = (featurizer.transform([t for t, _ in duties]), [code for _, code in duties])
    timings["featurize_s"] = time.perf_counter() - started
    started = time.perf_counter()
    heads = fit_heads(X, examples, config, department_extra=extra, n_jobs=config["model"]["n_jobs"])
    timings["fit_heads_s"] = time.perf_counter() - started
    if isinstance(featurizer, LetterFeatures):
        featurizer.set_cache(None)  # the cache belongs to this process, not to the model file
    # TriageModel reads any featurizer with transform() and get_feature_names_out().
    return TriageModel(featurizer=cast(LetterVectorizer, featurizer), heads=heads, version=version)


def evaluate_heads(model: TriageModel, examples: Sequence[Example]) -> dict[str, Any]:
    """Held-out metrics of every head on the letters that carry its label."""
    X = model.transform([e.full_text for e in examples])
    outputs = model.predict_heads(X)
    metrics: dict[str, Any] = {}
    for head, out in outputs.items():
        rows = [i for i, e in enumerate(examples) if e.label(head) is not None]
        y_true = [str(examples[i].label(head)) for i in rows]
        proba = out.proba[rows]
        y_pred = [out.classes[j] for j in np.argmax(proba, axis=1)]
        m = classification_metrics(y_true, y_pred, labels=sorted(set(out.classes) | set(y_true)))
        m["top3_accuracy"] = top_k_accuracy(y_true, proba, out.classes, 3)
        metrics[head] = m
    return metrics


def min_to_fit(config: dict[str, Any]) -> dict[str, int]:
    """The fewest examples per class each head's calibration can be fitted with."""
    return {head: int(config["heads"][head]["calibration_cv"]) for head in HEADS}


def label_distribution(examples: Iterable[Example]) -> dict[str, dict[str, int]]:
    examples = list(examples)
    return {
        h: dict(sorted(Counter(str(e.label(h)) for e in examples if e.label(h) is not None).items()))
        for h in HEADS
    }


def check_rules_on(
    examples: Sequence[Example], config: dict[str, Any], rulebook_dir: Path | None
) -> tuple[list[str], dict[str, Any]]:
    """Replay the rulebook over every letter with a channel label (STYLE principle 4).

    Returns:
        Warnings (empty when the check passes) and a JSON summary of the replay.

    Raises:
        RuleCheckError: when ``rules.check = "error"`` and the check fails.
    """
    mode = config["rules"]["check"]
    if mode not in ("warn", "error"):
        raise ConfigError(f"rules.check={mode!r} is unknown; choose warn or error")
    letters = [
        LabelledLetter(
            letter=Letter(id=e.id, title=e.title, text=e.text),
            channel=str(e.channel),
            group=e.group,
            facts=gold_facts(e.facts),
        )
        for e in examples
        if e.channel is not None
    ]
    rulebook = load_rulebook(rulebook_dir)
    evaluation = evaluate_rules(rulebook, letters)
    summary = {
        "rulebook_version": rulebook.version,
        "letters": len(letters),
        "contradictions": len(evaluation.contradictions),
        "never_fired": list(evaluation.never_fired),
        # silent rules the rulebook marks rare, with its reason (they do not fail the check)
        "rare": {r: evaluation.rules[r].rare for r in evaluation.never_fired if evaluation.rules[r].rare},
        "passed": True,
    }
    try:
        check_rules(
            evaluation,
            min_rule_precision=config["rules"]["min_rule_precision"],
            min_fires=config["rules"]["min_fires"],
            allow_never_fired=config["rules"]["allow_never_fired"],
        )
    except RuleCheckError as exc:
        summary["passed"] = False
        summary["problems"] = str(exc)
        if mode == "error":
            raise
        return [f"rule check (rules.check=warn): {exc}"], summary
    return [], summary


def default_version(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d-%H%M%S")


def train(
    output_dir: Path | None = None,
    *,
    data_dir: Path,
    config_path: Path | None = None,
    overrides: Iterable[str] = (),
    version: str | None = None,
    extra_examples: Sequence[Example] = (),
    database_url: str | None = None,
    decisions: Sequence[DecisionLabel] | None = None,
    models_dir: Path | None = None,
    rulebook_dir: Path | None = None,
    cache_dir: Path | None = None,
    report: bool = True,
    progress: Callable[[str], None] | None = None,
    steps: Callable[[int, int, str], None] | None = None,
) -> TrainResult:
    """Train all heads and write ``output_dir`` (default ``models_dir/<version>``).

    Args:
        output_dir: the new model folder; it must not hold a model already.
        data_dir: the shared data (``messages.csv``, ``annotations.jsonl``).
        config_path: the training config (default ``training/configs/default.toml``).
        overrides: ``section.key=value`` strings applied to the config.
        version: the model's version; default a UTC timestamp.
        extra_examples: more labelled letters (tests, experiments).
        database_url: read the officers' final decisions from this database (when the config's
            ``data.use_decisions`` is true).
        decisions: decisions given directly instead of read from a database.
        models_dir: the registry, for the comparison with the model in service in the report.
        rulebook_dir: the rulebook to replay (default the shipped one).
        cache_dir: where the embedding cache lives (only used when embeddings are configured).
        report: evaluate the new model and write ``evaluation.json`` and ``report.html``.
        progress: called with a short line at each stage.
        steps: called as each step begins with the steps done, the steps in all and the step's
            name (读取训练数据, each fold of the arbiter's cross-fitting …), and once more at the
            end with all steps done, for a display of the time left.

    Raises:
        ConfigError: unknown config key or value.
        DataValidationError: the data would train a wrong model (the message names the letters).
        TrainingError: the database cannot be read, or the output folder holds a model.
    """
    say = progress or (lambda _line: None)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    config = load_config(config_path or DEFAULT_CONFIG, overrides)
    folds = int(config["arbiter"]["folds"]) if config["arbiter"]["enabled"] else 0
    plan = 5 + folds + int(report)
    done = -1

    def step(name: str) -> None:
        nonlocal done
        done += 1
        if steps is not None:
            steps(done, plan, name)

    def fold_said(line: str) -> None:
        say(line)
        step(f"仲裁层交叉拟合第 {min(done - 2, folds)}/{folds} 折")

    step("读取训练数据")
    now = dt.datetime.now(dt.UTC)
    version = version or default_version(now)
    if output_dir is None:
        if models_dir is None:
            raise TrainingError("give output_dir or models_dir for the new model folder")
        output_dir = Path(models_dir) / version
    output_dir = Path(output_dir)
    if (output_dir / "meta.json").exists():
        raise TrainingError(
            f"{output_dir} already holds a model; models are never overwritten. Choose another --output "
            "or --version."
        )
    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    decided_before = None
    if decisions is None:
        decisions = []
        if database_url and config["data"]["use_decisions"]:
            decided_before = now
            decisions = read_decisions(database_url, decided_before=decided_before)
    elif decisions:
        decided_before = now
    data = load_training_data(
        data_dir, config, decisions=decisions, decided_before=decided_before, extra_examples=extra_examples
    )
    say(
        f"{len(data.examples)} letters ({data.merge.decisions} officers' decisions: "
        f"{data.merge.added} new letters, {len(data.merge.replaced)} relabelled shared letters); "
        f"{len(data.train)} train / {len(data.test)} held out"
    )
    step("检查数据和规则库")
    extra_counts: dict[str, dict[str, int]] = {}
    if config["data"]["duty_examples"]:
        extra_counts["department"] = dict(Counter(code for _, code in duty_examples(catalogue)))
    warnings = validate_examples(
        data.train,
        data.test,
        {h: allowed_labels(h, catalogue.codes) for h in HEADS},
        min_per_class=config["data"]["min_per_class"],
        min_to_fit=min_to_fit(config),
        extra_counts=extra_counts,
    )
    rule_warnings, rule_summary = check_rules_on(
        [e for e in data.examples if e.channel is not None], config, rulebook_dir
    )
    warnings += rule_warnings
    cache = None
    if (
        "embeddings" in config["model"]["features"]
        and config["embeddings"]["cache"]
        and cache_dir is not None
    ):
        cache = EmbeddingCache(Path(cache_dir) / EMBEDDING_CACHE_FILE)
    say(f"fitting {config['model']['features']} features and {len(HEADS)} heads")
    step("拟合特征和四个分类器")
    model = fit_model(data.train, config, version=version, cache=cache, timings=timings)
    t = time.perf_counter()
    step("拟合案件事实层")
    model.facts = fit_facts(data.train, config)
    timings["fit_facts_s"] = time.perf_counter() - t
    t = time.perf_counter()
    cases = load_routing_cases(data_dir) if float(config["arbiter"]["routing_case_weight"]) > 0 else []
    reviewed = None
    # Read by the model that ships, as a letter will be: its heads and facts never see a case.
    reader = Router(model=model, rulebook=load_rulebook(rulebook_dir), catalogue=catalogue)
    if cases:
        reviewed = ReviewedCases(
            rows=reader.arbiter_rows([c.letter for c in cases]),
            channels=[c.channel for c in cases],
            weight=float(config["arbiter"]["routing_case_weight"]),
        )
    fitted_arbiter = fit_arbiter(
        data.train,
        config,
        lambda letters: fit_model(letters, fold_config(config), version=version, cache=cache),
        rulebook_dir=rulebook_dir,
        progress=fold_said,
        reviewed=reviewed,
    )
    model.arbiter = fitted_arbiter.arbiter
    routing_cases: dict[str, Any] = {"cases": len(cases)}
    if fitted_arbiter.case_folds:
        proposals = cross_validated_proposals(reader, fitted_arbiter.case_folds, cases)
        routing_cases = {
            **case_results(cases, proposals),
            "weight": reviewed.weight if reviewed else 0.0,
            "folds": len(fitted_arbiter.case_folds),
        }
    timings["fit_arbiter_s"] = time.perf_counter() - t
    done = 3 + folds  # a fold without letters to read is skipped without a word
    step("评估分类器并保存模型")
    t = time.perf_counter()
    if cache is not None:
        cast(LetterFeatures, model.featurizer).set_cache(cache)
    metrics = evaluate_heads(model, data.test)
    timings["evaluate_heads_s"] = time.perf_counter() - t
    model.meta = {
        "trained_at": now.isoformat(timespec="seconds"),
        **data.provenance(),
        "features": config["model"]["features"],
        "rows": {
            "letters": len(data.examples),
            "train": len(data.train),
            "test": len(data.test),
            "decisions": data.merge.decisions,
            "extra": len(extra_examples),
            **{f"train_{h}": sum(e.label(h) is not None for e in data.train) for h in HEADS},
            **{f"test_{h}": sum(e.label(h) is not None for e in data.test) for h in HEADS},
        },
        "label_distribution": label_distribution(data.train),
        "split": {
            **config["split"],
            "by": "group",
            "method": "group-hash.v1",
            "test_ids_hash": ids_hash(data.test),
            "train_ids_hash": ids_hash(data.train),
        },
        "metrics": metrics,
        "rule_check": rule_summary,
        # Each hand-written case routed by an arbiter fitted without it (the shipped one saw them all).
        "routing_cases_cross_validated": routing_cases,
        "warnings": warnings,
    }
    t = time.perf_counter()
    if cache is not None:
        cast(LetterFeatures, model.featurizer).set_cache(None)
    save_model(
        model,
        output_dir,
        config_text=dump_toml(config),
        userdict_text=DEFAULT_USER_DICT.read_text(encoding="utf-8"),
    )
    timings["save_s"] = time.perf_counter() - t
    timings["train_s"] = time.perf_counter() - started
    result = TrainResult(output_dir, model, metrics, warnings, timings["train_s"], timings)
    if report:
        say("evaluating through the router and writing the report")
        step("经路由评估并写报告")
        result.evaluation = evaluate_model(
            output_dir,
            data_dir=data_dir,
            data=data,
            models_dir=models_dir,
            rulebook_dir=rulebook_dir,
            cache=cache,
        ).summary
    if cache is not None:
        cache.close()
    if steps is not None:
        steps(plan, plan, "完成")
    result.seconds = time.perf_counter() - started
    return result


__all__ = [
    "FEATURE_KINDS",
    "TrainResult",
    "allowed_labels",
    "build_featurizer",
    "evaluate_heads",
    "fit_heads",
    "fit_model",
    "letter_text",
    "train",
]
