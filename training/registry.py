"""The model registry: model folders under ``models/``, which one is in service, and its history.

``models/registry.json`` holds ``{"in_service": VERSION, "history": [...]}``; without it the
shipped ``default`` serves. Every change goes through :func:`promote` or :func:`rollback`, which
write the decision to the audit log in the caller's transaction (``store.audit``) and replace the
file atomically, so a reader sees the old registry or the new one, never half of one.

Promotion refuses a model that is worse than the one in service on the same evaluation letters
(:func:`training.evaluate.compare_models`) unless it is forced with a reason; a refusal is audited
too. A running server notices a promotion through :class:`ModelHolder`, which watches the file
and swaps its router between requests.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import os
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.errors import ModelLoadError
from training.errors import TrainingError
from training.evaluate import EVALUATION_FILE, compare_models, headline
from training.versions import (
    DEFAULT_VERSION,
    REGISTRY_FILE,
    known_versions,
    promoted_version,
    read_registry,
    resolve_model_dir,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from routing.router import Router

log = logging.getLogger("xinfang.registry")

#: A candidate's macro-F1 may be this much below the model in service on a head and still pass.
DEFAULT_TOLERANCE = 0.005


class RegistryError(TrainingError):
    """The registry cannot do what was asked (unknown version, nothing to roll back to, no reason)."""


# -- reading and writing the registry ---------------------------------------------------------


def _write_registry(models_dir: Path, registry: dict[str, Any]) -> None:
    # Written beside the target and renamed over it: atomic on POSIX, so readers never see half a file.
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".registry-", suffix=".json", dir=models_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(registry, f, ensure_ascii=False, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, models_dir / REGISTRY_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- what the workbench and `xinfang models` show ---------------------------------------------


@dataclass(frozen=True)
class ModelSummary:
    """One model folder as the analyst sees it in a list."""

    version: str
    path: str
    in_service: bool
    trained_at: str | None
    features: str | None
    rows: dict[str, Any]
    metrics: dict[str, dict[str, float]]  # head -> accuracy, macro_f1 (held out)
    review_share: float | None  # share of held-out letters the proposal sends to review
    problem: str | None = None  # why the folder cannot be used, when it cannot
    data_hash: str | None = None  # of the training data, to tell models trained on the same letters

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _summary(models_dir: Path, version: str, in_service: str) -> ModelSummary:
    from classifier.persistence import MODEL_FILE, check_compatibility, read_meta

    folder = Path(models_dir) / version
    problem = None
    meta: dict[str, Any] = {}
    try:
        meta = read_meta(folder)
        check_compatibility(meta, folder)
    except ModelLoadError as exc:
        problem = str(exc)
    # Only the zip's directory at the end of the file is read: a truncated or overwritten estimator
    # shows as unusable in the list, without loading every model just to draw it.
    if problem is None and not zipfile.is_zipfile(folder / MODEL_FILE):
        problem = f"{folder / MODEL_FILE} is missing or corrupt; retrain or restore the model folder"
    review = None
    metrics = {
        h: {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]} for h, m in meta.get("metrics", {}).items()
    }
    evaluation = folder / EVALUATION_FILE
    if evaluation.exists():
        try:
            saved = json.loads(evaluation.read_text(encoding="utf-8"))
            metrics = headline(saved["heads"])
            review = saved["proposal"]["needs_review_share"]
        except (OSError, ValueError, KeyError) as exc:
            problem = (
                problem or f"{evaluation} is unreadable ({exc}); run `xinfang evaluate --model {folder}`"
            )
    return ModelSummary(
        version=version,
        path=str(folder),
        in_service=version == in_service,
        trained_at=meta.get("trained_at"),
        features=meta.get("features"),
        rows=meta.get("rows", {}),
        metrics=metrics,
        review_share=review,
        problem=problem,
        data_hash=meta.get("data_hash"),
    )


def list_models(models_dir: Path) -> list[ModelSummary]:
    """Every model folder, newest first, with its held-out metrics and whether it is in service."""
    in_service = promoted_version(models_dir)
    out = [_summary(Path(models_dir), v, in_service) for v in known_versions(models_dir)]
    return sorted(out, key=lambda s: (s.trained_at or "", s.version), reverse=True)


def show_model(models_dir: Path, version: str) -> dict[str, Any]:
    """One model in detail: its summary, ``meta.json``, ``evaluation.json`` and its registry entries."""
    from classifier.persistence import read_meta

    folder = resolve_model_dir(models_dir, version)
    registry = read_registry(models_dir)
    return {
        "summary": _summary(Path(models_dir), version, registry["in_service"]).as_dict(),
        "meta": read_meta(folder),
        "history": [h for h in registry["history"] if version in (h.get("version"), h.get("previous"))],
        "report": str(folder / "report.html") if (folder / "report.html").exists() else None,
        "evaluation": _saved_evaluation(folder / EVALUATION_FILE),
    }


def _saved_evaluation(path: Path) -> dict[str, Any] | None:
    """The saved evaluation, or None when there is none or it is unreadable (the summary says so)."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) else None


