"""Hot issues (热点问题): group letters that raise one matter or concern one place, without a database.

A hot issue is many writers on one matter: a concrete plant beside one compound, one developer
selling parking spaces bundled with flats, one village group waiting for its demolition. Such
letters share the *names* (the compound, the road, the village group, the company) far more than
they share wording, so the features keep names whole:

- words from the project's segmenter (:mod:`classifier.segment`), without stop words, punctuation,
  single characters and the letter-writing formulas every letter has (尊敬的领导, 您好, 反映 …);
- *place tokens*: the anonymised places (``A市``, ``A3区``, ``K9县``) and a name of two to six Han
  characters before a place suffix (``…小区``, ``…村``, ``…路``, ``…街道``, ``…镇``, ``…苑`` …), which
  the segmenter would often cut into pieces common elsewhere;
- a pair of letters that both name places (a compound, a village group, a road) but none in
  common can have its cosine multiplied by ``place_penalty`` (off by default: measured, it split
  more letters on one matter than it kept apart);
- the title counted twice: writers name the matter there; place tokens can count
  ``place_weight`` times (once by default, as tuned).

They are weighted by TF-IDF (sublinear term frequency; a term in more than half the letters
dropped) and compared by cosine.

Clustering is *average link, single pass*, in date order (as letters arrive): a letter joins the
earlier cluster whose members it resembles most on average, when that average cosine reaches
``threshold``; otherwise it starts a cluster of its own. The average over a cluster is read from a
sparse neighbour graph (every pair with cosine ≥ ``floor``), so the cost grows with the pairs that
resemble each other, not with the square of the letters. Average link, unlike single link, does not
chain one estate's letters to the next estate's through a shared road name.

A cluster is described by its keywords (the top TF-IDF terms of its members' mean vector), its most
central letter (the member closest to that mean), its first and last date and its count per week.
Both are computed only from the members a caller says it may show (``eligible``): a reader who may
not open a confidential letter gets a cluster counted with it but labelled without its words.

**Spike rule** (:func:`is_spike`): the window is cut into 7-day periods ending on its last day;
the cluster's count in the last of them ("this week") is at least
``spike_min`` and at least ``spike_factor`` × the median of its counts in the weeks before (a
median of 0 counts as 1), so three letters on a matter nobody wrote about before is a spike, as is
a matter that doubles its usual weekly count, while one more letter on a quiet matter is not.

The evaluation against letters labelled by hand is ``bench/hot_issues.py`` (BENCHMARKS.md, "Hot
issues"), with the definition of one matter in ``docs/hot_issues_labels.md``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from classifier.segment import Segmenter, read_stopwords

# Anonymised places of the data: A市, A3区, K9县, M2县, C4市 …
_ANON_PLACE = re.compile(r"[A-Z]\d{0,2}[市区县镇乡]")
# A name before a place suffix: 丽发新城小区, 茶场村, 劳动东路, 暮云街道. The name is 2-6 Han
# characters; the longest suffixes come first so 街道 is not read as 道.
_NAMED_PLACE = re.compile(
    r"([\u4e00-\u9fff]{2,6}?)(小区|社区|新城|花园|家园|公寓|大厦|广场|街道|村|组|路|大道|镇|乡|苑|园|城|湾|府|庭)"
)
# Words of any letter, whatever its matter: greetings, how writers ask, who they write to.
_LETTER_WORDS_TEXT = """
    尊敬 领导 您好 你好 谢谢 感谢 百忙之中 书记 市长 局长 主任 胡书记 张市长 反映 投诉 举报 咨询
    请问 希望 建议 请求 要求 问题 情况 相关 有关 部门 政府 我们 本人 现在 目前 已经 一直 没有 什么
    时候 为什么 怎么 如何 能否 是否 可以 不能 进行 处理 解决 关注 重视 尽快 严重 影响 一下 一些 这个
    这样 因为 由于 但是 而且 所以 可是 还是 以及 以上 非常 特别 真的 多次 至今 今年 去年 一个 每天
    自己 大家 他们 业主 居民 市民 老百姓 群众 同志 回复 答复 盼望 恳请 敬请 麻烦 打扰 万分 领导们"""
_LETTER_WORDS = frozenset(_LETTER_WORDS_TEXT.split())
_PUNCT_OR_DIGITS = re.compile(r"^[\W\d_]+$")
# What comes before a place's name in a sentence (投诉青枫小区, 位于劳动东路, 我是茶场村): cut off, so
# every writer's mention of the place gives the same token.
_BEFORE_NAME = re.compile(
    "(?:投诉|举报|反映|咨询|关于|请问|建议|希望|要求|位于|地处|居住|我是|本人|附近|旁边|以及|"
    "市|区|县|和|与|及|的|在|于|对|向|到|从|是|了|为|把|被|给|将|让|个|这|那)"
)


@dataclass(frozen=True)
class LetterDoc:
    """What clustering reads of a letter."""

    title: str
    text: str
    date: dt.date


@dataclass(frozen=True)
class ClusterConfig:
    """The knobs of :func:`cluster_letters`; the defaults are those tuned in ``bench/hot_issues.py``.

    Args:
        threshold: average cosine to a cluster's members at which a letter joins it.
        floor: pairs below this cosine are not kept in the neighbour graph (they count as 0).
        text_chars: characters of each text read (titles whole); long letters repeat their matter.
        max_df: terms in more than this share of the letters are dropped.
        place_weight: how many times a place token counts (names tell one matter from the same
            problem elsewhere).
        place_penalty: the cosine of two letters that each name a place (a compound, a village, a
            road …) but no place in common is multiplied by this.
        keywords: how many keywords describe a cluster.
        spike_factor, spike_min: the spike rule (:func:`is_spike`).
    """

    threshold: float = 0.12
    floor: float = 0.04
    text_chars: int = 800
    max_df: float = 0.5
    place_weight: int = 1
    # 1.0: no penalty. On the labelled letters any penalty cost more than it saved: writers spell
    # one compound several ways (丽发新城, 丽发小区, 丽发新城社区), so "no name in common" often
    # separates letters on one matter (BENCHMARKS.md, "Hot issues").
    place_penalty: float = 1.0
    keywords: int = 6
    spike_factor: float = 2.0
    spike_min: int = 3


@dataclass(frozen=True)
class Cluster:
    """One group of letters; indices refer to the list given to :func:`cluster_letters`.

    ``weeks`` are the first days of the window's 7-day periods, the last period ending on the
    window's last day (so "this week" is always seven whole days, also on a Monday morning);
    ``weekly`` is the member count of each.
    """

    members: tuple[int, ...]
    first: dt.date
    last: dt.date
    weeks: tuple[dt.date, ...]
    weekly: tuple[int, ...]
    spike: bool


@dataclass(frozen=True)
class Clustering:
    """The clusters of a list of letters, with what describing them needs (the fitted vectors)."""

    clusters: tuple[Cluster, ...]
    vectors: sp.csr_matrix
    terms: tuple[str, ...]

    def describe(self, cluster: Cluster, eligible: Iterable[int], *, keywords: int = 6) -> Description:
        """The label of ``cluster`` from its ``eligible`` members only (see :func:`describe`)."""
        return describe(self.vectors, self.terms, cluster.members, eligible, keywords=keywords)


@dataclass(frozen=True)
class Description:
    """Keywords and the most central letter (an index, or None when no member is eligible)."""

    keywords: tuple[str, ...]
    central: int | None


@functools.lru_cache(maxsize=1)
def _segmenter() -> Segmenter:
    return Segmenter()


@functools.lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    return frozenset(read_stopwords()) | _LETTER_WORDS


def _names(text: str) -> list[str]:
    out = []
    for name, suffix in _NAMED_PLACE.findall(_ANON_PLACE.sub(" ", text)):
        name = _BEFORE_NAME.split(name)[-1]
        if len(name) >= 2:
            out.append(name + suffix)
    return out


def place_tokens(text: str) -> list[str]:
    """The places ``text`` names: anonymised ones (``A3区``) and names before a place suffix, without
    the verb or preposition written before them."""
    return _ANON_PLACE.findall(text) + _names(text)


def named_places(title: str, text: str, *, text_chars: int = 800) -> set[str]:
    """The named places (not the anonymised ``A3区``) of a letter's title and read text."""
    return set(_names(f"{title} {text[:text_chars]}"))


