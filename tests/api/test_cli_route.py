"""``xinfang route``: text, files in every accepted encoding, JSONL streams, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import save_tiny_model

from cli.main import main

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
    assert "劳动人事争议已经或应当申请仲裁" in result.output and "第三十一条" in result.output
    assert "R-ZC" not in result.output  # the rule by its title, not its code


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
    assert "已路由 3 封" in result.output and "3 行有误" in result.output


# -- the letter's fields: form, visitors, received_on, accepted_on -------------------------------

ORDINARY = "小区物业公司乱收费，每月多收停车费，请求退还。"  # the tiny model: ordinary, accept
VISIT = "我们村民来反映小区物业乱收费问题，请求处理。"


def route_lines(model_dir: Path, tmp_path: Path, *records: dict[str, object]) -> list[dict[str, object]]:
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run(model_dir, "--jsonl", str(src), "--out", str(out))
    assert result.exit_code == 0, result.output
    return [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]


def dues(record: dict[str, object]) -> dict[str, str | None]:
    return {d["code"]: d["due"] for d in record["deadlines"]}  # type: ignore[attr-defined,index]


def test_jsonl_visit_of_more_than_five_people_is_flagged(model_dir: Path, tmp_path: Path) -> None:
    visit, small, mail = route_lines(
        model_dir,
        tmp_path,
        {"id": "v", "text": VISIT, "form": "visit", "visitors": 8},
        {"id": "s", "text": VISIT, "form": "visit", "visitors": 5},
        {"id": "m", "text": VISIT},
    )
    assert "representatives_over_limit" in visit["flags"]  # type: ignore[operator]
    assert visit["needs_review"] and "procedural_flag" in visit["review_reasons"]  # type: ignore[operator]
    assert "representatives_over_limit" not in small["flags"]  # type: ignore[operator]
    assert "representatives_over_limit" not in mail["flags"]  # type: ignore[operator]


def test_jsonl_received_on_dates_the_deadlines(model_dir: Path, tmp_path: Path) -> None:
    dated, undated = route_lines(
        model_dir,
        tmp_path,
        {"id": "d", "text": ORDINARY, "received_on": "2026-11-02"},
        {"id": "u", "text": ORDINARY},
    )
    assert dated["channel"] == "ordinary" and dated["disposition"] == "accept"
    assert dues(dated)["notify_acceptance"] == "2026-11-17"  # 15 days after receipt
    assert dues(dated)["conclude"] is None  # the 60 days run from acceptance, not receipt
    assert dues(undated)["notify_acceptance"] is None  # no day of receipt: the clock has not started
    assert all(due is None for due in dues(undated).values())


def test_accepted_on_starts_the_handling_clock(model_dir: Path, tmp_path: Path) -> None:
    (accepted,) = route_lines(
        model_dir,
        tmp_path,
        {"id": "a", "text": ORDINARY, "received_on": "2026-11-02", "accepted_on": "2026-11-05"},
    )
    assert accepted["channel"] == "ordinary" and accepted["disposition"] == "accept"
    assert dues(accepted)["conclude"] == "2027-01-04"  # 60 days after acceptance
    one = run(model_dir, "--json", "--received-on", "2026-11-02", "--accepted-on", "2026-11-05", ORDINARY)
    assert {d["code"]: d["due"] for d in json.loads(one.output)["deadlines"]}["conclude"] == "2027-01-04"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"form": "fax"}, "form"),
        ({"form": "visit", "visitors": 0}, "visitors"),
        ({"form": "visit", "visitors": "abc"}, "visitors"),
        ({"form": "visit", "visitors": 2.5}, "visitors"),
        ({"visitors": 3}, "visitors"),  # people are counted for visits only, as on the workbench
        ({"received_on": "2026/11/02"}, "received_on"),
        ({"received_on": "2026-02-30"}, "received_on"),
        ({"received_on": "1899-12-31"}, "received_on"),
        ({"received_on": "2999-01-01"}, "received_on"),
        ({"accepted_on": "02.11.2026"}, "accepted_on"),
        ({"accepted_on": "2999-01-01"}, "accepted_on"),
        ({"received_on": "2026-11-05", "accepted_on": "2026-11-02"}, "accepted_on"),
    ],
    ids=lambda v: "-".join(f"{k}={v}" for k, v in v.items()) if isinstance(v, dict) else str(v),
)
def test_jsonl_bad_field_is_an_error_record_and_the_stream_goes_on(
    model_dir: Path, tmp_path: Path, fields: dict[str, object], named: str
) -> None:
    bad, good = route_lines(
        model_dir,
        tmp_path,
        {"id": "bad", "text": ORDINARY, **fields},
        {"id": "good", "text": ORDINARY, "received_on": "2026-11-02", "form": "online"},
    )
    assert bad["id"] == "bad" and bad["line"] == 1
    assert str(bad["error"]).startswith("line 1: ") and named in str(bad["error"])
    assert "channel" not in bad
    assert good["id"] == "good" and good["channel"] == "ordinary" and "error" not in good


def test_route_one_letter_with_form_and_visitors(model_dir: Path) -> None:
    result = run(
        model_dir,
        "--json",
        "--form",
        "visit",
        "--visitors",
        "8",
        "--received-on",
        "2026-11-02",
        "--accepted-on",
        "2026-11-05",
        VISIT,
    )
    assert result.exit_code == 0, result.output
    proposal = json.loads(result.output)
    assert "representatives_over_limit" in {f for h in proposal["rule_hits"] for f in h["flags"]}
    due = {d["code"]: d["due"] for d in proposal["deadlines"]}
    assert due["notify_acceptance"] == "2026-11-17"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--visitors", "3"], "--visitors is only for --form visit"),
        (["--form", "visit", "--visitors", "0"], "--visitors"),
        (["--form", "fax"], "--form"),
        (["--received-on", "1989-12-31"], "早于 1990-01-01"),
        (["--received-on", "2999-01-01"], "in the future"),
        (["--accepted-on", "2026-11-01", "--received-on", "2026-11-02"], "--accepted-on"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_route_one_letter_refuses_bad_fields(model_dir: Path, args: list[str], message: str) -> None:
    result = run(model_dir, *args, ORDINARY)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_route_jsonl_takes_the_fields_per_line(model_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": ORDINARY}, ensure_ascii=False), encoding="utf-8")
    result = run(model_dir, "--jsonl", str(src), "--received-on", "2026-11-02")
    assert result.exit_code == 2 and "per line" in result.output


def test_jsonl_output_goes_into_a_new_folder_or_fails_clearly(model_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps({"id": "1", "title": "", "text": "小区物业乱收费，请求查处。"}) + "\n", "utf-8"
    )
    out = tmp_path / "not" / "yet" / "there.jsonl"
    result = run(model_dir, "--jsonl", str(source), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text("utf-8").splitlines()[0])["id"] == "1"
    blocked = tmp_path / "a-file"
    blocked.write_text("", "utf-8")
    result = run(model_dir, "--jsonl", str(source), "--out", str(blocked / "out.jsonl"))
    assert result.exit_code == 1 and "无法写入" in result.output and "Traceback" not in result.output
