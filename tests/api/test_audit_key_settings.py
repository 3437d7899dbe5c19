"""The audit key's settings: production refuses the development key as it refuses the secret key,
and a key file is read (and a bad one reported) at start."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service.settings import DEVELOPMENT_AUDIT_KEY, Settings

SECRET = "s" * 40


def test_production_refuses_the_development_audit_key() -> None:
    with pytest.raises(ValidationError, match="XINFANG_AUDIT_KEY is the development default"):
        Settings(environment="production", secret_key=SECRET)
    with pytest.raises(ValidationError, match="shorter than 32 characters"):
        Settings(environment="production", secret_key=SECRET, audit_key="short")
    ok = Settings(environment="production", secret_key=SECRET, audit_key="k" * 32)
    assert ok.audit_key_bytes() == b"k" * 32
    assert Settings().audit_key_bytes() == DEVELOPMENT_AUDIT_KEY.encode()  # development runs as before


def test_a_key_file_is_read_and_a_bad_one_reported(tmp_path: Path) -> None:
    key = tmp_path / "audit.key"
    key.write_text("  " + "f" * 44 + "\n", encoding="utf-8")
    settings = Settings(environment="production", secret_key=SECRET, audit_key_file=key)
    assert settings.audit_key_bytes() == b"f" * 44
    with pytest.raises(ValidationError, match="cannot be read"):
        Settings(audit_key_file=tmp_path / "missing.key")
    key.write_text("too short", encoding="utf-8")
    with pytest.raises(ValidationError, match="holds 9 bytes"):
        Settings(audit_key_file=key)
