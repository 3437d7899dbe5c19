"""Saving and loading a model folder that explains itself.

A folder holds ``model.skops`` (the featurizer and heads, saved with skops, never pickle),
``labels.json``, ``userdict.txt`` (the user dictionary the segmenter was built with),
``config.toml`` (the exact training config) and ``meta.json`` (data hash, row counts, metrics per
label, library versions, ``trained_at``). Loading refuses types outside a trusted list and models
saved by library versions whose formats this installation cannot promise to read.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import zipfile
from pathlib import Path
from typing import Any

import skops.io as sio

from classifier.errors import IncompatibleModelError, ModelLoadError, UntrustedModelError
from classifier.model import TriageModel

MODEL_FILE = "model.skops"
META_FILE = "meta.json"
LABELS_FILE = "labels.json"
USERDICT_FILE = "userdict.txt"
CONFIG_FILE = "config.toml"
FORMAT_VERSION = 1

# Our own types that a model file may contain, beyond what skops trusts by default.
TRUSTED_TYPES = frozenset(
    {
        "classifier.segment.Segmenter",
        "classifier.features.LetterVectorizer",
        "classifier.model.LetterClassifier",
        "classifier.model.NBLinearSVC",
        "classifier.facts.FactDetector",
        "classifier.arbiter.ChannelArbiter",
        # the fact layer keeps its weights as sparse rows (most are zero): data, no code
        "scipy.sparse._csr.csr_matrix",
        # sentence embeddings beside or instead of TF-IDF (the encoder's weights are not saved)
        "classifier.embeddings.SentenceEncoder",
        "classifier.embeddings.LetterFeatures",
        # scikit-learn's own calibration internals, which skops does not list as safe by default
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
    }
)

# Libraries whose pickled internals must match for a model to load; compared on major.minor.
PINNED_LIBRARIES = ("scikit-learn", "skops", "numpy", "scipy")
RECORDED_LIBRARIES = (*PINNED_LIBRARIES, "jieba", "rjieba")


def library_versions() -> dict[str, str]:
    versions = {name: importlib.metadata.version(name) for name in RECORDED_LIBRARIES}
    versions["python"] = platform.python_version()
    return versions


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def save_model(model: TriageModel, folder: Path, *, config_text: str, userdict_text: str) -> Path:
    """Write ``model`` into ``folder`` (created); ``model.meta`` becomes ``meta.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {"featurizer": model.featurizer, "heads": model.heads}
    if model.facts is not None:
        payload["facts"] = model.facts
    if model.arbiter is not None:
        payload["arbiter"] = model.arbiter
    # Deflate level 6: measured on the shipped model, level 9 took 13 s to save against 5 s for a
    # file 0.4 % larger; saving is part of the training time budget.
    sio.dump(payload, folder / MODEL_FILE, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    labels = {name: [str(c) for c in head.classes_] for name, head in model.heads.items()}
    (folder / LABELS_FILE).write_text(json.dumps(labels, ensure_ascii=False, indent=2), encoding="utf-8")
    (folder / USERDICT_FILE).write_text(userdict_text, encoding="utf-8")
    (folder / CONFIG_FILE).write_text(config_text, encoding="utf-8")
    meta = {
        **model.meta,
        "version": model.version,
        "format_version": FORMAT_VERSION,
        "libraries": library_versions(),
        "heads": sorted(model.heads),
        "facts": list(model.facts.labels) if model.facts is not None else [],
    }
    (folder / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    return folder


def read_meta(folder: Path) -> dict[str, Any]:
    path = folder / META_FILE
    try:
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelLoadError(
            f"{folder} is not a model folder: {META_FILE} is missing. "
            "Point to a folder written by `xinfang train`, e.g. models/default."
        ) from exc
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"{path} is unreadable or not JSON ({exc}); retrain or restore the folder."
        ) from exc
    return meta


def check_compatibility(meta: dict[str, Any], folder: Path) -> None:
    if meta.get("format_version") != FORMAT_VERSION:
        raise IncompatibleModelError(
            f"{folder} has model format {meta.get('format_version')!r}; this xinfang reads format "
            f"{FORMAT_VERSION}. Retrain the model with `xinfang train`."
        )
    saved = meta.get("libraries", {})
    here = library_versions()
    for name in PINNED_LIBRARIES:
        if name not in saved:
            raise IncompatibleModelError(
                f"{folder}/{META_FILE} does not record the {name} version it was saved with."
            )
        if _major_minor(saved[name]) != _major_minor(here[name]):
            raise IncompatibleModelError(
                f"{folder} was saved with {name} {saved[name]}, but {name} {here[name]} is installed. "
                f"Install {name}=={saved[name]} or retrain the model with `xinfang train`."
            )


def load_model(folder: Path) -> TriageModel:
    """Load a model folder, refusing untrusted types and incompatible library versions."""
    folder = Path(folder)
    meta = read_meta(folder)
    check_compatibility(meta, folder)
    path = folder / MODEL_FILE
    try:
        untrusted = set(sio.get_untrusted_types(file=path))
    except FileNotFoundError as exc:
        raise ModelLoadError(
            f"{path} is missing; the model folder is incomplete. Retrain or restore it."
        ) from exc
    except (OSError, zipfile.BadZipFile, ValueError, KeyError) as exc:
        raise ModelLoadError(f"{path} is corrupt ({exc}); retrain or restore the model folder.") from exc
    unexpected = untrusted - TRUSTED_TYPES
    if unexpected:
        raise UntrustedModelError(
            f"{path} contains types that are not trusted: {sorted(unexpected)}. It was not loaded; "
            "only load models made by `xinfang train`."
        )
    try:
        payload = sio.load(path, trusted=sorted(untrusted))
    except Exception as exc:  # skops raises many types on corrupt payloads
        raise ModelLoadError(f"{path} could not be loaded ({type(exc).__name__}: {exc}).") from exc
    return TriageModel(
        featurizer=payload["featurizer"],
        heads=payload["heads"],
        facts=payload.get("facts"),  # models trained before the fact layer have none
        arbiter=payload.get("arbiter"),
        version=str(meta.get("version")),
        meta=meta,
    )
