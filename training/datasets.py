"""The training data: real letters with domain labels, our annotations of a part of them, and the
officers' decisions stored in the database.

The files stay in ``../shared/data`` and are read at training time; nothing of them is copied into
the repository. Near-duplicate letters share a ``group``; every split here is by group.

Officers' decisions join the shared letters by their text (:func:`text_key`): a decided letter
whose text is a shared letter's replaces that letter's labels (the officer outranks the
annotator); any other decided letter is a new example whose group is its text, so two
registrations of the same letter never sit on both sides of the split.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from classifier.features import letter_text, preprocess
from routing.catalogue import Catalogue
from routing.codes import Channel
from routing.schemas import Letter
from training.errors import DataValidationError, TrainingError

MESSAGES_FILE = "messages.csv"
ANNOTATIONS_FILE = "annotations.jsonl"
# Optional files: a data folder without them trains on the two above alone.
CANDIDATES_FILE = "annotations_candidates.jsonl"  # more letters, rich in statutory matters, with facts
FACTS_FILE = "facts.jsonl"  # legal facts (and a second annotator's labels) for annotations.jsonl
UNLABELLED_FILE = "unlabeled_messages.csv"  # the text of the candidates' ``u…`` ids
# Hand-written letters whose route was checked against the law: they teach the channel arbiter the
# statute's distinctions (classifier/arbiter.py) and are never letters of the split.
ROUTING_CASES_FILE = "routing_cases.jsonl"
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
    # 1 where the letter mainly asks for information or an explanation (ANNOTATION.md §4).
    consultation: int | None = None
    source: str = "annotation"  # "annotation" (shared data) or "decision" (an officer's final decision)
    # Legal facts the letter states: tag -> an exact quote of the title or text (FACTS.md). None when
    # the letter was not annotated for facts (an empty mapping: annotated, no fact stated).
    facts: Mapping[str, str] | None = None
    # The second annotator's labels where the letter was labelled twice; a disagreement marks a
    # hard or noisy letter (the first pass stays the label).
    second: Mapping[str, Any] | None = None

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


def _read_jsonl(path: Path) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataValidationError(f"{path.name}:{number} is not JSON: {exc}") from exc
            if not isinstance(record, dict) or "id" not in record:
                raise DataValidationError(f"{path.name}:{number} is not an object with an 'id'")
            records[str(record["id"])] = record
    return records


def data_files(data_dir: Path) -> list[Path]:
    """The files a training run reads from ``data_dir`` (the optional ones only where present)."""
    data_dir = Path(data_dir)
    optional = [data_dir / n for n in (CANDIDATES_FILE, FACTS_FILE, UNLABELLED_FILE, ROUTING_CASES_FILE)]
    return [data_dir / MESSAGES_FILE, data_dir / ANNOTATIONS_FILE, *(p for p in optional if p.exists())]


def _facts(record: Mapping[str, Any]) -> dict[str, str] | None:
    facts = record.get("facts")
    return None if facts is None else {str(k): str(v) for k, v in facts.items()}


def load_examples(data_dir: Path) -> list[Example]:
    """Join the shared letters and every annotation of them into one list of examples.

    ``messages.csv`` rows come first, in file order, with the labels of ``annotations.jsonl`` or
    ``annotations_candidates.jsonl`` and the facts of ``facts.jsonl`` where they have any; then the
    candidates whose text is in ``unlabeled_messages.csv`` (ids ``u…``). Such a letter has no
    ``group`` of its own: it takes the group of a shared letter with the same text, or its id.
    """
    data_dir = Path(data_dir)
    annotations = _read_jsonl(_require(data_dir, ANNOTATIONS_FILE))
    candidates = _read_jsonl(data_dir / CANDIDATES_FILE) if (data_dir / CANDIDATES_FILE).exists() else {}
    facts = _read_jsonl(data_dir / FACTS_FILE) if (data_dir / FACTS_FILE).exists() else {}
    both = sorted(set(annotations) & set(candidates))
    if both:
        raise DataValidationError(
            f"letters annotated in both {ANNOTATIONS_FILE} and {CANDIDATES_FILE}: {_ids(both)}; keep one"
        )
    labelled = {**annotations, **candidates}

    def example(row: Mapping[str, Any], group: str, domain: str | None) -> Example:
        ann = labelled.pop(str(row["id"]), {})
        fact_record = facts.pop(str(row["id"]), {})
        return Example(
            id=str(row["id"]),
            title=row["title"] or "",
            text=row["text"] or "",
            group=group,
            domain=domain,
            category=ann.get("category"),
            department=ann.get("department"),
            channel=ann.get("channel"),
            urgent=ann.get("urgent"),
            multi=ann.get("multi"),
            consultation=ann.get("consultation"),
            facts=_facts(ann) if "facts" in ann else _facts(fact_record),
            second=fact_record.get("second"),
        )

    examples = []
    groups_by_text: dict[str, str] = {}
    with _require(data_dir, MESSAGES_FILE).open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            e = example(row, str(row["group"]), row.get("domain") or None)
            groups_by_text.setdefault(text_key(e.title, e.text), e.group)
            examples.append(e)
    wanted = {i for i in labelled if i.startswith("u")}
    if wanted:
        with _require(data_dir, UNLABELLED_FILE).open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if row["id"] in wanted:
                    key = text_key(row["title"] or "", row["text"] or "")
                    examples.append(example(row, groups_by_text.get(key, f"u:{row['id']}"), None))
    orphans = sorted(labelled) + sorted(facts)
    if orphans:
        raise DataValidationError(
            f"{len(orphans)} annotations refer to letters missing from {MESSAGES_FILE} / "
            f"{UNLABELLED_FILE}, e.g. {orphans[:10]}"
        )
    return examples


def load_unlabelled_texts(data_dir: Path) -> list[str]:
    """The texts (title and body, as :attr:`Example.full_text`) of ``unlabeled_messages.csv``.

    Letters without labels, read for the TF-IDF vocabulary and IDF only. The file is optional: a
    data folder without it gives an empty list.
    """
    path = Path(data_dir) / UNLABELLED_FILE
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        return [letter_text(row["title"] or "", row["text"] or "") for row in csv.DictReader(f)]


@dataclass(frozen=True)
class RoutingCase:
    """A hand-written letter with the route the law gives it (``routing_cases.jsonl``)."""

    letter: Letter
    channel: str
    disposition: str
    trap: bool  # a statutory word in a role that must not change the route
    urgent: bool
    confidential: bool
    multi: bool = False  # several unrelated matters (第二十四条)


def load_routing_cases(data_dir: Path) -> list[RoutingCase]:
    """The routing cases of ``data_dir`` (none when the file is absent: they are optional).

    Raises:
        DataValidationError: a case without a known channel, or a letter field out of range.
    """
    path = Path(data_dir) / ROUTING_CASES_FILE
    if not path.exists():
        return []
    known = {c.value for c in Channel}
    cases = []
    for case_id, record in _read_jsonl(path).items():
        expect = record.get("expect") or {}
        if expect.get("channel") not in known:
            raise DataValidationError(f"{path.name}: case {case_id} has no known expect.channel")
        received = record.get("received_on")
        try:
            letter = Letter(
                id=case_id,
                title=record.get("title") or "",
                text=record.get("text") or "",
                form=record.get("form") or "letter",
                visitors=record.get("visitors"),
                received_on=dt.date.fromisoformat(received) if received else None,
            )
        except (ValueError, ValidationError) as exc:
            raise DataValidationError(f"{path.name}: case {case_id}: {exc}") from exc
        cases.append(
            RoutingCase(
                letter=letter,
                channel=str(expect["channel"]),
                disposition=str(expect.get("disposition") or ""),
                trap=bool(record.get("trap")),
                urgent=bool(expect.get("urgent")),
                confidential=bool(expect.get("confidential")),
                multi=bool(expect.get("multi")),
            )
        )
    return cases


def in_test(group: str, test_size: float, seed: int) -> bool:
    """Whether ``group`` is held out: a seeded hash of the group, compared with ``test_size``.

    A group's side depends only on the group, the seed and the share, not on which other letters
    exist; so adding officers' decisions never moves a shared letter across the split, and every
    model trained with the same seed is measured on the same shared letters.
    """
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < test_size


def group_split(
    examples: Sequence[Example], test_size: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Split by ``group`` so near-duplicates never sit on both sides; order is kept."""
    if not 0.0 < test_size < 1.0:
        raise DataValidationError(f"split.test_size must be between 0 and 1 (exclusive), got {test_size}")
    side = {g: in_test(g, test_size, seed) for g in {e.group for e in examples}}
    train = [e for e in examples if not side[e.group]]
    test = [e for e in examples if side[e.group]]
    return train, test


