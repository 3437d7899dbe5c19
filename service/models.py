"""The model registry's operations for analysts: versions with their held-out metrics, promotion, rollback.

Shared by the JSON API (``api/routes/models.py``) and the models page, so both answer alike, over
:mod:`training.registry`, the functions ``xinfang models`` calls: the registry compares a candidate
with the model in service, refuses a worse one unless it is forced with a reason, and writes the
decision (refusals too) to the audit log with the signed-in user as actor.

Promotion commits its audit event before the answer is built: a refusal must stay on record
although the request then fails, and the shell's own router is swapped (``refresh``) as soon as
the promotion is committed, so the next request of that process already routes with the new model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlalchemy.orm import Session

from service.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable
from service.schemas import _clean, _In, _Out
from service.settings import Settings
from store.models import User

#: What ``xinfang train --version`` writes as a folder name; anything else is not a model.
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
REPORT_FILE = "report.html"
#: Swaps in the model now in service and answers the version the caller routes with.
Refresh = Callable[[], str | None]


# -- shapes -----------------------------------------------------------------------------------


class HeadlinePublic(_Out):
    accuracy: float
    macro_f1: float


class ModelPublic(_Out):
    """One model folder as the list shows it."""

    version: str
    created: dt.datetime | None = Field(description="when it was trained (meta.json trained_at)")
    in_service: bool = Field(description="the registry's version in service")
    usable: bool = Field(description="false when the folder would not load; `problem` says why")
    problem: str | None
    features: str | None
    data_hash: str | None = Field(description="hash of the training data: equal hashes, same letters")
    rows: dict[str, int] = Field(description="letters trained and held out, per head")
    metrics: dict[str, HeadlinePublic] = Field(description="held-out accuracy and macro-F1 per head")
    review_share: float | None = Field(description="share of held-out letters the proposal sends to review")
    report_url: str | None = Field(description="the HTML evaluation report (a page; sign in to open it)")


class ModelsPublic(_Out):
    data: list[ModelPublic]
    count: int
    in_service: str = Field(description="the version the registry puts in service")
    serving: str | None = Field(description="the version this server is routing with now")


class ClassMetricsPublic(_Out):
    precision: float
    recall: float
    f1: float
    support: int


class ConfusionPublic(_Out):
    labels: list[str]
    matrix: list[list[int]] = Field(description="rows: the true label, columns: the predicted one")


class HeadMetricsPublic(_Out):
    n: int
    accuracy: float
    macro_f1: float
    top3_accuracy: float | None
    per_class: dict[str, ClassMetricsPublic]
    confusion: ConfusionPublic | None


class ProposalMetricsPublic(_Out):
    letters: int
    needs_review_share: float | None
    route_accuracy: float | None
    confidential_recall_of_accusations: float | None


class HistoryEntryPublic(_Out):
    at: str
    action: Literal["promote", "rollback"]
    actor: str
    version: str
    previous: str
    reason: str | None
    forced: bool
    audit_seq: int | None


class ModelDetailPublic(_Out):
    """One model in full: every head's held-out metrics, the data it learnt from, its registry history."""

    model: ModelPublic
    metrics: dict[str, HeadMetricsPublic]
    metrics_source: Literal["evaluation", "training", "none"] = Field(
        description="evaluation.json (measured through the router), else meta.json, else none"
    )
    proposal: ProposalMetricsPublic | None
    split: dict[str, str | int | float | None]
    decisions: dict[str, Any] | None = Field(
        description="how many officers' decisions it was trained with (counts; the letters are not named)"
    )
    warnings: list[str] = Field(description="the training's warnings, without letters officers decided")
    history: list[HistoryEntryPublic]


class RollbackCreate(_In):
    reason: str | None = Field(default=None, max_length=2000, description="why; recorded in the audit log")

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str | None) -> str | None:
        return _clean(value)  # blank is no reason: force must not pass with spaces


class PromoteCreate(RollbackCreate):
    version: str = Field(pattern=VERSION_PATTERN, description="the model folder to put in service")
    force: bool = Field(default=False, description="promote although it measured worse; needs a reason")


class HeadComparisonPublic(_Out):
    candidate_macro_f1: float
    incumbent_macro_f1: float
    delta_macro_f1: float
    worse: bool = Field(description="lost more macro-F1 than the tolerance allows")


class ComparisonPublic(_Out):
    incumbent: str | None
    letters: int | None
    how: str | None = Field(description="which letters both models were measured on")
    note: str | None
    heads: dict[str, HeadComparisonPublic]


