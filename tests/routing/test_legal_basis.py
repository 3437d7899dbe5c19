"""Every quote the rulebook attributes to the 2022 《信访工作条例》 is in the article it names.

A rule's ``legal_basis.article`` names one anchor, or several separated by "；" (第二十二条第二款；
第二条): the first is the one the route rests on and must hold the quote; the others must exist.
An anchor is 第X条, optionally with 第Y款 and/or 第Z项, as the regulation is cited. 项 without 款
means the items of the one paragraph that has items (第三十一条第一项).

The 条例 text is read from ../shared/reference; on a fresh clone without ../shared the checks that
need it skip, the ones that only read the rulebook still run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from routing.rulebook import Rule, load_rulebook

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference" / "xinfang-gongzuo-tiaoli-2022.md"
REGULATION = "信访工作条例（2022）"

_NUM = "[一二三四五六七八九十百零]+"
_ARTICLE_HEADING = re.compile(rf"^第({_NUM})条\s*(.*)$")
_ITEM = re.compile(rf"^（{_NUM}）")
_ANCHOR = re.compile(rf"^第(?P<article>{_NUM})条(?:第(?P<para>{_NUM})款)?(?:第(?P<item>{_NUM})项)?$")
_DIGITS = {"零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def cn_number(text: str) -> int:
    """一 .. 九十九 (all the regulation needs), e.g. 二十二 -> 22, 十四 -> 14."""
    tens, sep, units = text.partition("十")
    if not sep:
        return _DIGITS[text]
    return (_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[units] if units else 0)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@dataclass
class Paragraph:
    """One 款: its own text and its items (（一）…), which belong to it."""

    text: str
    items: list[str] = field(default_factory=list)

    @property
    def full(self) -> str:
        return self.text + "".join(self.items)


def parse_regulation(text: str) -> dict[int, list[Paragraph]]:
    """Article number -> its paragraphs. An article runs to the next article or chapter heading."""
    articles: dict[int, list[Paragraph]] = {}
    current: list[Paragraph] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        heading = _ARTICLE_HEADING.match(line)
        if heading:
            current = [Paragraph(heading.group(2))]
            articles[cn_number(heading.group(1))] = current
        elif line.startswith("#"):
            current = None
        elif current is not None:
            if _ITEM.match(line):
                current[-1].items.append(line)
            else:
                current.append(Paragraph(line))
    return articles


def anchor_text(articles: dict[int, list[Paragraph]], anchor: str) -> str:
    """The text an anchor such as 第二十二条第二款 or 第三十一条第一项 designates (AssertionError if none)."""
    m = _ANCHOR.match(anchor)
    assert m, f"{anchor!r} is not cited like the regulation (第X条[第Y款][第Z项])"
    number = cn_number(m["article"])
    assert number in articles, f"the 条例 has no {anchor[: anchor.index('条') + 1]}"
    paragraphs = articles[number]
    if m["para"]:
        index = cn_number(m["para"])
        assert index <= len(paragraphs), f"{anchor}: the article has {len(paragraphs)} 款"
        chosen = [paragraphs[index - 1]]
    else:
        chosen = paragraphs
    if not m["item"]:
        return "".join(p.full for p in chosen)
    with_items = [p for p in chosen if p.items]
    assert len(with_items) == 1, f"{anchor}: name the 款 whose 项 is meant"
    index = cn_number(m["item"])
    assert index <= len(with_items[0].items), f"{anchor}: the 款 has {len(with_items[0].items)} 项"
    return with_items[0].items[index - 1]


def anchors(rule: Rule) -> list[str]:
    return [a.strip() for a in rule.legal_basis.article.split("；") if a.strip()]


def regulation_rules() -> list[Rule]:
    return [r for r in load_rulebook().rules if r.legal_basis.source == REGULATION]


@pytest.fixture(scope="module")
def regulation() -> str:
    if not REFERENCE.exists():
        pytest.skip(f"needs the 2022 条例 text at {REFERENCE} (../shared is absent on a fresh clone)")
    return REFERENCE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def articles(regulation: str) -> dict[int, list[Paragraph]]:
    return parse_regulation(regulation)


# ------------------------------------------------------------------------------- the parser itself


def test_cn_numbers() -> None:
    assert [cn_number(t) for t in ("一", "十", "十四", "二十", "二十二", "五十")] == [1, 10, 14, 20, 22, 50]


def test_the_regulation_parses_into_articles_paragraphs_and_items(
    articles: dict[int, list[Paragraph]],
) -> None:
    assert sorted(articles) == list(range(1, 51))
    assert len(articles[22]) == 2 and len(articles[22][0].items) == 3 and not articles[22][1].items
    assert len(articles[23]) == 4
    assert len(articles[31]) == 1 and len(articles[31][0].items) == 6
    assert anchor_text(articles, "第二十二条第二款").startswith("各级党委和政府信访部门对收到的涉法涉诉信件")
    assert anchor_text(articles, "第三十一条第五项").startswith("（五）属于申请查处违法行为")
    assert anchor_text(articles, "第二十二条第一款第三项").startswith("（三）对转送信访事项中的重要情况")
    assert "第五章" not in anchor_text(articles, "第三十七条")  # an article stops at the chapter heading


@pytest.mark.parametrize(
    "anchor", ["第五十一条", "第二十二条第三款", "第三十一条第七项", "第二十二条第二款第一项", "第22条"]
)
def test_anchors_that_do_not_exist_are_refused(articles: dict[int, list[Paragraph]], anchor: str) -> None:
    with pytest.raises(AssertionError):
        anchor_text(articles, anchor)


# ------------------------------------------------------------------------------------ the rulebook


@pytest.mark.parametrize("rule", regulation_rules(), ids=lambda r: r.id)
def test_the_quote_is_verbatim_in_the_regulation(regulation: str, rule: Rule) -> None:
    assert squash(rule.legal_basis.quote) in squash(regulation), (
        f"{rule.id}: {rule.legal_basis.quote!r} is not in the 2022 条例"
    )


@pytest.mark.parametrize("rule", regulation_rules(), ids=lambda r: r.id)
def test_the_quote_is_inside_the_article_it_names(articles: dict[int, list[Paragraph]], rule: Rule) -> None:
    first, *others = anchors(rule)
    assert squash(rule.legal_basis.quote) in squash(anchor_text(articles, first)), (
        f"{rule.id}: the quote is not in {first}: {anchor_text(articles, first)}"
    )
    for anchor in others:
        anchor_text(articles, anchor)  # exists


def test_routes_never_rest_on_the_scope_or_the_secrecy_clause() -> None:
    """第二条 says who the 条例 binds and 第三十条第三款 forbids leaking an accusation: neither says
    where a letter goes, so neither may be the anchor a channel or an exclusion rests on."""
    wrong = [
        (r.id, anchors(r)[0])
        for r in regulation_rules()
        if r.kind in ("channel", "exclusion") and anchors(r)[0] in ("第二条", "第三十条第三款")
    ]
    assert not wrong


def test_refusals_either_quote_the_refusal_or_say_it_is_practice() -> None:
    """A 不予受理/不再受理 rule anchored in the 条例 quotes those words, or its note says that the
    disposition comes from practice, not from the article cited."""
    words = {"not_accepted": "不予受理", "no_longer_accepted": "不再受理"}
    silent = [
        r.id
        for r in regulation_rules()
        if r.kind == "exclusion"
        and r.disposition is not None
        and words[r.disposition] not in r.legal_basis.quote
        and "practice rule" not in r.note.lower()
    ]
    assert not silent
