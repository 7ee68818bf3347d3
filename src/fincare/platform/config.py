"""Typed settings read from the environment (prefix ``FINCARE_``) and checked on load.

Production refuses to start with a missing or placeholder master key; demo and test modes may
create a key file beside the SQLite database, with a warning.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

# Strings people paste from examples; a key that is one of them protects nothing.
PLACEHOLDER_SECRETS = frozenset(
    {"", "change-me", "changeme", "change_me", "secret", "password", "test", "demo", "fincare", "xxx"}
)


class Mode(StrEnum):
    PRODUCTION = "production"
    DEMO = "demo"
    TEST = "test"


class ConfigurationError(RuntimeError):
    """The settings cannot run FinCare safely; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FINCARE_", env_file=".env", extra="ignore")

    mode: Mode = Mode.PRODUCTION
    database_url: str = "sqlite:///./fincare.db"
    replica_url: str | None = None
    master_key: SecretStr | None = None
    master_key_file: Path | None = None
    timezone: str = "Asia/Shanghai"
    smtp_url: SecretStr | None = None  # may carry the mail account's password: never printed or logged
    public_url: str = "http://127.0.0.1:8000"  # where customers reach public pages (survey links)
    survey_throttle_days: int = Field(default=30, ge=0, le=365)  # at most one survey per customer per this
    survey_reminder_days: int = Field(default=3, ge=1, le=60)
    survey_link_days: int = Field(default=14, ge=1, le=365)
    # outbound messages to customers (platform.outbox)
    smtp_from: str = "FinCare <noreply@localhost>"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    sms_adapter: Literal["log"] = "log"
    outbox_max_attempts: int = Field(default=6, ge=1, le=100)
    # a high-risk complaint's reply waits for a second person's approval before it is sent
    high_risk_decision_approval: bool = True
    language: str = "zh-CN"
    # Behind a TLS-terminating proxy the app sees http; trust X-Forwarded-Proto from these hosts.
    forwarded_allow_ips: str = "127.0.0.1"
    # Requests each server process runs at once on its worker threads. A process runs one Python
    # thread at a time: more threads only overlap database round trips, and past a few they queue
    # on the interpreter lock in no order (ticket intake: p99 ~150 ms with 40 threads; with 2,
    # 5-25 % more tickets/s than with 1 at a lower p99, 2026-12-01).
    server_threads: int = Field(default=2, ge=1, le=64)
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    job_lease_seconds: int = Field(default=300, ge=1)
    job_max_attempts: int = Field(default=8, ge=1)
    log_json: bool = True

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.language not in ("zh-CN", "en"):
            raise ConfigurationError("FINCARE_LANGUAGE must be zh-CN or en")
        if self.mode is Mode.PRODUCTION and self.master_key is None and self.master_key_file is None:
            raise ConfigurationError(
                "FINCARE_MASTER_KEY or FINCARE_MASTER_KEY_FILE is required in production "
                "(run `fincare demo` for a throw-away institution)"
            )
        if self.master_key is not None:
            _decode_master_key(self.master_key.get_secret_value(), "FINCARE_MASTER_KEY")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def master_key_bytes(self) -> bytes:
        """The 32-byte master key; in demo/test mode a key file is created on first use."""
        if self.master_key is not None:
            return _decode_master_key(self.master_key.get_secret_value(), "FINCARE_MASTER_KEY")
        path = self.master_key_file or self._default_key_file()
        if not path.exists():
            if self.mode is Mode.PRODUCTION:
                raise ConfigurationError(f"FINCARE_MASTER_KEY_FILE {path} does not exist")
            log.warning("creating a new master key file %s; keep it safe, it decrypts all personal data", path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        return _decode_master_key(path.read_text().strip(), "FINCARE_MASTER_KEY_FILE")

    def _default_key_file(self) -> Path:
        if self.is_sqlite:
            db_path = self.database_url.split("///", 1)[-1] or "fincare.db"
            if db_path != ":memory:":
                return Path(db_path).resolve().with_suffix(".key")
        return Path("fincare.key").resolve()


def _decode_master_key(value: str, variable: str) -> bytes:
    if value.strip().lower() in PLACEHOLDER_SECRETS:
        raise ConfigurationError(f"{variable} is a placeholder; generate one with `openssl rand -base64 32`")
    try:
        key = bytes.fromhex(value) if len(value) == 64 else base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{variable} must be 32 bytes, base64 or hex encoded") from None
    if len(key) != 32:
        raise ConfigurationError(f"{variable} must decode to 32 bytes, not {len(key)}")
    if len(set(key)) < 8:
        raise ConfigurationError(f"{variable} has too little entropy to be a real key")
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests and the CLI change the environment)."""
    get_settings.cache_clear()
