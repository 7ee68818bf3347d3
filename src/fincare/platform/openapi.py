"""The API's OpenAPI document, with every refusal an operation can answer and the shape they share.

FastAPI documents an operation's success and a 422 in its own shape (`{"detail": […]}`), while
FinCare answers every refusal, from any layer, as `{"error": {code, message, field, details?}}`
(`http.install_error_handlers`). An integrator generating a client from the document needs the
codes and that shape, so they are added here, from what each operation is: guarded (401, 403), about
one record (404), a write (409), with a body (400, 413); a route declares any other code it answers in
its decorator's `responses`, which gets the same shape.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_CODES = {
    400: "The body could not be read",
    401: "No valid API token (`Authorization: Bearer …`)",
    403: "The token's roles do not allow this",
    404: "No such record, or one this caller may not see",
    409: "The record's state does not allow this now, or the `Idempotency-Key` was used with another body",
    413: "The request body is too large",
    422: "A field is missing or malformed; `field` names it",
}

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message", "field"],
        "properties": {
            "code": {"type": "string", "description": "stable, for programs: not_found, invalid, conflict, …"},
            "message": {"type": "string", "description": "for people, in English"},
            "field": {"type": ["string", "null"], "description": "the input at fault, when there is one"},
            "details": {"type": "array", "description": "every field at fault (422 from validation)",
                        "items": {"type": "object", "properties": {"field": {"type": ["string", "null"]},
                                                                   "message": {"type": "string"}}}},
        },
    }},
}

_WRITES = {"post", "put", "patch", "delete"}


def install(app: FastAPI, *, public: Collection[str]) -> None:
    """Serve `app`'s document with its errors; `public` paths need no token (no 401 or 403)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            document_errors(schema, public=public)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_errors(schema: dict[str, Any], *, public: Collection[str]) -> None:
    """Add to each operation of `schema` the refusals it can answer, all as the `Error` schema."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            codes = {422} | {int(code) for code in responses if code.isdigit() and 400 <= int(code) < 500}
            if path not in public:
                codes |= {401, 403}
            if "{" in path:
                codes.add(404)
            if method in _WRITES:
                codes.add(409)
            if "requestBody" in operation:
                codes |= {400, 413}
            for code in sorted(codes):
                declared = responses.get(str(code), {}).get("description") if code != 422 else None
                responses[str(code)] = {"description": declared or ERROR_CODES.get(code, "Refused"), "content": error}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 shape, which FinCare never sends
        components.pop(unused, None)
    components["Error"] = ERROR_SCHEMA