# -- promotion and rollback -------------------------------------------------------------------


@dataclass
class PromotionResult:
    """What :func:`promote` decided."""

    version: str
    previous: str
    promoted: bool
    forced: bool = False
    reason: str | None = None
    worse: list[str] = field(default_factory=list)  # "head: 0.61 < 0.64" for each head that got worse
    comparison: dict[str, Any] | None = None
    audit_seq: int | None = None

    @property
    def message(self) -> str:
        if not self.promoted:
            return (
                f"model {self.version} was NOT promoted: it is worse than {self.previous} on the same "
                "letters "
                f"({'; '.join(self.worse)}). Improve it, or promote it anyway with --force --reason '…'."
            )
        forced = f" (forced: {self.reason})" if self.forced else ""
        return f"model {self.version} is now in service, replacing {self.previous}{forced}"


def worse_heads(comparison: dict[str, Any], tolerance: float) -> list[str]:
    """The heads on which the candidate's macro-F1 fell by more than ``tolerance``."""
    out = []
    for head, c in comparison.get("heads", {}).items():
        if c["delta_macro_f1"] < -tolerance:
            out.append(f"{head} macro-F1 {c['candidate']['macro_f1']:.3f} < {c['incumbent']['macro_f1']:.3f}")
    return out


def _short(comparison: dict[str, Any] | None) -> dict[str, Any] | None:
    if not comparison or not comparison.get("heads"):
        return comparison
    return {
        "letters": comparison["letters"],
        "how": comparison["how"],
        "delta_macro_f1": {h: round(c["delta_macro_f1"], 4) for h, c in comparison["heads"].items()},
    }


def _after_commit_or_restore(
    session: Session, models_dir: Path, before: dict[str, Any], existed: bool
) -> None:
    """Put the previous registry back if the caller's transaction (holding the audit event) rolls back."""
    from sqlalchemy import event

    def restore(_session: Any, *_args: Any) -> None:
        if existed:
            _write_registry(models_dir, before)
        else:
            (Path(models_dir) / REGISTRY_FILE).unlink(missing_ok=True)
        log.warning("audit transaction rolled back; registry restored to %s", before["in_service"])

    def committed(_session: Any) -> None:
        if event.contains(session, "after_rollback", restore):
            event.remove(session, "after_rollback", restore)

    event.listen(session, "after_rollback", restore, once=True)
    event.listen(session, "after_commit", committed, once=True)


