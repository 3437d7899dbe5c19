"""The fact layer learns which sentence states a fact, gives a probability per letter and a span."""

from __future__ import annotations

import random

import pytest

from classifier.errors import NotFittedError
from classifier.facts import FACT_TAGS, FactDetector, quote_in, split_sentences

PENDING = ["我已经向法院起诉了", "法院已经立案受理", "案子下个月开庭审理", "我们把公司告上了法庭"]
ROLE = ["我家就住在法院旁边", "法院门口的路灯坏了", "朋友说他打官司赢了", "难道要我去法院告吗"]
FILLER = [
    "小区的路面坑洼不平",
    "请有关部门尽快处理",
    "感谢领导百忙之中阅读",
    "我们多次反映没有结果",
    "希望早日解决",
]
MISCONDUCT = ["村支书截留了扶贫款", "科长暗示要打点一下", "站长把补助发给亲戚"]


def _corpus(
    n: int = 90, seed: int = 1
) -> tuple[list[tuple[str, str]], list[dict[str, str] | None], list[str]]:
    rng = random.Random(seed)
    letters, facts, groups = [], [], []
    for i in range(n):
        kind = i % 3
        sentences = rng.sample(FILLER, 2)
        found: dict[str, str] = {}
        if kind == 0:
            s = rng.choice(PENDING)
            found["court_pending"] = s
        elif kind == 1:
            s = rng.choice(ROLE)  # the word 法院 in a role that states no lawsuit
        else:
            s = rng.choice(MISCONDUCT)
            found["official_misconduct"] = s
        sentences.insert(rng.randrange(3), s)
        letters.append((f"来信{i}", "。".join(sentences) + "。"))
        facts.append(found)
        groups.append(f"g{i}")
    return letters, facts, groups


@pytest.fixture(scope="module")
def detector() -> FactDetector:
    letters, facts, groups = _corpus()
    urgent = [int(i % 10 == 0) for i in range(len(letters))]
    return FactDetector(min_positive=5, min_df=1).fit(letters, facts, groups, {"urgent": urgent})


def test_sentences_keep_offsets_into_the_raw_text() -> None:
    text = "我住在Ａ市。　法院已经立案！请处理"
    units = split_sentences("标题", text)
    assert units[0].field == "title"
    for u in units[1:]:
        assert text[u.start : u.end].replace("Ａ", "A") == u.text
    assert [u.text for u in units[1:]] == ["我住在A市。", "法院已经立案！", "请处理"]


def test_a_quote_names_its_sentence_even_across_a_break() -> None:
    assert quote_in("法院已经立案", "据说法院已经立案受理。")
    assert quote_in("法院已经立案受理，下个月开庭", "法院已经立案受理，")
    assert not quote_in("", "任何句子")


def test_learns_the_stating_sentence_not_the_word(detector: FactDetector) -> None:
    found = detector.detect(
        [
            ("来信", "小区的路面坑洼不平。我已经向法院起诉了。希望早日解决。"),
            ("来信", "我家就住在法院旁边。小区的路面坑洼不平。"),
        ]
    )
    stated, role = found[0]["court_pending"], found[1]["court_pending"]
    assert stated.p > 0.5 > role.p
    assert stated.quote == "我已经向法院起诉了。" and (stated.field, stated.start) == ("text", 10)
    assert found[0]["official_misconduct"].p < 0.5


def test_reports_every_learned_label_and_skips_what_it_could_not_learn(detector: FactDetector) -> None:
    assert set(detector.labels) == {"court_pending", "official_misconduct", "urgent"}
    assert set(detector.skipped_) >= set(FACT_TAGS) - {"court_pending", "official_misconduct"}
    empty = detector.detect([("", "")])[0]
    assert set(empty) == set(detector.labels) and all(f.p == 0.0 for f in empty.values())


def test_probabilities_are_deterministic(detector: FactDetector) -> None:
    letters, facts, groups = _corpus()
    again = FactDetector(min_positive=5, min_df=1).fit(letters, facts, groups, {"urgent": [0, 1] * 45})
    a = detector.detect(letters[:10])
    b = again.detect(letters[:10])
    assert [x["court_pending"].p for x in a] == [x["court_pending"].p for x in b]


def test_unfitted_detector_says_so() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        FactDetector().detect([("t", "x")])


def test_a_consultation_head_is_learned_and_has_no_span_of_its_own() -> None:
    rng = random.Random(5)
    questions = [
        "请问劳动仲裁的时效是多久？",
        "想咨询一下申请仲裁要带什么材料？",
        "请问法院立案需要哪些手续？",
    ]
    letters, facts, groups, asks = [], [], [], []
    for i in range(90):
        asking = i % 3 == 0
        sentences = rng.sample(FILLER, 2) + ([rng.choice(questions)] if asking else [])
        letters.append((f"来信{i}", "。".join(sentences) + "。"))
        facts.append({})
        groups.append(f"g{i}")
        asks.append(int(asking))
    detector = FactDetector(min_positive=5, min_df=1).fit(letters, facts, groups, {"consultation": asks})
    assert "consultation" in detector.labels
    asked, told = detector.detect(
        [("咨询", "请问劳动仲裁的时效是多久？"), ("来信", "。".join(FILLER[:2]) + "。")]
    )
    assert asked["consultation"].p > 0.5 > told["consultation"].p
    assert (asked["consultation"].start, asked["consultation"].end, asked["consultation"].quote) == (0, 0, "")