def ids_hash(examples: Iterable[Example]) -> str:
    """A fingerprint of a set of letters (their ids, sorted): the split recorded in ``meta.json``."""
    return hashlib.sha256("\n".join(sorted(e.id for e in examples)).encode()).hexdigest()


def text_key(title: str, text: str) -> str:
    """The identity of a letter's text, after normalisation (full-width forms, white space)."""
    return hashlib.sha256(preprocess(letter_text(title, text)).encode("utf-8")).hexdigest()


class DecisionLabel(Protocol):
    """What training reads from a stored decision (``store.letters.TrainingLabel``)."""

    @property
    def letter_id(self) -> int: ...
    @property
    def case_number(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def domain(self) -> str: ...
    @property
    def department(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def decision_id(self) -> int: ...
    @property
    def corrected(self) -> bool: ...


@dataclass(frozen=True)
class MergeReport:
    """How the officers' decisions joined the shared letters."""

    decisions: int = 0
    replaced: tuple[str, ...] = ()  # shared letter ids whose labels an officer's decision replaced
    added: int = 0
    corrected: int = 0  # decisions that are corrections of an earlier decision

    def as_dict(self) -> dict[str, Any]:
        return {
            "decisions": self.decisions,
            "replaced_shared_labels": len(self.replaced),
            "replaced_ids": list(self.replaced[:50]),
            "added_letters": self.added,
            "corrections": self.corrected,
        }


def merge_decisions(
    examples: Sequence[Example], decisions: Sequence[DecisionLabel]
) -> tuple[list[Example], MergeReport]:
    """Join officers' final decisions to the shared letters by text; decisions outrank annotations.

    Args:
        examples: the shared letters (:func:`load_examples`).
        decisions: one final decision per letter (``store.letters.decisions_for_training``: the
            newest decision of a letter, so a correction already outranks what it corrects).

    Returns:
        The shared letters, with the labels of the decided ones replaced, followed by the decided
        letters that are not in the shared data (id ``db:<case number>``, group by text), and a
        report of what was joined.
    """
    by_text: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        by_text[text_key(e.title, e.text)].append(i)
    out = list(examples)
    added: list[Example] = []
    replaced: list[str] = []
    for d in decisions:
        key = text_key(d.title, d.text)
        matches = by_text.get(key, [])
        for i in matches:
            out[i] = dataclasses.replace(
                out[i],
                source="decision",
                category=d.category,
                domain=d.domain,
                department=d.department,
                channel=d.channel,
            )
            replaced.append(out[i].id)
        if not matches:
            added.append(
                Example(
                    id=f"db:{d.case_number}",
                    title=d.title,
                    text=d.text,
                    group=f"text:{key[:20]}",
                    source="decision",
                    category=d.category,
                    domain=d.domain,
                    department=d.department,
                    channel=d.channel,
                )
            )
    report = MergeReport(
        decisions=len(decisions),
        replaced=tuple(replaced),
        added=len(added),
        corrected=sum(bool(d.corrected) for d in decisions),
    )
    return out + added, report


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


def _ids(ids: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" … and {len(ids) - limit} more" if len(ids) > limit else "")


def validate_examples(
    train: Sequence[Example],
    test: Sequence[Example],
    allowed: dict[str, Sequence[str]],
    *,
    min_per_class: int,
    min_to_fit: dict[str, int],
    extra_counts: dict[str, dict[str, int]] | None = None,
) -> list[str]:
    """Check the data before training; raise on what makes training wrong, return warnings.

    Errors (:class:`DataValidationError`, naming the letters): duplicate ids, letters without text,
    labels outside a head's label set, a class with fewer training examples than the head needs to
    be fitted and calibrated (``min_to_fit[head]``). Warnings: a class with fewer than
    ``min_per_class`` examples, and the same text on both sides of the split.

    Args:
        train: the training side of the split.
        test: the held-out side.
        allowed: head -> its label codes.
        min_per_class: below this many training examples a class is reported as scarce.
        min_to_fit: head -> the fewest examples per class its classifier can be fitted with.
        extra_counts: head -> label -> examples added outside the letters (department duties).
    """
    every = [*train, *test]
    seen: dict[str, int] = defaultdict(int)
    for e in every:
        seen[e.id] += 1
    dupes = sorted(i for i, n in seen.items() if n > 1)
    if dupes:
        raise DataValidationError(f"letter ids occur more than once: {_ids(dupes)}; ids must be unique")
    empty = [e.id for e in every if not e.full_text.strip()]
    if empty:
        raise DataValidationError(
            f"{len(empty)} letters have neither title nor text: {_ids(empty)}. Remove them from the data "
            "or correct the registration; an empty letter cannot teach a head anything."
        )
    warnings: list[str] = []
    for head, labels in allowed.items():
        allowed_set = set(labels)
        bad: dict[str, list[str]] = defaultdict(list)
        for e in every:
            label = e.label(head)
            if label is not None and label not in allowed_set:
                bad[label].append(e.id)
        if bad:
            detail = "; ".join(f"{label!r} in {_ids(ids)}" for label, ids in sorted(bad.items()))
            raise DataValidationError(
                f"unknown {head} labels: {detail}. Allowed: {', '.join(sorted(allowed_set))}. "
                "Correct the labels (or add the code to the label set) and train again."
            )
        counts: dict[str, int] = defaultdict(int)
        for e in train:
            label = e.label(head)
            if label is not None:
                counts[label] += 1
        for label, n in (extra_counts or {}).get(head, {}).items():
            counts[label] += n
        if len(counts) < 2:
            raise DataValidationError(
                f"head {head!r} has {len(counts)} class(es) in the training data ({sorted(counts)}); "
                "it needs at least two. Add labelled letters."
            )
        need = min_to_fit.get(head, 1)
        too_few = {label: n for label, n in counts.items() if n < need}
        if too_few:
            detail = ", ".join(f"{label} ({n})" for label, n in sorted(too_few.items()))
            raise DataValidationError(
                f"head {head!r}: classes with fewer than {need} training examples, the least its "
                f"calibration can be fitted with: {detail}. Add letters, lower "
                f"heads.{head}.calibration_cv, or merge the classes."
            )
        warnings += [
            f"{head}: class {label!r} has only {n} training examples (< data.min_per_class={min_per_class})"
            for label, n in sorted(counts.items())
            if n < min_per_class
        ]
    train_texts: dict[str, str] = {text_key(e.title, e.text): e.id for e in train}
    crossing = [f"{e.id}={train_texts[k]}" for e in test if (k := text_key(e.title, e.text)) in train_texts]
    if crossing:
        warnings.append(
            f"{len(crossing)} held-out letters have the same text as a training letter (test=train): "
            f"{_ids(crossing)}; give them one group in the data so they stay on one side"
        )
    return warnings


# -- the training data of one model: shared letters joined with officers' decisions, split --------


@dataclass
class TrainingData:
    """The letters a model is trained and measured on, and where they came from."""

    examples: list[Example]
    train: list[Example]
    test: list[Example]
    data_hash: str
    merge: MergeReport
    decided_before: str | None  # ISO time: decisions read were final before this

    def provenance(self) -> dict[str, Any]:
        return {
            "data_hash": self.data_hash,
            "decisions": {**self.merge.as_dict(), "decided_before": self.decided_before},
        }


def read_decisions(database_url: str, *, decided_before: dt.datetime | None = None) -> list[DecisionLabel]:
    """The officers' final decisions stored in ``database_url`` (never the proposals).

    Raises:
        TrainingError: the database cannot be opened or has no xinfang schema.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from store.db import make_engine, make_session_factory, session_scope
    from store.errors import StoreError
    from store.letters import decisions_for_training

    try:
        engine = make_engine(database_url)
    except StoreError as exc:
        raise TrainingError(str(exc)) from exc
    try:
        with session_scope(make_session_factory(engine)) as session:
            return list(decisions_for_training(session, decided_before=decided_before))
    except SQLAlchemyError as exc:
        raise TrainingError(
            f"cannot read officers' decisions from the database: {type(exc).__name__}: {exc}. "
            "Check --database-url, run `xinfang db upgrade`, or train without them (--no-database)."
        ) from exc
    finally:
        engine.dispose()


def load_training_data(
    data_dir: Path,
    config: dict[str, Any],
    *,
    decisions: Sequence[DecisionLabel] = (),
    decided_before: dt.datetime | None = None,
    extra_examples: Sequence[Example] = (),
) -> TrainingData:
    """Shared letters joined with the decisions, split by group with the config's seed."""
    examples = load_examples(data_dir)
    examples, merge = merge_decisions(examples, decisions)
    examples = [*examples, *extra_examples]
    train_set, test_set = group_split(examples, config["split"]["test_size"], config["split"]["seed"])
    return TrainingData(
        examples=examples,
        train=train_set,
        test=test_set,
        data_hash=file_hash(data_files(Path(data_dir))),
        merge=merge,
        decided_before=decided_before.isoformat() if decided_before else None,
    )
