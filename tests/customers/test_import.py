"""`fincare import customers`: row errors with line and column, all-or-nothing or skip, idempotent."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from fincare.customers.importer import COLUMNS
from fincare.customers.models import Customer, CustomerCard
from fincare.platform.db import unit_of_work
from tests.factories import customers as make
from tests.factories.accounts import Staff
from tests.platform.test_cli import fincare


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def row(n: int, **overrides: str) -> dict[str, str]:
    body = make.individual()
    return {"external_id": f"EXT-{n}", "kind": "individual", "name": body["name"], "id_number": body["id_number"],
            "credit_code": "", "phone": body["phone"], "email": f"c{n}@example.com", "address": body["address"],
            "cards": f"{make.card()};{make.card()}", "risk_tolerance": "C2", "risk_assessed_on": "2026-01-15",
            "service_lines": "cards;loans", "branch": "上海分行", "segment": "mass", "tags": "payroll", **overrides}


def counts() -> tuple[int, int]:
    with unit_of_work(read_only=True) as session:
        return (session.execute(select(func.count()).select_from(Customer)).scalar_one(),
                session.execute(select(func.count()).select_from(CustomerCard)).scalar_one())


def test_a_clean_file_imports_and_a_rerun_updates_instead_of_duplicating(db: Engine, tmp_path: Path) -> None:
    rows = [row(n) for n in range(25)]
    path = write_csv(tmp_path / "customers.csv", rows)
    first = fincare("import", "customers", str(path), "--batch", "10", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) | {"error_report": None} == {"rows": 25, "created": 25, "updated": 0,
                                                                  "errors": 0, "error_report": None, "imported": True}
    assert counts() == (25, 50)
    rows[3]["segment"] = "vip"
    write_csv(path, rows)
    again = json.loads(fincare("import", "customers", str(path), "--json").stdout)
    assert again["created"] == 0 and again["updated"] == 25
    assert counts() == (25, 50)
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(Customer.segment).where(Customer.external_id == "EXT-3")).scalar_one() == "vip"


def test_bad_rows_are_reported_by_line_and_column_and_nothing_is_imported(db: Engine, tmp_path: Path) -> None:
    rows = [row(0), row(1, phone="12345"), row(2), row(3, id_number="110105198503121239X"), row(4, kind="")]
    path = write_csv(tmp_path / "in.csv", rows)
    result = fincare("import", "customers", str(path), "--json")
    assert result.returncode == 1
    assert "nothing imported" in result.stderr
    assert counts() == (0, 0)
    with (tmp_path / "in.csv.errors.csv").open() as report:
        errors = list(csv.DictReader(report))
    assert [(e["line"], e["column"]) for e in errors] == [("3", "phone"), ("5", "id_number"), ("6", "kind")]
    assert all(rows[1]["phone"] not in e["reason"] for e in errors)


def test_skip_bad_rows_imports_the_good_ones(db: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [row(0), row(1, email="not-an-email"), row(2)])
    result = fincare("import", "customers", str(path), "--skip-bad-rows", "--errors", str(tmp_path / "bad.csv"),
                     "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["created"] == 2
    assert counts()[0] == 2
    assert (tmp_path / "bad.csv").read_text().splitlines()[1] == "3,email,this is not an e-mail address"


def test_an_error_report_that_cannot_be_written_is_refused_before_any_row_is(db: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [row(0), row(1, email="not-an-email")])
    for report in (tmp_path / "missing" / "bad.csv", tmp_path):
        result = fincare("import", "customers", str(path), "--skip-bad-rows", "--errors", str(report))
        assert result.returncode == 1 and "errors:" in result.stderr and "Traceback" not in result.stderr
    assert counts() == (0, 0)


def test_a_customer_erased_on_request_is_not_brought_back_by_importing_the_source_again(
        client: TestClient, agent_li: Staff, db: Engine, tmp_path: Path) -> None:
    from fincare.customers.models import ErasedExternalId
    from tests.customers.test_rights import compliance

    path = write_csv(tmp_path / "in.csv", [row(0), row(1), row(2)])
    assert fincare("import", "customers", str(path)).returncode == 0
    with unit_of_work(read_only=True) as session:
        erased_id = session.execute(select(Customer.id).where(Customer.external_id == "EXT-1")).scalar_one()
    ended = (date.today() - timedelta(days=6 * 365)).isoformat()
    outcome = client.post(f"/api/v1/customers/{erased_id}/erase", json={"relationship_ended_on": ended},
                          headers=compliance(db).headers)
    assert outcome.status_code == 200 and outcome.json()["status"] == "erased", outcome.text
    again = fincare("import", "customers", str(path), "--skip-bad-rows", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) | {"error_report": None} == {
        "rows": 3, "created": 0, "updated": 2, "errors": 1, "error_report": None, "imported": True}
    assert (tmp_path / "in.csv.errors.csv").read_text().splitlines()[1].startswith("3,external_id,this customer's")
    assert counts()[0] == 3  # the erased record stays anonymous; nobody was created again
    with unit_of_work(read_only=True) as session:
        kept = session.execute(select(ErasedExternalId.lookup)).scalars().all()
    assert len(kept) == 1 and b"EXT-1" not in kept[0]  # a keyed digest, not the id


def test_an_unknown_column_is_refused_before_anything_is_read(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("kind,name,shoe_size\nindividual,张三,42\n", encoding="utf-8")
    result = fincare("import", "customers", str(path))
    assert result.returncode == 1
    assert "shoe_size" in result.stderr


def test_a_control_character_in_a_cell_is_a_row_error_naming_its_column(db: Engine, tmp_path: Path) -> None:
    rows = [row(0), row(1, name="张\x00三"), row(2, tags="vip;\x07bell"), row(3)]
    path = write_csv(tmp_path / "in.csv", rows)
    for workers in ("0", "1"):  # read and prepared in this process, or by a worker from a block of the file
        result = fincare("import", "customers", str(path), "--workers", workers, "--json")
        assert result.returncode == 1, result.stderr
        assert counts() == (0, 0)
        with (tmp_path / "in.csv.errors.csv").open() as report:
            errors = [(e["line"], e["column"], e["reason"]) for e in csv.DictReader(report)]
        assert errors == [("3", "name", "control characters are not allowed"),
                          ("4", "tags", "control characters are not allowed")], workers
    rows[1]["address"] = "上海市\n浦东新区"  # a line break is text, as in the API
    rows[1]["name"], rows[2]["tags"] = "张三", "vip"
    assert fincare("import", "customers", str(write_csv(path, rows)), "--json").returncode == 0
    assert counts()[0] == 4
