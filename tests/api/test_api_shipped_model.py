"""The app as `xinfang serve` runs it: the model in service is loaded from models/ at start."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_factories import ACCUSATION_TEXT, ARBITRATION_TEXT, PASSWORD, letter_payload, make_settings

from api.app import create_app
from service.settings import PROJECT_ROOT

MODELS = PROJECT_ROOT / "models"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not any(MODELS.glob("*/meta.json")), reason=f"no trained model in {MODELS}"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Any) -> Iterator[TestClient]:
    import shutil

    path = tmp_path_factory.mktemp("shipped") / "db.sqlite3"
    shutil.copyfile(sqlite_template, path)
    app = create_app(make_settings(f"sqlite:///{path}", preload_model=True, models_dir=MODELS))
    with TestClient(app) as client:
        yield client


def test_health_reports_the_model_in_service(served: TestClient) -> None:
    health = served.get("/api/v1/health").json()
    assert health == {
        "ok": True,
        "database": True,
        "model_loaded": True,
        "model_version": health["model_version"],
    }
    assert health["model_version"]


def test_shipped_model_routes_letters_through_the_api(served: TestClient) -> None:
    token = served.post("/api/v1/auth/token", data={"username": "supervisor", "password": PASSWORD}).json()
    h = {"Authorization": f"Bearer {token['access_token']}"}
    version = served.get("/api/v1/health").json()["model_version"]
    wages = served.post("/api/v1/letters", json=letter_payload(text=ARBITRATION_TEXT), headers=h).json()
    p = wages["letter"]["proposal"]
    assert p["model_version"] == version
    # "申请劳动仲裁" fires the arbitration rule, but the letter asks the authorities to recover the
    # wages (a 履职 request by the annotation guide): the arbiter may overrule the rule, never silently.
    assert "R-ZC-01" in {h["rule_id"] for h in p["rule_hits"]}
    if p["channel"] != "arbitration":
        assert p["needs_review"] and "conflicting_rules" in {r["code"] for r in p["review_reasons"]}
    assert len(p["department"]["top"]) == 3 and p["evidence"]
    accusation = served.post("/api/v1/letters", json=letter_payload(text=ACCUSATION_TEXT), headers=h).json()
    assert accusation["confidential"] is True


def test_the_loaded_model_is_frozen_while_serving_and_thawed_at_shutdown(
    tmp_path: Any, sqlite_template: Any
) -> None:
    import gc
    import shutil

    path = tmp_path / "db.sqlite3"
    shutil.copyfile(sqlite_template, path)
    app = create_app(make_settings(f"sqlite:///{path}", preload_model=True, models_dir=MODELS))
    gc.unfreeze()  # whatever an earlier test left frozen
    with TestClient(app) as client:
        assert client.get("/api/v1/health").json()["model_loaded"] is True
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
