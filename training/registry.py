"""The model registry: model folders under ``models/`` and which one is in service.

``models/registry.json`` names the promoted version; without it the shipped ``default`` serves.
"""

from __future__ import annotations

import json
from pathlib import Path

from classifier.errors import ModelLoadError

REGISTRY_FILE = "registry.json"
DEFAULT_VERSION = "default"


def promoted_version(models_dir: Path) -> str:
    path = Path(models_dir) / REGISTRY_FILE
    if not path.exists():
        return DEFAULT_VERSION
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["in_service"])
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"{path} is unreadable ({exc}); restore it or remove it to serve the default model") from exc


def resolve_model_dir(models_dir: Path, version: str | None = None) -> Path:
    """The folder of ``version``, or of the version in service when ``version`` is None."""
    version = version or promoted_version(models_dir)
    folder = Path(models_dir) / version
    if not folder.is_dir():
        known = sorted(p.name for p in Path(models_dir).iterdir() if p.is_dir()) if Path(models_dir).is_dir() else []
        raise ModelLoadError(f"no model {version!r} in {models_dir}; known versions: {known or 'none'}")
    return folder
