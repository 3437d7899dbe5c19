"""The segmenter: pinned segmentations, and proof that the rjieba backend gives jieba's words.

The golden table pins what the reference (jieba 0.42.1 with ``data/userdict.txt``) makes of real
letter phrases; every token-identical backend must give exactly that. The identity tests compare
the rjieba engine with the reference over every real letter, with and without the user
dictionary. The rjieba-native backend (jieba-rs's own cut) is held to less: the user dictionary's
words whole, the same words on every run, and tokens that cover the text.
"""

from __future__ import annotations

import csv
import pickle
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from classifier import segment
from classifier.errors import SegmenterError
from classifier.normalize import compact, normalize
from classifier.segment import (
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_USER_DICT,
    EXACT_BACKENDS,
    Entry,
    Segmenter,
    _JiebaEngine,
    _RJiebaEngine,
    _RJiebaNativeEngine,
    read_user_dict,
)

USER_ENTRIES = read_user_dict(DEFAULT_USER_DICT)


@pytest.fixture(scope="module")
def reference() -> _JiebaEngine:
    return _JiebaEngine(USER_ENTRIES)


@pytest.fixture(scope="module")
def fast() -> _RJiebaEngine:
    return _RJiebaEngine(USER_ENTRIES)


@pytest.fixture(scope="module")
def plain_reference() -> _JiebaEngine:
    return _JiebaEngine(())


@pytest.fixture(scope="module")
def plain_fast() -> _RJiebaEngine:
    return _RJiebaEngine(())


@pytest.fixture(scope="module")
def native() -> _RJiebaNativeEngine:
    return _RJiebaNativeEngine(USER_ENTRIES)


@pytest.fixture(scope="module")
def segmenters(
    reference: _JiebaEngine, fast: _RJiebaEngine, native: _RJiebaNativeEngine
) -> dict[str, Segmenter]:
    # Building an engine takes a second or two; these segmenters share the module's engines.
    engines: dict[str, segment._Engine] = {"jieba": reference, "rjieba": fast, "rjieba-native": native}
    segmenters = {backend: Segmenter(backend=backend) for backend in BACKENDS}
    for backend, seg in segmenters.items():
        seg._engine = engines[backend]
    return segmenters


