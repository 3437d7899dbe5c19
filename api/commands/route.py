"""``xinfang route``: propose a route for one letter, or for a JSONL stream of letters."""

from __future__ import annotations

import datetime as dt
import gc
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click

from api.settings import get_settings
from routing.router import Router
from routing.schemas import Letter, RouteProposal

BATCH_SIZE = 256


def load_router(model: Path | None) -> Router:
    """The router for the CLI: ``--model`` if given, else the model in service."""
    from classifier.errors import ModelLoadError
    from training.registry import resolve_model_dir

    settings = get_settings()
    try:
        model_dir = model or resolve_model_dir(settings.models_dir, settings.model_version)
        return Router.load(model_dir, rulebook_dir=settings.rulebook_dir, max_chars=settings.max_letter_chars)
    except ModelLoadError as exc:
        raise click.ClickException(str(exc)) from exc


def read_letter_file(path: Path) -> str:
    from intake.errors import IntakeError
    from intake.readers import decode_text

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from exc
    if not data.strip():
        raise click.ClickException(f"{path} is empty; there is no letter to route")
    try:
        return decode_text(data, path.name)[0]
    except IntakeError as exc:
        raise click.ClickException(str(exc)) from exc


def render(proposal: RouteProposal) -> str:
    """The proposal as an officer reads it in a terminal."""
    lines = [
        f"类别    {proposal.category.name} ({proposal.category.p:.2f})",
        f"领域    {proposal.domain.name} ({proposal.domain.p:.2f})",
        "责任部门 " + "；".join(f"{d.name} {d.p:.2f}" for d in proposal.department.top),
        f"途径    {proposal.channel_name}（依据：{_source(proposal)}）",
        f"处理    {proposal.disposition_name} → {proposal.target_body}",
    ]
    if proposal.confidential:
        lines.append("保密    检举控告材料，不得透露或转给被检举人、被检举单位（第三十条第三款）")
    for d in proposal.deadlines:
        due = f"，截止 {d.due.isoformat()}" if d.due else ""
        lines.append(f"期限    {d.label}：{d.starts}{d.days}{_unit(d.unit)}{due}（{d.basis}）")
    for h in proposal.rule_hits:
        lines.append(
            f"规则    {h.rule_id} {h.title}：「{h.matched}」 {h.legal_basis.article}：{h.legal_basis.quote}"
        )
    for head, feats in proposal.evidence.items():
        if feats:
            lines.append(f"关键词  {head}: " + "、".join(f.feature for f in feats))
    if proposal.needs_review:
        lines.append("需复核  " + "；".join(r.message for r in proposal.review_reasons))
    lines.append(f"版本    模型 {proposal.model_version}，规则 {proposal.rulebook_version}")
    return "\n".join(lines)


def _source(p: RouteProposal) -> str:
    if p.channel_source == "rule" and p.rule_hits:
        return "规则"
    return {"model": "模型", "category": "类别"}.get(p.channel_source, p.channel_source)


def _unit(unit: str) -> str:
    return {"calendar_days": "日", "working_days": "个工作日", "months": "个月"}[unit]


def _records(stream: IO[str]) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, f"line {number} is not JSON: {exc.msg}"
            continue
        if not isinstance(record, dict):
            yield number, None, f"line {number} is not a JSON object"
            continue
        yield number, record, None


def _letter(record: dict[str, Any]) -> Letter:
    return Letter(
        id=str(record.get("id")) if record.get("id") is not None else None,
        title=record.get("title") or "",
        text=record.get("text") or "",
        received_on=record.get("received_on"),
    )


def route_jsonl(router: Router, source: IO[str], out: IO[str], *, progress: bool) -> dict[str, int]:
    """Stream letters from ``source`` to proposals in ``out``; bad lines become error records."""
    from pydantic import ValidationError
    from tqdm import tqdm

    counts = {"letters": 0, "errors": 0, "needs_review": 0}
    batch: list[Letter] = []

    def flush() -> None:
        for proposal in router.propose_many(batch):
            out.write(json.dumps(proposal.summary(), ensure_ascii=False) + "\n")
            counts["letters"] += 1
            counts["needs_review"] += proposal.needs_review
        batch.clear()

    bar = tqdm(unit=" letters", disable=not progress, file=sys.stderr)
    for number, record, error in _records(source):
        letter = None
        if record is not None:
            try:
                letter = _letter(record)
            except ValidationError as exc:
                error = f"line {number}: " + "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                )
        if letter is None:
            flush()  # keep output in input order
            rid = record.get("id") if record else None
            out.write(json.dumps({"id": rid, "line": number, "error": error}, ensure_ascii=False) + "\n")
            counts["errors"] += 1
        else:
            batch.append(letter)
            if len(batch) >= BATCH_SIZE:
                flush()
        bar.update(1)
    flush()
    bar.close()
    return counts


@click.command()
@click.argument("text", required=False)
@click.option("--title", default="", help="the letter's title")
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="read the letter from a text file (UTF-8, GB18030/GBK, UTF-16 with BOM)",
)
@click.option(
    "--jsonl",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
    help="route every line {id, title, text} of this file ('-' for stdin)",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="with --jsonl: where to write one proposal per line ('-' or omitted: stdout)",
)
@click.option(
    "--received-on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="day of receipt (YYYY-MM-DD), starts the statutory clocks; default today",
)
@click.option("--json", "as_json", is_flag=True, help="print the full proposal as JSON")
@click.option(
    "--model",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="model folder to use instead of the one in service",
)
def route(
    text: str | None,
    title: str,
    file: Path | None,
    jsonl: Path | None,
    out: Path | None,
    received_on: dt.datetime | None,
    as_json: bool,
    model: Path | None,
) -> None:
    """Propose a route for a letter given as TEXT, --file or --jsonl."""
    given = [x for x in (text, file, jsonl) if x is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of TEXT, --file or --jsonl")
    router = load_router(model)
    if jsonl is not None:
        # The router's objects live as long as the process: freezing them keeps the garbage
        # collector from re-scanning them on every batch (about a sixth of batch CPU time).
        gc.freeze()
        source = sys.stdin if str(jsonl) == "-" else jsonl.open(encoding="utf-8", errors="replace")
        sink = sys.stdout if out is None or str(out) == "-" else out.open("w", encoding="utf-8")
        try:
            counts = route_jsonl(router, source, sink, progress=sys.stderr.isatty())
        finally:
            if sink is not sys.stdout:
                sink.close()
        click.echo(
            f"routed {counts['letters']} letters ({counts['needs_review']} need review), "
            f"{counts['errors']} bad lines",
            err=True,
        )
        return
    body = read_letter_file(file) if file is not None else str(text)
    day = received_on.date() if received_on else dt.date.today()
    proposal = router.propose(Letter(title=title, text=body, received_on=day))
    click.echo(proposal.model_dump_json(indent=2) if as_json else render(proposal))


__all__ = ["route", "route_jsonl", "render"]
