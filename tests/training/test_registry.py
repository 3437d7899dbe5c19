"""The registry: list, promote (refusing a worse model), roll back, all audited; the server swaps live."""

from __future__ import annotations

import gc
import json
import threading
import weakref
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from tiny_corpus import TINY_OVERRIDES

from routing.router import Router
from routing.schemas import Letter
from store.audit import events_for, verify_chain
from store.db import session_scope
from training.registry import (
    ModelHolder,
    RegistryError,
    list_models,
    promote,
    promoted_version,
    read_registry,
    resolve_model_dir,
    rollback,
    show_model,
)
from training.train import train


def test_without_a_registry_the_default_serves(tmp_path: Path) -> None:
    (tmp_path / "default").mkdir()
    assert promoted_version(tmp_path) == "default"
    assert resolve_model_dir(tmp_path) == tmp_path / "default"
    assert resolve_model_dir(tmp_path, "default") == tmp_path / "default"
    with pytest.raises(Exception, match=r"no model 'v9' in .*; known versions: none"):
        resolve_model_dir(tmp_path, "v9")


def test_an_unreadable_registry_says_how_to_recover(tmp_path: Path) -> None:
    (tmp_path / "registry.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(
        OSError, match=r"registry\.json is unreadable .* remove it to serve the default model"
    ):
        promoted_version(tmp_path)


def test_list_and_show_give_held_out_metrics(models_dir: Path) -> None:
    items = {m.version: m for m in list_models(models_dir)}
    assert set(items) == {"good", "poor"}
    good, poor = items["good"], items["poor"]
    assert good.metrics["category"]["macro_f1"] > poor.metrics["category"]["macro_f1"]
    assert good.review_share is not None and not good.in_service and good.problem is None
    detail = show_model(models_dir, "good")
    assert detail["meta"]["version"] == "good" and detail["report"].endswith("report.html")


def test_promote_refuses_a_worse_model_and_audits_the_refusal(
    models_dir: Path, audit_factory: sessionmaker[Session], tiny_data: Path
) -> None:
    factory = audit_factory
    with session_scope(factory) as session:
        first = promote(session, models_dir, "good", actor="wang.fang", data_dir=tiny_data)
    assert first.promoted and first.previous == "default" and promoted_version(models_dir) == "good"

    with session_scope(factory) as session:
        refused = promote(session, models_dir, "poor", actor="wang.fang", data_dir=tiny_data)
    assert not refused.promoted and promoted_version(models_dir) == "good"
    assert any(w.startswith("category macro-F1") for w in refused.worse)
    assert "--force --reason" in refused.message
    assert refused.comparison is not None and refused.comparison["how"].startswith("same held-out letters")

    with session_scope(factory) as session, pytest.raises(RegistryError, match="--force needs --reason"):
        promote(session, models_dir, "poor", actor="wang.fang", force=True, data_dir=tiny_data)

    with session_scope(factory) as session:
        forced = promote(
            session,
            models_dir,
            "poor",
            actor="wang.fang",
            force=True,
            reason="试点：对比线上效果",
            data_dir=tiny_data,
        )
    assert forced.promoted and forced.forced and promoted_version(models_dir) == "poor"

    with session_scope(factory) as session:
        back = rollback(session, models_dir, actor="wang.fang", reason="效果差")
        assert (back.version, back.previous) == ("good", "poor")
        events = [
            (e.action, e.actor, e.details["version"], e.details.get("forced"))
            for e in events_for(session, "model:good") + events_for(session, "model:poor")
        ]
        assert verify_chain(session) == []
    assert promoted_version(models_dir) == "good"
    assert sorted(events) == sorted(
        [
            ("promote_model", "wang.fang", "good", False),
            ("rollback_model", "wang.fang", "good", None),
            ("promote_model_refused", "wang.fang", "poor", False),
            ("promote_model", "wang.fang", "poor", True),
        ]
    )
    history = read_registry(models_dir)["history"]
    assert [(h["action"], h["version"]) for h in history] == [
        ("promote", "good"),
        ("promote", "poor"),
        ("rollback", "good"),
    ]
    assert history[1]["reason"] == "试点：对比线上效果"

    # one more step back would be the shipped default, which this registry does not have
    with session_scope(factory) as session, pytest.raises(OSError, match=r"no model 'default'"):
        rollback(session, models_dir, actor="wang.fang")
    assert promoted_version(models_dir) == "good"