# Real letter phrases (letter id in the first column) and the reference's words for them.
# fmt: off
GOLDEN = [
    ("m01992", "他们积极自筹资金，村支书在村民的强烈要求下",
     ["他们", "积极", "自筹资金", "，", "村支书", "在", "村民", "的", "强烈要求", "下"]),
    ("m04198", "目前，县委还有从村支书、村主任当中招聘公务员到乡镇上班",
     ["目前", "，", "县委", "还有", "从", "村支书", "、", "村主任", "当中", "招聘", "公务员", "到", "乡镇",
      "上班"]),
    ("m00134", "好像社区主任就是业委会主任",
     ["好像", "社区主任", "就是", "业委会", "主任"]),
    # No letter in the data says 居委会主任; this one phrase is made up to pin the dictionary entry.
    ("made-up", "社区居委会主任不予受理我的投诉",
     ["社区", "居委会主任", "不予受理", "我", "的", "投诉"]),
    ("m00011", "请求泰山街道办事处、滨江社区居委会依法行使",
     ["请求", "泰山", "街道办事处", "、", "滨江", "社区", "居委会", "依法", "行使"]),
    ("m00931", "在多长时间内向县人民政府申请行政复议或向法院提起行政诉讼的期限。",
     ["在", "多长时间", "内向", "县", "人民政府", "申请", "行政复议", "或", "向", "法院", "提起", "行政诉讼",
      "的", "期限", "。"]),
    ("m04103", "我按领导的要求去政府申请行政复议。复议科领导说不属于行政行为",
     ["我", "按", "领导", "的", "要求", "去", "政府", "申请", "行政复议", "。", "复议", "科", "领导", "说",
      "不", "属于", "行政", "行为"]),
    ("m05187", "有案例举证A市A5区劳动仲裁维权191号劳动仲裁案",
     ["有", "案例", "举证", "A市", "A5区", "劳动仲裁", "维权", "191", "号", "劳动仲裁", "案"]),
    ("m05199", "我起诉到劳动仲裁委，当时递交了有关材料 1.",
     ["我", "起诉", "到", "劳动仲裁委", "，", "当时", "递交", "了", "有关", "材料", "1", "."]),
    ("m00740", "房管局更直接，不予受理。",
     ["房管局", "更", "直接", "，", "不予受理", "。"]),
    ("m00131", "请求：1、请住建局和规划局，责成物业公司撤除违",
     ["请求", "：", "1", "、", "请", "住建局", "和", "规划局", "，", "责成", "物业公司", "撤除", "违"]),
    ("m03695", "我们在参加教育局和人社局组织的教师招聘考试时",
     ["我们", "在", "参加", "教育局", "和", "人社局", "组织", "的", "教师", "招聘", "考试", "时"]),
    ("m00101", "A4区城管局领导在政法频道表态",
     ["A4区", "城管局", "领导", "在", "政法", "频道", "表态"]),
    ("m00007", "家住A市A3区桐梓坡西路可可小城的居民长期",
     ["家住", "A市", "A3区", "桐梓", "坡", "西路", "可可", "小城", "的", "居民", "长期"]),
    ("m00932", "K市何时能够实施公积金混合贷？",
     ["K市", "何时", "能够", "实施", "公积金", "混合", "贷", "？"]),
    ("m05232", "在C4市劳动仲裁院进行仲裁时",
     ["在", "C4市", "劳动仲裁", "院", "进行", "仲裁", "时"]),
    ("m05671", "现在西地省农村两委干部待遇普遍较低",
     ["现在", "西地省", "农村两委", "干部", "待遇", "普遍", "较", "低"]),
    ("m00142", "A7县法院竟支持！？",
     ["A7县", "法院", "竟", "支持", "！", "？"]),
    ("m05173", "2011年申请工伤认定时，劳动部门以《工伤保险条例",
     ["2011", "年", "申请", "工伤认定", "时", "，", "劳动部门", "以", "《", "工伤保险", "条例"]),
    # jieba-rs alone splits the unknown-word run differently here (常在/浮/邱观).
    ("m04258", "常在浮邱观打醮念经",
     ["常", "在", "浮", "邱观", "打醮", "念经"]),
    # Near ties of the route: without jieba's total frequency these come out 轰轰/轰 and 掏心/掏肺/地.
    ("m02029", "就听到轰轰轰的噪音",
     ["就", "听到", "轰", "轰轰", "的", "噪音"]),
    ("m02527", "我想掏心掏肺地说几句话",
     ["我", "想", "掏", "心掏", "肺地", "说", "几句话"]),
]
# fmt: on


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
@pytest.mark.parametrize(("letter", "text", "words"), GOLDEN, ids=[f"{g[0]}:{g[1][:8]}" for g in GOLDEN])
def test_golden_segmentation(
    segmenters: dict[str, Segmenter], backend: str, letter: str, text: str, words: list[str]
) -> None:
    assert segmenters[backend](text) == words


def test_golden_table_is_what_the_reference_gives(reference: _JiebaEngine) -> None:
    # The table pins jieba's own output; this guards against pinning a backend's mistake.
    for _, text, words in GOLDEN:
        assert [
            w for w in reference._tokenizer.lcut(compact(normalize(text))[0], HMM=True) if w.strip()
        ] == words


def test_jieba_expressions_match_the_installed_jieba() -> None:
    import jieba
    import jieba.finalseg

    pairs = [
        (segment._RE_HAN, jieba.re_han_default),
        (segment._RE_SKIP, jieba.re_skip_default),
        (segment._RE_HMM_HAN, jieba.finalseg.re_han),
        (segment._RE_HMM_SKIP, jieba.finalseg.re_skip),
    ]
    for ours, theirs in pairs:
        assert (ours.pattern, ours.flags) == (theirs.pattern, theirs.flags)


def test_rjieba_total_frequency_is_the_reference_total(
    reference: _JiebaEngine, fast: _RJiebaEngine, plain_reference: _JiebaEngine, plain_fast: _RJiebaEngine
) -> None:
    assert fast.total == reference._tokenizer.total
    assert plain_fast.total == plain_reference._tokenizer.total


# fmt: off
EDGE_CASES = [
    "",
    " ",
    "\r\n\r\n  \t\n",
    "2.A市的居民，1.E市、2.K6县",
    "访问baidu.com或发邮件到abc_d@qq.com，p.s.请回复",
    "2013-02-27、a10-2-503、T16180-2006、HNZP-LD-2016001号",
    "工资涨了5.5%，房价涨了3-5倍，2019.2.27签字",
    "C++和C#工程师，AT&T公司，c++c#AT&TAT&T",
    "iPhone12Pro手机和MP3、X光、B超、T恤",
    "电话####-########，身份证430###########1234",
    "ＡＢＣ１２３市民反映２０１９年的问题！",
    "😡😡物业不作为👍👍，🏠漏水",
    "㐀㐁𠀀𠀁彅鿖鿗\uf900龥",
    "\x00\x01字\ue000符",
    "常在浮邱观打醮念经",
    "丂乛亍丂乛",
    "a",
    "abc",
    "1.5.5%x",
    "--__..%%++##&&",
]
# fmt: on


