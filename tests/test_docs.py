"""The README is the truth: a setting, a command or a rule without its documentation fails here."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from cli.main import main
from routing.codes import CHANNEL_NAMES, Category, Channel, Disposition
from routing.rulebook import load_rulebook
from service.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields), ids=str)
def test_every_setting_is_documented(name: str) -> None:
    assert Settings.model_fields[name].description, f"Settings.{name} has no description"
    assert f"XINFANG_{name.upper()}" in README, f"XINFANG_{name.upper()} is missing from the README"


def _commands(group: click.Group, prefix: str = "xinfang") -> list[str]:
    out = []
    for name, command in group.commands.items():
        out.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            out += _commands(command, f"{prefix} {name}")
    return out


@pytest.mark.parametrize("command", _commands(main), ids=str)
def test_every_command_is_in_the_readme(command: str) -> None:
    words = command.split()
    # "xinfang users add" may be written as "xinfang users add" or under its group as "users add"
    assert command in README or " ".join(words[1:]) in README, f"`{command}` is not documented in the README"


@pytest.mark.parametrize("code", [*Category, *Channel, *Disposition], ids=str)
def test_every_label_is_defined_in_the_readme(code: str) -> None:
    assert f"`{code}`" in README


def test_every_channel_has_a_chinese_name() -> None:
    assert set(CHANNEL_NAMES) == set(Channel)


def test_every_rule_has_a_legal_basis_and_examples() -> None:
    for rule in load_rulebook().rules:
        assert rule.legal_basis.article and rule.legal_basis.quote, rule.id
        assert rule.examples.match and rule.examples.no_match, rule.id
