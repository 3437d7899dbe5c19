"""Plain factory functions for the web tests."""

from __future__ import annotations

from typing import Any

from service.settings import Settings

# Every test account has this password (strong enough for the store's policy).
PASSWORD = "Ting-feng 2026 yu"

ORDINARY_TEXT = "我们小区物业公司乱收费，每月多收三百元，多次反映无人处理，请求责令退还。"
ACCUSATION_TEXT = "举报住建局某科长王某收受开发商贿赂，挪用维修资金，请依法查处。"
ARBITRATION_TEXT = "公司拖欠工资三个月，要求申请劳动仲裁，请求督促发放工资。"


def letter_payload(text: str = ORDINARY_TEXT, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "title": "关于小区物业收费的来信",
        "text": text,
        "form": "letter",
        "received_on": "2026-11-02",
        "petitioner_name": "张三丰",
        "id_number": "110101199003071234",
        "contact_phone": "13812345678",
        "address": "北京市东城区安定门街道某小区3号楼",
        "request": "退还多收的物业费",
    }
    payload.update(fields)
    return payload


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings of a test installation: its own database, a test secret, nothing loaded at start."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "secret_key": "test-secret-" + "x" * 32,
        "preload_model": False,
        "migrate_on_start": False,
    }
    values.update(overrides)
    return Settings(**values)
