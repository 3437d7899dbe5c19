"""`xinfang train`, `xinfang evaluate` and `xinfang models ...` through click's CliRunner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from tiny_corpus import TINY_OVERRIDES

from cli.main import main
from service.settings import get_settings
from store.audit import events_for
from store.db import make_engine, make_session_factory


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, models_dir: Path, tiny_data: Path, db_url: str) -> Iterator[Path]:
    monkeypatch.setenv("XINFANG_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("XINFANG_SHARED_DATA_DIR", str(tiny_data))
    monkeypatch.setenv("XINFANG_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield models_dir
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def sets(*overrides: str) -> list[str]:
    return [x for o in overrides for x in ("--set", o)]


@pytest.mark.slow
def test_train_writes_a_new_folder_and_leaves_the_service_alone(env: Path, db_url: str) -> None:
    code, out = run("train", *sets(*TINY_OVERRIDES), "--version", "cli-1")
    assert code == 0, out
    assert "24 letters (0 officers' decisions" in out and "wrote " in out
    assert "promote it with: xinfang models promote cli-1" in out
    folder = env / "cli-1"
    for name in (
        "model.skops",
        "labels.json",
        "userdict.txt",
        "config.toml",
        "meta.json",
        "evaluation.json",
        "report.html",
    ):
        assert (folder / name).exists(), name
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["rows"]["letters"] == 24 and meta["data_hash"] and meta["split"]["seed"] == 10
    assert meta["label_distribution"]["category"] == {"accusation": 5, "appeal": 8, "suggestion": 5}
    assert not (env / "registry.json").exists()
    # the same config and data give the same held-out metrics
    code, out = run("train", *sets(*TINY_OVERRIDES), "--version", "cli-2", "--no-report")
    assert code == 0, out
    again = json.loads((env / "cli-2" / "meta.json").read_text(encoding="utf-8"))
    assert again["metrics"] == meta["metrics"] and again["split"] == meta["split"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "heads.category.C=lots"], "heads.category.C must be float"),
        (["--set", "heads.categry.C=1"], "unknown config section 'heads.categry.C'"),
        (
            ["--set", "model.features=bert"],
            "model.features='bert' is unknown; choose one of tfidf, embeddings",
        ),
        (["--version", "good"], "already holds a model; models are never overwritten"),
        (["--database-url", "mysql://x/y"], "unsupported database backend 'mysql'"),
    ],
    ids=["bad-type", "unknown-key", "unknown-features", "existing-folder", "bad-database"],
)
def test_train_mistakes_are_one_readable_error(env: Path, args: list[str], message: str) -> None:
    code, out = run("train", *sets(*TINY_OVERRIDES), *args)
    assert code == 1 and message in out and "Traceback" not in out


def test_train_reports_data_errors_with_the_letter_ids(env: Path, tiny_data: Path, tmp_path: Path) -> None:
    bad = tmp_path / "data"
    bad.mkdir()
    (bad / "messages.csv").write_text(
        (tiny_data / "messages.csv").read_text(encoding="utf-8"), encoding="utf-8"
    )
    lines = (tiny_data / "annotations.jsonl").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace('"appeal"', '"complaint"')
    (bad / "annotations.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out = run("train", *sets(*TINY_OVERRIDES), "--data-dir", str(bad), "--no-database")
    assert code == 1 and "unknown category labels: 'complaint' in h3" in out


@pytest.mark.slow
def test_evaluate_prints_and_writes_the_report(env: Path, tmp_path: Path) -> None:
    code, out = run("evaluate", "--model", str(env / "good"), "--output", str(tmp_path / "ev"))
    assert code == 0, out
    assert "model good on 6 held-out letters" in out and "rule layer alone" in out
    assert (tmp_path / "ev" / "report.html").exists()
    code, out = run("evaluate", "--model", str(env / "good"), "--output", str(tmp_path / "ev2"), "--json")
    assert code == 0 and json.loads(out[: out.rindex("}") + 1])["version"] == "good"


def test_evaluate_refuses_a_broken_model_with_the_reason(env: Path) -> None:
    (env / "poor" / "model.skops").write_bytes(b"broken")
    code, out = run("evaluate", "--model", str(env / "poor"))
    assert code == 1 and "model.skops is corrupt" in out
    code, out = run("evaluate")  # nothing promoted and no default folder
    assert code == 1 and "no model 'default'" in out


def test_models_list_show_promote_rollback(env: Path, db_url: str) -> None:
    code, out = run("models", "list")
    assert code == 0 and "good" in out and "poor" in out and "* " not in out
    code, out = run("models", "list", "--json")
    assert {m["version"] for m in json.loads(out)} == {"good", "poor"}
    code, out = run("models", "show", "good")
    assert code == 0 and "model good" in out and "category" in out and "report:" in out
    code, out = run("models", "show", "nope")
    assert code == 1 and "no model 'nope'" in out

    code, out = run("models", "promote", "good", "--actor", "wang.fang")
    assert code == 0, out
    assert "model good is now in service, replacing default" in out
    code, out = run("models", "promote", "poor")
    assert code == 1 and "was NOT promoted" in out and "--force --reason" in out
    code, out = run("models", "promote", "poor", "--force")
    assert code == 1 and "--force needs --reason" in out
    code, out = run("models", "promote", "poor", "--force", "--reason", "对比试运行")
    assert code == 0 and "(forced: 对比试运行)" in out
    code, out = run("models", "list")
    assert "* poor" in out
    code, out = run("models", "rollback", "--reason", "回退")
    assert code == 0 and "model good is in service again" in out
    code, out = run("models", "promote", "good")
    assert code == 1 and "already in service" in out

    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        actions = [e.action for e in events_for(session, "model:poor") + events_for(session, "model:good")]
    engine.dispose()
    assert sorted(actions) == ["promote_model", "promote_model", "promote_model_refused", "rollback_model"]


def test_promote_needs_a_migrated_database(env: Path, tmp_path: Path) -> None:
    code, out = run("models", "promote", "good", "--database-url", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert code == 1 and "Traceback" not in out and "xinfang db upgrade" in out
