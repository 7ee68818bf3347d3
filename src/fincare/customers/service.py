"""Customer records: create, edit, find, view (audited read), reveal (audited, with a reason), consent.

Every personal value is validated and normalised (`identity`), then stored encrypted with its mask
and, for identifiers, its blind index. Restricted and erased customers are never processed: only
the rights desk may still act on them.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, bindparam, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fincare.customers import identity
from fincare.customers.models import (
    Consent,
    ConsentPurpose,
    Customer,
    CustomerCard,
    CustomerKind,
    CustomerStatus,
    CustomerViewCount,
    RiskTolerance,
    ServiceLine,
    customer_reference,
)
from fincare.platform import audit_trail, clock, i18n, keys, outbox
from fincare.platform.db import insert_on_conflict
from fincare.platform.errors import Conflict, Forbidden, Invalid, Label, Message, NotFound, one_of
from fincare.platform.masking import mask_address, mask_card, mask_email, mask_id_number, mask_name, mask_phone
from fincare.platform.permissions import SYSTEM, Permission, Principal

RISK_ASSESSMENT_YEARS = 2  # an investor assessment is redone every two years


def risk_expiry(assessed: date) -> date:
    """The day an assessment made on `assessed` expires: the same date two years on (29 February
    on 28 February), not 730 days, which a leap day in between would make a day short."""
    year = assessed.year + RISK_ASSESSMENT_YEARS
    return assessed.replace(year=year, day=min(assessed.day, calendar.monthrange(year, assessed.month)[1]))
MAX_CARDS = 20
MAX_TAGS = 30
LANGUAGES = tuple(i18n.LANGUAGES)  # a customer is written to in a language of the console

# JR/T 0171-2020 sensitivity of each personal field (C3 highest). Authentication data (PINs,
# passwords, CVV) is C3 and is never stored here; the identifiers below are C2; an organisation's
# credit code is public registry data (C1).
SENSITIVITY = {"name": "C2", "id_number": "C2", "phone": "C2", "email": "C2", "address": "C2",
               "card_number": "C2", "credit_code": "C1"}
REVEALABLE = ("name", "id_number", "credit_code", "phone", "email", "address", "cards")
SEARCHABLE = ("phone", "id_number", "credit_code", "email", "card_number")
PERSONAL_FIELDS = frozenset({"name", "id_number", "credit_code", "phone", "email", "address", "cards"})


@dataclass
class CustomerData:
    """Validated, normalised input for a new or changed customer (None: not given)."""

    kind: CustomerKind | None = None
    name: str | None = None
    id_number: str | None = None
    credit_code: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    cards: list[str] | None = None
    risk_tolerance: RiskTolerance | None = None
    risk_assessed_on: date | None = None
    service_lines: list[str] | None = None
    branch: str | None = None
    segment: str | None = None
    tags: list[str] | None = None
    external_id: str | None = None
    language: str | None = None  # zh-CN or en: the language of messages and surveys to the customer
    resident: identity.ResidentId | None = None  # birth date and gender derived from id_number
    given: set[str] = field(default_factory=set)  # fields present in the input, even if null


def _text(value: Any, field_name: str, max_len: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("must be text", field=field_name)
    cleaned = value.strip()
    if len(cleaned) > max_len:
        raise Invalid(Message("at most {limit} characters", limit=max_len), field=field_name)
    return cleaned or None


def _str_list(value: Any, field_name: str, limit: int) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace(";", ",").split(",")
    if not isinstance(value, list) or len(value) > limit:
        raise Invalid(Message("a list of at most {limit} items", limit=limit), field=field_name)
    return [v.strip() for v in value if isinstance(v, str) and v.strip()]


ALLOWED = ("kind", "name", "id_number", "credit_code", "phone", "email", "address", "cards", "risk_tolerance",
           "risk_assessed_on", "service_lines", "branch", "segment", "tags", "external_id", "language")
# Lookups by value, built once: `parse_customer` runs per row of a bulk import, where an Enum call costs
# ten times a dict lookup. Both accept exactly the values the Enum constructor would.
_ALLOWED = frozenset(ALLOWED)
_KINDS = {kind.value: kind for kind in CustomerKind}
_TOLERANCES = {tolerance.value: tolerance for tolerance in RiskTolerance}
_SERVICE_LINES = frozenset(line.value for line in ServiceLine)
_CARD_FIELDS = tuple(f"cards.{i}" for i in range(MAX_CARDS))  # `cards` holds at most MAX_CARDS


def parse_customer(raw: dict[str, Any], *, partial: bool = False) -> CustomerData:
    """Validate and normalise raw input (API body, console form or CSV row); Invalid names the field."""
    if not _ALLOWED.issuperset(raw):
        raise Invalid("unknown field", field=sorted(set(raw) - _ALLOWED)[0])
    data = CustomerData(given=set(raw))
    kind = raw.get("kind")
    if kind is not None or not partial:
        data.kind = _KINDS.get(str(kind))
        if data.kind is None:
            raise Invalid("kind is individual, enterprise or institutional", field="kind")
    if "name" in raw or not partial:
        data.name = identity.name(raw.get("name") or "")
    if value := raw.get("id_number"):
        data.resident = identity.resident_id(str(value))
        data.id_number = data.resident.number
    if value := raw.get("credit_code"):
        data.credit_code = identity.credit_code(str(value))
    if value := raw.get("phone"):
        data.phone = identity.mobile(str(value))
    if value := raw.get("email"):
        data.email = identity.email(str(value))
    if value := raw.get("address"):
        data.address = identity.address(str(value))
    if "cards" in raw:
        cards = _str_list(raw.get("cards"), "cards", MAX_CARDS)
        data.cards = [identity.bank_card(c, field=f) for f, c in zip(_CARD_FIELDS, cards, strict=False)]
    if value := raw.get("risk_tolerance"):
        data.risk_tolerance = _TOLERANCES.get(str(value).upper())
        if data.risk_tolerance is None:
            raise Invalid("risk tolerance is C1 to C5", field="risk_tolerance")
    if value := raw.get("risk_assessed_on"):
        try:
            data.risk_assessed_on = value if isinstance(value, date) else date.fromisoformat(str(value))
        except ValueError:
            raise Invalid("a date like 2026-03-31", field="risk_assessed_on") from None
        if data.risk_assessed_on > clock.now().date():
            raise Invalid("an assessment cannot be dated in the future", field="risk_assessed_on")
    if "service_lines" in raw:
        lines = _str_list(raw.get("service_lines"), "service_lines", len(ServiceLine))
        if not _SERVICE_LINES.issuperset(lines):
            raise Invalid(Message("service lines are {choices}", choices=", ".join(ServiceLine)), field="service_lines")
        data.service_lines = sorted(set(lines))
    data.branch = _text(raw.get("branch"), "branch", 60)
    data.segment = _text(raw.get("segment"), "segment", 60)
    if "tags" in raw:
        data.tags = sorted(set(_str_list(raw.get("tags"), "tags", MAX_TAGS)))
    data.external_id = _text(raw.get("external_id"), "external_id", 80)
    data.language = _text(raw.get("language"), "language", 8)
    if data.language is not None and data.language not in LANGUAGES:
        raise Invalid(Message("one of {choices}", choices=", ".join(LANGUAGES)), field="language")
    return data


def check_kind_rules(kind: str, data: CustomerData, customer: Customer | None = None) -> None:
    individual = kind == CustomerKind.INDIVIDUAL
    if individual and data.credit_code:
        raise Invalid("a unified social credit code belongs to organisations", field="credit_code")
    if not individual and data.id_number:
        raise Invalid("organisations are identified by a unified social credit code", field="id_number")
    if data.risk_assessed_on and not (data.risk_tolerance or (customer and customer.risk_tolerance)):
        raise Invalid("an assessment date needs a risk tolerance", field="risk_assessed_on")


# -- writing ---------------------------------------------------------------------------------------


def _seal(session: Session, customer: Customer, column: str, value: str | None) -> bytes | None:
    if value is None:
        return None
    return keys.encrypt(session, value, table="customer", column=column, uid=customer.uid)


def _apply(session: Session, customer: Customer, data: CustomerData, *, creating: bool) -> None:
    if creating:
        customer.key_version = keys.active_version(session)
    elif customer.key_version != keys.active_version(session):
        # fields this edit leaves alone must move to the active key too, or a rotation would
        # destroy the key they are still under
        keys.reencrypt_row(session, customer, keys.active_version(session))
    if data.name is not None:
        customer.name_enc, customer.name_mask = _seal(session, customer, "name_enc", data.name), mask_name(data.name)
    for attr, mask, index_field in (("id_number", mask_id_number, "id_number"),
                                    ("credit_code", mask_id_number, "credit_code"),
                                    ("phone", mask_phone, "phone"), ("email", mask_email, "email")):
        if creating or attr in data.given:
            value = getattr(data, attr)
            setattr(customer, f"{attr}_enc", _seal(session, customer, f"{attr}_enc", value))
            setattr(customer, f"{attr}_mask", mask(value) if value else None)
            setattr(customer, f"{attr}_lookup", keys.blind_index(index_field, value) if value else None)
    if creating or "address" in data.given:
        customer.address_enc = _seal(session, customer, "address_enc", data.address)
        customer.address_mask = mask_address(data.address) if data.address else None
    if data.resident is not None:
        customer.birth_year, customer.gender = data.resident.birth_date.year, data.resident.gender
    elif creating or "id_number" in data.given:
        customer.birth_year = customer.gender = None
    if data.cards is not None:
        customer.cards = [_card(session, number) for number in dict.fromkeys(data.cards)]
    if data.risk_tolerance is not None or data.risk_assessed_on is not None:
        customer.risk_tolerance = data.risk_tolerance or customer.risk_tolerance
        customer.risk_assessed_on = data.risk_assessed_on or clock.now().date()
        customer.risk_expires_on = risk_expiry(customer.risk_assessed_on)
    for attr in ("service_lines", "tags"):
        if getattr(data, attr) is not None:
            setattr(customer, attr, getattr(data, attr))
    for attr in ("branch", "segment", "external_id"):
        if creating or attr in data.given:
            setattr(customer, attr, getattr(data, attr))
    if creating or "language" in data.given:
        customer.language = data.language or LANGUAGES[0]
    customer.updated_at = clock.now()


def _card(session: Session, number: str) -> CustomerCard:
    card = CustomerCard(uid=keys.uid_at(clock.now()), key_version=keys.active_version(session),
                        number_mask=mask_card(number), number_lookup=keys.blind_index("card_number", number))
    card.number_enc = keys.encrypt(session, number, table="customer_card", column="number_enc", uid=card.uid)
    return card


def _masked_view(customer: Customer) -> dict[str, Any]:
    """What the audit trail keeps of a customer: masks only."""
    return {"name": customer.name_mask, "id_number": customer.id_number_mask,
            "credit_code": customer.credit_code_mask, "phone": customer.phone_mask,
            "email": customer.email_mask, "address": customer.address_mask,
            "cards": [c.number_mask for c in customer.cards], "risk_tolerance": customer.risk_tolerance,
            "branch": customer.branch, "segment": customer.segment, "tags": list(customer.tags),
            "service_lines": list(customer.service_lines), "external_id": customer.external_id}


def _ensure_unique_external_id(session: Session, external_id: str | None, own_id: int | None = None) -> None:
    if external_id is None:
        return
    found = session.execute(select(Customer.id).where(Customer.external_id == external_id)).scalar_one_or_none()
    if found is not None and found != own_id:
        raise Conflict(Message("external id {external_id} belongs to customer {customer_id}", external_id=external_id,
                               customer_id=found), field="external_id")


@contextmanager
def _claiming_external_id(session: Session, customer: Customer, external_id: str | None) -> Iterator[None]:
    """Changes to the customer made inside are written in a savepoint: if a concurrent request gave
    the same external id to another customer after `_ensure_unique_external_id` looked, refuse as
    that check would have (the changes are undone, the transaction stays usable)."""
    try:
        with session.begin_nested():
            yield
            session.add(customer)
    except IntegrityError:
        _ensure_unique_external_id(session, external_id, customer.id)
        raise


def create_customer(session: Session, *, actor: Principal, data: CustomerData) -> Customer:
    """Create a customer from validated input; audited with masked values."""
    assert data.kind is not None and data.name is not None
    check_kind_rules(data.kind, data)
    _ensure_unique_external_id(session, data.external_id)
    now = clock.now()
    customer = Customer(uid=keys.uid_at(now), kind=data.kind, status=CustomerStatus.ACTIVE, created_at=now,
                        updated_at=now, service_lines=[], tags=[])
    with _claiming_external_id(session, customer, data.external_id):
        _apply(session, customer, data, creating=True)
    audit_trail.record(session, actor=actor, action="customer.created", subject=customer,
                       after=_masked_view(customer))
    return customer


def update_customer(session: Session, *, actor: Principal, customer: Customer, data: CustomerData) -> Customer:
    """Change the given fields; the audit entry carries masked before and after."""
    _require_processable(customer)
    if data.kind is not None and data.kind != customer.kind:
        raise Invalid("a customer's kind cannot change; create a new record", field="kind")
    check_kind_rules(customer.kind, data, customer)
    _ensure_unique_external_id(session, data.external_id, customer.id)
    before = _masked_view(customer)
    with _claiming_external_id(session, customer, data.external_id):
        _apply(session, customer, data, creating=False)
    after = _masked_view(customer)
    # a new value can have the same mask (13812345678 → 13899995678): personal fields given count too
    changed = {k for k in after if before[k] != after[k]} | (data.given & PERSONAL_FIELDS)
    if not changed:
        return customer
    audit_trail.record(session, actor=actor, action="customer.updated", subject=customer,
                       before={k: before[k] for k in sorted(changed)}, after={k: after[k] for k in sorted(changed)})
    return customer


def _require_processable(customer: Customer) -> None:
    if customer.status != CustomerStatus.ACTIVE:
        raise Conflict(Message("this customer's data is {status}: it may not be processed",
                               status=Label("customer_status", customer.status)), field="customer_id")


# -- reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerSummary:
    """A customer as other domains show them: reference, masks and status, never a clear value."""

    id: int
    name: str
    phone: str | None
    status: str

    @property
    def reference(self) -> str:
        return customer_reference(self.id)


def summarize(customer: Customer) -> CustomerSummary:
    return CustomerSummary(customer.id, customer.name_mask, customer.phone_mask, customer.status)


def summaries(session: Session, customer_ids: Iterable[int]) -> dict[int, CustomerSummary]:
    """The masks of these customers, read without the encrypted columns; not an audited view."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return {}
    # one id (a ticket's page, an imported ticket) by a statement built once: building and keying a
    # select costs more than running it; an IN list would be re-rendered into the SQL on every call
    one = len(wanted) == 1
    statement = _ONE_SUMMARY if one else _SUMMARIES.where(_SUMMARY_TABLE.c.id.in_(wanted))
    rows = session.connection().execute(statement, {"id": wanted[0]} if one else None).all()
    return {r.id: summary_of(r) for r in rows}


