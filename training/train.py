"""Train every head from the shared data and write a model folder.

The split is by group and seeded; the model is fitted on the training side only, so the metrics in
``meta.json`` are held-out metrics and a later model can be compared on exactly the same letters.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from classifier.features import letter_text, make_featurizer
from classifier.model import HEADS, LetterClassifier, TriageModel
from classifier.persistence import save_model
from classifier.segment import DEFAULT_USER_DICT, Segmenter
from routing.catalogue import DEFAULT_CATALOGUE, load_catalogue
from routing.codes import DOMAINS, Category, Channel
from training.config import DEFAULT_CONFIG, dump_toml, load_config
from training.datasets import (
    ANNOTATIONS_FILE,
    MESSAGES_FILE,
    Example,
    duty_examples,
    file_hash,
    group_split,
    load_examples,
    validate_labels,
)
from training.metrics import classification_metrics, top_k_accuracy


@dataclass
class TrainResult:
    model_dir: Path
    model: TriageModel
    metrics: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def allowed_labels(head: str, department_codes: Sequence[str]) -> list[str]:
    return {
        "category": [c.value for c in Category],
        "channel": [c.value for c in Channel],
        "domain": list(DOMAINS),
        "department": list(department_codes),
    }[head]


def fit_model(
    examples: Sequence[Example],
    config: dict[str, Any],
    *,
    user_dict: Path = DEFAULT_USER_DICT,
    catalogue_path: Path = DEFAULT_CATALOGUE,
    version: str = "unversioned",
) -> TriageModel:
    """Fit the featurizer on every letter and each head on the letters that carry its label."""
    catalogue = load_catalogue(catalogue_path)
    segmenter = Segmenter(user_dict, backend=config["segmenter"]["backend"])
    featurizer = make_featurizer(segmenter, **config["features"])
    texts = [e.full_text for e in examples]
    X = featurizer.fit_transform(texts)
    heads: dict[str, LetterClassifier] = {}
    for head in HEADS:
        rows = [i for i, e in enumerate(examples) if e.label(head) is not None]
        X_head, y = X[rows], [examples[i].label(head) for i in rows]
        weights = np.ones(len(rows), dtype=np.float64)
        if head == "department" and config["data"]["duty_examples"]:
            extra = duty_examples(catalogue)
            X_head = sp.vstack([X_head, featurizer.transform([t for t, _ in extra])]).tocsr()
            y = y + [code for _, code in extra]
            weights = np.concatenate([weights, np.full(len(extra), config["data"]["duty_example_weight"])])
        heads[head] = LetterClassifier(**config["heads"][head]).fit(X_head, y, sample_weight=weights)
    return TriageModel(featurizer=featurizer, heads=heads, version=version)


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


def train(
    output_dir: Path,
    *,
    data_dir: Path,
    config_path: Path | None = None,
    overrides: Iterable[str] = (),
    version: str | None = None,
    extra_examples: Sequence[Example] = (),
) -> TrainResult:
    """Train all heads from ``data_dir`` (plus ``extra_examples``) and write ``output_dir``."""
    started = time.perf_counter()
    config = load_config(config_path or DEFAULT_CONFIG, overrides)
    version = version or dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    examples = load_examples(data_dir)
    train_set, test_set = group_split(examples, config["split"]["test_size"], config["split"]["seed"])
    train_set = [*train_set, *extra_examples]
    warnings: list[str] = []
    for head in HEADS:
        warnings += validate_labels(
            train_set,
            head,
            allowed_labels(head, catalogue.codes),
            min_per_class=config["data"]["min_per_class"],
        )
    model = fit_model(train_set, config, version=version)
    metrics = evaluate_heads(model, test_set)
    model.meta = {
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data_hash": file_hash([Path(data_dir) / MESSAGES_FILE, Path(data_dir) / ANNOTATIONS_FILE]),
        "rows": {
            "letters": len(examples),
            "train": len(train_set),
            "test": len(test_set),
            "extra": len(extra_examples),
            **{f"train_{h}": sum(e.label(h) is not None for e in train_set) for h in HEADS},
            **{f"test_{h}": sum(e.label(h) is not None for e in test_set) for h in HEADS},
        },
        "label_distribution": {
            h: dict(Counter(str(e.label(h)) for e in train_set if e.label(h) is not None)) for h in HEADS
        },
        "split": {**config["split"], "by": "group", "test_ids_hash": file_hash_ids(test_set)},
        "metrics": metrics,
        "warnings": warnings,
    }
    save_model(
        model,
        output_dir,
        config_text=dump_toml(config),
        userdict_text=DEFAULT_USER_DICT.read_text(encoding="utf-8"),
    )
    return TrainResult(output_dir, model, metrics, warnings, time.perf_counter() - started)


def file_hash_ids(examples: Sequence[Example]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(e.id for e in examples).encode()).hexdigest()


__all__ = ["TrainResult", "evaluate_heads", "fit_model", "letter_text", "train"]
