"""The PIPL rights desk (个人信息权利): access and copy, correction, deletion, consent withdrawal.

Requests are recorded with a deadline and closed with an outcome. Deletion destroys the personal
data (ciphertexts, blind indexes and masks are overwritten) while the anonymous record keeps
tickets and statistics whole — unless a legal retention period still runs (anti-money-laundering
rules keep identification data five years after the relationship ends), in which case the record
is *restricted*: kept, but processed by nothing, and the reason recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.customers import service
from fincare.customers.identity import redact_identifiers
from fincare.customers.models import (
    ConsentPurpose,
    Customer,
    CustomerStatus,
    ErasedExternalId,
    RightsRequest,
    RightsRequestKind,
    RightsRequestStatus,
)
from fincare.platform import audit_trail, clock, keys
from fincare.platform.errors import Conflict, Invalid, Label, Message, NotFound, one_of
from fincare.platform.permissions import Principal

RESPONSE_DEADLINE = timedelta(days=15)  # the institution's commitment for answering a request
PIPL_IN_FORCE = datetime(2021, 10, 31, 16, tzinfo=UTC)  # 2021-11-01 00:00 in Beijing
RETENTION_YEARS = 5  # 《反洗钱法》: identification data kept 5 years after the relationship ends


def open_request(session: Session, *, actor: Principal, customer: Customer, kind: RightsRequestKind,
                 channel: str = "branch", received_at: datetime | None = None,
                 fields: list[str] | None = None) -> RightsRequest:
    """Record a data-subject request with its deadline. `fields` names the data concerned, never values."""
    unknown = sorted(set(fields or ()) - set(service.ALLOWED))
    if unknown:
        raise Invalid(Message("not a customer field: {field}", field=unknown[0]), field="fields")
    received = (received_at or clock.now()).astimezone(UTC)  # as stored: the answer equals a later read
    if received > clock.now():
        raise Invalid("a request cannot be received in the future", field="received_at")
    if received < PIPL_IN_FORCE:
        raise Invalid("a request under PIPL is received on or after 2021-11-01, when the law took effect",
                      field="received_at")
    request = RightsRequest(customer_id=customer.id, kind=kind, channel=channel[:20], received_at=received,
                            due_at=received + RESPONSE_DEADLINE, details={"fields": sorted(set(fields or ()))},
                            status=RightsRequestStatus.OPEN)
    session.add(request)
    session.flush()
    audit_trail.record(session, actor=actor, action="rights_request.opened", subject=request,
                       after={"customer_id": customer.id, "kind": kind, "due_at": request.due_at.isoformat()})
    return request


def get_request(session: Session, request_id: int) -> RightsRequest:
    request = session.get(RightsRequest, request_id, with_for_update=True)
    if request is None:
        raise NotFound("no such request", field="request_id")
    return request


def list_requests(session: Session, *, customer_id: int | None = None, status: str | None = None,
                  limit: int = 100) -> Sequence[RightsRequest]:
    query = select(RightsRequest).order_by(RightsRequest.due_at).limit(limit)
    if customer_id is not None:
        query = query.where(RightsRequest.customer_id == customer_id)
    if status:
        query = query.where(RightsRequest.status == one_of(RightsRequestStatus, status, "status"))
    return session.execute(query).scalars().all()


def _close(session: Session, *, actor: Principal, request: RightsRequest, status: RightsRequestStatus,
           outcome: str) -> RightsRequest:
    if request.status != RightsRequestStatus.OPEN:
        raise Conflict(Message("this request is already {status}", status=Label("rights_status", request.status)),
                       field="request_id")
    request.status, request.outcome = status, outcome
    request.closed_at, request.handled_by = clock.now(), actor.account_id
    audit_trail.record(session, actor=actor, action=f"rights_request.{status}", subject=request,
                       before={"status": RightsRequestStatus.OPEN}, after={"status": status, "outcome": outcome})
    return request


def refuse_request(session: Session, *, actor: Principal, request: RightsRequest, reason: str) -> RightsRequest:
    """Refuse with a stated reason (PIPL Art. 50 asks for one)."""
    reason = redact_identifiers(reason.strip())
    if len(reason) < 4:
        raise Invalid("a refusal states its reason", field="reason")
    return _close(session, actor=actor, request=request, status=RightsRequestStatus.REFUSED, outcome=reason)


def export(session: Session, *, actor: Principal, customer: Customer, request: RightsRequest | None = None
           ) -> dict[str, Any]:
    """Everything FinCare holds about a customer, decrypted; audited; fulfils an access request."""
    _matching(request, customer, RightsRequestKind.ACCESS)
    if request is not None:
        _close(session, actor=actor, request=request, status=RightsRequestStatus.FULFILLED,
               outcome="a copy of the personal data was provided")
    doc = {
        "customer": {"id": customer.id, "reference": customer.reference, "kind": customer.kind,
                     "status": customer.status, **service.decrypt_all(session, customer),
                     "birth_year": customer.birth_year, "gender": customer.gender,
                     "risk_tolerance": customer.risk_tolerance,
                     "risk_assessed_on": _iso(customer.risk_assessed_on),
                     "risk_expires_on": _iso(customer.risk_expires_on),
                     "service_lines": customer.service_lines, "branch": customer.branch,
                     "segment": customer.segment, "tags": customer.tags, "external_id": customer.external_id,
                     "created_at": customer.created_at.isoformat(), "updated_at": customer.updated_at.isoformat()},
        "consents": [{"purpose": c.purpose, "granted": c.granted, "channel": c.channel,
                      "recorded_at": c.recorded_at.isoformat()}
                     for c in service.current_consents(session, customer.id).values()],
        "rights_requests": [{"id": r.id, "kind": r.kind, "status": r.status, "received_at": r.received_at.isoformat(),
                             "outcome": r.outcome} for r in list_requests(session, customer_id=customer.id)],
        "exported_at": clock.now().isoformat(),
    }
    audit_trail.record(session, actor=actor, action="customer.exported", subject=customer, kind="read",
                       reason=f"rights request {request.id}" if request else None)
    return doc


def _matching(request: RightsRequest | None, customer: Customer, kind: RightsRequestKind) -> None:
    """A request may only be executed on its own customer, by the action it asked for."""
    if request is None:
        return
    if request.customer_id != customer.id:
        raise Invalid("this request is about another customer", field="rights_request_id")
    if request.kind != kind:
        raise Invalid(Message("this request asks for {kind}, not {other}",
                              kind=Label("rights_kind", request.kind),
                              other=Label("rights_kind", kind)), field="rights_request_id")


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class ErasureOutcome:
    status: str  # "erased", "restricted" or "refused"
    reason: str


def retention_until(customer: Customer) -> date | None:
    """The day the legal retention period ends, or None while the relationship is ongoing."""
    ended = customer.relationship_ended_on
    if ended is None:
        return None
    try:
        return ended.replace(year=ended.year + RETENTION_YEARS)
    except ValueError:  # 29 February
        return ended.replace(year=ended.year + RETENTION_YEARS, day=28)


def erase(session: Session, *, actor: Principal, customer: Customer, request: RightsRequest | None = None,
          relationship_ended_on: date | None = None) -> ErasureOutcome:
    """Delete a customer's personal data, or restrict it while a retention period runs.

    An ongoing relationship (no end date) is refused: the contract still needs the data.
    """
    _matching(request, customer, RightsRequestKind.DELETION)
    if customer.status == CustomerStatus.ERASED:
        raise Conflict("this customer's personal data was already erased", field="customer_id")
    if relationship_ended_on is not None:
        if relationship_ended_on > clock.now().date():
            raise Invalid("the relationship cannot end in the future", field="relationship_ended_on")
        customer.relationship_ended_on = relationship_ended_on
    until = retention_until(customer)
    today = clock.now().date()
    if until is None:
        outcome = ErasureOutcome("refused", "the customer relationship is ongoing: the contract still needs "
                                            "the data; record the end of the relationship first")
    elif until > today:
        outcome = ErasureOutcome("restricted", f"anti-money-laundering retention runs until {until.isoformat()}: "
                                               "the data is kept but no longer processed")
        before = customer.status
        customer.status = CustomerStatus.RESTRICTED
        audit_trail.record(session, actor=actor, action="customer.restricted", subject=customer,
                           before={"status": before}, after={"status": customer.status}, reason=outcome.reason)
    else:
        outcome = ErasureOutcome("erased", "personal data destroyed; the anonymous record remains")
        _destroy(session, actor=actor, customer=customer)
    if request is not None:
        status = {"erased": RightsRequestStatus.FULFILLED, "restricted": RightsRequestStatus.RESTRICTED,
                  "refused": RightsRequestStatus.REFUSED}[outcome.status]
        _close(session, actor=actor, request=request, status=status, outcome=outcome.reason)
    return outcome


def _destroy(session: Session, *, actor: Principal, customer: Customer) -> None:
    before = {"status": customer.status}
    for column in ("name", "id_number", "credit_code", "phone", "email", "address"):
        setattr(customer, f"{column}_enc", None)
        if column != "name":
            setattr(customer, f"{column}_mask", None)
        if column in ("id_number", "credit_code", "phone", "email"):
            setattr(customer, f"{column}_lookup", None)
    customer.name_mask = f"已注销客户 {customer.reference}"
    customer.cards = []
    customer.birth_year = customer.gender = None
    if customer.external_id is not None:  # so a later import of the source's file does not bring them back
        remember_erased(session, customer.external_id)
    customer.external_id = None
    customer.tags = []
    customer.status = CustomerStatus.ERASED
    customer.updated_at = clock.now()
    session.flush()
    audit_trail.record(session, actor=actor, action="customer.erased", subject=customer, before=before,
                       after={"status": customer.status})


def remember_erased(session: Session, external_id: str) -> None:
    """Keep the blind index of an erased customer's external id (`ErasedExternalId`)."""
    lookup = keys.blind_index(ERASED_EXTERNAL_ID, external_id)
    if session.get(ErasedExternalId, lookup) is None:
        session.add(ErasedExternalId(lookup=lookup, erased_at=clock.now()))


