"""Which of the model's words tell an officer something, for every shell that shows them.

The letter page lists a proposal's strongest words and marks them in the letter
(``api.presenters``); ``xinfang route`` prints them. Both show a feature as the letter's own text
and leave out pronouns and function words, through these two functions.
"""

from __future__ import annotations

from functools import lru_cache

# The featurizer names its features by kind: "词:物业公司" (a word or word n-gram), "字:物业" (a
# character n-gram), and the same of the title's own block as "标题词:…", "标题字:…". The officer
# sees only the text.
FEATURE_PREFIXES = ("标题词:", "标题字:", "词:", "字:")


def feature_text(feature: str) -> str:
    """The letter text a feature stands for, without its kind prefix."""
    for prefix in FEATURE_PREFIXES:
        if feature.startswith(prefix):
            return feature[len(prefix) :]
    return feature


# Pronouns and function words the featurizer keeps as character n-grams: a model may lean on 他 or
# 我, but an officer learns nothing from being told so.
_FUNCTION_WORDS = (
    "我 你 您 他 她 它 咱 俺 我们 你们 您们 他们 她们 它们 咱们 自己 本人 大家 别人 人家 某 某某 "
    "的 地 得 了 着 过 是 在 和 跟 同 与 及 或 而 就 都 也 又 还 并 但 却 则 即 把 被 让 给 对 向 从 "
    "往 为 以 于 之 其 此 该 这 那 哪 谁 什么 怎么 这个 那个 这些 那些 这样 那样 个 些 吗 呢 吧 啊 "
    "呀 哦 嘛 么 啦 呐 哈 嗯 很 太 更 最 再 才 已 已经 不 没 没有 有 要 会 能 可 可以 应 应该 "
    "来 去 上 下 中 里 说 等 等等 一 一个"
)
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split())


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from classifier.segment import read_stopwords

    return FUNCTION_WORDS | frozenset(read_stopwords())


def telling(text: str) -> bool:
    """Whether a model feature's text tells an officer something: not a pronoun or function word,
    nor only such words (a word n-gram like ``我 的``)."""
    stop = _stop_words()
    parts = text.split()
    return bool(parts) and not all(p in stop for p in parts)
