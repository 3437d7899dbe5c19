"""``xinfang files sweep``: remove what uploads and keeps cut short by a killed process left behind.

The web app sweeps at every start as well; this command is for an installation that was not
restarted, or to see what is there (``--dry-run``). The rules (who may still be writing what) are
``intake.debris``'s.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click


@click.group("files")
def files() -> None:
    """The storage folder of uploaded and scanned files."""


@files.command("sweep")
@click.option(
    "--storage-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="the storage folder (default: XINFANG_STORAGE_DIR)",
)
@click.option(
    "--older-than",
    type=click.IntRange(min=1),
    default=None,
    metavar="MINUTES",
    help="remove a leftover whose writer cannot be checked only when untouched this long "
    "(default: XINFANG_DEBRIS_AFTER)",
)
@click.option("--dry-run", is_flag=True, help="only report what would be removed")
def files_sweep(storage_dir: Path | None, older_than: int | None, dry_run: bool) -> None:
    """Remove temporary upload folders and partial files that no running process is writing."""
    from intake.debris import sweep
    from service.settings import get_settings

    settings = get_settings()
    folder = storage_dir or Path(settings.storage_dir)
    age = dt.timedelta(minutes=older_than) if older_than else dt.timedelta(seconds=settings.debris_after)
    report = sweep(folder, older_than=age, dry_run=dry_run)
    verb = "将清除" if dry_run else "已清除"
    for debris in report.removed:
        click.echo(f"{verb} {debris.describe()}")
    for debris in report.kept:
        click.echo(f"保留 {debris.describe()}")
    for path, error in report.failed:
        click.echo(f"无法删除 {path}：{error}", err=True)
    click.echo(f"{folder}：{report.summary()}" + ("（仅预览，未删除）" if dry_run else ""))
    if report.failed:
        raise click.ClickException(
            f"{len(report.failed)} 处残留无法删除；请检查存储目录的权限"
            "（运行 xinfang 的用户须能删除其中的文件）"
        )
