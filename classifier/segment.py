"""Chinese word segmentation: one named, configured segmenter used everywhere.

The segmenter owns its own engine (never jieba's process-global tokenizer, whose dictionary any
other library in the process could change) and applies the domain user dictionary from ``data/``.
It is a small class rather than a function so that a fitted ``TfidfVectorizer`` can carry it
inside a saved model; a lambda would not serialise.

Three backends; the first two produce the same words:

- ``"jieba"`` is the reference: ``jieba.Tokenizer().lcut(text, HMM=True)``.
- ``"rjieba"`` builds the word graph and finds the best route in Rust (``rjieba``, the binding of
  jieba-rs) and reproduces the reference token for token. jieba-rs on its own differs from jieba
  in five places; each is closed here rather than hoped away:

  1. Blocks. jieba-rs counts more code points as Chinese (U+3400-U+4DBF, U+9FD6-U+9FFF,
     U+F900-U+FAFF and the supplementary planes). The text is split into blocks with jieba's own
     ``re_han_default`` / ``re_skip_default`` here, and only jieba's blocks reach the Rust engine.
  2. Unknown words. jieba-rs's HMM carries the emission log-probabilities rounded to six decimals
     (for 常 as a word start -6.792831 against jieba's -6.79283148381173), which flips near ties
     (常在浮邱观: jieba 常/在/浮/邱观, jieba-rs 常在/浮/邱观), and it keeps Latin runs joined by
     ``.``, ``_`` or ``-`` whole where jieba splits them (jieba 2/./A, jieba-rs 2.A). So the Rust
     engine is asked only for the route (``hmm=False``), and runs of single characters go through
     jieba's own HMM: :func:`_hmm_cut` uses the parameters of ``jieba.finalseg`` with the same
     additions in the same order and the same tie-breaking, only without building path lists.
  3. The route without HMM joins consecutive single Latin letters and digits (``abc``); they are
     taken apart again. A joined run is never a dictionary word as long as no single Latin letter
     or digit is one: a dictionary word always scores better than unknown single characters over
     the same span, so the route would have taken the word.
  4. Main dictionary. The engine is filled from jieba's own ``dict.txt``, not the copy built into
     jieba-rs, so both backends look words up in the same file.
  5. Total frequency, the per-word penalty of the route. jieba adds every line of ``dict.txt``
     (one word is listed twice) and every user entry to the total, even when the entry replaces a
     word it already had; jieba-rs counts each word once. The difference is added back as the
     frequency of a word made of a character no block contains, so it never matches.

  On the 6,139 letters with the user dictionary jieba-rs alone matched 5,631; the Latin split
  (point 2) accounted for 504 of the others, the total (point 5) for 3 (轰/轰轰 against 轰轰/轰)
  and the rounded HMM for 1. Points 1 and 4 changed no letter there but are closed all the same.

  User entries without a frequency get the one the reference computes (jieba's
  ``suggest_freq``), read from a jieba tokenizer built only for that. Entries with frequency 0
  (deletions) and single Latin letters or digits are refused for this backend: jieba treats them
  in ways the Rust route cannot be made to follow.

``tests/classifier/test_segment.py`` proves the identity on every real letter.

- ``"rjieba-native"`` is jieba-rs's own cut, HMM included, over the same dictionary as ``"rjieba"``
  (jieba's ``dict.txt``, the user entries with the reference's frequencies, the reference's
  total; points 4 and 5). Points 1-3 stay open, so its words differ from jieba's on 506 of the
  6,139 letters, but a domain classifier trained on them scores the same macro-F1 on held-out
  letters (BENCHMARKS.md, "Segmentation"), and it skips the Python HMM that was most of the rjieba
  backend's time. Deletions (frequency 0) are refused, as for ``"rjieba"``.

rjieba has no call that reads a user dictionary file; both Rust backends get the user entries the
way the reference does, through ``add_word`` with the frequencies from :func:`read_user_dict`
(missing ones resolved by jieba's ``suggest_freq``). A saved model keeps the backend it was
trained with (``Segmenter.__getstate__``), whatever the default is now.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from classifier.errors import SegmenterError
from classifier.normalize import code_points, compact, han_pairs, is_han, normalize

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_USER_DICT = DATA_DIR / "userdict.txt"
DEFAULT_STOPWORDS = DATA_DIR / "stopwords.txt"

BACKENDS = ("jieba", "rjieba", "rjieba-native")
# The backends that give jieba's words token for token (tests/classifier/test_segment.py).
EXACT_BACKENDS = ("jieba", "rjieba")
# "rjieba-native" is the default: its words cost the domain head nothing measurable against
# jieba's and it segments more than twice as fast as "rjieba" (BENCHMARKS.md, "Segmentation").
# "rjieba" stays for jieba's exact words, "jieba" as the reference.
DEFAULT_BACKEND = "rjieba-native"

Entry = tuple[str, int | None, str | None]

# jieba's expressions, copied from jieba 0.42.1 (jieba/__init__.py and jieba/finalseg) so that the
# rjieba backend splits exactly where the reference does; test_segment.py checks they still equal
# the installed jieba's.
_RE_HAN = re.compile("([\u4e00-\u9fd5a-zA-Z0-9+#&\\._%\\-]+)", re.U)
_RE_SKIP = re.compile("(\r\n|\\s)", re.U)
_RE_HMM_HAN = re.compile("([\u4e00-\u9fd5]+)")
_RE_HMM_SKIP = re.compile("([a-zA-Z0-9]+(?:\\.\\d+)?%?)")
# Carries the total-frequency difference (point 5 of the module docstring); no block contains it.
_TOTAL_PAD_WORD = "\x00"
_HMM_CACHE_SIZE = 1 << 16


def read_user_dict(path: str | Path) -> tuple[Entry, ...]:
    """Parse a jieba user dictionary (``word [freq] [tag]`` per line, ``#`` comments).

    Args:
        path: the dictionary file, UTF-8.

    Returns:
        ``(word, freq, tag)`` per entry in file order; ``freq`` and ``tag`` are ``None`` when absent.

    Raises:
        SegmenterError: the file cannot be read or a line has more than three fields.
    """
    entries: list[Entry] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SegmenterError(
            f"cannot read the user dictionary {path}: {exc}. Pass an existing file."
        ) from exc
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) > 3:
            raise SegmenterError(f"{path}:{number}: expected 'word [freq] [tag]', got {line!r}")
        word = parts[0]
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        tag = parts[-1] if len(parts) > 1 and not parts[-1].isdigit() else None
        entries.append((word, freq, tag))
    return tuple(entries)


def read_stopwords(path: str | Path = DEFAULT_STOPWORDS) -> list[str]:
    """Words of the stop-word file, one per line; ``#`` lines are comments."""
    return [w for w in Path(path).read_text(encoding="utf-8").split() if not w.startswith("#")]


class _Engine(Protocol):
    def cut(self, text: str) -> list[str]: ...


def _reference_tokenizer(entries: Iterable[Entry]) -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word, freq, tag in entries:
        tokenizer.add_word(word, freq, tag)
    return tokenizer


class _JiebaEngine:
    """The reference: a private ``jieba.Tokenizer`` with the user entries added in order."""

    def __init__(self, entries: tuple[Entry, ...]) -> None:
        self._tokenizer = _reference_tokenizer(entries)

    def cut(self, text: str) -> list[str]:
        words: list[str] = self._tokenizer.lcut(text, HMM=True)
        return words


def _main_dictionary() -> list[tuple[str, int, str | None]]:
    """jieba's ``dict.txt``, read the way ``jieba.Tokenizer.gen_pfdict`` reads it."""
    import jieba

    path = Path(jieba.__file__).with_name(jieba.DEFAULT_DICT_NAME)
    rows: list[tuple[str, int, str | None]] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.strip().decode("utf-8")
            parts = line.split(" ")
            try:
                rows.append((parts[0], int(parts[1]), parts[2] if len(parts) > 2 else None))
            except (IndexError, ValueError) as exc:
                raise SegmenterError(
                    f"{path}:{number}: invalid main dictionary entry {line!r}; reinstall jieba"
                ) from exc
    return rows


@functools.cache
def dictionary_pairs() -> np.ndarray:
    """Every two neighbouring Chinese characters inside a word of jieba's main dictionary, as the
    sorted keys of :func:`classifier.normalize.han_pairs`: about 300,000 (1.2 MB), read once
    (under half a second).

    Chinese prose is mostly made of such pairs; characters strung together at random are not, which
    is how the input check tells a letter from noise (``routing.router.looks_meaningless``).
    """
    words = "\x00".join(word for word, _, _ in _main_dictionary() if len(word) > 1)
    points = code_points(words)
    return np.unique(han_pairs(points, is_han(points, compatibility=False)))


def _resolve_frequencies(entries: tuple[Entry, ...]) -> list[tuple[str, int, str | None]]:
    """Give every user entry the frequency the reference tokenizer would store for it."""
    if all(freq is not None for _, freq, _ in entries):
        return [(word, int(freq), tag) for word, freq, tag in entries if freq is not None]
    # jieba's suggest_freq depends on everything added before the entry; let jieba compute it.
    tokenizer = _reference_tokenizer(())
    resolved: list[tuple[str, int, str | None]] = []
    for word, freq, tag in entries:
        tokenizer.add_word(word, freq, tag)
        resolved.append((word, int(tokenizer.FREQ[word]), tag))
    return resolved


class _Hmm:
    """jieba's unknown-word HMM (``jieba.finalseg``) with its own parameters, computed faster.

    ``jieba.finalseg.viterbi`` copies a path list per state and character; this keeps one
    back-pointer instead. Every score is the same sum in the same order (previous score plus
    transition, plus emission), and ties go where ``max`` over ``(score, state)`` tuples sends
    them: to the later letter of B < E < M < S. So the states, and the words, are jieba's.
    """

    def __init__(self) -> None:
        from jieba.finalseg import MIN_FLOAT, emit_P, start_P, trans_P

        states = "BMES"
        chars = {c for s in states for c in emit_P[s]}
        self.emit = {c: tuple(emit_P[s].get(c, MIN_FLOAT) for s in states) for c in chars}
        self.no_emit = (MIN_FLOAT,) * 4
        self.start = tuple(start_P[s] for s in states)
        pairs = ("BE", "BM", "EB", "ES", "ME", "MM", "SB", "SS")
        self.trans: dict[str, float] = {pair: trans_P[pair[0]][pair[1]] for pair in pairs}

    def words(self, run: str) -> tuple[str, ...]:
        """The words of a run of Chinese characters, as ``jieba.finalseg.__cut`` yields them."""
        emit, no_emit, t = self.emit.get, self.no_emit, self.trans
        t_be, t_bm, t_eb, t_es = t["BE"], t["BM"], t["EB"], t["ES"]
        t_me, t_mm, t_sb, t_ss = t["ME"], t["MM"], t["SB"], t["SS"]
        e_b, e_m, e_e, e_s = emit(run[0], no_emit)
        v_b, v_m, v_e, v_s = (p + e for p, e in zip(self.start, (e_b, e_m, e_e, e_s), strict=True))
        back: list[tuple[int, int, int, int]] = []
        # States are indexed B=0, M=1, E=2, S=3; each comparison keeps the later state on a tie.
        for char in run[1:]:
            e_b, e_m, e_e, e_s = emit(char, no_emit)
            p, q = v_e + t_eb + e_b, v_s + t_sb + e_b
            n_b, b_b = (p, 2) if p > q else (q, 3)
            p, q = v_b + t_bm + e_m, v_m + t_mm + e_m
            n_m, b_m = (p, 0) if p > q else (q, 1)
            p, q = v_b + t_be + e_e, v_m + t_me + e_e
            n_e, b_e = (p, 0) if p > q else (q, 1)
            p, q = v_e + t_es + e_s, v_s + t_ss + e_s
            n_s, b_s = (p, 2) if p > q else (q, 3)
            v_b, v_m, v_e, v_s = n_b, n_m, n_e, n_s
            back.append((b_b, b_m, b_e, b_s))
        state = 2 if v_e > v_s else 3
        path = [state]
        for pointers in reversed(back):
            state = pointers[state]
            path.append(state)
        path.reverse()
        words: list[str] = []
        begin = following = 0
        for i, state in enumerate(path):
            if state == 0:
                begin = i
            elif state == 2:
                words.append(run[begin : i + 1])
                following = i + 1
            elif state == 3:
                words.append(run[i])
                following = i + 1
        if following < len(run):
            words.append(run[following:])
        return tuple(words)


@functools.lru_cache(maxsize=1)
def _hmm() -> _Hmm:
    return _Hmm()


def _force_split_words() -> set[str]:
    # jieba keeps the words deleted with add_word(word, 0) in one set for the whole process.
    from jieba.finalseg import Force_Split_Words

    words: set[str] = Force_Split_Words
    return words


def _finalseg_words(buffer: str, force_split: Collection[str]) -> list[str]:
    """``jieba.finalseg.cut``: Chinese runs through the HMM, the rest by jieba's pattern."""
    words: list[str] = []
    hmm = _hmm()
    for index, block in enumerate(_RE_HMM_HAN.split(buffer)):
        if not block:
            continue
        if index & 1:
            for word in hmm.words(block):
                if word in force_split:
                    words.extend(word)
                else:
                    words.append(word)
        else:
            words.extend(piece for piece in _RE_HMM_SKIP.split(block) if piece)
    return words


@functools.lru_cache(maxsize=_HMM_CACHE_SIZE)
def _finalseg_cached(buffer: str) -> tuple[str, ...]:
    # Names and places recur from letter to letter and the HMM never changes, so memoise.
    return tuple(_finalseg_words(buffer, ()))


def _hmm_cut(buffer: str) -> Sequence[str]:
    """The words jieba's HMM makes of ``buffer``, a run of characters that is not a dictionary word."""
    force_split = _force_split_words()
    if force_split:
        return _finalseg_words(buffer, force_split)
    return _finalseg_cached(buffer)


def _check_rjieba_entries(entries: Iterable[Entry]) -> None:
    """Refuse the user entries whose effect in jieba the rjieba backend cannot reproduce."""
    for word, freq, _ in entries:
        if freq == 0:
            raise SegmenterError(
                f"user entry {word!r} has frequency 0 (a deletion); the rjieba backend cannot "
                "reproduce how jieba deletes words. Give it a positive frequency or use backend='jieba'."
            )
        if len(word) == 1 and word.isascii() and word.isalnum():
            raise SegmenterError(
                f"user entry {word!r} is a single Latin letter or digit; with it the rjieba backend "
                "could not take joined letters apart as jieba does. Remove it or use backend='jieba'."
            )


def _rust_engine(entries: tuple[Entry, ...]) -> tuple[Any, int, frozenset[str]]:
    """A jieba-rs engine holding jieba's ``dict.txt`` and the user entries, as the reference counts them.

    Returns the engine, the reference's total frequency and the words it holds. The main dictionary
    is jieba's own file (point 4 of the module docstring), user entries get the reference's
    frequencies, and the total is padded to the reference's (point 5); both Rust backends share it.
    """
    import rjieba

    user = _resolve_frequencies(entries)
    main = _main_dictionary()
    # rjieba's stub leaves empty() unannotated; it returns a Jieba without a dictionary.
    engine: rjieba.Jieba = rjieba.Jieba.empty()  # type: ignore[no-untyped-call]
    final: dict[str, int] = {}
    reference_total = 0
    for word, freq, tag in (*main, *user):
        engine.add_word(word, freq, tag)
        final[word] = freq
        reference_total += freq
    padding = reference_total - sum(final.values())
    if padding:
        engine.add_word(_TOTAL_PAD_WORD, padding, None)
    return engine, reference_total, frozenset(final)


class _RJiebaEngine:
    """jieba's algorithm with the route in Rust; the five differences of the module docstring closed."""

    def __init__(self, entries: tuple[Entry, ...]) -> None:
        _check_rjieba_entries(entries)
        self._engine, self.total, words = _rust_engine(entries)
        # Latin-and-digit words the route may return whole; any other such token is a joined run.
        self._alnum_words = frozenset(w for w in words if len(w) > 1 and w.isascii() and w.isalnum())

    def cut(self, text: str) -> list[str]:
        words: list[str] = []
        append, extend = words.append, words.extend
        route, is_word, alnum_words = self._engine.cut, self._engine.has_word, self._alnum_words
        # re.split with one group alternates: text between blocks at even indices, blocks at odd.
        for index, block in enumerate(_RE_HAN.split(text)):
            if not block:
                continue
            if not index & 1:
                # As jieba: white space (``\r\n`` together) as it is, anything else one character each.
                for position, part in enumerate(_RE_SKIP.split(block)):
                    if position & 1:
                        append(part)
                    else:
                        extend(part)
                continue
            # jieba's __cut_DAG over the route: single characters gather into a buffer, which is
            # cut by the HMM unless it is itself a dictionary word.
            buffer = ""
            for step in route(block, False):
                if len(step) == 1 or (step.isascii() and step.isalnum() and step not in alnum_words):
                    buffer += step
                    continue
                if buffer:
                    if len(buffer) == 1:
                        append(buffer)
                    elif is_word(buffer):
                        extend(buffer)
                    else:
                        extend(_hmm_cut(buffer))
                    buffer = ""
                append(step)
            if buffer:
                if len(buffer) == 1:
                    append(buffer)
                elif is_word(buffer):
                    extend(buffer)
                else:
                    extend(_hmm_cut(buffer))
        return words


def _check_native_entries(entries: Iterable[Entry]) -> None:
    """Refuse deletions for the rjieba-native backend.

    Resolving a missing frequency goes through a jieba tokenizer, and jieba records a deleted word
    in a set shared by the whole process, which would change the other backends' words.
    """
    for word, freq, _ in entries:
        if freq == 0:
            raise SegmenterError(
                f"user entry {word!r} has frequency 0 (a deletion); the rjieba-native backend does not "
                "delete words. Give it a positive frequency or use backend='jieba'."
            )


class _RJiebaNativeEngine:
    """jieba-rs's own cut, HMM included, over the dictionary of the rjieba backend.

    The words are not always jieba's (points 1-3 of the module docstring are left open: jieba-rs's
    blocks, its rounded HMM, Latin runs kept whole); BENCHMARKS.md ("Segmentation") counts the
    letters where they differ and what that does to the domain head. The engine is a private
    ``rjieba.Jieba``, never rjieba's process-global one.
    """

    def __init__(self, entries: tuple[Entry, ...]) -> None:
        _check_native_entries(entries)
        self._engine, self.total, _ = _rust_engine(entries)

    def cut(self, text: str) -> list[str]:
        words: list[str] = self._engine.cut(text, True)
        return words


_ENGINES: dict[str, type[_JiebaEngine] | type[_RJiebaEngine] | type[_RJiebaNativeEngine]] = {
    "jieba": _JiebaEngine,
    "rjieba": _RJiebaEngine,
    "rjieba-native": _RJiebaNativeEngine,
}
# Refusals a backend makes when the segmenter is created, before its engine is built.
_ENTRY_CHECKS: dict[str, Callable[[Iterable[Entry]], None]] = {
    "rjieba": _check_rjieba_entries,
    "rjieba-native": _check_native_entries,
}


class Segmenter:
    """Segment a letter into words with jieba's algorithm and the domain user dictionary.

    Args:
        user_dict: path of a jieba user dictionary; its entries are read once and kept inside the
            segmenter, so a saved model does not depend on the file staying where it was.
        backend: the segmentation engine, one of :data:`BACKENDS`. ``"jieba"`` is the reference
            implementation; ``"rjieba"`` gives the same words several times faster;
            ``"rjieba-native"`` (the default) gives jieba-rs's own words, faster still.

    The text is normalised (:func:`classifier.normalize.normalize`) and white space next to Chinese
    characters is dropped before segmenting, so a word broken across a scanned line still comes
    out whole. White-space tokens are not returned. The engine is built on first use, once, under a
    lock; segmenting afterwards only reads it, so one segmenter can serve many threads.
    """

    def __init__(
        self, user_dict: str | Path | None = DEFAULT_USER_DICT, backend: str = DEFAULT_BACKEND
    ) -> None:
        if backend not in BACKENDS:
            raise SegmenterError(f"unknown segmenter backend {backend!r}; choose one of {BACKENDS}")
        self.backend = backend
        self.entries = read_user_dict(user_dict) if user_dict else ()
        if backend in _ENTRY_CHECKS:
            _ENTRY_CHECKS[backend](self.entries)
        self._engine: _Engine | None = None
        self._lock = threading.Lock()

    # The engine is rebuilt after unpickling/skops loading instead of being serialised.
    def __getstate__(self) -> dict[str, Any]:
        return {"backend": self.backend, "entries": [list(e) for e in self.entries]}

    def __setstate__(self, state: dict[str, Any]) -> None:
        backend = state.get("backend")
        if backend not in BACKENDS:
            raise SegmenterError(
                f"saved segmenter has backend {backend!r}; this installation knows {BACKENDS}. "
                "Retrain the model or install the version that saved it."
            )
        self.backend = backend
        self.entries = tuple((e[0], e[1], e[2]) for e in state["entries"])
        if backend in _ENTRY_CHECKS:
            _ENTRY_CHECKS[backend](self.entries)
        self._engine = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Segmenter(backend={self.backend!r}, entries={len(self.entries)})"

    def _load(self) -> _Engine:
        with self._lock:
            if self._engine is None:
                self._engine = _ENGINES[self.backend](self.entries)
            return self._engine

    def _words(self, text: str) -> list[str]:
        engine = self._engine or self._load()
        compacted, _ = compact(normalize(text))
        return engine.cut(compacted)

    def __call__(self, text: str) -> list[str]:
        """Words of ``text``, in order, without white space."""
        return [w for w in self._words(text) if not w.isspace()]

    def cut_compacted(self, compacted: str) -> list[str]:
        """``self(text)`` for ``compacted = compact(normalize(text))[0]``, which the caller already has.

        The featurizer normalises each letter once for its character n-grams and its words alike.
        """
        engine = self._engine or self._load()
        return [w for w in engine.cut(compacted) if not w.isspace()]

    def tokenize(self, text: str) -> list[tuple[str, int, int]]:
        """Words with their offsets in the normalised, compacted text (as ``jieba.tokenize``)."""
        tokens: list[tuple[str, int, int]] = []
        start = 0
        for word in self._words(text):
            end = start + len(word)
            if not word.isspace():
                tokens.append((word, start, end))
            start = end
        return tokens
