"""Benchmark of statutory routing: the fact layer, the final channel, the review flag, the hand-written cases.

Run from the project root::

    .venv/bin/python bench/statutory.py [--model models/default] [--baseline-model DIR]
        [--baseline-rev REV] [--data-dir ../shared/data] [--no-write] [--details]

Every number is measured on letters the model never saw: the group-held-out side of the split its
``meta.json`` records (all annotated letters of that side, the statutory-rich candidates included)
and the hand-written ``routing_cases.jsonl``. The baseline is a model and rulebook of an earlier
commit (``--baseline-model`` and the rulebook at ``--baseline-rev``) measured in the same run on
the same letters. It replaces the ``## Statutory routing`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import copy
import gc
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import SHARED_DATA, machine, markdown_table, replace_section  # noqa: E402
from bench.core import held_out  # noqa: E402
from classifier.facts import LETTER_HEADS  # noqa: E402
from classifier.features import letter_text  # noqa: E402
from classifier.persistence import read_meta  # noqa: E402
from routing.codes import Channel  # noqa: E402
from routing.router import Router  # noqa: E402
from routing.schemas import Letter, RouteProposal  # noqa: E402
from training.datasets import Example, RoutingCase, load_examples, load_routing_cases  # noqa: E402
from training.routing_cases import case_results, prompts_several_matters, put_before_officer  # noqa: E402

SECTION = "## Statutory routing"
GOAL_PRECISION, GOAL_RECALL = 0.80, 0.90
STATUTORY = (Channel.litigation, Channel.arbitration, Channel.administrative_review, Channel.discipline)
ROUTED_AWAY = (*STATUTORY, Channel.personnel_appeal)


def route(router: Router, letters: Sequence[Letter]) -> list[RouteProposal]:
    out: list[RouteProposal] = []
    for i in range(0, len(letters), 256):
        out += router.propose_many(letters[i : i + 256])
    return out


class PlainBaseline:
    """The plain baseline the heads are held against, as a router: the letter's word and character
    TF-IDF (the shipped model's fitted featurizer without the title's own block) and one uncalibrated
    ``LinearSVC`` per head, fitted on the training side of the split. What it costs to route a
    letter with nothing but features and four linear heads, measured beside the whole pipeline."""

    def __init__(self, router: Router, train: Sequence[Example]) -> None:
        from sklearn.svm import LinearSVC

        # The letter's words and characters alone: the shipped featurizer without the title's block.
        self.featurizer = copy.copy(router.model.featurizer)
        self.featurizer.lead_weight, self.featurizer.lead_ = 0.0, None
        self.heads: dict[str, Any] = {}
        X = self.featurizer.transform([e.full_text for e in train])
        for head in ("category", "domain", "department", "channel"):
            labelled = [(i, e.label(head)) for i, e in enumerate(train) if e.label(head) is not None]
            rows, y = [i for i, _ in labelled], [label for _, label in labelled]
            self.heads[head] = LinearSVC(dual="auto", random_state=0).fit(X[rows], y)

    def propose_many(self, letters: Sequence[Letter]) -> list[dict[str, str]]:
        X = self.featurizer.transform([letter_text(x.title, x.text) for x in letters])
        picked = {h: m.classes_[m.decision_function(X).argmax(axis=1)] for h, m in self.heads.items()}
        return [{h: str(v[i]) for h, v in picked.items()} for i in range(len(letters))]


def cpu_seconds(router: Router | PlainBaseline, letters: Sequence[Letter]) -> float:
    start = time.process_time()
    for i in range(0, len(letters), 256):
        router.propose_many(letters[i : i + 256])
    return time.process_time() - start


def speed(
    routers: dict[str, Router | PlainBaseline], letters: Sequence[Letter], *, frozen: bool, passes: int = 3
) -> dict[str, float]:
    """Letters per CPU-second of each router, the best of alternating passes (the machine is shared).

    ``frozen``: as the long-running processes route (the API, batch workers, ``xinfang route
    --jsonl``), with everything loaded moved out of the garbage collector's reach (``gc.freeze()``).
    """
    # Once before the clock: the segmenter's dictionary (shared by every router in the process) and
    # each model's own caches load on first use, which the router timed first would pay alone.
    for r in routers.values():
        r.propose_many(letters[:8])
    if frozen:
        gc.collect()
        gc.freeze()
    try:
        best = {name: float("inf") for name in routers}
        for _ in range(passes):
            for name, r in routers.items():
                best[name] = min(best[name], cpu_seconds(r, letters))
    finally:
        gc.unfreeze()
    return {name: len(letters) / seconds for name, seconds in best.items()}


def pr(gold: Sequence[str], pred: Sequence[str], label: str) -> tuple[float, float, int]:
    tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
    predicted = sum(p == label for p in pred)
    support = sum(g == label for g in gold)
    return (tp / predicted if predicted else 0.0, tp / support if support else 0.0, support)


def bootstrap_pr(
    gold: Sequence[str], pred: Sequence[str], label: str, rounds: int = 2000, seed: int = 0
) -> tuple[tuple[float, float], tuple[float, float]]:
    """95 % percentile intervals of ``label``'s precision and recall, the letters resampled.

    A statutory channel has 13 to 66 held-out letters, so one letter moves its recall by up to 0.08:
    the interval says how far a difference between two routers is from noise. A resample in which
    nothing is predicted (or nothing is gold) as ``label`` has no precision (recall) and is skipped.
    """
    g = np.asarray(gold) == label
    p = np.asarray(pred) == label
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(g), size=(rounds, len(g)))
    tp = (g[idx] & p[idx]).sum(axis=1)
    predicted, support = p[idx].sum(axis=1), g[idx].sum(axis=1)
    precision = tp[predicted > 0] / predicted[predicted > 0]
    recall = tp[support > 0] / support[support > 0]

    def interval(values: np.ndarray) -> tuple[float, float]:
        if not len(values):
            return (0.0, 0.0)
        lo, hi = np.percentile(values, [2.5, 97.5])
        return (float(lo), float(hi))

    return interval(precision), interval(recall)


def review_safety(gold: Sequence[str], proposals: Sequence[RouteProposal]) -> dict[str, float]:
    """How far an officer can trust a proposal the machine did not flag for review."""
    quiet = [(g, p) for g, p in zip(gold, proposals, strict=True) if not p.needs_review]
    statutory = [(g, p) for g, p in zip(gold, proposals, strict=True) if g in ROUTED_AWAY]
    wrong_quiet = [1 for g, p in statutory if p.channel != g and not p.needs_review]
    return {
        "unflagged_right": sum(g == p.channel for g, p in quiet) / len(quiet) if quiet else 0.0,
        "unflagged": len(quiet),
        "review_rate": 1 - len(quiet) / len(proposals) if proposals else 0.0,
        "statutory": len(statutory),
        "statutory_wrong_unflagged": len(wrong_quiet),
    }


def agreement_of(gold: Sequence[str], pred: Sequence[str]) -> float:
    return sum(g == q for g, q in zip(gold, pred, strict=True)) / len(gold) if gold else 0.0


def second_reader(
    examples: Sequence[Example], proposals: Sequence[RouteProposal], everyone: Sequence[Example]
) -> list[str]:
    """The second annotator beside the router, both scored against the first pass (the label).

    Two people with the same guide disagree on some letters, so the first pass is not the truth on
    every letter: how often a second reader agrees with it says how settled the labels are that the
    channel goals and the review flag are measured against. Only letters labelled twice count, on
    both sides; ``everyone`` (all the letters, training side included) gives the second annotator's
    own scores on a larger sample.
    """
    pairs = [(e, p) for e, p in zip(examples, proposals, strict=True) if e.second and e.second.get("channel")]
    if not pairs:
        return []
    gold = [str(e.channel) for e, _ in pairs]
    second = [str(e.second["channel"]) for e, _ in pairs if e.second]
    routed = [p.channel for _, p in pairs]
    rows = []
    for channel in STATUTORY:
        a, r = pr(gold, second, channel), pr(gold, routed, channel)
        rows.append([channel, a[2], f"{a[0]:.2f}", f"{a[1]:.2f}", f"{r[0]:.2f}", f"{r[1]:.2f}"])
    rows.append(
        [
            "every channel (agreement)",
            len(gold),
            "",
            f"{agreement_of(gold, second):.3f}",
            "",
            f"{agreement_of(gold, routed):.3f}",
        ]
    )
    lines = [
        f"The {len(pairs)} held-out letters that a second annotator labelled independently with the same "
        "guide, scored like the router against the first pass:",
        "",
    ]
    lines += markdown_table(
        ["channel", "letters", "second annotator P", "second annotator R", "router P", "router R"],
        rows,
        "lrrrrr",
    )
    quiet = [
        (str(e.channel), str(e.second["channel"]), p.channel)
        for e, p in pairs
        if e.second and not p.needs_review
    ]
    if quiet:
        first, by_second, by_router = zip(*quiet, strict=True)
        lines += [
            "",
            f"Of these letters, the {len(quiet)} the router left unflagged: the second annotator agrees with "
            f"the first pass on {agreement_of(first, by_second):.3f} of them, the router on "
            f"{agreement_of(first, by_router):.3f} (goal of the review flag: 0.97).",
        ]
    twice = [e for e in everyone if e.channel is not None and e.second and e.second.get("channel")]
    if not twice:
        return lines
    all_gold = [str(e.channel) for e in twice]
    all_second = [str(e.second["channel"]) for e in twice if e.second]
    scores = {channel: pr(all_gold, all_second, channel) for channel in STATUTORY}
    short = [f"{c} precision" for c, v in scores.items() if v[0] < GOAL_PRECISION] + [
        f"{c} recall" for c, v in scores.items() if v[1] < GOAL_RECALL
    ]
    lines += [
        "",
        f"On all {len(twice)} letters labelled twice, the second annotator's P / R against the first pass: "
        + "; ".join(f"{c} {v[0]:.2f} / {v[1]:.2f} ({v[2]})" for c, v in scores.items())
        + f"; agreement on the channel {agreement_of(all_gold, all_second):.3f}. "
        + (
            f"A second trained reader of the same guide stays below the goal on {', '.join(short)}."
            if short
            else "A second trained reader of the same guide meets the goal on every statutory channel."
        ),
    ]
    return lines


def second_reader_letter_label(everyone: Sequence[Example], label: str, called: str) -> list[str]:
    """The second annotator's letter label (``urgent``, ``multi``) against the first pass, on every
    letter labelled twice; ``called`` says what the first pass calls those letters."""
    pairs = [
        (bool(getattr(e, label)), bool(e.second[label]))
        for e in everyone
        if getattr(e, label) is not None and e.second and e.second.get(label) is not None
    ]
    marked, first = sum(b for _, b in pairs), sum(a for a, _ in pairs)
    if not marked or not first:
        return []
    both = sum(a and b for a, b in pairs)
    return [
        "",
        f"A second reader: on the {len(pairs)} letters labelled twice (training side included), the second "
        f"annotator marked {both / first:.2f} of the {first} letters the first pass calls {called} "
        f"(precision {both / marked:.2f}).",
    ]


def case_readings(
    cases: Sequence[RoutingCase], proposals: Sequence[RouteProposal], wrong: Sequence[Sequence[str]]
) -> list[str]:
    """Why each case is still wrong: what the rules and the fact layer read in it, and where the
    route was lost. Rules and facts never learned from the cases, so their reading is the one the
    cross-validated route stood on; only the arbiter's choice differs between the two."""
    by_id = {str(c.letter.id): (c, p) for c, p in zip(cases, proposals, strict=True)}
    rows = []
    for case_id, want, got in wrong:
        case, proposal = by_id[case_id]
        expected, proposed = want.split("/")[0], got.split("/")[0]
        fired = [h for h in proposal.rule_hits if h.kind != "flag"]
        of = {h.channel for h in fired if h.channel}
        if expected == proposed:
            where = "channel right, disposition not"
        elif expected in of:
            where = "a rule of the expected channel fired; the arbiter chose another"
        elif proposed in of:
            where = "a rule of the proposed channel fired on a word in another role"
        elif expected in ROUTED_AWAY:
            where = "no rule of the expected channel fired"
        else:
            where = "the heads and the arbiter chose it"
        facts = [f"{f.tag} {f.p:.2f}" for f in proposal.facts if f.p >= 0.5]
        rows.append(
            [
                case_id + (" (trap)" if case.trap else ""),
                f"{want} → {got}",
                ", ".join(f"{h.rule_id} ({h.channel or h.disposition})" for h in fired) or "–",
                ", ".join(facts) or "–",
                where,
            ]
        )
    return [
        "Each case still wrong, with what the rules and the fact layer read in it (facts at "
        "probability ≥ 0.5) and where its route was lost:",
        "",
        *markdown_table(
            ["case", "expected → proposed (cross-validated)", "rules fired", "facts", "where"],
            rows,
            "lllll",
        ),
    ]


