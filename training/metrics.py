"""Per-class metrics, confusion matrices and top-k accuracy, as plain JSON-ready dicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None
) -> dict[str, Any]:
    labels = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    present = [i for i, n in enumerate(s) if n > 0]
    return {
        "n": len(y_true),
        "accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else 0.0,
        # macro over the classes that occur in the evaluation data: a class with no test letter
        # has no recall to average
        "macro_f1": float(np.mean(f[present])) if present else 0.0,
        "per_class": {
            lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, lab in enumerate(labels)
        },
        "confusion": {
            "labels": labels,
            "matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        },
    }


def top_k_accuracy(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str], k: int) -> float:
    if not len(y_true):
        return 0.0
    index = {c: i for i, c in enumerate(classes)}
    top = np.argsort(-proba, axis=1)[:, :k]
    hits = [index.get(t, -1) in row for t, row in zip(y_true, top, strict=True)]
    return float(np.mean(hits))


def format_table(name: str, metrics: dict[str, Any]) -> str:
    """A readable per-class table for the terminal."""
    lines = [
        f"{name}: n={metrics['n']} accuracy={metrics['accuracy']:.3f} macro-F1={metrics['macro_f1']:.3f}"
    ]
    lines.append(f"  {'label':<24}{'prec':>7}{'rec':>7}{'f1':>7}{'n':>6}")
    for label, m in metrics["per_class"].items():
        lines.append(
            f"  {label:<24}{m['precision']:>7.3f}{m['recall']:>7.3f}{m['f1']:>7.3f}{m['support']:>6}"
        )
    return "\n".join(lines)
