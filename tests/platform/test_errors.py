"""Bad input gets a 4xx JSON error naming the field — never a 500."""

import pytest
from fastapi.testclient import TestClient

from tests.factories.accounts import Staff


def error(response) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["error"]  # type: ignore[no-any-return]


def test_unknown_field_is_rejected_and_named(client: TestClient, admin_root: Staff) -> None:
    response = client.post("/api/v1/staff", headers=admin_root.headers,
                           json={"username": "x1", "roles": ["agent"], "shoe_size": 42})
    assert response.status_code == 422
    assert error(response)["field"] == "shoe_size"


def test_wrong_type_is_rejected_and_named(client: TestClient, admin_root: Staff) -> None:
    response = client.post("/api/v1/staff", headers=admin_root.headers, json={"username": "x1", "roles": "agent"})
    assert response.status_code == 422
    assert error(response)["field"] == "roles"


def test_unknown_enum_value_is_rejected_and_named(client: TestClient, admin_root: Staff) -> None:
    response = client.post("/api/v1/staff", headers=admin_root.headers,
                           json={"username": "x1", "roles": ["wizard"]})
    assert response.status_code == 422
    assert error(response)["field"] == "roles.0"


def test_a_body_that_is_not_utf_8_is_refused_as_malformed_json_is(client: TestClient, admin_root: Staff) -> None:
    response = client.post("/api/v1/staff", headers={**admin_root.headers, "content-type": "application/json"},
                           content=b"\xff\xfe{")
    assert response.status_code == 422
    assert error(response)["field"] == "body" and error(response)["code"] == "invalid"


def test_a_method_not_allowed_names_every_method_of_the_path(client: TestClient, admin_root: Staff) -> None:
    response = client.put("/api/v1/tickets", headers=admin_root.headers, json={})
    assert response.status_code == 405 and error(response)["code"] == "method_not_allowed"
    assert response.headers["allow"] == "GET, POST"  # the list route and the create route
    static = client.post("/static/fincare.css")
    assert static.status_code == 405 and static.headers.get("allow") != ""  # a mount's own answer stays


def test_only_an_undecodable_body_is_called_not_utf_8(client: TestClient, admin_root: Staff) -> None:
    deep = client.post("/api/v1/staff", headers={**admin_root.headers, "content-type": "application/json"},
                       content=b"[" * 100_000)
    assert deep.status_code == 400 and error(deep)["field"] == "body" and "UTF-8" not in error(deep)["message"]


def test_malformed_json_is_a_4xx(client: TestClient, admin_root: Staff) -> None:
    response = client.post("/api/v1/staff", headers={**admin_root.headers, "content-type": "application/json"},
                           content=b"{not json")
    assert response.status_code == 422
    assert error(response)["code"] == "invalid"


def test_oversized_body_is_refused_before_it_is_read(client: TestClient, admin_root: Staff) -> None:
    response = client.post("/api/v1/staff", headers=admin_root.headers,
                           content=b"x" * 2_000_000)
    assert response.status_code == 413
    assert error(response)["field"] == "body"


def test_oversized_chunked_body_is_refused(client: TestClient, admin_root: Staff) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 65536

    response = client.post("/api/v1/staff", headers={**admin_root.headers, "content-type": "application/json"},
                           content=chunks())
    assert response.status_code == 413


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer ", "Basic abc", "bearer"])
def test_bad_tokens_are_401_with_the_field_named(client: TestClient, header: str) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert error(response)["field"] == "authorization"
    assert response.headers["www-authenticate"] == "Bearer"


def test_bad_path_parameter_is_422(client: TestClient, admin_root: Staff) -> None:
    response = client.post("/api/v1/staff/abc/unlock", headers=admin_root.headers)
    assert response.status_code == 422
    assert error(response)["field"] == "account_id"


def test_unknown_api_route_is_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


def test_domain_conflict_is_409_with_field(client: TestClient, admin_root: Staff) -> None:
    body = {"username": "dup", "roles": ["agent"]}
    assert client.post("/api/v1/staff", headers=admin_root.headers, json=body).status_code == 201
    response = client.post("/api/v1/staff", headers=admin_root.headers, json=body)
    assert response.status_code == 409
    assert error(response)["field"] == "username"
