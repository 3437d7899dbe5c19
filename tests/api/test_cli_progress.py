"""Long commands say how far they are on a terminal (count, rate, time left) and nothing when piped."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import save_tiny_model

from cli.commands.progress import Progress, duration
from cli.main import main

LETTER = "公司拖欠工资三个月，我已申请劳动仲裁，请督促。"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_line_counts_and_estimates_the_time_left() -> None:
    clock, out = Clock(), io.StringIO()
    bar = Progress("路由", "封", 100, stream=out, enabled=True, clock=clock, interval=0.5)
    bar.update(0)
    assert out.getvalue() == "\r路由 0/100 封 · 预计还需 — · 已用 0 秒\x1b[K"
    clock.now += 4
    bar.update(20)
    assert out.getvalue().endswith("\r路由 20/100 封 · 每秒 5.0 封 · 预计还需 16 秒 · 已用 4 秒\x1b[K")
    drawn = out.getvalue()
    clock.now += 0.1
    bar.update(21)  # sooner than the interval: not redrawn
    assert out.getvalue() == drawn
    clock.now += 600
    bar.update(100)  # the last count is always drawn
    bar.close()
    # Slower than one a second: the time each takes.
    assert out.getvalue().endswith("\r路由 100/100 封 · 每封 6 秒 · 预计还需 0 秒 · 已用 10 分 04 秒\x1b[K\n")


def test_slow_steps_are_timed_per_step_and_without_a_total_only_counted() -> None:
    clock, out = Clock(), io.StringIO()
    bar = Progress("训练", "步", 9, stream=out, enabled=True, clock=clock)
    clock.now += 80
    bar.update(2, what="训练（拟合案件事实层）")
    assert (
        "训练（拟合案件事实层） 2/9 步 · 每步 40 秒 · 预计还需 4 分 40 秒 · 已用 1 分 20 秒" in out.getvalue()
    )
    unknown = Progress("路由", "封", stream=io.StringIO(), enabled=True, clock=clock)
    clock.now += 2
    unknown.update(30)
    assert unknown.line() == "路由 30 封 · 每秒 15 封 · 已用 2 秒"
    assert duration(3725) == "1 小时 02 分"


def test_nothing_is_written_when_the_stream_is_not_a_terminal() -> None:
    out = io.StringIO()  # a pipe or a file: isatty() is false
    with Progress("路由", "封", 3, stream=out) as bar:
        for i in range(1, 4):
            bar.update(i)
    assert out.getvalue() == ""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("progress-model"))


def _jsonl(tmp_path: Path, count: int) -> Path:
    src = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": str(i), "text": LETTER}, ensure_ascii=False) for i in range(count)]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return src


def test_route_jsonl_piped_prints_only_its_summary(model_dir: Path, tmp_path: Path) -> None:
    src, out = _jsonl(tmp_path, 5), tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        main, ["route", "--model", str(model_dir), "--jsonl", str(src), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.output == "已路由 5 封（其中待人工核查 0 封），0 行有误（见输出中的 error 记录）\n"


def test_route_jsonl_on_a_terminal_shows_count_rate_and_time_left(model_dir: Path, tmp_path: Path) -> None:
    src, out = _jsonl(tmp_path, 600), tmp_path / "out.jsonl"
    leader, follower = pty.openpty()
    command = [sys.executable, "-c", "from cli.main import main; main()"]
    args = ["route", "--model", str(model_dir), "--jsonl", str(src), "--out", str(out)]
    proc = subprocess.Popen(command + args, stderr=follower, stdout=subprocess.DEVNULL, cwd=Path.cwd())
    os.close(follower)
    seen = b""
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 120)
            if not ready:
                break
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the follower closed: the command ended
                break
            if not chunk:
                break
            seen += chunk
    finally:
        proc.wait(timeout=120)
        os.close(leader)
    text = seen.decode("utf-8", errors="replace")
    assert proc.returncode == 0, text
    assert "\r路由 256/600 封 · 每秒" in text  # after the first batch of letters
    assert "\r路由 600/600 封 · 每秒" in text and "预计还需 0 秒" in text
    assert text.rstrip().endswith("已路由 600 封（其中待人工核查 0 封），0 行有误（见输出中的 error 记录）")
    assert len(out.read_text(encoding="utf-8").splitlines()) == 600
