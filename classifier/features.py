"""Features of a letter: TF-IDF over jieba words and over character n-grams.

Words carry the vocabulary of a domain (物业, 社保); character n-grams survive OCR errors,
unknown place names and segmentation mistakes. Both vocabularies are capped so the shipped model
stays small, and the matrix is float32.

``LetterVectorizer`` does what a ``FeatureUnion`` of two ``TfidfVectorizer`` would (sublinear tf,
smoothed idf, each block L2-normalised) but keeps its vocabulary as numpy arrays. Measured on the
real letters, scikit-learn's vectorizers ran at ~100 letters/s for both blocks and made a model file
that took 11 minutes to save with skops (its vocabulary dicts and ``stop_words_`` are serialised
entry by entry); this class counts n-grams with ``collections.Counter`` and saves in seconds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from classifier.errors import NotFittedError
from classifier.normalize import compact_text, normalize
from classifier.segment import Segmenter, read_stopwords


def letter_text(title: str, text: str) -> str:
    """The single string the classifier reads: the title carries the request, so it leads."""
    title, text = title.strip(), text.strip()
    return f"{title}。{text}" if title and text else title or text


def normalized_letter_text(title: str, text: str, norm_title: str, norm_text: str) -> str:
    """``normalize(letter_text(title, text))`` from the fields already normalised.

    ``normalize`` keeps every character's place and its masks never take in white space or the
    joining 。, so the normalised letter is the normalised fields, stripped where the raw ones are
    and joined the same way (tests/classifier/test_featurize_once.py).
    """

    def stripped(raw: str, norm: str) -> str:
        start = len(raw) - len(raw.lstrip())
        return norm[start : len(raw.rstrip())] if start < len(raw) else ""

    t, x = stripped(title, norm_title), stripped(text, norm_text)
    return f"{t}。{x}" if t and x else t or x


def preprocess(text: str) -> str:
    """Normalise and compact text before character n-grams."""
    return compact_text(normalize(text))


def _compact_normalized(texts: Sequence[str]) -> list[str]:
    """``compact_text`` of each normalised text, in one regular-expression pass over the batch.

    Normalised text holds no NUL (``normalize`` makes control characters spaces), so NUL joins the
    texts without ever being white space or Chinese to the pattern: nothing is dropped across it.
    """
    return compact_text("\x00".join(texts)).split("\x00") if texts else []


def get_default_config() -> dict[str, Any]:
    return {
        "word_max_features": 30_000,
        "char_max_features": 50_000,
        "char_ngram_min": 1,
        "char_ngram_max": 3,
        "min_df": 2,
        "lead_weight": 0.0,
    }


#: The lead is the letter up to its first 。 (the title, which ``letter_text`` puts first), at most
#: this many characters: a letter without a title leads with its first sentence.
LEAD_MAX_CHARS = 100


def lead_of(text: str) -> str:
    """The lead of a letter's text as ``letter_text`` gives it: its title, else its first sentence."""
    return text.split("。", 1)[0][:LEAD_MAX_CHARS]


