"""Masking of petitioners' personal data."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from store.masking import (
    mask_address,
    mask_id_number,
    mask_letter_particulars,
    mask_name,
    mask_phone,
    mask_record,
    mask_text,
    mask_value,
)

# fmt: off
CASES = [
    (mask_name, "张三丰", "张**"),
    (mask_name, "李明", "李*"),
    (mask_name, "欧阳", "欧*"),
    (mask_name, "王", "王*"),
    (mask_name, None, None),
    (mask_name, "", ""),
    (mask_id_number, "110101199003071234", "110***********1234"),
    (mask_id_number, "11010119900307123X", "110***********123X"),
    (mask_id_number, "110101900307123", "110********7123"),
    (mask_id_number, "12345", "********"),
    (mask_phone, "13812345678", "138****5678"),
    (mask_phone, "138-1234-5678", "138****5678"),
    (mask_phone, "+86 138 1234 5678", "138****5678"),
    (mask_phone, "0571-88886666", "****6666"),
    (mask_phone, "110", "****"),
    (mask_address, "浙江省杭州市西湖区文三路100号3单元", "浙江省杭州市西湖区***"),
    (mask_address, "北京市朝阳区建国路88号", "北京市朝阳区***"),
    (mask_address, "广西壮族自治区南宁市青秀区民族大道1号", "广西壮族自治区南宁市青秀区***"),
    (mask_address, "幸福小区3栋2单元", "幸福***"),
    (mask_address, "北京市", "北***"),
]
# fmt: on


@pytest.mark.parametrize(
    ("masker", "value", "expected"), CASES, ids=[f"{m.__name__}-{v}" for m, v, _ in CASES]
)
def test_maskers(masker: object, value: str | None, expected: str | None) -> None:
    assert masker(value) == expected  # type: ignore[operator]


def test_mask_text_finds_numbers_in_prose() -> None:
    prose = "身份证号110101199003071234，手机13812345678，座机0571-88886666，订单20260301123456789012"
    assert mask_text(prose) == (
        "身份证号110***********1234，手机138****5678，座机0571-88886666，订单20260301123456789012"
    )


def test_mask_record_masks_by_key_and_by_content() -> None:
    record = {
        "case_number": "XF-2026-000123",
        "petitioner_name": "张三丰",
        "contact_phone": "13812345678",
        "nested": {"address": "北京市朝阳区建国路88号", "id_number": "110101199003071234"},
        "notes": ["电话13912345678"],
        "visitors": 3,
    }
    assert mask_record(record) == {
        "case_number": "XF-2026-000123",
        "petitioner_name": "张**",
        "contact_phone": "138****5678",
        "nested": {"address": "北京市朝阳区***", "id_number": "110***********1234"},
        "notes": ["电话139****5678"],
        "visitors": 3,
    }


def test_mask_letter_particulars() -> None:
    letter = SimpleNamespace(
        petitioner_name="张三丰",
        petitioner_organisation=None,
        address="北京市朝阳区建国路88号",
        contact_phone="13812345678",
        id_number="110101199003071234",
    )
    assert mask_letter_particulars(letter) == {
        "petitioner_name": "张**",
        "petitioner_organisation": None,
        "address": "北京市朝阳区***",
        "contact_phone": "138****5678",
        "id_number": "110***********1234",
    }


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind of personal data 'email'; allowed: name, id_number"):
        mask_value("email", "a@b.c")