@pytest.mark.parametrize("text", EDGE_CASES, ids=[repr(t[:10]) for t in EDGE_CASES])
def test_edge_cases_match_the_reference(
    reference: _JiebaEngine, fast: _RJiebaEngine, segmenters: dict[str, Segmenter], text: str
) -> None:
    # The engines on the raw text (white space and all), the segmenters on the full pipeline.
    assert fast.cut(text) == reference.cut(text)
    assert segmenters["rjieba"](text) == segmenters["jieba"](text)
    assert segmenters["rjieba"].tokenize(text) == segmenters["jieba"].tokenize(text)


def test_random_text_matches_the_reference(reference: _JiebaEngine, fast: _RJiebaEngine) -> None:
    # Chinese words and characters the HMM does not know, Latin runs, joiners, punctuation, space.
    alphabet = (
        list("的了在是劳动仲裁委行政复议村支书邱观浮丂乛亍市区县") + list("aB3x9Z.-_%+#&") + list("，。 \n@/")
    )
    alphabet += ["A市", "C4市", "c++", "AT&T", "2.5%", "\r\n"]
    rng = random.Random(20240611)
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(3000)]
    mismatches = [t for t in texts if fast.cut(t) != reference.cut(t)]
    assert mismatches == []


def test_hmm_matches_jieba_finalseg() -> None:
    import jieba.finalseg

    reference_cut: Callable[[str], Any] = getattr(jieba.finalseg, "__cut")
    known = list("常在浮邱观打醮念经小明硕士毕业于中国科学院计算所")
    unknown = list("丂乛亍")  # no emission probability: scores tie at MIN_FLOAT
    rng = random.Random(7)
    hmm = segment._Hmm()
    for _ in range(3000):
        run = "".join(rng.choice(known + unknown) for _ in range(rng.randint(1, 14)))
        assert hmm.words(run) == tuple(reference_cut(run)), run


def _letters(shared_data: Path) -> list[tuple[str, str]]:
    with (shared_data / "messages.csv").open(encoding="utf-8", newline="") as handle:
        return [(row["id"], f"{row['title']}\n{row['text']}") for row in csv.DictReader(handle)]


def _mismatches(
    letters: list[tuple[str, str]], a: _JiebaEngine, b: _RJiebaEngine, pipeline: bool
) -> list[str]:
    bad = []
    for letter, text in letters:
        if pipeline:
            text = compact(normalize(text))[0]
        if a.cut(text) != b.cut(text):
            bad.append(letter)
    return bad


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("with_user_dict", [False, True], ids=["main-dict", "user-dict"])
def test_rjieba_gives_jieba_tokens_on_every_letter(
    request: pytest.FixtureRequest, shared_data: Path, with_user_dict: bool
) -> None:
    letters = _letters(shared_data)
    assert len(letters) > 6000
    names = ("reference", "fast") if with_user_dict else ("plain_reference", "plain_fast")
    a, b = (request.getfixturevalue(name) for name in names)
    # Normalised and compacted, as the segmenter sends it; without the user dictionary also the
    # raw text, which keeps full-width characters, tabs and line breaks.
    bad = _mismatches(letters, a, b, pipeline=True)
    assert bad == [], f"{len(bad)} of {len(letters)} letters differ, e.g. {bad[:10]}"
    if not with_user_dict:
        bad = _mismatches(letters, a, b, pipeline=False)
        assert bad == [], f"{len(bad)} of {len(letters)} raw letters differ, e.g. {bad[:10]}"


# User-dictionary words that jieba without the user dictionary splits, and pieces it makes of them.
# fmt: off
USER_WORDS = [
    ("劳动仲裁委", "我起诉到劳动仲裁委，当时递交了有关材料", ["劳动", "仲裁委"]),
    ("不予受理", "房管局更直接，不予受理。", ["不予", "受理"]),
    ("住建局", "请求：1、请住建局和规划局，责成物业公司撤除违", ["建局"]),
    ("社区主任", "好像社区主任就是业委会主任", ["社区", "主任"]),
    ("A3区", "家住A市A3区桐梓坡西路可可小城的居民长期", ["A3", "区"]),
]
# fmt: on