def summary_query(customer_id: int) -> tuple[Select[Any], dict[str, Any]]:
    """The statement and parameters that read one customer's summary (for `summary_of`), for a caller
    that reads it together with something else in one round trip."""
    return _ONE_SUMMARY, {"id": customer_id}


def summary_of(row: Any) -> CustomerSummary:
    """The summary in a row read by `summaries`' statement (`summary_query`)."""
    return CustomerSummary(row.id, row.name_mask, row.phone_mask, row.status)


_SUMMARY_TABLE = Customer.__table__
_SUMMARIES = select(_SUMMARY_TABLE.c.id, _SUMMARY_TABLE.c.name_mask, _SUMMARY_TABLE.c.phone_mask,
                    _SUMMARY_TABLE.c.status)
_ONE_SUMMARY = _SUMMARIES.where(_SUMMARY_TABLE.c.id == bindparam("id"))


def active_ids(session: Session, *, segment: str | None = None, tag: str | None = None, after_id: int = 0,
               limit: int = 1000) -> list[int]:
    """Ids of active customers of `segment` and/or carrying `tag`, in id order after `after_id` (paging)."""
    query = select(Customer.id).where(Customer.status == CustomerStatus.ACTIVE, Customer.id > after_id)
    if segment is not None:
        query = query.where(Customer.segment == segment)
    if tag is not None:
        if session.get_bind().dialect.name == "postgresql":
            query = query.where(Customer.tags.op("@>")(func.jsonb_build_array(tag)))
        else:
            query = query.where(text("EXISTS (SELECT 1 FROM json_each(customer.tags) WHERE value = :tag)")
                                .bindparams(tag=tag))
    return list(session.execute(query.order_by(Customer.id).limit(limit)).scalars())


