"""``xinfang serve``: a thin shell over uvicorn that refuses unsafe settings with a readable error."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli.commands.serve import serve
from service.settings import get_settings


def test_serve_help_names_its_options() -> None:
    result = CliRunner().invoke(serve, ["--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--workers", "--log-level"):
        assert option in result.output


@pytest.mark.parametrize("secret", [None, "", "short-secret"], ids=["default", "empty", "short"])
def test_serve_refuses_an_unsafe_secret_in_production(
    secret: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Refused before uvicorn starts; should it ever get that far, fail instead of serving forever.
    monkeypatch.setattr(
        "uvicorn.run", lambda *a, **k: pytest.fail("uvicorn was started with unsafe settings")
    )
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            serve, [], env={"XINFANG_ENVIRONMENT": "production", "XINFANG_SECRET_KEY": secret}
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert "XINFANG_SECRET_KEY" in result.output and "Traceback" not in result.output


def test_serve_refuses_a_port_out_of_range() -> None:
    result = CliRunner().invoke(serve, ["--port", "70000"])
    assert result.exit_code == 2 and "70000" in result.output
