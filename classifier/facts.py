"""The fact layer: which legal facts a letter states, how likely, and where.

A route depends on what the words *do* in the letter, not on the words: 法院 as an address, a
friend's arbitration, a rhetorical 难道要我去法院告吗 and an award already in force all contain
the statutory word. The fact layer reads each sentence (and the title) for the legal facts of
``FACTS.md`` — a lawsuit pending, a judgment in force, an award made, a decision contested, an
official's misconduct … — and gives, for each letter and each fact, a calibrated probability and
the span of the officer's text that shows it. The rulebook's fact rules (``routing``) read these.

How it is learned (:meth:`FactDetector.fit`): annotators quoted, for every fact a letter states,
a short exact passage. The sentence holding the quote is a positive example of that fact, every
other sentence of an annotated letter a negative one, so a detector learns the sentence in which a
word states the fact from the sentences in which the same word plays another role. One logistic
regression per fact reads character 1–3-grams of a sentence (no segmentation: the hot path of the
letter heads is not paid twice). A letter's evidence for a fact is its strongest sentence and the
letter as a whole; a per-fact logistic calibration over those two scores, fitted on out-of-fold
scores (folds by group), turns them into the probability that the letter states the fact.

Three letter-level heads ride along on the same features: ``urgent`` (an imminent serious risk,
第二十五条), ``multi`` (several unrelated matters, 第二十四条) and ``consultation`` (the letter
mainly asks a question), learned from the annotators' letter labels; they have no quotes, so their
span is the letter's strongest sentence for the closest fact (``self_harm_or_violence``,
``group_action``) when there is one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from classifier.errors import NotFittedError
from classifier.features import LetterVectorizer
from classifier.normalize import normalize

#: Fact tags with what each one says (the annotation guide's definitions, in the officer's words).
FACT_NAMES: dict[str, str] = {
    "court_pending": "已起诉或案件在法院审理中",
    "court_decided": "法院已有判决、裁定、调解书或执行",
    "court_final": "申诉、再审已被驳回或已依法终结",
    "police_case": "要求公安、检察机关立案侦查，或对其办案不服",
    "civil_dispute": "平等主体之间的民事纠纷",
    "labour_dispute": "劳动合同、解除、补偿、加班、社保等劳动争议",
    "land_contract_dispute": "农村土地承包经营纠纷",
    "arbitration_done": "已申请仲裁或已有仲裁裁决",
    "admin_decision": "对针对本人的具体行政行为不服",
    "review_done": "已申请或已作出行政复议、行政诉讼",
    "official_misconduct": "党员、公职人员、村（居）干部在职务中的违纪违法",
    "sanction_self": "对本人所受处分或人事处理不服",
    "third_party_violation": "要求机关查处第三方的违法行为或隐患",
    "prior_complaint": "此前已向有关机关反映未果",
    "answered_before": "有关机关已作出处理意见或书面答复",
    "reviewed_before": "已经复查或复核",
    "higher_level_pending": "上级或其他机关已受理、正在办理",
    "group_action": "联名或多人集体反映、走访",
    "info_request": "申请政府信息公开",
    "self_harm_or_violence": "扬言自杀、自残、暴力或群体性事件",
}
FACT_TAGS: tuple[str, ...] = tuple(FACT_NAMES)
#: Letter-level heads learned beside the facts, with the fact whose sentence shows them best.
#: ``consultation`` (the letter mainly asks a question, ANNOTATION.md §4) has no closest fact: a
#: letter that only asks how arbitration or a court works names the statutory word in a role that
#: must not change its route, and the arbiter weighs this head against the rules that fired.
LETTER_HEADS: dict[str, str | None] = {
    "urgent": "self_harm_or_violence",
    "multi": "group_action",
    "consultation": None,
}

_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;\n]*")
_MIN_SENTENCE_CHARS = 2


class Sentence(NamedTuple):
    """One unit the detectors read: the title, or a sentence of the text, with its offsets.

    A named tuple, like :class:`FactFinding`: a letter makes a few dozen of each, and a frozen
    dataclass's ``__init__`` (one ``object.__setattr__`` a field) cost three times as much.
    """

    field: Literal["title", "text"]
    start: int
    end: int
    text: str


def split_sentences(title: str, text: str, normalized: tuple[str, str] | None = None) -> list[Sentence]:
    """The title and the text's sentences, with offsets into the raw fields.

    ``normalize`` keeps the length, so offsets found in the normalised text hold in the officer's.
    ``normalized``: the two fields already through ``normalize``, which is then not redone.
    """
    out: list[Sentence] = []
    norm_title, norm_text = normalized if normalized is not None else (normalize(title), normalize(text))
    if len(norm_title.strip()) >= _MIN_SENTENCE_CHARS:
        out.append(Sentence("title", 0, len(norm_title), norm_title))
    for m in _SENTENCE.finditer(norm_text):
        s = m.group()
        if len(s.strip()) >= _MIN_SENTENCE_CHARS:
            # trim the white space around a sentence, so the highlight covers words only
            lead = len(s) - len(s.lstrip())
            trail = len(s) - len(s.rstrip())
            out.append(Sentence("text", m.start() + lead, m.end() - trail, s.strip()))
    return out


def quote_in(quote: str, sentence: str) -> bool:
    """Whether an annotator's quote lies in (or starts in) this sentence.

    Quotes may run across a sentence break; their first eight characters then name the sentence.
    """
    q = normalize(quote).strip()
    if not q:
        return False
    return q in sentence or (len(q) > 8 and q[:8] in sentence)


class FactFinding(NamedTuple):
    """One fact of one letter: its probability and the sentence that shows it best."""

    tag: str
    p: float
    field: Literal["title", "text"]
    start: int
    end: int
    quote: str


def _group_fold(group: str, folds: int, seed: int) -> int:
    digest = hashlib.sha256(f"facts:{seed}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % folds


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(x, -40.0, 40.0)))
    return out


class FactDetector(BaseEstimator):  # type: ignore[misc]
    """Sentence-level detectors of legal facts with per-letter calibrated probabilities.

    Args:
        C: inverse regularisation of each fact's logistic regression.
        max_features: cap of the character n-gram vocabulary (the model file stays small).
        ngram_max: longest character n-gram.
        min_df: an n-gram must occur in this many sentences to be kept.
        min_positive: a fact with fewer quoted sentences than this is not learned (reported as
            such in ``skipped_``); the rulebook's lexical rules still cover it.
        calibration_folds: folds (by group) of the out-of-fold scores the calibration is fitted on.
        negative_share: share of the sentences that state no fact of a kind kept as its negatives,
            besides every sentence of a letter that states it. Most sentences are easy negatives;
            keeping 40 % of them cut the fitting CPU time by a third (233 s to 153 s) at the same
            held-out F1, within 0.01 per fact.
        random_state: seed of the fold assignment and of the negatives kept.
    """

    def __init__(
        self,
        C: float = 4.0,
        max_features: int = 60_000,
        ngram_max: int = 3,
        min_df: int = 2,
        min_positive: int = 8,
        calibration_folds: int = 3,
        negative_share: float = 0.4,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.max_features = max_features
        self.ngram_max = ngram_max
        self.min_df = min_df
        self.min_positive = min_positive
        self.calibration_folds = calibration_folds
        self.negative_share = negative_share
        self.random_state = random_state

    # ----------------------------------------------------------------------------------- fitting
    def fit(
        self,
        letters: Sequence[tuple[str, str]],
        facts: Sequence[Mapping[str, str] | None],
        groups: Sequence[str],
        letter_labels: Mapping[str, Sequence[int | None]] | None = None,
    ) -> FactDetector:
        """Learn from letters annotated for facts.

        Args:
            letters: ``(title, text)`` of each letter.
            facts: each letter's facts (tag -> exact quote); ``None`` for a letter not annotated for
                facts, which then teaches only the letter-level heads.
            groups: each letter's near-duplicate group; calibration folds never split a group.
            letter_labels: letter-level labels (``urgent``, ``multi``, ``consultation``: 0/1, ``None``
                unknown).
        """
        letter_labels = letter_labels or {}
        units = [split_sentences(t, x) for t, x in letters]
        owner = np.repeat(np.arange(len(letters)), [len(u) for u in units])
        texts = [s.text for u in units for s in u]
        # The letters' own character n-gram counter (integer keys, no segmentation): scikit-learn's
        # string analyzer took 0.7 ms a letter, a quarter of the routing time.
        self.vectorizer_ = LetterVectorizer(
            segmenter=None,
            word_max_features=0,
            char_max_features=self.max_features,
            char_ngram_min=1,
            char_ngram_max=self.ngram_max,
            min_df=self.min_df,
        )
        S = self.vectorizer_.fit_transform(texts).tocsr()
        L = self._letter_rows(S, owner, len(letters))
        fold = np.array([_group_fold(g, self.calibration_folds, self.random_state) for g in groups])
        annotated = np.array([f is not None for f in facts])
        self.tags_: list[str] = []
        self.skipped_: dict[str, int] = {}
        coefs, intercepts, letter_coefs, letter_intercepts, calib = [], [], [], [], []
        for tag in FACT_TAGS:
            y_sent = np.array(
                [
                    facts[owner[i]] is not None
                    and tag in facts[owner[i]]
                    and quote_in(facts[owner[i]][tag], texts[i])
                    for i in range(len(texts))
                ]
            )
            y_letter = np.array([f is not None and tag in f for f in facts])
            if y_sent.sum() < self.min_positive:
                self.skipped_[tag] = int(y_sent.sum())
                continue
            sent_rows = annotated[owner] & self._keep(y_sent, y_letter[owner], len(texts), tag)
            fitted = self._fit_pair(S, L, y_sent, y_letter, sent_rows, annotated, owner, fold)
            self.tags_.append(tag)
            coefs.append(fitted[0])
            intercepts.append(fitted[1])
            letter_coefs.append(fitted[2])
            letter_intercepts.append(fitted[3])
            calib.append(fitted[4])
        self.heads_: list[str] = []
        head_coefs, head_intercepts, head_calib = [], [], []
        for head in LETTER_HEADS:
            labels = letter_labels.get(head)
            if labels is None:
                continue
            known = np.array([v is not None for v in labels])
            y = np.array([bool(v) for v in labels])
            if y[known].sum() < self.min_positive:
                self.skipped_[head] = int(y[known].sum())
                continue
            coef, intercept, a, b = self._fit_letter_head(L, y, known, fold)
            self.heads_.append(head)
            head_coefs.append(coef)
            head_intercepts.append(intercept)
            head_calib.append((a, b))
        n_features = S.shape[1]
        self.sentence_coef_ = _stack(coefs, n_features)
        self.sentence_intercept_ = np.array(intercepts, dtype=np.float32)
        self.letter_coef_ = _stack(letter_coefs, n_features)
        self.letter_intercept_ = np.array(letter_intercepts, dtype=np.float32)
        self.calibration_ = np.array(calib, dtype=np.float64).reshape(-1, 3)
        self.head_coef_ = _stack(head_coefs, n_features)
        self.head_intercept_ = np.array(head_intercepts, dtype=np.float32)
        self.head_calibration_ = np.array(head_calib, dtype=np.float64).reshape(-1, 2)
        return self

    def _keep(self, y_sent: np.ndarray, in_positive_letter: np.ndarray, n: int, tag: str) -> np.ndarray:
        """Sentences one fact's detector is fitted on: the positives, every sentence of a letter
        stating the fact (the hardest negatives) and a seeded share of the rest."""
        seed = int.from_bytes(hashlib.sha256(f"{self.random_state}:{tag}".encode()).digest()[:4], "big")
        sampled = np.random.default_rng(seed).random(n) < self.negative_share
        keep: np.ndarray = y_sent | in_positive_letter | sampled
        return keep

    def _lr(self, X: sp.csr_matrix, y: np.ndarray) -> LogisticRegression:
        # tol 1e-2: on one fact measured on the held-out split, the looser fit reached the same best
        # letter-level F1 as the default tolerance in about three quarters of the fitting time.
        return LogisticRegression(
            C=self.C, class_weight="balanced", solver="liblinear", tol=1e-2, random_state=self.random_state
        ).fit(X, y)

    @staticmethod
    def _letter_rows(S: sp.csr_matrix, owner: np.ndarray, n: int) -> sp.csr_matrix:
        """Each letter's sentences summed and scaled to unit length: the letter as one unit."""
        pick = sp.csr_matrix(
            (np.ones(len(owner), dtype=np.float32), (owner, np.arange(len(owner)))), shape=(n, len(owner))
        )
        L = (pick @ S).tocsr()
        norms = np.sqrt(np.asarray(L.multiply(L).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        scaled: sp.csr_matrix = sp.diags((1.0 / norms).astype(np.float32)) @ L
        return scaled.tocsr()

    def _fit_pair(
        self,
        S: sp.csr_matrix,
        L: sp.csr_matrix,
        y_sent: np.ndarray,
        y_letter: np.ndarray,
        sent_rows: np.ndarray,
        annotated: np.ndarray,
        owner: np.ndarray,
        fold: np.ndarray,
    ) -> tuple[np.ndarray, float, np.ndarray, float, tuple[float, float, float]]:
        """One fact: sentence and letter regressions, and the calibration over their scores."""
        n = len(y_letter)
        oof = np.zeros((n, 2))
        for k in range(self.calibration_folds):
            tr_s = sent_rows & (fold[owner] != k)
            tr_l = annotated & (fold != k)
            if y_sent[tr_s].sum() == 0 or y_letter[tr_l].sum() == 0:
                continue
            sent = self._lr(S[tr_s], y_sent[tr_s])
            letter = self._lr(L[tr_l], y_letter[tr_l])
            te = fold == k
            oof[te, 0] = _max_by_owner(sent.decision_function(S), owner, n)[te]
            oof[te, 1] = letter.decision_function(L[te])
        sent = self._lr(S[sent_rows], y_sent[sent_rows])
        letter = self._lr(L[annotated], y_letter[annotated])
        calibrator = LogisticRegression(C=1.0, solver="lbfgs").fit(oof[annotated], y_letter[annotated])
        a1, a2 = (float(v) for v in calibrator.coef_[0])
        return (
            sent.coef_[0].astype(np.float32),
            float(sent.intercept_[0]),
            letter.coef_[0].astype(np.float32),
            float(letter.intercept_[0]),
            (a1, a2, float(calibrator.intercept_[0])),
        )

    def _fit_letter_head(
        self, L: sp.csr_matrix, y: np.ndarray, known: np.ndarray, fold: np.ndarray
    ) -> tuple[np.ndarray, float, float, float]:
        oof = np.zeros(len(y))
        for k in range(self.calibration_folds):
            tr = known & (fold != k)
            if y[tr].sum() == 0:
                continue
            te = fold == k
            oof[te] = self._lr(L[tr], y[tr]).decision_function(L[te])
        model = self._lr(L[known], y[known])
        calibrator = LogisticRegression(C=1.0, solver="lbfgs").fit(oof[known].reshape(-1, 1), y[known])
        return (
            model.coef_[0].astype(np.float32),
            float(model.intercept_[0]),
            float(calibrator.coef_[0][0]),
            float(calibrator.intercept_[0]),
        )

    # -------------------------------------------------------------------------------- predicting
    def _check(self) -> None:
        if not hasattr(self, "calibration_"):
            raise NotFittedError("This FactDetector is not fitted yet; call fit() or load a trained model.")

    @property
    def labels(self) -> tuple[str, ...]:
        """Everything :meth:`detect` reports: the learned facts, then the letter-level heads."""
        self._check()
        return (*self.tags_, *self.heads_)

    def detect(
        self, letters: Sequence[tuple[str, str]], normalized: Sequence[tuple[str, str]] | None = None
    ) -> list[dict[str, FactFinding]]:
        """For each ``(title, text)``: every learned fact and letter head with its probability and span.

        Every label is reported (the rulebook applies its own floors); the span is the letter's
        strongest sentence for that fact. A letter with no sentence gets probability 0 and an
        empty span. ``normalized``: each letter's two fields already through ``normalize``.
        """
        self._check()
        if normalized is None:
            units = [split_sentences(t, x) for t, x in letters]
        else:
            units = [split_sentences(t, x, n) for (t, x), n in zip(letters, normalized, strict=True)]
        n = len(letters)
        owner = np.repeat(np.arange(n), [len(u) for u in units])
        flat = [s for u in units for s in u]
        out: list[dict[str, FactFinding]] = [{} for _ in range(n)]
        if not flat:
            for i in range(n):
                for label in self.labels:
                    out[i][label] = FactFinding(label, 0.0, "text", 0, 0, "")
            return out
        S = self.vectorizer_.transform_normalized([s.text for s in flat]).tocsr()
        L = self._letter_rows(S, owner, n)
        sentence_w, letter_w, head_w = self._dense_weights()
        sent_scores = S @ sentence_w + self.sentence_intercept_
        letter_scores = L @ letter_w + self.letter_intercept_
        # Each letter's sentences are contiguous in ``flat``: its best sentence per fact is an
        # argmax over its own rows (the first of equal maxima), one step per letter.
        best_score = np.full((n, len(self.tags_)), -40.0)
        best_index = np.full((n, len(self.tags_)), -1)
        ends = np.cumsum([len(u) for u in units])
        for i, (start, end) in enumerate(zip(ends - np.array([len(u) for u in units]), ends, strict=True)):
            if end > start:
                rows = np.argmax(sent_scores[start:end], axis=0)
                best_index[i] = start + rows
                best_score[i] = sent_scores[start + rows, np.arange(len(self.tags_))]
        a1, a2, b = self.calibration_[:, 0], self.calibration_[:, 1], self.calibration_[:, 2]
        proba = _sigmoid(a1 * best_score + a2 * letter_scores + b)
        head_proba = _sigmoid(
            self.head_calibration_[:, 0] * (L @ head_w + self.head_intercept_) + self.head_calibration_[:, 1]
        )
        # Python numbers up front: indexing numpy arrays element by element in this loop cost more
        # than the probabilities themselves.
        proba_rows, index_rows, head_rows = proba.tolist(), best_index.tolist(), head_proba.tolist()
        none = Sentence("text", 0, 0, "")
        for i in range(n):
            found = out[i]
            for tag, p_fact, j in zip(self.tags_, proba_rows[i], index_rows[i], strict=True):
                s = flat[j] if j >= 0 else none
                found[tag] = FactFinding(tag, round(p_fact, 4), s.field, s.start, s.end, s.text)
            for head, p_head in zip(self.heads_, head_rows[i], strict=True):
                closest = LETTER_HEADS[head]
                near = found.get(closest) if closest else None
                p = round(p_head, 4)
                found[head] = (
                    FactFinding(head, p, near.field, near.start, near.end, near.quote)
                    if near
                    else FactFinding(head, p, "text", 0, 0, "")
                )
        return out

    def _dense_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The weights as dense feature × label arrays, built once per loaded model.

        They are stored sparse (small files), but a sparse × sparse product converted the weights
        again on every call: 4.6 ms a letter when routing one letter at a time.
        """
        cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = getattr(self, "_dense_cache", None)
        if cache is None:
            cache = (
                np.ascontiguousarray(self.sentence_coef_.T.toarray(), dtype=np.float32),
                np.ascontiguousarray(self.letter_coef_.T.toarray(), dtype=np.float32),
                np.ascontiguousarray(self.head_coef_.T.toarray(), dtype=np.float32),
            )
            self._dense_cache = cache
        return cache

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_dense_cache", None)  # rebuilt after loading, never saved
        return state

    def __sklearn_tags__(self) -> Any:
        return super().__sklearn_tags__()


def _stack(rows: Sequence[np.ndarray], n_features: int) -> sp.csr_matrix:
    if not rows:
        return sp.csr_matrix((0, n_features), dtype=np.float32)
    dense = np.vstack(rows).astype(np.float32)
    # Most weights are tiny; dropping them keeps the model file small without moving a decision.
    dense[np.abs(dense) < 1e-4] = 0.0
    return sp.csr_matrix(dense)


def _max_by_owner(scores: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -40.0)
    np.maximum.at(out, owner, scores)
    return out


__all__ = [
    "FACT_NAMES",
    "FACT_TAGS",
    "LETTER_HEADS",
    "FactDetector",
    "FactFinding",
    "Sentence",
    "quote_in",
    "split_sentences",
]
