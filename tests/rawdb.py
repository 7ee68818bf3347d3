"""The bytes a database keeps, for tests that look for personal data stored in clear."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine


def raw_database(db: Engine) -> bytes:
    """SQLite: the database file and its write-ahead log; PostgreSQL: a data-only `pg_dump`."""
    if db.dialect.name == "sqlite":
        database = Path(db.url.database or "")
        return b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    return subprocess.run(["pg_dump", "--data-only", db.url.render_as_string(hide_password=False)
                           .replace("+psycopg", "")], capture_output=True, check=True).stdout
