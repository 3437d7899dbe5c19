"""A command loads only what it needs: the routing model's libraries are for the commands that route.

Loading scikit-learn and skops (and torch, which scikit-learn imports when it is installed) took
seconds before any command ran, ``xinfang --help`` included. These tests look at which modules a
command imported, in a fresh interpreter; they time nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sklearn", "skops", "torch", "routing.router", "classifier.persistence")

_PROBE = """
import json, sys
from click.testing import CliRunner
from cli.main import main
result = CliRunner().invoke(main, sys.argv[1:])
print(json.dumps({"exit": result.exit_code, "modules": sorted(sys.modules)}))
"""


def _modules_after(*args: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    record = json.loads(out.strip().splitlines()[-1])
    assert record["exit"] == 0, out
    return set(record["modules"])


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("route", "--help"),
        ("triage", "--help"),
        ("batches", "show", "--help"),
        ("export", "--help"),
    ],
    ids=lambda a: " ".join(a),
)
def test_commands_that_do_not_route_load_no_model_library(args: tuple[str, ...]) -> None:
    loaded = _modules_after(*args)
    assert not [m for m in HEAVY if m in loaded]