def tokens(title: str, text: str, *, text_chars: int = 800, place_weight: int = 1) -> list[str]:
    """The terms of one letter: content words and place tokens (each ``place_weight`` times), the
    title's counted twice."""
    segment, stop = _segmenter(), _stopwords()
    out: list[str] = []
    for part, times in ((title, 2), (text[:text_chars], 1)):
        if not part:
            continue
        words = [w for w in segment(part) if len(w) > 1 and w not in stop and not _PUNCT_OR_DIGITS.match(w)]
        words += place_tokens(part) * place_weight
        out += words * times
    return out


def _identity(terms: list[str]) -> list[str]:
    return terms


def vectorize(letters: Sequence[LetterDoc], config: ClusterConfig) -> tuple[sp.csr_matrix, tuple[str, ...]]:
    """L2-normalised TF-IDF rows for ``letters`` and the term of each column.

    A list whose letters share no term (or a single letter) gives an empty vocabulary: every letter
    is then its own cluster, not an error.
    """
    docs = [
        tokens(d.title, d.text, text_chars=config.text_chars, place_weight=config.place_weight)
        for d in letters
    ]
    # max_df only means something once there are a few letters: with two, every shared term is in
    # all of them.
    vectorizer = TfidfVectorizer(
        analyzer=_identity, sublinear_tf=True, max_df=config.max_df if len(docs) >= 10 else 1.0
    )
    try:
        matrix = vectorizer.fit_transform(docs)
    except ValueError:  # an empty vocabulary
        return sp.csr_matrix((len(docs), 0), dtype=np.float64), ()
    return sp.csr_matrix(matrix), tuple(vectorizer.get_feature_names_out())


