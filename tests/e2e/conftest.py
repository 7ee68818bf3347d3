"""Browser tests: the real app under uvicorn, driven by Debian's Chromium through Playwright.

One uvicorn server and one browser per module; every test gets its own clean database (`db`) and a
fresh browser context (no shared cookies). The server reads the process-wide engine on each request,
so it always talks to the current test's database.

The flows are plain HTML forms: HTMX is blocked in every context so that the result is the same
whether or not `make assets` has run.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright
from sqlalchemy import Engine

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
HERE = Path(__file__).resolve().parent
TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip before any fixture runs: no PostgreSQL database is created just to be skipped."""
    no_browser = pytest.mark.skip(reason=f"browser tests need Debian's Chromium at {CHROMIUM} (make browser)")
    sqlite_only = pytest.mark.skip(reason="the browser flow is backend-independent; it runs on SQLite, "
                                          "and the PostgreSQL paths are covered by the API/console tests")
    for item in items:
        if HERE not in item.path.parents:
            continue  # this hook sees the whole session's items
        if not CHROMIUM.exists():
            item.add_marker(no_browser)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgresql":
            item.add_marker(sqlite_only)


# -- the server ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(app: FastAPI) -> Iterator[str]:
    """`app` served by uvicorn on a free port in a background thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # keep the socket: no other process can take the port meanwhile
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, name="e2e-uvicorn", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if not thread.is_alive() or time.monotonic() > deadline:
            uv.should_exit = True
            pytest.fail(f"uvicorn did not answer {base_url}/health")
        time.sleep(0.05)
    try:
        yield base_url
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def live_server(db: Engine, server: str) -> str:
    """The base URL of the server, now backed by this test's clean database."""
    return server


# -- the browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    """A fresh browser context (cookies, storage) per test, with HTMX switched off."""
    ctx = browser.new_context(base_url=live_server)
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.route("**/static/vendor/htmx.min.js", _abort)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def _abort(route: Route) -> None:
    route.abort()
