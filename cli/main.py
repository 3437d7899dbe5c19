"""The ``xinfang`` command: a thin shell over importable functions.

Each area keeps its commands in ``api/commands/<area>.py``; they are registered here. A user's
mistake raises ``click.ClickException`` (exit 1, one readable paragraph, no traceback).
"""

from __future__ import annotations

import importlib

import click

# module path -> attribute holding a click command or group
COMMAND_MODULES: tuple[tuple[str, str], ...] = (
    ("api.commands.route", "route"),
    ("api.commands.serve", "serve"),
    ("api.commands.admin", "db"),
    ("api.commands.admin", "users"),
    ("api.commands.audit", "audit"),
    ("api.commands.files", "files"),
    ("api.commands.triage", "triage"),
    ("api.commands.triage", "batches"),
    ("api.commands.triage", "export"),
    ("api.commands.training", "train_command"),
    ("api.commands.training", "evaluate_command"),
    ("api.commands.training", "models"),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xinfang")
def main() -> None:
    """xinfang: route citizens' petition letters under the 2022 《信访工作条例》."""
    from store.audit_key import use_audit_key

    # Read when a command first appends to or checks the audit log, not before: the others need no key.
    use_audit_key(_audit_key)


def _audit_key() -> bytes:
    from api.settings import get_settings

    return get_settings().audit_key_bytes()


for _module, _attr in COMMAND_MODULES:
    main.add_command(getattr(importlib.import_module(_module), _attr))