class LetterVectorizer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """TF-IDF over segmented words and character n-grams of a letter, float32 CSR output.

    Args:
        segmenter: the word segmenter; ``None`` builds the default one with the shipped dictionary.
        word_max_features: keep the words with the highest document frequency, at most this many.
        char_max_features: same for character n-grams.
        char_ngram_min, char_ngram_max: lengths of the character n-grams.
        min_df: a term must occur in at least this many training letters.
        lead_weight: when above 0, the lead (:func:`lead_of`: the title) gets a TF-IDF block of its
            own, with its own vocabulary, scaled by this weight beside the letter's. The title
            states the request; in the letter's block its words weigh no more than any others.
    """

    def __init__(
        self,
        segmenter: Segmenter | None = None,
        word_max_features: int = 30_000,
        char_max_features: int = 50_000,
        char_ngram_min: int = 1,
        char_ngram_max: int = 3,
        min_df: int = 2,
        lead_weight: float = 0.0,
    ) -> None:
        self.segmenter = segmenter
        self.word_max_features = word_max_features
        self.char_max_features = char_max_features
        self.char_ngram_min = char_ngram_min
        self.char_ngram_max = char_ngram_max
        self.min_df = min_df
        self.lead_weight = lead_weight

    # -- counting ---------------------------------------------------------------------------
    def _segmenter(self) -> Segmenter:
        if self.segmenter is None:
            self.segmenter = Segmenter()
        return self.segmenter

    def _words(
        self, text: str, compacted: str | None = None, segmenter: Segmenter | None = None
    ) -> list[str]:
        stop = self._stop
        segmenter = segmenter or self._segmenter()
        # The segmenter normalises and compacts the text itself; given that form, it is not redone.
        cut = getattr(segmenter, "cut_compacted", None) if compacted is not None else None
        words = cut(compacted) if cut is not None else segmenter(text)
        return [w for w in words if w not in stop]

    @property
    def _stop(self) -> frozenset[str]:
        stop = getattr(self, "_stop_cache", None)
        if stop is None:
            stop = self._stop_cache = frozenset(read_stopwords())
        return stop

    # -- fitting ----------------------------------------------------------------------------
    @staticmethod
    def _select(
        df: Counter[str], n_docs: int, min_df: int, max_features: int
    ) -> tuple[np.ndarray, np.ndarray]:
        # Highest document frequency first, ties by the term itself, so fitting is deterministic.
        kept = sorted((t for t, n in df.items() if n >= min_df), key=lambda t: (-df[t], t))[:max_features]
        kept.sort()
        terms = np.array(kept, dtype=str)
        idf = np.array([math.log((1 + n_docs) / (1 + df[t])) + 1.0 for t in kept], dtype=np.float32)
        return terms, idf

    @staticmethod
    def _select_keys(
        keys: np.ndarray, df: np.ndarray, n_docs: int, min_df: int, max_features: int
    ) -> tuple[np.ndarray, np.ndarray]:
        # The same order as _select: keys sort like the strings they encode.
        keep = df >= min_df
        keys, df = keys[keep], df[keep]
        order = np.lexsort((keys, -df))[:max_features]
        chosen = np.sort(order)  # keys are unique and ascending, so index order is key order
        idf = [math.log((1 + n_docs) / (1 + int(n))) + 1.0 for n in df[chosen]]
        return _decode_keys(keys[chosen]), np.array(idf, dtype=np.float32)

    def fit(self, X: Iterable[str], y: Any = None) -> LetterVectorizer:
        self._fit_grams(self._count(_as_texts(X)))
        return self

    def fit_transform(self, X: Iterable[str], y: Any = None, **fit_params: Any) -> sp.csr_matrix:
        # Segment each letter once for both the vocabulary and the matrix.
        grams = self._count(_as_texts(X))
        self._fit_grams(grams)
        return self._matrix(grams)

    def _count(
        self, texts: Sequence[str], normalized: bool = False, segmenter: Segmenter | None = None
    ) -> _Grams:
        if self.char_ngram_max > _MAX_KEY_CHARS or self.char_ngram_min < 1:
            raise ValueError(
                f"char_ngram_min={self.char_ngram_min}, char_ngram_max={self.char_ngram_max}: character "
                f"n-grams must be 1 to {_MAX_KEY_CHARS} characters long; change the features config"
            )
        compacted = _compact_normalized(texts) if normalized else [preprocess(t) for t in texts]
        # Without word features (the fact layer's sentences) nothing is segmented.
        no_words = self.word_max_features == 0
        segmenter = None if no_words else segmenter or self._segmenter()
        keys, owners = _gram_keys_many(compacted, self.char_ngram_min, self.char_ngram_max)
        grams = _Grams(
            [[] if no_words else self._words(t, c, segmenter) for t, c in zip(texts, compacted, strict=True)],
            keys,
            owners,
        )
        if self.lead_weight > 0:
            # The lead block is counted with this vectorizer's segmenter; its own vocabulary has none.
            leads = [lead_of(t) for t in texts]
            grams.lead = self._lead_block()._count(leads, normalized, segmenter)
        return grams

    @property
    def _fitted_lead(self) -> LetterVectorizer | None:
        # None before fitting, without a lead block, and in models saved before there was one.
        lead: LetterVectorizer | None = getattr(self, "lead_", None)
        return lead

    def _lead_block(self) -> LetterVectorizer:
        """The vectorizer of the lead block: fitted (``lead_``) or, before fitting, a blank one."""
        fitted = self._fitted_lead
        if fitted is not None:
            return fitted
        # The letter's own settings, so a new one reaches the lead too; it has no lead of its own,
        # and it segments with the segmenter its parent passes when counting.
        return LetterVectorizer(**{**self.get_params(deep=False), "segmenter": None, "lead_weight": 0.0})

    def _fit_grams(self, grams: _Grams) -> None:
        word_df: Counter[str] = Counter()
        for words in grams.words:
            word_df.update(set(words))
        n = len(grams.words)
        self.word_terms_, self.word_idf_ = self._select(word_df, n, self.min_df, self.word_max_features)
        per_doc = [np.unique(k) for k in grams.chars] or [np.zeros(0, np.int64)]
        keys, df = np.unique(np.concatenate(per_doc), return_counts=True)
        self.char_terms_, self.char_idf_ = self._select_keys(keys, df, n, self.min_df, self.char_max_features)
        self._index_cache: tuple[dict[str, int], _KeyTable] | None = None
        self.lead_: LetterVectorizer | None = None
        if grams.lead is not None:
            lead = self._lead_block()
            lead._fit_grams(grams.lead)
            self.lead_ = lead

    # -- transforming -----------------------------------------------------------------------
    def _index(self) -> tuple[dict[str, int], _KeyTable]:
        cache: tuple[dict[str, int], _KeyTable] | None = getattr(self, "_index_cache", None)
        if cache is None:
            if not hasattr(self, "word_terms_"):
                raise NotFittedError(
                    "This LetterVectorizer is not fitted yet; call fit(texts) or load a model."
                )
            words = {str(t): i for i, t in enumerate(self.word_terms_)}
            chars = _KeyTable(_keys_of(self.char_terms_))
            cache = (words, chars)
            self._index_cache = cache
        return cache

    @property
    def n_features(self) -> int:
        lead = self._fitted_lead
        return len(self.word_terms_) + len(self.char_terms_) + (lead.n_features if lead is not None else 0)

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        return self._matrix(self._count(_as_texts(X)))

    def transform_normalized(self, texts: Sequence[str]) -> sp.csr_matrix:
        """:meth:`transform` of texts already passed through ``normalize``, which is not redone.

        The fact layer cuts the normalised letter into sentences; normalising each sentence again
        was a tenth of its time. ``normalize`` maps its own output to itself, so the matrix is the
        same (tests/classifier/test_featurize_once.py).
        """
        return self._matrix(self._count(_as_texts(texts), normalized=True))

    def _matrix(self, grams: _Grams) -> sp.csr_matrix:
        own = self._own_matrix(grams)
        lead = self._fitted_lead
        if lead is None:
            return own
        if grams.lead is None:
            raise ValueError("the lead block's grams are missing; count the texts with this vectorizer")
        block = lead._own_matrix(grams.lead)
        block.data *= np.float32(self.lead_weight)
        out: sp.csr_matrix = sp.hstack([own, block], format="csr", dtype=np.float32)
        return out

    def _own_matrix(self, grams: _Grams) -> sp.csr_matrix:
        """The letter's own two blocks (words, then character n-grams), without the lead's."""
        word_index, char_keys = self._index()
        n_docs, n_words = len(grams.words), len(self.word_terms_)
        # Columns of every gram occurrence, letter by letter; -1 for grams outside the vocabulary.
        # map() over dict.get keeps the loop in C: the comprehension was 4 % of routing a letter.
        column = word_index.get
        word_cols = [
            np.fromiter(map(column, words, repeat(-1)), dtype=np.int64, count=len(words))
            for words in grams.words
        ]
        # One lookup over every letter's keys at once: a lookup per letter cost more than the
        # lookup itself when the "letters" are the fact layer's sentences.
        pos = char_keys.lookup(grams.char_keys)
        char_cols = np.where(pos >= 0, pos + n_words, -1)
        idf = np.concatenate([self.word_idf_, self.char_idf_]).astype(np.float64)
        word_docs = np.repeat(np.arange(n_docs, dtype=np.int64), [len(c) for c in word_cols])
        every_word = np.concatenate(word_cols) if word_cols else np.zeros(0, dtype=np.int64)
        blocks = [
            _tfidf_block(word_docs, every_word, idf, n_docs),
            _tfidf_block(grams.char_docs, char_cols, idf, n_docs),
        ]
        docs = np.concatenate([b[0] for b in blocks])
        # Word columns come before character columns, so a stable sort by letter keeps each row sorted.
        order = np.argsort(docs, kind="stable")
        cols = np.concatenate([b[1] for b in blocks])[order]
        data = np.concatenate([b[2] for b in blocks])[order]
        indptr = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(np.bincount(docs, minlength=n_docs), out=indptr[1:])
        own_width = len(self.word_terms_) + len(self.char_terms_)
        return sp.csr_matrix(
            (data.astype(np.float32), cols.astype(np.int32), indptr), shape=(n_docs, own_width)
        )

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        self._index()
        names = np.concatenate([np.char.add("词:", self.word_terms_), np.char.add("字:", self.char_terms_)])
        lead = self._fitted_lead
        if lead is None:
            return names
        return np.concatenate([names, np.char.add("标题", lead.get_feature_names_out())])

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Models saved before the lead block had no such setting: they read the letter alone.
        state.setdefault("lead_weight", 0.0)
        super().__setstate__(state)

    # Caches are rebuilt after loading rather than saved.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_index_cache", None)
        state.pop("_stop_cache", None)
        return state


