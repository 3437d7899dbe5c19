"""``xinfang route``: propose a route for one letter, or for a JSONL stream of letters.

Every path builds the same :class:`routing.schemas.Letter` the workbench builds: the text with its
day of receipt, day of acceptance, form and number of visitors, so a JSONL line is routed by the
same rules (a visit of more than five people, the deadlines' dates) as a letter typed in. The
day and form are checked by ``service.dates``, as ``xinfang triage`` and the batch upload check
theirs, and the router is the installation's (``service.routers.load_router``).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

import click

from cli.commands.progress import Progress
from routing.schemas import Letter, RouteProposal
from service.dates import FORMS, check_day, check_form, latest_day, parse_day
from service.schemas import Form as LetterForm
from service.settings import get_settings

if TYPE_CHECKING:
    # The router pulls in scikit-learn and skops (seconds); xinfang triage imports this module for
    # its options, and only routing needs the router.
    from routing.router import Router

BATCH_SIZE = 256


def letter_fields(record: dict[str, Any], *, latest: dt.date) -> tuple[dict[str, Any], list[str]]:
    """The ``form``, ``visitors``, ``received_on`` and ``accepted_on`` of a JSONL record, checked.

    Returns:
        The fields for :class:`routing.schemas.Letter`, and one message per bad field (each names
        its field; the record is routed only when there are none).
    """
    fields: dict[str, Any] = {}
    errors: list[str] = []
    form = record.get("form")
    if form is not None:
        try:
            fields["form"] = check_form(form)
        except ValueError as exc:
            errors.append(str(exc))
    visitors = record.get("visitors")
    if visitors is not None:
        if isinstance(visitors, bool) or not isinstance(visitors, int) or visitors < 1:
            errors.append(
                f"visitors {visitors!r} is not a number of people; give a whole number of at least 1"
            )
        elif (form or "letter") != "visit":
            errors.append(f"visitors is only for form 'visit' (got form {form or 'letter'!r}); leave it out")
        else:
            fields["visitors"] = visitors
    for name in ("received_on", "accepted_on"):
        try:
            fields[name] = parse_day(name, record.get(name), latest=latest)
        except ValueError as exc:
            errors.append(str(exc))
    received, accepted = fields.get("received_on"), fields.get("accepted_on")
    if received is not None and accepted is not None and accepted < received:
        errors.append(
            f"accepted_on {accepted.isoformat()} is before received_on {received.isoformat()}; "
            "a letter is accepted on or after the day it arrives"
        )
    return fields, errors


def cli_router(model: Path | None) -> Router:
    """The installation's router (``service.routers.load_router``) with the ``--model`` folder if
    given, else the model in service; a model that does not load is a user's error."""
    from classifier.errors import ModelLoadError
    from service.routers import load_router

    try:
        return load_router(get_settings(), model)
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
    if not proposal.routed:
        return "\n".join(
            ["不提出分流建议（信件内容无法识别），请人工核对原件后登记"]
            + [f"原因    {r.message}" for r in proposal.review_reasons]
        )
    lines = [
        f"类别    {proposal.category.name} ({proposal.category.p:.2f})",
        f"领域    {proposal.domain.name} ({proposal.domain.p:.2f})",
        "责任部门 " + "；".join(f"{d.name} {d.p:.2f}" for d in proposal.department.top),
        f"途径    {proposal.channel_name}（依据：{_source(proposal)}）",
        f"处理    {proposal.disposition_name} → {proposal.target_body}",
    ]
    if proposal.confidential:
        lines.append("保密    检举控告材料，不得透露或转给被检举人、被检举单位（第三十条第三款）")
        if proposal.confidential_reason:
            lines.append(f"保密原因 {proposal.confidential_reason}")
    for f in proposal.facts:
        lines.append(f"事实    {f.name} ({f.p:.2f})：「{f.quote}」")
    for d in proposal.deadlines:
        due = f"，截止 {d.due.isoformat()}" if d.due else ""
        lines.append(f"期限    {d.label}：{d.starts}{d.days}{_unit(d.unit)}{due}（{d.basis}）")
    for h in proposal.rule_hits:
        lines.append(f"规则    {h.title}：「{h.matched}」 {h.legal_basis.article}：{h.legal_basis.quote}")
    from service.words import feature_text, telling

    for head, feats in proposal.evidence.items():
        words = [feature_text(f.feature) for f in feats if f.weight > 0 and telling(feature_text(f.feature))]
        if words:
            lines.append(f"关键词  {_HEAD_NAMES.get(head, head)}：" + "、".join(dict.fromkeys(words)))
    if proposal.needs_review:
        lines.append("待人工核查 " + "；".join(r.message for r in proposal.review_reasons))
    lines.append(f"版本    模型 {proposal.model_version}，规则 {proposal.rulebook_version}")
    return "\n".join(lines)


