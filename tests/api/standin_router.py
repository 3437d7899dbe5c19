"""A keyword router with the real rulebook, for web tests whose expectations must not move with a model.

It runs the real rulebook (``routing.engine.match_rules`` over ``data/rulebook``) for the rule hits,
their offsets and legal bases, and fills the classifier heads from a small keyword table, so a
web test can say "this letter goes to housing, that one is an accusation" and stay true whatever a
retrained model does. It builds genuine ``RouteProposal`` objects and answers the same two calls
the web app makes (``propose`` and ``propose_many``). The tests of what the model itself proposes
use the real pipeline, trained small (``tiny_router``) or shipped (test_api_shipped_model.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from routing.catalogue import load_catalogue
from routing.codes import CATEGORY_NAMES, CHANNEL_NAMES, DISPOSITION_NAMES, Category, Channel, Disposition
from routing.engine import match_rules, primary_channel_hit, primary_exclusion_hit
from routing.rulebook import load_rulebook
from routing.schemas import (
    Deadline,
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
        hits = match_rules(self.rulebook, letter)
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
            target_body=primary.target_body
            if primary is not None and primary.target_body
            else self.catalogue.name(department),
            deadlines=deadlines,
            confidential=accusation,
            urgent=any("urgent" in h.flags for h in hits),
            needs_review=not found,
            review_reasons=()
            if found
            else (ReviewReason(code="low_confidence", message="no keyword matched"),),
            rule_hits=tuple(hits),
            evidence={"department": words},
            confidence=0.72,
            model_version=self.model_version,
            rulebook_version=self.rulebook.version,
        )

    def propose_many(self, letters: Sequence[Letter]) -> list[RouteProposal]:
        return [self.propose(letter) for letter in letters]