def get_customer(session: Session, customer_id: int) -> Customer | None:
    return session.get(Customer, customer_id)


def access_customer(session: Session, customer_id: int, actor: Principal, *, for_write: bool = False) -> Customer:
    """Load a customer for a person: checks the permission and records the view (one read entry).

    Restricted and erased records are shown only to those who handle data-subject rights.
    """
    customer = load_customer(session, customer_id, actor,
                             Permission.CUSTOMER_WRITE if for_write else Permission.CUSTOMER_READ, lock=for_write)
    if not for_write:
        record_view(session, customer=customer, actor=actor)
    return customer


def load_customer(session: Session, customer_id: int, actor: Principal, permission: Permission, *,
                  lock: bool = False) -> Customer:
    """Fetch and authorise without recording a view (for reveal, export, consent and rights actions,
    which audit themselves); a customer the actor may not see is "not found"."""
    if not actor.can(permission):
        raise Forbidden("your role does not allow this", code="forbidden")
    customer = session.get(Customer, customer_id, with_for_update=lock or None)
    if customer is None or (customer.status != CustomerStatus.ACTIVE and not actor.can(Permission.CUSTOMER_ERASE)):
        raise NotFound("no such customer", field="customer_id")
    return customer


def record_view(session: Session, *, customer: Customer, actor: Principal) -> None:
    """One audited read, and the staff member's daily view counter (for anomaly detection)."""
    audit_trail.record(session, actor=actor, action="customer.viewed", subject=customer, kind="read")
    _count_views(session, actor, 1)


