"""Text normalisation applied before segmentation, rules and features.

Normalisation never changes the length of the text: every character maps to exactly one character.
That keeps the offsets of a rule's match valid in the letter the officer sees, so the page can
highlight the very characters that made a rule fire.
"""

from __future__ import annotations

import re

import numpy as np

# Full-width ASCII variants (！ to ～) sit at a fixed offset from their half-width forms.
_FULLWIDTH_OFFSET = 0xFEE0
_FULLWIDTH_FIRST, _FULLWIDTH_LAST = 0xFF01, 0xFF5E

# Chinese punctuation is kept as is: it carries sentence boundaries that the rule layer uses to
# scope negation, and jieba's dictionary knows it.
_KEEP_FULLWIDTH = set("，。！？：；（）【】「」、《》〈〉…—“”‘’")

_MASK_RUN = re.compile(r"[*＊xX×]{2,}")
_MASK_DIGITS = re.compile(r"(?<![0-9])0{3,}(?:-0{3,})*(?![0-9])")


def _translation_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(_FULLWIDTH_FIRST, _FULLWIDTH_LAST + 1):
        if chr(code) not in _KEEP_FULLWIDTH:
            table[code] = chr(code - _FULLWIDTH_OFFSET)
    for c in "\u3000\t\xa0\x0b\x0c":
        table[ord(c)] = " "
    table[ord("\r")] = "\n"
    # Lone surrogates (text decoded with surrogateescape, a JSON line with "\\ud800") cannot be
    # encoded, so the segmenter and the n-gram counter would fail on them: they become U+FFFD,
    # the replacement character the garbled-text check counts.
    for code in range(0xD800, 0xE000):
        table[code] = "\ufffd"
    # Control and format characters (zero-width spaces, BOMs, bidi marks) become spaces.
    for code in [
        *range(0x00, 0x20),
        *range(0x7F, 0xA0),
        *range(0x200B, 0x2010),
        0x2028,
        0x2029,
        0x2060,
        0xFEFF,
    ]:
        if code not in (ord("\n"), ord("\t"), ord("\r"), 0x0B, 0x0C):
            table[code] = " "
    return table


_TABLE = _translation_table()


def normalize(text: str) -> str:
    """Return ``text`` with width, white space and masked digits made uniform, same length.

    - full-width letters, digits and ASCII punctuation become half-width; Chinese punctuation stays;
    - ideographic spaces, tabs, control characters and carriage returns become spaces or line breaks;
    - masked runs (``*****``, ``0000-00000000``) become ``#`` so they do not look like numbers.
    """
    # str.translate maps one character to one character in C; the per-character Python loop it
    # replaced was a measurable share of featurisation time.
    out = text.translate(_TABLE)
    out = _MASK_RUN.sub(lambda m: "#" * len(m.group()), out)
    return _MASK_DIGITS.sub(lambda m: "".join("#" if ch == "0" else ch for ch in m.group()), out)


_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_SPACE_NEXT_TO_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")


def compact(text: str) -> tuple[str, list[int]]:
    """Drop white space next to Chinese characters, as scans and OCR insert it mid-sentence.

    Returns the compacted text and, for each of its characters, its offset in ``text``, so a
    match found in the compact form can be highlighted in the original. White space between
    two Latin words is kept: it separates them.
    """
    kept: list[str] = []
    offsets: list[int] = []
    pos = 0
    for m in _SPACE_NEXT_TO_CJK.finditer(text):
        kept.append(text[pos : m.start()])
        offsets.extend(range(pos, m.start()))
        pos = m.end()
    kept.append(text[pos:])
    offsets.extend(range(pos, len(text)))
    return "".join(kept), offsets


def compact_text(text: str) -> str:
    """``compact(text)[0]`` without the offsets, for the features, which never map back."""
    return _SPACE_NEXT_TO_CJK.sub("", text)


def han_count(text: str) -> int:
    """Number of Chinese characters, the unit letter-length checks are made in."""
    # Code points compared as an array: a regular expression's list of every character cost more
    # than the rest of the input checks.
    return int(np.count_nonzero(is_han(code_points(text))))


#: CJK extension A and the unified ideographs: the Chinese characters of letters, and every one that
#: GB2312 or Big5 holds. The compatibility ideographs (which neither holds) come after.
HAN_RANGES: tuple[tuple[int, int], ...] = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF))
COMPATIBILITY_HAN: tuple[int, int] = (0xF900, 0xFAFF)


def is_han(points: np.ndarray, *, compatibility: bool = True) -> np.ndarray:
    """Which code points are Chinese characters: :data:`HAN_RANGES`, and with ``compatibility`` the
    compatibility ideographs."""
    ranges = (*HAN_RANGES, COMPATIBILITY_HAN) if compatibility else HAN_RANGES
    han = np.zeros(points.shape, dtype=bool)
    for first, last in ranges:
        han |= (points >= first) & (points <= last)
    return han


_HAN_CHAR = re.compile("[" + "".join(f"{chr(first)}-{chr(last)}" for first, last in HAN_RANGES) + "]")


_HAN_SPAN = HAN_RANGES[-1][1] - HAN_RANGES[0][0] + 1


def han_pairs(points: np.ndarray, han: np.ndarray) -> np.ndarray:
    """A key for each two neighbouring code points that ``han`` marks as Chinese characters of
    :data:`HAN_RANGES`: ``first * span + second``, counted from the first of the ranges, which fits
    in 32 bits (a table of them takes half the memory of 64-bit keys) and sorts by the first
    character."""
    both = han[:-1] & han[1:]
    offsets = points.astype(np.uint32) - np.uint32(HAN_RANGES[0][0])
    keys: np.ndarray = offsets[:-1][both] * np.uint32(_HAN_SPAN) + offsets[1:][both]
    return keys


def is_han_char(char: str) -> bool:
    """Whether one character is in :data:`HAN_RANGES` (the compatibility ideographs are not)."""
    # A character class runs in C: readers test every character of a decoded file with this.
    return _HAN_CHAR.match(char) is not None


def encodes(text: str, encoding: str) -> bool:
    """Whether ``encoding`` can write every character of ``text`` (GB2312 holds the common
    simplified characters, Big5 the traditional ones)."""
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def code_points(text: str) -> np.ndarray:
    """The code points of ``text`` (lone surrogates included) as an array."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