def promote(
    session: Session,
    models_dir: Path,
    version: str,
    *,
    actor: str,
    force: bool = False,
    reason: str | None = None,
    data_dir: Path | None = None,
    database_url: str | None = None,
    rulebook_dir: Path | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    now: dt.datetime | None = None,
) -> PromotionResult:
    """Put ``version`` in service, unless it is worse than the model in service.

    The two models are compared on the same evaluation letters. A refusal is returned (not
    raised) and audited, so the caller's commit keeps its record; pass ``force=True`` with a
    ``reason`` to promote anyway. The audit event is appended in ``session``: the caller commits.

    Args:
        session: an open session of the xinfang database (the audit log).
        models_dir: the registry folder.
        version: the model folder to put in service.
        actor: who decides (username), for the audit log.
        force: promote even if the comparison says worse; needs ``reason``.
        reason: why (required with ``force``; recorded either way).
        data_dir: the shared data, to evaluate both models when their held-out letters differ.
        database_url: the database their officers' decisions came from.
        rulebook_dir: the rulebook to evaluate with.
        tolerance: macro-F1 a head may lose and still count as not worse.

    Raises:
        RegistryError: unknown version, ``force`` without a reason, or it is already in service.
        ModelLoadError: the candidate folder is corrupt or incompatible (it would not serve).
    """
    from classifier.persistence import load_model
    from store.audit import append_event

    if force and not (reason and reason.strip()):
        raise RegistryError("--force needs --reason: say why a model that measured worse should serve")
    registry = read_registry(models_dir)
    previous = registry["in_service"]
    candidate = resolve_model_dir(models_dir, version)
    if version == previous:
        raise RegistryError(f"model {version} is already in service; nothing to promote")
    load_model(candidate)  # a folder that would not load must never reach the server
    comparison: dict[str, Any] | None
    try:
        incumbent: Path | None = resolve_model_dir(models_dir, previous)
    except ModelLoadError:
        incumbent = None
    if incumbent is None:
        comparison = {"note": f"no model {previous!r} in service to compare with"}
    else:
        comparison = compare_models(
            candidate, incumbent, data_dir=data_dir, database_url=database_url, rulebook_dir=rulebook_dir
        )
        comparison["incumbent"] = previous
    worse = worse_heads(comparison, tolerance)
    promoted = not worse or force
    registry = _locked_registry(session, models_dir, expect=previous)
    result = PromotionResult(version, previous, promoted, bool(worse) and force, reason, worse, comparison)
    at = now or dt.datetime.now(dt.UTC)
    details = {
        "version": version,
        "previous": previous,
        "forced": result.forced,
        "reason": reason,
        "worse": worse,
        "comparison": _short(comparison),
        "tolerance": tolerance,
    }
    event = append_event(
        session,
        actor=actor,
        action="promote_model" if promoted else "promote_model_refused",
        object=f"model:{version}",
        details=details,
        at=at,
    )
    result.audit_seq = event.seq
    if promoted:
        existed = (Path(models_dir) / REGISTRY_FILE).exists()
        before = {**registry, "history": list(registry["history"])}
        registry["in_service"] = version
        registry["history"].append(
            {
                "at": at.isoformat(timespec="seconds"),
                "action": "promote",
                "actor": actor,
                "audit_seq": event.seq,
                **details,
            }
        )
        _write_registry(models_dir, registry)
        _after_commit_or_restore(session, Path(models_dir), before, existed)
    return result


def _locked_registry(session: Session, models_dir: Path, expect: str | None = None) -> dict[str, Any]:
    """Take the audit log's head lock, then read the registry: one registry change at a time.

    The lock is the one every audited write takes first (``store.audit.lock_audit_head``), held
    until the caller commits; the slow comparison runs before it, so officers' decisions are not
    held up while two models are evaluated.
    """
    from store.audit import lock_audit_head

    lock_audit_head(session)
    registry = read_registry(models_dir)
    if expect is not None and registry["in_service"] != expect:
        raise RegistryError(
            f"the model in service changed from {expect} to {registry['in_service']} while the models were "
            "compared; look at `xinfang models list` and promote again"
        )
    return registry


def _service_stack(registry: dict[str, Any]) -> list[str]:
    """The versions in service, oldest first, replaying promotions (push) and rollbacks (pop)."""
    history = registry["history"]
    stack = [str(history[0]["previous"])] if history else [registry["in_service"]]
    for entry in history:
        if entry["action"] == "promote":
            stack.append(str(entry["version"]))
        elif entry["action"] == "rollback" and len(stack) > 1:
            stack.pop()
    return stack


