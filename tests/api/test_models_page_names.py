"""The models pages name what they show: no meta.json keys, feature or label codes for the officer."""

from __future__ import annotations

import html
from typing import Any

from fastapi.testclient import TestClient
from web_factories import PASSWORD

from routing.catalogue import load_catalogue


def _signed_in(app: Any, username: str) -> TestClient:
    page = TestClient(app, raise_server_exceptions=False)
    token = page.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    r = page.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return page


def test_the_models_pages_use_names_not_codes(app: Any, client: TestClient) -> None:
    page = _signed_in(app, "analyst")  # the app serves the shipped models/ folder

    listing = page.get("/models")
    assert listing.status_code == 200
    assert "待人工核查比例" in listing.text and "需复核" not in listing.text
    assert "TF-IDF 字词特征" in listing.text and "<td>tfidf</td>" not in listing.text

    r = page.get("/models/default")
    assert r.status_code == 200
    text = html.unescape(r.text)
    # meta.json's row counts and split, by name
    assert "训练（类别）" in text and "测试（处理途径）" in text
    for key in ("train_category", "test_domain", "test_size", "seed", "train_ids_hash"):
        assert key not in text, key
    assert "测试集比例" in text and "20%" in text and "随机种子" in text
    assert "待人工核查比例" in text and "需复核" not in text and "需人工复核" not in text
    # each head's classes by their names: 检举控告类, not accusation; the bureau, not housing
    assert "检举控告类" in text and "<td>accusation</td>" not in text
    assert load_catalogue().name("housing") in text and "<td>housing</td>" not in text