def test_nothing_to_roll_back_to(models_dir: Path, factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as session, pytest.raises(RegistryError, match="nothing to roll back to"):
        rollback(session, models_dir, actor="wang.fang")


def test_a_rolled_back_transaction_leaves_the_registry_as_it_was(
    models_dir: Path, audit_factory: sessionmaker[Session], tiny_data: Path
) -> None:
    factory = audit_factory
    with pytest.raises(RuntimeError, match="commit failed"), session_scope(factory) as session:
        promote(session, models_dir, "good", actor="wang.fang", data_dir=tiny_data)
        assert promoted_version(models_dir) == "good"
        raise RuntimeError("commit failed")
    assert not (models_dir / "registry.json").exists() and promoted_version(models_dir) == "default"
    with factory() as session:
        assert events_for(session, "model:good") == []


@pytest.mark.slow
def test_models_on_different_splits_are_compared_on_letters_held_out_from_both(
    models_dir: Path, factory: sessionmaker[Session], tiny_data: Path
) -> None:
    overrides = [o for o in TINY_OVERRIDES if not o.startswith("split.seed")] + ["split.seed=11"]
    train(data_dir=tiny_data, models_dir=models_dir, version="reseeded", overrides=overrides, report=False)
    with session_scope(factory) as session:
        promote(session, models_dir, "good", actor="wang.fang", data_dir=tiny_data)
        result = promote(
            session, models_dir, "reseeded", actor="wang.fang", data_dir=tiny_data, force=True, reason="对比"
        )
    comparison = result.comparison
    assert comparison is not None and comparison["how"] == "evaluated both on the same letters"
    assert 0 < comparison["letters"] < 6  # letters held out from both splits only
    assert set(comparison["heads"]) == {"category", "domain", "department", "channel", "final_channel"}


def test_a_corrupt_candidate_is_never_promoted(models_dir: Path, factory: sessionmaker[Session]) -> None:
    (models_dir / "good" / "model.skops").write_bytes(b"not a zip file")
    with session_scope(factory) as session, pytest.raises(OSError, match=r"model\.skops is corrupt"):
        promote(session, models_dir, "good", actor="wang.fang")
    assert promoted_version(models_dir) == "default"


def test_the_holder_swaps_the_router_while_requests_are_served(
    models_dir: Path, factory: sessionmaker[Session], tiny_data: Path
) -> None:
    (models_dir / "registry.json").write_text(
        json.dumps({"in_service": "poor", "history": []}), encoding="utf-8"
    )
    holder = ModelHolder(models_dir, check_interval=0.0)
    assert holder.current_router().model.version == "poor"
    letter = Letter(text="公司拖欠工资三个月，要求申请劳动仲裁。")
    failures: list[BaseException] = []
    versions: set[str] = set()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                versions.add(holder.current_router().propose(letter).model_version)
            except BaseException as exc:  # any failed request fails the test
                failures.append(exc)
                return

    workers = [threading.Thread(target=serve) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        with session_scope(factory) as session:
            promote(session, models_dir, "good", actor="wang.fang", data_dir=tiny_data)
        assert holder.refresh() == "good"
        seen_after = holder.current_router().propose(letter).model_version
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert failures == []
    assert versions == {"poor", "good"} and seen_after == "good" and holder.swaps == 2


def test_the_holder_keeps_serving_when_the_new_model_is_broken(models_dir: Path) -> None:
    registry = models_dir / "registry.json"
    registry.write_text(json.dumps({"in_service": "good", "history": []}), encoding="utf-8")
    holder = ModelHolder(models_dir, check_interval=0.0)
    assert holder.current_router().model.version == "good"
    (models_dir / "poor" / "model.skops").write_bytes(b"garbage")
    registry.write_text(json.dumps({"in_service": "poor", "history": []}), encoding="utf-8")
    assert holder.refresh() == "good"
    assert holder.current_router().model.version == "good"
    assert holder.error is not None and "model.skops is corrupt" in holder.error


def test_a_pinned_holder_never_swaps_and_a_missing_model_is_a_clear_error(
    models_dir: Path, tmp_path: Path
) -> None:
    pinned = ModelHolder(models_dir, version="poor", check_interval=0.0)
    assert pinned.current_router().model.version == "poor"
    (models_dir / "registry.json").write_text(
        json.dumps({"in_service": "good", "history": []}), encoding="utf-8"
    )
    assert pinned.refresh() == "poor"
    empty = ModelHolder(tmp_path / "nothing-here")
    with pytest.raises(OSError, match=r"no routing model is loaded: no model 'default'.*xinfang train"):
        empty.current_router()


def test_a_router_from_the_holder_is_the_routers_own_code_path(models_dir: Path) -> None:
    holder = ModelHolder(models_dir, version="good")
    direct = Router.load(models_dir / "good")
    letter = Letter(text="建议延长公交线路运营时间，增加夜班车。")
    assert holder.current_router().propose(letter) == direct.propose(letter)


def test_a_swap_in_a_frozen_process_freezes_the_new_model_and_frees_the_old(
    models_dir: Path, factory: sessionmaker[Session], tiny_data: Path
) -> None:
    (models_dir / "registry.json").write_text(
        json.dumps({"in_service": "poor", "history": []}), encoding="utf-8"
    )
    holder = ModelHolder(models_dir, check_interval=0.0, background=False)
    old = holder.current_router()
    # A cycle through the old router: only the collector can free it, and it never walks frozen objects.
    old.model.cycle = old  # type: ignore[attr-defined]
    old_ref = weakref.ref(old)
    del old
    gc.collect()
    gc.freeze()
    try:
        with session_scope(factory) as session:
            promote(session, models_dir, "good", actor="wang.fang", data_dir=tiny_data)
        new = holder.current_router()
        assert new.model.version == "good"
        assert old_ref() is None
        assert gc.get_freeze_count() > 0
        assert not any(new is o for generation in range(3) for o in gc.get_objects(generation))
    finally:
        gc.unfreeze()


def test_a_background_swap_waits_for_requests_on_the_old_model_before_freezing(
    models_dir: Path, factory: sessionmaker[Session], tiny_data: Path
) -> None:
    (models_dir / "registry.json").write_text(
        json.dumps({"in_service": "poor", "history": []}), encoding="utf-8"
    )
    holder = ModelHolder(models_dir, check_interval=0.0, refreeze_after=3.0)
    in_flight = holder.current_router()  # a request that began before the promotion
    in_flight.model.cycle = in_flight  # type: ignore[attr-defined]
    old_ref = weakref.ref(in_flight)
    gc.collect()
    gc.freeze()
    try:
        with session_scope(factory) as session:
            promote(session, models_dir, "good", actor="wang.fang", data_dir=tiny_data)
        assert holder.refresh() == "good"
        del in_flight  # the request finishes within the grace period
        # the collector runs in the holder's own timer thread, and on a large heap it takes seconds
        assert holder.wait_for_refreeze()
        assert old_ref() is None
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
