"""LetterVectorizer counts n-grams as integer keys; its matrix must equal the plain string count."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from classifier.features import LetterVectorizer, preprocess
from classifier.segment import Segmenter, read_stopwords

# fmt: off
LETTERS = [
    "小区物业乱收停车费，业主多次反映无果。",
    "物业公司违规收取停车费用，请住建局查处。",
    "老板拖欠工资半年，请劳动监察大队帮助追讨。",
    "工地拖欠农民工工资，春节前仍未发放。",
    "学校食堂卫生差，孩子吃了拉肚子。",
    "建议在A3区增加公交线路，方便老人出行。",
    "举报村支书侵占集体土地补偿款。",
    "𠀋字与𠮷字也要能数：生僻字、emoji🙂和 ASCII words 123。",
    "",
    "停车费",
]
# fmt: on
SEGMENTER = Segmenter(backend="rjieba")


def reference_matrix(vec: LetterVectorizer, texts: list[str]) -> np.ndarray:
    """The matrix as the definition reads: strings counted one by one, dense."""
    stop = set(read_stopwords())
    words = {str(t): i for i, t in enumerate(vec.word_terms_)}
    n_words = len(words)
    chars = {str(t): n_words + i for i, t in enumerate(vec.char_terms_)}
    idf = np.concatenate([vec.word_idf_, vec.char_idf_]).tolist()
    out = np.zeros((len(texts), vec.n_features))
    for row, text in enumerate(texts):
        s = preprocess(text)
        sizes = range(vec.char_ngram_min, vec.char_ngram_max + 1)
        grams = [s[i : i + n] for n in sizes for i in range(len(s) - n + 1)]
        ws = [w for w in vec._segmenter()(text) if w not in stop]
        for block, index in ((ws, words), (grams, chars)):
            counts = {index[g]: c for g, c in Counter(block).items() if g in index}
            vals = {j: (1 + math.log(c)) * idf[j] for j, c in counts.items()}
            norm = math.sqrt(sum(v * v for v in vals.values())) or 1.0
            for j, v in vals.items():
                out[row, j] = v / norm
    return out


def reference_vocabulary(texts: list[str], n_min: int, n_max: int, min_df: int, k: int) -> list[str]:
    df: Counter[str] = Counter()
    for text in texts:
        s = preprocess(text)
        df.update({s[i : i + n] for n in range(n_min, n_max + 1) for i in range(len(s) - n + 1)})
    kept = sorted((t for t, c in df.items() if c >= min_df), key=lambda t: (-df[t], t))[:k]
    return sorted(kept)


@pytest.mark.parametrize(
    ("n_min", "n_max", "min_df", "k"),
    [(1, 3, 1, 10_000), (1, 3, 2, 40), (2, 2, 1, 25), (1, 1, 1, 10_000)],
    ids=["all-grams", "capped", "bigrams", "unigrams"],
)
def test_matrix_equals_plain_string_counting(n_min: int, n_max: int, min_df: int, k: int) -> None:
    vec = LetterVectorizer(
        segmenter=SEGMENTER,
        char_ngram_min=n_min,
        char_ngram_max=n_max,
        min_df=min_df,
        char_max_features=k,
    )
    X = vec.fit_transform(LETTERS)
    assert list(vec.char_terms_) == reference_vocabulary(LETTERS, n_min, n_max, min_df, k)
    np.testing.assert_allclose(X.toarray(), reference_matrix(vec, LETTERS), rtol=1e-6, atol=1e-7)
    assert X.dtype == np.float32 and X.has_sorted_indices
    unseen = ["从未见过的句子：物业停车", "𠮷"]
    expected = reference_matrix(vec, unseen)
    np.testing.assert_allclose(vec.transform(unseen).toarray(), expected, rtol=1e-6, atol=1e-7)


def test_character_ngrams_longer_than_three_are_refused() -> None:
    with pytest.raises(ValueError, match="character n-grams must be 1 to 3"):
        LetterVectorizer(segmenter=SEGMENTER, char_ngram_max=4).fit(LETTERS)


@pytest.mark.parametrize("size", [0, 1, 7, 5_000])
def test_key_table_finds_exactly_what_a_sorted_search_finds(size: int) -> None:
    from classifier.features import _KeyTable

    rng = np.random.default_rng(size)
    # Keys as the vectorizer makes them (positive, up to 63 bits), plus runs of neighbours that
    # land in neighbouring slots and have to probe past each other.
    keys = np.unique(
        np.concatenate([rng.integers(1, 2**62, size), np.arange(1000, 1000 + size // 2)])
    ).astype(np.int64)
    absent = rng.integers(1, 2**62, 3 * size + 3)
    queries = np.concatenate([keys, absent, keys[::-1]])
    rng.shuffle(queries)
    pos = np.searchsorted(keys, queries)
    inside = pos < len(keys)
    inside[inside] = keys[pos[inside]] == queries[inside]
    expected = np.where(inside, pos, -1)
    np.testing.assert_array_equal(_KeyTable(keys).lookup(queries), expected)


def test_the_lead_gets_a_block_of_its_own_scaled_beside_the_letter() -> None:
    from classifier.features import LEAD_MAX_CHARS, lead_of, letter_text

    titled = [letter_text(t, x) for t, x in zip(LETTERS[:5], reversed(LETTERS[2:7]), strict=True)]
    texts = [*titled, *LETTERS]
    plain = LetterVectorizer(segmenter=SEGMENTER, min_df=1).fit(texts)
    with_lead = LetterVectorizer(segmenter=SEGMENTER, min_df=1, lead_weight=0.5).fit(texts)
    leads = LetterVectorizer(segmenter=SEGMENTER, min_df=1).fit([lead_of(t) for t in texts])
    X = with_lead.transform(texts)
    assert X.shape[1] == with_lead.n_features == plain.n_features + leads.n_features
    assert X.dtype == np.float32 and X.has_sorted_indices
    own = X[:, : plain.n_features].toarray()
    np.testing.assert_allclose(own, plain.transform(texts).toarray(), rtol=1e-6)
    lead_part = X[:, plain.n_features :].toarray()
    np.testing.assert_allclose(
        lead_part, 0.5 * leads.transform([lead_of(t) for t in texts]).toarray(), rtol=1e-6
    )
    names = with_lead.get_feature_names_out()
    assert len(names) == X.shape[1] and names[plain.n_features].startswith("标题")
    # the title is the lead; a letter without one leads with its first sentence, never a whole page
    assert lead_of(letter_text("物业乱收费", "停车费太贵。请查处。")) == "物业乱收费"
    assert lead_of("停车费太贵。请查处。") == "停车费太贵"
    assert len(lead_of("长" * 1000)) == LEAD_MAX_CHARS
    normalized = [preprocess(t) for t in texts]  # compact also keeps normalised text normalised
    assert (with_lead.transform_normalized(normalized) != with_lead.transform(normalized)).nnz == 0


def test_a_vectorizer_saved_before_the_lead_block_reads_the_letter_alone() -> None:
    import pickle

    vec = LetterVectorizer(segmenter=SEGMENTER, min_df=1).fit(LETTERS)
    state = vec.__getstate__()
    del state["lead_weight"]
    old = LetterVectorizer.__new__(LetterVectorizer)
    old.__setstate__(state)
    assert old.lead_weight == 0.0 and "lead_weight=" not in repr(old)
    again = pickle.loads(pickle.dumps(old))
    assert (again.transform(LETTERS) != vec.transform(LETTERS)).nnz == 0
