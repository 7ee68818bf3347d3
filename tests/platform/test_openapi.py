"""The OpenAPI document at /api/openapi.json: the API only, and every refusal an operation can
answer, in the one shape FinCare sends them all."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from fincare.app import PUBLIC_ROUTES
from fincare.platform.exports import XLSX_TYPE
from fincare.platform.permissions import Role
from tests.factories.accounts import Staff, make_staff

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_the_document_holds_the_api_and_no_console_page(client: TestClient) -> None:
    paths = set(document(client)["paths"])
    assert "/api/v1/tickets" in paths and "/api/v1/surveys/{token}" in paths
    assert [p for p in paths if not p.startswith("/api/v1/")] == []


def test_every_operation_documents_its_refusals_in_fincare_s_error_shape(client: TestClient) -> None:
    doc = document(client)
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # FastAPI's shape, never sent
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["properties"]["error"]["required"] == ["code", "message", "field"]
    for path, method, op in operations(doc):
        codes = {int(code) for code in op["responses"] if code.isdigit() and int(code) >= 400}
        expected = {422}
        expected |= set() if path in PUBLIC_ROUTES else {401, 403}
        expected |= {404} if "{" in path else set()
        expected |= {409} if method != "get" else set()
        expected |= {400, 413} if "requestBody" in op else set()
        assert expected <= codes, f"{method.upper()} {path}: {sorted(codes)}"
        assert all(op["responses"][str(code)]["content"] == ERROR for code in codes), f"{method.upper()} {path}"
    export = doc["paths"]["/api/v1/customers/{customer_id}/export"]["get"]["responses"]
    assert "409" in export  # declared by the route: a closed rights request


def test_downloads_document_their_file_types(client: TestClient) -> None:
    doc = document(client)
    for path in ("/api/v1/regulator-reports/export", "/api/v1/reports/complaints"):
        content = doc["paths"][path]["get"]["responses"]["200"]["content"]
        assert {"text/csv", XLSX_TYPE} <= set(content), path
    assert "application/json" in doc["paths"]["/api/v1/reports/complaints"]["get"]["responses"]["200"]["content"]


def test_refusals_as_sent_have_the_documented_shape(client: TestClient, agent_li: Staff) -> None:
    answers = [client.get("/api/v1/tickets"),  # 401
               client.get("/api/v1/staff", headers=agent_li.headers),  # 403
               client.get("/api/v1/tickets/999999", headers=agent_li.headers),  # 404
               client.post("/api/v1/tickets", headers=agent_li.headers, json={"kind": "complaint"})]  # 422
    assert [a.status_code for a in answers] == [401, 403, 404, 422]
    for answer in answers:
        body = answer.json()
        assert set(body) == {"error"} and {"code", "message", "field"} <= set(body["error"]), body


def test_the_idempotency_key_header_is_documented_with_its_limits(client: TestClient) -> None:
    header = next(p for p in document(client)["paths"]["/api/v1/tickets"]["post"]["parameters"]
                  if p["name"] == "Idempotency-Key")
    assert header["in"] == "header" and not header["required"]
    assert (header["schema"]["minLength"], header["schema"]["maxLength"]) == (1, 200)


# query parameters the services check with `errors.one_of`: each must document the values it takes
CHOICES = {"kind", "status", "dimension", "outcome", "language", "risk_tolerance", "by"}
REQUIRED = {"since": "2026-01-01T00:00:00+08:00", "until": "2026-02-01T00:00:00+08:00"}  # other required ones


def documented_values(doc: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """The values a parameter's schema lists: an `enum`, an enum schema it refers to, or `^(a|b)$`."""
    for branch in [schema, *schema.get("anyOf", [])]:
        if "enum" in branch:
            return list(branch["enum"])
        if "$ref" in branch:
            return list(doc["components"]["schemas"][branch["$ref"].rsplit("/", 1)[1]]["enum"])
        if (pattern := branch.get("pattern", "")).startswith("^(") and pattern.endswith(")$"):
            return pattern[2:-2].split("|")
    return []


def test_a_query_parameter_that_takes_one_of_a_list_documents_it_and_takes_nothing_else(
        client: TestClient, db: Engine) -> None:
    everyone = make_staff("omni", *Role)  # every permission: a refusal here can only be the value's
    doc, checked = document(client), 0
    for path, method, op in operations(doc):
        for param in op.get("parameters", []):
            if param["in"] != "query" or param["name"] not in CHOICES:
                continue
            values = documented_values(doc, param["schema"])
            assert values, f"{method.upper()} {path}: ?{param['name']} documents no values"
            if "{" in path or method != "get":
                continue  # a resource to read first; the lists below reach every service check
            required = {p["name"]: REQUIRED[p["name"]] for p in op["parameters"] if p.get("required")}
            for value in values:
                answer = client.get(path, params={**required, param["name"]: value}, headers=everyone.headers)
                assert answer.status_code == 200, f"GET {path}?{param['name']}={value}: {answer.text}"
            refused = client.get(path, params={**required, param["name"]: "no-such-value"}, headers=everyone.headers)
            assert refused.status_code == 422 and refused.json()["error"]["field"] == param["name"], refused.text
            checked += 1
    assert checked >= 10  # tickets, customers, rights requests, codes, reports, follow-ups, survey results
