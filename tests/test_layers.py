"""The packages form layers, and a lower one never imports a higher one.

    classifier → routing → store → intake · training · casework → service → api · cli

Each package may import those to its left (and itself). The two shells, the web app (``api``) and
the command line (``cli``), share their operations through ``service`` and never import each
other; inside the web app the JSON routes and the pages share helpers through ``api`` modules and
never import each other. The web app reads the case's life only through ``service`` (its names,
enums and views included, from ``service.cases``): ``api`` never imports ``casework``. An import
hidden inside a function counts as much as one at the top: it is still a dependency, only a late
one. The README's package drawing is this table.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS: dict[str, int] = {
    "classifier": 0,
    "routing": 1,
    "store": 2,
    "intake": 3,
    "training": 3,
    "casework": 3,
    "service": 4,
    "api": 5,
    "cli": 5,
}
#: Packages of one layer that may use each other (none so far: each stands on the layers below).
SIBLINGS: frozenset[tuple[str, str]] = frozenset()
#: Packages a higher layer still may not import: the pages and JSON routes show a case as
#: ``service.cases`` gives it, so a change inside ``casework`` reaches the web app only through there.
BYPASSES: frozenset[tuple[str, str]] = frozenset({("api", "casework")})


def imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def sources(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)


def violations(package: str) -> list[str]:
    out = []
    for path in sources(package):
        for line, module in imports(path):
            target = module.split(".")[0]
            if target not in LAYERS or target == package or (package, target) in SIBLINGS:
                continue
            if LAYERS[target] >= LAYERS[package] or (package, target) in BYPASSES:
                out.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return out


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_no_package_imports_one_of_its_own_layer_or_above(package: str) -> None:
    assert (ROOT / package).is_dir(), f"{package}/ is in the layer table but not in the project"
    assert violations(package) == []


def test_every_package_is_in_the_layer_table() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages - {"tests", "bench", "scripts"} == set(LAYERS)


@pytest.mark.parametrize(("shell", "other"), [("routes", "pages"), ("pages", "routes")])
def test_the_json_routes_and_the_pages_do_not_import_each_other(shell: str, other: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sources(f"api/{shell}")
        for line, module in imports(path)
        if module == f"api.{other}" or module.startswith(f"api.{other}.")
    ]
    assert found == []


def test_the_checker_sees_a_late_import_of_a_higher_layer(tmp_path: Path) -> None:
    # The test above is only as good as the import finder: an import inside a function counts.
    source = tmp_path / "late.py"
    source.write_text("def f():\n    from api.app import create_app\n    return create_app\n")
    assert (2, "api.app") in list(imports(source))


def test_the_web_app_imports_nothing_of_casework(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Not vacuous: a page importing a casework module, at the top or late, is a violation.
    package = tmp_path / "api"
    package.mkdir()
    (package / "page.py").write_text(
        "from casework.states import STEP_NAMES\n\ndef f():\n    import casework.clocks\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert violations("api") == [
        "api/page.py:1 imports casework.states",
        "api/page.py:4 imports casework.clocks",
    ]
