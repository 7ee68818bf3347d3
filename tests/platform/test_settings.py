"""Settings refuse to run production on placeholder or missing secrets."""

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine

from fincare.platform.config import ConfigurationError, Mode, Settings
from fincare.platform.db import UTCDateTime

REAL_KEY = base64.b64encode(bytes(range(40, 72))).decode()


@pytest.mark.parametrize("placeholder", ["change-me", "changeme", "secret", ""])
def test_production_refuses_a_placeholder_master_key(placeholder: str) -> None:
    with pytest.raises((ConfigurationError, ValidationError), match="placeholder"):
        Settings(mode=Mode.PRODUCTION, master_key=placeholder)


def test_production_refuses_to_start_without_a_master_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINCARE_MASTER_KEY", raising=False)
    with pytest.raises((ConfigurationError, ValidationError), match="required in production"):
        Settings(mode=Mode.PRODUCTION, _env_file=None)  # type: ignore[call-arg]


def test_a_short_or_low_entropy_key_is_refused() -> None:
    with pytest.raises((ConfigurationError, ValidationError)):
        Settings(mode=Mode.PRODUCTION, master_key=base64.b64encode(b"short").decode())
    with pytest.raises((ConfigurationError, ValidationError), match="entropy"):
        Settings(mode=Mode.PRODUCTION, master_key=base64.b64encode(b"\x00" * 32).decode())


def test_production_accepts_a_real_key() -> None:
    assert len(Settings(mode=Mode.PRODUCTION, master_key=REAL_KEY).master_key_bytes()) == 32


def test_demo_mode_creates_a_key_file_beside_the_sqlite_database(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINCARE_MASTER_KEY", raising=False)
    settings = Settings(mode=Mode.DEMO, database_url=f"sqlite:///{tmp_path}/demo.db", _env_file=None)  # type: ignore[call-arg]
    key = settings.master_key_bytes()
    key_file = tmp_path / "demo.key"
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert settings.master_key_bytes() == key  # reused, not regenerated


def test_utc_columns_refuse_naive_times_and_return_aware_utc(db: Engine) -> None:
    column = UTCDateTime()
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2026, 1, 1), db.dialect)
    shanghai = UTC.__class__(__import__("datetime").timedelta(hours=8))
    stored = column.process_bind_param(datetime(2026, 1, 1, 8, tzinfo=shanghai), db.dialect)
    loaded = column.process_result_value(stored, db.dialect)
    assert loaded == datetime(2026, 1, 1, 0, tzinfo=UTC)
    assert loaded is not None and loaded.tzinfo is not None
