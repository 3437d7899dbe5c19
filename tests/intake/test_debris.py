"""Debris in the storage folder: an upload cut short by ``kill -9`` is swept, an upload in progress
never is, and leftovers whose writer cannot be checked go only once they have been left alone."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from intake.batch import worker_name
from intake.debris import OWNER_FILE, sweep, upload_folder

ROOT = Path(__file__).resolve().parent.parent.parent

# A web upload of 400 letter files, as service.batches.receive_upload receives it, whose last file
# never finishes arriving: the process is then inside the upload folder with the other 399 written,
# as a server is when it is killed during the request.
_UPLOAD = textwrap.dedent(
    """
    import io, sys, time, types
    from pathlib import Path

    from service.batches import Upload, receive_upload
    from service.settings import Settings

    class Stalled(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            folders = list(Path(sys.argv[1]).glob(".upload-*"))
            print(len(folders), flush=True)
            time.sleep(600)
            return 0

    settings = Settings(environment="test", storage_dir=sys.argv[1], database_url="sqlite://")
    letters = [f"第{i}封来信：小区物业乱收费。".encode() for i in range(399)]
    uploads = [Upload(f"来信{i:03d}.txt", io.BytesIO(text)) for i, text in enumerate(letters)]
    uploads.append(Upload("最后一封.txt", Stalled()))
    receive_upload(None, settings, types.SimpleNamespace(username="zhao.liu"), uploads)
    """
)


def _start_upload(storage: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _UPLOAD, str(storage)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until the upload is under way
    assert line.strip() != "", "the upload process ended before reaching its last file"
    return process


@pytest.fixture
def uploads(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def _folders(storage: Path) -> set[Path]:
    return set(storage.glob(".upload-*"))


def test_an_upload_killed_mid_request_is_swept_and_one_in_progress_is_not(
    tmp_path: Path, uploads: list[subprocess.Popen[str]]
) -> None:
    storage = tmp_path / "files"
    storage.mkdir()
    killed = _start_upload(storage)
    uploads.append(killed)
    [left] = _folders(storage)
    running = _start_upload(storage)
    uploads.append(running)
    [in_progress] = _folders(storage) - {left}

    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()  # reaped, as the server's parent reaps it: a zombie still counts as running
    letters = [p for p in left.rglob("*") if p.is_file() and p.name != OWNER_FILE]
    assert len(letters) == 400  # what nothing removed before: the upload's letters, in the clear

    report = sweep(storage)

    assert not left.exists()
    assert [(d.path, d.kind, d.files) for d in report.removed] == [(left.name, "upload", 400)]
    assert "写入它的进程已不在运行" in report.removed[0].reason
    assert in_progress.exists() and running.poll() is None
    assert [(d.path, d.files) for d in report.kept] == [(in_progress.name, 400)]
    assert "仍在运行" in report.kept[0].reason
    assert report.summary().startswith("清除 1 处残留（400 个文件")


def _old(path: Path, hours: float) -> None:
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)).timestamp()
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (when, when))


def test_leftovers_whose_writer_cannot_be_checked_go_only_when_left_alone(tmp_path: Path) -> None:
    storage = tmp_path
    kept_letter = storage / "ab" / ("ab" + "0" * 62 + ".pdf")
    kept_letter.parent.mkdir()
    kept_letter.write_bytes(b"%PDF kept by its hash")
    _old(kept_letter, 48)
    # killed between creating the folder and naming its owner
    no_owner_old = storage / ".upload-aaaa"
    (no_owner_old / "0").mkdir(parents=True)
    (no_owner_old / "0" / "来信.txt").write_text("来信", encoding="utf-8")
    _old(no_owner_old, 2)
    no_owner_new = storage / ".upload-bbbb"
    (no_owner_new / "0").mkdir(parents=True)
    (no_owner_new / "0" / "来信.txt").write_text("来信", encoding="utf-8")
    # an upload of another server sharing the folder: its process cannot be looked at from here
    elsewhere = storage / ".upload-cccc"
    elsewhere.mkdir()
    (elsewhere / OWNER_FILE).write_text(f"not-{socket.gethostname()}:12345:1700000000", encoding="utf-8")
    partial_old = storage / ".incoming-x1"
    partial_old.write_bytes(b"half a scan")
    _old(partial_old, 3)
    page_partial = storage / "pages" / "cd" / ".incoming-x2"
    page_partial.parent.mkdir(parents=True)
    page_partial.write_bytes(b"half a page")
    _old(page_partial, 3)
    partial_new = storage / ".incoming-x3"
    partial_new.write_bytes(b"being written")

    preview = sweep(storage, dry_run=True)
    assert {d.path for d in preview.removed} == {".upload-aaaa", ".incoming-x1", "pages/cd/.incoming-x2"}
    assert no_owner_old.exists() and partial_old.exists()  # a preview removes nothing

    report = sweep(storage)

    assert {d.path for d in report.removed} == {".upload-aaaa", ".incoming-x1", "pages/cd/.incoming-x2"}
    assert {d.path for d in report.kept} == {".upload-bbbb", ".upload-cccc", ".incoming-x3"}
    assert not no_owner_old.exists() and not partial_old.exists() and not page_partial.exists()
    assert no_owner_new.exists() and elsewhere.exists() and partial_new.exists()
    assert kept_letter.read_bytes() == b"%PDF kept by its hash"  # kept files are never debris
    reasons = {d.path: d.reason for d in report.kept}
    assert "另一台机器" in reasons[".upload-cccc"] and "未注明" in reasons[".upload-bbbb"]

    _old(elsewhere, 2)
    assert [d.path for d in sweep(storage).removed] == [".upload-cccc"]
    assert sweep(storage, older_than=dt.timedelta(seconds=0)).removed  # what is left goes when told


def test_an_upload_folder_names_its_owner_and_is_gone_after_the_upload(tmp_path: Path) -> None:
    with upload_folder(tmp_path) as folder:
        assert folder.parent == tmp_path and folder.name.startswith(".upload-")
        assert (folder / OWNER_FILE).read_text(encoding="utf-8") == worker_name()
        assert sweep(tmp_path, older_than=dt.timedelta(seconds=0)).removed == []  # ours, alive
    assert not folder.exists()


def test_a_missing_storage_folder_holds_nothing(tmp_path: Path) -> None:
    report = sweep(tmp_path / "absent")
    assert (report.removed, report.kept, report.summary()) == ([], [], "存储目录中没有残留的临时文件")
