"""The raw PostgreSQL ceiling for ticket creation: pgbench, one single-row INSERT per transaction.

A ticket-shaped row (bigserial key, a few text, int and timestamptz columns, no secondary indexes)
inserted by pgbench's C clients is as fast as this server commits one row at a time; an application's
tickets/s read against it show what its own work costs. The table is created and dropped here, so the
given database is left as it was.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

TABLE = "bench_pgbench_ticket"

CREATE = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (
    id bigserial PRIMARY KEY,
    reference text NOT NULL,
    subject text NOT NULL,
    description text NOT NULL,
    status text NOT NULL,
    priority integer NOT NULL,
    customer_id bigint NOT NULL,
    received_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""

SCRIPT = f"""\\set customer random(1, 10000)
\\set n random(1, 1000000000)
INSERT INTO {TABLE} (reference, subject, description, status, priority, customer_id, received_at)
VALUES ('ZX-' || :client_id || '-' || :n, 'Card annual fee enquiry ' || :n,
        'Customer asks whether the platinum card annual fee can be waived.', 'open', 3, :customer, now());
"""

TPS = re.compile(r"^tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)", re.M)
LATENCY = re.compile(r"^latency average = ([\d.]+) ms", re.M)
FAILED = re.compile(r"^number of failed transactions: (\d+)", re.M)


def libpq_dsn(url_or_dsn: str) -> str:
    """Accepts a SQLAlchemy URL (postgresql+psycopg://…) as well as a libpq URI or key=value DSN."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url_or_dsn)


def _psql(dsn: str, sql: str) -> str:
    psql = shutil.which("psql") or "psql"
    return subprocess.run([psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql],
                          capture_output=True, text=True, check=True).stdout.strip()


def insert_tps(url_or_dsn: str, *, clients: int = 16, duration_s: int = 20, threads: int = 2) -> dict[str, Any]:
    """Runs `pgbench -c clients -j threads -T duration_s -n -f <insert script>` on the database.

    Returns tps (without connection set-up), latency_avg_ms, rows (inserted, counted afterwards) and failed.
    """
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        raise RuntimeError("pgbench is not installed: run `make bench-tools`")
    dsn = libpq_dsn(url_or_dsn)
    _psql(dsn, CREATE)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "insert_ticket.sql"
            script.write_text(SCRIPT)
            result = subprocess.run([pgbench, "-n", "-c", str(clients), "-j", str(min(threads, clients)),
                                     "-T", str(duration_s), "-f", str(script), dsn],
                                    capture_output=True, text=True, timeout=duration_s + 60, check=False)
        tps, latency = TPS.search(result.stdout), LATENCY.search(result.stdout)
        if result.returncode != 0 or tps is None or latency is None:
            raise RuntimeError(f"pgbench failed ({result.returncode}): {result.stderr or result.stdout}")
        failed = FAILED.search(result.stdout)
        rows = int(_psql(dsn, f"SELECT count(*) FROM {TABLE}"))
    finally:
        _psql(dsn, f"DROP TABLE IF EXISTS {TABLE}")
    return {"tps": round(float(tps.group(1)), 1), "latency_avg_ms": round(float(latency.group(1)), 3),
            "rows": rows, "failed": int(failed.group(1)) if failed else 0, "clients": clients,
            "duration_s": duration_s}
