"""Combine rule hits and classifier scores into one route proposal.

One small deterministic function, :func:`propose`, with its precedence written in its docstring and
every threshold in :class:`ProposalConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

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
from routing.deadlines import deadlines_for
from routing.engine import hit_flags, primary_channel_hit, primary_exclusion_hit
from routing.schemas import (
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


class Scores(BaseModel):
    """The classifier's probabilities for one letter: head -> label -> p, plus its evidence."""

    model_config = ConfigDict(frozen=True)

    proba: Mapping[str, Mapping[str, float]]
    evidence: Mapping[str, Sequence[tuple[str, float]]] = Field(default_factory=dict)


def _head(proba: Mapping[str, float], names: Mapping[str, str], k: int) -> HeadPrediction:
    ranked = sorted(proba.items(), key=lambda kv: (-kv[1], kv[0]))
    top = tuple(LabelScore(code=c, name=names.get(c, c), p=round(float(p), 4)) for c, p in ranked[:k])
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
    discipline rule fired, or when P(accusation) ≥ ``confidential_threshold``; a confidential
    letter's department is the discipline body, never the department it may accuse.

    ``needs_review`` is set, with every reason, when a head is below ``min_confidence`` or
    ``min_margin``, when rules set conflicting channels, when the model and a rule disagree on the
    category, when the letter is urgent, raises several matters, was read by OCR with low
    confidence, or when the input itself is unusable (``input_problems``).
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
    if len(channel_rules) > 1:
        reasons.append(
            ReviewReason(
                code="conflicting_rules",
                message="多条规则指向不同途径："
                + "、".join(sorted(CHANNEL_NAMES.get(c, c) for c in channel_rules)),
            )
        )

    p_accusation = scores.proba["category"].get(Category.accusation, 0.0)
    if channel_hit is not None:
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
    confidential = (
        channel == Channel.discipline
        or discipline_rule
        or "confidential" in flags
        or p_accusation >= config.confidential_threshold
    )

    if exclusion is not None:
        disposition = str(exclusion.disposition)
    elif channel in REDIRECT_CHANNELS:
        disposition = Disposition.redirect.value
    else:
        disposition = Disposition.accept.value

    if confidential and department.label != DISCIPLINE_DEPARTMENT:
        # The top-3 keep the model's view for the officer; the route goes to the discipline body.
        department = HeadPrediction(
            label=DISCIPLINE_DEPARTMENT,
            name=dept_names.get(DISCIPLINE_DEPARTMENT, DISCIPLINE_DEPARTMENT),
            p=round(float(scores.proba["department"].get(DISCIPLINE_DEPARTMENT, 0.0)), 4),
            top=department.top,
        )

    decisive_hit = exclusion or channel_hit
    target_body = (decisive_hit.target_body if decisive_hit else None) or _default_target(
        channel, department.name
    )

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
    if source == "model":
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
    urgent = "urgent" in flags
    if urgent:
        reasons.append(
            ReviewReason(code="urgent", message="可能为重大、紧急信访事项，应及时报告（第二十五条）")
        )
    if "multiple_matters" in flags:
        reasons.append(ReviewReason(code="multiple_matters", message="一信多事，涉及不同机关"))
    procedural = sorted(f for f in flags if f in {"representatives_over_limit", "skipped_levels"})
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

    head_ps = [category.p, department.p] + ([1.0] if source == "rule" else [channel_proba.get(channel, 0.0)])
    unusable = any(r.code in _UNUSABLE for r in input_problems)
    confidence = 0.0 if unusable else float(min(head_ps))

    return RouteProposal(
        letter_id=letter.id,
        category=category,
        domain=domain,
        department=department,
        channel=channel,
        channel_name=CHANNEL_NAMES[channel],
        channel_source=source,  # type: ignore[arg-type]
        channel_scores=_head(channel_proba, CHANNEL_NAMES, len(channel_proba)).top,
        disposition=disposition,
        disposition_name=DISPOSITION_NAMES[disposition],
        target_body=target_body,
        deadlines=deadlines_for(channel, disposition, letter.received_on),
        confidential=confidential,
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


_UNUSABLE = frozenset({"empty_text", "no_chinese", "too_short"})
_FLAG_NAMES = {
    "representatives_over_limit": "多人走访代表超过5人（第二十条第三款）",
    "skipped_levels": "越级走访",
}


def _dedupe(reasons: Sequence[ReviewReason]) -> list[ReviewReason]:
    seen: set[tuple[str, str]] = set()
    out = []
    for r in reasons:
        if (r.code, r.message) not in seen:
            seen.add((r.code, r.message))
            out.append(r)
    return out