class PromotionPublic(_Out):
    version: str
    previous: str
    forced: bool
    reason: str | None
    worse: list[str] = Field(description="the heads that measured worse (a forced promotion has some)")
    comparison: ComparisonPublic | None
    audit_seq: int | None
    serving: str | None = Field(description="the version this server routes with after the promotion")
    message: str


class RollbackPublic(_Out):
    version: str = Field(description="in service again")
    previous: str = Field(description="taken out of service")
    reason: str | None
    audit_seq: int | None
    serving: str | None
    message: str


# -- the operations, shared with the page -----------------------------------------------------


class PromotionRefused(Conflict):
    """The candidate measured worse than the model in service; the refusal is in the audit log."""

    def __init__(self, message: str, errors: list[dict[str, Any]], comparison: ComparisonPublic | None):
        super().__init__(message, errors)
        self.comparison = comparison


def _unavailable(exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(f"the model registry cannot be read: {exc}")


def _in_service(models_dir: Path) -> str:
    from classifier.errors import ModelLoadError
    from training.registry import promoted_version

    try:
        return promoted_version(models_dir)
    except ModelLoadError as exc:
        raise _unavailable(exc) from exc


def registry_in_service(settings: Settings) -> str:
    """The version the registry puts in service (``ServiceUnavailable`` when ``registry.json`` is
    unreadable)."""
    return _in_service(settings.models_dir)


def registry_history(settings: Settings) -> list[HistoryEntryPublic]:
    """Every promotion and rollback, oldest first."""
    from classifier.errors import ModelLoadError
    from training.registry import read_registry

    try:
        history = read_registry(settings.models_dir)["history"]
    except ModelLoadError as exc:
        raise _unavailable(exc) from exc
    return [_history(h) for h in history if h.get("action") in ("promote", "rollback")]


def report_file(settings: Settings, version: str) -> Path | None:
    """``report.html`` of a model folder in the registry, or None; nothing outside it is ever returned.

    ``version`` must be a folder the registry lists, and the file, once symlinks are resolved, must
    still be that folder's own ``report.html``, itself directly in the registry folder.
    """
    _known(settings.models_dir, version)
    return _report_path(settings.models_dir, version)


def _report_path(models_dir: Path, version: str) -> Path | None:
    registry = models_dir.resolve()
    folder = (models_dir / version).resolve()
    try:
        report = (folder / REPORT_FILE).resolve(strict=True)
    except OSError:
        return None
    if folder.parent != registry or report != folder / REPORT_FILE or not report.is_file():
        return None
    return report


def _known(models_dir: Path, version: str) -> None:
    from training.registry import known_versions

    known = known_versions(models_dir)
    if version not in known:
        raise NotFound(
            f"no model {version!r} in the registry; known versions: {', '.join(known) or 'none'}. "
            "Train one with `xinfang train`."
        )


def _created(value: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _model_public(summary: Any) -> ModelPublic:
    folder = Path(summary.path)
    return ModelPublic(
        version=summary.version,
        created=_created(summary.trained_at),
        in_service=summary.in_service,
        usable=summary.problem is None,
        problem=summary.problem,
        features=summary.features,
        data_hash=summary.data_hash,
        rows={k: v for k, v in summary.rows.items() if isinstance(v, int)},
        metrics={h: HeadlinePublic(**m) for h, m in summary.metrics.items()},
        review_share=summary.review_share,
        # Linked only when it would be served: a symlinked report is no report.
        report_url=f"/models/{summary.version}/report"
        if _report_path(folder.parent, summary.version)
        else None,
    )


def list_model_versions(settings: Settings) -> tuple[list[ModelPublic], str]:
    """Every model folder, newest first, and the version in service."""
    from classifier.errors import ModelLoadError
    from training.registry import list_models

    try:
        items = list_models(settings.models_dir)
    except ModelLoadError as exc:
        raise _unavailable(exc) from exc
    return [_model_public(m) for m in items], _in_service(settings.models_dir)


def _head_metrics(m: dict[str, Any]) -> HeadMetricsPublic:
    confusion = m.get("confusion")
    return HeadMetricsPublic(
        n=int(m.get("n", 0)),
        accuracy=m["accuracy"],
        macro_f1=m["macro_f1"],
        top3_accuracy=m.get("top3_accuracy"),
        per_class={
            label: ClassMetricsPublic(
                precision=c["precision"], recall=c["recall"], f1=c["f1"], support=int(c["support"])
            )
            for label, c in (m.get("per_class") or {}).items()
        },
        confusion=ConfusionPublic(labels=confusion["labels"], matrix=confusion["matrix"])
        if confusion
        else None,
    )


def _history(h: dict[str, Any]) -> HistoryEntryPublic:
    return HistoryEntryPublic(
        at=str(h.get("at", "")),
        action=h["action"],
        actor=str(h.get("actor", "")),
        version=str(h.get("version", "")),
        previous=str(h.get("previous", "")),
        reason=h.get("reason"),
        forced=bool(h.get("forced")),
        audit_seq=h.get("audit_seq"),
    )


def model_detail(settings: Settings, version: str) -> ModelDetailPublic:
    """One model in full (``NotFound`` when the registry has no such folder)."""
    from classifier.errors import ModelLoadError
    from training.registry import ModelSummary, list_models, read_registry, show_model

    _known(settings.models_dir, version)
    try:
        detail = show_model(settings.models_dir, version)
        summary = ModelSummary(**detail["summary"])
        meta, evaluation, history = detail["meta"], detail["evaluation"], detail["history"]
    except ModelLoadError:
        # meta.json itself is unreadable: the folder is still shown, with what is wrong with it.
        try:
            summary = next(m for m in list_models(settings.models_dir) if m.version == version)
            history = read_registry(settings.models_dir)["history"]
        except ModelLoadError as exc:
            raise _unavailable(exc) from exc
        meta, evaluation = {}, None
        history = [h for h in history if version in (h.get("version"), h.get("previous"))]
    heads: dict[str, Any] = {}
    source: Literal["evaluation", "training", "none"] = "none"
    if evaluation is not None and isinstance(evaluation.get("heads"), dict):
        heads, source = evaluation["heads"], "evaluation"
    elif isinstance(meta.get("metrics"), dict):
        heads, source = meta["metrics"], "training"
    proposal = (evaluation or {}).get("proposal") or None
    split = meta.get("split") or {}
    return ModelDetailPublic(
        model=_model_public(summary),
        metrics={h: _head_metrics(m) for h, m in heads.items() if "accuracy" in m and "macro_f1" in m},
        metrics_source=source,
        proposal=ProposalMetricsPublic(
            letters=int(proposal.get("letters", 0)),
            needs_review_share=proposal.get("needs_review_share"),
            route_accuracy=proposal.get("route_accuracy"),
            confidential_recall_of_accusations=proposal.get("confidential_recall_of_accusations"),
        )
        if proposal
        else None,
        split={k: v for k, v in split.items() if v is None or isinstance(v, str | int | float)},
        decisions=_decision_counts(meta.get("decisions")),
        warnings=_warnings(meta, evaluation),
        history=[_history(h) for h in history if h.get("action") in ("promote", "rollback")],
    )


def _decision_counts(decisions: Any) -> dict[str, Any] | None:
    """The decisions' counts without ``replaced_ids``, the shared letters whose text a registered
    letter has: a reader of the models may not open every registered letter."""
    if not isinstance(decisions, dict):
        return None
    return {k: v for k, v in decisions.items() if k != "replaced_ids"}


def _warnings(meta: dict[str, Any], evaluation: dict[str, Any] | None) -> list[str]:
    """The training's warnings with the letters officers decided withheld (``training.report``)."""
    from training.report import officer_ids, withhold_letter_ids

    known = officer_ids({**(evaluation or {}), "decisions": meta.get("decisions")})
    decisions = meta.get("decisions") or {}
    # meta.json names at most 50 relabelled letters: past that, no letter's label is shown.
    incomplete = evaluation is None and int(decisions.get("replaced_shared_labels") or 0) > len(
        decisions.get("replaced_ids") or []
    )
    return [withhold_letter_ids(str(w), known, every_label=incomplete) for w in meta.get("warnings", [])]


def _comparison_public(comparison: dict[str, Any] | None, tolerance: float) -> ComparisonPublic | None:
    if not comparison:
        return None
    heads = {
        h: HeadComparisonPublic(
            candidate_macro_f1=c["candidate"]["macro_f1"],
            incumbent_macro_f1=c["incumbent"]["macro_f1"],
            delta_macro_f1=c["delta_macro_f1"],
            worse=c["delta_macro_f1"] < -tolerance,
        )
        for h, c in (comparison.get("heads") or {}).items()
    }
    return ComparisonPublic(
        incumbent=comparison.get("incumbent"),
        letters=comparison.get("letters"),
        how=comparison.get("how"),
        note=comparison.get("note"),
        heads=heads,
    )


def _evaluation_data(settings: Settings) -> Path | None:
    # The shared letters are needed only when the two models were held out from different letters.
    return settings.shared_data_dir if settings.shared_data_dir.is_dir() else None


def promote_version(
    session: Session,
    settings: Settings,
    user: User,
    version: str,
    *,
    refresh: Refresh,
    force: bool = False,
    reason: str | None = None,
) -> PromotionPublic:
    """Put ``version`` in service as ``user``; raises :class:`PromotionRefused` when it measured worse.

    ``refresh`` is called once the promotion is committed: the shell swaps in the new model and
    says which version it routes with now.
    """
    from classifier.errors import ModelLoadError
    from training.errors import TrainingError
    from training.registry import DEFAULT_TOLERANCE, RegistryError, promote

    if force and not reason:
        raise InvalidInput(
            "force needs a reason: say why a model that measured worse than the one in service should serve"
        )
    _known(settings.models_dir, version)
    actor = user.username
    previous = _in_service(settings.models_dir)
    if version == previous:
        raise Conflict(f"model {version} is already in service; nothing to promote")
    data_dir = _evaluation_data(settings)
    # On SQLite every transaction holds the write lock; the comparison must not hold up the officers.
    session.commit()
    try:
        result = promote(
            session,
            settings.models_dir,
            version,
            actor=actor,
            force=force,
            reason=reason,
            data_dir=data_dir,
            database_url=settings.database_url,
            rulebook_dir=settings.rulebook_dir,
        )
    except RegistryError as exc:
        raise Conflict(f"{exc}") from exc
    except ModelLoadError as exc:
        raise Conflict(
            f"model {version} is unusable and was not promoted: {exc}. Retrain it (`xinfang train`) or "
            "promote another version."
        ) from exc
    except TrainingError as exc:
        where = (
            f" The web app reads the shared data from XINFANG_SHARED_DATA_DIR ({settings.shared_data_dir}), "
            "which is not a folder: set it to the training data."
            if data_dir is None
            else ""
        )
        raise Conflict(f"model {version} could not be compared with {previous}: {exc}.{where}") from exc
    session.commit()  # the decision is on record (a refusal too) before anything else happens
    comparison = _comparison_public(result.comparison, DEFAULT_TOLERANCE)
    if not result.promoted:
        errors = [
            {
                "loc": ["heads", head],
                "msg": f"macro-F1 {c.candidate_macro_f1:.3f} < {c.incumbent_macro_f1:.3f} in service",
                "type": "worse_than_in_service",
            }
            for head, c in (comparison.heads if comparison else {}).items()
            if c.worse
        ]
        raise PromotionRefused(
            f"model {version} was not promoted: its metrics are worse than those of {result.previous}, the "
            f"model in service, on the same data ({'; '.join(result.worse)}). Improve it, or give force and "
            "a reason to promote it anyway.",
            errors,
            comparison,
        )
    serving = refresh()
    message = result.message
    if serving != version:
        message += (
            f"; this server still routes with {serving or 'no model'} (pinned by XINFANG_MODEL_VERSION, "
            "or the new model did not load: see the server log)"
        )
    return PromotionPublic(
        version=result.version,
        previous=result.previous,
        forced=result.forced,
        reason=result.reason,
        worse=result.worse,
        comparison=comparison,
        audit_seq=result.audit_seq,
        serving=serving,
        message=message,
    )


def rollback_version(
    session: Session, settings: Settings, user: User, *, refresh: Refresh, reason: str | None = None
) -> RollbackPublic:
    """Put the model that served before the current one back in service, as ``user`` (``refresh``
    as for :func:`promote_version`)."""
    from classifier.errors import ModelLoadError
    from training.registry import RegistryError, rollback

    actor = user.username
    _in_service(settings.models_dir)
    session.commit()
    try:
        result = rollback(session, settings.models_dir, actor=actor, reason=reason)
    except RegistryError as exc:
        raise Conflict(str(exc)) from exc
    except ModelLoadError as exc:
        raise Conflict(
            f"cannot roll back: {exc}. Restore that model's folder, or promote another version instead."
        ) from exc
    session.commit()
    serving = refresh()
    return RollbackPublic(
        version=result.version,
        previous=result.previous,
        reason=reason,
        audit_seq=result.audit_seq,
        serving=serving,
        message=result.message,
    )