def neighbour_graph(vectors: sp.csr_matrix, floor: float, *, chunk: int = 2000) -> sp.csr_matrix:
    """Cosine of every pair of rows at or above ``floor`` (the diagonal left out), as a sparse matrix.

    Computed ``chunk`` rows at a time so the dense intermediate never holds all pairs.
    """
    n = vectors.shape[0]
    parts = []
    transposed = vectors.T.tocsc()
    for start in range(0, n, chunk):
        block = sp.csr_matrix(vectors[start : start + chunk] @ transposed)
        block.data[block.data < floor] = 0.0
        block.eliminate_zeros()
        parts.append(block)
    graph = sp.vstack(parts).tocsr() if parts else sp.csr_matrix((n, n))
    graph.setdiag(0.0)
    graph.eliminate_zeros()
    return sp.csr_matrix(graph)


def penalise_other_places(graph: sp.csr_matrix, places: Sequence[set[str]], penalty: float) -> sp.csr_matrix:
    """``graph`` with the weight of each pair that names places but none in common times ``penalty``.

    Two letters about the same complaint at two compounds share every word but the name; without
    this they would be one matter.
    """
    if penalty >= 1.0 or graph.nnz == 0:
        return graph
    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for row, names in enumerate(places):
        for name in names:
            rows.append(row)
            cols.append(vocabulary.setdefault(name, len(vocabulary)))
    incidence = sp.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(places), max(len(vocabulary), 1))
    )
    shared = sp.csr_matrix((incidence @ incidence.T) > 0)
    has = np.asarray(incidence.sum(axis=1)).ravel() > 0
    coo = graph.tocoo()
    together = np.asarray(shared[coo.row, coo.col]).ravel() > 0
    apart = has[coo.row] & has[coo.col] & ~together
    data = np.where(apart, coo.data * penalty, coo.data)
    return sp.csr_matrix((data, (coo.row, coo.col)), shape=graph.shape)


