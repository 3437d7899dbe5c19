"""Training configs: every key is known, overrides keep types, a saved config reads back the same."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from training.config import DEFAULT_CONFIG, dump_toml, load_config
from training.errors import ConfigError


def test_overrides_apply_and_parse_toml_values() -> None:
    config = load_config(
        None, ["heads.domain.C=1.5", "rules.allow_never_fired=['R-DB-01']", "model.features=embeddings"]
    )
    assert config["heads"]["domain"]["C"] == 1.5
    assert config["rules"]["allow_never_fired"] == ["R-DB-01"]
    assert config["model"]["features"] == "embeddings"
    assert load_config()["heads"]["domain"]["C"] == 0.5  # the file itself is untouched


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("heads.domian.C=1", r"unknown config section 'heads\.domian\.C'"),
        ("features.min_dff=1", r"unknown config key 'features\.min_dff'; keys here: \[.*'min_df'"),
        ("model=1", r"unknown config key 'model'"),
        ("heads.category.C=abc", r"heads\.category\.C must be float like 0\.5, got str \"abc\""),
        ("data.duty_examples=1", r"must be bool"),
        ("features.min_df", r"must look like section\.key=value"),
    ],
    ids=["unknown-section", "unknown-key", "section-as-key", "wrong-type", "int-for-bool", "no-equals"],
)
def test_bad_overrides_fail_with_the_known_keys(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_a_config_file_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "office.toml"
    path.write_text("[heads.domain]\nC = 2.0\n[features]\nmax_df = 0.9\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown config key 'features\.max_df'.*default\.toml"):
        load_config(path)


def test_a_partial_config_file_keeps_the_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "office.toml"
    path.write_text("[heads.domain]\nC = 2.0\n", encoding="utf-8")
    config = load_config(path)
    assert config["heads"]["domain"] == {
        "C": 2.0,
        "class_weight": "balanced",
        "calibration_cv": 3,
        "weighting": "none",
    }
    assert config["split"] == load_config()["split"]


def test_the_saved_config_reads_back_identically() -> None:
    config = load_config(None, ["rules.allow_never_fired=['R-1', 'R-2']", "embeddings.model=/srv/模型"])
    assert tomllib.loads(dump_toml(config)) == config
    assert tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8")) == load_config()