# Character n-grams are counted as int64 keys rather than strings: each character's code point
# + 1 (21 bits) fills a slot from the left and missing characters are 0, so the keys sort exactly
# like the strings (a prefix first), and three characters fit in 63 bits.
_SLOT_BITS = 21
_MAX_KEY_CHARS = 3
_SLOT_MASK = (1 << _SLOT_BITS) - 1


@dataclass
class _Grams:
    """The words (strings) and character n-gram keys of a batch of letters.

    The keys of every letter lie in one array, ``char_docs`` naming each key's letter, in no
    particular order: splitting them letter by letter only to join them again for the matrix cost
    more than the lookup on the fact layer's many short sentences.
    """

    words: list[list[str]]
    char_keys: np.ndarray
    char_docs: np.ndarray
    #: The same of each letter's lead, when the vectorizer gives the lead a block of its own.
    lead: _Grams | None = None

    @classmethod
    def of(cls, words: list[list[str]], chars: Sequence[np.ndarray]) -> _Grams:
        """From each letter's words and its own array of keys."""
        lengths = [len(k) for k in chars]
        keys = np.concatenate(chars) if len(chars) else np.zeros(0, dtype=np.int64)
        return cls(words, keys.astype(np.int64), np.repeat(np.arange(len(chars), dtype=np.int64), lengths))

    @property
    def chars(self) -> list[np.ndarray]:
        """Each letter's keys as an array of its own."""
        order = np.argsort(self.char_docs, kind="stable")
        bounds = np.cumsum(np.bincount(self.char_docs, minlength=len(self.words)))[:-1]
        return np.split(self.char_keys[order], bounds)

    def subset(self, rows: Sequence[int]) -> _Grams:
        chars = self.chars
        out = _Grams.of([self.words[i] for i in rows], [chars[i] for i in rows])
        out.lead = self.lead.subset(rows) if self.lead is not None else None
        return out


