"""Evaluate a model folder on its own held-out letters, through the router, and write the report.

Everything is measured on route proposals made by :meth:`routing.router.Router.propose_many`, the
code path officers see: each head's own top-1 (``HeadPrediction.top[0]``, before the
confidentiality rule moves the department), the final channel and department of the proposal,
and, separately, the rule layer alone (:mod:`training.rule_eval`).

The held-out letters are rebuilt from ``meta.json`` (split seed and share, data hash, the
decisions' cut-off) and checked against the recorded ``test_ids_hash``, so an evaluation is on
exactly the letters the model was held out from, or it fails and says why.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier.embeddings import EmbeddingCache, LetterFeatures
from classifier.persistence import read_meta
from routing.engine import primary_channel_hit
from routing.proposal import ProposalConfig
from routing.router import Router
from routing.schemas import Letter, RouteProposal
from training.datasets import (
    Example,
    data_files,
    file_hash,
    group_split,
    ids_hash,
    load_training_data,
    read_decisions,
)
from training.errors import TrainingError
from training.metrics import classification_metrics, format_table
from training.report import write_report
from training.rule_eval import LabelledLetter, evaluate_rules, gold_facts
from training.versions import resolve_model_dir

EVALUATION_FILE = "evaluation.json"
REPORT_FILE = "report.html"
BATCH = 256
#: The heads as the proposal reports them, plus the proposal's own final route.
MODEL_HEADS = ("category", "domain", "department", "channel")
FINAL = ("final_channel", "final_department")
THRESHOLDS = tuple(round(x, 2) for x in np.arange(0.0, 1.0001, 0.05))


class SplitMismatchError(TrainingError, ValueError):
    """The held-out letters recorded for a model cannot be rebuilt from the data at hand."""


@dataclass
class Evaluation:
    """The result of :func:`evaluate_model`: the JSON summary and where it was written."""

    model_dir: Path
    summary: dict[str, Any]
    json_path: Path | None = None
    html_path: Path | None = None


# -- the held-out letters ---------------------------------------------------------------------


def rebuild_data(model_dir: Path, *, data_dir: Path, database_url: str | None = None) -> Any:
    """The training data of ``model_dir`` as it was split when the model was trained.

    Raises:
        SplitMismatchError: the data files changed, the decisions are unavailable or changed, or
            the rebuilt held-out letters differ from the recorded ones.
    """
    import datetime as dt

    meta = read_meta(Path(model_dir))
    split = meta.get("split") or {}
    if split.get("method") != "group-hash.v1":
        raise SplitMismatchError(
            f"{model_dir} records no reproducible split (split method {split.get('method')!r}); "
            "retrain it with this version of `xinfang train` to evaluate it"
        )
    here = file_hash(data_files(Path(data_dir)))
    if meta.get("data_hash") != here:
        raise SplitMismatchError(
            f"the data in {data_dir} is not the data {model_dir.name} was trained on (data hash "
            f"{here[:12]} ≠ recorded {str(meta.get('data_hash'))[:12]}). Evaluate with the original "
            "--data-dir, or compare models with `xinfang models promote`, which measures both on the "
            "same letters."
        )
    recorded = meta.get("decisions") or {}
    decisions: list[Any] = []
    cutoff = recorded.get("decided_before")
    if recorded.get("decisions"):
        if not database_url:
            raise SplitMismatchError(
                f"{model_dir.name} was trained with {recorded['decisions']} officers' decisions; give "
                "--database-url (the database they were read from) to rebuild its held-out letters"
            )
        decisions = read_decisions(database_url, decided_before=dt.datetime.fromisoformat(str(cutoff)))
    config = {"split": {"seed": split["seed"], "test_size": split["test_size"]}}
    data = load_training_data(
        Path(data_dir),
        config,
        decisions=decisions,
        decided_before=dt.datetime.fromisoformat(cutoff) if cutoff else None,
    )
    if ids_hash(data.test) != split.get("test_ids_hash"):
        raise SplitMismatchError(
            f"the held-out letters of {model_dir.name} cannot be rebuilt: {len(data.test)} letters now, "
            f"recorded {meta.get('rows', {}).get('test')} with another id hash. Decisions made before "
            f"{cutoff} may have been corrected since. Retrain, or compare with `xinfang models promote`, "
            "which evaluates both models on the letters held out from both."
        )
    return data


def held_out_of(meta: dict[str, Any], examples: Sequence[Example]) -> list[Example]:
    """The letters among ``examples`` that the model of ``meta`` never trained on.

    A letter whose group falls on the training side of that model's split is excluded; so are
    letters that model could not have seen only because they did not exist yet (kept: they are
    held out from it too).
    """
    split = meta.get("split") or {}
    if split.get("method") != "group-hash.v1":
        raise SplitMismatchError(f"model {meta.get('version')} records no reproducible split; retrain it")
    _, test = group_split(list(examples), split["test_size"], split["seed"])
    return test


# -- measuring proposals ----------------------------------------------------------------------


def propose_all(
    router: Router,
    examples: Sequence[Example],
    *,
    progress: Callable[[int, int, str], None] | None = None,
    what: str = "路由留出来信",
) -> list[RouteProposal]:
    """Route ``examples`` through the one code path, in batches; ``progress`` gets the letters
    routed, the letters in all and ``what`` after each batch."""
    letters = [Letter(id=e.id, title=e.title, text=e.text) for e in examples]
    out: list[RouteProposal] = []
    for start in range(0, len(letters), BATCH):
        out.extend(router.propose_many(letters[start : start + BATCH]))
        if progress is not None:
            progress(len(out), len(letters), what)
    return out


def _head_view(p: RouteProposal, head: str) -> tuple[str, float, list[str]]:
    """A head's own top-1 code, its probability and its top codes, read from a proposal."""
    if head == "channel":
        top = list(p.channel_scores)
    elif head == "final_channel":
        return p.channel, p.confidence, [p.channel]
    elif head == "final_department":
        return p.department.label, p.department.p, [p.department.label]
    else:
        top = list(getattr(p, head).top)
    return top[0].code, float(top[0].p), [s.code for s in top]


