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
        if key not in node:
            raise ConfigError(f"unknown config key {dotted!r}; keys here: {sorted(node)}")
        node[key] = _parse_value(raw.strip())
    return out


def load_config(path: Path | None = None, overrides: Iterable[str] = ()) -> dict[str, Any]:
    path = Path(path or DEFAULT_CONFIG)
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read training config {path}: {exc}") from exc
    return apply_overrides(config, overrides)


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
