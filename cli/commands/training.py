"""``xinfang train``, ``xinfang evaluate`` and ``xinfang models list|show|promote|rollback``.

Thin shells over :mod:`training`: they parse options, call one function and turn a
``TrainingError``, ``ModelLoadError`` or ``StoreError`` into a ``ClickException`` (exit 1, one
paragraph, no traceback). Paths default to the settings (``XINFANG_MODELS_DIR``,
``XINFANG_SHARED_DATA_DIR``, ``XINFANG_DATABASE_URL``, ``XINFANG_RULEBOOK_DIR``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the errors a user can fix into one readable paragraph."""
    from classifier.errors import ClassifierError
    from store.errors import StoreError
    from training.errors import TrainingError

    try:
        yield
    except (TrainingError, ClassifierError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc


def _settings() -> Any:
    from service.settings import get_settings

    return get_settings()


def _database_option(func: F) -> F:
    return click.option(
        "--database-url",
        metavar="URL",
        default=None,
        help="database with the officers' decisions and the audit log (default: XINFANG_DATABASE_URL)",
    )(func)


def _sqlite_file_missing(url: str) -> bool:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return (
        parsed.get_backend_name() == "sqlite"
        and bool(parsed.database)
        and not Path(str(parsed.database)).exists()
    )


@contextmanager
def _session(database_url: str | None) -> Iterator[Any]:
    from sqlalchemy.exc import SQLAlchemyError

    from store.db import check_schema, make_engine, make_session_factory, session_scope

    url = database_url or _settings().database_url
    with _user_errors():
        check_schema(url)
        engine = make_engine(url)
    try:
        with _user_errors(), session_scope(make_session_factory(engine)) as session:
            yield session
    except SQLAlchemyError as exc:
        raise click.ClickException(f"the database refused the audit record: {exc}") from exc
    finally:
        engine.dispose()


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


# -- xinfang train ----------------------------------------------------------------------------


@click.command("train")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="training config (default training/configs/default.toml)",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="override one config key, e.g. --set heads.domain.C=1.0 (repeatable)",
)
@click.option("--data-dir", type=_DIR, help="the shared data folder (default: XINFANG_SHARED_DATA_DIR)")
@_database_option
@click.option(
    "--no-database", is_flag=True, help="train on the shared data only, without officers' decisions"
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="the new model folder (default models/<version>)",
)
@click.option("--version", "version", help="the model's version (default: a UTC timestamp)")
@click.option("--no-report", is_flag=True, help="skip the evaluation report at the end")
def train_command(
    config_path: Path | None,
    overrides: tuple[str, ...],
    data_dir: Path | None,
    database_url: str | None,
    no_database: bool,
    output: Path | None,
    version: str | None,
    no_report: bool,
) -> None:
    """Train every head from the shared data and the officers' decisions; write a model folder.

    The model in service does not change: promote the new one with `xinfang models promote`.
    """
    from cli.commands.progress import Progress
    from training.evaluate import format_summary
    from training.train import train

    settings = _settings()
    url = None if no_database else (database_url or settings.database_url)
    if url and database_url is None and _sqlite_file_missing(url):
        click.echo(f"no database at {url}: training on the shared data only", err=True)
        url = None
    with _user_errors(), Progress("训练", "步") as bar:
        result = train(
            output,
            data_dir=data_dir or settings.shared_data_dir,
            config_path=config_path,
            overrides=overrides,
            version=version,
            database_url=url,
            models_dir=settings.models_dir,
            rulebook_dir=settings.rulebook_dir,
            cache_dir=settings.models_dir.parent / "var" / "cache",
            report=not no_report,
            progress=bar.note,
            steps=lambda done, total, what: bar.update(done, total, what=f"训练（{what}）"),
        )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.evaluation is not None:
        click.echo(format_summary(result.evaluation))
    else:
        from training.metrics import format_table

        for head, m in result.metrics.items():
            click.echo(format_table(head, m))
    timings = ", ".join(f"{k.removesuffix('_s')} {v:.1f}s" for k, v in result.timings.items())
    click.echo(f"wrote {result.model_dir} in {result.seconds:.1f}s ({timings})")
    click.echo(f"promote it with: xinfang models promote {result.model.version}")


# -- xinfang evaluate -------------------------------------------------------------------------


@click.command("evaluate")
@click.option("--model", "model_dir", type=_DIR, help="model folder (default: the model in service)")
@click.option("--data-dir", type=_DIR, help="the shared data folder (default: XINFANG_SHARED_DATA_DIR)")
@_database_option
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="where to write evaluation.json and report.html (default: the model folder)",
)
@click.option("--json", "as_json", is_flag=True, help="print the whole evaluation as JSON")
def evaluate_command(
    model_dir: Path | None,
    data_dir: Path | None,
    database_url: str | None,
    output: Path | None,
    as_json: bool,
) -> None:
    """Evaluate a model on its own held-out letters through the router; write the HTML report."""
    from cli.commands.progress import Progress
    from training.evaluate import evaluate_model, format_summary
    from training.registry import resolve_model_dir

    settings = _settings()
    with _user_errors(), Progress("评估", "封") as bar:
        folder = model_dir or resolve_model_dir(settings.models_dir, settings.model_version)
        evaluation = evaluate_model(
            folder,
            data_dir=data_dir or settings.shared_data_dir,
            database_url=database_url or settings.database_url,
            models_dir=settings.models_dir,
            rulebook_dir=settings.rulebook_dir,
            output_dir=output,
            progress=lambda done, total, what: bar.update(done, total, what=f"评估（{what}）"),
        )
    if as_json:
        _echo_json(evaluation.summary)
    else:
        click.echo(format_summary(evaluation.summary))
    click.echo(f"wrote {evaluation.json_path} and {evaluation.html_path}", err=as_json)