_HEAD_NAMES = {"category": "类别", "domain": "领域", "department": "承办部门", "channel": "处理途径"}


def _source(p: RouteProposal) -> str:
    if p.channel_source == "rule" and p.rule_hits:
        return "规则"
    return {"model": "模型", "category": "类别", "none": "无"}.get(p.channel_source, p.channel_source)


def _unit(unit: str) -> str:
    return {"calendar_days": "日", "working_days": "个工作日", "months": "个月"}[unit]


def day_option(*, tomorrow: bool) -> Callable[[click.Context, click.Parameter, Any], dt.date | None]:
    """A click callback turning a ``click.DateTime`` option into a date checked by :func:`check_day`
    (the latest day: tomorrow in China with ``tomorrow``, else today)."""

    def convert(ctx: click.Context, param: click.Parameter, value: dt.datetime | None) -> dt.date | None:
        if value is None:
            return None
        try:
            # click names the option: "Invalid value for '--received-on': 1989-12-31 早于 1990-01-01…"
            return check_day("", value.date(), latest=latest_day(tomorrow=tomorrow))
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None

    return convert


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


class _BadFields(ValueError):
    """A record whose letter fields were refused; the message lists each."""


def _letter(record: dict[str, Any], *, latest: dt.date) -> Letter:
    fields, errors = letter_fields(record, latest=latest)
    if errors:
        raise _BadFields("; ".join(errors))
    return Letter(
        id=str(record.get("id")) if record.get("id") is not None else None,
        title=record.get("title") or "",
        text=record.get("text") or "",
        **fields,
    )


def jsonl_record(proposal: RouteProposal) -> dict[str, object]:
    """One output line of ``xinfang route --jsonl``: the proposal's summary with its rule flags and
    deadlines (``due`` is null while a clock has not started: no received_on or accepted_on)."""
    return {
        **proposal.summary(),
        "flags": sorted({flag for hit in proposal.rule_hits for flag in hit.flags}),
        "deadlines": [
            {"code": d.code, "due": d.due.isoformat() if d.due else None} for d in proposal.deadlines
        ],
    }


def route_jsonl(
    router: Router, source: IO[str], out: IO[str], *, progress: Progress | None = None
) -> dict[str, int]:
    """Stream letters from ``source`` to proposals in ``out``; bad lines become error records.

    A line is ``{"id", "title", "text"}`` with optional ``form`` (letter, online, visit, call),
    ``visitors`` (a whole number ≥ 1, visits only), ``received_on`` and ``accepted_on``
    (``YYYY-MM-DD``, 1990-01-01 to tomorrow in China, acceptance not before receipt). A bad value makes
    the line an error record naming the field, and the stream goes on. ``progress`` counts the
    lines written.
    """
    from pydantic import ValidationError

    counts = {"letters": 0, "errors": 0, "needs_review": 0}
    batch: list[Letter] = []
    latest = latest_day(tomorrow=True)

    def written() -> None:
        if progress is not None:
            progress.update(counts["letters"] + counts["errors"])

    def flush() -> None:
        for proposal in router.propose_many(batch):
            out.write(json.dumps(jsonl_record(proposal), ensure_ascii=False) + "\n")
            counts["letters"] += 1
            counts["needs_review"] += proposal.needs_review
        batch.clear()
        written()

    for number, record, error in _records(source):
        letter = None
        if record is not None:
            try:
                letter = _letter(record, latest=latest)
            except _BadFields as exc:
                error = f"line {number}: {exc}"
            except ValidationError as exc:
                error = f"line {number}: " + "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                )
        if letter is None:
            flush()  # keep output in input order
            rid = record.get("id") if record else None
            out.write(json.dumps({"id": rid, "line": number, "error": error}, ensure_ascii=False) + "\n")
            counts["errors"] += 1
            written()
        else:
            batch.append(letter)
            if len(batch) >= BATCH_SIZE:
                flush()
    flush()
    return counts


