"""Account rules: create, authenticate, lock out, two-factor, sessions, API tokens."""

from __future__ import annotations

import secrets
import string
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, joinedload

from fincare.platform import audit_trail, clock, crypto
from fincare.platform.accounts.models import AccountRole, ApiToken, Department, StaffAccount, WebSession
from fincare.platform.config import get_settings
from fincare.platform.errors import Conflict, Forbidden, Invalid, Locked, Message, NotFound, Unauthenticated
from fincare.platform.permissions import TWO_FACTOR_REQUIRED, Permission, Principal, Role

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)  # last-used is coarse: no write on every API call
# Every API call is authenticated; each process remembers a token's staff member this long rather
# than open a transaction per call to look it up. A revocation or a deactivation applies at once in
# the process that made it and within this many seconds in every other one.
TOKEN_CACHE_SECONDS = 5.0

# argon2id with the RFC 9106 "second recommended" profile (64 MiB, 3 passes).
_hasher = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=1)
# Compared against when the username is unknown, so timing does not reveal which names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))



def principal_of(account: StaffAccount, *, request_id: str | None = None,
                 source_ip: str | None = None) -> Principal:
    return Principal.of(account_id=account.id, username=account.username,
                        roles=frozenset(Role(r.role) for r in account.roles),
                        department_id=account.department_id, language=account.language,
                        request_id=request_id, source_ip=source_ip)


def needs_two_factor(account: StaffAccount) -> bool:
    return account.totp_enabled or any(Role(r.role) in TWO_FACTOR_REQUIRED for r in account.roles)


def generate_password() -> str:
    alphabet = string.ascii_letters + string.digits
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(Message("a password needs at least {length} characters",
                              length=MIN_PASSWORD_LENGTH), field="password")
    if len(set(password)) < 6:
        raise Invalid("this password is too repetitive", field="password")


# -- departments and accounts ----------------------------------------------------------------------


def list_departments(session: Session) -> Sequence[Department]:
    return session.execute(select(Department).order_by(Department.id)).scalars().all()


def get_department(session: Session, code: str) -> Department | None:
    return session.execute(select(Department).where(Department.code == code)).scalar_one_or_none()


@dataclass(frozen=True)
class NewAccount:
    account: StaffAccount
    one_time_password: str
    api_token: str


def create_account(session: Session, *, actor: Principal, username: str, roles: Sequence[Role],
                   department_code: str | None = None, display_name: str | None = None,
                   password: str | None = None, language: str = "zh-CN") -> NewAccount:
    """Create a staff account with a one-time password (changed at first login) and an API token.

    Both secrets are returned once here and stored only as hashes.
    """
    username = username.strip().lower()
    if not username or len(username) > 60 or not all(c.isalnum() or c in "._-" for c in username):
        raise Invalid("usernames use letters, digits, '.', '_' or '-' (at most 60)", field="username")
    if not roles:
        raise Invalid("an account needs at least one role", field="role")
    if session.execute(select(StaffAccount.id).where(StaffAccount.username == username)).first():
        raise Conflict(Message("the username {username} is taken", username=username), field="username")
    department = None
    if department_code is not None:
        department = get_department(session, department_code)
        if department is None:
            codes = ", ".join(d.code for d in list_departments(session))
            raise Invalid(Message("unknown department {department!r}; one of {choices}", department=department_code,
                              choices=codes), field="department")
    one_time = password or generate_password()
    check_password_strength(one_time)
    account = StaffAccount(
        username=username, display_name=display_name or username,
        department_id=department.id if department else None,
        password_hash=_hasher.hash(one_time), must_change_password=password is None,
        language=language, created_at=clock.now(),
        roles=[AccountRole(role=str(role)) for role in sorted(set(roles))],
    )
    session.add(account)
    session.flush()
    token = issue_api_token(session, account=account, actor=actor, name="initial").token
    audit_trail.record(session, actor=actor, action="account.created", subject=account,
                       after={"username": username, "roles": [str(r) for r in sorted(set(roles))],
                              "department": department_code})
    return NewAccount(account=account, one_time_password=one_time, api_token=token)


def get_account(session: Session, account_id: int) -> StaffAccount | None:
    return session.get(StaffAccount, account_id)


