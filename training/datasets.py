"""The training data: real letters with domain labels, and our annotations of a part of them.

The files stay in ``../shared/data`` and are read at training time; nothing of them is copied into
the repository. Near-duplicate letters share a ``group``; every split here is by group.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupShuffleSplit

from classifier.features import letter_text
from routing.catalogue import Catalogue
from training.errors import DataValidationError

MESSAGES_FILE = "messages.csv"
ANNOTATIONS_FILE = "annotations.jsonl"
ANNOTATED_HEADS = ("category", "department", "channel")


@dataclass(frozen=True)
class Example:
    """One letter with whatever labels it has (``None`` where it has none)."""

    id: str
    title: str
    text: str
    group: str
    domain: str | None = None
    category: str | None = None
    department: str | None = None
    channel: str | None = None
    urgent: int | None = None
    multi: int | None = None

    @property
    def full_text(self) -> str:
        return letter_text(self.title, self.text)

    def label(self, head: str) -> str | None:
        value = getattr(self, head)
        return None if value is None else str(value)


def file_hash(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _require(data_dir: Path, name: str) -> Path:
    path = data_dir / name
    if not path.exists():
        raise DataValidationError(
            f"training data file {path} is missing. Point --data-dir (or XINFANG_SHARED_DATA_DIR) at the "
            f"folder holding {MESSAGES_FILE} and {ANNOTATIONS_FILE}."
        )
    return path


def load_examples(data_dir: Path) -> list[Example]:
    """Join ``messages.csv`` and ``annotations.jsonl`` into one list of examples, in file order."""
    data_dir = Path(data_dir)
    annotations: dict[str, dict[str, object]] = {}
    with _require(data_dir, ANNOTATIONS_FILE).open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataValidationError(f"{ANNOTATIONS_FILE}:{number} is not JSON: {exc}") from exc
            annotations[str(record["id"])] = record
    examples = []
    with _require(data_dir, MESSAGES_FILE).open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            ann = annotations.pop(row["id"], {})
            examples.append(
                Example(
                    id=row["id"],
                    title=row["title"] or "",
                    text=row["text"] or "",
                    group=str(row["group"]),
                    domain=row.get("domain") or None,
                    category=ann.get("category"),  # type: ignore[arg-type]
                    department=ann.get("department"),  # type: ignore[arg-type]
                    channel=ann.get("channel"),  # type: ignore[arg-type]
                    urgent=ann.get("urgent"),  # type: ignore[arg-type]
                    multi=ann.get("multi"),  # type: ignore[arg-type]
                )
            )
    if annotations:
        orphans = sorted(annotations)[:10]
        raise DataValidationError(
            f"{len(annotations)} annotations refer to letters missing from {MESSAGES_FILE}, e.g. {orphans}"
        )
    return examples


def group_split(
    examples: Sequence[Example], test_size: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Split by ``group`` so near-duplicates never sit on both sides."""
    groups = np.array([e.group for e in examples])
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train_idx, test_idx = next(splitter.split(np.zeros(len(examples)), groups=groups))
    train = [examples[i] for i in sorted(train_idx)]
    test = [examples[i] for i in sorted(test_idx)]
    leaked = {e.group for e in train} & {e.group for e in test}
    if leaked:  # GroupShuffleSplit guarantees this; the check guards future changes to the split
        raise DataValidationError(f"groups on both sides of the split: {sorted(leaked)[:10]}")
    return train, test


def duty_examples(catalogue: Catalogue) -> list[tuple[str, str]]:
    """Short pseudo-letters from each department's statement of duties, one per duty.

    They give every department code a few examples, so a department that is rare in the
    annotations (税务局, 退役军人事务局) can still be predicted and calibrated.
    """
    out = []
    for dept in catalogue.departments:
        for duty in dept.duties.replace("，", "、").split("、"):
            duty = duty.strip()
            if duty:
                out.append((f"{dept.name}：{duty}", dept.code))
    return out


def validate_labels(
    examples: Sequence[Example], head: str, allowed: Sequence[str], *, min_per_class: int
) -> list[str]:
    """Check one head's labels; return warnings, raise on errors. Messages name the letter ids."""
    allowed_set = set(allowed)
    bad = [(e.id, e.label(head)) for e in examples if e.label(head) is not None and e.label(head) not in allowed_set]
    if bad:
        raise DataValidationError(
            f"unknown {head} labels {sorted({b[1] for b in bad if b[1]})} in letters {[b[0] for b in bad][:10]}; "
            f"allowed: {sorted(allowed_set)}"
        )
    empty = [e.id for e in examples if e.label(head) is not None and not e.full_text.strip()]
    if empty:
        raise DataValidationError(f"letters with a {head} label but no text: {empty[:10]}")
    counts: dict[str, int] = {}
    for e in examples:
        label = e.label(head)
        if label is not None:
            counts[label] = counts.get(label, 0) + 1
    return [
        f"{head}: class {label!r} has only {n} training examples (< {min_per_class})"
        for label, n in sorted(counts.items())
        if n < min_per_class
    ]