def erased_external_ids(session: Session, external_ids: Iterable[str]) -> set[str]:
    """Those of `external_ids` that belonged to a customer erased on their request."""
    if session.execute(select(ErasedExternalId.lookup).limit(1)).first() is None:
        return set()  # the usual case: nobody was erased, and no id is hashed
    lookups = {keys.blind_index(ERASED_EXTERNAL_ID, e): e for e in external_ids}
    digests, erased = list(lookups), set()
    for start in range(0, len(digests), _LOOKUPS_PER_QUERY):  # a batch may hold 20,000 ids
        found = session.execute(select(ErasedExternalId.lookup).where(
            ErasedExternalId.lookup.in_(digests[start:start + _LOOKUPS_PER_QUERY])))
        erased |= {lookups[lookup] for lookup in found.scalars()}
    return erased


_LOOKUPS_PER_QUERY = 900  # under the 999 bound parameters of older SQLite builds


ERASED_EXTERNAL_ID = "erased_external_id"


def withdraw_all_consents(session: Session, *, actor: Principal, customer: Customer,
                          request: RightsRequest | None = None, channel: str = "branch") -> None:
    """Honour a consent withdrawal for every purpose; fulfils the request."""
    _matching(request, customer, RightsRequestKind.CONSENT_WITHDRAWAL)
    for purpose in ConsentPurpose:
        service.record_consent(session, actor=actor, customer=customer, purpose=purpose, granted=False,
                               channel=channel)
    if request is not None:
        _close(session, actor=actor, request=request, status=RightsRequestStatus.FULFILLED,
               outcome="consent withdrawn for every purpose")


def correct(session: Session, *, actor: Principal, customer: Customer, raw: dict[str, Any],
            request: RightsRequest | None = None) -> Customer:
    """Apply a correction (audited like any edit); fulfils the correction request."""
    _matching(request, customer, RightsRequestKind.CORRECTION)
    service.update_customer(session, actor=actor, customer=customer, data=service.parse_customer(raw, partial=True))
    if request is not None:
        _close(session, actor=actor, request=request, status=RightsRequestStatus.FULFILLED,
               outcome=f"corrected: {', '.join(sorted(raw))}")
    return customer
