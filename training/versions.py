"""Which model folders the registry holds and which one is in service: reading ``models/registry.json``.

The part of the registry that evaluation and serving need without promotion: :mod:`training.registry`
writes the file (promotion, rollback, audited) and compares models through :mod:`training.evaluate`,
which in turn reads here which model is in service to compare a new one with. Keeping the reading
here lets that dependency run one way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from classifier.errors import ModelLoadError

REGISTRY_FILE = "registry.json"
DEFAULT_VERSION = "default"


def read_registry(models_dir: Path) -> dict[str, Any]:
    """The registry as stored; ``{"in_service": "default", "history": []}`` when there is none.

    Raises:
        ModelLoadError: the file exists but is unreadable.
    """
    path = Path(models_dir) / REGISTRY_FILE
    if not path.exists():
        return {"in_service": DEFAULT_VERSION, "history": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        in_service = str(data["in_service"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(
            f"{path} is unreadable ({exc}); restore it from its backup or remove it to serve the "
            "default model"
        ) from exc
    return {"in_service": in_service, "history": list(data.get("history", []))}


def promoted_version(models_dir: Path) -> str:
    """The version in service (``default`` when nothing was promoted)."""
    return str(read_registry(models_dir)["in_service"])


def resolve_model_dir(models_dir: Path, version: str | None = None) -> Path:
    """The folder of ``version``, or of the version in service when ``version`` is None."""
    version = version or promoted_version(models_dir)
    folder = Path(models_dir) / version
    if not folder.is_dir():
        raise ModelLoadError(
            f"no model {version!r} in {models_dir}; known versions: {known_versions(models_dir) or 'none'}. "
            "Train one with `xinfang train`."
        )
    return folder


def known_versions(models_dir: Path) -> list[str]:
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    return sorted(p.name for p in models_dir.iterdir() if p.is_dir() and (p / "meta.json").exists())


__all__ = [
    "DEFAULT_VERSION",
    "REGISTRY_FILE",
    "known_versions",
    "promoted_version",
    "read_registry",
    "resolve_model_dir",
]
