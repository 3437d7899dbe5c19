"""Batch triage from the shell: ``xinfang triage``, ``xinfang batches show``, ``xinfang export``.

``xinfang triage PATH...`` reads folders, zip archives and single files, registers one letter per
letter found with its route proposal, and prints a summary. Rerunning it on the same files adds
nothing; after a crash (even ``kill -9``) rerunning it finishes what was left. ``--workers N``
runs N local worker processes (Dask ``LocalCluster``); ``--scheduler tcp://HOST:8786`` sends the
files to a Dask cluster whose workers were started on other machines with
``dask worker tcp://HOST:8786`` (they must reach the same database and storage folder).

The letters are routed and registered with one day of receipt (``--received-on``, default today in
China) and form (``--form``, default ``letter``), which the batch keeps: the proposals' deadlines
run from the day the letters are registered with, also when the batch is resumed.

``xinfang batches resume BATCH...`` triages the files of recorded batches still waiting: what the
workbench runs in the background for an uploaded batch, and what finishes a batch a crash left.

``xinfang export BATCH`` writes the batch's letters and proposals as CSV, JSONL or XLSX with the
petitioners' particulars masked; ``--unmasked --as-user NAME`` lifts the mask for a user whose
role may export personal data. Every export is recorded in the audit log.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cli.commands.progress import Progress
from cli.commands.route import day_option
from service.dates import FORMS
from service.exports import EXPORT_FORMATS
from service.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from intake.batch import BatchSummary

F = TypeVar("F", bound=Callable[..., Any])


def _resolve_url(database_url: str | None) -> str:
    return database_url or get_settings().database_url


@contextmanager
def _factory(database_url: str | None) -> Iterator[sessionmaker[Session]]:
    from sqlalchemy.exc import OperationalError

    from cli.commands.admin import _cannot_open
    from store.db import check_schema, make_engine, make_session_factory
    from store.errors import StoreError

    url = _resolve_url(database_url)
    try:
        check_schema(url)
        engine = make_engine(url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    except OperationalError as exc:
        raise click.ClickException(_cannot_open(url, exc)) from exc
    try:
        yield make_session_factory(engine)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    except OperationalError as exc:
        raise click.ClickException(_cannot_open(url, exc)) from exc
    finally:
        engine.dispose()


def _router_loader(model: Path | None) -> Any:
    """The installation's router for the workers (``service.routers.load_router`` once per process),
    with the ``--model`` folder if given, else the model in service now, resolved once for all."""
    from classifier.errors import ModelLoadError
    from service.routers import InstallationRouter, model_dir_of

    settings = get_settings()
    try:
        # Absolute paths: a worker on another machine may start in another folder.
        paths = {
            "rulebook_dir": settings.rulebook_dir.resolve(),
            "departments_file": settings.departments_file.resolve(),
        }
        loader = InstallationRouter(
            model_dir_of(settings, model).resolve(), settings.model_copy(update=paths)
        )
        loader()  # fail here, with a readable message, rather than in every worker
    except ModelLoadError as exc:
        raise click.ClickException(str(exc)) from exc
    return loader


def _storage_and_model_options(func: F) -> F:
    func = click.option(
        "--model",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="model folder to use instead of the one in service",
    )(func)
    return click.option(
        "--storage-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="where source files are kept by hash (default: XINFANG_STORAGE_DIR)",
    )(func)


def _stale_after_option(func: F) -> F:
    return click.option(
        "--stale-after",
        type=click.IntRange(min=0),
        default=3600,
        show_default=True,
        help="seconds after which a claim by a worker on another machine counts as abandoned",
    )(func)


def _storage(storage_dir: Path | None) -> Path:
    return Path(storage_dir or get_settings().storage_dir).resolve()


def _echo_summary(summary: BatchSummary, *, as_json: bool, indent: int | None) -> None:
    if as_json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=indent))
    else:
        click.echo(render_summary(summary))


def _reason(name: str, reason: str) -> str:
    # The readers start a reason with the file's name; the summary names the file already.
    for prefix in (f"{name}: ", f"{name}："):
        if reason.startswith(prefix):
            return reason[len(prefix) :]
    return reason


def render_summary(summary: BatchSummary) -> str:
    """The summary of a triage run as an officer reads it: each file named once, and for a file an
    earlier run triaged, the batch it is in."""
    batch = f"批次 {summary.batch_id}" if summary.batch_id is not None else "没有新文件，未建新批次"
    lines = [
        f"{batch}：共 {summary.files} 个文件，其中新文件 {summary.new_files} 个，"
        f"本次处理 {summary.processed} 个",
        f"登记来信 {summary.letters} 件（{summary.pages} 页），其中待人工核查 {summary.needs_review} 件",
    ]
    if summary.known:
        lines.append(f"已处理过、本次未再处理的文件 {len(summary.known)} 个：")
        lines.extend(
            f"  {k.name}（批次 {k.batch_id}，查看：xinfang batches show {k.batch_id}）"
            if k.batch_id is not None
            else f"  {k.name}"
            for k in summary.known
        )
    retried = {o.file_id for o in summary.outcomes if o.status == "failed"}
    if summary.failures:
        lines.append(f"处理失败的文件 {len(summary.failures)} 个：")
        for f in summary.failures:
            earlier = "" if f.file_id in retried else "（此前已失败，本次未重试；重试请加 --retry-failed）"
            lines.append(f"  {f.name}：{_reason(f.name, f.reason)}{earlier}")
    rate = f"，每小时 {summary.letters_per_hour:.0f} 件" if summary.letters else ""
    where = "本机" if summary.engine == "in-process" else "Dask 集群"
    lines.append(f"用时 {summary.elapsed_s:.1f} 秒，{summary.workers} 个进程（{where}）{rate}")
    return "\n".join(lines)


# --- xinfang triage -----------------------------------------------------------------------------


@click.command("triage")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="worker processes on this machine (more than 1 starts a local Dask cluster)",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    default=None,
    help="send the files to this Dask scheduler instead of local workers",
)
@click.option(
    "--database-url",
    metavar="URL",
    default=None,
    help="SQLAlchemy URL of the database (default: XINFANG_DATABASE_URL)",
)
@_storage_and_model_options
@click.option(
    "--received-on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    callback=day_option(tomorrow=False),
    help="day the letters arrived (YYYY-MM-DD), starts the statutory clocks; kept on the batch. "
    "Default: today in China for a new batch; files of an earlier batch keep its day",
)
@click.option(
    "--form",
    "form",
    type=click.Choice(FORMS),
    default=None,
    help="how the letters came in: letter (来信, the default), online, visit, call; kept on the batch",
)
@click.option("--retry-failed", is_flag=True, help="try files again that failed in an earlier run")
@_stale_after_option
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def triage(
    paths: Sequence[Path],
    workers: int,
    scheduler: str | None,
    database_url: str | None,
    storage_dir: Path | None,
    model: Path | None,
    received_on: dt.date | None,
    form: str | None,
    retry_failed: bool,
    stale_after: int,
    as_json: bool,
) -> None:
    """Triage the letters in PATHS (files, folders, zip archives) into the officers' queue."""
    from intake.batch import run_batch
    from intake.errors import IntakeError

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise click.ClickException(
            f"找不到文件或文件夹：{'、'.join(missing)}；本次什么也没有处理，请核对路径"
        )
    loader = _router_loader(model)
    storage = _storage(storage_dir)
    with _factory(database_url) as factory, Progress("分流", "个文件") as bar:
        try:
            summary = run_batch(
                list(paths),
                session_factory=factory,
                router_loader=loader,
                storage_dir=storage,
                workers=workers,
                scheduler_address=scheduler,
                received_on=received_on,
                form=form,
                retry_failed=retry_failed,
                stale_after=dt.timedelta(seconds=stale_after),
                progress=False,
                database_url=_resolve_url(database_url),
                on_file=lambda done, total: bar.update(done, total),
            )
        except IntakeError as exc:
            raise click.ClickException(str(exc)) from exc
    _echo_summary(summary, as_json=as_json, indent=2)


