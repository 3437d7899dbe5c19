"""Combine rule hits and classifier scores into one route proposal.

One small deterministic function, :func:`propose`, with its precedence written in its docstring and
every threshold in :class:`ProposalConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter

from pydantic import BaseModel, ConfigDict, Field

from classifier.arbiter import WATCHED_FACTS
from classifier.facts import FACT_NAMES, FactFinding
from routing.catalogue import Catalogue
from routing.codes import (
    CATEGORY_NAMES,
    CHANNEL_NAMES,
    DISPOSITION_NAMES,
    DOMAIN_NAMES,
    REDIRECT_CHANNELS,
    Category,
    Channel,
    Disposition,
)
from routing.deadlines import KNOWN_FACTS, deadlines_for
from routing.engine import hit_flags, primary_channel_hit, primary_exclusion_hit
from routing.schemas import (
    FactEvidence,
    FeatureWeight,
    HeadPrediction,
    LabelScore,
    Letter,
    ReviewReason,
    RouteProposal,
    RuleHit,
)

DISCIPLINE_DEPARTMENT = "discipline_inspection"


class ProposalConfig(BaseModel):
    """Thresholds of the proposal. Analysts tune them from the evaluation report's review curve."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_confidence: float = Field(
        default=0.55, description="top-1 probability below this sends a head to review"
    )
    min_margin: float = Field(default=0.15, description="top-1 minus top-2 below this sends a head to review")
    department_min_confidence: float = Field(default=0.35, description="the department head's own floor")
    domain_min_confidence: float = Field(
        default=0.3,
        description="the domain head's floor; domains feed statistics (第四十一条), not the route",
    )
    confidential_threshold: float = Field(
        default=0.10,
        description="P(accusation) at or above this makes the letter confidential even when it is not "
        "the top category: withholding an appeal from a department is recoverable, leaking an "
        "accusation to the accused is not (第三十条第三款). On the held-out annotated letters 0.10 "
        "flagged 60% of accusations from the model alone (0.25: 32%) for 8% of other letters",
    )
    min_ocr_confidence: float = Field(
        default=0.85, description="a scan read with less confidence goes to review"
    )
    min_han_chars: int = Field(
        default=8, description="fewer Chinese characters than this is too short to route"
    )
    top_k: int = Field(default=3, description="how many labels each head reports")
    fact_show_floor: float = Field(
        default=0.3, description="facts at or above this probability are shown to the officer with their span"
    )
    route_min_confidence: float | None = Field(
        default=None,
        description="the arbiter's top channel below this probability goes to review; None takes the "
        "arbiter's own threshold, chosen on cross-validated training letters so that the channels it "
        "is sure of are right as often as `arbiter.target_accuracy` of the training config asks (0.90; "
        "BENCHMARKS.md measures the trade-off on held-out letters)",
    )
    fact_floor: float = Field(
        default=0.5, description="facts at or above this probability choose the route's clocks"
    )
    statutory_fact_review_floor: float = Field(
        default=0.3,
        description="a fact that points to a statutory channel (a judgment, a labour dispute, a "
        "contested decision, an official's misconduct …) at or above this probability sends a "
        "proposal that takes no statutory channel to review. Measured on out-of-fold readings of the "
        "training letters, among those the arbiter was sure of: the statutory letters routed wrong "
        "without a flag fell from 71 to 38 of 674 at 0.3 (48 at 0.5) for 9.6 % more letters flagged "
        "(5.7 % at 0.5)",
    )


class Scores(BaseModel):
    """The classifier's probabilities for one letter: head -> label -> p, plus its evidence."""

    model_config = ConfigDict(frozen=True)

    proba: Mapping[str, Mapping[str, float]]
    evidence: Mapping[str, Sequence[tuple[str, float]]] = Field(default_factory=dict)
    #: The arbiter's probability of each channel (``classifier.arbiter``); None without one.
    route: Mapping[str, float] | None = None
    #: The arbiter's own review threshold (``ChannelArbiter.review_below_``).
    route_floor: float = 0.5
    #: The learned urgency at or above which a letter no urgent rule caught is still put before an
    #: officer (``ChannelArbiter.urgent_watch_``); None without one.
    urgent_watch: float | None = None
    #: The same for the learned ``multi`` head (``ChannelArbiter.multi_watch_``): several matters.
    multi_watch: float | None = None


