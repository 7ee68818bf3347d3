"""Customer import at scale, on PostgreSQL and on SQLite, against a plain bulk INSERT of the same rows
(no validation, encryption or blind indexes) in the same run; then exact lookup by phone.

`FINCARE_BENCH_CUSTOMERS` sets the number of rows (default 1,000,000).
"""

from __future__ import annotations

import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

from benchmarks.database import postgres_database
from fincare.customers import identity
from fincare.customers.importer import COLUMNS
from fincare.customers.models import Customer
from fincare.demo.people import synthetic_customer
from fincare.platform import keys
from fincare.platform.db import make_engine, set_engine, unit_of_work
from fincare.platform.migrations import upgrade

ROWS = int(os.environ.get("FINCARE_BENCH_CUSTOMERS", "1000000"))
BATCH = 5000
LOOKUPS = 2000
def generate(path: Path, rows: int, seed: int = 11) -> list[str]:
    """A realistic customer file; returns a sample of phones for the lookup test."""
    rng = random.Random(seed)
    phones: list[str] = []
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for n in range(rows):
            row = synthetic_customer(rng, n)
            if n % (rows // LOOKUPS or 1) == 0:
                phones.append(row["phone"])
            writer.writerow(row)
    return phones


def import_with_fincare(path: Path, url: str, *options: str) -> tuple[float, int, dict[str, Any]]:
    """Runs the real CLI in a child process; returns seconds, the child's peak RSS (KiB) and its report."""
    env = {**os.environ, "FINCARE_DATABASE_URL": url}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "fincare", "import", "customers", str(path), *options,
                             "--batch", str(BATCH), "--json"], capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before), json.loads(result.stdout)


def plain_insert(path: Path, url: str) -> float:
    """The same rows, as text, bulk-inserted in batches of the same size: the physical baseline."""
    engine = make_engine(url)
    table = Table("bench_plain_customer", MetaData(), Column("id", Integer, primary_key=True),
                  *(Column(name, String(400)) for name in COLUMNS))
    table.create(engine)
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as stream, engine.begin() as connection:
        reader = csv.DictReader(stream)
        batch: list[dict[str, str]] = []
        for row in reader:
            batch.append(row)
            if len(batch) >= BATCH:
                connection.execute(insert(table), batch)
                batch.clear()
        if batch:
            connection.execute(insert(table), batch)
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds


def lookups(url: str, phones: list[str]) -> dict[str, float]:
    set_engine(make_engine(url))
    keys.keyring.forget()
    timings = []
    for phone in phones:
        started = time.perf_counter()
        with unit_of_work(read_only=True) as session:
            found = session.execute(select(Customer.id).where(
                Customer.phone_lookup == keys.blind_index("phone", identity.mobile(phone)))).scalars().all()
        timings.append((time.perf_counter() - started) * 1000)
        assert len(found) == 1, phone
    set_engine(None)
    timings.sort()
    return {"lookup_p50_ms": round(statistics.median(timings), 3),
            "lookup_p99_ms": round(timings[int(len(timings) * 0.99) - 1], 3)}


def measure(backend: str, url: str, path: Path, phones: list[str], plain_url: str,
            skip_url: str) -> dict[str, Any]:
    """The default import (all or nothing: one transaction) against the plain INSERT, then the same
    file with --skip-bad-rows (a transaction per batch) into an empty database of its own."""
    plain_seconds = plain_insert(path, plain_url)
    seconds, peak_kib, report = import_with_fincare(path, url)
    assert report["created"] == ROWS, report
    skip_seconds, skip_peak_kib, report = import_with_fincare(path, skip_url, "--skip-bad-rows")
    assert report["created"] == ROWS, report
    return {"backend": backend, "rows": ROWS, "fincare_rows_per_s": round(ROWS / seconds),
            "plain_insert_rows_per_s": round(ROWS / plain_seconds),
            "ratio_to_plain": round(plain_seconds / seconds, 3), "peak_rss_mib": round(peak_kib / 1024),
            "skip_bad_rows_rows_per_s": round(ROWS / skip_seconds), "skip_bad_rows_ratio": round(
                plain_seconds / skip_seconds, 3), "skip_bad_rows_peak_rss_mib": round(skip_peak_kib / 1024),
            **lookups(url, phones)}


def run() -> dict[str, Any]:
    results: dict[str, Any] = {"scenario": "customer_import", "rows": ROWS, "goal_rows_per_s": 20000,
                               "goal_ratio": 0.5, "goal_lookup_p99_ms": 5}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "customers.csv"
        started = time.perf_counter()
        phones = generate(path, ROWS)
        results["generate_seconds"] = round(time.perf_counter() - started, 1)
        with postgres_database() as engine, postgres_database() as skip_engine:
            url = engine.url.render_as_string(hide_password=False)
            results["postgresql"] = measure("postgresql", url, path, phones, url,
                                            skip_engine.url.render_as_string(hide_password=False))
        sqlite_path, skip_path = Path(tmp) / "bench.db", Path(tmp) / "skip.db"
        plain_path = Path(tmp) / "plain.db"
        upgrade(f"sqlite:///{sqlite_path}")
        upgrade(f"sqlite:///{skip_path}")
        create_engine(f"sqlite:///{plain_path}").dispose()
        results["sqlite"] = measure("sqlite", f"sqlite:///{sqlite_path}", path, phones, f"sqlite:///{plain_path}",
                                    f"sqlite:///{skip_path}")
    return results


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False))
