"""``xinfang route``: text, files in every accepted encoding, JSONL streams, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import save_tiny_model

from api.cli import main

LETTER = "公司拖欠工资三个月，我已申请劳动仲裁，请督促。"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("cli-model"))


def run(model_dir: Path, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["route", "--model", str(model_dir), *args], input=input)


def test_route_text_prints_a_readable_proposal(model_dir: Path) -> None:
    result = run(model_dir, "--received-on", "2026-12-01", LETTER)
    assert result.exit_code == 0, result.output
    assert "途径    仲裁" in result.output
    assert "R-ZC" in result.output and "第三十一条" in result.output


def test_route_json(model_dir: Path) -> None:
    result = run(model_dir, "--json", "--received-on", "2026-12-01", LETTER)
    proposal = json.loads(result.output)
    assert proposal["channel"] == "arbitration" and proposal["disposition"] == "redirect"
    assert proposal["deadlines"][0]["due"] == "2026-12-16"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16"], ids=lambda e: e)
def test_route_file_in_each_encoding(model_dir: Path, tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "letter.txt"
    path.write_bytes(LETTER.encode(encoding))
    result = run(model_dir, "--json", "--file", str(path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["channel"] == "arbitration"


@pytest.mark.parametrize(
    ("data", "match"),
    [(b"", "empty"), (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "")],
    ids=["empty", "binary"],
)
def test_route_bad_file_is_a_clear_error(model_dir: Path, tmp_path: Path, data: bytes, match: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    result = run(model_dir, "--file", str(path))
    assert result.exit_code == 1
    assert "Error:" in result.output and "Traceback" not in result.output
    assert match in result.output.lower()


def test_route_needs_exactly_one_input(model_dir: Path) -> None:
    assert run(model_dir).exit_code == 2
    assert run(model_dir, "x", "--jsonl", "-").exit_code == 2


def test_route_jsonl_streams_and_survives_bad_lines(model_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": "1", "title": "欠薪", "text": LETTER}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": "3", "text": "建议延长公交线路运营时间。"}, ensure_ascii=False),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "5", "text": 42}),
        "",
        json.dumps({"id": "6", "text": ""}),
    ]
    src.write_text("\n".join(lines), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run(model_dir, "--jsonl", str(src), "--out", str(out))
    assert result.exit_code == 0, result.output
    records = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r.get("id") for r in records] == ["1", None, "3", None, "5", "6"]
    assert records[0]["channel"] == "arbitration"
    assert {
        "id",
        "category",
        "domain",
        "department",
        "department_top",
        "channel",
        "disposition",
        "confidential",
        "needs_review",
        "confidence",
    } <= set(records[0])
    assert "not JSON" in records[1]["error"] and records[1]["line"] == 2
    assert "error" in records[3] and "text" in records[4]["error"]
    assert records[5]["needs_review"] and "empty_text" in records[5]["review_reasons"]
    assert "routed 3 letters" in result.output and "3 bad lines" in result.output
