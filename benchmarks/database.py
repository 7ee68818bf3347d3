"""Throw-away benchmark databases: a migrated PostgreSQL or SQLite database created and dropped per scenario."""

from __future__ import annotations

import base64
import os
import secrets
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

os.environ.setdefault("FINCARE_MODE", "test")
os.environ.setdefault("FINCARE_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())

from fincare.platform.config import reset_settings
from fincare.platform.db import make_engine, set_engine
from fincare.platform.migrations import upgrade

ADMIN_URL = os.environ.get("FINCARE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def postgres_database(*, pool_size: int = 20) -> Iterator[Engine]:
    """A fresh, migrated PostgreSQL database installed as FinCare's engine; dropped afterwards."""
    name = f"fincare_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    os.environ["FINCARE_DATABASE_URL"] = url
    reset_settings()
    try:
        upgrade(url)
        engine = make_engine(url, pool_size=pool_size)
        set_engine(engine)
        yield engine
    finally:
        set_engine(None)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def sqlite_database() -> Iterator[Engine]:
    """A fresh, migrated SQLite database file installed as FinCare's engine; deleted afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        os.environ["FINCARE_DATABASE_URL"] = url
        reset_settings()
        upgrade(url)
        engine = make_engine(url)
        set_engine(engine)
        try:
            yield engine
        finally:
            set_engine(None)  # disposes the engine


def postgres_version(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("SHOW server_version")).scalar())
