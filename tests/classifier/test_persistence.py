"""A model folder explains itself and refuses to load when it should not."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from factories import TINY_LETTERS, TINY_OVERRIDES, save_tiny_model, tiny_examples

from classifier.errors import IncompatibleModelError, ModelLoadError, UntrustedModelError
from classifier.model import NBLinearSVC
from classifier.persistence import META_FILE, MODEL_FILE, load_model
from training.config import DEFAULT_CONFIG, load_config
from training.train import fit_model


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("model"))


def test_folder_explains_itself(folder: Path) -> None:
    assert {p.name for p in folder.iterdir()} >= {
        "model.skops",
        "labels.json",
        "userdict.txt",
        "config.toml",
        "meta.json",
    }
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    assert set(meta["libraries"]) >= {"scikit-learn", "skops", "numpy", "scipy", "jieba", "python"}
    labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    assert labels["category"] == ["accusation", "appeal", "suggestion"]
    assert "村支书" in (folder / "userdict.txt").read_text(encoding="utf-8")


def test_round_trip(folder: Path) -> None:
    model = load_model(folder)
    assert model.version == "tiny-test"
    assert set(model.heads) == {"category", "domain", "department", "channel"}


def test_a_head_over_nb_weighted_features_round_trips(tmp_path: Path) -> None:
    # NBLinearSVC is a trusted type: a model whose config weighs a head's features loads, and
    # gives the same probabilities it gave before it was saved
    model = fit_model(
        tiny_examples(TINY_LETTERS),
        load_config(DEFAULT_CONFIG, (*TINY_OVERRIDES, 'heads.domain.weighting="nb"')),
        version="tiny-nb",
    )
    loaded = load_model(save_tiny_model(tmp_path / "nb", model))
    domain = loaded.heads["domain"]
    assert domain.weighting == "nb"
    assert type(domain.calibrated_.calibrated_classifiers_[0].estimator) is NBLinearSVC
    X = loaded.transform(["小区物业乱收停车费，请住建局查处。"])
    assert np.array_equal(domain.predict_proba(X), model.heads["domain"].predict_proba(X))


def _copy(folder: Path, dest: Path) -> Path:
    dest.mkdir()
    for p in folder.iterdir():
        (dest / p.name).write_bytes(p.read_bytes())
    return dest


def test_incompatible_library_version_names_both(folder: Path, tmp_path: Path) -> None:
    bad = _copy(folder, tmp_path / "old")
    meta = json.loads((bad / META_FILE).read_text(encoding="utf-8"))
    meta["libraries"]["scikit-learn"] = "0.24.2"
    (bad / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(IncompatibleModelError, match=r"scikit-learn 0\.24\.2, but scikit-learn 1\.\d+"):
        load_model(bad)


def test_wrong_format_version(folder: Path, tmp_path: Path) -> None:
    bad = _copy(folder, tmp_path / "fmt")
    meta = json.loads((bad / META_FILE).read_text(encoding="utf-8"))
    meta["format_version"] = 99
    (bad / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(IncompatibleModelError, match="format 99"):
        load_model(bad)


def test_untrusted_type_is_refused(folder: Path, tmp_path: Path) -> None:
    bad = _copy(folder, tmp_path / "evil")
    with zipfile.ZipFile(folder / MODEL_FILE) as zin, zipfile.ZipFile(bad / MODEL_FILE, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "schema.json":
                data = data.replace(b'"classifier.model"', b'"os"').replace(
                    b'"LetterClassifier"', b'"system"', 1
                )
            zout.writestr(item, data)
    with pytest.raises(UntrustedModelError, match="not trusted"):
        load_model(bad)


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda d: (d / META_FILE).unlink(), "meta.json is missing"),
        (lambda d: (d / META_FILE).write_text("{not json", encoding="utf-8"), "not JSON"),
        (lambda d: (d / MODEL_FILE).unlink(), "model.skops is missing"),
        (lambda d: (d / MODEL_FILE).write_bytes(b"PK\x03\x04 truncated"), "corrupt"),
    ],
    ids=["no-meta", "bad-meta", "no-estimator", "corrupt-estimator"],
)
def test_damaged_folder_gives_a_clear_error(folder: Path, tmp_path: Path, damage, match: str) -> None:  # type: ignore[no-untyped-def]
    bad = _copy(folder, tmp_path / "damaged")
    damage(bad)
    with pytest.raises(ModelLoadError, match=match):
        load_model(bad)
