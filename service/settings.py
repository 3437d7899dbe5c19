"""The service's one settings object, read from ``XINFANG_*`` environment variables and ``.env``.

Only the service and its shells (the CLI, the web app, batch workers) read settings; they pass
explicit values to ``classifier``, ``routing``, ``intake``, ``training`` and ``store``, which never
look at the environment. The router is built from them in one place, ``service.routers.load_router``.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_DEV_SECRET = "development-only-secret-change-me"
# Equal to store.audit_key.DEVELOPMENT_AUDIT_KEY (a test checks it): the key of a process given none.
DEVELOPMENT_AUDIT_KEY = "development-only-audit-key-change-me"


class Settings(BaseSettings):
    """Settings of a xinfang installation. Every field is documented; a test enforces it."""

    model_config = SettingsConfigDict(env_prefix="XINFANG_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        default="development", description="production refuses development secrets"
    )
    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'xinfang.sqlite3'}",
        description="SQLAlchemy URL; SQLite by default, postgresql+psycopg://... for PostgreSQL",
    )
    models_dir: Path = Field(default=PROJECT_ROOT / "models", description="the model registry folder")
    model_version: str | None = Field(
        default=None, description="serve this model version instead of the one promoted in the registry"
    )
    rulebook_dir: Path = Field(default=PROJECT_ROOT / "data" / "rulebook", description="rulebook YAML files")
    departments_file: Path = Field(
        default=PROJECT_ROOT / "data" / "departments.yaml", description="the department catalogue"
    )
    holidays_file: Path = Field(
        default=PROJECT_ROOT / "data" / "holidays.yaml",
        description="years of the State Council's holiday notices not yet in the bundled calendar",
    )
    shared_data_dir: Path = Field(
        default=PROJECT_ROOT.parent / "shared" / "data",
        description="training data (messages.csv, annotations)",
    )
    storage_dir: Path = Field(
        default=PROJECT_ROOT / "var" / "files", description="where uploaded and scanned source files are kept"
    )
    secret_key: str = Field(default=_DEV_SECRET, description="signs session cookies and CSRF tokens")
    audit_key: str = Field(
        default=DEVELOPMENT_AUDIT_KEY,
        description="keys the audit log's MACs; keep it off the database server and out of its backups",
    )
    audit_key_file: Path | None = Field(
        default=None,
        description="a file holding the audit key (read instead of audit_key), e.g. on a separate mount",
    )
    debris_after: int = Field(
        default=3600,
        ge=60,
        description="seconds after which a temporary upload folder or partial file in storage_dir whose "
        "owner cannot be checked is removed as debris (one whose owner is known to be dead goes at once)",
    )
    max_letter_chars: int = Field(default=200_000, description="longer letters are truncated and flagged")
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, description="largest accepted upload")
    max_batch_upload_bytes: int = Field(
        default=200 * 1024 * 1024,
        ge=1,
        description="largest batch upload (all its files together; each file stays under max_upload_bytes)",
    )
    session_max_age: int = Field(
        default=8 * 3600, ge=60, description="seconds a signed-in page session lasts (one working day)"
    )
    token_max_age: int = Field(default=8 * 3600, ge=60, description="seconds an API bearer token stays valid")
    login_attempts: int = Field(
        default=20, ge=1, description="sign-in attempts allowed per client address per login_window seconds"
    )
    login_window: int = Field(default=300, ge=1, description="seconds of the per-address sign-in rate limit")
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="consecutive failed sign-ins to one account from one address that lock it there",
    )
    login_lockout: int = Field(
        default=60, ge=1, description="seconds of the first lock; each further failure after it doubles it"
    )
    login_lockout_max: int = Field(default=3600, ge=1, description="seconds of the longest sign-in lock")
    migrate_on_start: bool = Field(
        default=True, description="the web app applies the database migrations when it starts"
    )
    preload_model: bool = Field(
        default=True, description="the web app loads the routing model when it starts, not on first use"
    )

    office_abbreviation: str = Field(
        default="某区",
        min_length=1,
        max_length=16,
        pattern=r"^[^\s〔〕]+$",
        description="the office's 机关代字 that begins each document number it issues, before the kind's "
        "prefix (某区 + 信转 → 某区信转〔2026〕12号); numbers count per abbreviation, kind and year",
    )
    office_name: str = Field(
        default="某区人民政府信访局",
        min_length=1,
        max_length=100,
        description="the office's full name, which signs the notices and letters it issues (落款)",
    )

    # The proposal's thresholds (routing.proposal.ProposalConfig, whose defaults these are; a test
    # keeps them equal). Analysts tune them from the evaluation report's review curve.
    proposal_min_confidence: float = Field(
        default=0.55,
        ge=0,
        le=1,
        description="a head's top-1 probability below this sends the letter to review",
    )
    proposal_min_margin: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="a head's top-1 minus top-2 below this sends the letter to review",
    )
    proposal_department_min_confidence: float = Field(
        default=0.35, ge=0, le=1, description="the department head's own review floor"
    )
    proposal_domain_min_confidence: float = Field(
        default=0.3, ge=0, le=1, description="the domain head's review floor (domains feed statistics only)"
    )
    proposal_confidential_threshold: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="P(accusation) at or above which a letter is kept confidential even when another "
        "category is on top (第三十条第三款)",
    )
    proposal_min_ocr_confidence: float = Field(
        default=0.85, ge=0, le=1, description="a scan read with less OCR confidence goes to review"
    )
    proposal_min_han_chars: int = Field(
        default=8, ge=0, description="a letter with fewer Chinese characters is too short to route"
    )
    proposal_top_k: int = Field(default=3, ge=1, description="how many labels each head reports")
    proposal_fact_show_floor: float = Field(
        default=0.3, ge=0, le=1, description="facts at or above this probability are shown with their span"
    )
    proposal_route_min_confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="the arbiter's top channel below this probability goes to review; unset takes the "
        "arbiter's own threshold, chosen when the model was trained",
    )
    proposal_statutory_fact_review_floor: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="a fact pointing to a statutory channel at or above this probability sends a "
        "proposal that takes none to review",
    )
    proposal_fact_floor: float = Field(
        default=0.5, ge=0, le=1, description="facts at or above this probability choose the route's clocks"
    )

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.environment == "production" and self.secret_key == _DEV_SECRET:
            raise ValueError(
                "XINFANG_SECRET_KEY is the development default; set a random value in production, "
                f"e.g. XINFANG_SECRET_KEY={secrets.token_urlsafe(32)}"
            )
        if self.environment == "production" and len(self.secret_key) < 32:
            raise ValueError(
                f"XINFANG_SECRET_KEY has {len(self.secret_key)} characters; production needs at least 32 "
                f"random ones, e.g. XINFANG_SECRET_KEY={secrets.token_urlsafe(32)}"
            )
        if self.audit_key_file is not None:
            self.audit_key_bytes()  # a key file that cannot be read is a mistake to report at start
        elif self.environment == "production" and (
            self.audit_key == DEVELOPMENT_AUDIT_KEY or len(self.audit_key) < 32
        ):
            raise ValueError(
                "XINFANG_AUDIT_KEY is the development default or shorter than 32 characters; in production "
                "set a random key kept away from the database, e.g. "
                f"XINFANG_AUDIT_KEY={secrets.token_urlsafe(32)}, or XINFANG_AUDIT_KEY_FILE=/path/to/key"
            )
        return self

    def audit_key_bytes(self) -> bytes:
        """The audit key: the file's content (surrounding whitespace dropped) or ``audit_key``.

        Raises:
            ValueError: the key file cannot be read or holds fewer than 32 bytes.
        """
        if self.audit_key_file is None:
            return self.audit_key.encode("utf-8")
        try:
            key = self.audit_key_file.read_bytes().strip()
        except OSError as exc:
            raise ValueError(
                f"XINFANG_AUDIT_KEY_FILE {self.audit_key_file} cannot be read ({exc.strerror}); "
                "check the path and that the service's user may read it"
            ) from None
        if len(key) < 32:
            raise ValueError(
                f"XINFANG_AUDIT_KEY_FILE {self.audit_key_file} holds {len(key)} bytes; the key needs at "
                f"least 32 random ones, e.g. {secrets.token_urlsafe(32)}"
            )
        return key

    def as_environment(self) -> dict[str, str]:
        """These settings as ``XINFANG_*`` variables, for a worker process of the same installation.

        A field left unset (``None``) is not exported, so the worker falls back to its default too.
        """
        out: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            out[f"XINFANG_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
        return out


@lru_cache
def get_settings() -> Settings:
    return Settings()
