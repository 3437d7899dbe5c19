"""``xinfang audit verify``: check the audit log's hash chain and its keyed MACs.

The key is the installation's (``XINFANG_AUDIT_KEY`` or ``XINFANG_AUDIT_KEY_FILE``), handed to the
store by ``cli.main.main``. A checkpoint (the last event's seq and MAC, printed by every successful
run) noted somewhere the database's administrators cannot write can be given back later with
``--checkpoint``: it shows whether events were cut off the end of the log, which the MACs alone
cannot (see the README, "The audit log").
"""

from __future__ import annotations

import re

import click

from cli.commands.admin import _database_url_option, _session

_CHECKPOINT_RE = re.compile(r"(?P<seq>\d+):(?P<mac>[0-9a-f]{64})")


@click.group("audit")
def audit() -> None:
    """Check the audit log (hash chain and keyed MACs)."""


def _checkpoint(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    match = _CHECKPOINT_RE.fullmatch(value.strip().lower())
    if match is None:
        raise click.BadParameter(
            f"“{value}”不是检查点；应写作“序号:MAC”，即上次校验时打印的那一行，"
            "如 1234:9f86d0…（64 位十六进制）",
            ctx=ctx,
            param=param,
        )
    return int(match["seq"]), match["mac"]


@audit.command("verify")
@click.option(
    "--checkpoint",
    metavar="SEQ:MAC",
    callback=_checkpoint,
    help="a checkpoint printed by an earlier run: the log must still hold that event with that MAC",
)
@_database_url_option
def audit_verify(checkpoint: tuple[int, str] | None, database_url: str | None) -> None:
    """Check the audit log; exits 1 naming the first broken entry when it was tampered with."""
    from sqlalchemy import func, select

    from store.audit import head_checkpoint, mac_at, verify_chain
    from store.models import AuditEvent

    with _session(database_url) as session:
        problems = verify_chain(session)
        count = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
        last_seq, last_mac = head_checkpoint(session)
        if checkpoint is not None:
            seq, mac = checkpoint
            found = mac_at(session, seq)
            if found != mac:
                click.echo(
                    f"检查点不符 第 {seq} 条："
                    + ("日志中已没有这一条" if found is None else "这一条的密钥签名与检查点不同"),
                    err=True,
                )
                raise click.ClickException(
                    f"审计日志与检查点 {seq} 不符：检查点之后的条目被删除或日志被替换。请保留数据库现状并上报"
                )
    if problems:
        for problem in problems:
            click.echo(f"校验失败 {problem}", err=True)
        raise click.ClickException(
            f"审计日志在第 {problems[0].seq} 条处不完整（共 {count} 条，发现 {len(problems)} 处问题）。"
            "请保留数据库现状并上报：日志在 xinfang 之外被改动过"
        )
    click.echo(f"审计日志完整：共 {count} 条")
    if checkpoint is not None:
        click.echo(f"检查点 第 {checkpoint[0]} 条 相符")
    click.echo(f"检查点 {last_seq}:{last_mac}")
    click.echo("（把这行检查点记在数据库之外，下次用 --checkpoint 核对，可发现末尾条目被删）")
