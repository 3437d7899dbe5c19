"""Chinese word segmentation: one named, configured segmenter used everywhere.

The segmenter owns its own ``jieba.Tokenizer`` (never the process-global one, whose dictionary any
other library in the process could change) and applies the domain user dictionary from ``data/``.
It is a small class rather than a function so that a fitted ``TfidfVectorizer`` can carry it
inside a saved model; a lambda would not serialise.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from classifier.errors import SegmenterError
from classifier.normalize import compact, normalize

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_USER_DICT = DATA_DIR / "userdict.txt"
DEFAULT_STOPWORDS = DATA_DIR / "stopwords.txt"

BACKENDS = ("jieba",)


def read_user_dict(path: str | Path) -> tuple[tuple[str, int | None, str | None], ...]:
    """Parse a jieba user dictionary (``word [freq] [tag]`` per line, ``#`` comments)."""
    entries: list[tuple[str, int | None, str | None]] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SegmenterError(f"cannot read the user dictionary {path}: {exc}. Pass an existing file.") from exc
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
    return [w for w in Path(path).read_text(encoding="utf-8").split() if not w.startswith("#")]


class Segmenter:
    """Segment a letter into words with jieba and the domain user dictionary.

    Args:
        user_dict: path of a jieba user dictionary; its entries are read once and kept inside the
            segmenter, so a saved model does not depend on the file staying where it was.
        backend: the segmentation engine; ``"jieba"`` is the reference implementation.

    The text is normalised (:func:`classifier.normalize.normalize`) and white space next to Chinese
    characters is dropped before segmenting, so a word broken across a scanned line still comes
    out whole. White-space tokens are not returned.
    """

    def __init__(self, user_dict: str | Path | None = DEFAULT_USER_DICT, backend: str = "jieba") -> None:
        if backend not in BACKENDS:
            raise SegmenterError(f"unknown segmenter backend {backend!r}; choose one of {BACKENDS}")
        self.backend = backend
        self.entries = read_user_dict(user_dict) if user_dict else ()
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    # The tokenizer is rebuilt after unpickling/skops loading instead of being serialised.
    def __getstate__(self) -> dict[str, Any]:
        return {"backend": self.backend, "entries": [list(e) for e in self.entries]}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.backend = state["backend"]
        self.entries = tuple((e[0], e[1], e[2]) for e in state["entries"])
        self._tokenizer = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Segmenter(backend={self.backend!r}, entries={len(self.entries)})"

    def _load(self) -> Any:
        with self._lock:
            if self._tokenizer is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                for word, freq, tag in self.entries:
                    tokenizer.add_word(word, freq, tag)
                self._tokenizer = tokenizer
        return self._tokenizer

    def __call__(self, text: str) -> list[str]:
        tokenizer = self._tokenizer or self._load()
        compacted, _ = compact(normalize(text))
        return [w for w in tokenizer.lcut(compacted, HMM=True) if not w.isspace()]

    def tokenize(self, text: str) -> list[tuple[str, int, int]]:
        """Words with their offsets in the normalised, compacted text."""
        tokenizer = self._tokenizer or self._load()
        compacted, _ = compact(normalize(text))
        return [(w, s, e) for w, s, e in tokenizer.tokenize(compacted, HMM=True) if not w.isspace()]
