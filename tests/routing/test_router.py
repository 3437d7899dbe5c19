"""The one code path: batch equals single, before and after a save/load round trip; bad input."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
from factories import make_letter, save_tiny_model, train_tiny_model

from classifier.features import letter_text
from routing.router import Router, looks_meaningless
from routing.schemas import Letter


def random_characters(n: int, seed: int) -> str:
    """``n`` characters drawn at random from the common simplified ones (GB2312 level 1)."""
    # rows 0xB0-0xD7; the last row ends early, and its empty cells decode to U+FFFD
    codes = (bytes([row, cell]) for row in range(0xB0, 0xD8) for cell in range(0xA1, 0xFF))
    cells = (code.decode("gb2312", "replace") for code in codes)
    level_1 = [c for c in cells if c != "\ufffd"]
    rng = random.Random(seed)
    return "".join(rng.choice(level_1) for _ in range(n))


LETTERS = [
    Letter(id="a", title="物业乱收费", text="小区物业公司每月多收停车费，请住建局查处。"),
    Letter(id="b", text="公司拖欠工资三个月，我已申请劳动仲裁，请督促。"),
    Letter(id="c", title="举报", text="举报街道干部挪用维修资金，收受开发商好处。"),
    Letter(id="d", text="建议延长公交线路运营时间。"),
    Letter(id="e", text=""),
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def router(tiny_dir: Path) -> Router:
    return Router.load(tiny_dir)


def test_batch_equals_single(router: Router) -> None:
    batch = router.propose_many(LETTERS)
    single = [router.propose(letter) for letter in LETTERS]
    assert [p.model_dump() for p in batch] == [p.model_dump() for p in single]
    assert [p.letter_id for p in batch] == [x.id for x in LETTERS]


def test_identical_after_save_and_load(router: Router, tmp_path: Path) -> None:
    in_memory = Router(model=train_tiny_model(), rulebook=router.rulebook, catalogue=router.catalogue)
    reloaded = Router.load(save_tiny_model(tmp_path / "again", in_memory.model))
    assert [p.model_dump() for p in in_memory.propose_many(LETTERS)] == [
        p.model_dump() for p in reloaded.propose_many(LETTERS)
    ]
    assert [p.model_dump() for p in reloaded.propose_many(LETTERS)] == [
        p.model_dump() for p in router.propose_many(LETTERS)
    ]


def test_proposal_round_trips_through_json(router: Router) -> None:
    for p in router.propose_many(LETTERS):
        assert type(p).model_validate_json(p.model_dump_json()) == p


def test_evidence_names_the_letters_own_words(router: Router) -> None:
    p = router.propose(LETTERS[0])
    words = [f.feature for f in p.evidence["department"]]
    assert words and all(w.split(":", 1)[1] in LETTERS[0].title + LETTERS[0].text for w in words)


def test_rules_fire_inside_the_router(router: Router) -> None:
    p = router.propose(LETTERS[1])
    assert p.channel == "arbitration" and p.channel_source == "rule"
    hit = p.rule_hits[0]
    assert LETTERS[1].text[hit.start : hit.end] == hit.matched


def test_empty_batch(router: Router) -> None:
    assert router.propose_many([]) == []


BAD = [
    ("empty", Letter(text=""), "empty_text"),
    ("whitespace", Letter(title="  ", text=" \n\t　"), "empty_text"),
    ("no-chinese", Letter(text="hello world, nothing to see here"), "no_chinese"),
    ("binary-noise", Letter(text="\x00\x01\x02\ufffd\ufffd\x7f"), "no_chinese"),
    ("title-only", Letter(title="投诉物业乱收费问题", text=""), "title_only"),
    ("too-short", Letter(text="物业"), "too_short"),
    (
        "utf8-read-as-gbk",
        Letter(
            text="村支书王某截留村民的扶贫资金，还收受工程老板的好处费。".encode().decode("gbk", "replace")
        ),
        "garbled",
    ),
    ("broken-conversion", Letter(text="锟斤拷锟斤拷物业锟斤拷收费锟斤拷锟斤拷"), "garbled"),
    # bytes decoded with surrogateescape, or a JSON line of "\\udc80" escapes
    (
        "lone-surrogates",
        Letter(text="村支书\udc80\udcb1截留\udce5\udc9c扶贫资金\udcad\udcfe请纪委调查。"),
        "garbled",
    ),
    ("a-phrase-repeated", Letter(text="你好" * 100), "meaningless"),
    ("one-character-repeated", Letter(text="啊" * 500), "meaningless"),
    ("random-characters", Letter(text=random_characters(300, seed=3)), "meaningless"),
]


@pytest.mark.parametrize(("letter", "code"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_never_a_confident_route(router: Router, letter: Letter, code: str) -> None:
    p = router.propose(letter)
    assert p.needs_review
    assert code in {r.code for r in p.review_reasons}
    if code == "title_only":
        # a title can carry the matter: it is routed, and the officer checks the original
        assert p.routed
        return
    # nothing readable: no route at all, only the reasons
    assert not p.routed and p.confidence == 0.0 and p.channel_source == "none"
    assert "no_route" in {r.code for r in p.review_reasons}
    summary = p.summary()
    assert summary["channel"] is None and summary["department"] is None and summary["disposition"] is None


def test_real_letters_in_simplified_or_traditional_characters_are_not_garbled() -> None:
    from routing.router import looks_garbled

    assert not looks_garbled("村支书王某截留村民的扶贫资金，还收受工程老板的好处费，请纪委调查。")
    assert not looks_garbled("離職後要求支付未休年假工資，我在外貿公司工作了六年")
    assert not looks_garbled("Our community 小区 has no 路灯 for 3 months，请尽快修复路灯")


def test_the_table_of_common_characters_agrees_with_the_gb2312_and_big5_encoders() -> None:
    from routing.router import _HAN_FIRST, _common_han

    table = _common_han()
    for i, common in enumerate(table.tolist()):
        c = chr(_HAN_FIRST + i)
        # the codecs' own verdict, asked another way: an unencodable character becomes "?"
        held = c.encode("gb2312", "replace") != b"?" or c.encode("big5", "replace") != b"?"
        assert common == held, c
    # simplified-only, traditional-only and neither
    assert [bool(table[ord(c) - _HAN_FIRST]) for c in "钱錢鏉"] == [True, True, False]


def test_utf8_read_as_gbk_is_garbled_even_when_every_character_is_chinese() -> None:
    from routing.router import looks_garbled

    letter = "村支书王某截留村民的扶贫资金，还收受工程老板的好处费，请纪委调查。"
    misread = letter.encode("utf-8").decode("gbk", "replace")
    # its few replacement characters are under their own threshold: the rare characters decide
    assert misread.count("\ufffd") <= 3
    assert looks_garbled(misread)
    assert not looks_garbled(letter)


def test_a_one_megabyte_letter_is_truncated_and_flagged(tiny_dir: Path) -> None:
    router = Router.load(tiny_dir, max_chars=50_000)
    # one real complaint pasted over and over (a phrase repeated is refused as meaningless instead)
    huge = make_letter("小区物业公司乱收停车费，业主多次反映无果，请住建局查处。" * 40_000)  # ~1 MB of UTF-8
    assert len(huge.text.encode()) > 1_000_000
    p = router.propose(huge)
    assert p.needs_review and "truncated" in {r.code for r in p.review_reasons}
    assert p.department.label == "housing"


def test_a_stray_lone_surrogate_is_routed_like_the_letter_around_it(router: Router) -> None:
    text = "小区物业乱收停车费，业主多次反映无果，请住建局查处。"
    clean, stray = (
        router.propose(Letter(text=text)),
        router.propose(Letter(text=text[:6] + "\ud800" + text[7:])),
    )
    assert stray.channel == clean.channel and stray.routed


LETTER = (
    "我是某县某镇的村民，去年在镇上的建筑工地干了八个月的活，包工头一直拖着不结工钱，"
    "到现在还欠我一万六千元。我去工地找了好几次，项目部说钱已经拨给包工头了，包工头又说项目部没给，"
    "两边互相推。家里老人看病、孩子上学都等着用钱，请劳动监察部门帮我们把工钱要回来。"
)


@pytest.mark.parametrize(
    "text",
    [
        LETTER,
        LETTER * 3,  # pasted three times: still a letter
        "本人在工廠上班，老闆拖欠工資三個月共計一萬二千元，多次催討無果，請勞動監察大隊幫忙追討。",
        "Our community 小区 has no 路灯 for 3 months，晚上出行很不安全，请尽快修复路灯。" * 2,
        # a scan's smudges read as characters before and after the letter itself
        random_characters(200, seed=1) + LETTER + random_characters(200, seed=2),
        "你好你好你好",  # too few characters to tell: the too-short check has it
    ],
    ids=["letter", "pasted-three-times", "traditional", "mixed-english", "noise-around-a-letter", "short"],
)
def test_real_letters_are_not_meaningless(text: str) -> None:
    assert looks_meaningless(text, min_han_chars=8) is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("你好" * 100, "repeated"),
        ("请领导帮帮我！" * 30, "repeated"),
        # a blank page's specks read as strokes
        ("丨 一 口 十 丨丨 一 口口 十 一 二 丨 口 十 一一 丨 三 口 十 丨 一 口 二 十 丨 口 一", "repeated"),
        (random_characters(40, seed=4), "no_words"),
        (random_characters(2000, seed=5), "no_words"),
        # traditional characters are held to a lower share of dictionary pairs, but not to none
        (
            "".join(
                random.Random(7).choices("們這個會來時說還對學國經發與義點從開關問題機動實現將體當電", k=200)
            ),
            "no_words",
        ),
        # a real letter's own characters in random order: the same characters, no words
        ("".join(random.Random(6).sample(LETTER * 2, len(LETTER) * 2)), "no_words"),
    ],
    ids=[
        "greeting",
        "a-plea-repeated",
        "specks",
        "forty-random",
        "two-thousand-random",
        "traditional-random",
        "letter-shuffled",
    ],
)
def test_noise_and_repeats_are_meaningless(text: str, why: str) -> None:
    assert looks_meaningless(text, min_han_chars=8) == why


def test_a_phrase_repeated_is_meaningless_only_when_it_is_too_short_to_route() -> None:
    # seven different characters said again and again are as short as a seven-character letter
    assert looks_meaningless("物业公司乱收费。" * 50, min_han_chars=8) == "repeated"
    assert looks_meaningless("请求解决拖欠工资的问题。" * 50, min_han_chars=8) is None


def test_the_dictionary_pairs_are_the_pairs_inside_dictionary_words() -> None:
    import numpy as np

    from classifier.normalize import code_points, han_pairs, is_han
    from classifier.segment import dictionary_pairs

    table = dictionary_pairs()
    assert len(table) > 100_000 and bool(np.all(table[1:] > table[:-1]))

    def keys(text: str) -> np.ndarray:
        points = code_points(text)
        return han_pairs(points, is_han(points, compatibility=False))

    # a pair is only made of two neighbouring Chinese characters
    assert keys("工a资").size == 0 and keys("工资").size == 1
    known = set(table.tolist())
    assert all(int(keys(word)[0]) in known for word in ("工资", "拖欠", "物业"))
    assert int(keys("鏉戞")[0]) not in known


def test_no_real_message_is_meaningless(shared_data: Path) -> None:
    with (shared_data / "messages.csv").open(encoding="utf-8") as f:
        refused = [
            row["id"]
            for row in csv.DictReader(f)
            if looks_meaningless(letter_text(row["title"], row["text"]), min_han_chars=8) is not None
        ]
    assert refused == []
