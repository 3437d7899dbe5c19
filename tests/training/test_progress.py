"""Training and evaluation report their steps, so ``xinfang train`` and ``evaluate`` can show the
time left on a terminal; piped, they show no progress line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from tiny_corpus import TINY_OVERRIDES

import cli.commands.progress as progress_module
from cli.main import main
from service.settings import get_settings
from training.train import train


def test_train_reports_every_step_from_the_first_to_done(tiny_data: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int, str]] = []
    train(
        tmp_path / "model",
        data_dir=tiny_data,
        overrides=TINY_OVERRIDES,
        version="steps",
        report=False,
        steps=lambda done, total, what: seen.append((done, total, what)),
    )
    total = seen[0][1]
    assert seen[0] == (0, total, "读取训练数据") and seen[-1] == (total, total, "完成")
    assert [done for done, _, _ in seen] == list(range(total + 1))  # one call per step, in order
    folds = [what for _, _, what in seen if what.startswith("仲裁层交叉拟合")]
    assert folds and folds[-1].endswith(f"第 {len(folds)}/{len(folds)} 折")


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, models_dir: Path, tiny_data: Path, db_url: str) -> Path:
    monkeypatch.setenv("XINFANG_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("XINFANG_SHARED_DATA_DIR", str(tiny_data))
    monkeypatch.setenv("XINFANG_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield models_dir  # type: ignore[misc]
    get_settings.cache_clear()


def test_evaluate_shows_its_letters_on_a_terminal_only(
    settings_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["evaluate", "--model", str(settings_env / "good"), "--output"]
    piped = CliRunner().invoke(main, [*args, str(tmp_path / "piped")])
    assert piped.exit_code == 0, piped.output
    assert "\r" not in piped.output and "预计还需" not in piped.output
    # CliRunner's stream stands in for the terminal.
    monkeypatch.setattr(progress_module, "_is_terminal", lambda stream: True)
    shown = CliRunner().invoke(main, [*args, str(tmp_path / "shown")])
    assert shown.exit_code == 0, shown.output
    assert "\r评估（路由留出来信） 0/6 封 · 预计还需 —" in shown.output
    assert "\r评估（路由留出来信） 6/6 封 · 每秒" in shown.output and "预计还需 0 秒" in shown.output
    assert "评估（写报告）" in shown.output


def test_train_shows_its_steps_on_a_terminal(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module, "_is_terminal", lambda stream: True)
    sets = [x for o in TINY_OVERRIDES for x in ("--set", o)]
    result = CliRunner().invoke(main, ["train", *sets, "--version", "shown", "--no-report", "--no-database"])
    assert result.exit_code == 0, result.output
    assert "\r训练（读取训练数据） 0/" in result.output and "预计还需 —" in result.output
    assert "\r训练（拟合案件事实层） 3/" in result.output
    # The stage lines of the log stay, each on a line of its own above the progress line.
    assert "\r\x1b[Kfitting tfidf features and 4 heads\n" in result.output