@pytest.mark.parametrize(("word", "text", "split"), USER_WORDS, ids=[w[0] for w in USER_WORDS])
def test_native_keeps_user_dictionary_words_whole(
    plain_reference: _JiebaEngine, segmenters: dict[str, Segmenter], word: str, text: str, split: list[str]
) -> None:
    assert word in {w for w, _, _ in USER_ENTRIES}
    plain = plain_reference.cut(text)
    assert word not in plain and all(part in plain for part in split)
    words = segmenters["rjieba-native"](text)
    assert word in words
    assert words == segmenters["rjieba"](text)  # on these phrases the native words are jieba's too


def test_native_without_the_user_dictionary_splits_those_words() -> None:
    # The words above come from the user entries, not from jieba-rs's own dictionary.
    plain = _RJiebaNativeEngine(())
    for word, text, split in USER_WORDS:
        words = plain.cut(compact(normalize(text))[0])
        assert word not in words and all(part in words for part in split), word


def test_native_is_deterministic(native: _RJiebaNativeEngine) -> None:
    # A second engine built from the same entries, and the same engine asked again, agree.
    texts = [text for _, text, _ in GOLDEN] + EDGE_CASES
    again = _RJiebaNativeEngine(USER_ENTRIES)
    first = [native.cut(t) for t in texts]
    assert [again.cut(t) for t in texts] == first
    assert [native.cut(t) for t in reversed(texts)] == first[::-1]
    assert again.total == native.total


@pytest.mark.parametrize("text", EDGE_CASES, ids=[repr(t[:10]) for t in EDGE_CASES])
def test_native_tokens_cover_the_text(
    native: _RJiebaNativeEngine, segmenters: dict[str, Segmenter], text: str
) -> None:
    # tokenize() counts offsets by word lengths, so the words must be the text cut into pieces.
    assert "".join(native.cut(text)) == text
    seg = segmenters["rjieba-native"]
    compacted = compact(normalize(text))[0]
    assert [compacted[a:b] for _, a, b in seg.tokenize(text)] == [w for w, _, _ in seg.tokenize(text)]
    assert [w for w, _, _ in seg.tokenize(text)] == seg(text)


def test_native_uses_the_reference_dictionary_and_total(
    reference: _JiebaEngine, native: _RJiebaNativeEngine
) -> None:
    assert native.total == reference._tokenizer.total


def test_native_gives_jieba_rs_words_where_they_differ(segmenters: dict[str, Segmenter]) -> None:
    # Two documented differences: jieba-rs's rounded HMM (常在) and Latin runs kept whole.
    native, exact = segmenters["rjieba-native"], segmenters["rjieba"]
    assert native("常在浮邱观打醮念经")[:2] == ["常在", "浮"]
    assert exact("常在浮邱观打醮念经")[:2] == ["常", "在"]
    assert native("访问baidu.com的网站") == ["访问", "baidu.com", "的", "网站"]
    assert exact("访问baidu.com的网站") == ["访问", "baidu", ".", "com", "的", "网站"]


def test_native_refuses_deletions(tmp_path: Path) -> None:
    path = tmp_path / "userdict.txt"
    path.write_text("信访 0\n", encoding="utf-8")
    with pytest.raises(SegmenterError, match="frequency 0"):
        Segmenter(user_dict=path, backend="rjieba-native")
    with pytest.raises(SegmenterError, match="frequency 0"):
        _RJiebaNativeEngine((("信访", 0, None),))
    # Single Latin letters are the rjieba backend's limit, not this one's.
    path.write_text("x 10\n", encoding="utf-8")
    assert Segmenter(user_dict=path, backend="rjieba-native")("x光") == ["x", "光"]


def test_default_backend_is_the_training_configs() -> None:
    from training.config import load_config

    assert DEFAULT_BACKEND in BACKENDS
    assert Segmenter().backend == DEFAULT_BACKEND
    assert load_config()["segmenter"]["backend"] == DEFAULT_BACKEND


@pytest.mark.slow
def test_a_saved_model_keeps_the_backend_it_was_trained_with() -> None:
    # Changing the default must not change the words of a model already trained.
    import tomllib

    from classifier.persistence import load_model

    folder = Path(__file__).resolve().parents[2] / "models" / "default"
    recorded = tomllib.loads((folder / "config.toml").read_text(encoding="utf-8"))["segmenter"]["backend"]
    segmenter = load_model(folder).featurizer.segmenter
    assert isinstance(segmenter, Segmenter)
    assert segmenter.backend == recorded
    for backend in BACKENDS:
        restored = Segmenter.__new__(Segmenter)
        restored.__setstate__({"backend": backend, "entries": [list(e) for e in USER_ENTRIES]})
        assert restored.backend == backend