# --- xinfang batches ----------------------------------------------------------------------------


@click.group("batches")
def batches() -> None:
    """Look at triage batches."""


@batches.command("show")
@click.argument("batch_id", type=int)
@click.option("--database-url", metavar="URL", default=None, help="SQLAlchemy URL of the database")
@click.option("--json", "as_json", is_flag=True, help="print as JSON")
def batches_show(batch_id: int, database_url: str | None, as_json: bool) -> None:
    """Show a batch's totals and the state of each of its files."""
    from store.db import session_scope
    from store.files import batch_files, get_batch
    from store.models import FORM_NAMES

    with _factory(database_url) as factory, session_scope(factory) as session:
        batch = get_batch(session, batch_id)
        files = batch_files(session, batch_id)
        record = {
            "batch_id": batch.id,
            "created_by": batch.created_by,
            "created_at": batch.created_at.isoformat(),
            "received_on": batch.received_on.isoformat() if batch.received_on else None,
            "form": batch.form,
            "files": batch.file_count,
            "done": batch.done_count,
            "failed": batch.failed_count,
            "letters": batch.letter_count,
            "pending": sum(f.status in ("received", "processing") for f in files),
            "file_states": [
                {
                    "file_id": f.id,
                    "name": f.original_name,
                    "status": f.status,
                    "attempts": f.attempts,
                    "pages": f.pages,
                    "letters": len(f.letters),
                    "error": f.error,
                }
                for f in files
            ],
        }
    if as_json:
        click.echo(json.dumps(record, ensure_ascii=False, indent=2))
        return
    received = record["received_on"] or "读取当天"
    form_name = FORM_NAMES.get(str(record["form"]), str(record["form"]))
    click.echo(
        f"批次 {record['batch_id']}（{record['created_by']} 于 {record['created_at']} 创建，"
        f"收到日期 {received}，{form_name}）：共 {record['files']} 个文件，完成 {record['done']} 个，"
        f"失败 {record['failed']} 个，待处理 {record['pending']} 个；登记来信 {record['letters']} 件"
    )
    for f in record["file_states"]:  # type: ignore[attr-defined]
        status = _FILE_STATUS_NAMES.get(f["status"], f["status"])
        line = f"  {f['file_id']:>6}  {status:<4} 来信 {f['letters']:>3} 件  {f['name']}"
        if f["error"]:
            line += f"\n          {_reason(f['name'], f['error'])}"
        click.echo(line)