def assign(graph: sp.csr_matrix, order: Sequence[int], threshold: float) -> list[int]:
    """Average link, single pass: the cluster number of each row, visiting rows in ``order``.

    A row joins the earlier cluster with the highest mean similarity to its members (the sum of its
    graph weights to them over their number) when that mean reaches ``threshold``.
    """
    label = [-1] * graph.shape[0]
    sizes: list[int] = []
    indptr, indices, data = graph.indptr, graph.indices, graph.data
    for row in order:
        sums: dict[int, float] = defaultdict(float)
        for k in range(indptr[row], indptr[row + 1]):
            other = label[indices[k]]
            if other >= 0:
                sums[other] += float(data[k])
        best, best_mean = -1, threshold
        for cluster, total in sums.items():
            mean = total / sizes[cluster]
            if mean >= best_mean:
                best, best_mean = cluster, mean
        if best < 0:
            best = len(sizes)
            sizes.append(0)
        label[row] = best
        sizes[best] += 1
    return label


def weeks_ending(start: dt.date, end: dt.date) -> tuple[dt.date, ...]:
    """The first days of the 7-day periods that cover ``start`` to ``end``, the last ending on ``end``
    (the first may begin before ``start``)."""
    count = (end - start).days // 7 + 1
    return tuple(end - dt.timedelta(days=7 * (count - i) - 1) for i in range(count))


def week_slot(day: dt.date, end: dt.date, count: int) -> int | None:
    """The index of ``day``'s period among ``count`` periods ending on ``end``; None outside them."""
    back = (end - day).days // 7
    return count - 1 - back if 0 <= back < count and day <= end else None


def is_spike(weekly: Sequence[int], *, factor: float = 2.0, minimum: int = 3) -> bool:
    """The spike rule: the last week's count ≥ ``minimum`` and ≥ ``factor`` × the median of the
    weeks before it (a median below 1 counts as 1; no week before: the minimum alone)."""
    if not weekly:
        return False
    now, before = weekly[-1], sorted(weekly[:-1])
    if now < minimum:
        return False
    if not before:
        return True
    middle = len(before) // 2
    median = before[middle] if len(before) % 2 else (before[middle - 1] + before[middle]) / 2
    return now >= factor * max(median, 1.0)


