"""``matter_vector`` looks its weights up in a table; they must be the formula's, n-gram for n-gram
and in the same order (a sum over them in another order could differ in its last bit)."""

from __future__ import annotations

import math

import pytest

from classifier.similarity import SCORE_NGRAMS, _grams, matter_text, matter_vector


def _formula(title: str, text: str) -> list[tuple[str, float]]:
    return [(g, 1.0 + math.log(c)) for g, c in _grams(matter_text(title, text), SCORE_NGRAMS).items()]


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("小区物业乱收停车费", "A3区某小区物业公司利用小区道路划定车位收取停车费，每月三百元，请求退还。"),
        ("", "哈" * 3000),  # an n-gram repeated beyond the table: computed, not looked up
        ("噪音", "噪音噪音噪音噪音扰民，噪音！"),
        ("", ""),
        ("", "。"),
        ("甲", ""),
    ],
)
def test_the_weights_are_one_plus_the_log_of_each_count(title: str, text: str) -> None:
    assert list(matter_vector(title, text).items()) == _formula(title, text)


def test_a_long_run_weighs_by_its_count() -> None:
    assert matter_vector("", "哈" * 3000)["哈哈"] == 1.0 + math.log(2999)
    assert matter_vector("", "哈哈哈")["哈哈"] == 1.0 + math.log(2)