class _KeyTable:
    """The position of each n-gram key in the vocabulary, by open addressing over numpy arrays.

    A binary search of a million keys in a 50,000-key vocabulary took 0.10 ms a letter, the
    largest single step of routing; hashing takes 0.04 (same positions, measured on 1,000 letters):
    a table four times the vocabulary stays in cache, and most keys are settled at the first slot.
    """

    _EMPTY = -1  # no key is negative: code points + 1 are positive and three fit in 63 bits
    _MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads neighbouring keys

    def __init__(self, keys: np.ndarray) -> None:
        self.bits = max(4, int(np.ceil(np.log2(max(len(keys), 1) * 4))))
        self.mask = (1 << self.bits) - 1
        self.keys = np.full(1 << self.bits, self._EMPTY, dtype=np.int64)
        self.positions = np.full(1 << self.bits, -1, dtype=np.int64)
        waiting = np.arange(len(keys))
        slots = self._slots(keys)
        # Insert in rounds: the first key wanting a free slot takes it, the others probe onwards.
        while len(waiting):
            free = self.keys[slots] == self._EMPTY
            _, first = np.unique(slots[free], return_index=True)
            taken = np.flatnonzero(free)[first]
            self.keys[slots[taken]] = keys[waiting[taken]]
            self.positions[slots[taken]] = waiting[taken]
            left = np.ones(len(waiting), dtype=bool)
            left[taken] = False
            waiting, slots = waiting[left], (slots[left] + 1) & self.mask

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):  # the multiplication wraps modulo 2**64 on purpose
            hashed = keys.astype(np.uint64) * self._MULTIPLIER
        return (hashed >> np.uint64(64 - self.bits)).astype(np.int64)

    def lookup(self, queries: np.ndarray) -> np.ndarray:
        """Each query's position in the vocabulary, -1 where it is not in it."""
        out = np.full(len(queries), -1, dtype=np.int64)
        pending = np.arange(len(queries))
        slots = self._slots(queries)
        while len(pending):
            stored = self.keys[slots]
            hit = stored == queries[pending]
            out[pending[hit]] = self.positions[slots[hit]]
            go_on = ~hit & (stored != self._EMPTY)
            pending, slots = pending[go_on], (slots[go_on] + 1) & self.mask
        return out


def _gram_keys(s: str, n_min: int, n_max: int) -> np.ndarray:
    """The character n-grams of one text as keys, the shorter n-grams first, each in text order."""
    return _gram_keys_many([s], n_min, n_max)[0]


