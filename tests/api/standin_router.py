"""A router whose scores come from a keyword table, for web tests whose expectations must not move
with a model, routed by the real :func:`routing.proposal.propose`.

Only the classifier is stood in for: a small keyword table gives each head its probabilities
(``Scores``) and the fact layer its findings (with spans and sentences, so fact rules fire). The
rest is production code: the real rulebook (``routing.engine.match_rules`` over ``data/rulebook``)
for the rule hits, the real input checks (``routing.router.input_problems``), and the real
``propose`` for the precedence, confidentiality (a discipline route's department moves to 纪委监委,
an accusation probability at or above ``ProposalConfig.confidential_threshold`` keeps an appeal
confidential), review reasons, deadlines and "no route" for a letter it cannot read. So a web
test can say "this letter goes to housing, that one is an accusation" and see exactly what the
workbench does with such a proposal. The tests of what the model itself proposes use the real
pipeline, trained small (``tiny_router``) or shipped (test_api_shipped_model.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from classifier.facts import FactFinding
from classifier.normalize import normalize
from routing.catalogue import load_catalogue
from routing.codes import DOMAINS, Category, Channel
from routing.engine import match_rules
from routing.proposal import ProposalConfig, Scores, propose
from routing.router import input_problems
from routing.rulebook import load_rulebook
from routing.schemas import Letter, RouteProposal

# keyword -> (department, domain): the department head gives the first match 0.72.
KEYWORDS: tuple[tuple[str, str, str], ...] = (
    ("物业", "housing", "城乡建设"),
    ("工资", "hr_social_security", "劳动和社会保障"),
    ("噪音", "ecology_environment", "环境保护"),
    ("污染", "ecology_environment", "环境保护"),
    ("学校", "education", "教育文体"),
    ("公交", "transport", "交通运输"),
    ("违建", "urban_management", "城乡建设"),
)
# What the category head reads. "举报" makes an accusation its top category; "作风" leaves appeal
# on top but gives accusation 0.25, at or above the proposal's confidential_threshold (0.10): the
# letter is confidential by that threshold alone, with an ordinary route.
ACCUSATION_WORD = "举报"
SUGGESTION_WORD = "建议"
THRESHOLD_WORD = "作风"

# keyword -> (legal fact, probability): the fact layer's reading, span = the keyword, quote = its
# sentence (normalised, as classifier/facts.py quotes it). The two court phrases overlap on 起诉, as
# a fact layer's spans may.
FACT_KEYWORDS: tuple[tuple[str, str, float], ...] = (
    ("屡次反映", "prior_complaint", 0.64),
    ("向法院起诉", "court_pending", 0.91),
    ("起诉了装修公司", "civil_dispute", 0.48),
    ("还有一件事", "multi", 0.3),
)
# The learned several-matters head's watch level (``ChannelArbiter.multi_watch_``): "还有一件事"
# reaches it, so such a letter carries the 可能一信多事 prompt.
MULTI_WATCH = 0.1
_SENTENCE_END = "。！？；!?;\n"


def _sentence(text: str, start: int, end: int) -> str:
    a = max(text.rfind(c, 0, start) for c in _SENTENCE_END) + 1
    ends = [i for i in (text.find(c, end) for c in _SENTENCE_END) if i != -1]
    return text[a : min(ends) + 1 if ends else len(text)].strip()


def read_facts(letter: Letter) -> dict[str, FactFinding]:
    """The facts of ``FACT_KEYWORDS`` the letter's title or text holds, at their first occurrence."""
    found: dict[str, FactFinding] = {}
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
                found[tag] = FactFinding(tag=tag, p=p, field=field, start=at, end=end, quote=quote)
    return found


def _spread(top: str, p: float, labels: Sequence[str], second: str | None = None) -> dict[str, float]:
    """``top`` gets ``p``, the runner-up (``second``, else the next label) 0.18, the rest what is left."""
    others = [label for label in labels if label != top]
    runner = second if second in others else others[0]
    rest = [label for label in others if label != runner]
    left = max(1.0 - p - 0.18, 0.0)
    proba = {label: left / len(rest) for label in rest} if rest else {}
    proba[top], proba[runner] = p, 0.18
    return proba


def keyword_scores(letter: Letter, departments: Sequence[str]) -> Scores:
    """The heads' probabilities the keyword table gives ``letter``."""
    text = letter.title + letter.text
    found = [(kw, dep, dom) for kw, dep, dom in KEYWORDS if kw in text]
    if found:
        department = _spread(found[0][1], 0.72, departments)
        domain = _spread(found[0][2], 0.7, DOMAINS)
    else:  # nothing to go by: the heads are unsure and the letter goes to review
        department = _spread("housing", 0.3, departments)
        domain = _spread("城乡建设", 0.3, DOMAINS)
    categories = [c.value for c in Category]
    if ACCUSATION_WORD in text:
        category = _spread(Category.accusation, 0.8, categories, Category.appeal)
    elif SUGGESTION_WORD in text:
        category = _spread(Category.suggestion, 0.8, categories, Category.appeal)
    elif THRESHOLD_WORD in text:
        category = {Category.appeal: 0.7, Category.accusation: 0.25, Category.suggestion: 0.05}
    else:
        category = _spread(Category.appeal, 0.8, categories, Category.suggestion)
    channel = _spread(Channel.ordinary, 0.8, [c.value for c in Channel], Channel.duty_request)
    words = tuple((kw, round(1.5 - i * 0.2, 4)) for i, (kw, _, _) in enumerate(found))
    return Scores(
        proba={"category": category, "domain": domain, "department": department, "channel": channel},
        evidence={"department": words},
        multi_watch=MULTI_WATCH,
    )


class StandInRouter:
    """Answers the two calls the web app makes (``propose`` and ``propose_many``)."""

    model_version = "standin-0"

    def __init__(self, config: ProposalConfig | None = None) -> None:
        self.rulebook = load_rulebook()
        self.catalogue = load_catalogue()
        self.config = config or ProposalConfig()
        self.max_chars = 200_000

    def propose(self, letter: Letter) -> RouteProposal:
        facts = read_facts(letter)
        spans = {f.tag: (f.p, f.field, f.start, f.end) for f in facts.values()}
        return propose(
            letter,
            match_rules(self.rulebook, letter, spans or None),
            keyword_scores(letter, self.catalogue.codes),
            catalogue=self.catalogue,
            config=self.config,
            model_version=self.model_version,
            rulebook_version=self.rulebook.version,
            input_problems=input_problems(letter, self.config, self.max_chars),
            facts=facts,
        )

    def propose_many(self, letters: Sequence[Letter]) -> list[RouteProposal]:
        return [self.propose(letter) for letter in letters]