def arbiter_features(
    proba: Mapping[str, Mapping[str, float]], facts: Mapping[str, FactFinding], hits: Sequence[RuleHit]
) -> dict[str, float]:
    """What the channel arbiter reads of one letter: head probabilities, facts and fired rules."""
    row: dict[str, float] = {}
    for head in ("channel", "category"):
        for label, p in proba[head].items():
            row[f"{head}:{label}"] = float(p)
    for tag, f in facts.items():
        row[f"fact:{tag}"] = float(f.p)
    for h in hits:
        if h.kind == "flag":
            continue
        kind = "factrule" if h.facts else "rule"
        if h.channel:
            row[f"{kind}:{h.channel}"] = 1.0
        if h.kind == "exclusion":
            row[f"exclusion:{h.disposition}"] = 1.0
    return row


def _head(proba: Mapping[str, float], names: Mapping[str, str], k: int) -> HeadPrediction:
    # Highest probability first, equal ones by code: sorting by code, then stably by probability
    # alone, keeps both keys in C (a tuple key per label was a third of assembling a proposal).
    ranked = sorted(sorted(proba.items()), key=itemgetter(1), reverse=True)[:k]
    # Plain construction: pydantic-core checks three scalars faster than model_construct copies
    # them in Python (0.9 against 1.7 µs a label, measured).
    top = tuple(LabelScore(code=c, name=names.get(c, c), p=round(float(p), 4)) for c, p in ranked)
    return HeadPrediction(label=top[0].code, name=top[0].name, p=top[0].p, top=top)


def _default_target(channel: str, department_name: str) -> str:
    targets: dict[str, str] = {
        Channel.litigation: "同级政法部门（人民法院、人民检察院、公安机关）",
        Channel.arbitration: "劳动人事争议仲裁委员会／农村土地承包仲裁委员会",
        Channel.administrative_review: "行政复议机关（或向人民法院提起行政诉讼）",
        Channel.discipline: "有管理权限的纪检监察机关",
        Channel.personnel_appeal: "有管理权限的党组织或组织人事部门",
    }
    return targets.get(channel, department_name)