def get_account_by_username(session: Session, username: str) -> StaffAccount | None:
    return session.execute(
        select(StaffAccount).where(StaffAccount.username == username.strip().lower())
    ).scalar_one_or_none()


def list_accounts(session: Session) -> Sequence[StaffAccount]:
    return session.execute(select(StaffAccount).order_by(StaffAccount.username)).scalars().all()


def set_active(session: Session, *, account: StaffAccount, active: bool, actor: Principal) -> None:
    before = account.active
    account.active = active
    _forget_tokens_at_commit(session)
    if not active:
        session.execute(update(WebSession).where(WebSession.account_id == account.id)
                        .values(expires_at=clock.now()))
    audit_trail.record(session, actor=actor, action="account.activated" if active else "account.deactivated",
                       subject=account, before={"active": before}, after={"active": active})


def unlock(session: Session, *, account: StaffAccount, actor: Principal) -> None:
    before = {"failed_logins": account.failed_logins, "locked_until": account.locked_until}
    account.failed_logins, account.locked_until = 0, None
    audit_trail.record(session, actor=actor, action="account.unlocked", subject=account, before=before,
                       after={"failed_logins": 0, "locked_until": None})


def set_language(session: Session, *, account: StaffAccount, language: str) -> None:
    if language not in ("zh-CN", "en"):
        raise Invalid("language must be zh-CN or en", field="language")
    account.language = language


# -- passwords and lockout -------------------------------------------------------------------------


def _system_for(account: StaffAccount, source_ip: str | None) -> Principal:
    return Principal(account_id=account.id, username=account.username, source_ip=source_ip)


@dataclass(frozen=True)
class Refused:
    """A failed sign-in step. Returned, not raised, so the caller commits the failure count."""

    error: Unauthenticated | Locked


def authenticate(session: Session, *, username: str, password: str,
                 source_ip: str | None = None) -> StaffAccount | Refused:
    """Check a password. Five failures lock the account for 15 minutes (in the database).

    A wrong name and a wrong password are refused alike; a locked account is refused as locked.
    """
    account = session.execute(
        select(StaffAccount).where(StaffAccount.username == username.strip().lower())
        .with_for_update(of=StaffAccount)
    ).scalar_one_or_none()
    now = clock.now()
    if account is None or not account.active:
        _verify(_DUMMY_HASH, password)
        return Refused(Unauthenticated("wrong username or password", field="password"))
    if account.locked_until is not None and account.locked_until > now:
        _verify(_DUMMY_HASH, password)  # same work as any attempt: the answer's timing tells nothing
        return Refused(Locked("too many failed attempts; the account is locked for 15 minutes", field="username"))
    if not _verify(account.password_hash, password):
        account.failed_logins += 1
        locked = account.failed_logins >= MAX_FAILED_LOGINS
        if locked:
            account.locked_until, account.failed_logins = now + LOCKOUT, 0
        audit_trail.record(session, actor=_system_for(account, source_ip),
                           action="account.locked" if locked else "account.login_failed", subject=account)
        return Refused(Unauthenticated("wrong username or password", field="password"))
    account.failed_logins, account.locked_until = 0, None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    return account


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def change_password(session: Session, *, account: StaffAccount, current: str, new: str) -> None:
    if not _verify(account.password_hash, current):
        raise Invalid("the current password is wrong", field="current_password")
    if current == new:
        raise Invalid("choose a password you have not used here", field="new_password")
    try:
        check_password_strength(new)
    except Invalid as exc:
        raise Invalid(exc.message, field="new_password") from None
    account.password_hash, account.must_change_password = _hasher.hash(new), False
    audit_trail.record(session, actor=principal_of(account), action="account.password_changed", subject=account)


# -- two-factor ------------------------------------------------------------------------------------


def _totp_aad(account: StaffAccount) -> bytes:
    return f"staff_account.totp_secret:{account.id}".encode()


def start_totp_enrolment(session: Session, *, account: StaffAccount) -> str:
    """A fresh secret (base32) stored sealed but not yet enabled; returns the provisioning URI."""
    if account.totp_enabled:
        raise Conflict("two-factor authentication is already set up", field="totp")
    secret = pyotp.random_base32()
    account.totp_secret = crypto.seal("totp", secret.encode(), aad=_totp_aad(account))
    session.flush()
    return str(pyotp.TOTP(secret).provisioning_uri(name=account.username, issuer_name="FinCare"))


