from __future__ import annotations

import pytest

from classifier.normalize import code_points, compact, compact_text, han_count, is_han, is_han_char, normalize

# fmt: off
CASES = [
    ("fullwidth", "ＡＢＣ１２３", "ABC123"),
    ("chinese-punct-kept", "你好，世界。（一）", "你好，世界。（一）"),
    ("ideographic-space", "村支书\u3000贪污", "村支书 贪污"),
    ("crlf", "第一行\r\n第二行", "第一行\n\n第二行"),
    ("zero-width", "举\u200b报", "举 报"),
    ("masked-stars", "电话*****", "电话#####"),
    ("masked-digits", "电话0000-00000000", "电话####-########"),
    ("real-digits-kept", "2019年10月", "2019年10月"),
]
# fmt: on


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected
    assert len(normalize(raw)) == len(raw)  # offsets stay valid


def test_compact_drops_space_next_to_chinese_only_and_maps_offsets() -> None:
    text = normalize("我要 投诉\n村支书 贪污 hello world")
    out, offsets = compact(text)
    assert out == "我要投诉村支书贪污hello world"
    assert len(offsets) == len(out)
    start = out.index("村支书")
    assert text[offsets[start] : offsets[start + 2] + 1] == "村支书"


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_normalize_maps_its_own_output_to_itself(raw: str, expected: str) -> None:
    # The fact layer's sentences are cut from normalised text and not normalised again.
    assert normalize(normalize(raw)) == normalize(raw)


def test_compact_text_is_compact_without_offsets() -> None:
    for raw in ["我要 投诉\n村支书 贪污 hello world", "", "   ", " 物业 ", "a b\u3000c 你 好 d"]:
        text = normalize(raw)
        assert compact_text(text) == compact(text)[0]


def test_lone_surrogates_become_replacement_characters() -> None:
    raw = "物业\ud800乱收\udfff费"
    assert normalize(raw) == "物业\ufffd乱收\ufffd费"
    assert han_count(raw) == 5


@pytest.mark.parametrize(
    "text", ["", "abc", "A3区村支书abc", "㐀䶿一鿿豈﫿", "\u33ff\u4dc0\u4dff\ua000\uf8ff\ufb00", "𠀋字"]
)
def test_han_count_counts_what_the_pattern_of_chinese_characters_matches(text: str) -> None:
    import re

    assert han_count(text) == len(re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]", text))


def test_han_count() -> None:
    assert han_count("A3区村支书abc") == 4


@pytest.mark.parametrize(
    ("char", "expected"),
    [("㐀", True), ("䶿", True), ("一", True), ("鿿", True), ("中", True)]
    + [
        ("\u33ff", False),
        ("\u4dc0", False),
        ("\ua000", False),
        ("\uf900", False),
        ("a", False),
        ("，", False),
    ],
)
def test_one_character_is_chinese_as_the_array_test_without_compatibility_ideographs_says(
    char: str, expected: bool
) -> None:
    # Readers test one character at a time, the input checks whole arrays: the two must agree.
    assert is_han_char(char) is expected
    assert bool(is_han(code_points(char), compatibility=False)[0]) is expected