def reliability(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> dict[str, Any]:
    """Reliability diagram data: accuracy per bin of top-1 probability, and the calibration error."""
    conf = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    rows = []
    ece = 0.0
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        if n:
            acc, mean_conf = float(ok[mask].mean()), float(conf[mask].mean())
            ece += n / len(conf) * abs(acc - mean_conf)
        else:
            acc = mean_conf = None  # type: ignore[assignment]
        rows.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "n": n,
                "accuracy": acc,
                "confidence": mean_conf,
            }
        )
    return {"bins": rows, "ece": float(ece) if len(conf) else None}


def review_curve(confidence: Sequence[float], correct: Sequence[bool]) -> list[dict[str, float | int | None]]:
    """As the threshold moves: the share of letters below it (sent to review) and the accuracy of the rest."""
    conf = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    out: list[dict[str, float | int | None]] = []
    for t in THRESHOLDS:
        kept = conf >= t
        out.append(
            {
                "threshold": float(t),
                "review_share": float(1 - kept.mean()) if len(conf) else None,
                "accuracy_kept": float(ok[kept].mean()) if kept.any() else None,
                "n_kept": int(kept.sum()),
            }
        )
    return out


def measure(proposals: Sequence[RouteProposal], examples: Sequence[Example]) -> dict[str, Any]:
    """Per-class metrics, confusion, top-3, reliability and the review curve of every head."""
    out: dict[str, Any] = {}
    for head in (*MODEL_HEADS, *FINAL):
        gold_field = head.removeprefix("final_")
        rows = [(p, e) for p, e in zip(proposals, examples, strict=True) if e.label(gold_field) is not None]
        y_true = [str(e.label(gold_field)) for _, e in rows]
        views = [_head_view(p, head) for p, _ in rows]
        y_pred = [v[0] for v in views]
        m = classification_metrics(y_true, y_pred, labels=sorted(set(y_true) | set(y_pred)))
        correct = [t == v[0] for t, v in zip(y_true, views, strict=True)]
        if head in MODEL_HEADS:
            m["top3_accuracy"] = (
                float(np.mean([t in v[2][:3] for t, v in zip(y_true, views, strict=True)])) if rows else 0.0
            )
            m["reliability"] = reliability([v[1] for v in views], correct)
            m["review_curve"] = review_curve([v[1] for v in views], correct)
        out[head] = m
    return out


