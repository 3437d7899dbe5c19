"""The ``xinfang`` command: a thin shell over importable functions.

Each area keeps its commands in ``cli/commands/<area>.py``; they are registered here. A user's
mistake raises ``click.ClickException`` (exit 1, one readable paragraph, no traceback).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click

# module path -> attribute holding a click command or group
COMMAND_MODULES: tuple[tuple[str, str], ...] = (
    ("cli.commands.route", "route"),
    ("cli.commands.serve", "serve"),
    ("cli.commands.admin", "db"),
    ("cli.commands.admin", "users"),
    ("cli.commands.audit", "audit"),
    ("cli.commands.files", "files"),
    ("cli.commands.letters", "letters"),
    ("cli.commands.cases", "cases"),
    ("cli.commands.calendar", "calendar"),
    ("cli.commands.triage", "triage"),
    ("cli.commands.triage", "batches"),
    ("cli.commands.triage", "export"),
    ("cli.commands.training", "train_command"),
    ("cli.commands.training", "evaluate_command"),
    ("cli.commands.training", "models"),
    ("cli.commands.statistics", "report_command"),
    ("cli.commands.demo", "demo"),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xinfang")
def main() -> None:
    """xinfang: route citizens' petition letters under the 2022 《信访工作条例》."""
    from routing.calendar import use_holidays
    from store.audit_key import use_audit_key

    # Read when a command first appends to or checks the audit log, not before: the others need no key.
    use_audit_key(_audit_key)
    # Likewise the holiday file: read when a command first counts working days.
    use_holidays(_holidays_file)


def _holidays_file() -> Path:
    from service.settings import get_settings

    return get_settings().holidays_file


def _audit_key() -> bytes:
    from service.settings import get_settings

    return get_settings().audit_key_bytes()


for _module, _attr in COMMAND_MODULES:
    main.add_command(getattr(importlib.import_module(_module), _attr))
