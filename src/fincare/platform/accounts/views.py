"""Console: sign-in with two-factor, password change, language, home per role, tokens, staff."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from fincare.platform import crypto, i18n, web
from fincare.platform.accounts import service
from fincare.platform.accounts.models import StaffAccount
from fincare.platform.config import Mode, get_settings
from fincare.platform.db import unit_of_work
from fincare.platform.errors import Forbidden, Invalid, NotFound, Unauthenticated
from fincare.platform.http import PRELOGIN_COOKIE, SESSION_COOKIE, client_ip, require_page
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal, Role
from fincare.platform.schemas import PathId
from fincare.platform.web import NavItem, add_nav, render

router = APIRouter(include_in_schema=False)
Actor = Annotated[Principal, require_page(P.CONSOLE)]

add_nav(NavItem("Home", "/", P.CONSOLE, order=0))
add_nav(NavItem("Staff", "/admin/staff", P.STAFF_READ, order=900))
add_nav(NavItem("API tokens", "/account/tokens", P.OWN_TOKENS, order=990))


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after login is a phishing tool."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _prelogin_token(request: Request) -> str:
    return request.cookies.get(PRELOGIN_COOKIE) or crypto.new_token(24)


def _with_prelogin(request: Request, response: Response, token: str) -> Response:
    response.set_cookie(PRELOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request),
                        max_age=3600)
    return response


def _check_prelogin(request: Request, submitted: str) -> None:
    cookie = request.cookies.get(PRELOGIN_COOKIE)
    if not cookie or not submitted or not secrets.compare_digest(cookie, submitted):
        raise Forbidden("the sign-in form expired; please try again", field="csrf_token", code="csrf")


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    token = _prelogin_token(request)
    response = render(request, "login.html", {"next": _safe_next(next), "form_token": token})
    return _with_prelogin(request, response, token)


@router.post("/login")
def login(request: Request, username: Annotated[str, Form(max_length=60)],
          password: Annotated[str, Form(max_length=200)], csrf_token: Annotated[str, Form(max_length=100)] = "",
          next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    _check_prelogin(request, csrf_token)
    with unit_of_work() as session:
        outcome = service.authenticate(session, username=username, password=password,
                                       source_ip=client_ip(request))
        if not isinstance(outcome, service.Refused):
            started = service.start_session(session, account=outcome, source_ip=client_ip(request))
            done = started.session.second_factor_done
    if isinstance(outcome, service.Refused):
        token = _prelogin_token(request)
        response = render(request, "login.html", {"next": _safe_next(next), "form_token": token,
                                                  "error": outcome.error, "username": username},
                          status_code=outcome.error.status_code)
        return _with_prelogin(request, response, token)
    target = _safe_next(next) if done else "/login/2fa"
    redirect = RedirectResponse(target, status_code=303)
    redirect.set_cookie(SESSION_COOKIE, started.token, httponly=True, samesite="lax", secure=_secure(request))
    redirect.delete_cookie(PRELOGIN_COOKIE)
    return redirect


def _half_open(request: Request) -> tuple[str, int]:
    token = request.cookies.get(SESSION_COOKIE)
    with unit_of_work() as session:
        found = service.find_session(session, token) if token else None
        if found is None or token is None:
            raise Unauthenticated("please sign in")
        return token, found.account_id


@router.get("/login/2fa")
def second_factor_page(request: Request) -> Response:
    try:
        token, account_id = _half_open(request)
    except Unauthenticated:
        return RedirectResponse("/login", status_code=303)
    with unit_of_work() as session:
        web_session = service.find_session(session, token)
        account = session.get(StaffAccount, account_id)
        assert web_session is not None and account is not None
        if web_session.second_factor_done:
            return RedirectResponse("/", status_code=303)
        enrol_uri = None if account.totp_enabled else service.start_totp_enrolment(session, account=account)
        secret = service.totp_secret(account) if enrol_uri else None
        request.state.csrf_token = web_session.csrf_token
        demo_code = service.current_totp_code(account) if get_settings().mode is Mode.DEMO else None
    return render(request, "second_factor.html", {"enrol_uri": enrol_uri, "secret": secret,
                                                  "demo_code": demo_code})


@router.post("/login/2fa")
def second_factor(request: Request, code: Annotated[str, Form(max_length=12)],
                  csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    try:
        token, account_id = _half_open(request)
    except Unauthenticated:
        return RedirectResponse("/login", status_code=303)
    with unit_of_work() as session:
        web_session = service.find_session(session, token)
        account = session.get(StaffAccount, account_id)
        assert web_session is not None and account is not None
        if not secrets.compare_digest(csrf_token, web_session.csrf_token):
            raise Forbidden("the form expired; reload the page and try again", field="csrf_token", code="csrf")
        refused = service.verify_totp(session, account=account, code=code, source_ip=client_ip(request))
        if refused is None:
            service.complete_second_factor(session, web=web_session)
        request.state.csrf_token = web_session.csrf_token
        enrolling = not account.totp_enabled
        secret = service.totp_secret(account) if enrolling else None
    if refused is not None:
        return render(request, "second_factor.html", {"error": refused.error, "enrol_uri": None,
                                                      "secret": secret}, status_code=refused.error.status_code)
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    # Signing out needs no CSRF token: the worst a forged request can do is sign someone out.
    if token := request.cookies.get(SESSION_COOKIE):
        with unit_of_work() as session:
            service.end_session(session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/")
def home(request: Request, actor: Actor) -> Response:
    return render(request, "home.html", {"roles": sorted(actor.roles), "role_homes": _role_homes(actor)})


def _role_homes(actor: Principal) -> list[tuple[str, str]]:
    """Short descriptions of what each of the actor's roles does here, shown on the home page."""
    texts = {
        Role.AGENT: "Answer consultations, complaints and feedback within their SLA clocks.",
        Role.COMPLAINT_SPECIALIST: "Handle complaints to a decision within the statutory deadline.",
        Role.FOLLOWUP_AGENT: "Call customers back after their complaints are resolved.",
        Role.SUPERVISOR: "Watch breaches, approve extensions, balance your team's load.",
        Role.SECURITY_OFFICER: "Respond to security incidents within 30 minutes; run the quarterly audits.",
        Role.COMPLIANCE_OFFICER: "Check complaint handling and personal-data requests against the rules.",
        Role.MARKETING: "Publish knowledge posts, lectures and forums; run loyalty campaigns.",
        Role.HR: "Staff, training participation and employee satisfaction.",
        Role.EXECUTIVE: "The KPI scorecard and the measures plan.",
        Role.AUDITOR: "Browse and verify the tamper-evident audit trail.",
        Role.ADMIN: "Staff accounts, background jobs and system settings.",
    }
    return [(str(role), texts[role]) for role in sorted(actor.roles)]


