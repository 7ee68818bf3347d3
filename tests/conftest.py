"""Test set-up: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is used when `FINCARE_TEST_POSTGRES_URL` is set or a server answers on 127.0.0.1:5432;
each run creates its own database and drops it at the end. With FINCARE_TEST_REQUIRE_POSTGRES=1
(CI) a missing server fails the run instead of skipping.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

os.environ["FINCARE_MODE"] = "test"
os.environ["FINCARE_MASTER_KEY"] = base64.b64encode(bytes(range(1, 33))).decode()
os.environ["FINCARE_LOG_JSON"] = "true"
os.environ.pop("FINCARE_DATABASE_URL", None)

from fincare.followups import service as followups_service
from fincare.platform import clock, keys
from fincare.platform.accounts import service as accounts
from fincare.platform.config import reset_settings
from fincare.platform.db import Base, make_engine, set_engine
from fincare.platform.migrations import upgrade
from fincare.registry import load_jobs, load_models
from fincare.scorecard import service as scorecard_service
from fincare.sla import service as sla_service

load_models()
load_jobs()

KEEP_TABLES = {"department", "complaint_code", "alembic_version"}  # reference data seeded by migrations
RESULTS = Path(__file__).resolve().parent.parent / "test-results"


def _postgres_admin_url() -> str | None:
    if url := os.environ.get("FINCARE_TEST_POSTGRES_URL"):
        return url
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    except OSError:
        return None


@dataclass
class Backend:
    name: str
    url: str
    template: Path | None = None  # SQLite: a migrated file copied for each test


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    if request.param == "sqlite":
        template = tmp_path_factory.mktemp("sqlite") / "template.db"
        upgrade(f"sqlite:///{template}")
        yield Backend("sqlite", f"sqlite:///{template}", template)
        return
    admin_url = _postgres_admin_url()
    if admin_url is None:
        if os.environ.get("FINCARE_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required (FINCARE_TEST_REQUIRE_POSTGRES=1) but no server answers")
        pytest.skip("no PostgreSQL server: set FINCARE_TEST_POSTGRES_URL or start one on 127.0.0.1:5432")
    name = f"fincare_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    try:
        yield Backend("postgresql", url)
    finally:
        set_engine(None)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def db(backend: Backend, tmp_path: Path) -> Iterator[Engine]:
    """A clean, migrated database for one test, installed as the process-wide engine."""
    if backend.template is not None:
        target = tmp_path / "fincare.db"
        shutil.copyfile(backend.template, target)
        url = f"sqlite:///{target}"
    else:
        url = backend.url
    os.environ["FINCARE_DATABASE_URL"] = url
    reset_settings()
    engine = make_engine(url)
    if backend.name == "postgresql":
        _truncate(engine)
    set_engine(engine)
    keys.keyring.forget()  # each test database has data keys of its own
    accounts.token_cache.clear()  # …and staff and tokens of its own
    yield engine
    set_engine(None)


def _truncate(engine: Engine) -> None:
    tables = [t.name for t in Base.metadata.sorted_tables if t.name not in KEEP_TABLES]
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        # tamper tests switch the guard off, as an attacker would; every test starts with it on
        connection.execute(text("ALTER TABLE audit_entry ENABLE TRIGGER ALL"))
        connection.execute(text("INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 0, :h)"),
                           {"h": "0" * 64})
    with Session(engine) as session:  # reference data the migrations seed
        sla_service.ensure_default_policies(session)
        followups_service.ensure_default_surveys(session)
        scorecard_service.ensure_plan(session)
        session.commit()


@pytest.fixture(scope="session")
def app():  # type: ignore[no-untyped-def]
    from fincare.app import create_app

    return create_app()


@pytest.fixture
def client(db: Engine, app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def frozen_clock() -> Iterator[clock.FrozenClock]:
    with clock.frozen(datetime(2026, 10, 12, 9, 30, tzinfo=UTC)) as frozen:
        yield frozen


# -- backend accounting for CI ----------------------------------------------------------------------

_passed: dict[str, int] = {"sqlite": 0, "postgresql": 0, "none": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        if "postgresql" in report.nodeid:
            _passed["postgresql"] += 1
        elif "sqlite" in report.nodeid:
            _passed["sqlite"] += 1
        else:
            _passed["none"] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "backends.json").write_text(json.dumps(_passed))


# -- personas -------------------------------------------------------------------------------------

from fincare.platform.permissions import Role  # noqa: E402
from tests.factories.accounts import Staff, make_staff  # noqa: E402
from tests.smtp import smtp  # noqa: E402, F401 - the fixture, for every test module


@pytest.fixture
def agent_li(db: Engine) -> Staff:
    return make_staff("agent_li", Role.AGENT)


@pytest.fixture
def supervisor_wang(db: Engine) -> Staff:
    return make_staff("supervisor_wang", Role.SUPERVISOR)


@pytest.fixture
def auditor_zhao(db: Engine) -> Staff:
    return make_staff("auditor_zhao", Role.AUDITOR, department="compliance", totp=True)


@pytest.fixture
def admin_root(db: Engine) -> Staff:
    return make_staff("admin_root", Role.ADMIN, department="it", totp=True)
