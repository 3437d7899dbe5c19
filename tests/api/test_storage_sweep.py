"""The storage folder is swept of dead uploads when the workbench starts, and by ``xinfang files sweep``."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from web_factories import make_settings

from api.app import create_app
from cli.main import main
from intake.batch import worker_name
from intake.debris import OWNER_FILE

ROOT = Path(__file__).resolve().parent.parent.parent


def _dead_owner() -> str:
    """The owner name of a process of this host that has ended (and been reaped)."""
    done = subprocess.run(
        [sys.executable, "-c", "from intake.batch import worker_name; print(worker_name())"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _upload_left(storage: Path, name: str, owner: str, letters: int = 3) -> Path:
    folder = storage / name
    for i in range(letters):
        (folder / str(i)).mkdir(parents=True)
        (folder / str(i) / f"举报信{i}.txt").write_text("举报某局长受贿", encoding="utf-8")
    (folder / OWNER_FILE).write_text(owner, encoding="utf-8")
    return folder


def test_the_workbench_sweeps_dead_uploads_when_it_starts(
    database_url: str, tmp_path: Path, standin_router: Any, caplog: pytest.LogCaptureFixture
) -> None:
    storage = tmp_path / "files"
    dead = _upload_left(storage, ".upload-dead0001", _dead_owner())
    ours = _upload_left(storage, ".upload-live0001", worker_name())
    settings = make_settings(database_url, storage_dir=storage)
    app = create_app(settings, router=standin_router)
    assert dead.exists()  # building the app touches nothing; starting it does
    with caplog.at_level(logging.WARNING, logger="xinfang.api"), TestClient(app):
        assert not dead.exists()
        assert ours.exists()  # this very process is alive: its upload may be under way
    assert "清除 1 处残留（3 个文件" in caplog.text


def test_files_sweep_reports_what_it_removed_and_kept(tmp_path: Path) -> None:
    storage = tmp_path / "files"
    dead = _upload_left(storage, ".upload-dead0002", _dead_owner(), letters=2)
    ours = _upload_left(storage, ".upload-live0002", worker_name(), letters=1)
    runner = CliRunner()

    preview = runner.invoke(main, ["files", "sweep", "--storage-dir", str(storage), "--dry-run"])
    assert preview.exit_code == 0, preview.output
    assert "将清除 上传临时文件夹 .upload-dead0002（2 个文件" in preview.output and dead.exists()

    result = runner.invoke(main, ["files", "sweep", "--storage-dir", str(storage)])
    assert result.exit_code == 0, result.output
    assert "已清除 上传临时文件夹 .upload-dead0002（2 个文件" in result.output
    assert "写入它的进程已不在运行" in result.output
    assert "保留 上传临时文件夹 .upload-live0002（1 个文件" in result.output
    assert "清除 1 处残留（2 个文件" in result.output
    assert not dead.exists() and ours.exists()
    # no letter's name is printed: a file name can name an accuser
    assert "举报信" not in result.output