def _count_views(session: Session, actor: Principal, views: int) -> None:
    """Add `views` customer records to the staff member's count for today: a page of a list or a
    search counts each record it shows, so paging through the book stands out as much as opening it."""
    if actor.account_id is None or views == 0:
        return
    stmt = insert_on_conflict(session, CustomerViewCount).values(account_id=actor.account_id, day=clock.now().date(),
                                                                 views=views)
    session.execute(stmt.on_conflict_do_update(index_elements=["account_id", "day"],
                                               set_={"views": CustomerViewCount.views + views}))


def views_by_staff(session: Session, *, day: date) -> dict[int, int]:
    rows = session.execute(select(CustomerViewCount.account_id, CustomerViewCount.views)
                           .where(CustomerViewCount.day == day)).all()
    return {int(account_id): int(views) for account_id, views in rows}


@dataclass(frozen=True)
class Contact:
    """Where to send a customer a message, in clear: for addressing it only, never for display."""

    email: str | None
    phone: str | None
    language: str

    def reachable(self) -> tuple[outbox.Channel, str] | None:
        """Where a message can go: e-mail first, else a mobile number the outbox accepts."""
        for channel, address in ((outbox.Channel.EMAIL, self.email), (outbox.Channel.SMS, self.phone)):
            if address:
                try:
                    return channel, outbox.normalise_address(channel, address)
                except Invalid:
                    continue
        return None


