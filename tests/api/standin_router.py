"""A keyword router with the real rulebook, for web tests whose expectations must not move with a model.

It runs the real rulebook (``routing.engine.match_rules`` over ``data/rulebook``) for the rule hits,
their offsets and legal bases, and fills the classifier heads from a small keyword table, so a
web test can say "this letter goes to housing, that one is an accusation" and stay true whatever a
retrained model does. It builds genuine ``RouteProposal`` objects and answers the same two calls
the web app makes (``propose`` and ``propose_many``). Like the real router it reads legal facts
(from a small keyword table, with their spans and sentences, so fact rules fire), says why an
accusation is held confidential, and routes nothing for a letter it cannot read (no Chinese, too
short). The tests of what the model itself proposes
use the real pipeline, trained small (``tiny_router``) or shipped (test_api_shipped_model.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from classifier.facts import FACT_NAMES
from classifier.normalize import normalize
from routing.catalogue import load_catalogue
from routing.codes import CATEGORY_NAMES, CHANNEL_NAMES, DISPOSITION_NAMES, Category, Channel, Disposition
from routing.engine import match_rules, primary_channel_hit, primary_exclusion_hit
from routing.proposal import ProposalConfig
from routing.router import input_problems
from routing.rulebook import load_rulebook
from routing.schemas import (
    Deadline,
    FactEvidence,
    FeatureWeight,
    HeadPrediction,
    LabelScore,
    Letter,
    ReviewReason,
    RouteProposal,
)

# keyword -> (department, domain)
KEYWORDS: tuple[tuple[str, str, str], ...] = (
    ("物业", "housing", "城乡建设"),
    ("工资", "hr_social_security", "劳动和社会保障"),
    ("噪音", "ecology_environment", "环境保护"),
    ("污染", "ecology_environment", "环境保护"),
    ("学校", "education", "教育文体"),
    ("公交", "transport", "交通运输"),
    ("违建", "urban_management", "城乡建设"),
)

# keyword -> (legal fact, probability): the fact layer's reading, span = the keyword, quote = its
# sentence (normalised, as classifier/facts.py quotes it). The two court phrases overlap on 起诉, as
# a fact layer's spans may.
FACT_KEYWORDS: tuple[tuple[str, str, float], ...] = (
    ("屡次反映", "prior_complaint", 0.64),
    ("向法院起诉", "court_pending", 0.91),
    ("起诉了装修公司", "civil_dispute", 0.48),
)
# What makes a letter unreadable, as routing.proposal reads input_problems: then nothing is routed.
UNUSABLE = frozenset({"empty_text", "no_chinese", "garbled", "too_short"})
_SENTENCE_END = "。！？；!?;\n"


def _sentence(text: str, start: int, end: int) -> str:
    a = max(text.rfind(c, 0, start) for c in _SENTENCE_END) + 1
    ends = [i for i in (text.find(c, end) for c in _SENTENCE_END) if i != -1]
    return text[a : min(ends) + 1 if ends else len(text)].strip()


def read_facts(letter: Letter) -> tuple[FactEvidence, ...]:
    """The facts of ``FACT_KEYWORDS`` the letter's title or text holds, first occurrence, likeliest first."""
    found: dict[str, FactEvidence] = {}
    for keyword, tag, p in FACT_KEYWORDS:
        fields: tuple[tuple[Literal["title", "text"], str], ...] = (
            ("title", letter.title),
            ("text", letter.text),
        )
        for field, text in fields:
            at = text.find(keyword)
            if at != -1 and tag not in found:
                end = at + len(keyword)
                quote = normalize(text.strip() if field == "title" else _sentence(text, at, end))
                found[tag] = FactEvidence(
                    tag=tag, name=FACT_NAMES[tag], p=p, field=field, start=at, end=end, quote=quote
                )
    return tuple(sorted(found.values(), key=lambda f: (-f.p, f.tag)))