# -- xinfang models ---------------------------------------------------------------------------


@click.group("models")
def models() -> None:
    """List, inspect, promote and roll back model versions."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def models_list(as_json: bool) -> None:
    """Every model folder with its held-out metrics; * marks the one in service."""
    from training.registry import list_models

    with _user_errors():
        items = list_models(_settings().models_dir)
    if as_json:
        _echo_json([m.as_dict() for m in items])
        return
    if not items:
        click.echo("no models yet; train one with `xinfang train`")
        return
    click.echo(
        f"  {'version':<22}{'trained':<27}{'features':<18}"
        f"{'cat F1':>8}{'dept F1':>8}{'chan F1':>8}{'review':>8}"
    )
    for m in items:
        f1 = {h: m.metrics.get(h, {}).get("macro_f1") for h in ("category", "department", "final_channel")}
        cells = "".join(f"{v:>8.3f}" if v is not None else f"{'–':>8}" for v in f1.values())
        review = f"{m.review_share:>8.1%}" if m.review_share is not None else f"{'–':>8}"
        mark = "*" if m.in_service else " "
        click.echo(f"{mark} {m.version:<22}{m.trained_at or '–':<27}{m.features or '–':<18}{cells}{review}")
        if m.problem:
            click.echo(f"    unusable: {m.problem}")


@models.command("show")
@click.argument("version")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def models_show(version: str, as_json: bool) -> None:
    """One model: its metrics, data, config and registry history."""
    from training.registry import show_model

    with _user_errors():
        detail = show_model(_settings().models_dir, version)
    if as_json:
        _echo_json(detail)
        return
    s, meta = detail["summary"], detail["meta"]
    click.echo(f"model {s['version']}{' (in service)' if s['in_service'] else ''}  {s['path']}")
    click.echo(
        f"trained {s['trained_at']}, features {s['features']}, data hash {str(meta.get('data_hash'))[:12]}"
    )
    click.echo("rows: " + ", ".join(f"{k} {v}" for k, v in s["rows"].items()))
    if meta.get("decisions"):
        d = meta["decisions"]
        click.echo(
            f"officers' decisions: {d.get('decisions')} ({d.get('added_letters')} new letters, "
            f"{d.get('replaced_shared_labels')} relabelled, {d.get('corrections')} corrections)"
        )
    for head, m in s["metrics"].items():
        click.echo(f"  {head:<18} accuracy {m['accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f}")
    for w in meta.get("warnings", []):
        click.echo(f"warning: {w}")
    for h in detail["history"]:
        click.echo(
            f"{h['at']} {h['action']} {h['version']} (was {h['previous']}) by {h['actor']}: "
            f"{h.get('reason') or ''}"
        )
    if detail["report"]:
        click.echo(f"report: {detail['report']}")
    if s["problem"]:
        click.echo(f"unusable: {s['problem']}")


@models.command("promote")
@click.argument("version")
@click.option("--force", is_flag=True, help="promote even if it measured worse than the model in service")
@click.option("--reason", help="why (required with --force; recorded in the audit log)")
@click.option("--actor", default="analyst-cli", show_default=True, help="who decides, for the audit log")
@click.option(
    "--tolerance", type=float, default=None, help="macro-F1 a head may lose and still pass (default 0.005)"
)
@click.option("--data-dir", type=_DIR, help="the shared data folder (default: XINFANG_SHARED_DATA_DIR)")
@_database_option
def models_promote(
    version: str,
    force: bool,
    reason: str | None,
    actor: str,
    tolerance: float | None,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Put VERSION in service, unless it is worse than the model in service on the same letters."""
    from training.registry import DEFAULT_TOLERANCE, promote

    settings = _settings()
    with _session(database_url) as session, _user_errors():
        result = promote(
            session,
            settings.models_dir,
            version,
            actor=actor,
            force=force,
            reason=reason,
            data_dir=data_dir or settings.shared_data_dir,
            database_url=database_url or settings.database_url,
            rulebook_dir=settings.rulebook_dir,
            tolerance=DEFAULT_TOLERANCE if tolerance is None else tolerance,
        )
    comparison = result.comparison or {}
    for head, c in comparison.get("heads", {}).items():
        click.echo(
            f"  {head:<16} macro-F1 {c['candidate']['macro_f1']:.3f} vs {c['incumbent']['macro_f1']:.3f} "
            f"({c['delta_macro_f1']:+.3f})"
        )
    if comparison.get("how"):
        click.echo(f"  compared on {comparison['letters']} letters: {comparison['how']}")
    if not result.promoted:
        # The refusal is committed to the audit log above; the command still fails.
        raise click.ClickException(result.message)
    click.echo(result.message)


@models.command("rollback")
@click.option("--reason", help="why, for the audit log")
@click.option("--actor", default="analyst-cli", show_default=True, help="who decides, for the audit log")
@_database_option
def models_rollback(reason: str | None, actor: str, database_url: str | None) -> None:
    """Put the model that served before the current one back in service."""
    from training.registry import rollback

    with _session(database_url) as session, _user_errors():
        result = rollback(session, _settings().models_dir, actor=actor, reason=reason)
    click.echo(result.message)


__all__ = ["evaluate_command", "models", "train_command"]
