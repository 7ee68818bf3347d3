"""Logs are JSON lines with the request id, and carry no personal data."""

import json
import logging

import pytest
from fastapi.testclient import TestClient

from fincare.platform.observability import JsonFormatter
from tests.factories.accounts import Staff


@pytest.fixture
def log_lines():  # type: ignore[no-untyped-def]
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(JsonFormatter().format(record))

    handler = Collect()
    logger = logging.getLogger("fincare")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(previous)


def test_each_request_logs_one_json_line_with_its_request_id(client: TestClient, agent_li: Staff,
                                                            log_lines: list[str]) -> None:
    client.get("/api/v1/me", headers={**agent_li.headers, "X-Request-ID": "req-0001-abcd"})
    lines = [json.loads(line) for line in log_lines if '"request"' in line]
    line = next(doc for doc in lines if doc.get("request_id") == "req-0001-abcd")
    assert line["route"] == "/api/v1/me" and line["status"] == 200 and "duration_ms" in line


def test_query_strings_and_raw_paths_never_reach_the_log(client: TestClient, auditor_zhao: Staff,
                                                        log_lines: list[str]) -> None:
    client.get("/api/v1/audit", params={"subject_id": "13812345678"}, headers=auditor_zhao.headers)
    client.post("/api/v1/staff/13812345678/unlock", headers=auditor_zhao.headers)
    assert log_lines and not any("13812345678" in line for line in log_lines)
