"""Staff accounts: passwords, lockout, two-factor, sessions, CSRF and API tokens."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from fincare.app import create_app
from fincare.platform import clock
from fincare.platform.accounts import service
from fincare.platform.accounts.models import ApiToken, StaffAccount
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM, Role
from tests.factories.accounts import PASSWORD, Staff, make_staff, totp_code

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client: TestClient, username: str, password: str = PASSWORD, next_: str = "/"):  # type: ignore[no-untyped-def]
    page = client.get("/login")
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                       "next": next_}, follow_redirects=False)


def csrf_of(client: TestClient, path: str = "/") -> str:
    return CSRF.search(client.get(path).text).group(1)  # type: ignore[union-attr]


def test_passwords_are_stored_as_argon2id_hashes(db: Engine, agent_li: Staff) -> None:
    with unit_of_work() as session:
        account = session.get(StaffAccount, agent_li.id)
        assert account is not None
        assert account.password_hash.startswith("$argon2id$")
        assert PASSWORD not in account.password_hash


def test_sign_in_sets_a_hardened_session_cookie(client: TestClient, agent_li: Staff) -> None:
    response = login(client, "agent_li")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "fincare_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in this test
    assert client.get("/").status_code == 200


def test_the_session_cookie_is_secure_behind_https(db: Engine, app, agent_li: Staff) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="https://fincare.example") as https:
        response = login(https, "agent_li")
        assert "Secure" in response.headers["set-cookie"]


def test_login_redirects_only_to_same_site_paths(client: TestClient, agent_li: Staff) -> None:
    assert login(client, "agent_li", next_="https://evil.example/").headers["location"] == "/"
    client.cookies.clear()
    assert login(client, "agent_li", next_="//evil.example").headers["location"] == "/"
    client.cookies.clear()
    assert login(client, "agent_li", next_="/audit").headers["location"] == "/audit"


def test_a_wrong_password_does_not_say_whether_the_user_exists(client: TestClient, agent_li: Staff) -> None:
    wrong_password = login(client, "agent_li", "wrong-password-here")
    no_such_user = login(client, "nobody_here", "wrong-password-here")
    assert wrong_password.status_code == no_such_user.status_code == 401


def test_five_failures_lock_the_account_for_fifteen_minutes_in_every_process(
    client: TestClient, agent_li: Staff, frozen_clock  # type: ignore[no-untyped-def]
) -> None:
    for _ in range(5):
        assert login(client, "agent_li", "wrong-password-here").status_code == 401
    assert login(client, "agent_li").status_code == 423  # even the right password
    # A second app instance (another process in production) sees the same lock: it is in the database.
    with TestClient(create_app()) as other_process:
        assert login(other_process, "agent_li").status_code == 423
    frozen_clock.advance(timedelta(minutes=15, seconds=1))
    assert login(client, "agent_li").status_code == 303


def test_an_admin_unlocks_a_locked_account(client: TestClient, agent_li: Staff, admin_root: Staff) -> None:
    for _ in range(5):
        login(client, "agent_li", "wrong-password-here")
    locked = client.get("/api/v1/staff", headers=admin_root.headers).json()
    assert next(s for s in locked if s["username"] == "agent_li")["locked_until"] is not None
    assert client.post(f"/api/v1/staff/{agent_li.id}/unlock", headers=admin_root.headers).status_code == 200
    assert login(client, "agent_li").status_code == 303


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SECURITY_OFFICER, Role.COMPLIANCE_OFFICER, Role.AUDITOR])
def test_two_factor_is_mandatory_for_privileged_roles(client: TestClient, db: Engine, role: Role) -> None:
    make_staff("privileged", role, department="it")
    response = login(client, "privileged")
    assert response.headers["location"] == "/login/2fa"
    # Half-signed-in: no page is served until the code is entered.
    assert client.get("/", follow_redirects=False).headers["location"] == "/login/2fa"
    enrol = client.get("/login/2fa")
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', enrol.text).group(1)  # type: ignore[union-attr]
    import pyotp

    code = pyotp.TOTP(secret).at(clock.now())
    done = client.post("/login/2fa", data={"code": code, "csrf_token": CSRF.search(enrol.text).group(1)},  # type: ignore[union-attr]
                       follow_redirects=False)
    assert done.headers["location"] == "/"
    assert client.get("/").status_code == 200


def test_an_enrolled_account_signs_in_with_its_code_and_a_code_works_once(client: TestClient,
                                                                         auditor_zhao: Staff) -> None:
    login(client, "auditor_zhao")
    page = client.get("/login/2fa")
    assert "totp-secret" not in page.text  # enrolled: the key is never shown again
    code, csrf = totp_code("auditor_zhao"), CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    assert client.post("/login/2fa", data={"code": "000000", "csrf_token": csrf}).status_code == 401
    assert client.post("/login/2fa", data={"code": code, "csrf_token": csrf},
                       follow_redirects=False).status_code == 303
    client.cookies.clear()
    login(client, "auditor_zhao")
    page = client.get("/login/2fa")
    replay = client.post("/login/2fa", data={"code": code, "csrf_token": CSRF.search(page.text).group(1)})  # type: ignore[union-attr]
    assert replay.status_code == 401


def test_a_forced_password_change_comes_first(client: TestClient, db: Engine) -> None:
    with unit_of_work() as session:
        new = service.create_account(session, actor=SYSTEM, username="newbie", roles=[Role.AGENT])
        one_time = new.one_time_password
    login(client, "newbie", one_time)
    assert client.get("/", follow_redirects=False).headers["location"] == "/account/password"
    csrf = csrf_of(client, "/account/password")
    weak = client.post("/account/password", data={"current_password": one_time, "new_password": "short",
                                                  "confirm_password": "short", "csrf_token": csrf})
    assert weak.status_code == 422
    ok = client.post("/account/password", data={"current_password": one_time, "new_password": "a-much-better-one",
                                                "confirm_password": "a-much-better-one", "csrf_token": csrf},
                     follow_redirects=False)
    assert ok.status_code == 303
    assert client.get("/").status_code == 200


def test_console_forms_without_the_csrf_token_are_refused(client: TestClient, agent_li: Staff) -> None:
    login(client, "agent_li")
    assert client.post("/account/tokens", data={"name": "laptop"}).status_code == 403
    assert client.post("/account/tokens", data={"name": "laptop", "csrf_token": "forged"}).status_code == 403
    assert client.post("/account/tokens", data={"name": "laptop", "csrf_token": csrf_of(client)}).status_code == 201
    client.cookies.clear()  # the sign-in form has its own token too
    assert client.post("/login", data={"username": "agent_li", "password": PASSWORD}).status_code == 403


def test_api_tokens_are_shown_once_stored_hashed_revocable_and_track_last_use(client: TestClient,
                                                                              agent_li: Staff) -> None:
    created = client.post("/api/v1/tokens", json={"name": "script"}, headers=agent_li.headers)
    assert created.status_code == 201
    token = created.json()["token"]
    with unit_of_work() as session:
        stored = session.execute(select(ApiToken.digest)).scalars().all()
        assert token not in stored and all(len(d) == 64 for d in stored)
    listed = client.get("/api/v1/tokens", headers=agent_li.headers).json()
    assert all("token" not in t for t in listed)
    mine = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=mine).json()["username"] == "agent_li"
    used = next(t for t in client.get("/api/v1/tokens", headers=agent_li.headers).json() if t["name"] == "script")
    assert used["last_used_at"] is not None
    assert client.post(f"/api/v1/tokens/{used['id']}/revoke", headers=agent_li.headers).status_code == 200
    assert client.get("/api/v1/me", headers=mine).status_code == 401


def test_nobody_revokes_someone_elses_token(client: TestClient, agent_li: Staff, supervisor_wang: Staff) -> None:
    theirs = client.get("/api/v1/tokens", headers=supervisor_wang.headers).json()[0]
    assert client.post(f"/api/v1/tokens/{theirs['id']}/revoke", headers=agent_li.headers).status_code == 404


def test_a_disabled_account_loses_api_access(client: TestClient, agent_li: Staff) -> None:
    with unit_of_work() as session:
        account = session.get(StaffAccount, agent_li.id)
        assert account is not None
        service.set_active(session, account=account, active=False, actor=SYSTEM)
    assert client.get("/api/v1/me", headers=agent_li.headers).status_code == 401


def test_account_changes_are_audited(client: TestClient, admin_root: Staff, auditor_zhao: Staff) -> None:
    client.post("/api/v1/staff", json={"username": "new_agent", "roles": ["agent"], "department": "customer_service"},
                headers=admin_root.headers)
    entries = client.get("/api/v1/audit", params={"action": "account.created"}, headers=auditor_zhao.headers).json()
    created = next(e for e in entries if e["after"]["username"] == "new_agent")
    assert created["actor_name"] == "admin_root" and created["request_id"]
    assert created["after"]["roles"] == ["agent"]


def test_unknown_department_is_rejected_with_the_field_named(client: TestClient, admin_root: Staff) -> None:
    response = client.post("/api/v1/staff", json={"username": "x", "roles": ["agent"], "department": "moon"},
                           headers=admin_root.headers)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "department"


def test_a_deactivated_account_s_token_stops_working_at_once(client: TestClient, agent_li: Staff) -> None:
    assert client.get("/api/v1/me", headers=agent_li.headers).status_code == 200  # now remembered for a moment
    with unit_of_work() as session:
        account = service.get_account(session, agent_li.id)
        assert account is not None
        service.set_active(session, account=account, active=False, actor=SYSTEM)
    assert client.get("/api/v1/me", headers=agent_li.headers).status_code == 401