def propose(
    letter: Letter,
    hits: Sequence[RuleHit],
    scores: Scores,
    *,
    catalogue: Catalogue,
    config: ProposalConfig,
    model_version: str,
    rulebook_version: str,
    input_problems: Sequence[ReviewReason] = (),
    facts: Mapping[str, FactFinding] | None = None,
) -> RouteProposal:
    """Propose a route for ``letter``. Precedence, first match wins for the channel:

    1. **Exclusion rules** (不予受理 / 不再受理, kind ``exclusion``) set the disposition; the
       channel and target body come from the hit when it names them.
    2. **Mandatory-route rules** (kind ``channel``, highest priority first) set the channel:
       litigation, arbitration, administrative review, personnel appeal, discipline, duty request.
    3. **The category**: an accusation goes to ``discipline``, a suggestion to ``suggestion``.
    4. **The learned channel head**, restricted to the channels open to an appeal, separates
       ``duty_request`` from ``ordinary`` and catches redirect channels the rules miss.

    Whatever decides the channel, the letter is ``confidential`` when it goes to discipline, when a
    discipline rule fired, when a rule flags it (an offence only an office holder commits, named
    without the official), or when P(accusation) ≥ ``confidential_threshold``; only a letter routed
    to discipline goes to the discipline body, the others keep the department their route names.

    ``needs_review`` is set, with every reason, when a head is below ``min_confidence`` or
    ``min_margin``, when rules set conflicting channels, when the model and a rule disagree on the
    category, when the route sets aside a stated fact that points to a statutory channel, when the
    letter is urgent, raises several matters, was read by OCR with low confidence, or when the input
    itself is unusable (``input_problems``).
    """
    k = config.top_k
    category = _head(scores.proba["category"], CATEGORY_NAMES, k)
    domain = _head(scores.proba["domain"], DOMAIN_NAMES, k)
    dept_names = {d.code: d.name for d in catalogue.departments}
    department = _head(scores.proba["department"], dept_names, k)
    channel_proba = dict(scores.proba["channel"])
    reasons: list[ReviewReason] = list(input_problems)
    flags = hit_flags(hits)

    exclusion = primary_exclusion_hit(hits)
    channel_hit = primary_channel_hit(hits)
    channel_rules = {h.channel for h in hits if h.kind == "channel" and h.channel}
    if len(channel_rules) > 1 and scores.route is None:
        reasons.append(
            ReviewReason(
                code="conflicting_rules",
                message="多条规则指向不同途径："
                + "、".join(sorted(CHANNEL_NAMES.get(c, c) for c in channel_rules)),
            )
        )

    p_accusation = scores.proba["category"].get(Category.accusation, 0.0)
    if scores.route is not None:
        channel, source, channel_hit = _arbitrate(
            scores.route, hits, exclusion, reasons, config.route_min_confidence or scores.route_floor
        )
    elif channel_hit is not None:
        channel, source = str(channel_hit.channel), "rule"
    elif category.label == Category.accusation:
        channel, source = Channel.discipline.value, "category"
    elif category.label == Category.suggestion:
        channel, source = Channel.suggestion.value, "category"
    else:
        appeal_channels = {
            c: p for c, p in channel_proba.items() if c not in (Channel.discipline, Channel.suggestion)
        }
        channel = max(sorted(appeal_channels), key=lambda c: appeal_channels[c])
        source = "model"

    discipline_rule = any(h.channel == Channel.discipline for h in hits if h.kind != "flag")
    if discipline_rule and category.label != Category.accusation:
        reasons.append(
            ReviewReason(
                code="model_rule_disagreement",
                message=f"规则认定为检举控告，模型判为{category.name}（{category.p:.2f}）",
            )
        )
    if source == "rule" and channel == Channel.suggestion and category.label != Category.suggestion:
        reasons.append(
            ReviewReason(
                code="model_rule_disagreement", message=f"规则认定为建议意见，模型判为{category.name}"
            )
        )
    confidential_reasons = []
    if channel == Channel.discipline:
        confidential_reasons.append("检举控告类事项，转纪检监察机关（第三十条）")
    elif discipline_rule or "confidential" in flags:
        confidential_reasons.append("规则识别出检举控告内容")
    if p_accusation >= config.confidential_threshold and channel != Channel.discipline:
        confidential_reasons.append(f"模型判断可能为检举控告（{p_accusation:.2f}）")
    confidential = bool(confidential_reasons)
    if confidential and channel != Channel.discipline:
        # Held back from the bodies it may accuse until an officer decides (第三十条第三款); the
        # route itself stays the one the letter supports, so it never sends a 履职 request to 纪委.
        reasons.append(
            ReviewReason(
                code="possible_accusation",
                message="可能含检举控告内容，已按保密件处理，仅有权查看检举控告的人员可见，请确认："
                + "；".join(confidential_reasons),
            )
        )

    if exclusion is not None:
        disposition = str(exclusion.disposition)
    elif channel_hit is not None and channel_hit.channel == channel and channel_hit.disposition:
        # The rule that gives the route its legal basis also says whether the matter stays in the
        # 信访 procedure: a 政府信息公开 request keeps the duty-request channel but leaves it for its
        # own procedure (政府信息公开条例第二十七条), which the channel alone cannot tell.
        disposition = str(channel_hit.disposition)
    elif channel in REDIRECT_CHANNELS:
        disposition = Disposition.redirect.value
    else:
        disposition = Disposition.accept.value

    decisive = exclusion or channel_hit
    if channel == Channel.discipline:
        department = _with_department(department, DISCIPLINE_DEPARTMENT, scores, dept_names)
    elif decisive is not None and decisive.department:
        department = _with_department(department, decisive.department, scores, dept_names)
    elif department.label == DISCIPLINE_DEPARTMENT:
        # Only a discipline route goes to the discipline body: take the best other department (a
        # head has two classes at least, so there is one).
        dept_proba = scores.proba["department"]
        best = max((c for c in dept_proba if c != DISCIPLINE_DEPARTMENT), key=lambda c: dept_proba[c])
        department = _with_department(department, best, scores, dept_names)

    target_body = (decisive.target_body if decisive else None) or _default_target(channel, department.name)

    for name, head, floor in (
        ("类别", category, config.min_confidence),
        ("领域", domain, config.domain_min_confidence),
        ("责任部门", department, config.department_min_confidence),
    ):
        if head.p < floor:
            reasons.append(ReviewReason(code="low_confidence", message=f"{name}置信度低（{head.p:.2f}）"))
        elif head.margin < config.min_margin:
            reasons.append(
                ReviewReason(
                    code="small_margin",
                    message=f"{name}前两位接近：{head.top[0].name} {head.top[0].p:.2f} / "
                    f"{head.top[1].name} {head.top[1].p:.2f}",
                )
            )
    if source == "model" and scores.route is None:
        ranked = sorted(((p, c) for c, p in channel_proba.items()), reverse=True)
        if ranked[0][0] < config.min_confidence:
            reasons.append(
                ReviewReason(
                    code="low_confidence",
                    message=(
                        f"办理途径置信度低（{CHANNEL_NAMES.get(channel, channel)} "
                        f"{channel_proba[channel]:.2f}）"
                    ),
                )
            )
    pointed = _statutory_facts_set_aside(facts, channel, config.statutory_fact_review_floor)
    if pointed:
        reasons.append(
            ReviewReason(
                code="statutory_fact",
                message="信中事实指向法定途径，请确认是否应导入："
                + "；".join(
                    f"{FACT_NAMES[tag]}（{p:.2f}）→ {CHANNEL_NAMES.get(c, c)}" for tag, p, c in pointed
                ),
            )
        )
    urgent = "urgent" in flags
    if urgent:
        reasons.append(
            ReviewReason(code="urgent", message="可能为重大、紧急信访事项，应及时报告（第二十五条）")
        )
    elif (p_urgent := _watch_reached(facts, "urgent", scores.urgent_watch)) is not None:
        # Urgency in words no rule lists: below the rules' own floors, but at or above the level
        # that caught nine in ten urgent letters on letters the model never saw. Not the 第二十五条
        # flag itself (that would report one letter in five upward); a prompt to judge it.
        reasons.append(
            ReviewReason(
                code="possibly_urgent",
                message=f"可能为重大、紧急信访事项（{p_urgent:.2f}），请判断是否需要及时报告（第二十五条）",
            )
        )
    if "multiple_matters" in flags:
        reasons.append(ReviewReason(code="multiple_matters", message="一信多事，涉及不同机关"))
    elif (p_multi := _watch_reached(facts, "multi", scores.multi_watch)) is not None:
        # The learned head rarely reaches R-DS-01's floor (the label is rare and noisy): at the level
        # that caught half of such letters on out-of-fold readings, the officer is asked to read the
        # letter for a second matter.
        reasons.append(
            ReviewReason(
                code="possibly_multiple_matters",
                message=(
                    f"可能一信多事（{p_multi:.2f}），涉及两个以上机关、单位的请拆分登记，"
                    "或由所涉机关、单位协商受理（第二十四条）"
                ),
            )
        )
    if "review_request" in flags:
        reasons.append(
            ReviewReason(
                code="review_request",
                message="可能是对处理意见不服的复查／复核请求（第三十五、三十六条），请关联原案核实期限",
            )
        )
    procedural = sorted(
        f for f in flags if f in {"representatives_over_limit", "skipped_levels", "pending_elsewhere"}
    )
    if procedural:
        reasons.append(
            ReviewReason(
                code="procedural_flag",
                message="程序性提示：" + "、".join(_FLAG_NAMES.get(f, f) for f in procedural),
            )
        )
    if letter.ocr_confidence is not None and letter.ocr_confidence < config.min_ocr_confidence:
        reasons.append(
            ReviewReason(
                code="low_ocr_confidence",
                message=f"扫描件识别置信度低（{letter.ocr_confidence:.2f}），请核对原件",
            )
        )

    found = facts or {}
    stated = {tag for tag, f in found.items() if f.p >= config.fact_floor}
    shown_facts = tuple(
        FactEvidence(
            tag=f.tag,
            name=FACT_NAMES[f.tag],
            p=f.p,
            field=f.field,
            start=f.start,
            end=f.end,
            quote=f.quote,
        )
        for f in sorted(found.values(), key=lambda f: (-f.p, f.tag))
        if f.tag in FACT_NAMES and f.p >= config.fact_show_floor
    )
    if scores.route is not None:
        route_p = float(scores.route.get(channel, 0.0))
    else:
        route_p = 1.0 if source == "rule" else channel_proba.get(channel, 0.0)
    head_ps = [category.p, department.p, route_p]
    unusable = any(r.code in _UNUSABLE for r in input_problems)
    confidence = 0.0 if unusable else float(min(head_ps))
    if unusable:
        # Nothing the letter says can be read, so nothing is proposed: a route guessed from an
        # empty or garbled text would be a false route with a legal effect (a route that should have
        # been another is undone on 复查/复核, e.g. 山东省信访事项复查复核工作规则第三十二条第四项).
        # Only what is wrong with the input remains: the heads' doubts about it say nothing.
        reasons = [
            *input_problems,
            ReviewReason(code="no_route", message="信件内容无法识别，不提出分流建议，请人工核对原件后登记"),
        ]
        source, target_body = "none", ""

    return RouteProposal(
        letter_id=letter.id,
        category=category,
        domain=domain,
        department=department,
        channel=channel,
        channel_name=CHANNEL_NAMES[channel],
        channel_source=source,  # type: ignore[arg-type]
        routed=not unusable,
        channel_scores=_head(channel_proba, CHANNEL_NAMES, len(channel_proba)).top,
        disposition=disposition,
        disposition_name=DISPOSITION_NAMES[disposition],
        target_body=target_body,
        deadlines=deadlines_for(
            channel,
            disposition,
            letter.received_on,
            accepted_on=letter.accepted_on,
            facts=frozenset(t for t in stated if t in KNOWN_FACTS) | ({"urgent"} if urgent else set()),
        ),
        confidential=confidential,
        confidential_reason="；".join(confidential_reasons) or None,
        facts=shown_facts,
        urgent=urgent,
        needs_review=bool(reasons),
        review_reasons=tuple(_dedupe(reasons)),
        rule_hits=tuple(hits),
        evidence={
            head: tuple(FeatureWeight(feature=f, weight=round(w, 4)) for f, w in feats)
            for head, feats in scores.evidence.items()
        },
        confidence=round(confidence, 4),
        model_version=model_version,
        rulebook_version=rulebook_version,
    )