def provision_totp(session: Session, *, account: StaffAccount, actor: Principal) -> str:
    """Enrol and enable two-factor in one step (demo and provisioning tools); returns the secret."""
    start_totp_enrolment(session, account=account)
    account.totp_enabled = True
    audit_trail.record(session, actor=actor, action="account.totp_enabled", subject=account)
    secret = totp_secret(account)
    assert secret is not None
    return secret


def totp_secret(account: StaffAccount) -> str | None:
    if account.totp_secret is None:
        return None
    return crypto.unseal("totp", account.totp_secret, aad=_totp_aad(account)).decode()


def verify_totp(session: Session, *, account: StaffAccount, code: str,
                source_ip: str | None = None) -> Refused | None:
    """Accept a current code once (±30 s drift); confirm enrolment on first success.

    Failures count towards the same lockout as passwords and are returned, not raised.
    """
    secret = totp_secret(account)
    if secret is None:
        raise Conflict("two-factor authentication is not set up", field="code")
    now = clock.now()
    if account.locked_until is not None and account.locked_until > now:
        return Refused(Locked("too many failed attempts; the account is locked for 15 minutes", field="code"))
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // totp.interval
    code = code.strip().replace(" ", "")
    matched = next((s for s in (step, step - 1, step + 1)
                    if secrets.compare_digest(totp.at(s * totp.interval), code)), None)
    if matched is None or (account.totp_last_step is not None and matched <= account.totp_last_step):
        account.failed_logins += 1
        if account.failed_logins >= MAX_FAILED_LOGINS:
            account.locked_until, account.failed_logins = now + LOCKOUT, 0
        audit_trail.record(session, actor=_system_for(account, source_ip), action="account.totp_failed",
                           subject=account)
        return Refused(Unauthenticated("the code is wrong or was already used", field="code"))
    account.totp_last_step, account.failed_logins = matched, 0
    if not account.totp_enabled:
        account.totp_enabled = True
        audit_trail.record(session, actor=_system_for(account, source_ip), action="account.totp_enabled",
                           subject=account)
    return None


def current_totp_code(account: StaffAccount) -> str:
    """The code an authenticator would show now (demo convenience and tests)."""
    secret = totp_secret(account)
    if secret is None:
        raise Conflict("two-factor authentication is not set up", field="totp")
    return str(pyotp.TOTP(secret).at(clock.now()))


# -- console sessions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewSession:
    token: str
    session: WebSession


def start_session(session: Session, *, account: StaffAccount, source_ip: str | None) -> NewSession:
    """A console session after a correct password; two-factor may still be due."""
    token = crypto.new_token()
    now = clock.now()
    web = WebSession(digest=crypto.token_digest(token), account_id=account.id,
                     second_factor_done=not needs_two_factor(account) and not account.totp_enabled,
                     csrf_token=crypto.new_token(24), created_at=now,
                     expires_at=now + timedelta(hours=get_settings().session_hours), source_ip=source_ip)
    session.add(web)
    account.last_login_at = now
    session.flush()
    audit_trail.record(session, actor=_system_for(account, source_ip), action="account.login", subject=account)
    return NewSession(token=token, session=web)


def find_session(session: Session, token: str) -> WebSession | None:
    """The live session for a cookie value, or None."""
    web = session.execute(
        select(WebSession).where(WebSession.digest == crypto.token_digest(token))
    ).scalar_one_or_none()
    if web is None or web.expires_at <= clock.now():
        return None
    return web


def end_session(session: Session, token: str) -> None:
    session.execute(update(WebSession).where(WebSession.digest == crypto.token_digest(token))
                    .values(expires_at=clock.now()))


def complete_second_factor(session: Session, *, web: WebSession) -> None:
    web.second_factor_done = True
    web.csrf_token = crypto.new_token(24)  # a new privilege level gets a new CSRF token


# -- API tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    row: ApiToken
    token: str  # the clear value: shown once, never stored


