"""What ``xinfang triage`` tells the officer: each file named once, known files with their batch,
and, on a terminal only, how far the run is."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import TINY_LETTERS, save_tiny_model

import cli.commands.progress as progress_module
from cli.main import main


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("triage-model") / "model")


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "triage.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def triage(db_url: str, model_dir: Path, tmp_path: Path, *paths: Path) -> str:
    args = ["triage", *map(str, paths), "--database-url", db_url, "--model", str(model_dir)]
    result = CliRunner().invoke(main, [*args, "--storage-dir", str(tmp_path / "files")])
    assert result.exit_code == 0, result.output
    return result.output


def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for i, (text, *_rest) in enumerate(TINY_LETTERS[:2]):
        (folder / f"来信{i}.txt").write_text(text, encoding="utf-8")
    (folder / "空白.txt").write_bytes(b"")
    return folder


def test_a_failed_file_is_named_once(db_url: str, model_dir: Path, tmp_path: Path) -> None:
    out = triage(db_url, model_dir, tmp_path, inbox(tmp_path))
    failed = [line for line in out.splitlines() if "空白.txt" in line]
    assert len(failed) == 1 and failed[0].count("空白.txt") == 1, out
    assert "处理失败的文件 1 个" in out and "登记来信 2 件" in out


def test_a_rerun_names_the_files_already_done_and_their_batch(
    db_url: str, model_dir: Path, tmp_path: Path
) -> None:
    folder = inbox(tmp_path)
    first = triage(db_url, model_dir, tmp_path, folder)
    batch = first.split("：", 1)[0]  # 批次 N
    again = triage(db_url, model_dir, tmp_path, folder / "来信0.txt")
    assert "没有新文件" in again
    assert f"已处理过、本次未再处理的文件 1 个：\n  来信0.txt（{batch}，查看：xinfang batches show " in again
    # The empty file failed before: said so, with how to try it again.
    retry = triage(db_url, model_dir, tmp_path, folder / "空白.txt")
    assert "此前已失败，本次未重试；重试请加 --retry-failed" in retry


def test_progress_shows_on_a_terminal_only(
    db_url: str, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = inbox(tmp_path)
    piped = triage(db_url, model_dir, tmp_path, folder / "来信0.txt")
    assert "\r" not in piped and "预计还需" not in piped
    # CliRunner's stream stands in for the terminal.
    monkeypatch.setattr(progress_module, "_is_terminal", lambda stream: True)
    shown = triage(db_url, model_dir, tmp_path, folder / "来信1.txt", folder / "空白.txt")
    assert "\r分流 0/2 个文件 · 预计还需 —" in shown
    assert "\r分流 2/2 个文件 · " in shown and "已用" in shown


def test_batches_show_speaks_chinese_and_names_each_file_once(
    db_url: str, model_dir: Path, tmp_path: Path
) -> None:
    triage(db_url, model_dir, tmp_path, inbox(tmp_path))
    result = CliRunner().invoke(main, ["batches", "show", "1", "--database-url", db_url])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("批次 1（") and "共 3 个文件，完成 2 个，失败 1 个" in result.output
    assert result.output.count("空白.txt") == 1 and "失败" in result.output
    assert "done" not in result.output and "letter(s)" not in result.output
