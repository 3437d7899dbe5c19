"""``xinfang db`` and ``xinfang users`` (the audit command is tested in test_audit.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cli.commands.admin import db, users
from store.db import current_revision, head_revision, session_scope
from store.models import AuditEvent
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
    assert "已创建账户 li.ming（接待／办信人员）" in result.output
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
    assert "zhou.qiang\t承办单位人员\t住房和城乡建设局\t启用" in listed.output


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
    # Read the registry without importing cli.main, which imports every area's commands.
    import ast

    import cli.commands.admin as admin

    source = (Path(__file__).resolve().parents[2] / "cli" / "main.py").read_text(encoding="utf-8")
    registry = next(
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "COMMAND_MODULES"
    )
    entries = set(ast.literal_eval(registry))
    for name in ("db", "users"):
        assert ("cli.commands.admin", name) in entries
        assert getattr(admin, name).name == name
    assert {("cli.commands.audit", "audit"), ("cli.commands.files", "files")} <= entries


def _add(url: str, username: str, role: str, *extra: str, password: str = STRONG) -> Any:
    return CliRunner().invoke(
        users,
        [
            "add",
            username,
            "--role",
            role,
            "--display-name",
            username,
            "--password-stdin",
            "--database-url",
            url,
        ]
        + list(extra),
        input=password + "\n",
    )


def test_role_choices_are_the_stores_roles() -> None:
    from cli.commands.admin import ROLE_CHOICES
    from store.models import ROLES

    assert ROLE_CHOICES == ROLES


def test_only_the_first_supervisor_is_created_without_approval(
    url: str, factory: sessionmaker[Session]
) -> None:
    first = _add(url, "zhao.lei", "supervisor", "--actor", "installer")
    assert first.exit_code == 0, first.output
    assert "已创建账户 zhao.lei（科室负责人）" in first.output
    # With a supervisor there, the next account that may read accusations waits for one's approval.
    second = _add(url, "qian.jian", "discipline_inspector", "--reason", "新调入纪检组")
    assert second.exit_code == 0, second.output
    assert "已提交第 1 号申请" in second.output and "xinfang users approve 1 --approver" in second.output
    with session_scope(factory) as session:
        assert not authenticate(session, "qian.jian", STRONG).ok
        created = session.scalars(select(AuditEvent).where(AuditEvent.action == "user_created")).one()
        assert created.actor == "installer" and created.details["bootstrap"]
    listed = CliRunner().invoke(users, ["requests", "--database-url", url])
    assert "1\tqian.jian\t新开纪检监察人员账户（qian.jian）\t申请人 admin-cli" in listed.output
    assert "新调入纪检组" in listed.output


def test_approving_at_the_command_line_takes_the_approvers_password(
    url: str, factory: sessionmaker[Session]
) -> None:
    _add(url, "zhao.lei", "supervisor")
    _add(url, "qian.jian", "discipline_inspector")
    runner = CliRunner()
    wrong = runner.invoke(
        users,
        ["approve", "1", "--approver", "zhao.lei", "--password-stdin", "--database-url", url],
        input="not-his-password 1\n",
    )
    assert wrong.exit_code == 1 and "zhao.lei 的密码不对" in wrong.output
    ok = runner.invoke(
        users,
        ["approve", "1", "--approver", "zhao.lei", "--password-stdin", "--database-url", url],
        input=STRONG + "\n",
    )
    assert ok.exit_code == 0, ok.output
    assert "已批准第 1 号申请：qian.jian 现在是纪检监察人员" in ok.output
    with session_scope(factory) as session:
        assert authenticate(session, "qian.jian", STRONG).ok


def test_nobody_approves_their_own_request_at_the_command_line(url: str) -> None:
    _add(url, "zhao.lei", "supervisor")
    _add(url, "li", "analyst")
    asked = CliRunner().invoke(
        users, ["set-role", "li", "supervisor", "--actor", "zhao.lei", "--database-url", url]
    )
    assert "已提交第 1 号申请：为 li 由统计分析人员改为科室负责人" in asked.output
    own = CliRunner().invoke(
        users,
        ["approve", "1", "--approver", "zhao.lei", "--password-stdin", "--database-url", url],
        input=STRONG + "\n",
    )
    assert own.exit_code == 1 and "不能批准或拒绝自己提交的申请" in own.output
    refused = CliRunner().invoke(
        users,
        ["refuse", "1", "--approver", "li", "--reason", "x", "--password-stdin", "--database-url", url],
        input=STRONG + "\n",
    )
    assert refused.exit_code == 1 and "只有科室负责人、纪检监察人员可以批准或拒绝" in refused.output


def test_deactivate_reactivate_unlock_and_set_role(url: str, factory: sessionmaker[Session]) -> None:
    _add(url, "wu", "analyst")
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(users, [*args, "--database-url", url])

    with session_scope(factory) as session:
        for _ in range(5):
            authenticate(session, "wu", "guess-guess 1", address="10.0.0.9")
    assert "已锁定（1 个地址" in run("list").output
    assert run("unlock", "wu").output.strip() == "已解除 wu 的登录锁定（涉及 1 个地址）"
    assert "已锁定" not in run("list").output
    assert run("deactivate", "wu").output.strip() == "已停用账户 wu；它的登录会话和令牌已全部失效"
    assert "wu\t统计分析人员\t—\t已停用" in run("list").output
    again = run("deactivate", "wu")
    assert again.exit_code == 1 and "已经停用" in again.output
    own = run("deactivate", "wu", "--actor", "wu")
    assert own.exit_code == 1 and "不能停用自己的账户" in own.output
    assert run("reactivate", "wu").exit_code == 0
    assert run("set-role", "wu", "intake_officer").output.strip() == "已将 wu 的角色改为接待／办信人员"
    with session_scope(factory) as session:
        assert authenticate(session, "wu", STRONG).ok
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.object == "user:wu").order_by(AuditEvent.seq)
        ).all()
    assert [a for a in actions if a.startswith("user_")] == [
        "user_created",
        "user_unlocked",
        "user_deactivated",
        "user_reactivated",
        "user_updated",
    ]