def cluster_letters(
    letters: Sequence[LetterDoc],
    config: ClusterConfig | None = None,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> Clustering:
    """Cluster ``letters`` (see the module docstring); clusters largest first, then most recent.

    Args:
        letters: the letters, in any order.
        config: thresholds; the tuned defaults when None.
        since, until: the window the weekly counts cover; the letters' own first and last dates
            when None.
    """
    config = config or ClusterConfig()
    if not 0.0 < config.threshold <= 1.0 or not 0.0 <= config.floor <= config.threshold:
        raise ValueError(
            f"聚类阈值须在 0 到 1 之间且不低于下限：threshold={config.threshold}, floor={config.floor}"
        )
    vectors, terms = vectorize(letters, config)
    if not letters:
        return Clustering((), vectors, terms)
    graph = neighbour_graph(vectors, config.floor)
    places = [named_places(d.title, d.text, text_chars=config.text_chars) for d in letters]
    graph = penalise_other_places(graph, places, config.place_penalty)
    order = sorted(range(len(letters)), key=lambda i: (letters[i].date, i))
    labels = assign(graph, order, config.threshold)
    groups: dict[int, list[int]] = defaultdict(list)
    for index in order:
        groups[labels[index]].append(index)
    start = since or min(d.date for d in letters)
    end = until or max(d.date for d in letters)
    weeks = weeks_ending(start, end)
    clusters = []
    for members in groups.values():
        weekly = [0] * len(weeks)
        for index in members:
            slot = week_slot(letters[index].date, end, len(weeks))
            if slot is not None:
                weekly[slot] += 1
        dates = [letters[i].date for i in members]
        clusters.append(
            Cluster(
                members=tuple(members),
                first=min(dates),
                last=max(dates),
                weeks=weeks,
                weekly=tuple(weekly),
                spike=is_spike(weekly, factor=config.spike_factor, minimum=config.spike_min),
            )
        )
    clusters.sort(key=lambda c: (-len(c.members), -c.last.toordinal(), c.members[0]))
    return Clustering(tuple(clusters), vectors, terms)


def describe(
    vectors: sp.csr_matrix,
    terms: Sequence[str],
    members: Sequence[int],
    eligible: Iterable[int],
    *,
    keywords: int = 6,
) -> Description:
    """Keywords and the most central letter of a cluster, read from its ``eligible`` members only.

    The keywords are the heaviest terms of the eligible members' mean vector, skipping a term
    contained in one already chosen (丽发 after 丽发新城); the central letter is the eligible member
    with the highest cosine to that mean. No eligible member: no keyword and no central letter.
    """
    allowed = set(eligible)
    chosen = [i for i in members if i in allowed]
    if not chosen or vectors.shape[1] == 0:
        return Description((), chosen[0] if chosen else None)
    mean = np.asarray(vectors[chosen].mean(axis=0)).ravel()
    scores = np.asarray(vectors[chosen] @ mean).ravel()
    central = chosen[int(np.argmax(scores))]
    picked: list[str] = []
    for column in np.argsort(-mean, kind="stable"):
        if mean[column] <= 0 or len(picked) >= keywords:
            break
        term = terms[column]
        if any(term in p or p in term for p in picked):
            continue
        picked.append(term)
    return Description(tuple(picked), central)


# -- evaluation against labels by hand ---------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """Agreement of a clustering with labels by hand: adjusted Rand index, pairwise precision and
    recall (of the pairs put together), and B-cubed precision and recall (per letter)."""

    ari: float
    pair_precision: float
    pair_recall: float
    bcubed_precision: float
    bcubed_recall: float

    @property
    def pair_f1(self) -> float:
        return _f1(self.pair_precision, self.pair_recall)

    @property
    def bcubed_f1(self) -> float:
        return _f1(self.bcubed_precision, self.bcubed_recall)


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def score(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> Scores:
    """Compare two labellings of the same letters (any hashable labels).

    Pairwise precision is 1 when no pair was put together (nothing claimed, nothing wrong).
    """
    if len(truth) != len(predicted):
        raise ValueError(f"两组标签数量不同：{len(truth)} 与 {len(predicted)}")
    n = len(truth)
    both = Counter(zip(truth, predicted, strict=True))
    by_truth, by_pred = Counter(truth), Counter(predicted)
    together = sum(_pairs(c) for c in both.values())
    true_pairs = sum(_pairs(c) for c in by_truth.values())
    pred_pairs = sum(_pairs(c) for c in by_pred.values())
    total = _pairs(n)
    expected = true_pairs * pred_pairs / total if total else 0.0
    maximum = (true_pairs + pred_pairs) / 2
    ari = 1.0 if maximum == expected else (together - expected) / (maximum - expected)
    b_p = sum(c * c / by_pred[p] for (_, p), c in both.items()) / n if n else 1.0
    b_r = sum(c * c / by_truth[t] for (t, _), c in both.items()) / n if n else 1.0
    return Scores(
        ari=ari,
        pair_precision=together / pred_pairs if pred_pairs else 1.0,
        pair_recall=together / true_pairs if true_pairs else 1.0,
        bcubed_precision=b_p,
        bcubed_recall=b_r,
    )


def labels_of(clustering: Clustering, n: int) -> list[int]:
    """The cluster number of each of the ``n`` letters (clusters numbered in their order)."""
    out = [-1] * n
    for number, cluster in enumerate(clustering.clusters):
        for index in cluster.members:
            out[index] = number
    return out


__all__ = [
    "Cluster",
    "ClusterConfig",
    "Clustering",
    "Description",
    "LetterDoc",
    "Scores",
    "assign",
    "cluster_letters",
    "describe",
    "is_spike",
    "labels_of",
    "named_places",
    "neighbour_graph",
    "penalise_other_places",
    "place_tokens",
    "score",
    "tokens",
    "vectorize",
    "week_slot",
    "weeks_ending",
]
