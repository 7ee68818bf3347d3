"""django-helpdesk 2.6.1, the open-source Django ticket tracker, as a peer for ticket-creation throughput.

It is installed from PyPI into its own virtualenv (bench-results/peers/helpdesk-venv, git-ignored) with the
pins in helpdesk-requirements.txt, so FinCare's dependencies never mix with Django's. `helpdesk_server()`
gives a throw-away PostgreSQL database, a migrated and seeded helpdesk, and gunicorn serving it (gthread,
2 workers x 4 threads: one process per core as FinCare's uvicorn gets, threads to overlap database waits
and keep connections alive like wrk expects). The peer's REST API creates tickets through the same
TicketForm the web UI uses, so a request does what a staff member's ticket creation does.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "helpdesk-requirements.txt"
VENV = Path(os.environ.get("FINCARE_BENCH_HELPDESK_VENV", ROOT / "bench-results" / "peers" / "helpdesk-venv"))
ADMIN_DSN = os.environ.get("FINCARE_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")

TICKET_BODY = json.dumps({
    "queue": 0,  # replaced by the seeded queue's id
    "title": "Card annual fee enquiry {{n}}",
    "description": "Customer asks whether the platinum card annual fee can be waived. Ref {{n}}.",
    "submitter_email": "customer{{n}}@example.com",
    "priority": 3,
})


@dataclass(frozen=True)
class Peer:
    """A running peer: POST `body` (with `{{n}}` made unique per request) to `url` with `headers`."""

    url: str
    headers: dict[str, str]
    body: str
    database: str
    base_url: str
    python: Path


def ensure_venv() -> Path:
    """Creates or refreshes the peer's virtualenv when the pins change; returns its python."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".requirements.sha256"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    if not python.exists():
        VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(digest)
    return python


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(database: str) -> dict[str, str]:
    parts = urlsplit(ADMIN_DSN)
    return {**os.environ, "PYTHONPATH": str(HERE), "DJANGO_SETTINGS_MODULE": "helpdesk_site.settings",
            "HELPDESK_BENCH_SECRET_KEY": secrets.token_urlsafe(32), "HELPDESK_BENCH_DB": database,
            "HELPDESK_BENCH_DB_HOST": parts.hostname or "127.0.0.1", "HELPDESK_BENCH_DB_PORT": str(parts.port or 5432),
            "HELPDESK_BENCH_DB_USER": parts.username or "postgres", "HELPDESK_BENCH_DB_PASSWORD": parts.password or ""}


def _wait_until_up(url: str, headers: dict[str, str], process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Polls the authenticated ticket list until gunicorn answers; any HTTP answer counts as up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback URL we built
            urllib.request.urlopen(request, timeout=2).close()  # noqa: S310
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"django-helpdesk did not answer at {url} within {timeout_s} s")


@contextmanager
def helpdesk_server(database: str | None = None, *, workers: int = 2, threads: int = 4) -> Iterator[Peer]:
    """Serves a freshly migrated django-helpdesk on a free loopback port; drops its database afterwards."""
    python = ensure_venv()
    database = database or f"helpdesk_bench_{uuid.uuid4().hex[:8]}"
    env = _environment(database)
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    process: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run([str(python), "-m", "django", "migrate", "--no-input", "-v", "0"], env=env, check=True)
        seeded = json.loads(subprocess.run([str(python), str(HERE / "helpdesk_site" / "setup_peer.py")], env=env,
                                           check=True, capture_output=True, text=True).stdout)
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen([str(python), "-m", "gunicorn", "helpdesk_site.wsgi:application",
                                    "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                                    "--worker-class", "gthread", "--threads", str(threads),
                                    "--keep-alive", "30", "--log-level", "warning"], env=env)
        url = f"{base_url}/helpdesk/api/tickets/"
        headers = {"Authorization": f"Token {seeded['token']}", "Content-Type": "application/json"}
        _wait_until_up(url, headers, process)
        body = TICKET_BODY.replace('"queue": 0', f'"queue": {seeded["queue"]}')
        yield Peer(url=url, headers=headers, body=body, database=database, base_url=base_url, python=python)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def peer_dsn(database: str) -> str:
    """The connection string of the peer's database."""
    return ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}"


def ticket_count(database: str) -> int:
    """Tickets in the peer's database, to check that load really created rows."""
    with psycopg.connect(peer_dsn(database)) as connection:
        row = connection.execute("SELECT count(*) FROM helpdesk_ticket").fetchone()
        return int(row[0]) if row else 0