def proposal_summary(
    proposals: Sequence[RouteProposal], examples: Sequence[Example], config: ProposalConfig
) -> dict[str, Any]:
    """What the proposal does as a whole: review share, confidentiality of accusations, the curve."""
    n = len(proposals)
    accusations = [p for p, e in zip(proposals, examples, strict=True) if e.category == "accusation"]
    route_rows = [
        (p, e)
        for p, e in zip(proposals, examples, strict=True)
        if e.channel is not None and e.department is not None
    ]
    route_ok = [p.channel == e.channel and p.department.label == e.department for p, e in route_rows]
    reasons: dict[str, int] = defaultdict(int)
    for p in proposals:
        for r in {r.code for r in p.review_reasons}:
            reasons[r] += 1
    return {
        "letters": n,
        "needs_review_share": float(np.mean([p.needs_review for p in proposals])) if n else 0.0,
        "review_reasons": dict(sorted(reasons.items())),
        "confidential_recall_of_accusations": (
            float(np.mean([p.confidential for p in accusations])) if accusations else None
        ),
        "accusations": len(accusations),
        "route_accuracy": float(np.mean(route_ok)) if route_ok else None,
        "route_letters": len(route_rows),
        "route_review_curve": review_curve([p.confidence for p, _ in route_rows], route_ok),
        "config": config.model_dump(),
    }


# -- the rule layer ---------------------------------------------------------------------------


def _labelled(examples: Sequence[Example], router: Router | None = None) -> list[Any]:
    """Letters with a channel label, with the facts the rules over facts read.

    With ``router``, the facts its model detects (the rule layer as it runs on held-out letters);
    without, the annotated facts (the audit of the rules' logic over every labelled letter).
    """
    labelled = [e for e in examples if e.channel is not None]
    detector = router.model.facts if router is not None else None
    if detector is not None:
        found = detector.detect([(e.title, e.text) for e in labelled])
        facts: list[dict[str, float] | None] = [{t: f.p for t, f in x.items()} for x in found]
    else:
        facts = [gold_facts(e.facts) for e in labelled]
    return [
        LabelledLetter(
            letter=Letter(id=e.id, title=e.title, text=e.text), channel=str(e.channel), group=e.group, facts=f
        )
        for e, f in zip(labelled, facts, strict=True)
    ]


def _score(s: Any) -> dict[str, Any]:
    return {
        "precision": s.precision,
        "recall": s.recall,
        "f1": s.f1,
        "tp": s.tp,
        "predicted": s.predicted,
        "support": s.support,
    }


def rule_layer(router: Router, test: Sequence[Example]) -> dict[str, Any]:
    """The rule layer alone on the held-out letters: per-channel precision/recall/F1."""
    ev = evaluate_rules(router.rulebook, _labelled(test, router))
    labels = sorted(ch for ch, s in ev.channels.items() if s.support or s.predicted)
    return {
        "rulebook_version": ev.rulebook_version,
        "letters": ev.n_letters,
        "coverage": ev.coverage,
        "micro": _score(ev.micro()),
        "per_class": {ch: _score(ev.channels[ch]) for ch in labels},
    }


