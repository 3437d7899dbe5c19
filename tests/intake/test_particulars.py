"""Particulars of 条例 第十九条 found in letter text, and masking them for logs."""

from __future__ import annotations

import datetime as dt

import pytest

from intake.particulars import extract_particulars, id_check_digit, is_valid_id_number, mask_personal_data
from intake.render import SAMPLE_LETTERS

# fmt: off
CASES = [
    ("我叫王建国，住址：A市西湖区桃源路88号3栋502室，联系电话13812345678，身份证号430102198506123417。",
     {"petitioner_name": "王建国", "address": "A市西湖区桃源路88号3栋502室", "contact_phone": "13812345678",
      "id_number": "430102198506123417"}),
    ("本人李秀英，地址：B市高新区创业大道216号，电话0731-84562371。",
     {"petitioner_name": "李秀英", "address": "B市高新区创业大道216号", "contact_phone": "0731-84562371",
      "id_number": None}),
    ("我是C县城关镇的居民赵志强，手机号码159 0731 6688，身份证11010519491231002x。",
     {"petitioner_name": "赵志强", "address": None, "contact_phone": "159 0731 6688",
      "id_number": "11010519491231002X"}),
    ("联系人：欧阳·娜娜 家住D市开福区湘江中路二段36号，电话：（0731）88889999",
     {"petitioner_name": "欧阳·娜娜", "address": "D市开福区湘江中路二段36号",
      "contact_phone": "（0731）88889999", "id_number": None}),
    # full-width digits
    ("姓名：张三 电话：１３９１２３４５６７８",
     {"petitioner_name": "张三", "address": None, "contact_phone": "１３９１２３４５６７８",
      "id_number": None}),
    # 本人 not followed by a name
    ("本人在本市一家服装厂工作了三年，厂方拖欠工资。",
     {"petitioner_name": None, "address": None, "contact_phone": None, "id_number": None}),
    # a label right after a label names no one
    ("联系人电话：13800001111",
     {"petitioner_name": None, "address": None, "contact_phone": "13800001111", "id_number": None}),
]
# fmt: on


@pytest.mark.parametrize(("text", "fields"), CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_extract_particulars(text: str, fields: dict[str, str | None]) -> None:
    found = extract_particulars(text)
    assert found.as_fields() == fields
    for item in (*found.names, *found.addresses, *found.phones, *found.id_numbers):
        # offsets point into the text as given (ID numbers are reported with a capital X)
        assert text[item.start : item.end].strip().upper() == item.value.upper()


def test_id_number_with_a_misread_digit_is_suspect_not_dropped() -> None:
    found = extract_particulars("身份证号430102198506123418，电话13812345678")
    assert found.id_numbers == ()
    assert [f.value for f in found.suspect_id_numbers] == ["430102198506123418"]
    assert [f.value for f in found.phones] == ["13812345678"]  # digits of the ID are not a phone


# fmt: off
@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("430102198506123417", True), ("11010519491231002X", True), ("11010519491231002x", True),
        ("430102198506123418", False),   # wrong check digit
        ("430102198502303411", False),   # 30 February
        ("430102210001011234", False),   # born in the future
        ("43010219850612341", False),    # 17 characters
        ("030102198506123417", False),   # no region starts with 0
    ],
)
# fmt: on
def test_id_number_validation(value: str, valid: bool) -> None:
    assert is_valid_id_number(value, today=dt.date(2024, 6, 1)) is valid


def test_check_digit_refuses_bad_input() -> None:
    assert id_check_digit("11010519491231002") == "X"
    with pytest.raises(ValueError, match="exactly 17 digits"):
        id_check_digit("1101")


@pytest.mark.parametrize("text", SAMPLE_LETTERS, ids=["wang", "li", "zhao"])
def test_masking_leaves_no_particular_readable(text: str) -> None:
    masked = mask_personal_data(text)
    found = extract_particulars(text)
    for item in (*found.names, *found.phones, *found.id_numbers):
        assert item.value not in masked
    for item in found.addresses:
        assert item.value not in masked and item.value[:3] in masked  # the district stays readable
    assert masked.count("*") >= 10
    assert extract_particulars(masked).id_numbers == ()


def test_masking_catches_unlabelled_numbers_via_store_masking() -> None:
    masked = mask_personal_data("请转告13812345678和430102198506123417")
    assert "13812345678" not in masked and "430102198506123417" not in masked
