"""One router per installation: ``service.routers.load_router`` builds it from the settings.

The web app, ``xinfang route``, ``xinfang triage`` and the batch worker all go through it, so none
can forget the department catalogue or the proposal thresholds again.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from routing.proposal import ProposalConfig
from routing.router import Router
from service import routers
from service.routers import InstallationRouter, load_router, proposal_config
from service.settings import Settings


def test_the_proposal_settings_are_the_proposal_config_with_its_defaults() -> None:
    names = {name for name in Settings.model_fields if name.startswith("proposal_")}
    assert {name.removeprefix("proposal_") for name in names} == set(ProposalConfig.model_fields)
    for name, field in ProposalConfig.model_fields.items():
        assert Settings.model_fields[f"proposal_{name}"].default == field.default, name
    assert proposal_config(Settings()) == ProposalConfig()


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``Router.load`` was called with, instead of loading a model."""
    calls: list[dict[str, Any]] = []

    def fake_load(cls: type[Router], model_dir: Path, **kwargs: Any) -> Any:
        calls.append({"model_dir": model_dir, **kwargs})
        return object()

    monkeypatch.setattr(Router, "load", classmethod(fake_load))
    return calls


def test_load_router_passes_the_catalogue_the_rulebook_and_the_thresholds(
    tmp_path: Path, loads: list[dict[str, Any]]
) -> None:
    settings = Settings(
        departments_file=tmp_path / "departments.yaml",
        rulebook_dir=tmp_path / "rulebook",
        max_letter_chars=1234,
        proposal_min_confidence=0.7,
        proposal_confidential_threshold=0.2,
    )
    load_router(settings, tmp_path / "model")
    (call,) = loads
    assert call["model_dir"] == tmp_path / "model"
    assert call["catalogue_path"] == settings.departments_file
    assert call["rulebook_dir"] == settings.rulebook_dir
    assert call["max_chars"] == 1234
    config = call["config"]
    assert config.min_confidence == 0.7 and config.confidential_threshold == 0.2
    assert config.min_margin == ProposalConfig().min_margin


def test_the_batch_workers_router_pickles_and_loads_once_per_process(
    tmp_path: Path, loads: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routers, "_ROUTERS", {})
    loader = InstallationRouter(tmp_path / "model", Settings(proposal_min_confidence=0.6))
    copy = pickle.loads(pickle.dumps(loader))
    assert copy() is copy() is loader()
    (call,) = loads
    assert call["config"].min_confidence == 0.6
