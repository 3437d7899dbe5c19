"""The petitioner's particulars (条例 第十九条) found in a letter's text, for the officer to confirm.

Article 19 asks a petitioner to give their name (姓名), address (住址) and contact details. Letters
usually state them in a recognisable way: a label (``姓名：``, ``联系人``, ``住址``, ``电话``) or
a phrase (``我叫…``, ``本人…``, ``住在…``). :func:`extract_particulars` finds those, with their
character offsets so the letter page can highlight them; it proposes, the officer decides.

ID numbers are checked with the GB 11643 check digit and a valid birth date. An 18-character
number that fails the check is *not* dropped: it is reported as ``suspect_id_numbers``, because
after OCR a single misread digit is the likeliest cause and the officer should look at the scan.

:func:`mask_personal_data` hides all of it for logs. It reuses ``store.masking`` for the masks
themselves, so a masked value looks the same in a log line as in the audit log.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator

from pydantic import BaseModel, ConfigDict, Field

from classifier.normalize import normalize
from store.masking import mask_address, mask_id_number, mask_name, mask_phone, mask_text

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

# The most frequent Chinese surnames (about 90 % of the population); unlabelled names must start
# with one, so that "本人在…" is not read as a person called 在….
_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季"
    "裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦"
    "戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻"
    "苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练"
    "廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿"
    "鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
)

_NAME_LABEL = r"(?:姓名|联系人|来信人|信访人|反映人|申请人|投诉人|举报人|署名)"
_ADDRESS_LABEL = r"(?:家庭住址|家庭地址|通讯地址|联系地址|现住址|居住地址|住址|地址|住所|现住)"
_PHONE_LABEL = r"(?:联系电话|联系方式|手机号码|手机号|电话号码|手机|电话|电\s*话)"
_HAN = r"[\u4e00-\u9fff]"

# A label followed by another label ("联系人电话：…") names no one.
_NOT_A_NAME = r"(?!电话|手机|地址|住址|身份|联系|方式|号码)"
_LABELLED_NAME = re.compile(rf"{_NAME_LABEL}\s*[:：]?\s*{_NOT_A_NAME}(?P<value>{_HAN}(?:[·•]?{_HAN}){{1,3}})")
_SELF_NAME = re.compile(
    rf"(?:我叫|我是|本人(?:叫|名叫)?|居民|村民|市民)(?P<value>{_HAN}{{2,4}}?)(?=[，,。；;、\s（(]|$)"
)
_LABELLED_ADDRESS = re.compile(
    rf"{_ADDRESS_LABEL}\s*(?:是|为|在)?\s*[:：]?\s*(?P<value>[^，,。；;\n:：]{{4,60}}?)"
    rf"(?=[，,。；;\n]|\s*{_PHONE_LABEL}|\s*联系|\s*身份|$)"
)
_LIVES_AT = re.compile(r"(?:住在|家住|居住在)(?P<value>[^，,。；;\n]{4,60}?)(?=[，,。；;\n]|$)")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?(?P<value>1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4})(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])(?P<value>[(（]?0[1-9][0-9]{1,2}[)）]?[- ]?[2-9][0-9]{6,7})(?![0-9])")
_ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])(?P<value>[1-9][0-9]{16}[0-9Xx])(?![0-9A-Za-z])")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Found(_Frozen):
    """One particular found in the text: the value and where it is (``text[start:end]``)."""

    value: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    how: str = Field(description="what made it a match, e.g. the label 姓名 or the phrase 我叫")


class Particulars(_Frozen):
    """Every candidate found, in text order; the first of each kind is the likeliest."""

    names: tuple[Found, ...] = ()
    addresses: tuple[Found, ...] = ()
    phones: tuple[Found, ...] = ()
    id_numbers: tuple[Found, ...] = ()
    suspect_id_numbers: tuple[Found, ...] = Field(
        default=(), description="18-character numbers whose check digit or birth date is wrong"
    )

    @property
    def name(self) -> str | None:
        return self.names[0].value if self.names else None

    @property
    def address(self) -> str | None:
        return self.addresses[0].value if self.addresses else None

    @property
    def phone(self) -> str | None:
        return self.phones[0].value if self.phones else None

    @property
    def id_number(self) -> str | None:
        return self.id_numbers[0].value if self.id_numbers else None

    def as_fields(self) -> dict[str, str | None]:
        """The first candidates under the names ``store.models.Letter`` uses."""
        return {
            "petitioner_name": self.name,
            "address": self.address,
            "contact_phone": self.phone,
            "id_number": self.id_number,
        }


def id_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError(f"need exactly 17 digits, got {first17!r}")
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def is_valid_id_number(value: str, *, today: dt.date | None = None) -> bool:
    """Whether ``value`` is a well-formed 18-character 居民身份证号码: digits, a birth date that
    exists and is not in the future, and the right check character."""
    value = value.upper()
    if not re.fullmatch(r"[1-9][0-9]{16}[0-9X]", value):
        return False
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if not dt.date(1900, 1, 1) <= born <= (today or dt.date.today()):
        return False
    return id_check_digit(value[:17]) == value[17]


def _finds(pattern: re.Pattern[str], text: str, how: Callable[[re.Match[str]], str]) -> Iterator[Found]:
    for m in pattern.finditer(text):
        yield Found(value=m.group("value").strip(), start=m.start("value"), end=m.end("value"), how=how(m))


def _label(m: re.Match[str]) -> str:
    return re.sub(r"\s", "", m.group(0)[: m.start("value") - m.start()]).rstrip(":：是为在")


def _dedupe(found: Iterator[Found]) -> tuple[Found, ...]:
    seen: list[Found] = []
    for f in sorted(found, key=lambda f: f.start):
        if any(f.start < s.end and s.start < f.end for s in seen):
            continue  # overlapping matches (a labelled one and a phrase) describe the same thing
        seen.append(f)
    return tuple(seen)


def extract_particulars(text: str) -> Particulars:
    """Find the petitioner's name, address, phone numbers and ID numbers stated in ``text``.

    Offsets refer to ``text`` as given (matching runs on the same-length normalised form, so
    full-width digits are found too). Unlabelled names must begin with a common surname.
    """
    norm = normalize(text)
    names = _dedupe(
        f
        for f in (
            *_finds(_LABELLED_NAME, norm, _label),
            *(f for f in _finds(_SELF_NAME, norm, _label) if f.value[0] in _SURNAMES),
        )
    )
    addresses = _dedupe(
        f for f in (*_finds(_LABELLED_ADDRESS, norm, _label), *_finds(_LIVES_AT, norm, _label))
    )
    ids: list[Found] = []
    suspect: list[Found] = []
    for f in _finds(_ID_SHAPED, norm, lambda m: "18-digit number"):
        f = f.model_copy(update={"value": f.value.upper()})
        (ids if is_valid_id_number(f.value) else suspect).append(f)
    taken = [(f.start, f.end) for f in (*ids, *suspect)]
    phones = _dedupe(
        f
        for f in (
            *_finds(_MOBILE, norm, lambda m: "mobile"),
            *_finds(_LANDLINE, norm, lambda m: "landline"),
        )
        if not any(s <= f.start < e for s, e in taken)
    )

    # Values come from the original text (normalisation kept offsets), not the normalised copy.
    def original(fs: tuple[Found, ...] | list[Found]) -> tuple[Found, ...]:
        return tuple(f.model_copy(update={"value": text[f.start : f.end].strip()}) for f in fs)

    return Particulars(
        names=original(names),
        addresses=original(addresses),
        phones=original(phones),
        id_numbers=tuple(f.model_copy(update={"value": f.value.upper()}) for f in original(ids)),
        suspect_id_numbers=tuple(f.model_copy(update={"value": f.value.upper()}) for f in original(suspect)),
    )


def mask_personal_data(text: str) -> str:
    """``text`` with the particulars :func:`extract_particulars` finds masked, for logs.

    Names keep their surname, phones their first three and last four digits, ID numbers their
    first three and last four characters, addresses their province/city/district (the masks of
    ``store.masking``); anything ID- or mobile-shaped that no label pointed at is masked by
    ``store.masking.mask_text`` as well.
    """
    found = extract_particulars(text)
    spans: list[tuple[int, int, str]] = []
    # A name found once (我叫王建国) usually comes back unlabelled (the signature): mask it everywhere.
    named = {f.value for f in found.names if len(f.value) >= 2}
    for value in sorted(named, key=len, reverse=True):
        spans.extend(
            (m.start(), m.end(), mask_name(value) or "")
            for m in re.finditer(re.escape(value), text)
            if not any(f.start == m.start() for f in found.names)
        )
    for kind, masker in (
        (found.names, mask_name),
        (found.addresses, mask_address),
        (found.phones, mask_phone),
        (found.id_numbers, mask_id_number),
        (found.suspect_id_numbers, mask_id_number),
    ):
        spans.extend((f.start, f.end, masker(f.value) or "") for f in kind)
    out = text
    last_start = len(text) + 1
    for start, end, masked in sorted(spans, reverse=True):
        if end > last_start:
            continue  # overlaps a span already masked (e.g. a name inside an address)
        out = out[:start] + masked + out[end:]
        last_start = start
    return mask_text(out) or out
