"""The OpenAPI document at /api/openapi.json: the API only, and every refusal an operation can
answer, in the one shape FinCare sends them all."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from fincare.app import PUBLIC_ROUTES
from fincare.platform.exports import XLSX_TYPE
from tests.factories.accounts import Staff

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