_FILE_STATUS_NAMES = {"received": "待处理", "processing": "处理中", "done": "完成", "failed": "失败"}


@batches.command("resume")
@click.argument("batch_ids", metavar="BATCH_ID...", nargs=-1, required=True, type=int)
@click.option("--database-url", metavar="URL", default=None, help="SQLAlchemy URL of the database")
@_storage_and_model_options
@_stale_after_option
@click.option("--json", "as_json", is_flag=True, help="print the summaries as JSON, one line per batch")
def batches_resume(
    batch_ids: Sequence[int],
    database_url: str | None,
    storage_dir: Path | None,
    model: Path | None,
    stale_after: int,
    as_json: bool,
) -> None:
    """Triage the files of the batches still waiting (a web upload's, or those a crash left).

    This is what the workbench runs in the background for an uploaded batch.
    """
    from intake.batch import triage_batch
    from intake.errors import IntakeError

    loader = _router_loader(model)
    storage = _storage(storage_dir)
    with _factory(database_url) as factory:
        for batch_id in batch_ids:
            try:
                summary = triage_batch(
                    batch_id,
                    session_factory=factory,
                    router_loader=loader,
                    storage_dir=storage,
                    stale_after=dt.timedelta(seconds=stale_after),
                )
            except IntakeError as exc:
                raise click.ClickException(str(exc)) from exc
            # one line per batch, so a caller can read the summaries as JSON lines
            _echo_summary(summary, as_json=as_json, indent=None)


# --- xinfang export -----------------------------------------------------------------------------


@click.command("export")
@click.argument("batch_id", type=int)
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="csv", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="file to write ('-' or omitted: stdout; xlsx needs a file)",
)
@click.option("--unmasked", is_flag=True, help="include names, addresses, phone and ID numbers unmasked")
@click.option(
    "--as-user",
    "as_user",
    metavar="USERNAME",
    default=None,
    help="the account exporting (required with --unmasked; its role must allow it)",
)
@click.option("--database-url", metavar="URL", default=None, help="SQLAlchemy URL of the database")
def export(
    batch_id: int,
    fmt: str,
    output: Path | None,
    unmasked: bool,
    as_user: str | None,
    database_url: str | None,
) -> None:
    """Export a batch's letters and route proposals (personal data masked unless --unmasked)."""
    from service import access
    from service.batches import batch_rows
    from service.exports import write_rows
    from store.audit import append_event
    from store.db import session_scope
    from store.users import get_user

    to_stdout = output is None or str(output) == "-"
    if fmt == "xlsx" and to_stdout:
        raise click.UsageError("--format xlsx 输出的是二进制工作簿，请用 --output 文件名.xlsx 指定文件")
    allowed = "、".join(access.ROLE_NAMES[r] for r in sorted(access.UNMASKED_EXPORT))
    if unmasked and not as_user:
        raise click.UsageError(
            f"--unmasked 须同时用 --as-user 用户名 指明导出人，其角色须可导出个人信息（{allowed}）"
        )
    with _factory(database_url) as factory, session_scope(factory) as session:
        actor = "cli"
        if as_user:
            user = get_user(session, as_user)
            if not user.active:
                raise click.ClickException(f"账户“{as_user}”已停用，不能导出")
            if unmasked and user.role not in access.UNMASKED_EXPORT:
                role = access.ROLE_NAMES.get(user.role, user.role)
                raise click.ClickException(
                    f"账户“{as_user}”的角色是{role}；只有{allowed}可以导出未脱敏的个人信息。"
                    "请去掉 --unmasked 导出脱敏数据"
                )
            actor = user.username
        rows = batch_rows(session, batch_id, unmasked=unmasked)
        buffer = io.BytesIO()
        write_rows(rows, fmt, buffer)
        # The audit event commits with this transaction, before the data leaves: an export that is
        # not in the audit log never happened.
        append_event(
            session,
            actor=actor,
            action="export",
            object=f"batch:{batch_id}",
            details={"format": fmt, "rows": len(rows), "masked": not unmasked, "via": "cli"},
        )
    if to_stdout:
        sys.stdout.buffer.write(buffer.getvalue())
        sys.stdout.flush()
    else:
        assert output is not None
        output.write_bytes(buffer.getvalue())
        masked = "未脱敏" if unmasked else "已脱敏"
        click.echo(f"已将 {len(rows)} 行写入 {output}（个人信息{masked}）", err=True)


__all__ = ["batches", "export", "triage"]
