"""The layers above the heads: the fact layer and the arbiter, fitted without leaking letters."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from tiny_corpus import TINY_OVERRIDES, write_tiny_data

from classifier.model import TriageModel
from classifier.persistence import load_model
from routing.router import Router
from routing.schemas import Letter
from training.config import load_config
from training.datasets import Example, RoutingCase, load_examples
from training.route_layers import fit_arbiter, fit_facts, fold_config, out_of_fold_rows, thin_rare_labels
from training.train import fit_model, train


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> list[Example]:
    return load_examples(write_tiny_data(tmp_path_factory.mktemp("tiny")))


def test_every_letter_is_read_by_a_model_that_never_saw_it(tiny: list[Example]) -> None:
    config = load_config(overrides=TINY_OVERRIDES)
    seen_by_fold: list[set[str]] = []

    def fit(letters: Sequence[Example]) -> TriageModel:
        seen_by_fold.append({e.id for e in letters})
        return fit_model(letters, fold_config(config))

    rows, labels, ids = out_of_fold_rows(tiny, config, fit)
    assert sorted(ids) == sorted(e.id for e in tiny if e.channel is not None)
    assert len(rows) == len(labels) == len(ids) and all(rows)
    # each letter was read in exactly one fold, by the model fitted without it
    assert len(seen_by_fold) == config["arbiter"]["folds"]
    for letter_id in ids:
        assert sum(letter_id not in seen for seen in seen_by_fold) == 1
    # the rows carry what the arbiter weighs: both heads' probabilities
    assert any(k.startswith("channel:") for k in rows[0]) and any(k.startswith("category:") for k in rows[0])


def test_a_class_too_small_for_a_fold_is_left_out_of_that_fold_only(tiny: list[Example]) -> None:
    config = load_config(overrides=TINY_OVERRIDES)
    few = [e for e in tiny if e.channel != "suggestion"] + [e for e in tiny if e.channel == "suggestion"][:1]
    thinned = thin_rare_labels(few, config)
    assert [e.channel for e in thinned if e.id.startswith("s")] == [None]
    assert sum(e.channel == "discipline" for e in thinned) == 6
    assert thinned[-1].category == "suggestion" or thinned[-1].category is None


def test_layers_can_be_switched_off(tiny: list[Example]) -> None:
    config = load_config(overrides=[*TINY_OVERRIDES, "facts.enabled=false", "arbiter.enabled=false"])
    assert fit_facts(tiny, config) is None
    assert fit_arbiter(tiny, config, lambda letters: fit_model(letters, config)).arbiter is None


def test_a_trained_model_ships_its_arbiter_and_routes_through_it(tmp_path: Path) -> None:
    data = write_tiny_data(tmp_path / "data")
    result = train(
        tmp_path / "model", data_dir=data, version="t1", report=False, decisions=[], overrides=TINY_OVERRIDES
    )
    model = load_model(result.model_dir)
    assert model.arbiter is not None and model.facts is not None
    assert set(model.arbiter.classes_) == {"ordinary", "arbitration", "discipline", "suggestion"}
    router = Router.load(result.model_dir)
    p = router.propose(Letter(title="建议", text="建议在小区门口增设公交站，方便居民出行。"))
    assert p.channel == "suggestion" and p.routed
    assert result.timings["fit_arbiter_s"] > 0


def test_the_arbiter_takes_its_offsets_and_groups_from_the_config(
    tiny: list[Example], monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    import training.route_layers as route_layers

    rng = random.Random(0)
    letters = [e for e in tiny if e.channel is not None]
    # out-of-fold readings stand-in: the channel's evidence overlaps the others' (no fold fitting)
    rows = [
        {"fact:court_pending": rng.gauss(0.7 if e.channel == "discipline" else 0.2, 0.25)} for e in letters
    ]
    readings = (rows, [str(e.channel) for e in letters], [e.id for e in letters])
    monkeypatch.setattr(route_layers, "out_of_fold_rows", lambda *args, **kwargs: readings)
    seen: dict[str, object] = {}
    fit = route_layers.ChannelArbiter.fit

    def spy(
        self: route_layers.ChannelArbiter, *args: object, **kwargs: object
    ) -> route_layers.ChannelArbiter:
        seen["groups"] = args[2]
        return fit(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(route_layers.ChannelArbiter, "fit", spy)
    off = load_config(overrides=[*TINY_OVERRIDES, "arbiter.offset_precision=0.0"])
    arbiter = fit_arbiter(tiny, off, lambda letters: fit_model(letters, off)).arbiter
    assert arbiter is not None and arbiter.offset_precision is None and arbiter.offsets_ == {}
    assert seen["groups"] == [e.group for e in letters]
    on = load_config(overrides=[*TINY_OVERRIDES, "arbiter.offset_precision=0.5"])
    arbiter = fit_arbiter(tiny, on, lambda letters: fit_model(letters, on)).arbiter
    assert arbiter is not None and arbiter.offset_precision == 0.5
    assert "discipline" in arbiter.offset_classes and "ordinary" not in arbiter.offset_classes


def test_the_watch_levels_are_set_on_the_letters_annotated_for_each_label(
    tiny: list[Example], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    import numpy as np

    import training.route_layers as route_layers

    # Half the letters are annotated for both labels; of those, every third one has the label and
    # scores 0.3-0.7 on its head, the rest 0.1. The unannotated half scores 0.9: were it counted,
    # the urgent level's cap (a quarter of the letters) would sit at 0.9.
    letters = []
    for i, e in enumerate(tiny):
        label = None if i % 2 else int(i % 3 == 0)
        letters.append(dataclasses.replace(e, urgent=label, multi=label))
    rows = []
    for i, e in enumerate(letters):
        score = 0.9 if e.multi is None else (0.3 + i / 60 if e.multi else 0.1)
        rows.append({"fact:multi": score, "fact:self_harm_or_violence": score, "channel:ordinary": 1.0})
    readings = (rows, [str(e.channel) for e in letters], [e.id for e in letters])
    monkeypatch.setattr(route_layers, "out_of_fold_rows", lambda *args, **kwargs: readings)
    config = load_config(
        overrides=[
            *TINY_OVERRIDES,
            "arbiter.urgent_recall=1.0",
            "arbiter.urgent_max_share=0.25",
            "arbiter.multi_recall=0.5",
            "arbiter.multi_max_share=1.0",
        ]
    )
    arbiter = fit_arbiter(letters, config, lambda ls: fit_model(ls, config)).arbiter
    assert arbiter is not None
    annotated = [row["fact:multi"] for row, e in zip(rows, letters, strict=True) if e.multi is not None]
    positives = sorted(
        (row["fact:multi"] for row, e in zip(rows, letters, strict=True) if e.multi), reverse=True
    )
    assert len(positives) >= 2
    assert arbiter.urgent_watch_ == pytest.approx(max(positives[-1], float(np.quantile(annotated, 0.75))))
    assert arbiter.urgent_watch_ < 0.9
    assert arbiter.multi_watch_ == pytest.approx(positives[(len(positives) + 1) // 2 - 1])  # half of them


def _write_cases(folder: Path, cases: Sequence[tuple[str, str, str, bool]]) -> None:
    with (folder / "routing_cases.jsonl").open("w", encoding="utf-8") as f:
        for n, (text, channel, disposition, trap) in enumerate(cases):
            expect = {
                "channel": channel,
                "disposition": disposition,
                "confidential": channel == "discipline",
                "urgent": False,
            }
            record = {
                "id": f"C{n:03d}",
                "title": "",
                "text": text,
                "form": "letter",
                "expect": expect,
                "trap": trap,
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def test_routing_cases_teach_the_arbiter_and_are_measured_held_out(tmp_path: Path) -> None:
    data = write_tiny_data(tmp_path / "data")
    cases = [
        ("单位辞退我不给经济补偿，我要申请劳动仲裁。", "arbitration", "redirect", False),
        ("公司三个月不发工资，也不签劳动合同。", "arbitration", "redirect", False),
        ("举报镇干部收受红包，违规审批低保。", "discipline", "accept", False),
        ("检举街道主任挪用公款。", "discipline", "accept", False),
        ("建议在路口增设红绿灯，保障行人安全。", "suggestion", "accept", False),
        ("物业费上涨不合理，物业公司也不公示账目。", "ordinary", "accept", True),
    ]
    _write_cases(data, cases)
    result = train(
        tmp_path / "model", data_dir=data, version="t2", report=False, decisions=[], overrides=TINY_OVERRIDES
    )
    measured = load_model(result.model_dir).meta["routing_cases_cross_validated"]
    configured = float(load_config(overrides=TINY_OVERRIDES)["arbiter"]["routing_case_weight"])
    assert configured > 0 and measured["cases"] == len(cases) and measured["weight"] == configured
    assert 2 <= measured["folds"] <= 5
    assert 0 <= measured["right"] <= len(cases)
    assert measured["right"] + len(measured["wrong"]) == len(cases)
    assert measured["traps"][1] == 1 and measured["accusations_confidential"][1] == 2

    # Without the cases (weight 0) nothing is read from the file and nothing is measured.
    off = train(
        tmp_path / "model-off",
        data_dir=data,
        version="t3",
        report=False,
        decisions=[],
        overrides=[*TINY_OVERRIDES, "arbiter.routing_case_weight=0"],
    )
    assert load_model(off.model_dir).meta["routing_cases_cross_validated"] == {"cases": 0}


def test_every_case_is_routed_by_an_arbiter_fitted_without_it(
    tiny: list[Example], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.route_layers as route_layers

    config = load_config(overrides=TINY_OVERRIDES)
    letters = [e for e in tiny if e.channel is not None]
    rows = [{f"channel:{e.channel}": 1.0} for e in letters]
    readings = (rows, [str(e.channel) for e in letters], [e.id for e in letters])
    monkeypatch.setattr(route_layers, "out_of_fold_rows", lambda *args, **kwargs: readings)
    fitted_with: list[list[dict[str, float]]] = []
    fit = route_layers.ChannelArbiter.fit

    def spy(
        self: route_layers.ChannelArbiter, *args: object, **kwargs: object
    ) -> route_layers.ChannelArbiter:
        fitted_with.append(list(kwargs["reviewed_rows"]))  # type: ignore[call-overload]
        return fit(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(route_layers.ChannelArbiter, "fit", spy)
    case_rows = [{"case": float(i)} for i in range(12)]
    reviewed = route_layers.ReviewedCases(rows=case_rows, channels=["ordinary"] * 12, weight=5.0)
    result = route_layers.fit_arbiter(tiny, config, lambda ls: fit_model(ls, config), reviewed=reviewed)
    assert fitted_with[0] == case_rows  # the shipped arbiter saw every case
    held = sorted(i for indices, _ in result.case_folds for i in indices)
    assert held == list(range(12))  # each case held out exactly once
    for (indices, _), seen in zip(result.case_folds, fitted_with[1:], strict=True):
        assert not any(case_rows[i] in seen for i in indices)
        assert len(seen) == 12 - len(indices)


def test_case_folds_that_miss_or_repeat_a_case_are_refused() -> None:
    from training.routing_cases import cross_validated_proposals

    router = Router.load(Path(__file__).resolve().parents[2] / "models" / "default")
    assert router.model.arbiter is not None
    cases = [
        RoutingCase(Letter(id=f"c{i}", text="物业乱收费。"), "ordinary", "accept", False, False, False)
        for i in range(3)
    ]
    arbiter = router.model.arbiter
    assert len(cross_validated_proposals(router, [([0, 1], arbiter), ([2], arbiter)], cases)) == 3
    with pytest.raises(ValueError, match="exactly once"):
        cross_validated_proposals(router, [([0, 1], arbiter)], cases)
    with pytest.raises(ValueError, match="exactly once"):
        cross_validated_proposals(router, [([0, 1], arbiter), ([1, 2], arbiter)], cases)