@router.get("/account/password")
def password_page(request: Request, actor: Actor) -> Response:
    return render(request, "password.html", {"forced": getattr(request.state, "must_change_password", False)})


@router.post("/account/password")
def change_password(request: Request, actor: Actor, current_password: Annotated[str, Form(max_length=200)],
                    new_password: Annotated[str, Form(max_length=200)],
                    confirm_password: Annotated[str, Form(max_length=200)]) -> Response:
    try:
        if new_password != confirm_password:
            raise Invalid("the two new passwords differ", field="confirm_password")
        with unit_of_work() as session:
            account = service.require_active(service.get_account(session, actor.account_id or 0))
            service.change_password(session, account=account, current=current_password, new=new_password)
    except Invalid as exc:
        return render(request, "password.html", {"error": exc, "forced": True}, status_code=422)
    return RedirectResponse("/", status_code=303)


@router.post("/preferences/language")
def set_language(request: Request, actor: Actor, language: Annotated[str, Form(max_length=8)],
                 back: Annotated[str, Form(max_length=500)] = "/") -> Response:
    lang = i18n.normalise(language)
    if lang is None:
        raise Invalid("language must be zh-CN or en", field="language")
    with unit_of_work() as session:
        account = service.require_active(service.get_account(session, actor.account_id or 0))
        service.set_language(session, account=account, language=lang)
    response = RedirectResponse(_safe_next(back), status_code=303)
    response.set_cookie(web.LANG_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="lax",
                        secure=_secure(request))
    return response


@router.get("/account/tokens")
def tokens_page(request: Request, actor: Annotated[Principal, require_page(P.OWN_TOKENS)]) -> Response:
    with unit_of_work() as session:
        tokens = service.list_api_tokens(session, account_id=actor.account_id or 0)
    return render(request, "tokens.html", {"tokens": tokens, "new_token": None})


@router.post("/account/tokens")
def create_token(request: Request, actor: Annotated[Principal, require_page(P.OWN_TOKENS)],
                 name: Annotated[str, Form(max_length=80)]) -> Response:
    with unit_of_work() as session:
        account = service.require_active(service.get_account(session, actor.account_id or 0))
        issued = service.issue_api_token(session, account=account, actor=actor, name=name)
        tokens = service.list_api_tokens(session, account_id=account.id)
    return render(request, "tokens.html", {"tokens": tokens, "new_token": issued.token}, status_code=201)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: PathId,
                 actor: Annotated[Principal, require_page(P.OWN_TOKENS)]) -> Response:
    with unit_of_work() as session:
        service.revoke_api_token(session, token_id=token_id, actor=actor)
    return RedirectResponse("/account/tokens", status_code=303)


@router.get("/admin/staff")
def staff_page(request: Request, actor: Annotated[Principal, require_page(P.STAFF_READ)]) -> Response:
    with unit_of_work() as session:
        accounts = service.list_accounts(session)
        departments = service.list_departments(session)
    return render(request, "staff.html", {"accounts": accounts, "departments": departments,
                                          "roles": list(Role), "created": None})


@router.post("/admin/staff")
def create_staff(request: Request, actor: Annotated[Principal, require_page(P.STAFF_MANAGE)],
                 username: Annotated[str, Form(max_length=60)], role: Annotated[Role, Form()],
                 department: Annotated[str, Form(max_length=40)] = "") -> Response:
    with unit_of_work() as session:
        new = service.create_account(session, actor=actor, username=username, roles=[role],
                                     department_code=department or None)
        created = {"username": new.account.username, "one_time_password": new.one_time_password}
        accounts = service.list_accounts(session)
        departments = service.list_departments(session)
    return render(request, "staff.html", {"accounts": accounts, "departments": departments,
                                          "roles": list(Role), "created": created}, status_code=201)


@router.post("/admin/staff/{account_id}/unlock")
def unlock_staff(request: Request, account_id: PathId,
                 actor: Annotated[Principal, require_page(P.STAFF_MANAGE)]) -> Response:
    with unit_of_work() as session:
        account = service.get_account(session, account_id)
        if account is None:
            raise NotFound("no such staff account", field="account_id")
        service.unlock(session, account=account, actor=actor)
    return RedirectResponse("/admin/staff", status_code=303)