def rule_audit(
    router: Router,
    examples: Sequence[Example],
    proposals: Sequence[RouteProposal],
    test: Sequence[Example],
) -> dict[str, Any]:
    """Rules that labelled letters contradict, rules that never fired, rules against the model.

    Contradictions and silent rules are counted over every letter with a channel label (officers'
    decisions and annotations, each contradiction says which); rule/model disagreements over the
    held-out letters, where the model had not seen the answer.
    """
    labelled = _labelled(examples)
    ev = evaluate_rules(router.rulebook, labelled)
    source = {e.id: e.source for e in examples}
    contradicted: dict[str, dict[str, Any]] = {}
    for c in ev.contradictions:
        entry = contradicted.setdefault(
            c.rule_id,
            {
                "rule_id": c.rule_id,
                "channel": c.rule_channel,
                "by_officers": [],
                "by_annotation": [],
                "decisive": 0,
            },
        )
        key = "by_officers" if source.get(c.letter_id) == "decision" else "by_annotation"
        entry[key].append({"letter_id": c.letter_id, "gold": c.gold_channel, "matched": c.matched})
        entry["decisive"] += int(c.decisive)
    rules = [
        {
            "rule_id": s.rule_id,
            "kind": s.kind,
            "channel": s.channel,
            "fired": s.fired,
            "agreed": s.agreed,
            "precision": s.precision,
        }
        for s in ev.rules.values()
    ]
    disagreements = []
    for p, e in zip(proposals, test, strict=True):
        hit = primary_channel_hit(p.rule_hits)
        if hit is None or hit.channel is None or not p.channel_scores:
            continue
        model_channel = p.channel_scores[0].code
        category_conflict = any(r.code == "model_rule_disagreement" for r in p.review_reasons)
        if hit.channel != model_channel or category_conflict:
            disagreements.append(
                {
                    "letter_id": e.id,
                    # an officer's decision gave the label: the report counts such letters, never names them
                    "source": source.get(e.id, "annotation"),
                    "rule_id": hit.rule_id,
                    "rule_channel": hit.channel,
                    "model_channel": model_channel,
                    "model_p": p.channel_scores[0].p,
                    "model_category": p.category.label,
                    "gold_channel": e.channel,
                    "right": (
                        None
                        if e.channel is None
                        else "rule"
                        if e.channel == hit.channel
                        else "model"
                        if e.channel == model_channel
                        else "neither"
                    ),
                }
            )
    return {
        "letters": ev.n_letters,
        "contradicted": sorted(
            contradicted.values(), key=lambda r: -(len(r["by_officers"]) + len(r["by_annotation"]))
        ),
        "never_fired": list(ev.never_fired),
        "rules": rules,
        "disagreements": disagreements,
        "disagreement_counts": {
            k: sum(d["right"] == k for d in disagreements) for k in ("rule", "model", "neither", None)
        },
    }


# -- comparing two models ---------------------------------------------------------------------

COMPARED = ("category", "domain", "department", "channel", "final_channel")