def contact_of(session: Session, customer_id: int, *, purpose: str) -> Contact | None:
    """Decrypt an active customer's email and phone to address a message (the use is audited)."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.status != CustomerStatus.ACTIVE:
        return None
    clear = {column: None if getattr(customer, f"{column}_enc") is None else keys.decrypt(
        session, getattr(customer, f"{column}_enc"), table="customer", column=f"{column}_enc", uid=customer.uid)
        for column in ("email", "phone")}
    audit_trail.record(session, actor=SYSTEM, action="customer.contact_used", subject=customer, kind="read",
                       after={"purpose": purpose})
    return Contact(clear["email"], clear["phone"], customer.language)


def reveal(session: Session, *, actor: Principal, customer: Customer, field_name: str, reason: str) -> Any:
    """The clear value of one field, for a permitted role with a stated reason; audited."""
    if not actor.can(Permission.CUSTOMER_REVEAL):
        raise Forbidden("your role may not reveal personal data", code="forbidden")
    if field_name not in REVEALABLE:
        raise Invalid(Message("one of {choices}", choices=", ".join(REVEALABLE)), field="field")
    reason = (reason or "").strip()
    if len(reason) < 4 or len(reason) > 500:
        raise Invalid("state why you need to see this (4 to 500 characters)", field="reason")
    reason = identity.redact_identifiers(reason)  # kept in the audit trail
    _require_processable(customer)
    if field_name == "cards":
        value: Any = [keys.decrypt(session, c.number_enc, table="customer_card", column="number_enc", uid=c.uid)
                      for c in customer.cards]
    else:
        blob = getattr(customer, f"{field_name}_enc")
        value = None if blob is None else keys.decrypt(session, blob, table="customer", column=f"{field_name}_enc",
                                                       uid=customer.uid)
    audit_trail.record(session, actor=actor, action="customer.revealed", subject=customer, kind="read",
                       after={"field": field_name}, reason=reason)
    return value


def decrypt_all(session: Session, customer: Customer) -> dict[str, Any]:
    """Every personal value in clear (export and correction); callers audit the use."""
    out: dict[str, Any] = {}
    for column in ("name", "id_number", "credit_code", "phone", "email", "address"):
        blob = getattr(customer, f"{column}_enc")
        out[column] = None if blob is None else keys.decrypt(session, blob, table="customer",
                                                             column=f"{column}_enc", uid=customer.uid)
    out["cards"] = [keys.decrypt(session, c.number_enc, table="customer_card", column="number_enc", uid=c.uid)
                    for c in customer.cards]
    return out


def search(session: Session, *, actor: Principal, field_name: str, value: str) -> Sequence[Customer]:
    """Exact lookup by a normalised identifier through its blind index; audited without the value."""
    if field_name not in SEARCHABLE:
        raise Invalid(Message("search by one of {choices}", choices=", ".join(SEARCHABLE)), field="field")
    normalise = {"phone": identity.mobile, "id_number": lambda v, field: identity.resident_id(v, field=field).number,
                 "credit_code": identity.credit_code, "email": identity.email,
                 "card_number": identity.bank_card}[field_name]
    digest = keys.blind_index(field_name, normalise(value, field=field_name))  # type: ignore[operator]
    if field_name == "card_number":
        query = select(Customer).join(CustomerCard).where(CustomerCard.number_lookup == digest)
    else:
        query = select(Customer).where(getattr(Customer, f"{field_name}_lookup") == digest)
    if not actor.can(Permission.CUSTOMER_ERASE):
        query = query.where(Customer.status == CustomerStatus.ACTIVE)
    found = session.execute(query.limit(50)).scalars().unique().all()
    audit_trail.record(session, actor=actor, action="customer.searched", kind="read",
                       after={"field": field_name, "matches": [c.id for c in found]})
    _count_views(session, actor, len(found))
    return found


def list_customers(session: Session, *, actor: Principal, kind: str | None = None,
                   status: str | None = CustomerStatus.ACTIVE,
                   branch: str | None = None, segment: str | None = None, risk_tolerance: str | None = None,
                   before_id: int | None = None, limit: int = 50) -> Sequence[Customer]:
    """Newest first, masked fields only; page with `before_id`. Only the rights desk lists
    restricted or erased records. A page shown is a read in the audit trail (its filters and the
    customers on it) and counts each of them in the staff member's views."""
    for name, values, value in (("kind", CustomerKind, kind), ("status", CustomerStatus, status),
                                ("risk_tolerance", RiskTolerance, risk_tolerance)):
        if value:  # a filter that can match nothing is a typo: say so rather than list everyone
            one_of(values, value, name)
    if not actor.can(Permission.CUSTOMER_ERASE):
        status = CustomerStatus.ACTIVE
    query = select(Customer).order_by(Customer.id.desc()).limit(min(max(limit, 1), 200))
    filters = {"kind": kind, "status": status, "branch": branch, "segment": segment, "risk_tolerance": risk_tolerance}
    for name, value in filters.items():
        if value:
            query = query.where(getattr(Customer, name) == value)
    if before_id:
        query = query.where(Customer.id < before_id)
    found = session.execute(query).scalars().all()
    if found:
        audit_trail.record(session, actor=actor, action="customer.listed", kind="read",
                           after={"filters": {k: v for k, v in filters.items() if v}, "before_id": before_id,
                                  "customers": [c.id for c in found]})
        _count_views(session, actor, len(found))
    return found


