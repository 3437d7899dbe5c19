"""The audit key of this process: what keys the audit log's MACs (``store.audit``).

The key must live outside the database: whoever holds both can rewrite the log undetected. The
store never reads settings or files, so the shells hand it over at start (the web app in
``api.app.create_app``, the CLI in ``cli.main.main``) from ``service.settings.Settings``. This module
imports nothing heavy, because the CLI sets the key before it knows which command runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

# The key of a process that was given none. Production settings refuse it (service.settings), and
# service.settings.DEVELOPMENT_AUDIT_KEY must stay equal to it: a database written by a tool that set
# no key then verifies in a development app too.
DEVELOPMENT_AUDIT_KEY = "development-only-audit-key-change-me"

_LOCK = threading.Lock()
_source: bytes | Callable[[], bytes] = DEVELOPMENT_AUDIT_KEY.encode("utf-8")


def use_audit_key(key: bytes | Callable[[], bytes]) -> None:
    """Set this process's audit key: the bytes, or a function that reads them on first use (so a
    command that never touches the audit log needs no readable key file)."""
    global _source
    with _LOCK:
        _source = key


def audit_key() -> bytes:
    """The audit key this process appends and verifies with.

    Raises:
        ValueError: the key is empty, or the function reading it failed (its message says why).
    """
    global _source
    with _LOCK:
        if callable(_source):
            _source = _source()
        key = _source
    if not key:
        raise ValueError("the audit key is empty; set XINFANG_AUDIT_KEY or XINFANG_AUDIT_KEY_FILE")
    return key
