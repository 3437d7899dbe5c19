"""The evaluation report: one self-contained HTML file with its plots embedded as base64 PNGs.

Plots are drawn with matplotlib's Agg backend (no display needed). Chinese labels use a Noto CJK
font when one is installed; without one matplotlib draws boxes for them, and the tables beside
each plot still carry the labels as text.

**Letters officers decided are counted, never named.** The report is written once and read later
on the models page by every analyst and supervisor, while whether a letter of the workbench may be
opened depends on the reader and on its newest decision (an analyst gets 404 on an accusation). A
letter labelled by an officer's decision (``db:<case number>``, or a shared letter whose label a
decision replaced, whose text is then a registered letter's) is therefore only counted in the rule
audit, and its id is taken out of the warnings and the rule check's message
(:func:`withhold_letter_ids`). The annotated shared letters, the analysts' own training data, are
named.
"""

from __future__ import annotations

import base64
import html
import io
import re
import warnings
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Source Han Sans SC")


@contextmanager
def _figure(width: float, height: float) -> Iterator[Any]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        # A missing CJK glyph is a cosmetic warning per character; the tables keep the labels.
        warnings.filterwarnings("ignore", message=".*Glyph.*missing.*")
        warnings.filterwarnings("ignore", message=".*findfont.*")
        with plt.rc_context({"font.sans-serif": [*CJK_FONTS, "DejaVu Sans"], "axes.unicode_minus": False}):
            # constrained layout is solved while drawing, so each figure is drawn once, when saved
            fig = plt.figure(figsize=(width, height), dpi=90, layout="constrained")
            try:
                yield fig
            finally:
                plt.close(fig)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plot_head(name: str, metrics: dict[str, Any]) -> str:
    """One figure per head: the confusion matrix (row shares, counts written) and P/R/F1 per class."""
    confusion, per_class = metrics["confusion"], metrics["per_class"]
    labels: list[str] = confusion["labels"]
    matrix = np.asarray(confusion["matrix"], dtype=float)
    bars = [k for k, v in per_class.items() if v.get("support", 1)]
    size = max(3.5, 0.36 * len(labels) + 2)
    with _figure(size + max(4.5, 0.42 * len(bars) + 1.5), size) as fig:
        ax, bx = fig.subplots(1, 2, width_ratios=[size, max(4.5, 0.42 * len(bars) + 1.5)])
        rows = matrix.sum(axis=1, keepdims=True)
        share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
        im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{name}: confusion (row share; numbers are letters)", fontsize=9)
        if len(labels) <= 16:
            for i in range(len(labels)):
                for j in range(len(labels)):
                    if matrix[i, j]:
                        colour = "white" if share[i, j] > 0.6 else "black"
                        ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=6, color=colour)
        fig.colorbar(im, ax=ax, fraction=0.046)
        x = np.arange(len(bars))
        series = (("precision", "#4c78a8"), ("recall", "#f58518"), ("f1", "#54a24b"))
        for k, (metric, colour) in enumerate(series):
            bx.bar(x + (k - 1) * 0.27, [per_class[c][metric] for c in bars], 0.27, label=metric, color=colour)
        bx.set_xticks(x, bars, rotation=60, ha="right", fontsize=7)
        bx.set_ylim(0, 1.05)
        bx.set_title(f"{name}: precision / recall / F1 per class", fontsize=9)
        bx.legend(fontsize=7, ncol=3, loc="lower right")
        return _png(fig)


def plot_reliability(heads: dict[str, Any]) -> str:
    with _figure(5.0, 4.2) as fig:
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfectly calibrated")
        for name, m in heads.items():
            rel = m.get("reliability")
            if not rel:
                continue
            pts = [(b["confidence"], b["accuracy"]) for b in rel["bins"] if b["n"]]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ece = rel["ece"]
                ax.plot(xs, ys, marker="o", ms=3, label=f"{name} (ECE {ece:.3f})")
        ax.set_xlabel("top-1 probability (bin mean)")
        ax.set_ylabel("accuracy in bin")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_title("reliability of the calibrated probabilities", fontsize=9)
        ax.legend(fontsize=7)
        return _png(fig)


