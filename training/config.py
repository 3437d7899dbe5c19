"""Training configs: a versioned TOML file plus ``section.key=value`` overrides from the command line."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from training.errors import ConfigError

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "default.toml"


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw  # a bare word is a string


def apply_overrides(config: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``config`` with ``section.key=value`` overrides applied.

    Only existing keys can be overridden, so a typo is an error rather than a silently ignored
    setting.
    """
    out = copy.deepcopy(config)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        dotted, raw = item.split("=", 1)
        *path, key = dotted.strip().split(".")
        node = out
        for part in path:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"unknown config section {dotted!r}; sections: {sorted(out)}")
            node = node[part]
        if key not in node or isinstance(node[key], dict):
            raise ConfigError(f"unknown config key {dotted!r}; keys here: {sorted(node)}")
        value = _parse_value(raw.strip())
        _check_type(dotted, node[key], value)
        node[key] = value
    return out


def _check_type(dotted: str, old: Any, new: Any) -> None:
    # An int where a float is expected is fine (C=1); anything else must keep its type, so
    # `heads.category.C=abc` fails here instead of deep inside scikit-learn.
    if isinstance(old, bool) or isinstance(new, bool):
        same = isinstance(old, bool) and isinstance(new, bool)
    elif isinstance(old, float):
        same = isinstance(new, (int, float))
    else:
        same = type(old) is type(new)
    if not same:
        raise ConfigError(
            f"{dotted} must be {type(old).__name__} like {json.dumps(old, ensure_ascii=False)}, "
            f"got {type(new).__name__} {json.dumps(new, ensure_ascii=False)}"
        )


def check_keys(config: dict[str, Any], reference: dict[str, Any], prefix: str = "") -> None:
    """Refuse sections and keys that ``reference`` (the default config) does not have."""
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if key not in reference:
            raise ConfigError(
                f"unknown config key {dotted!r}; known here: {sorted(reference)}. "
                f"Every key is listed in {DEFAULT_CONFIG}."
            )
        if isinstance(reference[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{dotted} must be a section [{dotted}], got {value!r}")
            check_keys(value, reference[key], dotted + ".")
        else:
            _check_type(dotted, reference[key], value)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read training config {path}: {exc}") from exc


def load_config(path: Path | None = None, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Read a training config and apply ``section.key=value`` overrides.

    A config file other than the default must use the default's sections and keys (it may leave
    some out: those keep the default's value), so a misspelt key is an error, not a silent default.
    """
    default = _read(DEFAULT_CONFIG)
    path = Path(path or DEFAULT_CONFIG)
    if path.resolve() == DEFAULT_CONFIG.resolve():
        config = default
    else:
        given = _read(path)
        check_keys(given, default)
        config = _merge(default, given)
    return apply_overrides(config, overrides)


def _merge(base: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in given.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) else value
    return out


def dump_toml(config: dict[str, Any]) -> str:
    """Write a config back as TOML (flat tables and scalar values, which is all configs hold)."""
    lines: list[str] = []

    def table(prefix: str, node: dict[str, Any]) -> None:
        scalars = {k: v for k, v in node.items() if not isinstance(v, dict)}
        if scalars and prefix:
            lines.append(f"[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{k} = {json.dumps(v, ensure_ascii=False)}")
        if scalars:
            lines.append("")
        for k, v in node.items():
            if isinstance(v, dict):
                table(f"{prefix}.{k}" if prefix else k, v)

    table("", config)
    return "\n".join(lines)
