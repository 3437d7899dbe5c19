"""A running app picks up a promoted model between requests, without a restart."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from factories import save_tiny_model
from fastapi.testclient import TestClient
from web_factories import make_settings

from api.app import create_app
from training.registry import REGISTRY_FILE


def test_promotion_reaches_the_running_app(tmp_path: Path, sqlite_template: Any) -> None:
    models = tmp_path / "models"
    save_tiny_model(models / "default")
    save_tiny_model(models / "second")
    db = tmp_path / "db.sqlite3"
    shutil.copyfile(sqlite_template, db)
    app = create_app(make_settings(f"sqlite:///{db}", preload_model=True, models_dir=models))
    with TestClient(app) as client:
        assert client.get("/api/v1/health").json()["model_version"] == "default"
        registry = {"in_service": "second", "history": []}
        (models / REGISTRY_FILE).write_text(json.dumps(registry), encoding="utf-8")
        deadline = time.monotonic() + 60
        seen = []
        while time.monotonic() < deadline:
            health = client.get("/api/v1/health")
            assert health.status_code == 200  # no request fails while the new model loads
            seen.append(health.json()["model_version"])
            if seen[-1] == "second":
                break
            time.sleep(0.2)
        assert seen[-1] == "second", seen[-5:]
