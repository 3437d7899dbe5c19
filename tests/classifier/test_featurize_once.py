"""A letter is normalised once for both feature blocks; its words and matrix are what they were."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import pytest

from classifier.features import LetterVectorizer, _gram_keys, _Grams, preprocess
from classifier.normalize import normalize
from classifier.segment import Segmenter

# White space around Chinese, full-width forms, masked digits, control characters, Latin runs.
TRICKY = [
    "",
    "   ",
    "小区 物业\n乱收费，\u3000每月多收停车费ＡＢＣ１２３",
    "电话0000-00000000，身份证*****，地址A3区K市",
    "Hello world 你好\t世界\r\n第二行\x00\u200b结束",
    "ｘｘｘ 反映 2.5% 的 费用 e-mail a_b",
]


def _letters(data_dir: Path, n: int) -> list[str]:
    with (data_dir / "messages.csv").open(encoding="utf-8", newline="") as handle:
        return [f"{row['title']}。{row['text']}" for row in itertools.islice(csv.DictReader(handle), n)]


@pytest.mark.parametrize("backend", ["jieba", "rjieba"])
def test_cut_compacted_is_the_segmenter_on_the_raw_text(backend: str) -> None:
    segmenter = Segmenter(backend=backend)
    for text in TRICKY:
        assert segmenter.cut_compacted(preprocess(text)) == segmenter(text)


@pytest.mark.shared_data
def test_matrix_is_the_one_built_from_raw_text_twice(shared_data: Path) -> None:
    texts = _letters(shared_data, 400) + TRICKY
    vectorizer = LetterVectorizer(segmenter=Segmenter(backend="rjieba"), min_df=2).fit(texts)
    segmenter = vectorizer.segmenter
    assert segmenter is not None
    # the former path: each block normalises the raw text on its own
    sizes = (vectorizer.char_ngram_min, vectorizer.char_ngram_max)
    keys = [_gram_keys(preprocess(t), *sizes) for t in texts]
    twice = _Grams.of([vectorizer._words(t) for t in texts], keys)
    assert [vectorizer._words(t, preprocess(t)) for t in texts] == twice.words
    assert (vectorizer.transform(texts) != vectorizer._matrix(twice)).nnz == 0
    assert all(segmenter.cut_compacted(preprocess(t)) == segmenter(t) for t in texts)


@pytest.mark.shared_data
def test_sentences_already_normalised_give_the_same_matrix(shared_data: Path) -> None:
    from classifier.facts import split_sentences

    letters = _letters(shared_data, 300) + TRICKY
    sentences = [s.text for t in letters for s in split_sentences("", t)]
    vectorizer = LetterVectorizer(segmenter=None, word_max_features=0, min_df=1).fit(sentences)
    assert all(normalize(s) == s for s in sentences)
    assert (vectorizer.transform(sentences) != vectorizer.transform_normalized(sentences)).nnz == 0


@pytest.mark.shared_data
def test_the_letter_normalised_from_its_normalised_fields_is_the_normalised_letter(shared_data: Path) -> None:
    from classifier.features import letter_text, normalized_letter_text

    pairs = [tuple(t.split("。", 1)) for t in _letters(shared_data, 300)]
    tricky = [(a, b) for a in TRICKY for b in TRICKY] + [("\u200b标题 ", " \ufeff正文000"), ("xx ", " XX")]
    for title, text in [*pairs, *tricky]:
        expected = normalize(letter_text(title, text))
        assert normalized_letter_text(title, text, normalize(title), normalize(text)) == expected