_UNUSABLE = frozenset({"empty_text", "no_chinese", "garbled", "meaningless", "too_short"})
_FLAG_NAMES = {
    "representatives_over_limit": "多人走访代表超过5人（第二十条第三款）",
    "skipped_levels": "越级走访",
    "pending_elsewhere": "同一事项可能已由其他机关受理或正在办理（第十九条第三款）",
}


def _arbitrate(
    route: Mapping[str, float],
    hits: Sequence[RuleHit],
    exclusion: RuleHit | None,
    reasons: list[ReviewReason],
    floor: float,
) -> tuple[str, str, RuleHit | None]:
    """The arbiter's channel, the rule that gives it its legal basis, and what the officer must check.

    An exclusion that names its channel keeps it (不再受理 of a concluded lawsuit stays litigation).
    Otherwise the arbiter's top channel is the route; its legal basis is the highest-priority rule of
    that channel that fired. A statutory channel without such a rule, a rule of another channel
    that the arbiter overruled, and a choice below ``floor`` each go to review.
    """
    if exclusion is not None and exclusion.channel:
        return str(exclusion.channel), "rule", exclusion
    ranked = sorted(route.items(), key=lambda kv: (-kv[1], kv[0]))
    channel, p = ranked[0]
    basis = next((h for h in hits if h.kind != "flag" and h.channel == channel), None)
    if p < floor:
        second = ranked[1] if len(ranked) > 1 else (channel, 0.0)
        reasons.append(
            ReviewReason(
                code="low_confidence",
                message=f"办理途径不确定：{CHANNEL_NAMES.get(channel, channel)} {p:.2f} / "
                f"{CHANNEL_NAMES.get(second[0], second[0])} {second[1]:.2f}",
            )
        )
    if basis is None and channel in STATUTORY_CHANNELS:
        reasons.append(
            ReviewReason(
                code="model_rule_disagreement",
                message=f"模型建议{CHANNEL_NAMES.get(channel, channel)}，但没有规则给出法律依据，请核实",
            )
        )
    overruled = sorted(
        {str(h.channel) for h in hits if h.kind == "channel" and h.channel and h.channel != channel}
        & set(STATUTORY_CHANNELS)
    )
    if overruled and channel not in (Channel.discipline,):
        reasons.append(
            ReviewReason(
                code="conflicting_rules",
                message="规则另指向：" + "、".join(CHANNEL_NAMES.get(c, c) for c in overruled),
            )
        )
    return channel, ("rule" if basis is not None else "model"), basis


