"""Masking of petitioners' personal data for logs, lists, exports and the audit log.

Petitioners' identities are protected (条例 第四十六条: no disclosure of a 检举人's particulars), so
anything that leaves the letter page shows masked values. Each helper keeps just enough for an
officer to tell two people apart and hides the rest; the mask length is fixed where the length
itself would give something away.

``mask_text`` finds ID numbers and mobile numbers inside free text. It cannot find names or
addresses in prose: free text that may contain them must not be logged at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_ID15_RE = re.compile(r"(?<!\d)\d{15}(?!\d)")
_MOBILE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
_ADDRESS_PREFIX_RE = re.compile(
    r"^(?P<province>[^省市区县]{1,7}(?:省|自治区))?(?P<city>[^省市区县]{1,7}市)?"
    r"(?P<district>[^省市区县]{1,7}(?:区|县|旗|市))?"
)

# Keys of records (audit details, export rows) whose values are personal data, and how to mask them.
PERSONAL_KEYS: dict[str, str] = {
    "name": "name",
    "petitioner_name": "name",
    "petitioner": "name",
    "display_name": "name",
    "id_number": "id_number",
    "phone": "phone",
    "contact_phone": "phone",
    "address": "address",
    "petitioner_organisation": "name",
}


def mask_name(name: str | None) -> str | None:
    """``"张三丰"`` -> ``"张**"``; keeps the first character (the surname for most Chinese names)."""
    if not name:
        return name
    name = name.strip()
    return name[:1] + "*" * max(len(name) - 1, 1)


def mask_id_number(id_number: str | None) -> str | None:
    """An 18-digit 居民身份证号码 keeps its first 3 and last 4 characters: ``"110***********1234"``.

    Anything else that is not empty is fully masked, so a typo never leaks a real number.
    """
    if not id_number:
        return id_number
    value = id_number.strip()
    if len(value) == 18:
        return value[:3] + "*" * 11 + value[-4:]
    if len(value) == 15:
        return value[:3] + "*" * 8 + value[-4:]
    return "*" * 8


def mask_phone(phone: str | None) -> str | None:
    """An 11-digit mobile keeps its first 3 and last 4 digits (``"138****5678"``); others keep the last 4."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) == 11 and digits.startswith("1"):
        return digits[:3] + "****" + digits[-4:]
    if len(digits) <= 4:
        return "****"
    return "****" + digits[-4:]


def mask_address(address: str | None) -> str | None:
    """Keep the province/city/district prefix and hide the rest: ``"浙江省杭州市西湖区***"``.

    Without a recognisable prefix only the first two characters are kept.
    """
    if not address:
        return address
    value = address.strip()
    prefix = _ADDRESS_PREFIX_RE.match(value)
    # A bare "...区" without a province or city before it is as likely a housing estate (小区) as a
    # district, so it only counts after a higher level.
    has_higher_level = bool(prefix and (prefix.group("province") or prefix.group("city")))
    kept = prefix.group(0) if prefix and has_higher_level else value[:2]
    if len(kept) >= len(value):  # nothing beyond the district: still hide the last level
        kept = value[: max(len(value) // 2, 1)]
    return kept + "***"


def mask_text(text: str | None) -> str | None:
    """Mask ID numbers (18 and 15 digits) and mobile numbers inside free text."""
    if not text:
        return text
    text = _ID_RE.sub(lambda m: m.group(1)[:3] + "*" * 11 + m.group(3)[-4:], text)
    text = _ID15_RE.sub(lambda m: m.group(0)[:3] + "*" * 8 + m.group(0)[-4:], text)
    return _MOBILE_RE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


_MASKERS = {
    "name": mask_name,
    "id_number": mask_id_number,
    "phone": mask_phone,
    "address": mask_address,
}


def mask_value(kind: str, value: str | None) -> str | None:
    """Mask ``value`` as a ``kind`` (one of ``name``, ``id_number``, ``phone``, ``address``)."""
    try:
        masker = _MASKERS[kind]
    except KeyError:
        raise ValueError(f"unknown kind of personal data {kind!r}; allowed: {', '.join(_MASKERS)}") from None
    return masker(value)


def mask_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` with personal data masked, for audit details and export rows.

    Values under the keys of ``PERSONAL_KEYS`` are masked by kind; every other string is passed
    through ``mask_text``; nested mappings and lists are masked recursively.
    """
    return {str(key): _mask_any(value, PERSONAL_KEYS.get(str(key))) for key, value in record.items()}


def _mask_any(value: Any, kind: str | None) -> Any:
    if isinstance(value, Mapping):
        return mask_record(value)
    if isinstance(value, list | tuple):
        return [_mask_any(v, kind) for v in value]
    if isinstance(value, str):
        return mask_value(kind, value) if kind else mask_text(value)
    if kind and value is not None:
        return mask_value(kind, str(value))
    return value


def mask_letter_particulars(letter: Any) -> dict[str, str | None]:
    """The 第十九条 particulars of a ``store.models.Letter`` with names, numbers and address masked."""
    return {
        "petitioner_name": mask_name(letter.petitioner_name),
        "petitioner_organisation": mask_name(letter.petitioner_organisation),
        "address": mask_address(letter.address),
        "contact_phone": mask_phone(letter.contact_phone),
        "id_number": mask_id_number(letter.id_number),
    }
