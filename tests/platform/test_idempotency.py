"""Idempotency-Key: same key and body replay the first response; a different body is a 409."""

import hashlib
import json
import threading

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from fincare.platform.accounts.models import StaffAccount
from fincare.platform.db import unit_of_work
from fincare.platform.idempotency import IdempotencyRecord
from tests.factories.accounts import Staff


def staff_count() -> int:
    with unit_of_work(read_only=True) as session:
        return session.execute(select(func.count()).select_from(StaffAccount)).scalar_one()


def test_a_retry_with_the_same_key_returns_the_first_response_and_creates_nothing(client: TestClient,
                                                                                  admin_root: Staff) -> None:
    headers = {**admin_root.headers, "Idempotency-Key": "create-li-1"}
    first = client.post("/api/v1/staff", json={"username": "li", "roles": ["agent"]}, headers=headers)
    before = staff_count()
    again = client.post("/api/v1/staff", json={"roles": ["agent"], "username": "li"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert staff_count() == before


def test_the_same_key_with_another_body_is_a_conflict(client: TestClient, admin_root: Staff) -> None:
    headers = {**admin_root.headers, "Idempotency-Key": "k-2"}
    client.post("/api/v1/staff", json={"username": "li", "roles": ["agent"]}, headers=headers)
    other = client.post("/api/v1/staff", json={"username": "wang", "roles": ["agent"]}, headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["field"] == "Idempotency-Key"


def test_a_stored_fingerprint_cannot_confirm_a_guessed_body(client: TestClient, admin_root: Staff) -> None:
    body = {"username": "li", "roles": ["agent"]}  # a body may hold a customer's phone and name
    headers = {**admin_root.headers, "Idempotency-Key": "k-guess"}
    assert client.post("/api/v1/staff", json=body, headers=headers).status_code == 201
    with unit_of_work(read_only=True) as session:
        stored = session.execute(select(IdempotencyRecord.fingerprint)).scalar_one()
    canonical = json.dumps(body, sort_keys=True).encode()
    guesses = {hashlib.sha256(b"POST /api/v1/staff\n" + canonical).hexdigest(), hashlib.sha256(canonical).hexdigest()}
    assert len(stored) == 64 and stored not in guesses  # keyed: a copy of the database alone cannot check a guess


def test_a_failed_create_does_not_burn_the_key(client: TestClient, admin_root: Staff) -> None:
    headers = {**admin_root.headers, "Idempotency-Key": "k-3"}
    bad = client.post("/api/v1/staff", json={"username": "li", "roles": ["agent"], "department": "moon"},
                      headers=headers)
    assert bad.status_code == 422
    good = client.post("/api/v1/staff", json={"username": "li", "roles": ["agent"], "department": "moon"},
                       headers=headers)
    assert good.status_code == 422  # retried, evaluated again — not a replay of a stored error


def test_keys_belong_to_their_caller(client: TestClient, admin_root: Staff) -> None:
    first = client.post("/api/v1/tokens", json={"name": "a"}, headers={**admin_root.headers, "Idempotency-Key": "x"})
    other = client.post("/api/v1/tokens", json={"name": "a"}, headers={**admin_root.headers, "Idempotency-Key": "y"})
    assert first.json()["id"] != other.json()["id"]


def test_concurrent_retries_create_one_record(client: TestClient, admin_root: Staff, db: Engine) -> None:
    headers = {**admin_root.headers, "Idempotency-Key": "race"}
    results: list[int] = []

    def post() -> None:
        results.append(client.post("/api/v1/tokens", json={"name": "raced"}, headers=headers).json()["id"])

    before = len(client.get("/api/v1/tokens", headers=admin_root.headers).json())
    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert len(client.get("/api/v1/tokens", headers=admin_root.headers).json()) == before + 1


def test_an_unprintable_key_is_rejected(client: TestClient, admin_root: Staff) -> None:
    response = client.post("/api/v1/tokens", json={"name": "a"},
                           headers={**admin_root.headers, "Idempotency-Key": "x" * 201})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "Idempotency-Key"