def test_user_entries_without_frequency_get_jiebas_frequency() -> None:
    entries: tuple[Entry, ...] = (("诉求人", None, "n"), ("浮邱观", None, None), ("信访办理", 300, None))
    a, b = _JiebaEngine(entries), _RJiebaEngine(entries)
    for text in ("诉求人到浮邱观反映信访办理情况", "浮邱观的诉求人"):
        assert b.cut(text) == a.cut(text)
    assert b.total == a._tokenizer.total


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ((("信访", 0, None),), "frequency 0"),
        ((("x", 10, None),), "single Latin letter or digit"),
        ((("7", None, None),), "single Latin letter or digit"),
    ],
    ids=["deletion", "letter", "digit"],
)
def test_rjieba_refuses_entries_it_cannot_reproduce(
    tmp_path: Path, entries: tuple[Entry, ...], match: str
) -> None:
    path = tmp_path / "userdict.txt"
    path.write_text(
        "".join(" ".join(str(x) for x in e if x is not None) + "\n" for e in entries), encoding="utf-8"
    )
    with pytest.raises(SegmenterError, match=match):
        Segmenter(user_dict=path, backend="rjieba")
    with pytest.raises(SegmenterError, match=match):
        _RJiebaEngine(entries)


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(SegmenterError, match=r"unknown segmenter backend 'pkuseg'; choose one of"):
        Segmenter(backend="pkuseg")


def test_user_dict_errors_name_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(SegmenterError, match="cannot read the user dictionary"):
        Segmenter(user_dict=tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("# comment\n信访 10 n extra\n", encoding="utf-8")
    with pytest.raises(SegmenterError, match=r"bad.txt:2: expected 'word \[freq\] \[tag\]'"):
        Segmenter(user_dict=bad)


def test_saved_state_with_an_unknown_backend_is_refused() -> None:
    seg = Segmenter.__new__(Segmenter)
    with pytest.raises(SegmenterError, match="saved segmenter has backend 'gone'"):
        seg.__setstate__({"backend": "gone", "entries": []})


@pytest.mark.parametrize("backend", BACKENDS)
def test_pickle_keeps_only_backend_and_entries(segmenters: dict[str, Segmenter], backend: str) -> None:
    seg = segmenters[backend]
    text = "K市何时能够实施公积金混合贷？"
    words = seg(text)  # the engine is loaded now; it still must not travel
    assert seg.__getstate__() == {"backend": backend, "entries": [list(e) for e in seg.entries]}
    restored = pickle.loads(pickle.dumps(seg))
    assert restored._engine is None
    assert restored.backend == backend and restored.entries == seg.entries
    assert restored(text) == words


def test_skops_saves_the_segmenter_inside_a_vectorizer(segmenters: dict[str, Segmenter]) -> None:
    import skops.io as sio
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = [text for _, text, _ in GOLDEN]
    vectorizer = TfidfVectorizer(tokenizer=segmenters["rjieba"], token_pattern=None, lowercase=False).fit(
        docs
    )
    payload = sio.dumps(vectorizer)
    untrusted = sio.get_untrusted_types(data=payload)
    assert untrusted == ["classifier.segment.Segmenter"]
    loaded = sio.loads(payload, trusted=untrusted)
    assert loaded.tokenizer._engine is None
    assert (loaded.transform(docs) != vectorizer.transform(docs)).nnz == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_segmenter_serves_many_threads(
    monkeypatch: pytest.MonkeyPatch, segmenters: dict[str, Segmenter], backend: str
) -> None:
    built = []
    engine_type = segment._ENGINES[backend]

    def counting(entries: tuple[Entry, ...]) -> Any:
        built.append(threading.get_ident())
        return engine_type(entries)

    monkeypatch.setitem(segment._ENGINES, backend, counting)
    texts = [text for _, text, _ in GOLDEN] * 10
    expected = [segmenters[backend](t) for t in texts]
    fresh = Segmenter(backend=backend)  # not loaded yet: all threads race to load it
    barrier = threading.Barrier(4)

    def run(chunk: list[str]) -> list[list[str]]:
        barrier.wait()
        return [fresh(t) for t in chunk]

    with ThreadPoolExecutor(max_workers=4) as pool:
        chunks = list(pool.map(run, [texts[i::4] for i in range(4)]))
    got = [chunks[i % 4][i // 4] for i in range(len(texts))]
    assert got == expected
    assert len(built) == 1