def issue_api_token(session: Session, *, account: StaffAccount, actor: Principal, name: str) -> IssuedToken:
    """Create a token; the clear value is returned once and only its digest is kept."""
    name = name.strip()
    if not name or len(name) > 80:
        raise Invalid("a token needs a name of at most 80 characters", field="name")
    token = "fc_" + crypto.new_token()
    row = ApiToken(account_id=account.id, name=name, digest=crypto.token_digest(token), prefix=token[:10],
                   created_at=clock.now())
    session.add(row)
    session.flush()
    audit_trail.record(session, actor=actor, action="api_token.issued", subject=row,
                       after={"account_id": account.id, "name": name, "prefix": row.prefix})
    return IssuedToken(row=row, token=token)


def list_api_tokens(session: Session, *, account_id: int) -> Sequence[ApiToken]:
    return session.execute(
        select(ApiToken).where(ApiToken.account_id == account_id).order_by(ApiToken.id.desc())
    ).scalars().all()


def revoke_api_token(session: Session, *, token_id: int, actor: Principal) -> ApiToken:
    """Revoke a token of the actor's own, or any token for staff managers."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.account_id != actor.account_id and not actor.can(Permission.STAFF_MANAGE)):
        raise NotFound("no such token", field="token_id")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        _forget_tokens_at_commit(session)
        audit_trail.record(session, actor=actor, action="api_token.revoked", subject=row,
                           after={"prefix": row.prefix})
    return row


class _TokenCache:
    """Token digest → (when read, monotonic; the principal without request details).

    A generation counter, bumped by every clear, keeps a lookup that read the database before a
    revocation committed from storing what it read after the clear.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Principal]] = {}
        self.generation = 0

    def get(self, digest: str) -> Principal | None:
        with self._lock:
            entry = self._entries.get(digest)
        if entry is None or time.monotonic() - entry[0] > TOKEN_CACHE_SECONDS:
            return None
        return entry[1]

    def put(self, digest: str, principal: Principal, generation: int) -> None:
        with self._lock:
            if generation != self.generation:
                return
            if len(self._entries) > 10_000:  # bounded: stale entries are dropped wholesale
                self._entries.clear()
            self._entries[digest] = (time.monotonic(), replace(principal, request_id=None, source_ip=None))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.generation += 1


token_cache = _TokenCache()


def _forget_tokens_at_commit(session: Session) -> None:
    """A revocation or deactivation must not be served from the cache: forget now, and again once
    committed (a lookup between the two could have read the state being replaced)."""
    token_cache.clear()
    event.listen(session, "after_commit", lambda _: token_cache.clear(), once=True)


def cached_principal(token: str, *, request_id: str | None = None, source_ip: str | None = None) -> Principal | None:
    """The staff member behind a token if this process checked it in the last few seconds, else None."""
    found = token_cache.get(crypto.token_digest(token))
    return replace(found, request_id=request_id, source_ip=source_ip) if found else None


def principal_for_token(session: Session, token: str, *, request_id: str | None = None,
                        source_ip: str | None = None) -> Principal:
    """The staff member behind a bearer token; Unauthenticated if unknown, revoked or inactive."""
    generation = token_cache.generation  # before reading: a revocation committed meanwhile wins
    # one round trip for the token, its account and the account's roles: this runs on every API call
    found = session.execute(
        select(ApiToken, StaffAccount).join(StaffAccount, StaffAccount.id == ApiToken.account_id)
        .options(joinedload(StaffAccount.roles)).where(ApiToken.digest == crypto.token_digest(token))
    ).unique().one_or_none()
    if found is None or found[0].revoked_at is not None:
        raise Unauthenticated("the API token is unknown or revoked", field="authorization")
    row, account = found
    if not account.active:
        raise Unauthenticated("the API token's account is disabled", field="authorization")
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at > TOKEN_TOUCH_INTERVAL:
        row.last_used_at = now
    principal = principal_of(account, request_id=request_id, source_ip=source_ip)
    token_cache.put(row.digest, principal, generation)
    return principal


def require_active(account: StaffAccount | None) -> StaffAccount:
    if account is None or not account.active:
        raise Forbidden("this account is disabled")
    return account