def headline(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The numbers promotion compares: accuracy and macro-F1 of each head and the final channel."""
    return {
        h: {"accuracy": metrics[h]["accuracy"], "macro_f1": metrics[h]["macro_f1"]}
        for h in COMPARED
        if h in metrics
    }


def compare_on(candidate: Router, incumbent: Router, examples: Sequence[Example]) -> dict[str, Any]:
    """Both models measured on the same letters."""
    cand = measure(propose_all(candidate, examples), examples)
    inc = measure(propose_all(incumbent, examples), examples)
    return _comparison(headline(cand), headline(inc), len(examples), "evaluated both on the same letters")


def _comparison(cand: dict[str, Any], inc: dict[str, Any], n: int, how: str) -> dict[str, Any]:
    heads = {
        h: {
            "candidate": cand[h],
            "incumbent": inc[h],
            "delta_macro_f1": cand[h]["macro_f1"] - inc[h]["macro_f1"],
            "delta_accuracy": cand[h]["accuracy"] - inc[h]["accuracy"],
        }
        for h in cand
        if h in inc
    }
    return {"letters": n, "how": how, "heads": heads}


def compare_models(
    candidate_dir: Path,
    incumbent_dir: Path,
    *,
    data_dir: Path | None = None,
    database_url: str | None = None,
    rulebook_dir: Path | None = None,
    data: Any = None,
    candidate_router: Router | None = None,
) -> dict[str, Any]:
    """Compare two model folders on the same evaluation letters.

    When both were held out from the same letters (same split method, seed, share and test ids)
    their saved evaluations are compared directly; otherwise both are run on the letters held out
    from *both* (the candidate's held-out set minus what the incumbent trained on).
    """
    cand_meta, inc_meta = read_meta(Path(candidate_dir)), read_meta(Path(incumbent_dir))
    keys = ("method", "seed", "test_size", "test_ids_hash")
    same = all((cand_meta.get("split") or {}).get(k) == (inc_meta.get("split") or {}).get(k) for k in keys)
    saved = [_saved_summary(Path(d)) for d in (candidate_dir, incumbent_dir)]
    if same and saved[0] is not None and saved[1] is not None:
        return {
            **_comparison(
                headline(saved[0]["heads"]),
                headline(saved[1]["heads"]),
                saved[0]["proposal"]["letters"],
                "same held-out letters (saved evaluations)",
            ),
            "same_split": True,
        }
    if data is None:
        if data_dir is None:
            raise TrainingError("comparing models with different held-out letters needs --data-dir")
        data = rebuild_data(Path(candidate_dir), data_dir=data_dir, database_url=database_url)
    how = "evaluated both on the same letters"
    if (inc_meta.get("split") or {}).get("method") == "group-hash.v1":
        common = held_out_of(inc_meta, data.test)
    else:
        # Nothing says what the incumbent trained on; if it saw some of these letters the comparison
        # favours it, so a candidate that still wins is better.
        common = list(data.test)
        how = (
            "evaluated both on this model's held-out letters; the model in service records no split and "
            "may have trained on some of them, which favours it"
        )
    if not common:
        raise SplitMismatchError(
            f"no letter is held out from both {Path(candidate_dir).name} and {Path(incumbent_dir).name}; "
            "retrain the candidate with the incumbent's split seed (--set split.seed=...) to compare them"
        )
    cand_router = candidate_router or Router.load(Path(candidate_dir), rulebook_dir=rulebook_dir)
    inc_router = Router.load(Path(incumbent_dir), rulebook_dir=rulebook_dir)
    return {**compare_on(cand_router, inc_router, common), "how": how, "same_split": same}


def _saved_summary(model_dir: Path) -> dict[str, Any] | None:
    path = model_dir / EVALUATION_FILE
    if not path.exists():
        return None
    try:
        summary: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary


# -- the whole evaluation ---------------------------------------------------------------------


def evaluate_model(
    model_dir: Path,
    *,
    data_dir: Path,
    database_url: str | None = None,
    data: Any = None,
    models_dir: Path | None = None,
    rulebook_dir: Path | None = None,
    output_dir: Path | None = None,
    cache: EmbeddingCache | None = None,
    write: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> Evaluation:
    """Evaluate ``model_dir`` on its held-out letters and write ``evaluation.json`` and ``report.html``.

    Args:
        model_dir: the model folder.
        data_dir: the shared data it was trained on.
        database_url: the database its officers' decisions came from, when it used any.
        data: the training data already in memory (``xinfang train`` passes it).
        models_dir: the registry; the model in service there is compared with this one.
        rulebook_dir: the rulebook to route with (default the shipped one).
        output_dir: where to write the files (default ``model_dir``).
        cache: embedding cache, when the model reads embeddings.
        write: write the files (``False`` only measures).
        progress: called with the held-out letters routed, their number and what is under way,
            for a display of the time left.
    """
    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    if data is None:
        data = rebuild_data(model_dir, data_dir=data_dir, database_url=database_url)
    router = Router.load(model_dir, rulebook_dir=rulebook_dir)
    if cache is not None and isinstance(router.model.featurizer, LetterFeatures):
        router.model.featurizer.set_cache(cache)
    total = len(data.test)

    def stage(what: str) -> None:
        if progress is not None:
            progress(total, total, what)

    if progress is not None:
        progress(0, total, "路由留出来信")
    proposals = propose_all(router, data.test, progress=progress)
    stage("规则层和规则审计")
    summary: dict[str, Any] = {
        "version": meta.get("version"),
        "trained_at": meta.get("trained_at"),
        "features": meta.get("features", "tfidf"),
        "split": meta.get("split"),
        "rows": meta.get("rows"),
        "decisions": meta.get("decisions"),
        "warnings": meta.get("warnings", []),
        "heads": measure(proposals, data.test),
        "proposal": proposal_summary(proposals, data.test, router.config),
        "rule_layer": rule_layer(router, data.test),
        "rule_audit": rule_audit(router, data.examples, proposals, data.test),
        "rule_check": meta.get("rule_check"),
        "comparison": None,
    }
    if models_dir is not None:
        stage("与在用模型比较")
        summary["comparison"] = _compare_with_service(
            model_dir,
            models_dir,
            data=data,
            data_dir=data_dir,
            database_url=database_url,
            rulebook_dir=rulebook_dir,
            router=router,
        )
    evaluation = Evaluation(model_dir, summary)
    if write:
        stage("写报告")
        out = Path(output_dir or model_dir)
        out.mkdir(parents=True, exist_ok=True)
        evaluation.json_path = out / EVALUATION_FILE
        evaluation.json_path.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
        evaluation.html_path = write_report(summary, out / REPORT_FILE)
    return evaluation


def _compare_with_service(
    model_dir: Path, models_dir: Path, *, router: Router, **kwargs: Any
) -> dict[str, Any] | None:
    from classifier.errors import ModelLoadError

    try:
        incumbent = resolve_model_dir(Path(models_dir))
    except ModelLoadError as exc:
        return {"incumbent": None, "note": f"no model in service to compare with ({exc})"}
    if incumbent.resolve() == model_dir.resolve():
        return {"incumbent": incumbent.name, "note": "this model is the one in service"}
    try:
        result = compare_models(model_dir, incumbent, candidate_router=router, **kwargs)
    except (ModelLoadError, TrainingError) as exc:
        return {"incumbent": incumbent.name, "note": f"could not compare: {exc}"}
    return {"incumbent": incumbent.name, **result}


def format_summary(summary: dict[str, Any]) -> str:
    """The evaluation as an analyst reads it in a terminal."""
    lines = [f"model {summary['version']} on {summary['proposal']['letters']} held-out letters"]
    for head, m in summary["heads"].items():
        lines.append(format_table(head, m))
    rl = summary["rule_layer"]
    lines.append(
        f"rule layer alone: coverage {rl['coverage']:.3f}, precision {rl['micro']['precision']:.3f}, "
        f"recall {rl['micro']['recall']:.3f} on {rl['letters']} letters"
    )
    for ch, s in rl["per_class"].items():
        lines.append(f"  {ch:<24}{s['precision']:>7.3f}{s['recall']:>7.3f}{s['f1']:>7.3f}{s['support']:>6}")
    p = summary["proposal"]
    lines.append(
        f"proposal: {p['needs_review_share']:.1%} sent to review; route (channel+department) accuracy "
        f"{_pct(p['route_accuracy'])}; accusations kept confidential "
        f"{_pct(p['confidential_recall_of_accusations'])}"
    )
    audit = summary["rule_audit"]
    lines.append(
        f"rule audit: {len(audit['contradicted'])} rules contradicted by labelled letters, "
        f"{len(audit['never_fired'])} never fired ({', '.join(audit['never_fired']) or '-'}), "
        f"{len(audit['disagreements'])} held-out letters where rule and model disagree"
    )
    comp = summary.get("comparison")
    if comp and comp.get("heads"):
        lines.append(f"against {comp['incumbent']} in service ({comp['how']}, {comp['letters']} letters):")
        for h, c in comp["heads"].items():
            lines.append(
                f"  {h:<16} macro-F1 {c['candidate']['macro_f1']:.3f} vs {c['incumbent']['macro_f1']:.3f} "
                f"({c['delta_macro_f1']:+.3f})"
            )
    elif comp:
        lines.append(f"comparison: {comp.get('note')}")
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


__all__ = [
    "Evaluation",
    "SplitMismatchError",
    "compare_models",
    "evaluate_model",
    "format_summary",
    "measure",
    "propose_all",
    "rebuild_data",
]
