"""Per-request context (request id, source IP) carried by contextvars into logs and audit entries."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
source_ip: ContextVar[str | None] = ContextVar("source_ip", default=None)
