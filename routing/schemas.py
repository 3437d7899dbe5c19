"""The data that crosses package boundaries: a letter in, rule hits, and the route proposal out.

These are frozen pydantic models so that a proposal can be stored as JSON, sent over the API and
read back into exactly the same object (the batch/single identity test relies on that).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Letter(_Frozen):
    """One letter as the pipeline sees it. ``received_on`` starts the statutory clocks."""

    id: str | None = None
    title: str = ""
    text: str = ""
    received_on: dt.date | None = None
    accepted_on: dt.date | None = Field(
        default=None, description="the day the office accepted the matter (受理); starts the 60-day clock"
    )
    form: Literal["letter", "online", "visit", "call"] = "letter"
    visitors: int | None = Field(
        default=None, ge=1, description="number of people in a visit (第二十条第三款)"
    )
    ocr_confidence: float | None = Field(default=None, ge=0.0, le=1.0)


class LegalBasis(_Frozen):
    """Where a rule comes from: an article of the 2022 条例 with a short quote, or a practice rule."""

    source: str = "信访工作条例（2022）"
    article: str
    quote: str


class RuleHit(_Frozen):
    """One rule that fired on one letter, with the text that made it fire."""

    rule_id: str
    title: str
    kind: Literal["channel", "exclusion", "flag"]
    channel: str | None = None
    disposition: str | None = None
    target_body: str | None = None
    department: str | None = None
    flags: tuple[str, ...] = ()
    priority: int
    legal_basis: LegalBasis
    field: Literal["title", "text"]
    start: int
    end: int
    matched: str
    #: The legal facts (tag, probability) the hit stands on, for a rule over facts.
    facts: tuple[tuple[str, float], ...] = ()


class FactEvidence(_Frozen):
    """A legal fact the letter states, as the fact layer reads it: probability and span."""

    tag: str
    name: str
    p: float
    field: Literal["title", "text"]
    start: int
    end: int
    quote: str


class LabelScore(_Frozen):
    code: str
    name: str
    p: float


class HeadPrediction(_Frozen):
    """The classifier's answer for one head: top-1 label, its probability, and the top 3."""

    label: str
    name: str
    p: float
    top: tuple[LabelScore, ...]

    @property
    def margin(self) -> float:
        return self.top[0].p - self.top[1].p if len(self.top) > 1 else self.top[0].p


class FeatureWeight(_Frozen):
    feature: str
    weight: float


class Deadline(_Frozen):
    """A statutory time limit that applies to the proposed route."""

    code: str
    label: str
    basis: str
    days: int
    unit: Literal["calendar_days", "working_days", "months"]
    extension_days: int = 0
    starts: str = Field(description="the event that starts the clock")
    due: dt.date | None = Field(default=None, description="None when the clock has not started yet")
    calendar_note: str | None = None


class ReviewReason(_Frozen):
    code: Literal[
        "low_confidence",
        "small_margin",
        "conflicting_rules",
        "urgent",
        "multiple_matters",
        "empty_text",
        "too_short",
        "title_only",
        "no_chinese",
        "truncated",
        "low_ocr_confidence",
        "model_rule_disagreement",
        "procedural_flag",
        "possible_accusation",
        "review_request",
        "possibly_urgent",
        "possibly_multiple_matters",
        "statutory_fact",
        "no_route",
        "garbled",
        "meaningless",
    ]
    message: str


#: The review reasons that say a letter may hold several matters (第二十四条): R-DS-01's flag and the
#: learned head's weaker prompt. Each asks whether to split the letter.
SEVERAL_MATTERS_REASONS = ("multiple_matters", "possibly_multiple_matters")


class RouteProposal(_Frozen):
    """The route a machine proposes for one letter. An officer confirms or corrects it.

    ``source`` says whether the channel came from a statutory rule, the learned channel head or the
    category (accusation -> discipline, suggestion -> suggestion).
    """

    letter_id: str | None
    category: HeadPrediction
    domain: HeadPrediction
    department: HeadPrediction
    channel: str
    channel_name: str
    channel_source: Literal["rule", "model", "category", "none"]
    channel_scores: tuple[LabelScore, ...] = ()
    disposition: str
    disposition_name: str
    target_body: str
    deadlines: tuple[Deadline, ...] = ()
    #: False when the letter cannot be routed at all (empty, garbled, meaningless, no Chinese): the
    #: route fields then hold no proposal, only the reasons say what is wrong, and an officer
    #: registers it by hand.
    routed: bool = True
    confidential: bool
    #: Why the letter is held confidential (None when it is not), in the officer's words.
    confidential_reason: str | None = None
    urgent: bool
    needs_review: bool
    review_reasons: tuple[ReviewReason, ...] = ()
    rule_hits: tuple[RuleHit, ...] = ()
    #: The legal facts the letter states (probability at or above the display floor), likeliest first.
    facts: tuple[FactEvidence, ...] = ()
    evidence: dict[str, tuple[FeatureWeight, ...]] = Field(default_factory=dict)
    confidence: float
    model_version: str
    rulebook_version: str

    @property
    def department_top(self) -> list[dict[str, object]]:
        return [{"code": s.code, "name": s.name, "p": s.p} for s in self.department.top]

    def summary(self) -> dict[str, object]:
        """The flat record written per line by batch routing and exports."""
        routed = self.routed
        return {
            "id": self.letter_id,
            "routed": routed,
            "category": self.category.label if routed else None,
            "domain": self.domain.label if routed else None,
            "department": self.department.label if routed else None,
            "department_top": self.department_top if routed else [],
            "channel": self.channel if routed else None,
            "disposition": self.disposition if routed else None,
            "target_body": self.target_body if routed else None,
            "confidential": self.confidential,
            "urgent": self.urgent,
            "needs_review": self.needs_review,
            "review_reasons": [r.code for r in self.review_reasons],
            "confidence": round(self.confidence, 4),
            "rules": [h.rule_id for h in self.rule_hits],
        }