def count_customers(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(Customer)).scalar_one())


def risk_assessment_valid(customer: Customer) -> bool:
    return customer.risk_expires_on is not None and customer.risk_expires_on >= clock.now().date()


# -- consent ---------------------------------------------------------------------------------------


def record_consent(session: Session, *, actor: Principal, customer: Customer, purpose: ConsentPurpose,
                   granted: bool, channel: str) -> Consent:
    """A consent decision; the latest per purpose is in force. Withdrawal is always accepted."""
    if granted:
        _require_processable(customer)
    consent = Consent(customer_id=customer.id, purpose=purpose, granted=granted, channel=channel[:20],
                      recorded_at=clock.now(), recorded_by=actor.account_id)
    session.add(consent)
    session.flush()
    audit_trail.record(session, actor=actor, action="customer.consent_granted" if granted else
                       "customer.consent_withdrawn", subject=customer, after={"purpose": purpose, "channel": channel})
    return consent


def current_consents(session: Session, customer_id: int) -> dict[str, Consent]:
    rows = session.execute(select(Consent).where(Consent.customer_id == customer_id).order_by(Consent.id)).scalars()
    return {c.purpose: c for c in rows}


def may_contact_for(session: Session, customer_id: int, purpose: ConsentPurpose) -> bool:
    """Whether anything that markets (offers, recommendations, sharing) may use this customer.

    True only for an active customer whose latest decision for `purpose` is a grant.
    """
    customer = session.get(Customer, customer_id)
    if customer is None or customer.status != CustomerStatus.ACTIVE:
        return False
    consent = current_consents(session, customer_id).get(purpose)
    return consent is not None and consent.granted