class StandInRouter:
    model_version = "standin-0"

    def __init__(self) -> None:
        self.rulebook = load_rulebook()
        self.catalogue = load_catalogue()

    def _head(self, ranked: list[tuple[str, str, float]]) -> HeadPrediction:
        top = tuple(LabelScore(code=c, name=n, p=p) for c, n, p in ranked[:3])
        return HeadPrediction(label=top[0].code, name=top[0].name, p=top[0].p, top=top)

    def propose(self, letter: Letter) -> RouteProposal:
        text = letter.title + letter.text
        facts = read_facts(letter)
        hits = match_rules(
            self.rulebook, letter, {f.tag: (f.p, f.field, f.start, f.end) for f in facts} or None
        )
        problems = input_problems(letter, ProposalConfig(), 200_000)
        routed = not any(r.code in UNUSABLE for r in problems)
        found = [(kw, dep, dom) for kw, dep, dom in KEYWORDS if kw in text]
        department, domain = (found[0][1], found[0][2]) if found else ("housing", "城乡建设")
        accusation = any(h.channel == Channel.discipline for h in hits) or "举报" in text
        category = (
            Category.accusation
            if accusation
            else (Category.suggestion if "建议" in text else Category.appeal)
        )
        others = [c for c in self.catalogue.codes if c != department][:2]
        dept_head = self._head(
            [(department, self.catalogue.name(department), 0.72)]
            + [(c, self.catalogue.name(c), p) for c, p in zip(others, (0.18, 0.06), strict=True)]
        )
        cats = [category] + [c for c in Category if c != category]
        cat_head = self._head(
            [(c.value, CATEGORY_NAMES[c], p) for c, p in zip(cats, (0.8, 0.15, 0.05), strict=True)]
        )
        dom_head = self._head(
            [(domain, domain, 0.7), ("交通运输" if domain != "交通运输" else "环境保护", "其他", 0.2)]
        )
        primary = primary_exclusion_hit(hits) or primary_channel_hit(hits)
        if primary is not None and primary.channel:
            channel, source = primary.channel, "rule"
        elif accusation:
            channel, source = Channel.discipline.value, "category"
        else:
            channel, source = Channel.ordinary.value, "model"
        disposition = (
            primary.disposition if primary is not None and primary.disposition else Disposition.accept.value
        )
        received = letter.received_on or dt.date.today()
        deadlines = (
            Deadline(
                code="notify_acceptance",
                label="告知是否受理",
                basis="第二十二条、第二十三条",
                days=15,
                unit="calendar_days",
                starts="收到信访事项",
                due=received + dt.timedelta(days=15),
            ),
            Deadline(
                code="handle",
                label="办理完毕",
                basis="第三十四条",
                days=60,
                unit="calendar_days",
                extension_days=30,
                starts="受理之日",
                due=None,
            ),
        )
        words = tuple(FeatureWeight(feature=kw, weight=1.5 - i * 0.2) for i, (kw, _, _) in enumerate(found))
        reasons: tuple[ReviewReason, ...] = (
            () if found else (ReviewReason(code="low_confidence", message="no keyword matched"),)
        )
        if not routed:
            reasons = (
                *problems,
                ReviewReason(
                    code="no_route", message="信件内容无法识别，不提出分流建议，请人工核对原件后登记"
                ),
            )
            source = "none"
        return RouteProposal(
            letter_id=letter.id,
            category=cat_head,
            domain=dom_head,
            department=dept_head,
            channel=channel,
            channel_name=CHANNEL_NAMES[channel],
            channel_source=source,  # type: ignore[arg-type]
            disposition=disposition,
            disposition_name=DISPOSITION_NAMES[disposition],
            target_body=""
            if not routed
            else (
                primary.target_body
                if primary is not None and primary.target_body
                else self.catalogue.name(department)
            ),
            deadlines=deadlines,
            routed=routed,
            confidential=accusation,
            confidential_reason="检举控告类事项，转纪检监察机关（第三十条）" if accusation else None,
            urgent=any("urgent" in h.flags for h in hits),
            needs_review=bool(reasons),
            review_reasons=reasons,
            rule_hits=tuple(hits),
            facts=facts,
            evidence={"department": words},
            confidence=0.72 if routed else 0.0,
            model_version=self.model_version,
            rulebook_version=self.rulebook.version,
        )

    def propose_many(self, letters: Sequence[Letter]) -> list[RouteProposal]:
        return [self.propose(letter) for letter in letters]