def _watch_reached(facts: Mapping[str, FactFinding] | None, signal: str, level: float | None) -> float | None:
    """A watched signal's learned score (the largest probability among its facts) where it reaches
    the model's watch ``level``; None below it, or without a level or facts."""
    if level is None or not facts:
        return None
    score = max((facts[t].p for t in WATCHED_FACTS[signal] if t in facts), default=0.0)
    return score if score >= level else None


#: The statutory channel each legal fact points to. ``civil_dispute`` is left out: the board's
#: letters send most private disputes the fact layer finds to a 履职 request (of the training letters
#: whose civil_dispute reaches 0.8, 31 of 45), and as a review prompt it caught no statutory letter
#: the other facts missed on out-of-fold readings.
STATUTORY_FACT_CHANNELS: dict[str, str] = {
    "court_pending": Channel.litigation,
    "court_decided": Channel.litigation,
    "court_final": Channel.litigation,
    "police_case": Channel.litigation,
    "labour_dispute": Channel.arbitration,
    "land_contract_dispute": Channel.arbitration,
    "arbitration_done": Channel.arbitration,
    "admin_decision": Channel.administrative_review,
    "review_done": Channel.administrative_review,
    "official_misconduct": Channel.discipline,
    "sanction_self": Channel.personnel_appeal,
}