def letter_of(e: Example) -> Letter:
    return Letter(id=e.id, title=e.title, text=e.text)


def _flagged_urgent(p: RouteProposal) -> bool:
    return bool(p.urgent)


def _flagged_multi(p: RouteProposal) -> bool:
    return any(r.code == "multiple_matters" for r in p.review_reasons)


def signal_rows(
    test: Sequence[Example],
    measured: Mapping[str, Sequence[RouteProposal]],
    label: str,
    signals: Mapping[str, Callable[[RouteProposal], bool]],
) -> list[list[Any]]:
    """Per router and signal: the letters annotated with ``label``, the signal's recall and
    precision on them, and the share of the annotated letters it signals."""
    rows: list[list[Any]] = []
    for name, proposals in measured.items():
        for level, signal in signals.items():
            pairs = [
                (bool(getattr(e, label)), signal(p))
                for e, p in zip(test, proposals, strict=True)
                if getattr(e, label) is not None
            ]
            tp = sum(g and p for g, p in pairs)
            flagged = sum(p for _, p in pairs)
            support = sum(g for g, _ in pairs)
            rows.append(
                [
                    name,
                    level,
                    support,
                    f"{tp / support if support else 0:.2f}",
                    f"{tp / flagged if flagged else 0:.2f}",
                    f"{flagged / len(pairs) if pairs else 0:.2f}",
                ]
            )
    return rows