def count_lines(path: Path) -> int | None:
    """The letters in a JSONL file (its non-empty lines), for the time left; ``None`` for stdin."""
    if str(path) == "-":
        return None
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _open_output(out: Path) -> TextIO:
    """The output file, its folder made if missing; an unwritable path is the user's mistake."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return out.open("w", encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"无法写入 {out}：{exc.strerror or exc}") from exc


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
    callback=day_option(tomorrow=True),
    help="day of receipt (YYYY-MM-DD), starts the statutory clocks; default today in China",
)
@click.option(
    "--accepted-on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    callback=day_option(tomorrow=True),
    help="day the matter was accepted (受理, YYYY-MM-DD), starts the 60-day handling clock",
)
@click.option(
    "--form",
    "form",
    type=click.Choice(FORMS),
    default="letter",
    show_default=True,
    help="how the matter came in: 来信 letter, 网上信访 online, 来访 visit, 来电 call",
)
@click.option(
    "--visitors",
    type=click.IntRange(min=1),
    default=None,
    help="with --form visit: how many people came (more than 5 is flagged, 第二十条第三款)",
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
    received_on: dt.date | None,
    accepted_on: dt.date | None,
    form: LetterForm,
    visitors: int | None,
    as_json: bool,
    model: Path | None,
) -> None:
    """Propose a route for a letter given as TEXT, --file or --jsonl."""
    given = [x for x in (text, file, jsonl) if x is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of TEXT, --file or --jsonl")
    single = received_on or accepted_on or visitors is not None or form != "letter"
    if jsonl is not None and single:
        raise click.UsageError(
            "--received-on, --accepted-on, --form and --visitors are for one letter; "
            "with --jsonl give them per line"
        )
    if visitors is not None and form != "visit":
        raise click.UsageError(f"--visitors is only for --form visit (got --form {form})")
    day = received_on or latest_day(tomorrow=False)
    if accepted_on is not None and accepted_on < day:
        raise click.UsageError(
            f"--accepted-on {accepted_on.isoformat()} is before the day of receipt {day.isoformat()}; "
            "a letter is accepted on or after the day it arrives"
        )
    router = cli_router(model)
    if jsonl is not None:
        # The router's objects live as long as the process: freezing them keeps the garbage
        # collector from re-scanning them on every batch (about a sixth of batch CPU time).
        gc.freeze()
        source = sys.stdin if str(jsonl) == "-" else jsonl.open(encoding="utf-8", errors="replace")
        sink = sys.stdout if out is None or str(out) == "-" else _open_output(out)
        try:
            with Progress("路由", "封", count_lines(jsonl)) as progress:
                counts = route_jsonl(router, source, sink, progress=progress)
        finally:
            if sink is not sys.stdout:
                sink.close()
        click.echo(
            f"已路由 {counts['letters']} 封（其中待人工核查 {counts['needs_review']} 封），"
            f"{counts['errors']} 行有误（见输出中的 error 记录）",
            err=True,
        )
        return
    body = read_letter_file(file) if file is not None else str(text)
    letter = Letter(
        title=title, text=body, received_on=day, accepted_on=accepted_on, form=form, visitors=visitors
    )
    proposal = router.propose(letter)
    click.echo(proposal.model_dump_json(indent=2) if as_json else render(proposal))


__all__ = [
    "cli_router",
    "day_option",
    "jsonl_record",
    "letter_fields",
    "render",
    "route",
    "route_jsonl",
]
