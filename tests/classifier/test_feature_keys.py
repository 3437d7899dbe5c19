"""The vectoriser's table of character n-grams is keyed at once, exactly as gram by gram."""

from __future__ import annotations

import numpy as np

from classifier.features import _key, _keys_of


def test_keys_of_many_terms_equal_their_keys_one_by_one() -> None:
    rng = np.random.default_rng(7)
    alphabet = list("物业公司乱收费，。Ab1 ") + ["𠮷", "𡃁", "\u3000", "\uffff"]
    terms = sorted({"".join(rng.choice(alphabet, size=n)) for n in (1, 2, 3) for _ in range(300)} | {"a"})
    array = np.array(terms, dtype=str)
    assert _keys_of(array).tolist() == [_key(t) for t in terms]


def test_a_term_holding_nul_is_keyed_one_by_one() -> None:
    # Read as fixed-width text the NUL would look like padding and the key would drop it.
    terms = np.array(["物\x00业", "税"], dtype=str)
    assert _keys_of(terms).tolist() == [_key("物\x00业"), _key("税")]


def test_keys_of_a_batch_are_each_texts_own_keys() -> None:
    from classifier.features import _gram_keys, _gram_keys_many

    # Empty and one-character texts between longer ones: an n-gram must never join two texts.
    texts = ["", "税", "物业乱收费", "", "ab", "𠮷𡃁字", "x", "", "小区 停车费。"]
    for n_min, n_max in ((1, 3), (2, 3), (3, 3), (1, 1)):
        keys, owners = _gram_keys_many(texts, n_min, n_max)
        for i, text in enumerate(texts):
            mine = sorted(keys[owners == i].tolist())
            assert mine == sorted(_gram_keys(text, n_min, n_max).tolist()), (text, n_min)
    for none in ([], ["", ""]):
        keys, owners = _gram_keys_many(none, 1, 3)
        assert len(keys) == len(owners) == 0


def test_unique_counts_equal_numpy_unique() -> None:
    from classifier.features import _unique_counts

    rng = np.random.default_rng(3)
    # A few ascending runs as a block's keys arrive, one shuffled array, a single key and none.
    runs = np.concatenate([np.sort(rng.integers(0, 50, size=n)) for n in (40, 7, 120)])
    for keys in (runs, rng.integers(0, 9, size=200), np.array([5]), np.zeros(0, dtype=np.int64)):
        expected = np.unique(keys, return_counts=True)
        got = _unique_counts(keys)
        assert got[0].tolist() == expected[0].tolist()
        assert got[1].tolist() == expected[1].tolist()
