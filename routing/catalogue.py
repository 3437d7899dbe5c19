"""The department catalogue (``data/departments.yaml``): codes, names and duties."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from routing.errors import CatalogueError, UnknownCodeError

DEFAULT_CATALOGUE = Path(__file__).resolve().parent.parent / "data" / "departments.yaml"


class Department(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    name: str
    duties: str


class Catalogue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    departments: tuple[Department, ...]

    def get(self, code: str) -> Department:
        for d in self.departments:
            if d.code == code:
                return d
        raise UnknownCodeError(f"unknown department code {code!r}; known codes: {', '.join(self.codes)}")

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(d.code for d in self.departments)

    def name(self, code: str) -> str:
        return self.get(code).name


@lru_cache(maxsize=8)
def load_catalogue(path: Path = DEFAULT_CATALOGUE) -> Catalogue:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        catalogue = Catalogue.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise CatalogueError(f"cannot load the department catalogue {path}: {exc}") from exc
    if len(set(catalogue.codes)) != len(catalogue.codes):
        raise CatalogueError(f"{path}: department codes must be unique")
    return catalogue
