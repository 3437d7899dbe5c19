"""Label sets of the service: the codes every package, the database and the API agree on.

The definitions follow the annotation guide the training data was labelled with and the 2022
《信访工作条例》 (第二十九条 to 第三十一条). A code is never renamed: stored decisions refer to it.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """The three classes of 信访事项 (条例 第二十九、三十、三十一条)."""

    appeal = "appeal"
    suggestion = "suggestion"
    accusation = "accusation"


class Channel(StrEnum):
    """The statutory route a matter takes (条例 第二十二条第二款, 第三十一条)."""

    litigation = "litigation"
    arbitration = "arbitration"
    administrative_review = "administrative_review"
    discipline = "discipline"
    personnel_appeal = "personnel_appeal"
    duty_request = "duty_request"
    suggestion = "suggestion"
    ordinary = "ordinary"


class Disposition(StrEnum):
    """What the receiving office does with the letter."""

    accept = "accept"
    redirect = "redirect"
    not_accepted = "not_accepted"
    no_longer_accepted = "no_longer_accepted"


DOMAINS: tuple[str, ...] = (
    "城乡建设",
    "环境保护",
    "交通运输",
    "教育文体",
    "劳动和社会保障",
    "商贸旅游",
    "卫生计生",
)

CATEGORY_NAMES: dict[str, str] = {
    Category.appeal: "申诉求决类",
    Category.suggestion: "意见建议类",
    Category.accusation: "检举控告类",
}

CHANNEL_NAMES: dict[str, str] = {
    Channel.litigation: "涉法涉诉（导入诉讼程序）",
    Channel.arbitration: "仲裁",
    Channel.administrative_review: "行政复议／行政诉讼",
    Channel.discipline: "纪检监察",
    Channel.personnel_appeal: "党员申诉／人事申诉",
    Channel.duty_request: "履职申请（投诉举报）",
    Channel.suggestion: "建议意见办理",
    Channel.ordinary: "普通信访程序",
}

DISPOSITION_NAMES: dict[str, str] = {
    Disposition.accept: "受理／转送有权处理机关",
    Disposition.redirect: "导入法定途径",
    Disposition.not_accepted: "不予受理",
    Disposition.no_longer_accepted: "不再受理",
}

# The channels whose legal path lies outside the 信访 procedure itself (第三十一条(一)–(四)):
# a letter routed there is redirected, not handled as an ordinary 信访事项.
REDIRECT_CHANNELS: frozenset[str] = frozenset(
    {Channel.litigation, Channel.arbitration, Channel.administrative_review, Channel.personnel_appeal}
)

DOMAIN_NAMES: dict[str, str] = {d: d for d in DOMAINS}

# Head name -> label names, for code that displays any head's labels.
LABEL_NAMES: dict[str, dict[str, str]] = {
    "category": CATEGORY_NAMES,
    "channel": CHANNEL_NAMES,
    "domain": DOMAIN_NAMES,
}
