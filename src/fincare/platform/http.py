"""HTTP plumbing shared by every domain: who is calling, what they may do, and how errors look.

`require(permission)` guards an API route (bearer token); `require_page(permission)` guards a
console page (session cookie, two-factor done, CSRF token on every unsafe request). Both mark the
route so a test can enumerate the app and find any route that forgot a guard.
"""

from __future__ import annotations

import json
import logging
import random
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fincare.platform import context, errors
from fincare.platform.accounts import service as accounts
from fincare.platform.accounts.models import StaffAccount
from fincare.platform.config import get_settings
from fincare.platform.db import unit_of_work
from fincare.platform.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, TooLarge, Unauthenticated
from fincare.platform.observability import HTTP_REQUESTS, HTTP_SECONDS
from fincare.platform.permissions import Permission, Principal

log = logging.getLogger("fincare.http")

SESSION_COOKIE = "fincare_session"
PRELOGIN_COOKIE = "fincare_prelogin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class LoginRequired(Unauthenticated):
    """The console needs a signed-in session."""


class SecondFactorRequired(Unauthenticated):
    """Password accepted; the session still needs its one-time code."""


class PasswordChangeRequired(Forbidden):
    """The account still has its one-time password."""


# -- middleware ------------------------------------------------------------------------------------


_NO_STORE = ((b"cache-control", b"no-store"),)


class RequestContext:
    """Pure ASGI middleware: request id, source IP, body-size limit, metrics and one log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get("x-request-id", "")
        # An id names a request, it guards nothing: no system call for it on the event loop, where one
        # that lets go of the interpreter lock may wait a switch interval (5 ms) to take it back.
        rid = given if _REQUEST_ID.match(given) else f"{random.getrandbits(128):032x}"
        client = scope.get("client")
        rid_token = context.request_id.set(rid)
        ip_token = context.source_ip.set(client[0] if client else None)
        limit = get_settings().max_body_bytes
        status = 500
        started = time.perf_counter()

        if b"%00" in scope.get("query_string", b"") or "\x00" in scope.get("path", ""):
            # NUL cannot be stored in PostgreSQL text; refuse it at the door, naming where it was
            await _send_json(send, 422, _error_body("invalid", "NUL characters are not allowed", "query"), rid)
            context.request_id.reset(rid_token)
            context.source_ip.reset(ip_token)
            return

        length = headers.get("content-length")
        if length is not None and (not (length.isascii() and length.isdigit()) or int(length) > limit):
            await _send_json(send, 413, _error_body("too_large", _too_large(limit), "body"), rid)
            context.request_id.reset(rid_token)
            context.source_ip.reset(ip_token)
            return

        received = 0
        too_large = False
        # API answers hold personal data (masked, or revealed and exported in clear): no cache keeps them
        no_store = _NO_STORE if scope["path"].startswith("/api/") else ()

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise TooLarge(_too_large(limit), field="body")
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if too_large:  # whatever the app made of the aborted read, the answer is 413
                if message["type"] == "http.response.start":
                    status = 413
                    await _send_json(send, 413, _error_body("too_large", _too_large(limit), "body"), rid)
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode()), *no_store]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_REQUESTS.labels(scope["method"], template, str(status)).inc()
            HTTP_SECONDS.labels(scope["method"], template).observe(elapsed)
            if not template.startswith("/static"):
                log.info("request", extra={"method": scope["method"], "route": template, "status": status,
                                           "duration_ms": round(elapsed * 1000, 2)})
            context.request_id.reset(rid_token)
            context.source_ip.reset(ip_token)


async def _send_json(send: Send, status: int, body: dict[str, Any], rid: str) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"x-request-id", rid.encode()),
                            (b"content-length", str(len(payload)).encode()), *_NO_STORE]})
    await send({"type": "http.response.body", "body": payload})


# -- errors ----------------------------------------------------------------------------------------


def _too_large(limit: int) -> str:
    return errors.Message("the request body exceeds {limit} bytes", limit=limit)


def _error_body(code: str, message: str, field: str | None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _field_of(loc: Any) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or (str(loc[0]) if loc else None)


def install_error_handlers(app: FastAPI, *, console_error: Callable[[Request, DomainError], Response]) -> None:
    """Map domain and validation errors once: JSON for the API, a page or redirect for the console."""

    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        if not is_api(request):
            if isinstance(exc, LoginRequired):
                return _redirect(request, "/login?next=" + quote(request.url.path, safe="/"))
            if isinstance(exc, SecondFactorRequired):
                return _redirect(request, "/login/2fa")
            if isinstance(exc, PasswordChangeRequired):
                return _redirect(request, "/account/password")
            return console_error(request, exc)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(_error_body(exc.code, exc.message, exc.field), status_code=exc.status_code,
                            headers=headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        if first.get("type") == "json_invalid":  # its loc is a character position, not a field
            errors = [{"loc": ("body",), "msg": f"not valid JSON (at character {first['loc'][-1]})"}]
            first = errors[0]
        field = _field_of(first.get("loc", ()))
        message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
        details = [{"field": _field_of(e.get("loc", ())), "message": e.get("msg")} for e in errors[:20]]
        if not is_api(request):
            if tuple(first.get("loc", ()))[:1] == ("path",):  # /tickets/abc: no such page
                return console_error(request, NotFound("no such page"))
            return console_error(request, DomainError(_console_message(first), field=field))
        body = _error_body("invalid", message, field)
        body["error"]["details"] = details
        return JSONResponse(body, status_code=422)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and exc.__cause__ is not None:  # FastAPI could not read the body
            if isinstance(exc.__cause__, UnicodeDecodeError):  # as malformed JSON is
                return await domain_error(request, Invalid("not valid JSON (UTF-8 text expected)", field="body"))
            return await domain_error(request, DomainError("the body could not be read (nested too deeply?)",
                                                           field="body"))
        codes = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 401: "unauthenticated",
                 403: "forbidden", 413: "too_large"}
        err = DomainError(str(exc.detail), code=codes.get(exc.status_code, "http_error"))
        err.status_code = exc.status_code
        if not is_api(request) and exc.status_code == 404:
            return console_error(request, err)
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405 and (allowed := _allowed_methods(request)):
            # Starlette names the methods of the first route on the path only
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        return JSONResponse(_error_body(err.code, err.message, None), status_code=exc.status_code, headers=headers)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error", exc_info=exc)
        return JSONResponse(_error_body("internal", "an internal error occurred; it was logged", None),
                            status_code=500)

    async def integrity_error(request: Request, exc: Exception) -> Response:
        # A unique key that a service checked but a concurrent request took first (PostgreSQL lets
        # the later insert wait for the earlier commit, then refuses it): a conflict, not a fault.
        assert isinstance(exc, IntegrityError)
        if not _is_unique_violation(exc):
            return await unexpected(request, exc)
        log.warning("a concurrent request took the same key first", exc_info=exc)
        return await domain_error(request, Conflict(
            "another change to the same record was saved at the same moment; reload and try again"))

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(IntegrityError, integrity_error)
    app.add_exception_handler(Exception, unexpected)


# pydantic's refusals by type, as messages the console translates (its own text is English only),
# with the limit from the refusal's context where the message has one
_VALIDATION_MESSAGES: dict[str, tuple[str, str | None]] = {
    "missing": ("required", None),
    "int_parsing": ("a whole number", None), "int_type": ("a whole number", None),
    "int_from_float": ("a whole number", None),
    "greater_than_equal": ("at least {limit}", "ge"), "less_than_equal": ("at most {limit}", "le"),
    "string_too_long": ("at most {limit} characters", "max_length"),
    "string_too_short": ("at least {limit} characters", "min_length"),
    "string_pattern_mismatch": ("not in the expected form", None),
}


def _console_message(error: Mapping[str, Any]) -> str:
    """A validation refusal for a console page: a translatable message where pydantic's type is known."""
    known = _VALIDATION_MESSAGES.get(str(error.get("type")))
    if known is None:
        return str(error.get("msg"))
    template, limit = known
    context = error.get("ctx") or {}
    return errors.Message(template, limit=context[limit]) if limit and limit in context else template


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on the request's path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    return sorted(methods)


