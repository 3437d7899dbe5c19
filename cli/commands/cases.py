"""``xinfang cases refill-figures``: recompute the office's figures kept on each ``cases`` row.

Each step writes its case's figures (``casework.figures``) in its own transaction, and migration
0009 filled them for the steps stored before it, so a database kept by the workbench needs nothing
here. The command recomputes them from the stored steps and reports how many rows held other
figures: run it after restoring ``case_events`` by hand, or after an upgrade whose notes ask for it.
It commits a range of letters at a time, so it can run while the workbench serves.
"""

from __future__ import annotations

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
    """Recompute every case's figures from its steps and say how many differed."""
    from sqlalchemy import func, select

    from casework.figures import id_range, refill
    from cli.commands.progress import Progress
    from store.models import CaseRecord

    with _session(database_url) as session:
        first, last = id_range(session)
        progress = Progress("核对", "个编号", max(0, last - first + 1))
        corrected = 0
        for start in range(first, last + 1, batch_size):
            corrected += refill(session, start, min(start + batch_size - 1, last))
            session.commit()  # a range at a time: steps taken meanwhile wait for no more than one
            progress.update(min(start + batch_size, last + 1) - first)
        progress.close()
        total = session.scalar(select(func.count()).select_from(CaseRecord))
    click.echo(f"已核对 {total} 件案件的统计数据：{corrected} 件与办理记录不符，已按办理记录更正")
