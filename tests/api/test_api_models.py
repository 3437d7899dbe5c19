"""The models page and API: versions with their metrics, promotion (refused when worse), rollback.

Two tiny models are trained once on the tiny corpus of the training tests: ``good`` and the much
worse ``poor`` (one word of vocabulary). The app serves through the registry as in production,
so a promotion must reach the very next proposal.
"""

from __future__ import annotations

import html
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from live_server import chromium, needs_chromium, open_page, serve, shot
from live_server import sign_in as sign_in_page
from web_factories import ARBITRATION_TEXT, PASSWORD, letter_payload, make_settings

from api.app import create_app
from api.pages.models import REPORT_POLICY
from training.registry import REGISTRY_FILE, promoted_version, read_registry
from training.train import train

# The training tests' tiny corpus (letters that train in seconds) is a module beside their conftest.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))
from tiny_corpus import TINY_OVERRIDES, write_tiny_data  # noqa: E402

both = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_data(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> Path:
    models = tmp_path_factory.mktemp("registry")
    train(data_dir=tiny_data, models_dir=models, version="good", overrides=TINY_OVERRIDES)
    poor = (*TINY_OVERRIDES, "features.word_max_features=1", "features.char_max_features=1")
    train(data_dir=tiny_data, models_dir=models, version="poor", overrides=poor)
    return models


@pytest.fixture
def models_dir(tmp_path: Path, trained: Path) -> Path:
    """A copy of the two models with ``poor`` in service, as if shipped that way."""
    models = Path(shutil.copytree(trained, tmp_path / "models"))
    (models / REGISTRY_FILE).write_text(json.dumps({"in_service": "poor", "history": []}), encoding="utf-8")
    return models


@pytest.fixture
def app(database_url: str, models_dir: Path, tiny_data: Path, users: dict[str, str]) -> Any:
    return create_app(make_settings(database_url, models_dir=models_dir, shared_data_dir=tiny_data))


def bearer(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def sign_in(client: TestClient, username: str) -> None:
    csrf = form_token(client.get("/login").text)
    r = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf, "next": "/models"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def form_token(page: str) -> str:
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def proposal_model(client: TestClient) -> str:
    """The model version behind the proposal of a letter registered now (a supervisor reads any)."""
    officer = bearer(client, "supervisor")
    r = client.post("/api/v1/letters", json=letter_payload(text=ARBITRATION_TEXT), headers=officer)
    assert r.status_code == 201, r.text
    return str(r.json()["letter"]["proposal"]["model_version"])


def model_events(client: TestClient) -> list[dict[str, Any]]:
    """The audit log's model events, oldest first, read as a supervisor; the chain must hold."""
    r = client.get("/api/v1/audit", params={"verify": "true"}, headers=bearer(client, "supervisor"))
    assert r.status_code == 200, r.text
    assert r.json()["chain_ok"] is True
    events = [e for e in r.json()["data"] if str(e["object"] or "").startswith("model:")]
    return sorted(events, key=lambda e: e["seq"])


def test_the_list_shows_every_version_its_metrics_and_the_one_in_service(
    client: TestClient, models_dir: Path
) -> None:
    h = bearer(client, "analyst")
    body = client.get("/api/v1/models", headers=h).json()
    assert body["count"] == 2 and body["in_service"] == "poor"
    items = {m["version"]: m for m in body["data"]}
    good, poor = items["good"], items["poor"]
    assert poor["in_service"] and not good["in_service"]
    assert good["usable"] and good["problem"] is None
    assert good["metrics"]["category"]["macro_f1"] > poor["metrics"]["category"]["macro_f1"]
    assert set(good["metrics"]) == {"category", "domain", "department", "channel", "final_channel"}
    meta = json.loads((models_dir / "good" / "meta.json").read_text(encoding="utf-8"))
    assert good["data_hash"] == meta["data_hash"] == poor["data_hash"]  # the same letters
    assert good["rows"]["letters"] == 24 and good["rows"]["test"] == 6
    assert good["report_url"] == "/models/good/report"

    detail = client.get("/api/v1/models/good", headers=h).json()
    assert detail["metrics_source"] == "evaluation"
    assert detail["metrics"]["category"]["per_class"]["appeal"]["support"] >= 1
    assert detail["metrics"]["category"]["confusion"]["labels"] == ["accusation", "appeal", "suggestion"]
    assert detail["proposal"]["letters"] == 6 and detail["split"]["seed"] == 10

    unknown = client.get("/api/v1/models/v9", headers=h)
    assert unknown.status_code == 404
    assert unknown.json()["error"].startswith("no model 'v9' in the registry; known versions: good, poor")

    sign_in(client, "analyst")
    listing = client.get("/models").text
    row = listing.split('id="model-poor"')[1].split("</tr>")[0]
    assert 'data-state="in-service"' in row
    assert 'data-state="in-service"' not in listing.split('id="model-good"')[1].split("</tr>")[0]
    assert '<a href="/models">模型管理</a>' in listing  # the nav link


@both
def test_a_better_model_is_promoted_audited_and_routes_the_next_letter(
    client: TestClient, models_dir: Path
) -> None:
    assert proposal_model(client) == "poor"
    r = client.post(
        "/api/v1/models/promote",
        json={"version": "good", "reason": "月度重训"},
        headers=bearer(client, "analyst"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["version"], body["previous"], body["forced"], body["serving"]) == (
        "good",
        "poor",
        False,
        "good",
    )
    assert body["comparison"]["how"] == "same held-out letters (saved evaluations)"
    assert body["comparison"]["heads"]["category"]["delta_macro_f1"] > 0
    assert promoted_version(models_dir) == "good"
    assert proposal_model(client) == "good"  # the very next request, no restart
    events = model_events(client)
    assert [(e["action"], e["actor"], e["object"]) for e in events] == [
        ("promote_model", "analyst", "model:good")
    ]
    assert events[0]["details"]["reason"] == "月度重训" and events[0]["seq"] == body["audit_seq"]


@both
def test_a_worse_model_is_refused_with_the_reason_then_forced_with_one(
    client: TestClient, models_dir: Path
) -> None:
    h = bearer(client, "analyst")
    assert client.post("/api/v1/models/promote", json={"version": "good"}, headers=h).status_code == 200

    refused = client.post("/api/v1/models/promote", json={"version": "poor"}, headers=h)
    assert refused.status_code == 409, refused.text
    error = refused.json()
    assert error["ok"] is False and error["status"] == 409
    assert "worse than those of good, the model in service, on the same data" in error["error"]
    assert "give force and a reason" in error["error"]
    worse = {tuple(e["loc"]): e for e in error["errors"]}
    assert ("heads", "category") in worse and worse["heads", "category"]["type"] == "worse_than_in_service"
    assert promoted_version(models_dir) == "good" and proposal_model(client) == "good"

    blank = client.post(
        "/api/v1/models/promote", json={"version": "poor", "force": True, "reason": "  "}, headers=h
    )
    assert blank.status_code == 422
    assert blank.json()["error"].startswith("force needs a reason")

    forced = client.post(
        "/api/v1/models/promote",
        json={"version": "poor", "force": True, "reason": "试点：对比线上效果"},
        headers=h,
    )
    assert forced.status_code == 200, forced.text
    assert forced.json()["forced"] is True and forced.json()["worse"]
    assert promoted_version(models_dir) == "poor" and proposal_model(client) == "poor"

    events = [(e["action"], e["actor"], e["object"], e["details"]["forced"]) for e in model_events(client)]
    assert events == [
        ("promote_model", "analyst", "model:good", False),
        ("promote_model_refused", "analyst", "model:poor", False),
        ("promote_model", "analyst", "model:poor", True),
    ]
    history = read_registry(models_dir)["history"]
    assert [(x["version"], x["actor"], x["reason"]) for x in history][-1] == (
        "poor",
        "analyst",
        "试点：对比线上效果",
    )


@both
def test_rollback_puts_the_previous_model_back_and_is_audited(client: TestClient, models_dir: Path) -> None:
    h = bearer(client, "supervisor")
    nothing = client.post("/api/v1/models/rollback", json={"reason": "试试"}, headers=h)
    assert nothing.status_code == 409
    assert nothing.json()["error"].startswith("nothing to roll back to: poor is the first model in service")

    assert client.post("/api/v1/models/promote", json={"version": "good"}, headers=h).status_code == 200
    r = client.post("/api/v1/models/rollback", json={"reason": "线上误判增多"}, headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.json()["previous"], r.json()["serving"]) == ("poor", "good", "poor")
    assert promoted_version(models_dir) == "poor" and proposal_model(client) == "poor"
    last = model_events(client)[-1]
    assert (last["action"], last["actor"], last["object"]) == ("rollback_model", "supervisor", "model:poor")
    assert last["details"]["reason"] == "线上误判增多"


def test_a_corrupt_model_folder_is_listed_unusable_and_refused(client: TestClient, models_dir: Path) -> None:
    (models_dir / "good" / "model.skops").write_bytes(b"not a zip file")
    (models_dir / "broken").mkdir()
    (models_dir / "broken" / "meta.json").write_text("{half a", encoding="utf-8")
    h = bearer(client, "analyst")
    items = {m["version"]: m for m in client.get("/api/v1/models", headers=h).json()["data"]}
    assert not items["good"]["usable"] and "model.skops is missing or corrupt" in items["good"]["problem"]
    assert not items["broken"]["usable"] and "not JSON" in items["broken"]["problem"]
    assert items["poor"]["usable"]
    assert client.get("/api/v1/models/broken", headers=h).json()["model"]["usable"] is False

    r = client.post("/api/v1/models/promote", json={"version": "good"}, headers=h)
    assert r.status_code == 409
    assert r.json()["error"].startswith("model good is unusable and was not promoted:")
    assert "model.skops is corrupt" in r.json()["error"] and "Retrain it" in r.json()["error"]
    assert promoted_version(models_dir) == "poor"
    assert model_events(client) == []  # a folder that does not load is never compared nor recorded

    sign_in(client, "analyst")
    page = client.get("/models").text
    assert 'data-state="unusable"' in page.split('id="model-good"')[1].split("</tr>")[0]
    detail = client.get("/models/good").text
    assert 'id="problem"' in detail and 'id="promote-form"' not in detail


def test_the_report_is_served_only_from_a_registered_model_folder(
    client: TestClient, models_dir: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.html"
    secret.write_text("<p>not for the web</p>", encoding="utf-8")
    (models_dir / "linked").mkdir()
    shutil.copy(models_dir / "good" / "meta.json", models_dir / "linked" / "meta.json")
    (models_dir / "linked" / "report.html").symlink_to(secret)
    outside = tmp_path / "outside-model"
    shutil.copytree(models_dir / "good", outside)
    (models_dir / "elsewhere").symlink_to(outside, target_is_directory=True)
    (models_dir / "unregistered").mkdir()  # no meta.json: not a model
    (models_dir / "unregistered" / "report.html").write_text("<p>stray</p>", encoding="utf-8")

    sign_in(client, "analyst")
    r = client.get("/models/good/report")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers.get_list("content-security-policy") == [REPORT_POLICY]  # its own, not the site's
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"
    assert "<h1>Model good</h1>" in r.text

    for path in (
        "/models/linked/report",
        "/models/elsewhere/report",
        "/models/unregistered/report",
        "/models/..%2F..%2Fetc%2Fpasswd/report",
        "/models/%2e%2e/report",
        "/models/..%5Csecret/report",
        "/models/.hidden/report",
        "/models/good%00/report",
    ):
        r = client.get(path)
        assert r.status_code in (404, 422), (path, r.status_code)
        assert "not for the web" not in r.text and "stray" not in r.text and "root:" not in r.text
    listed = {
        m["version"]: m
        for m in client.get("/api/v1/models", headers=bearer(client, "analyst")).json()["data"]
    }
    assert listed["good"]["report_url"] == "/models/good/report"
    assert listed["linked"]["report_url"] is None and listed["elsewhere"]["report_url"] is None
    assert "no model 'unregistered' in the registry" in html.unescape(
        client.get("/models/unregistered/report").text
    )

    client.post("/logout", data={"csrf_token": form_token(client.get("/models").text)})
    sign_in(client, "intake.officer")
    assert client.get("/models/good/report").status_code == 403


def test_page_posts_without_the_csrf_token_are_refused(client: TestClient, models_dir: Path) -> None:
    sign_in(client, "analyst")
    for action, data in (
        ("/models/good/promote", {"reason": "x"}),
        ("/models/rollback", {"reason": "x"}),
        ("/models/good/promote", {"reason": "x", "csrf_token": "forged"}),
    ):
        r = client.post(action, data=data, follow_redirects=False)
        assert r.status_code == 403 and "CSRF" in r.text, action
    assert promoted_version(models_dir) == "poor"
    assert not read_registry(models_dir)["history"]


@both
def test_the_page_shows_a_refusal_and_promotes_when_forced_with_a_reason(
    client: TestClient, models_dir: Path
) -> None:
    sign_in(client, "supervisor")
    csrf = form_token(client.get("/models/good").text)
    r = client.post(
        "/models/good/promote", data={"csrf_token": csrf, "reason": "新数据"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/models?promoted=good"
    assert "模型 good 已投入使用" in client.get(r.headers["location"]).text

    refused = client.post("/models/poor/promote", data={"csrf_token": csrf, "reason": ""})
    assert refused.status_code == 409
    assert 'id="refusal"' in refused.text and "系统拒绝投入使用" in refused.text
    assert 'id="force-form"' in refused.text and "变差" in refused.text
    without = client.post("/models/poor/promote", data={"csrf_token": csrf, "force": "1", "reason": " "})
    assert without.status_code == 422 and "强制投入使用必须填写理由" in without.text
    assert promoted_version(models_dir) == "good"

    forced = client.post(
        "/models/poor/promote",
        data={"csrf_token": csrf, "force": "1", "reason": "对比线上效果"},
        follow_redirects=False,
    )
    assert forced.status_code == 303 and promoted_version(models_dir) == "poor"
    actions = [(e["action"], e["actor"]) for e in model_events(client)]
    assert actions == [
        ("promote_model", "supervisor"),
        ("promote_model_refused", "supervisor"),
        ("promote_model", "supervisor"),
    ]
    listing = client.get("/models").text
    assert "强制" in listing.split('id="history"')[1] and "对比线上效果" in listing

    r = client.post(
        "/models/rollback", data={"csrf_token": csrf, "reason": "回到上一版"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/models?rolled_back=good"
    assert promoted_version(models_dir) == "good"
    # A crafted link cannot make the page announce what did not happen.
    assert "已投入使用" not in client.get("/models?promoted=poor").text


def test_a_promotion_that_needs_the_shared_data_says_where_to_set_it(
    database_url: str, models_dir: Path, tmp_path: Path, users: dict[str, str]
) -> None:
    # Models held out from different letters are compared by running both on the shared data.
    meta_path = models_dir / "good" / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["split"]["seed"] = 11
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    app = create_app(make_settings(database_url, models_dir=models_dir, shared_data_dir=tmp_path / "none"))
    with TestClient(app) as client:
        r = client.post("/api/v1/models/promote", json={"version": "good"}, headers=bearer(client, "analyst"))
    assert r.status_code == 409
    assert (
        "XINFANG_SHARED_DATA_DIR" in r.json()["error"] and "set it to the training data" in r.json()["error"]
    )
    assert promoted_version(models_dir) == "poor"


# -- the browser ------------------------------------------------------------------------------


@pytest.fixture
def live_models(tmp_path: Path, sqlite_template: Path, models_dir: Path, tiny_data: Path) -> Iterator[str]:
    db = tmp_path / "browser.sqlite3"
    shutil.copyfile(sqlite_template, db)
    app = create_app(make_settings(f"sqlite:///{db}", models_dir=models_dir, shared_data_dir=tiny_data))
    with serve(app) as base:
        yield base


@pytest.mark.slow
@needs_chromium
def test_an_analyst_promotes_a_version_in_the_browser(live_models: str, models_dir: Path) -> None:
    base = live_models
    with chromium() as browser, open_page(browser) as page:
        sign_in_page(page, base, "analyst", then="/models")
        assert page.locator('#model-poor [data-state="in-service"]').count() == 1
        good_f1 = page.inner_text('#model-good td[data-head="category"] strong')
        poor_f1 = page.inner_text('#model-poor td[data-head="category"] strong')
        assert float(good_f1) > float(poor_f1)
        shot(page, "08-models")
        page.click("#model-good a >> text=详情")
        page.wait_for_url(f"{base}/models/good")
        with page.expect_popup() as popup:
            page.click("#report-link")
        report = popup.value
        report.wait_for_load_state()
        assert "Model good" in report.inner_text("h1")
        report.close()
        page.fill("#promote-reason", "新一轮训练，各项指标更好")
        page.click("#promote")
        page.wait_for_url(f"{base}/models?promoted=good")
        assert "模型 good 已投入使用" in page.inner_text("#notice")
        assert page.locator('#model-good [data-state="in-service"]').count() == 1
        assert "新一轮训练，各项指标更好" in page.inner_text("#history")
        shot(page, "09-models-promoted")
        page.goto(f"{base}/models/poor")
        page.click("#promote")
        page.wait_for_selector("#refusal")
        assert "系统拒绝投入使用" in page.inner_text("#refusal")
        shot(page, "10-model-refused")
        page.fill("#force-reason", "对比线上效果")
        page.click("#force")
        page.wait_for_url(f"{base}/models?promoted=poor")
    assert promoted_version(models_dir) == "poor"
    history = read_registry(models_dir)["history"]
    assert [(h["version"], h["actor"], h["forced"]) for h in history] == [
        ("good", "analyst", False),
        ("poor", "analyst", True),
    ]