def _is_unique_violation(exc: IntegrityError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(exc.orig)


def _redirect(request: Request, url: str) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


# -- who is calling --------------------------------------------------------------------------------


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def api_actor(request: Request) -> Principal:
    """The staff member behind `Authorization: Bearer <token>`.

    Async so that the usual case, a token cached moments ago, costs no hand-off to a worker thread;
    only a database lookup goes there.
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("an API token is required: Authorization: Bearer <token>", field="authorization")
    token, request_id, source_ip = token.strip(), context.request_id.get(), client_ip(request)
    actor = accounts.cached_principal(token, request_id=request_id, source_ip=source_ip)
    if actor is None:
        actor = await run_in_threadpool(_token_principal, token, request_id, source_ip)
    request.state.principal = actor
    return actor


def _token_principal(token: str, request_id: str | None, source_ip: str | None) -> Principal:
    with unit_of_work() as session:
        return accounts.principal_for_token(session, token, request_id=request_id, source_ip=source_ip)


async def _submitted_csrf(request: Request) -> str | None:
    if request.method in SAFE_METHODS:
        return None
    if token := request.headers.get("x-csrf-token"):
        return token
    content_type = request.headers.get("content-type", "")
    if "form" in content_type:
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


def page_actor(request: Request, submitted_csrf: str | None = Depends(_submitted_csrf)) -> Principal:
    """The signed-in staff member of a console request; checks two-factor and the CSRF token."""
    token = request.cookies.get(SESSION_COOKIE)
    with unit_of_work() as session:
        web = accounts.find_session(session, token) if token else None
        account = session.get(StaffAccount, web.account_id) if web else None
        if web is None or account is None or not account.active:
            raise LoginRequired("please sign in")
        if not web.second_factor_done:
            raise SecondFactorRequired("enter your one-time code")
        if request.method not in SAFE_METHODS and (
            submitted_csrf is None or not secrets.compare_digest(submitted_csrf, web.csrf_token)
        ):
            raise Forbidden("the form expired or did not come from FinCare; reload the page and try again",
                            field="csrf_token", code="csrf")
        if account.must_change_password and request.url.path != "/account/password":
            raise PasswordChangeRequired("choose your own password first")
        actor = accounts.principal_of(account, request_id=context.request_id.get(), source_ip=client_ip(request))
        request.state.csrf_token = web.csrf_token
        request.state.must_change_password = account.must_change_password
    request.state.principal = actor
    return actor


def _guard(permission: Permission, who: Callable[..., Any]) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(actor: Principal = Depends(who)) -> Principal:  # async: a sync check is a thread hop
        if not actor.can(permission):
            raise Forbidden(f"your role does not allow this ({permission})", code="forbidden")
        return actor

    check.__fincare_permission__ = permission  # type: ignore[attr-defined]
    return check


def require(permission: Permission) -> Any:
    """Dependency for an API route: a valid bearer token whose roles grant `permission`."""
    return Depends(_guard(permission, api_actor))


def require_page(permission: Permission) -> Any:
    """Dependency for a console page: a signed-in session whose roles grant `permission`."""
    return Depends(_guard(permission, page_actor))


def guarded_permission(call: Callable[..., Any]) -> Permission | None:
    """The permission a dependency enforces, if it is one of ours (used by the route audit test)."""
    return getattr(call, "__fincare_permission__", None)

