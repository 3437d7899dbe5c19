"""``xinfang db``, ``xinfang users`` and ``xinfang audit`` (the audit command is tested in test_audit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from api.commands.admin import db, users
from store.db import current_revision, head_revision, session_scope
from store.users import authenticate, get_user

STRONG = "Lantern-river 2026"


@pytest.fixture
def url(migrated_url: str) -> str:
    return migrated_url


def test_db_upgrade_creates_a_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'x.sqlite3'}"
    result = CliRunner().invoke(db, ["upgrade", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert f"database at migration {head_revision()}" in result.output
    assert current_revision(url) == head_revision()
    current = CliRunner().invoke(db, ["current", "--database-url", url])
    assert current.exit_code == 0 and f"current: {head_revision()}" in current.output


def test_users_add_reads_the_password_from_stdin(url: str, factory: sessionmaker[Session]) -> None:
    result = CliRunner().invoke(
        users,
        [
            "add",
            "li.ming",
            "--role",
            "intake_officer",
            "--display-name",
            "李明",
            "--password-stdin",
            "--database-url",
            url,
        ],
        input=STRONG + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "created user li.ming (intake_officer)" in result.output
    assert STRONG not in result.output
    with session_scope(factory) as session:
        assert get_user(session, "li.ming").password_hash.startswith("$argon2id$")
        assert authenticate(session, "li.ming", STRONG).ok


def test_users_add_prompts_twice_for_the_password(url: str, factory: sessionmaker[Session]) -> None:
    result = CliRunner().invoke(
        users,
        [
            "add",
            "zhou.qiang",
            "--role",
            "department_handler",
            "--department",
            "housing",
            "--display-name",
            "周强",
            "--database-url",
            url,
        ],
        input=f"{STRONG}\n{STRONG}\n",
    )
    assert result.exit_code == 0, result.output
    with session_scope(factory) as session:
        assert get_user(session, "zhou.qiang").department == "housing"
    listed = CliRunner().invoke(users, ["list", "--database-url", url])
    assert "zhou.qiang\tdepartment_handler\thousing\tactive" in listed.output


# fmt: off
MISTAKES = [
    (["--role", "analyst"], "short\n", "密码不符合要求：只有 5 个字符"),
    (["--role", "department_handler"], STRONG + "\n", "承办单位人员必须指定所属部门"),
    (["--role", "root"], STRONG + "\n", "Invalid value for '--role'"),
]
# fmt: on


@pytest.mark.parametrize(("options", "stdin", "message"), MISTAKES, ids=["weak", "handler", "role"])
def test_users_add_mistakes_exit_with_a_message(
    url: str, options: list[str], stdin: str, message: str
) -> None:
    result = CliRunner().invoke(
        users,
        ["add", "li.ming", "--display-name", "李明", "--password-stdin", "--database-url", url, *options],
        input=stdin,
    )
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_users_add_on_an_unmigrated_database_says_what_to_do(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    result = CliRunner().invoke(
        users,
        [
            "add",
            "li.ming",
            "--role",
            "analyst",
            "--display-name",
            "李明",
            "--password-stdin",
            "--database-url",
            url,
        ],
        input=STRONG + "\n",
    )
    assert result.exit_code == 1
    assert "run `xinfang db upgrade`" in result.output


def test_users_set_password(url: str, factory: sessionmaker[Session]) -> None:
    runner = CliRunner()
    runner.invoke(
        users,
        [
            "add",
            "li.ming",
            "--role",
            "analyst",
            "--display-name",
            "李明",
            "--password-stdin",
            "--database-url",
            url,
        ],
        input=STRONG + "\n",
    )
    result = runner.invoke(
        users,
        ["set-password", "li.ming", "--password-stdin", "--database-url", url],
        input="Second-harbour 2027\n",
    )
    assert result.exit_code == 0, result.output
    with session_scope(factory) as session:
        assert authenticate(session, "li.ming", "Second-harbour 2027").ok
    missing = runner.invoke(
        users,
        ["set-password", "ghost", "--password-stdin", "--database-url", url],
        input="Second-harbour 2027\n",
    )
    assert missing.exit_code == 1 and "没有用户名为“ghost”的账户" in missing.output


def test_commands_are_registered_in_the_xinfang_group() -> None:
    # Read the registry without importing api.cli, which imports every area's commands.
    import ast

    import api.commands.admin as admin

    source = (Path(__file__).resolve().parents[2] / "api" / "cli.py").read_text(encoding="utf-8")
    registry = next(
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "COMMAND_MODULES"
    )
    entries = set(ast.literal_eval(registry))
    for name in ("db", "users"):
        assert ("api.commands.admin", name) in entries
        assert getattr(admin, name).name == name
    assert {("api.commands.audit", "audit"), ("api.commands.files", "files")} <= entries
