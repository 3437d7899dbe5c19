"""``xinfang cases refill-figures``: recompute what the statistics read kept on each ``cases`` row
and each letter.

Each step writes its case's figures (``casework.figures``) in its own transaction, and each proposal
or decision the route its letter keeps (``store.routes``); migrations 0009 and 0012 filled them for
the rows stored before, so a database kept by the workbench needs nothing here. The command
recomputes them from the stored steps, proposals and decisions and reports how many rows held other
values: run it after restoring ``case_events``, ``proposals`` or ``decisions`` by hand, or after an
upgrade whose notes ask for it. It commits a range of letters at a time, so it can run while the
workbench serves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from cli.commands.admin import _database_url_option, _session


@click.group("cases")
def cases() -> None:
    """Cases after their route: the figures the statistics read."""


@cases.command("refill-figures")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1, max=1_000_000),
    default=50_000,
    show_default=True,
    help="letter ids per transaction",
)
@_database_url_option
def cases_refill_figures(batch_size: int, database_url: str | None) -> None:
    """Recompute every case's figures from its steps, and every letter's route from its newest
    proposal and decision, and say how many differed."""
    from sqlalchemy import func, select

    from casework import figures
    from store import routes
    from store.models import CaseRecord, Letter

    with _session(database_url) as session:
        corrected = _in_ranges(session, "核对案件", figures.id_range(session), figures.refill, batch_size)
        total = session.scalar(select(func.count()).select_from(CaseRecord))
        rerouted = _in_ranges(session, "核对来信", routes.id_range(session), routes.refill, batch_size)
        letters = session.scalar(select(func.count()).select_from(Letter))
    click.echo(f"已核对 {total} 件案件的统计数据：{corrected} 件与办理记录不符，已按办理记录更正")
    click.echo(f"已核对 {letters} 件来信的分流数据：{rerouted} 件与最新办理建议、确认结果不符，已按其更正")


def _in_ranges(
    session: Any, what: str, ids: tuple[int, int], refill: Callable[[Any, int, int], int], batch_size: int
) -> int:
    """``refill`` over the id range ``ids``, a batch at a time; how many rows it corrected."""
    from cli.commands.progress import Progress

    first, last = ids
    progress = Progress(what, "个编号", max(0, last - first + 1))
    corrected = 0
    for start in range(first, last + 1, batch_size):
        corrected += refill(session, start, min(start + batch_size - 1, last))
        session.commit()  # a range at a time: writers meanwhile wait for no more than one
        progress.update(min(start + batch_size, last + 1) - first)
    progress.close()
    return corrected