def plot_review_curve(heads: dict[str, Any], route_curve: Sequence[dict[str, Any]], current: float) -> str:
    with _figure(6.0, 4.2) as fig:
        ax = fig.add_subplot()
        for name, m in heads.items():
            curve = m.get("review_curve")
            if curve:
                pts = [
                    (c["review_share"], c["accuracy_kept"]) for c in curve if c["accuracy_kept"] is not None
                ]
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, marker=".", ms=3, label=name)
                at = min(curve, key=lambda c: abs(c["threshold"] - current))
                if at["accuracy_kept"] is not None:
                    ax.scatter(
                        [at["review_share"]], [at["accuracy_kept"]], marker="x", color="black", zorder=5
                    )
        pts = [(c["review_share"], c["accuracy_kept"]) for c in route_curve if c["accuracy_kept"] is not None]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, color="black", lw=2, label="route (channel+department) by proposal confidence")
        ax.set_xlabel("share of letters sent to review (probability below the threshold)")
        ax.set_ylabel("accuracy of the letters not sent")
        ax.set_xlim(0, 1)
        ax.set_title(f"accuracy against review share; x = min_confidence {current:.2f}", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
        return _png(fig)


def plot_comparison(comparison: dict[str, Any]) -> str:
    heads = list(comparison["heads"])
    with _figure(6.0, 3.2) as fig:
        ax = fig.add_subplot()
        x = np.arange(len(heads))
        cand = [comparison["heads"][h]["candidate"]["macro_f1"] for h in heads]
        inc = [comparison["heads"][h]["incumbent"]["macro_f1"] for h in heads]
        ax.bar(x - 0.2, inc, 0.4, label=f"in service ({comparison.get('incumbent')})", color="#bab0ac")
        ax.bar(x + 0.2, cand, 0.4, label="this model", color="#4c78a8")
        ax.set_xticks(x, heads, fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("macro-F1")
        ax.set_title(f"against the model in service on {comparison['letters']} letters", fontsize=9)
        ax.legend(fontsize=7)
        return _png(fig)


# -- HTML -------------------------------------------------------------------------------------


def _e(x: Any) -> str:
    return html.escape(str(x))


def _f(x: Any) -> str:
    return "–" if x is None else f"{x:.3f}" if isinstance(x, float) else _e(x)


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{b64}">'


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_f(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


OFFICERS_LETTER = "（办信人员决定的来信）"
# A letter id as the training messages write it, with the label it is quoted with: u04215(ordinary).
_ID_WITH_LABEL = re.compile(r"(?P<id>[A-Za-z0-9][\w:.-]*)(?P<label>\([a-z_]+\))?")


def decided_by_officers(letter_id: str, officer_ids: Collection[str] = ()) -> bool:
    """Is ``letter_id`` a letter whose label an officer's decision gave (so it is counted, not named)?"""
    return letter_id.startswith("db:") or letter_id in officer_ids


def withhold_letter_ids(text: str, officer_ids: Collection[str] = (), *, every_label: bool = False) -> str:
    """``text`` with the ids of letters officers decided replaced, and their labels with them.

    Args:
        officer_ids: shared letters relabelled by a decision (``db:`` ids are always withheld).
        every_label: drop the label quoted with any id too, for a reader who cannot tell which
            shared letters officers relabelled.
    """

    def one(m: re.Match[str]) -> str:
        if decided_by_officers(m.group("id"), officer_ids):
            return OFFICERS_LETTER
        if every_label and m.group("label"):
            return m.group("id")
        return m.group(0)

    return _ID_WITH_LABEL.sub(one, text)


def officer_ids(summary: dict[str, Any]) -> set[str]:
    """The shared letters an evaluation summary knows officers' decisions relabelled."""
    audit = summary.get("rule_audit") or {}
    ids = {i["letter_id"] for r in audit.get("contradicted", []) for i in r.get("by_officers", [])}
    ids |= {d["letter_id"] for d in audit.get("disagreements", []) if d.get("source") == "decision"}
    ids |= set((summary.get("decisions") or {}).get("replaced_ids") or [])
    return ids


def _ids(items: Sequence[dict[str, Any]], limit: int = 30) -> str:
    shown = ", ".join(f"{i['letter_id']}→{i['gold']}" for i in items[:limit])
    return shown + (f" … (+{len(items) - limit})" if len(items) > limit else "")


STYLE = """
body{font-family:"Noto Sans CJK SC",sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right} th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left} h2{border-bottom:2px solid #4c78a8;margin-top:2em}
.warn{background:#fff4e5;padding:.5em 1em;border-left:4px solid #f58518;white-space:pre-wrap}
.head{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
"""


def render_html(summary: dict[str, Any]) -> str:
    """The report for one evaluation summary (``evaluation.json``)."""
    heads: dict[str, Any] = summary["heads"]
    proposal = summary["proposal"]
    current = float(proposal["config"]["min_confidence"])
    model_heads = {k: v for k, v in heads.items() if "reliability" in v}
    split = summary.get("split") or {}
    parts = [
        "<!doctype html><html lang='zh'><head><meta charset='utf-8'>",
        f"<title>xinfang model {_e(summary['version'])}: evaluation</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Model {_e(summary['version'])}</h1>",
        f"<p>Trained {_e(summary.get('trained_at'))}, features <b>{_e(summary.get('features'))}</b>, "
        f"evaluated on {proposal['letters']} held-out letters (split by group, seed "
        f"{_e(split.get('seed'))}, test share {_e(split.get('test_size'))}) through the router, the "
        "code path officers see.</p>",
    ]
    officers = officer_ids(summary)
    if summary.get("warnings"):
        parts.append(
            "<div class='warn'>"
            + "<br>".join(_e(withhold_letter_ids(str(w), officers)) for w in summary["warnings"])
            + "</div>"
        )
    parts.append("<h2>Overview</h2>")
    parts.append(
        _table(
            ["head", "letters", "accuracy", "macro-F1", "top-3", "ECE"],
            [
                [
                    h,
                    m["n"],
                    m["accuracy"],
                    m["macro_f1"],
                    m.get("top3_accuracy"),
                    (m.get("reliability") or {}).get("ece"),
                ]
                for h, m in heads.items()
            ],
        )
    )
    parts.append(
        _table(
            ["proposal", "value"],
            [
                ["sent to review (current thresholds)", proposal["needs_review_share"]],
                ["route accuracy (channel and department)", proposal["route_accuracy"]],
                ["accusations kept confidential (recall)", proposal["confidential_recall_of_accusations"]],
                ["min_confidence", current],
            ]
            + [[f"review reason: {k}", v] for k, v in proposal["review_reasons"].items()],
        )
    )
    comparison = summary.get("comparison")
    parts.append("<h2>Against the model in service</h2>")
    if comparison and comparison.get("heads"):
        parts.append(f"<p>{_e(comparison['how'])}; in service: <b>{_e(comparison['incumbent'])}</b>.</p>")
        parts.append(_img(plot_comparison(comparison), "comparison"))
        parts.append(
            _table(
                [
                    "head",
                    "macro-F1 here",
                    "macro-F1 in service",
                    "Δ",
                    "accuracy here",
                    "accuracy in service",
                    "Δ",
                ],
                [
                    [
                        h,
                        c["candidate"]["macro_f1"],
                        c["incumbent"]["macro_f1"],
                        c["delta_macro_f1"],
                        c["candidate"]["accuracy"],
                        c["incumbent"]["accuracy"],
                        c["delta_accuracy"],
                    ]
                    for h, c in comparison["heads"].items()
                ],
            )
        )
    else:
        parts.append(
            f"<p>{_e((comparison or {}).get('note', 'no registry was given, nothing compared'))}</p>"
        )
    parts.append("<h2>Choosing the review threshold</h2>")
    parts.append(
        "<p>Each curve moves a head's confidence threshold from 0 to 1: letters whose top-1 probability is "
        "below it go to review (x), the rest are routed (y: their accuracy). The black curve does the same "
        "for the proposal's confidence against the whole route. Crosses mark the current "
        "<code>ProposalConfig.min_confidence</code>.</p>"
    )
    parts.append(
        _img(plot_review_curve(model_heads, proposal["route_review_curve"], current), "review curve")
    )
    parts.append(
        _table(
            ["threshold", *[f"{h} review / accuracy" for h in model_heads]],
            [
                [c["threshold"], *[_curve_cell(model_heads[h]["review_curve"][i]) for h in model_heads]]
                for i, c in enumerate(next(iter(model_heads.values()))["review_curve"])
            ]
            if model_heads
            else [],
        )
    )
    parts.append("<h2>Calibration</h2>")
    parts.append(_img(plot_reliability(model_heads), "reliability diagram"))
    parts.append("<h2>Heads</h2>")
    for name, m in heads.items():
        parts.append(f"<h3>{_e(name)}</h3>")
        parts.append(_img(plot_head(name, m), f"{name} confusion and per class"))
        parts.append(
            _table(
                ["label", "precision", "recall", "F1", "support"],
                [
                    [lab, v["precision"], v["recall"], v["f1"], v["support"]]
                    for lab, v in m["per_class"].items()
                ],
            )
        )
    rl = summary["rule_layer"]
    parts.append("<h2>Rule layer alone</h2>")
    parts.append(
        f"<p>Rulebook {_e(rl['rulebook_version'])} on {rl['letters']} held-out letters with a channel: "
        f"it sets a channel for {rl['coverage']:.1%} of them; letters no rule fires on lower recall, "
        "not precision.</p>"
    )
    parts.append(
        _table(
            ["channel", "precision", "recall", "F1", "predicted", "support"],
            [
                [ch, s["precision"], s["recall"], s["f1"], s["predicted"], s["support"]]
                for ch, s in rl["per_class"].items()
            ]
            + [
                [
                    "all (micro)",
                    rl["micro"]["precision"],
                    rl["micro"]["recall"],
                    rl["micro"]["f1"],
                    rl["micro"]["predicted"],
                    rl["micro"]["support"],
                ]
            ],
        )
    )
    parts.append(_rule_audit_html(summary["rule_audit"], summary.get("rule_check"), officers))
    parts.append("</body></html>")
    return "\n".join(parts)


def _curve_cell(c: dict[str, Any]) -> str:
    acc = "–" if c["accuracy_kept"] is None else f"{c['accuracy_kept']:.3f}"
    return f"{c['review_share']:.1%} / {acc}"


def _rule_audit_html(audit: dict[str, Any], check: dict[str, Any] | None, officers: Collection[str]) -> str:
    parts = ["<h2>Rule audit</h2>"]
    if check and not check.get("passed", True):
        parts.append(
            f"<div class='warn'>{_e(withhold_letter_ids(str(check.get('problems')), officers))}</div>"
        )
    parts.append(
        "<p>Letters labelled by officers' decisions are counted, not named: whether a reader may open "
        "a registered letter depends on who reads and on its newest decision.</p>"
    )
    parts.append(f"<h3>Rules contradicted by labelled letters ({audit['letters']} letters replayed)</h3>")
    parts.append(
        _table(
            [
                "rule",
                "sets",
                "contradicted by officers' decisions (letters)",
                "contradicted by annotations",
                "decisive",
            ],
            [
                [
                    r["rule_id"],
                    r["channel"],
                    len(r["by_officers"]) or "–",
                    _ids(r["by_annotation"]) or "–",
                    r["decisive"],
                ]
                for r in audit["contradicted"]
            ],
        )
    )
    parts.append("<h3>Rules that never fired</h3>")
    parts.append(f"<p>{_e(', '.join(audit['never_fired']) or 'none')}</p>")
    rare = (check or {}).get("rare") or {}
    if rare:
        parts.append("<p>Allowed to stay silent, by the rulebook's reason (<code>rare</code>):</p>")
        parts.append(_table(["rule", "why it may never fire here"], [[r, why] for r, why in rare.items()]))
    parts.append("<h3>Every rule</h3>")
    parts.append(
        _table(
            ["rule", "kind", "sets", "fired", "agreed", "precision"],
            [
                [r["rule_id"], r["kind"], r["channel"] or "–", r["fired"], r["agreed"], r["precision"]]
                for r in audit["rules"]
            ],
        )
    )
    counts = audit["disagreement_counts"]
    named = [
        d
        for d in audit["disagreements"]
        if d.get("source") != "decision" and not decided_by_officers(str(d["letter_id"]), officers)
    ]
    parts.append(
        f"<h3>Held-out letters where the rules and the model disagree ({len(audit['disagreements'])})</h3>"
        f"<p>Right by the label: rule {counts.get('rule', 0)}, model {counts.get('model', 0)}, "
        f"neither {counts.get('neither', 0)}. {len(audit['disagreements']) - len(named)} of them "
        "labelled by officers' decisions are counted here and not listed.</p>"
    )
    parts.append(
        _table(
            [
                "letter",
                "rule",
                "rule channel",
                "model channel",
                "model p",
                "model category",
                "label",
                "right",
            ],
            [
                [
                    d["letter_id"],
                    d["rule_id"],
                    d["rule_channel"],
                    d["model_channel"],
                    d["model_p"],
                    d["model_category"],
                    d["gold_channel"],
                    d["right"],
                ]
                for d in named[:300]
            ],
        )
    )
    return "\n".join(parts)


def write_report(summary: dict[str, Any], path: Path) -> Path:
    """Render ``summary`` and write it to ``path``."""
    path = Path(path)
    path.write_text(render_html(summary), encoding="utf-8")
    return path


__all__ = ["officer_ids", "render_html", "withhold_letter_ids", "write_report"]
