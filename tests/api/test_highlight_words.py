"""The letter's marks follow its words, and the strongest-words list names only words that tell something.

The segmenter is the shipped one (jieba's algorithm with the domain dictionary), as on the page.
"""

from __future__ import annotations

from api.pages.letters import mark_field
from api.presenters import WordBounds, highlight, strongest_words
from routing.schemas import FactEvidence, FeatureWeight, LegalBasis, RuleHit


def _hit(text: str, matched: str, *, at: int | None = None) -> RuleHit:
    start = text.index(matched) if at is None else at
    return RuleHit(
        rule_id="R-TEST",
        title="测试规则",
        kind="flag",
        priority=1,
        legal_basis=LegalBasis(article="第三十六条", quote="……"),
        field="text",
        start=start,
        end=start + len(matched),
        matched=matched,
    )


def _marked(segments: list) -> list[str]:  # type: ignore[type-arg]
    return [s.text for s in segments if s.marked]


def test_a_model_word_ending_inside_a_word_marks_the_whole_word() -> None:
    text = "请求有关部门调查处理此事。"
    # "调查处" is a character n-gram the model may weigh; in the letter it is half of 调查/处理.
    assert _marked(highlight(text, [], words=["调查处"])) == ["调查处理"]


def test_a_rule_match_ending_inside_a_word_is_widened_and_keeps_its_number() -> None:
    text = "请求有关部门调查处理此事。"
    segments = highlight(text, [_hit(text, "调查处")])
    assert _marked(segments) == ["调查处理"]
    assert [s.hit_numbers for s in segments if s.marked] == [(1,)]
    assert "".join(s.text for s in segments) == text


def test_widening_follows_a_word_broken_across_a_scanned_line() -> None:
    # The segmenter joins 处\n理 (white space next to Chinese is dropped before cutting); the mark
    # must cover the whole word in the officer's text, line break included.
    text = "请求有关部门调查处\n理此事。"
    bounds = WordBounds.of(text)
    start = text.index("调查")
    assert bounds.widen(start, start + 3) == (start, start + 5)
    assert _marked(highlight(text, [_hit(text, "调查处")], bounds=bounds)) == ["调查处\n理"]


def test_marks_already_on_word_boundaries_are_left_as_they_are() -> None:
    text = "公司拖欠工资三个月，要求申请劳动仲裁。"
    segments = highlight(text, [_hit(text, "申请劳动仲裁")], words=["公司"])
    assert _marked(segments) == ["公司", "申请劳动仲裁"]


def test_a_model_word_inside_a_longer_dictionary_word_marks_that_word() -> None:
    # 拖欠工资 is one word of the dictionary: marking 工资 alone would cut it.
    text = "公司拖欠工资三个月。"
    assert _marked(highlight(text, [], words=["工资"])) == ["拖欠工资"]


def test_fact_spans_are_widened_to_words_too() -> None:
    text = "我已向法院起诉，法院已立案。"
    fact = FactEvidence(
        tag="court_pending", name="已起诉", p=0.9, field="text", start=3, end=6, quote="我已向法院起诉，"
    )  # 法院起 ends inside 起诉
    marks = mark_field(text, [], "text", facts=[fact])
    assert [m.text for m in marks if m.facts] == ["法院起诉"]


def test_strongest_words_leave_out_pronouns_and_function_words() -> None:
    evidence = {
        "department": (
            FeatureWeight(feature="字:他", weight=0.9),
            FeatureWeight(feature="字:我", weight=0.85),
            FeatureWeight(feature="词:我们 的", weight=0.8),
            FeatureWeight(feature="字:的", weight=0.7),
            FeatureWeight(feature="词:物业", weight=0.5),
            FeatureWeight(feature="字:物业", weight=0.6),
            FeatureWeight(feature="词:他 拖欠", weight=0.4),
            FeatureWeight(feature="字:税", weight=0.3),
        )
    }
    words = strongest_words(evidence)
    assert [(w.text, w.weight) for w in words] == [("物业", 0.6), ("他 拖欠", 0.4), ("税", 0.3)]


def test_a_word_of_the_titles_own_block_is_shown_as_the_letters_word() -> None:
    evidence = {
        "domain": (
            FeatureWeight(feature="标题词:停车费", weight=0.7),
            FeatureWeight(feature="标题字:物业", weight=0.65),
            FeatureWeight(feature="字:物业", weight=0.6),
        )
    }
    words = strongest_words(evidence, head="domain")
    assert [(w.text, w.weight) for w in words] == [("停车费", 0.7), ("物业", 0.65)]
