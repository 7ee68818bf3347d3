"""Probes and metrics."""

import functools

import pytest
from fastapi.testclient import TestClient

from fincare.platform.config import reset_settings
from tests.factories.accounts import Staff


def test_health_answers_without_a_database_round_trip(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_reports_the_current_migration(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_metrics_count_requests_per_route_template_not_per_raw_path(client: TestClient, agent_li: Staff) -> None:
    client.get("/api/v1/tokens/99/revoke", headers=agent_li.headers)  # 405, still counted
    client.post("/api/v1/tokens/12345/revoke", headers=agent_li.headers)
    body = client.get("/metrics").text
    assert 'route="/api/v1/tokens/{token_id}/revoke"' in body
    assert "/12345" not in body  # raw paths never become label values
    assert "fincare_http_request_duration_seconds_bucket" in body


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    mine = client.get("/health", headers={"X-Request-ID": "abcdef123456"})
    assert mine.headers["x-request-id"] == "abcdef123456"
    assert len(client.get("/health", headers={"X-Request-ID": "bad id!"}).headers["x-request-id"]) == 32


def test_a_server_process_runs_as_many_requests_at_once_as_it_has_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    import anyio.to_thread

    from fincare.app import serve_app

    def tokens() -> float:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    for threads, expected in ((None, 2), ("3", 3)):
        if threads:
            monkeypatch.setenv("FINCARE_SERVER_THREADS", threads)
        reset_settings()
        try:
            served = serve_app()
            started: list[bool] = []
            served.router.on_startup.append(functools.partial(started.append, True))  # the app's own lifespan runs
            with TestClient(served) as server:
                assert server.get("/health").json() == {"status": "ok"}
                assert server.portal is not None
                assert server.portal.call(tokens) == expected
                assert started == [True]
        finally:
            gc.unfreeze()
            reset_settings()


def test_serve_refuses_a_thread_count_out_of_range() -> None:
    from typer.testing import CliRunner

    from fincare.cli import app

    result = CliRunner().invoke(app, ["serve", "--threads", "0"])
    assert result.exit_code != 0
    assert "--threads" in result.output
