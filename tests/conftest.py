from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database migrated once per test session; tests copy the file (a copy costs far
    less than a migration)."""
    from store.db import upgrade

    path = tmp_path_factory.mktemp("template") / "migrated.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real letters in ../shared/data; tests that need them skip on a fresh clone."""
    if not (SHARED_DATA / "messages.csv").exists():
        pytest.skip(f"needs the training data in {SHARED_DATA} (absent on a fresh clone)")
    return SHARED_DATA