def signal_section(heading: str, intro: str, letters: str, rows: list[list[Any]]) -> list[str]:
    """A section holding one :func:`signal_rows` table; ``letters`` names the labelled letters."""
    header = ["router", "signal", letters, "recall", "precision", "share signalled"]
    return ["", f"### {heading}", "", intro, "", *markdown_table(header, rows, "llrrrr")]


def fact_scores(router: Router, test: Sequence[Example]) -> list[tuple[str, int, float, float, float]]:
    detector = router.model.facts
    if detector is None:
        return []
    annotated = [e for e in test if e.facts is not None]
    found = detector.detect([(e.title, e.text) for e in annotated])
    rows = []
    for tag in detector.labels:
        if tag in LETTER_HEADS:
            gold = [bool(getattr(e, tag)) for e in annotated]
        else:
            gold = [tag in (e.facts or {}) for e in annotated]
        pred = [f[tag].p >= 0.5 for f in found]
        tp = sum(g and p for g, p in zip(gold, pred, strict=True))
        precision = tp / sum(pred) if sum(pred) else 0.0
        recall = tp / sum(gold) if sum(gold) else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append((tag, sum(gold), precision, recall, f1))
    return rows


def baseline_rulebook(rev: str) -> Path:
    """The rulebook folder as it was at ``rev`` (read from git, written to a temporary folder)."""
    folder = Path(tempfile.mkdtemp(prefix="rulebook-"))
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", rev, "data/rulebook/"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in names:
        text = subprocess.run(
            ["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        (folder / Path(name).name).write_bytes(text)
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    ap.add_argument("--baseline-model", type=Path, default=None)
    ap.add_argument("--baseline-rev", default=None, help="git revision whose rulebook the baseline uses")
    ap.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--details", action="store_true", help="print every hand-written case still wrong")
    args = ap.parse_args(argv)
    if not (args.data_dir / "messages.csv").exists():
        print(f"no training data in {args.data_dir}; give --data-dir", file=sys.stderr)
        return 2

    meta = read_meta(args.model)
    examples = load_examples(args.data_dir)
    train, test, method = held_out(examples, meta["split"])
    test = [e for e in test if e.channel is not None]
    cases = load_routing_cases(args.data_dir)

    routers = {"this model": Router.load(args.model)}
    if args.baseline_model is not None:
        rulebook = baseline_rulebook(args.baseline_rev) if args.baseline_rev else None
        routers["baseline"] = Router.load(args.baseline_model, rulebook_dir=rulebook)
    letters = [letter_of(e) for e in test]
    gold = [str(e.channel) for e in test]
    measured = {name: route(r, letters) for name, r in routers.items()}
    case_proposals = {name: r.propose_many([c.letter for c in cases]) for name, r in routers.items()}
    on_cases = {name: case_results(cases, proposals) for name, proposals in case_proposals.items()}
    # The shipped arbiter learned from the cases; training routed each with an arbiter without it.
    cross_validated = meta.get("routing_cases_cross_validated") or {}

    names = list(routers)
    lines = [
        f"Model `{args.model.name}` (version `{meta.get('version')}`), "
        f"rulebook `{routers['this model'].rulebook.version}`"
        + (
            f"; baseline model `{args.baseline_model}` with the rulebook of `{args.baseline_rev}`"
            if args.baseline_model
            else ""
        )
        + f". Measured by `bench/statutory.py` on the {len(test)} annotated letters of the held-out side "
        "of the "
        f"split in the model's `meta.json` ({method}; statutory-rich candidates included, so rare routes "
        f"are over-represented against the raw stream) and on the {len(cases)} hand-written cases of "
        f"`routing_cases.jsonl`. {machine()}.",
        "",
        "### Channels of the final proposal (held-out letters)",
        "",
    ]
    header = (
        ["channel", "letters"]
        + [f"{n} P" for n in names]
        + [f"{n} R" for n in names]
        + ["this model P, 95 %", "this model R, 95 %"]
    )
    rows = []
    routed = [p.channel for p in measured["this model"]]
    for channel in [c.value for c in Channel]:
        scores = [pr(gold, [p.channel for p in measured[n]], channel) for n in names]
        (p_lo, p_hi), (r_lo, r_hi) = bootstrap_pr(gold, routed, channel)
        rows.append(
            [channel + (" *" if channel in STATUTORY else ""), scores[0][2]]
            + [f"{s[0]:.2f}" for s in scores]
            + [f"{s[1]:.2f}" for s in scores]
            + [f"{p_lo:.2f}–{p_hi:.2f}", f"{r_lo:.2f}–{r_hi:.2f}"]
        )
    lines += markdown_table(header, rows, "lr" + "r" * (2 * len(names) + 2))
    lines += [
        "",
        "`*` = goal recall ≥ 0.90 and precision ≥ 0.80. The last two columns are 95 % intervals from "
        "2,000 bootstrap resamples of the letters.",
        "",
        "### The review flag",
        "",
    ]
    safety = {n: review_safety(gold, measured[n]) for n in names}
    lines += markdown_table(
        ["measure", *names],
        [
            [
                "unflagged proposals with the right channel",
                *[f"{safety[n]['unflagged_right']:.3f}" for n in names],
            ],
            ["share of letters flagged for review", *[f"{safety[n]['review_rate']:.2f}" for n in names]],
            [
                "statutory letters routed wrong without a flag",
                *[f"{safety[n]['statutory_wrong_unflagged']} / {safety[n]['statutory']}" for n in names],
            ],
        ],
        "l" + "r" * len(names),
    )
    arbiter = routers["this model"].model.arbiter
    if arbiter is not None:
        from routing.proposal import ProposalConfig

        own = float(getattr(arbiter, "review_below_", 0.5))
        lines += [
            "",
            f"The same, as the arbiter's review threshold moves (this model; its own threshold, chosen on "
            f"cross-validated training letters, is {own:.2f}):",
            "",
        ]
        curve = []
        router = routers["this model"]
        shipped = router.config
        for threshold in (0.5, 0.6, 0.7, own, 0.9, 0.95):
            router.config = ProposalConfig(route_min_confidence=threshold)
            s = review_safety(gold, router.propose_many(letters))
            curve.append(
                [
                    f"{threshold:.2f}" + (" (shipped)" if threshold == own else ""),
                    f"{s['unflagged_right']:.3f}",
                    f"{s['review_rate']:.2f}",
                    f"{s['statutory_wrong_unflagged']} / {s['statutory']}",
                ]
            )
        router.config = shipped
        lines += markdown_table(
            ["threshold", "unflagged right", "flagged", "statutory wrong, unflagged"], curve, "lrrr"
        )
    lines += [
        "",
        "Goal: ≥ 0.97 right among unflagged proposals and at most 2 % of statutory letters routed wrong "
        "without a flag. *Statutory* here: litigation, arbitration, administrative review, discipline and "
        "personnel appeal.",
        "",
        "### A second reader",
        "",
        *second_reader(test, measured["this model"], examples),
        "",
        "### Hand-written cases (`routing_cases.jsonl`)",
        "",
    ]

    def frac(pair: tuple[int, int]) -> str:
        return f"{pair[0]} / {pair[1]}"

    columns = dict(on_cases)
    if cross_validated.get("right") is not None:
        columns = {"this model, cases held out (cross-validated)": cross_validated, **on_cases}
        lines += [
            f"The arbiter of this model was fitted with the cases (each weighing "
            f"{cross_validated['weight']:g} letters), so its own score on them is in-sample. The first "
            f"column routes each case with an arbiter fitted without it ({cross_validated['folds']} folds, "
            "computed in training and read from `meta.json`): that is the number to compare.",
            "",
        ]
    shown = list(columns)
    lines += markdown_table(
        ["measure", *shown],
        [
            [
                "right on channel and disposition",
                *[f"{columns[n]['right']} / {columns[n]['cases']}" for n in shown],
            ],
            ["traps quiet (route right)", *[frac(columns[n]["traps"]) for n in shown]],
            ["urgent letters flagged", *[frac(columns[n]["urgent"]) for n in shown]],
            ["urgent letters flagged or 可能紧急", *[frac(columns[n]["urgent_signalled"]) for n in shown]],
            ["accusations confidential", *[frac(columns[n]["accusations_confidential"]) for n in shown]],
            ["other letters held confidential", *[str(columns[n]["other_confidential"]) for n in shown]],
            [
                "letters of several matters: flag or 可能一信多事",
                # a model trained before the prompt existed has no such count in its meta.json
                *[
                    frac(columns[n]["multi_signalled"]) if "multi_signalled" in columns[n] else "–"
                    for n in shown
                ],
            ],
        ],
        "l" + "r" * len(shown),
    )
    wrong = columns[shown[0]]["wrong"]
    by_kind = Counter(f"{want} → {got}" for _, want, got in wrong)
    lines += [
        "",
        "Cases still wrong in the first column (expected → proposed, count): "
        + ("; ".join(f"{k} ({v})" for k, v in by_kind.most_common()) or "none")
        + ".",
    ]
    if wrong:
        lines += ["", *case_readings(cases, case_proposals["this model"], wrong)]
    # the watch levels' settings as this model was trained with them
    watch = tomllib.loads((args.model / "config.toml").read_text(encoding="utf-8"))["arbiter"]
    lines += signal_section(
        "Urgent letters (held-out letters annotated for urgency)",
        "Two levels: the 第二十五条 flag (an urgent rule fired) and, below it, the review prompt "
        f"可能紧急 (learned urgency at the level that caught {watch['urgent_recall'] * 100:.0f} % of "
        "the urgent letters on out-of-fold readings of the training letters, but never on more than "
        f"{watch['urgent_max_share'] * 100:.0f} % of those letters).",
        "urgent letters",
        signal_rows(
            test, measured, "urgent", {"flag": _flagged_urgent, "flag or 可能紧急": put_before_officer}
        ),
    )
    lines += second_reader_letter_label(examples, "urgent", "urgent")
    facts = fact_scores(routers["this model"], test)
    if facts:
        lines += ["", "### Legal facts (held-out letters annotated for facts, probability ≥ 0.5)", ""]
        lines += markdown_table(
            ["fact", "letters", "precision", "recall", "F1"],
            [[t, n, f"{p:.2f}", f"{r:.2f}", f"{f:.2f}"] for t, n, p, r, f in facts],
            "lrrrr",
        )
        # `multi` is the one head that never reaches its rule's floor; how far two readers agree on it
        # says how much of that is the label's own doubt.
        lines += second_reader_letter_label(examples, "multi", "several unrelated matters (`multi`)")
    lines += signal_section(
        "Several matters (held-out letters annotated for `multi`)",
        "The 第二十四条 flag (R-DS-01, the learned `multi` head at 0.5) and, below it, the review prompt "
        f"可能一信多事 (the head at the level that caught {watch.get('multi_recall', 0) * 100:.0f} % of "
        "such letters on out-of-fold readings of the training letters, but never on more than "
        f"{watch.get('multi_max_share', 0) * 100:.0f} % of those letters).",
        "letters of several matters",
        signal_rows(
            test,
            measured,
            "multi",
            {"flag": _flagged_multi, "flag or 可能一信多事": prompts_several_matters},
        ),
    )
    lines += ["", "### Speed", ""]
    timed: dict[str, Router | PlainBaseline] = {
        **routers,
        "plain baseline": PlainBaseline(routers["this model"], train),
    }
    rates = speed(timed, letters, frozen=False)
    frozen = speed(timed, letters, frozen=True)
    plain, plain_frozen = rates["plain baseline"], frozen["plain baseline"]
    lines += markdown_table(
        ["router", "letters per CPU-second", "× plain baseline", "after `gc.freeze()`", "× plain baseline"],
        [
            [n, f"{rate:.0f}", f"{rate / plain:.2f}", f"{frozen[n]:.0f}", f"{frozen[n] / plain_frozen:.2f}"]
            for n, rate in rates.items()
        ],
        "lrrrr",
    )
    lines += [
        "",
        f"The whole pipeline (`Router.propose_many`, batches of 256, over the {len(letters)} held-out "
        "letters), the best of three passes in CPU time, the routers taking turns. The plain baseline"
        " is the letter's word and character TF-IDF (the shipped featurizer without the title's "
        "block) with one uncalibrated `LinearSVC` per head (category, domain, department, channel) "
        "fitted on the training side: features and four linear heads, nothing else. *After "
        "`gc.freeze()`*: as the server, the batch workers and `xinfang route --jsonl` run, with the "
        "libraries and the loaded model (about 290,000 objects) out of the garbage collector's reach;"
        " with the collector as it starts, its full collections walk them again and again. Goal: at "
        "least 800 letters per CPU-second where the plain baseline routes about 1,200, that is at "
        "least 0.67 × the plain baseline.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.details:
        for case_id, want, got in wrong:
            print(case_id, want, "→", got)
    if not args.no_write:
        replace_section(ROOT / "BENCHMARKS.md", SECTION, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
