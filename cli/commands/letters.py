"""``xinfang letters reindex``: index the petitioners and matters of letters already stored.

Every letter registered, split or merged since migration 0008 is indexed in its own transaction;
letters registered before it have no index rows, so the workbench finds no earlier letters for
them or among them until this command has run once. It commits after each batch of letters, so
it can run while the workbench serves, and a run cut short is finished by running it again.
"""

from __future__ import annotations

import click

from cli.commands.admin import _database_url_option, _session


@click.group("letters")
def letters() -> None:
    """Stored letters: the index of petitioners and matters behind 在先来信."""


@letters.command("reindex")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1, max=10_000),
    default=500,
    show_default=True,
    help="letters indexed per transaction",
)
@_database_url_option
def letters_reindex(batch_size: int, database_url: str | None) -> None:
    """Rebuild every letter's petitioner keys and matter bands (after upgrading to migration 0008)."""
    from cli.commands.progress import Progress
    from store.repeats import index_counts, refresh_statistics, reindex_batch

    with _session(database_url) as session:
        total = index_counts(session)["letters"]
        progress = Progress("索引", "封", total)
        done, last = 0, 0
        while True:
            count, last = reindex_batch(session, after_id=last, limit=batch_size)
            if not count:
                break
            session.commit()  # a batch at a time: the workbench keeps registering meanwhile
            session.expunge_all()
            done += count
            progress.update(done)
        progress.close()
        refresh_statistics(session)
        counts = index_counts(session)
    click.echo(
        f"已索引 {done} 封来信：{counts['with_bands']} 封有内容特征，{counts['with_keys']} 封有信访人身份信息"
        f"（共 {counts['letters']} 封）"
    )
