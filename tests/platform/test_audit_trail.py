"""The audit trail: appended in the caller's transaction, sealed into a hash chain, and any
edit, deletion, insertion or reordering behind the application's back is detected and located."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from fincare.platform import audit_trail
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM, Principal
from tests.factories.accounts import Staff


def write_entries(n: int, *, action: str = "test.changed") -> None:
    with unit_of_work() as session:
        for i in range(n):
            audit_trail.record(session, actor=SYSTEM, action=action, subject=("thing", i),
                               before={"n": i}, after={"n": i + 1})


def tamper(engine: Engine, *statements: str) -> None:
    """What an attacker with database access does: switch the guard triggers off, then edit."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_guard"))
        else:
            connection.execute(text("DROP TRIGGER audit_entry_no_delete"))
            connection.execute(text("DROP TRIGGER audit_entry_sealed"))
        for statement in statements:
            connection.execute(text(statement))


def verify() -> audit_trail.VerifyResult:
    with unit_of_work() as session:
        return audit_trail.verify(session)


def test_an_untouched_chain_verifies(db: Engine) -> None:
    write_entries(20)
    result = verify()
    assert result.ok and result.checked == 20 and result.pending == 0


def test_entries_roll_back_with_the_change_they_describe(db: Engine) -> None:
    def failing_change() -> None:
        with unit_of_work() as session:
            audit_trail.record(session, actor=SYSTEM, action="test.changed")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert verify().checked == 0


def test_personal_fields_are_masked_in_before_and_after(db: Engine) -> None:
    with unit_of_work() as session:
        entry = audit_trail.record(session, actor=SYSTEM, action="customer.updated",
                                   before={"phone": "13812345678", "name": "张三明"},
                                   after={"phone": "13987654321", "email": "zhang@example.com"})
        session.flush()
        assert entry.before == {"phone": "138****5678", "name": "张*明"}
        assert entry.after == {"phone": "139****4321", "email": "z***@example.com"}


def test_the_database_refuses_to_edit_or_delete_sealed_entries(db: Engine) -> None:
    write_entries(3)
    verify()
    with pytest.raises(Exception, match="cannot be changed"), db.begin() as connection:
        connection.execute(text("UPDATE audit_entry SET action = 'x' WHERE seq = 2"))
    with pytest.raises(Exception, match="cannot be deleted"), db.begin() as connection:
        connection.execute(text("DELETE FROM audit_entry WHERE seq = 2"))


def test_an_edited_entry_is_detected_and_named(db: Engine) -> None:
    write_entries(10)
    verify()
    tamper(db, "UPDATE audit_entry SET actor_name = 'someone else' WHERE seq = 4")
    result = verify()
    assert not result.ok
    assert result.first_bad_seq == 4
    assert "altered" in (result.problem or "")


def test_a_deleted_entry_is_detected_and_named(db: Engine) -> None:
    write_entries(10)
    verify()
    tamper(db, "DELETE FROM audit_entry WHERE seq = 6")
    result = verify()
    assert not result.ok
    assert result.first_bad_seq == 6
    assert "missing" in (result.problem or "")


def test_deleting_the_newest_entries_is_detected(db: Engine) -> None:
    write_entries(10)
    verify()
    tamper(db, "DELETE FROM audit_entry WHERE seq >= 9")
    result = verify()
    assert not result.ok
    assert result.first_bad_seq == 9


def test_an_inserted_entry_is_detected_and_named(db: Engine) -> None:
    write_entries(10)
    verify()
    # Make room after #5 and slip in a forged entry that claims to follow it.
    tamper(
        db,
        "UPDATE audit_entry SET seq = seq + 1000 WHERE seq > 5",
        "UPDATE audit_entry SET seq = seq - 999 WHERE seq > 1000",
        "INSERT INTO audit_entry (occurred_at, kind, actor_name, action, seq, prev_hash, hash) "
        "SELECT occurred_at, kind, 'forger', 'customer.erased', 6, hash, hash FROM audit_entry WHERE seq = 5",
    )
    result = verify()
    assert not result.ok
    assert result.first_bad_seq == 6


def test_reordered_entries_are_detected_and_named(db: Engine) -> None:
    write_entries(10)
    verify()
    tamper(
        db,
        "UPDATE audit_entry SET seq = -3 WHERE seq = 3",
        "UPDATE audit_entry SET seq = 3 WHERE seq = 4",
        "UPDATE audit_entry SET seq = 4 WHERE seq = -3",
    )
    result = verify()
    assert not result.ok
    assert result.first_bad_seq == 3


def test_verify_over_http_and_cli_report_the_first_bad_entry(client: TestClient, db: Engine,
                                                             auditor_zhao: Staff) -> None:
    write_entries(5)
    assert client.get("/api/v1/audit/verify", headers=auditor_zhao.headers).json()["ok"] is True
    tamper(db, "UPDATE audit_entry SET action = 'rewritten' WHERE seq = 2")
    body = client.get("/api/v1/audit/verify", headers=auditor_zhao.headers).json()
    assert body["ok"] is False and body["first_bad_seq"] == 2


def test_auditors_filter_the_trail_and_others_may_not(client: TestClient, auditor_zhao: Staff,
                                                      agent_li: Staff) -> None:
    write_entries(3, action="test.alpha")
    write_entries(2, action="test.beta")
    response = client.get("/api/v1/audit", params={"action": "test.beta"}, headers=auditor_zhao.headers)
    assert response.status_code == 200
    assert [e["action"] for e in response.json()] == ["test.beta", "test.beta"]
    assert client.get("/api/v1/audit", headers=agent_li.headers).status_code == 403
    assert client.get("/api/v1/audit/verify", headers=agent_li.headers).status_code == 403


def test_no_route_can_change_the_trail(app) -> None:  # type: ignore[no-untyped-def]
    for route in app.routes:
        if getattr(route, "path", "").startswith(("/api/v1/audit", "/audit")):
            assert getattr(route, "methods", set()) <= {"GET", "HEAD"} or route.path.endswith("/verify")


@pytest.mark.parametrize("writers", [8])
def test_parallel_writers_leave_a_valid_chain(db: Engine, writers: int, request: pytest.FixtureRequest) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time; concurrency is exercised on PostgreSQL")
    errors: list[BaseException] = []
    start = threading.Barrier(writers + 1)

    def writer(n: int) -> None:
        actor = Principal(account_id=None, username=f"writer-{n}")
        start.wait()
        try:
            for i in range(40):
                with unit_of_work() as session:
                    audit_trail.record(session, actor=actor, action="test.parallel", subject=("thing", i))
                if i % 10 == 0:
                    with unit_of_work() as session:
                        audit_trail.seal_pending(session)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join()
    assert not errors
    result = verify()
    assert result.ok, result.problem
    assert result.checked == writers * 40
