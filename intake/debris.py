"""Debris in the storage folder: what a process killed mid-write leaves behind, and its sweep.

Two things are written under ``storage_dir`` before they have a name of their own:

- a web upload's files, in a temporary folder ``.upload-*`` (:func:`upload_folder`) until
  :func:`intake.batch.record_inputs` has kept each by its hash. The folder is removed when the
  request ends, but a server killed during the request (``kill -9``, a power cut) leaves it, with
  every letter of the upload in it;
- a file being kept by hash (``.incoming-*``, :func:`intake.batch.keep_file`, and the same under
  ``pages/`` for page images, :func:`store.files.keep_page_image`), renamed into place once complete.

Nothing refers to either, so nothing would ever remove them, and they hold petitioners' letters.
:func:`sweep` removes them, and never what is still being written:

- an upload folder names its owner (:func:`intake.batch.worker_name`, host, pid and start time) in
  a file ``.owner`` written first. It is removed at once when that process of this host is gone
  (the same test as a batch file's claim, :func:`intake.batch.claim_owner_is_dead`), never while it
  runs, however old. A folder of another host (a shared storage mount), or one whose ``.owner`` is
  missing (killed between creating the folder and writing it), is removed only when nothing in it
  has changed for ``older_than``;
- a partial file carries no owner; it is written in one go, so one untouched for ``older_than`` is
  an abandoned one.

The kept files themselves (``ab/abcdef….pdf``, ``pages/…``) are never touched: they are named by
their content, and a batch in progress may record them at any moment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

UPLOAD_PREFIX = ".upload-"
PARTIAL_PREFIX = ".incoming-"
OWNER_FILE = ".owner"
DEFAULT_OLDER_THAN = dt.timedelta(hours=1)
# The form of intake.batch.worker_name, which intake.batch.claim_owner_is_dead reads too.
_OWNER_RE = re.compile(r"(?P<host>.+):(?P<pid>\d+):(?P<start>\d+)")


@contextlib.contextmanager
def upload_folder(storage_dir: Path) -> Iterator[Path]:
    """A temporary folder under ``storage_dir`` for one upload, naming this process as its owner.

    Under the storage folder, so keeping a file by its hash stays on one file system. Removed when
    the block ends; if the process dies first, :func:`sweep` removes it.
    """
    from intake.batch import worker_name

    folder = Path(tempfile.mkdtemp(dir=storage_dir, prefix=UPLOAD_PREFIX))
    try:
        (folder / OWNER_FILE).write_text(worker_name(), encoding="utf-8")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Debris:
    """One upload folder or partial file found in the storage folder, and what the sweep made of it."""

    path: str  # relative to the storage folder
    kind: Literal["upload", "partial"]
    files: int
    bytes: int
    idle_s: float  # seconds since anything in it last changed
    owner: str | None
    reason: str  # why it was removed, or why it was kept

    def describe(self) -> str:
        what = "上传临时文件夹" if self.kind == "upload" else "未写完的文件"
        return f"{what} {self.path}（{self.files} 个文件，{_size(self.bytes)}）：{self.reason}"


@dataclass
class SweepReport:
    """What :func:`sweep` removed and what it left because it may still be in use."""

    removed: list[Debris] = field(default_factory=list)
    kept: list[Debris] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, error)

    @property
    def files_removed(self) -> int:
        return sum(d.files for d in self.removed)

    @property
    def bytes_removed(self) -> int:
        return sum(d.bytes for d in self.removed)

    def summary(self) -> str:
        if not self.removed and not self.kept and not self.failed:
            return "存储目录中没有残留的临时文件"
        removed = f"{self.files_removed} 个文件，{_size(self.bytes_removed)}"
        parts = [f"清除 {len(self.removed)} 处残留（{removed}）"]
        if self.kept:
            parts.append(f"保留 {len(self.kept)} 处仍在使用的")
        if self.failed:
            parts.append(f"{len(self.failed)} 处无法删除")
        return "，".join(parts)


def sweep(
    storage_dir: Path,
    *,
    older_than: dt.timedelta = DEFAULT_OLDER_THAN,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> SweepReport:
    """Remove the upload folders and partial files that no live process is writing.

    Args:
        storage_dir: the storage folder (``XINFANG_STORAGE_DIR``); a missing one holds nothing.
        older_than: how long something whose owner cannot be checked must have been left alone.
        now: the time to measure ages from; now when omitted.
        dry_run: report what would be removed and remove nothing.

    Returns:
        What was removed, what was kept and why, and what could not be removed.
    """
    storage_dir = Path(storage_dir)
    report = SweepReport()
    if not storage_dir.is_dir():
        return report
    now_ts = (now or dt.datetime.now(dt.UTC)).timestamp()
    limit = older_than.total_seconds()
    for path in sorted(storage_dir.glob(f"{UPLOAD_PREFIX}*")):
        if path.is_dir() and not path.is_symlink():
            _judge(report, storage_dir, path, _upload(storage_dir, path, now_ts, limit), dry_run)
    partials = [*storage_dir.glob(f"{PARTIAL_PREFIX}*"), *storage_dir.glob(f"pages/*/{PARTIAL_PREFIX}*")]
    for path in sorted(partials):
        if path.is_file() and not path.is_symlink():
            _judge(report, storage_dir, path, _partial(storage_dir, path, now_ts, limit), dry_run)
    for debris in report.removed:
        log.warning("removed debris from the storage folder: %s", debris.describe())
    return report


def _upload(storage_dir: Path, folder: Path, now_ts: float, limit: float) -> tuple[Debris, bool]:
    from intake.batch import claim_owner_is_dead

    files, size, newest = _walk(folder)
    idle = max(now_ts - newest, 0.0)
    try:
        owner: str | None = (folder / OWNER_FILE).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        owner = None
    relative = folder.relative_to(storage_dir).as_posix()

    def debris(reason: str) -> Debris:
        return Debris(relative, "upload", files, size, idle, owner, reason)

    if owner is not None and claim_owner_is_dead(owner):
        return debris("写入它的进程已不在运行"), True
    if owner is not None and _runs_here(owner):
        return debris("写入它的进程仍在运行，上传可能尚未结束"), False
    unknown = "未注明写入它的进程" if owner is None else "写入它的进程在另一台机器上，无法查看"
    if idle >= limit:
        return debris(f"{unknown}，且已 {_duration(idle)} 未改动"), True
    return debris(f"{unknown}，{_duration(idle)} 前还有改动，未满 {_duration(limit)}"), False


def _partial(storage_dir: Path, path: Path, now_ts: float, limit: float) -> tuple[Debris, bool]:
    stat = path.stat()
    idle = max(now_ts - stat.st_mtime, 0.0)
    relative = path.relative_to(storage_dir).as_posix()
    if idle >= limit:
        return Debris(relative, "partial", 1, stat.st_size, idle, None, f"已 {_duration(idle)} 未写入"), True
    reason = f"{_duration(idle)} 前还在写入，未满 {_duration(limit)}"
    return Debris(relative, "partial", 1, stat.st_size, idle, None, reason), False


def _judge(
    report: SweepReport, storage_dir: Path, path: Path, verdict: tuple[Debris, bool], dry_run: bool
) -> None:
    debris, remove = verdict
    if not remove:
        report.kept.append(debris)
        return
    if not dry_run:
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            pass  # another process swept it at the same moment
        except OSError as exc:
            report.failed.append((debris.path, exc.strerror or str(exc)))
            return
    report.removed.append(debris)


def _walk(folder: Path) -> tuple[int, int, float]:
    """Letter files (the owner note not counted), their bytes, and the newest change in the folder."""
    files = size = 0
    newest = folder.stat().st_mtime
    for root, dirs, names in os.walk(folder):
        for name in dirs:
            with contextlib.suppress(OSError):
                newest = max(newest, (Path(root) / name).stat().st_mtime)
        for name in names:
            try:
                stat = (Path(root) / name).stat()
            except OSError:
                continue
            newest = max(newest, stat.st_mtime)
            if not (name == OWNER_FILE and Path(root) == folder):
                files += 1
                size += stat.st_size
    return files, size, newest


def _runs_here(owner: str) -> bool:
    """Whether ``owner`` is a well-formed owner naming this host (whether it lives is asked apart)."""
    import socket

    match = _OWNER_RE.fullmatch(owner)
    return match is not None and match["host"] == socket.gethostname()


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} 秒"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} 分钟"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} 小时"
    return f"{seconds / 86400:.0f} 天"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} 字节"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"
