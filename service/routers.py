"""The one way a shell builds the router of its installation: :func:`load_router`.

The web app (``api.deps.RouterHolder``, for every model it swaps in), ``xinfang route``,
``xinfang triage`` and the batch worker (``xinfang batches resume``, through
:class:`InstallationRouter`) all call it, so each routes with the same rulebook, department
catalogue, letter length cap and proposal thresholds, all from the installation's settings.

Nothing heavy is imported at module level: the router pulls in scikit-learn and skops (seconds),
and the commands that never route import this module too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from service.settings import Settings

if TYPE_CHECKING:
    from routing.proposal import ProposalConfig
    from routing.router import Router


def proposal_config(settings: Settings) -> ProposalConfig:
    """The proposal thresholds of ``settings`` (``XINFANG_PROPOSAL_*``)."""
    from routing.proposal import ProposalConfig

    return ProposalConfig(
        min_confidence=settings.proposal_min_confidence,
        min_margin=settings.proposal_min_margin,
        department_min_confidence=settings.proposal_department_min_confidence,
        domain_min_confidence=settings.proposal_domain_min_confidence,
        confidential_threshold=settings.proposal_confidential_threshold,
        min_ocr_confidence=settings.proposal_min_ocr_confidence,
        min_han_chars=settings.proposal_min_han_chars,
        top_k=settings.proposal_top_k,
        fact_show_floor=settings.proposal_fact_show_floor,
        route_min_confidence=settings.proposal_route_min_confidence,
        fact_floor=settings.proposal_fact_floor,
        statutory_fact_review_floor=settings.proposal_statutory_fact_review_floor,
    )


def model_dir_of(settings: Settings, model: Path | None = None) -> Path:
    """``model`` if given, else the folder of the model in service (``XINFANG_MODEL_VERSION`` or the
    registry's).

    Raises:
        ModelLoadError: the registry names no usable folder.
    """
    if model is not None:
        return Path(model)
    from training.registry import resolve_model_dir

    return resolve_model_dir(settings.models_dir, settings.model_version)


def load_router(settings: Settings, model_dir: Path | None = None) -> Router:
    """The router of the installation: the model in ``model_dir`` (default: the one in service)
    with the settings' rulebook, department catalogue, length cap and proposal thresholds.

    Raises:
        ModelLoadError: no model in service, or the folder does not load.
    """
    from routing.calendar import use_holidays
    from routing.router import Router

    # Batch workers route in processes of their own: each takes the installation's holiday file here.
    use_holidays(settings.holidays_file)
    return Router.load(
        model_dir_of(settings, model_dir),
        rulebook_dir=settings.rulebook_dir,
        catalogue_path=settings.departments_file,
        config=proposal_config(settings),
        max_chars=settings.max_letter_chars,
    )


_CACHE_LOCK = threading.Lock()
_ROUTERS: dict[tuple[str, str], Router] = {}


@dataclass(frozen=True)
class InstallationRouter:
    """:func:`load_router` for batch triage: called once per process, then the same router.

    A value that pickles, so a Dask worker on another machine gets it with the job and builds the
    router there from the same settings.

    Args:
        model_dir: the model folder, resolved once by the command so every worker uses the same.
        settings: the installation's settings.
    """

    model_dir: Path
    settings: Settings = field(compare=False, repr=False)

    def __call__(self) -> Router:
        key = (str(self.model_dir), self.settings.model_dump_json())
        with _CACHE_LOCK:
            router = _ROUTERS.get(key)
            if router is None:
                router = load_router(self.settings, self.model_dir)
                _ROUTERS[key] = router
            return router