def _gram_keys_many(texts: Sequence[str], n_min: int, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_gram_keys` of every text in one pass of array operations: (keys, text of each key).

    The fact layer reads a letter as a dozen sentences; a pass per sentence cost more in numpy's
    per-call overhead than in counting. The texts are read as one run of code points and an n-gram
    is kept where its first and last characters belong to the same text. The keys come grouped by
    length, not by text; the matrix counts them regardless of order.
    """
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    points = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.int64) + 1
    owner = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    keys, owners = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for n in range(n_min, n_max + 1):
        count = len(points) - n + 1
        if count <= 0:
            continue
        key = np.zeros(count, dtype=np.int64)
        for k in range(n):
            key |= points[k : k + count] << (_SLOT_BITS * (_MAX_KEY_CHARS - 1 - k))
        whole = owner[:count] == owner[n - 1 : n - 1 + count]
        keys.append(key[whole])
        owners.append(owner[:count][whole])
    return np.concatenate(keys), np.concatenate(owners)


def _key(term: str) -> int:
    return int(_gram_keys(term, len(term), len(term))[0])


def _keys_of(terms: np.ndarray) -> np.ndarray:
    """:func:`_key` of every term, in one array operation.

    A loaded model builds its table of 50,000 character n-grams before the first letter; one
    ``_key`` call per term took most of a second of every command that routes.
    """
    texts = np.asarray(terms, dtype=str)
    # NumPy pads its fixed-width strings with NUL, so a term holding NUL itself is keyed one by one.
    if (
        texts.size == 0
        or texts.dtype.itemsize // 4 > _MAX_KEY_CHARS
        or any("\x00" in t for t in texts.tolist())
    ):
        return np.array([_key(str(t)) for t in texts], dtype=np.int64)
    fixed = texts.astype(f"<U{_MAX_KEY_CHARS}")
    points = fixed.view(np.uint32).reshape(len(fixed), _MAX_KEY_CHARS).astype(np.int64)
    slots = np.where(points > 0, points + 1, 0)
    shifts = _SLOT_BITS * (_MAX_KEY_CHARS - 1 - np.arange(_MAX_KEY_CHARS, dtype=np.int64))
    keys: np.ndarray = np.bitwise_or.reduce(slots << shifts, axis=1)
    return keys


def _decode_keys(keys: np.ndarray) -> np.ndarray:
    terms = []
    for key in keys.tolist():
        chars = [(key >> (_SLOT_BITS * (_MAX_KEY_CHARS - 1 - k))) & _SLOT_MASK for k in range(_MAX_KEY_CHARS)]
        terms.append("".join(chr(c - 1) for c in chars if c))
    return np.array(terms, dtype=str)


def _unique_counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_counts=True)``, about twice as fast on a block's keys.

    The keys arrive as a few runs already in order (letter by letter, one run per n-gram length),
    which a stable sort merges instead of sorting from scratch as ``np.unique``'s quicksort does.
    """
    ordered = np.sort(keys, kind="stable")
    if len(ordered) == 0:
        return ordered, np.zeros(0, dtype=np.intp)
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    return ordered[starts], np.diff(np.append(starts, len(ordered)))


def _tfidf_block(docs: np.ndarray, flat: np.ndarray, idf: np.ndarray, n_docs: int) -> tuple[np.ndarray, ...]:
    """Sublinear tf × idf of one block, each letter's block L2-normalised: (letter, column, value).

    ``docs[i]`` is the letter of the gram occurrence whose column is ``flat[i]`` (-1: not in the
    vocabulary), in any order.
    """
    known = flat >= 0
    width = len(idf) + 1
    pairs, counts = _unique_counts(docs[known] * width + flat[known])
    docs, cols_out = pairs // width, pairs % width
    values = (1.0 + np.log(counts)) * idf[cols_out]
    norms = np.sqrt(np.bincount(docs, weights=values * values, minlength=n_docs))
    norms[norms == 0] = 1.0
    return docs, cols_out, values / norms[docs]


def _as_texts(X: Iterable[str]) -> Sequence[str]:
    texts = list(X) if not isinstance(X, str) else None
    if texts is None:
        raise ValueError("expected a list of letter texts, got a single string; wrap it in a list")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"letter {i} is {type(t).__name__}, not str; decode files before featurising")
    return texts


def make_featurizer(segmenter: Segmenter, **config: Any) -> LetterVectorizer:
    """Build the (unfitted) featurizer from a config like :func:`get_default_config`."""
    cfg = {**get_default_config(), **config}
    unknown = set(cfg) - set(get_default_config())
    if unknown:
        raise ValueError(f"unknown feature settings {sorted(unknown)}; known: {sorted(get_default_config())}")
    return LetterVectorizer(segmenter=segmenter, **cfg)