@dataclass
class RollbackResult:
    version: str  # now in service
    previous: str  # taken out of service
    audit_seq: int | None = None

    @property
    def message(self) -> str:
        return f"rolled back: model {self.version} is in service again, {self.previous} is not"


def rollback(
    session: Session,
    models_dir: Path,
    *,
    actor: str,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> RollbackResult:
    """Put the model that served before the current one back in service, audited in ``session``.

    Raises:
        RegistryError: nothing was promoted, so there is nothing to roll back to.
        ModelLoadError: the earlier model's folder is gone or no longer loads.
    """
    from classifier.persistence import load_model
    from store.audit import append_event

    registry = _locked_registry(session, models_dir)
    stack = _service_stack(registry)
    if len(stack) < 2:
        raise RegistryError(
            f"nothing to roll back to: {registry['in_service']} is the first model in service "
            "(see `xinfang models list`)"
        )
    current, target = stack[-1], stack[-2]
    load_model(resolve_model_dir(models_dir, target))
    at = now or dt.datetime.now(dt.UTC)
    event = append_event(
        session,
        actor=actor,
        action="rollback_model",
        object=f"model:{target}",
        details={"version": target, "previous": current, "reason": reason},
        at=at,
    )
    existed = True
    before = {**registry, "history": list(registry["history"])}
    registry["in_service"] = target
    registry["history"].append(
        {
            "at": at.isoformat(timespec="seconds"),
            "action": "rollback",
            "actor": actor,
            "audit_seq": event.seq,
            "version": target,
            "previous": current,
            "reason": reason,
        }
    )
    _write_registry(models_dir, registry)
    _after_commit_or_restore(session, Path(models_dir), before, existed)
    return RollbackResult(target, current, event.seq)


# -- the router a running server uses ---------------------------------------------------------


def _refreeze() -> None:
    """After a swap, in a process that froze what it had loaded (``gc.freeze()``: the API, the batch
    workers), freeze again with the new model in and the old one out.

    Frozen objects are never walked by the collector: the replaced model's reference cycles would
    stay in memory for good, and the new model's objects would be walked on every full collection,
    which is the sixth of routing's CPU time the freeze saved. One full collection per promotion.
    A request still routing with the old model when this runs keeps it alive, and it is frozen
    again; :class:`ModelHolder` therefore waits ``refreeze_after`` seconds after a swap.
    """
    if gc.get_freeze_count() == 0:
        return
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class ModelHolder:
    """The router in service, swapped without dropping a request when a model is promoted.

    ``current_router()`` is cheap: at most every ``check_interval`` seconds it reads the registry
    file (a few hundred bytes) and compares the version in service and its folder's ``meta.json``
    time with those of the loaded router. When they changed, the new router is loaded in a
    background thread while requests keep getting the old one; then the reference is replaced in
    one assignment. A request that already holds the old router finishes with it. A model that
    fails to load is not swapped in: the old one keeps serving and ``error`` says why. In a process
    that froze what it had loaded (``gc.freeze()``), a swap freezes again with the new model.

    Args:
        models_dir: the registry folder.
        version: serve this version and never swap (``XINFANG_MODEL_VERSION``).
        loader: builds a router from a model folder; default ``Router.load`` with ``rulebook_dir``
            and ``max_chars``.
        rulebook_dir: the rulebook for the default loader.
        max_chars: the letter length cap for the default loader.
        check_interval: seconds between looks at the registry.
        background: load a new model in a background thread (``False``: in the calling thread).
        refreeze_after: seconds between a background swap and freezing again (see ``_refreeze``),
            so that requests begun on the old model have finished and let it go.
    """

    def __init__(
        self,
        models_dir: Path,
        *,
        version: str | None = None,
        loader: Callable[[Path], Router] | None = None,
        rulebook_dir: Path | None = None,
        max_chars: int = 200_000,
        check_interval: float = 2.0,
        background: bool = True,
        refreeze_after: float = 5.0,
    ) -> None:
        self.models_dir = Path(models_dir)
        self.pinned = version
        self.check_interval = check_interval
        self.background = background
        self.refreeze_after = refreeze_after
        self._loader = loader or self._default_loader(rulebook_dir, max_chars)
        self._router: Router | None = None
        self._stamp: tuple[str, int] | None = None
        self._failed: tuple[str, int] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()  # guards the check and the start of a load
        self._loading: threading.Thread | None = None
        self._refreezing: threading.Timer | None = None
        self.error: str | None = None
        self.swaps = 0

    @staticmethod
    def _default_loader(rulebook_dir: Path | None, max_chars: int) -> Callable[[Path], Router]:
        def load(folder: Path) -> Router:
            from routing.router import Router

            return Router.load(folder, rulebook_dir=rulebook_dir, max_chars=max_chars)

        return load

    def _target(self) -> tuple[Path, tuple[str, int]]:
        folder = resolve_model_dir(self.models_dir, self.pinned)
        try:
            mtime = (folder / "meta.json").stat().st_mtime_ns
        except OSError:
            mtime = 0
        return folder, (folder.name, mtime)

    @property
    def version(self) -> str | None:
        """The version of the router being served."""
        return self._stamp[0] if self._stamp else None

    def current_router(self) -> Router:
        """The router to use for this request.

        Raises:
            ModelLoadError: no model could be loaded yet (the message says why).
        """
        now = time.monotonic()
        if self._router is None or (self.pinned is None and now - self._checked >= self.check_interval):
            self._check(now)
        router = self._router
        if router is None:
            raise ModelLoadError(
                f"no routing model is loaded: {self.error}. Train and promote one (xinfang train, "
                "xinfang models promote) or set XINFANG_MODEL_VERSION to an existing folder."
            )
        return router

    def _check(self, now: float, *, force: bool = False) -> None:
        with self._lock:
            if not force and self._router is not None and now - self._checked < self.check_interval:
                return
            self._checked = now
            try:
                folder, stamp = self._target()
            except ModelLoadError as exc:
                self.error = str(exc)
                if self._router is None:
                    return
                log.error("registry points at a missing model, still serving %s: %s", self.version, exc)
                return
            if stamp == self._stamp or stamp == self._failed:
                return
            if self._loading is not None and self._loading.is_alive():
                return
            if self._router is None or not self.background:
                first = self._router is None
                self._load(folder, stamp)
                if first or not self.background:
                    return
            self._loading = threading.Thread(target=self._load, args=(folder, stamp), daemon=True)
            self._loading.start()

    def _load(self, folder: Path, stamp: tuple[str, int]) -> None:
        try:
            router = self._loader(folder)
        except Exception as exc:  # any failure keeps the old router serving
            self._failed = stamp
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("model %s not loaded, still serving %s: %s", stamp[0], self.version, self.error)
            return
        replaced = self._router is not None
        self._router, self._stamp, self.error = router, stamp, None
        self.swaps += 1
        log.info("serving model %s", stamp[0])
        if not replaced:
            return
        if not self.background:
            _refreeze()
            return
        later = threading.Timer(self.refreeze_after, _refreeze)
        later.daemon = True
        later.start()
        self._refreezing = later

    def refresh(self, timeout: float | None = 60.0) -> str | None:
        """Look at the registry now and wait for any load to finish; return the version served."""
        self._check(time.monotonic(), force=True)
        loading = self._loading
        if loading is not None:
            loading.join(timeout)
        return self.version

    def wait_for_refreeze(self, timeout: float | None = 120.0) -> bool:
        """Wait until the freeze that follows a background swap has run; ``False`` if it has not yet.

        The freeze walks every object of the process, so on a large heap it takes seconds: whoever
        must know it has run (the tests) waits for it here instead of guessing how long it takes.
        """
        pending = self._refreezing
        if pending is None:
            return True
        pending.join(timeout)
        return not pending.is_alive()


__all__ = [
    "DEFAULT_VERSION",
    "REGISTRY_FILE",
    "ModelHolder",
    "ModelSummary",
    "PromotionResult",
    "RegistryError",
    "RollbackResult",
    "known_versions",
    "list_models",
    "promote",
    "promoted_version",
    "read_registry",
    "resolve_model_dir",
    "rollback",
    "show_model",
]
