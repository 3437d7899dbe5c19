"""Property-based checks of the JSON API against its own OpenAPI schema (schemathesis).

Every operation is called with generated valid and invalid input: no response may be a 5xx, every
status code must be documented, and every body must match the schema of its status (errors
included, in the one error shape). Callers are authenticated as the role that may use the
operation, so generation reaches the handlers rather than stopping at 401.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_factories import PASSWORD, make_settings

from api.app import create_app

schemathesis = pytest.importorskip("schemathesis")
import hypothesis  # noqa: E402  (installed with schemathesis)
import hypothesis.errors  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def schema_app(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, standin_router: Any
) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("schema")
    path = folder / "schema.sqlite3"
    shutil.copyfile(sqlite_template, path)
    # Generated requests promote, roll back and upload: they get a registry and a store of their own,
    # never the project's models/ folder.
    (folder / "models").mkdir()
    settings = make_settings(
        f"sqlite:///{path}",
        login_attempts=100_000,
        models_dir=folder / "models",
        storage_dir=folder / "storage",
    )
    app = create_app(settings, router=standin_router)
    with TestClient(app):  # run the lifespan once
        yield app


@pytest.fixture(scope="module")
def tokens(schema_app: Any) -> dict[str, dict[str, str]]:
    client = TestClient(schema_app)
    out = {}
    for role in ("supervisor", "administrator"):
        r = client.post("/api/v1/auth/token", data={"username": role, "password": PASSWORD})
        assert r.status_code == 200, r.text
        out[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return out


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_api_conforms_to_its_schema(schema_app: Any, tokens: dict[str, dict[str, str]], mode: str) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", schema_app)
    generation_mode = schemathesis.GenerationMode(mode)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        path = operation.path
        role = "administrator" if "/users" in path else "supervisor"
        headers = {} if path.endswith("/auth/token") else tokens[role]

        try:
            _property(operation.as_strategy(generation_mode=generation_mode), headers)()
        except hypothesis.errors.Unsatisfiable:
            # An operation without parameters or body (the health check) has no invalid input to send.
            assert mode == "negative", f"{operation.label}: no valid input could be generated"
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}: {exc}")
    assert operations >= 10, f"only {operations} operations in the schema"
    assert not failures, "\n\n".join(failures)


def _property(strategy: Any, headers: dict[str, str]) -> Any:
    @hypothesis.settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    return run
