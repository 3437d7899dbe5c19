"""``xinfang demo load-shared``: register the letters of ``../shared/data/messages.csv`` as demo data.

What is loaded, and what is not (nothing is made up):

- each message with a ``time`` becomes a letter received that day (the board's time is Beijing
  time), form 网上信访 (they were posted to an online message board), with its title and text;
- a message **without** a ``time`` (most of the file) is skipped by default: the day of receipt
  is what every statutory clock and every statistic counts from, and no day can be derived for
  it. ``--undated-on DAY`` registers them on that day instead, for a demo that wants them all;
- each letter gets the proposal of the installation's router (the shipped model, as
  ``xinfang route`` and the workbench use it), routed in batches with ``Router.propose_many``;
- with ``--decide``, the proposal is also recorded as the decision, by the account ``demo``
  (an intake officer's, created without a usable password, so nobody can sign in as it), with the
  comment that it is demo data and not an officer's review; a confidential letter stays pending,
  as only supervisors and discipline inspectors decide those; no case steps (转送, 受理 …) are
  recorded, because the data holds no handling history to derive them from;
- letters are registered as the batch path registers them: ``store.letters.create_letter`` and
  ``add_proposal``, committed every ``--batch`` letters. The audit log holds each registration
  and each decision under the ``demo`` account's name; each decision carries the comment that it
  is demo data.

A database that already holds the ``demo`` account's letters is refused: loading twice would
register every letter twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import secrets
import time
from pathlib import Path

import click

from cli.commands.admin import _database_url_option, _session

DEMO_ACCOUNT = "demo"
DEMO_COMMENT = "演示数据：按机器办理建议原样确认，未经人工审核"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@click.group("demo")
def demo() -> None:
    """Demo data for trying the workbench and the statistics."""


def _day(value: str) -> dt.date | None:
    """The day of a board time such as ``2019/12/30 17:06:14`` (None when empty)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return dt.datetime.strptime(value.split()[0], "%Y/%m/%d").date()
    except ValueError:
        return None


def _undated_day(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"“{value}”不是日期；请写作 2020-01-31", ctx=ctx, param=param) from None


@demo.command("load-shared")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="folder holding messages.csv",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="load at most this many letters")
@click.option(
    "--undated-on",
    metavar="DAY",
    callback=_undated_day,
    default=None,
    help="register the messages without a time as received on DAY (default: skip them)",
)
@click.option(
    "--decide/--no-decide", default=False, show_default=True, help="record each proposal as decided"
)
@click.option("--batch", type=click.IntRange(min=1, max=5000), default=256, show_default=True)
@_database_url_option
def load_shared(
    data_dir: Path,
    limit: int | None,
    undated_on: dt.date | None,
    decide: bool,
    batch: int,
    database_url: str | None,
) -> None:
    """Register the shared messages.csv letters with their days and proposals (demo data)."""
    from sqlalchemy import func, select

    from routing.schemas import Letter as RoutingLetter
    from service.routers import load_router
    from service.settings import get_settings
    from store.confidentiality import is_confidential
    from store.letters import add_proposal, create_letter
    from store.letters import decide as record_decision
    from store.models import Letter, User
    from store.users import create_user

    path = data_dir / "messages.csv"
    if not path.exists():
        raise click.ClickException(f"找不到 {path}；请用 --data-dir 指向存放 messages.csv 的文件夹")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    letters: list[tuple[str, str, dt.date]] = []
    undated = 0
    for row in rows:
        day = _day(row.get("time", ""))
        if day is None:
            undated += 1
            if undated_on is None:
                continue
            day = undated_on
        letters.append((row.get("title", "").strip(), row.get("text", "").strip(), day))
    if limit is not None:
        letters = letters[:limit]
    if not letters:
        raise click.ClickException(
            f"{path} 中没有可载入的来信（{undated} 件没有日期；可用 --undated-on 指定日期）"
        )

    started = time.perf_counter()
    router = load_router(get_settings())
    with _session(database_url) as session:
        existing = session.scalar(
            select(func.count()).select_from(Letter).where(Letter.created_by == DEMO_ACCOUNT)
        )
        if existing:
            raise click.ClickException(f"数据库中已有 {existing} 件演示来信；再次载入会重复登记")
        if session.scalar(select(User.id).where(User.username == DEMO_ACCOUNT)) is None:
            # a password nobody is told: the account records who registered the demo data, and
            # nobody signs in as it
            create_user(
                session,
                username=DEMO_ACCOUNT,
                password=secrets.token_urlsafe(32),
                role="intake_officer",
                display_name="演示数据",
            )
        session.commit()
        loaded_at = time.perf_counter()
        for start in range(0, len(letters), batch):
            chunk = letters[start : start + batch]
            proposals = router.propose_many(
                [RoutingLetter(title=t, text=x, received_on=d, form="online") for t, x, d in chunk]
            )
            for (title, text, day), proposal in zip(chunk, proposals, strict=True):
                letter = create_letter(
                    session,
                    title=title,
                    text=text,
                    created_by=DEMO_ACCOUNT,
                    form="online",
                    received_on=day,
                    source="batch",
                )
                stored = add_proposal(
                    session, letter.id, proposal.model_copy(update={"letter_id": letter.case_number})
                )
                # a confidential letter (检举控告) is decided by a supervisor or inspector only
                # (service.access): the demo account, an intake officer's, leaves it pending
                if decide and proposal.routed and not is_confidential(stored, None):
                    session.refresh(letter, ["version"])
                    record_decision(
                        session,
                        letter.id,
                        expected_version=letter.version,
                        decided_by=DEMO_ACCOUNT,
                        category=stored.category,
                        domain=stored.domain,
                        department=stored.department,
                        channel=stored.channel,
                        disposition=stored.disposition,
                        comment=DEMO_COMMENT,
                    )
            session.commit()
            click.echo(f"{min(start + batch, len(letters))}/{len(letters)}", err=True)
    seconds = time.perf_counter() - started
    skipped = f"，跳过无日期来信 {undated} 件" if undated_on is None and undated else ""
    click.echo(
        f"已载入演示来信 {len(letters)} 件{skipped}；"
        f"用时 {seconds:.0f} 秒（其中模型加载 {loaded_at - started:.0f} 秒）"
    )
