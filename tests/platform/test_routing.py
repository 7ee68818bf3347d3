"""The route index answers every request with the route Starlette's own walk would choose."""

from __future__ import annotations

import re
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Match

from fincare.app import create_app
from fincare.platform.routing import RouteIndex, literal_segments

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def first_full_match(routes: list[BaseRoute], method: str, path: str) -> BaseRoute | None:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    return next((route for route in routes if route.matches(scope)[0] == Match.FULL), None)


def paths_to_try(app: FastAPI) -> set[str]:
    """Every route's path with sample values, the same with a trailing slash added or dropped, and
    with a segment too many; paths no route has; paths that look like a route's but are not."""
    paths = {"/", "/nowhere", "/api", "/api/v1", "/api/v1/", "/api/v2/tickets", "/static/app.css", "/static",
             "/tickets/new/", "/api/v1/tickets/1/2/3/4"}
    for route in app.router.routes:
        template = getattr(route, "path", "")
        for value in ("1", "new", "a.csv", "x/y"):
            path = re.sub(r"\{[^}]*\}", value, template) or "/"
            paths |= {path, path.rstrip("/") or "/", path + "/", path + "/extra", path[:-1] or "/"}
    return paths


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app()


def test_the_index_chooses_the_route_the_full_walk_chooses(app: FastAPI) -> None:
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    routes = app.router.routes
    checked = 0
    for path in paths_to_try(app):
        candidates = index.candidates(path)
        assert len(candidates) < len(routes) or path in ("/", "")  # it does narrow the walk
        for method in METHODS:
            assert first_full_match(candidates, method, path) is first_full_match(routes, method, path), (method, path)
            checked += 1
    assert checked > 1000


def test_api_paths_try_only_routes_that_share_their_literal_segments(app: FastAPI) -> None:
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    candidates = index.candidates("/api/v1/tickets")
    assert all(literal_segments(route.path)[:3] in {(), ("api",), ("api", "v1"), ("api", "v1", "tickets")}
               for route in candidates)  # type: ignore[attr-defined]
    assert len(candidates) < len(app.router.routes) // 4


def test_literal_segments_stop_at_the_first_parameter() -> None:
    assert literal_segments("/tickets/{ticket_id}/reply") == ("tickets",)
    assert literal_segments("/api/v1/customers/{customer_id}") == ("api", "v1", "customers")
    assert literal_segments("/s/{token}") == ("s",)
    assert literal_segments("/") == ("",)
    assert literal_segments("/files{rest}") == ()


def test_not_allowed_not_found_and_trailing_slashes_answer_as_before(client: TestClient) -> None:
    assert client.put("/health").status_code == 405  # a method not allowed: the full walk's answer
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/health").json() == {"status": "ok"}
    redirected = client.get("/health/", follow_redirects=False)
    assert redirected.status_code == 307 and redirected.headers["location"].endswith("/health")


def test_a_route_added_after_the_index_was_built_is_found() -> None:
    app = FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    RouteIndex.install(app.router)
    with TestClient(app) as client:
        assert client.get("/items/3").json() == {"item": 3}

        @app.get("/items/special")
        def special() -> dict[str, str]:
            return {"item": "special"}

        @app.get("/other")
        def other() -> dict[str, str]:
            return {"other": "yes"}

        assert client.get("/items/special").status_code == 422  # the earlier route still wins, as in Starlette
        assert client.get("/other").json() == {"other": "yes"}


def test_a_router_with_middleware_of_its_own_is_refused() -> None:
    app = FastAPI()
    app.router.middleware_stack = lambda scope, receive, send: None  # type: ignore[assignment,method-assign]
    with pytest.raises(ValueError, match="middleware"):
        RouteIndex.install(app.router)


async def answer(asgi: Any, method: str, path: str, root_path: str = "") -> tuple[int | str, bytes]:
    """The status and body the router part of the app answers with, or the error it raises (the
    app's error handlers sit above it)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": root_path + path, "raw_path": (root_path + path).encode(), "root_path": root_path,
             "query_string": b"", "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 1),
             "server": ("testserver", 80)}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        await asgi(scope, receive, send)
    except Exception as exc:  # compared, not handled
        return type(exc).__name__, str(exc).encode()
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize(("method", "path", "root_path"), [
    ("GET", "/health", ""), ("HEAD", "/health", ""), ("GET", "/health", "/pre"), ("GET", "/health/", "/pre"),
    ("POST", "/health", "/pre"), ("GET", "/api/v1/tickets", "/pre"), ("HEAD", "/static/nothing.css", ""),
    ("GET", "/pre/health", "/pre"), ("GET", "/nowhere", "/pre")])
def test_dispatch_answers_as_the_full_walk_does(app: FastAPI, method: str, path: str, root_path: str) -> None:
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    indexed = anyio.run(answer, index, method, path, root_path)
    walked = anyio.run(answer, app.router.app, method, path, root_path)
    assert indexed == walked


def test_a_replaced_route_list_is_indexed_anew() -> None:
    app = FastAPI()

    @app.get("/one")
    def one() -> dict[str, int]:
        return {"n": 1}

    index = RouteIndex.install(app.router)
    assert [getattr(r, "path", "") for r in index.candidates("/one")][-1:] == ["/one"]
    other = FastAPI()

    @other.get("/two")
    def two() -> dict[str, int]:
        return {"n": 2}

    app.router.routes = [route for route in other.router.routes if getattr(route, "path", "") == "/two"]
    assert [getattr(r, "path", "") for r in index.candidates("/two")] == ["/two"]
    assert index.candidates("/one") == []
