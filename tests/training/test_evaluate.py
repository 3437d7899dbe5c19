"""Evaluation through the router on the recorded held-out letters, the report, and refused model folders."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import skops.io as sio

from classifier.errors import IncompatibleModelError, ModelLoadError, UntrustedModelError
from classifier.persistence import load_model
from routing.router import Router
from training.evaluate import SplitMismatchError, evaluate_model, format_summary, rebuild_data


def test_the_evaluation_written_by_train_covers_heads_proposal_rules_and_report(tiny_models: Path) -> None:
    folder = tiny_models / "good"
    summary = json.loads((folder / "evaluation.json").read_text(encoding="utf-8"))
    heads = summary["heads"]
    assert set(heads) == {"category", "domain", "department", "channel", "final_channel", "final_department"}
    category = heads["category"]
    assert category["n"] == 6 and set(category["per_class"]) >= {"appeal", "accusation", "suggestion"}
    assert sum(map(sum, category["confusion"]["matrix"])) == 6
    assert len(category["reliability"]["bins"]) == 10 and category["reliability"]["ece"] is not None
    curve = category["review_curve"]
    assert curve[0]["threshold"] == 0.0 and curve[0]["review_share"] == 0.0 and curve[-1]["threshold"] == 1.0
    assert [c["review_share"] for c in curve] == sorted(c["review_share"] for c in curve)
    assert summary["proposal"]["letters"] == 6 and summary["proposal"]["config"]["min_confidence"] == 0.55
    assert summary["rule_layer"]["letters"] == 6
    audit = summary["rule_audit"]
    assert audit["letters"] == 24 and {r["rule_id"] for r in audit["rules"]} >= set(audit["never_fired"])
    html = (folder / "report.html").read_text(encoding="utf-8")
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    alts = {alt for alt, _ in images}
    assert {"review curve", "reliability diagram", "category confusion and per class"} <= alts
    assert all(len(b64) > 1000 for _, b64 in images)
    for section in (
        "Against the model in service",
        "Rule layer alone",
        "Rule audit",
        "Rules that never fired",
    ):
        assert section in html
    text = format_summary(summary)
    assert "rule layer alone" in text and "rule audit" in text


def test_evaluate_rebuilds_the_split_and_compares_with_the_model_in_service(
    tiny_models: Path, tiny_data: Path, tmp_path: Path
) -> None:
    (tiny_models / "default").mkdir(exist_ok=True)
    try:
        shutil.copytree(tiny_models / "poor", tiny_models / "default", dirs_exist_ok=True)
        evaluation = evaluate_model(
            tiny_models / "good", data_dir=tiny_data, models_dir=tiny_models, output_dir=tmp_path / "out"
        )
    finally:
        shutil.rmtree(tiny_models / "default")
    saved = json.loads((tiny_models / "good" / "evaluation.json").read_text(encoding="utf-8"))
    assert evaluation.summary["heads"] == saved["heads"]  # same letters, same numbers
    comparison = evaluation.summary["comparison"]
    assert comparison["incumbent"] == "default" and comparison["same_split"] is True
    assert comparison["heads"]["category"]["delta_macro_f1"] > 0
    assert (tmp_path / "out" / "report.html").exists() and (tmp_path / "out" / "evaluation.json").exists()


def test_a_changed_split_or_data_is_refused(tiny_models: Path, tiny_data: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(tiny_models / "good", tmp_path / "m"))
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    meta["split"]["test_ids_hash"] = "0" * 64
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(SplitMismatchError, match=r"held-out letters of m cannot be rebuilt: 6 letters now"):
        rebuild_data(folder, data_dir=tiny_data)
    changed = Path(shutil.copytree(tiny_data, tmp_path / "data"))
    with (changed / "messages.csv").open("a", encoding="utf-8") as f:
        f.write("x1,99,2026/1/1 09:00:00,新,新来信,城乡建设,g-x1\n")
    with pytest.raises(SplitMismatchError, match=r"is not the data m was trained on \(data hash"):
        rebuild_data(folder, data_dir=changed)
    meta["decisions"] = {"decisions": 3, "decided_before": "2026-12-01T00:00:00+00:00"}
    meta["split"]["test_ids_hash"] = json.loads((tiny_models / "good" / "meta.json").read_text())["split"][
        "test_ids_hash"
    ]
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(SplitMismatchError, match=r"trained with 3 officers' decisions; give --database-url"):
        rebuild_data(folder, data_dir=tiny_data)


class Stowaway:
    """A type no model file should contain."""


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        ("garbage", ModelLoadError, r"model\.skops is corrupt .*retrain or restore"),
        ("no-model", ModelLoadError, r"model\.skops is missing; the model folder is incomplete"),
        ("no-meta", ModelLoadError, r"is not a model folder: meta\.json is missing"),
        ("bad-meta", ModelLoadError, r"meta\.json is unreadable or not JSON"),
        (
            "old-sklearn",
            IncompatibleModelError,
            r"saved with scikit-learn 0\.24\.2, but scikit-learn \d+\.\d+.* is installed",
        ),
        ("format", IncompatibleModelError, r"model format 99; this xinfang reads format 1"),
        ("untrusted", UntrustedModelError, r"types that are not trusted: \[.*Stowaway'\]"),
    ],
    ids=lambda x: x if isinstance(x, str) and not x.startswith("model") else None,
)
def test_a_corrupt_or_incompatible_folder_is_refused_with_the_fix(
    tiny_models: Path, tmp_path: Path, damage: str, error: type[Exception], message: str
) -> None:
    folder = Path(shutil.copytree(tiny_models / "good", tmp_path / "m"))
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if damage == "garbage":
        (folder / "model.skops").write_bytes(b"PK\x03\x04 truncated")
    elif damage == "no-model":
        (folder / "model.skops").unlink()
    elif damage == "no-meta":
        meta_path.unlink()
    elif damage == "bad-meta":
        meta_path.write_text("{", encoding="utf-8")
    elif damage == "old-sklearn":
        meta["libraries"]["scikit-learn"] = "0.24.2"
        meta_path.write_text(json.dumps(meta), encoding="utf-8")
    elif damage == "format":
        meta["format_version"] = 99
        meta_path.write_text(json.dumps(meta), encoding="utf-8")
    elif damage == "untrusted":
        sio.dump(
            {"featurizer": Stowaway(), "heads": {}}, folder / "model.skops", compression=zipfile.ZIP_DEFLATED
        )
    with pytest.raises(error, match=message):
        load_model(folder)
    with pytest.raises(error, match=message):
        Router.load(folder)