def _statutory_facts_set_aside(
    facts: Mapping[str, FactFinding] | None, channel: str, floor: float
) -> list[tuple[str, float, str]]:
    """The statutory facts at or above ``floor`` (tag, p, channel), likeliest first, when the route
    takes no statutory channel: a route that sets aside a stated judgment or labour dispute is the
    legal defect an officer must rule out (第三十一条)."""
    if not facts or channel in STATUTORY_CHANNELS:
        return []
    found = [
        (tag, float(facts[tag].p), target)
        for tag, target in STATUTORY_FACT_CHANNELS.items()
        if tag in facts and facts[tag].p >= floor
    ]
    return sorted(found, key=lambda f: -f[1])


STATUTORY_CHANNELS = (
    Channel.litigation,
    Channel.arbitration,
    Channel.administrative_review,
    Channel.discipline,
    Channel.personnel_appeal,
)


def _with_department(
    department: HeadPrediction, code: str, scores: Scores, names: Mapping[str, str]
) -> HeadPrediction:
    """The route's department set to ``code``; the top-3 keep the model's view for the officer."""
    if department.label == code:
        return department
    return HeadPrediction(
        label=code,
        name=names.get(code, code),
        p=round(float(scores.proba["department"].get(code, 0.0)), 4),
        top=department.top,
    )


def _dedupe(reasons: Sequence[ReviewReason]) -> list[ReviewReason]:
    seen: set[tuple[str, str]] = set()
    out = []
    for r in reasons:
        if (r.code, r.message) not in seen:
            seen.add((r.code, r.message))
            out.append(r)
    return out
