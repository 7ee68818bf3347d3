"""create_app(): every domain's API and console routers, middleware, and the error mapping."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from fincare import registry
from fincare.platform import openapi, web
from fincare.platform.db import get_engine, unit_of_work
from fincare.platform.errors import DomainError
from fincare.platform.http import RequestContext, install_error_handlers
from fincare.platform.migrations import current_revision, head_revision
from fincare.platform.observability import metrics_payload
from fincare.platform.routing import RouteIndex

# Routes anyone may call without signing in; the route audit test holds every other route to a
# permission. Keep this list short and say why each one is here.
PUBLIC_ROUTES: frozenset[str] = frozenset({
    "/health",            # liveness probe
    "/ready",             # readiness probe
    "/metrics",           # Prometheus scrape; restrict at the network edge
    "/api/openapi.json",  # the contract itself
    "/api/docs",
    "/login",             # signing in
    "/login/2fa",         # second factor of a half-open session (checked inside)
    "/logout",
    "/static",
    "/s/{token}",         # survey pages: the signed, single-use link is the key
    "/s/{token}/opt-out",
    "/api/v1/surveys/{token}",
})


def console_error(request: Request, exc: DomainError) -> Response:
    return web.render(request, "error.html", {"error": exc}, status_code=exc.status_code)


def create_app() -> FastAPI:
    """The ASGI application: API under /api/v1, console pages at the root."""
    app = FastAPI(title="FinCare", version="0.1.0", docs_url="/api/docs", redoc_url=None,
                  openapi_url="/api/openapi.json", swagger_ui_oauth2_redirect_url=None,
                  description="Customer protection and service quality for financial institutions.")
    install_error_handlers(app, console_error=console_error)
    app.add_middleware(RequestContext)
    app.mount("/static", StaticFiles(directory=web.WEB_DIR / "static", check_dir=False), name="static")

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", include_in_schema=False)
    def ready() -> JSONResponse:
        try:
            engine = get_engine()
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            with unit_of_work(read_only=True) as session:  # PostgreSQL's read-only units have their own pool
                session.execute(text("SELECT 1"))
            current, head = current_revision(engine), head_revision()
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, status_code=503)
        if current != head:
            return JSONResponse({"status": "migrations_pending", "current": current, "head": head},
                                status_code=503)
        return JSONResponse({"status": "ready", "revision": current})

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> PlainTextResponse:
        body, content_type = metrics_payload()
        return PlainTextResponse(body, media_type=content_type)

    for router in registry.routers():
        app.include_router(router)
    RouteIndex.install(app.router)
    openapi.install(app, public=PUBLIC_ROUTES)
    return app


def serve_app() -> FastAPI:
    """Factory for `fincare serve`: each server process sets up its own logging, then the app."""
    from fincare.platform.config import get_settings
    from fincare.platform.observability import configure_logging

    settings = get_settings()
    configure_logging(json_lines=settings.log_json)
    app = create_app()
    app.router.lifespan_context = _thread_limit(settings.server_threads, app.router.lifespan_context)
    # Everything loaded so far lives as long as the process: leave it out of the collector's full
    # passes, which otherwise walk every module, route and model on the request path (tail latency).
    gc.freeze()
    return app


def _thread_limit(threads: int, inner: Callable[[FastAPI], AbstractAsyncContextManager[Any]]
                  ) -> Callable[[FastAPI], AbstractAsyncContextManager[Any]]:
    """The app's lifespan (`inner`), first letting `threads` synchronous endpoints run at once in this
    process (anyio's default is 40); the others wait their turn in arrival order instead of on the
    interpreter lock."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        async with inner(app) as state:
            yield state

    return lifespan
