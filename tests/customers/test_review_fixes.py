"""Regressions for defects found in review: secrets at rest, chain forgery, wrong-kind requests,
unaudited edits, restricted records leaking, and bad input that used to reach the database."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from fincare.platform.audit_trail.models import AuditEntry
from fincare.platform.db import unit_of_work
from fincare.platform.idempotency import IdempotencyRecord
from fincare.platform.permissions import Role
from tests.customers.test_import import row, write_csv
from tests.factories import customers as make
from tests.factories.accounts import Staff, make_staff
from tests.platform.test_cli import fincare


def test_idempotent_replays_keep_no_secret_in_clear(client: TestClient, admin_root: Staff) -> None:
    headers = {**admin_root.headers, "Idempotency-Key": "tok-1"}
    token = client.post("/api/v1/tokens", json={"name": "ci"}, headers=headers).json()["token"]
    with unit_of_work(read_only=True) as session:
        stored = session.execute(select(IdempotencyRecord.response)).scalar_one()
    assert token not in stored
    assert client.post("/api/v1/tokens", json={"name": "ci"}, headers=headers).json()["token"] == token


def test_a_chain_recomputed_without_the_key_is_detected(db: Engine) -> None:
    from fincare.platform import audit_trail
    from fincare.platform.permissions import SYSTEM

    with unit_of_work() as session:
        for i in range(4):
            audit_trail.record(session, actor=SYSTEM, action="test.x", subject=("t", i))
    with unit_of_work() as session:
        assert audit_trail.verify(session).ok
    # an attacker with database access only: rewrite entry 1 and recompute every hash with SHA-256
    with db.begin() as connection:
        if db.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_guard"))
        else:
            connection.execute(text("DROP TRIGGER audit_entry_sealed"))
        connection.execute(text("UPDATE audit_entry SET actor_name = 'mallory' WHERE seq = 1"))
    with unit_of_work() as session:
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        from fincare.platform.audit_trail.service import _canonical

        prev, forged = "0" * 64, []
        for entry in rows:
            digest = hashlib.sha256(prev.encode() + b"\n" + _canonical(entry, entry.seq)).hexdigest()
            forged.append((entry.id, prev, digest))
            prev = digest
    with db.begin() as connection:
        for entry_id, prev_hash, digest in forged:
            connection.execute(text("UPDATE audit_entry SET prev_hash = :p, hash = :h WHERE id = :i"),
                               {"p": prev_hash, "h": digest, "i": entry_id})
        connection.execute(text("UPDATE audit_chain_head SET hash = :h"), {"h": prev})
    with unit_of_work() as session:
        result = audit_trail.verify(session)
    assert not result.ok and result.first_bad_seq == 1


def test_an_access_request_cannot_be_used_to_erase(client: TestClient, agent_li: Staff, db: Engine) -> None:
    officer = make_staff("compliance_qian", Role.COMPLIANCE_OFFICER, department="compliance", totp=True)
    customer = client.post("/api/v1/customers", json=make.individual(), headers=agent_li.headers).json()
    access = client.post(f"/api/v1/customers/{customer['id']}/rights-requests", json={"kind": "access"},
                         headers=agent_li.headers).json()
    response = client.post(f"/api/v1/customers/{customer['id']}/erase",
                           json={"rights_request_id": access["id"], "relationship_ended_on": "2015-01-01"},
                           headers=officer.headers)
    assert response.status_code == 422 and response.json()["error"]["field"] == "rights_request_id"
    assert client.get(f"/api/v1/customers/{customer['id']}", headers=agent_li.headers).status_code == 200


def test_a_new_value_with_the_same_mask_is_still_audited(client: TestClient, agent_li: Staff) -> None:
    customer = client.post("/api/v1/customers", json=make.individual(name="张三明", phone="13812345678"),
                           headers=agent_li.headers).json()
    client.patch(f"/api/v1/customers/{customer['id']}", json={"name": "张四明", "phone": "13899995678"},
                 headers=agent_li.headers)
    with unit_of_work(read_only=True) as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "customer.updated")).scalar_one()
    assert set(entry.after or {}) == {"name", "phone"}


def test_agents_cannot_list_or_touch_restricted_customers(client: TestClient, agent_li: Staff, db: Engine) -> None:
    officer = make_staff("compliance_qian", Role.COMPLIANCE_OFFICER, department="compliance", totp=True)
    customer = client.post("/api/v1/customers", json=make.individual(), headers=agent_li.headers).json()
    client.post(f"/api/v1/customers/{customer['id']}/erase", json={"relationship_ended_on": "2025-06-01"},
                headers=officer.headers)
    listed = client.get("/api/v1/customers", params={"status": "restricted"}, headers=agent_li.headers).json()
    assert listed == []
    consent = client.post(f"/api/v1/customers/{customer['id']}/consents",
                          json={"purpose": "marketing", "granted": True}, headers=agent_li.headers)
    assert consent.status_code == 404


def test_out_of_range_ids_nul_characters_and_naive_times_are_4xx(client: TestClient, auditor_zhao: Staff,
                                                                 agent_li: Staff) -> None:
    assert client.get("/api/v1/audit", params={"before_id": 10**20}, headers=auditor_zhao.headers).status_code == 422
    nul = client.get("/api/v1/audit?action=a%00b", headers=auditor_zhao.headers)
    assert nul.status_code == 422 and nul.json()["error"]["field"] == "query"
    body = make.individual(branch="a\u0000b")
    bad = client.post("/api/v1/customers", json=body, headers=agent_li.headers)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "branch"
    customer = client.post("/api/v1/customers", json=make.individual(), headers=agent_li.headers).json()
    naive = client.post(f"/api/v1/customers/{customer['id']}/rights-requests",
                        json={"kind": "access", "received_at": "2026-01-01T00:00:00"}, headers=agent_li.headers)
    assert naive.status_code == 422 and naive.json()["error"]["field"] == "received_at"


def test_a_bad_update_row_is_reported_and_the_good_rows_still_import(db: Engine, tmp_path: Path) -> None:
    write_csv(tmp_path / "first.csv", [row(1)])
    assert fincare("import", "customers", str(tmp_path / "first.csv")).returncode == 0
    path = write_csv(tmp_path / "second.csv", [row(3), row(1, kind="enterprise", id_number="",
                                                               credit_code=make.credit_code()), row(4)])
    result = fincare("import", "customers", str(path), "--skip-bad-rows", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["created"] == 2
    assert "3,kind," in (tmp_path / "second.csv.errors.csv").read_text()


def test_a_duplicate_external_id_in_a_later_batch_is_an_error_not_an_update(db: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "dup.csv", [row(1), row(2), row(1, segment="vip")])
    result = fincare("import", "customers", str(path), "--batch", "2", "--json")
    assert result.returncode == 1
    assert "4,external_id,appears earlier in this file" in (tmp_path / "dup.csv.errors.csv").read_text()
