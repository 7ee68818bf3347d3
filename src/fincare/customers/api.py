"""Customers over REST: masked by default; reveal, export and erase are audited use cases."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from fincare.customers import rights, service
from fincare.customers.models import CustomerKind, CustomerStatus, RightsRequestKind, RightsRequestStatus, RiskTolerance
from fincare.customers.schemas import (
    ConsentIn,
    ConsentRead,
    CustomerIn,
    CustomerPatch,
    CustomerRead,
    EraseIn,
    EraseRead,
    RefuseIn,
    RevealIn,
    RevealRead,
    RightsRequestIn,
    RightsRequestRead,
)
from fincare.platform.db import unit_of_work
from fincare.platform.errors import Invalid
from fincare.platform.http import require
from fincare.platform.idempotency import IdempotencyKey
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import MAX_ID, PathId, one_of_query

router = APIRouter(prefix="/api/v1", tags=["customers"])


@router.post("/customers", status_code=201, response_model=CustomerRead)
def create(body: CustomerIn, actor: Annotated[Principal, require(P.CUSTOMER_WRITE)],
           idem: IdempotencyKey) -> JSONResponse:
    with unit_of_work() as session:
        data = service.parse_customer(body.raw())
        return idem.run(session, actor, lambda: CustomerRead.of(
            service.create_customer(session, actor=actor, data=data)))


@router.get("/customers", response_model=list[CustomerRead])
def find(
    actor: Annotated[Principal, require(P.CUSTOMER_READ)],
    phone: Annotated[str | None, Query(max_length=30)] = None,
    id_number: Annotated[str | None, Query(max_length=30)] = None,
    credit_code: Annotated[str | None, Query(max_length=30)] = None,
    email: Annotated[str | None, Query(max_length=254)] = None,
    card_number: Annotated[str | None, Query(max_length=30)] = None,
    kind: Annotated[str | None, one_of_query(CustomerKind)] = None,
    status: Annotated[str | None, one_of_query(CustomerStatus)] = "active",
    branch: Annotated[str | None, Query(max_length=60)] = None,
    segment: Annotated[str | None, Query(max_length=60)] = None,
    risk_tolerance: Annotated[str | None, one_of_query(RiskTolerance)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[CustomerRead]:
    """Exact lookup by one identifier (`?phone=`, `?id_number=`, …) or a filtered, masked list."""
    lookups = {k: v for k, v in {"phone": phone, "id_number": id_number, "credit_code": credit_code,
                                 "email": email, "card_number": card_number}.items() if v}
    if len(lookups) > 1:
        raise Invalid("search by one identifier at a time", field=sorted(lookups)[1])
    with unit_of_work() as session:
        if lookups:
            (field_name, value), = lookups.items()
            found = service.search(session, actor=actor, field_name=field_name, value=value)
        else:
            found = service.list_customers(session, actor=actor, kind=kind, status=status, branch=branch,
                                           segment=segment,
                                           risk_tolerance=risk_tolerance, before_id=before_id, limit=limit)
        return [CustomerRead.of(c) for c in found]


@router.get("/customers/{customer_id}", response_model=CustomerRead)
def read(customer_id: PathId, actor: Annotated[Principal, require(P.CUSTOMER_READ)]) -> CustomerRead:
    """One customer, masked; the view is recorded in the audit trail."""
    with unit_of_work() as session:
        customer = service.access_customer(session, customer_id, actor)
        return CustomerRead.of(customer, session=session)


@router.patch("/customers/{customer_id}", response_model=CustomerRead)
def edit(customer_id: PathId, body: CustomerPatch,
         actor: Annotated[Principal, require(P.CUSTOMER_WRITE)]) -> CustomerRead:
    with unit_of_work() as session:
        customer = service.access_customer(session, customer_id, actor, for_write=True)
        data = service.parse_customer(body.raw(), partial=True)
        return CustomerRead.of(service.update_customer(session, actor=actor, customer=customer, data=data))


@router.post("/customers/{customer_id}/reveal", response_model=RevealRead)
def reveal(customer_id: PathId, body: RevealIn, actor: Annotated[Principal, require(P.CUSTOMER_REVEAL)]) -> RevealRead:
    """One field in clear, with a reason; audited."""
    with unit_of_work() as session:
        customer = service.load_customer(session, customer_id, actor, P.CUSTOMER_REVEAL)
        value = service.reveal(session, actor=actor, customer=customer, field_name=body.field, reason=body.reason)
        return RevealRead(field=body.field, value=value)


@router.get("/customers/{customer_id}/export", responses={409: {"description": "The rights request is closed"}})
def export(customer_id: PathId, actor: Annotated[Principal, require(P.CUSTOMER_EXPORT)],
           rights_request_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> dict[str, Any]:
    """Everything held about the customer, decrypted (PIPL access and copy); audited."""
    with unit_of_work() as session:
        customer = service.load_customer(session, customer_id, actor, P.CUSTOMER_EXPORT)
        request = rights.get_request(session, rights_request_id) if rights_request_id else None
        return rights.export(session, actor=actor, customer=customer, request=request)


@router.post("/customers/{customer_id}/erase", response_model=EraseRead)
def erase(customer_id: PathId, body: EraseIn, actor: Annotated[Principal, require(P.CUSTOMER_ERASE)]) -> EraseRead:
    """Erase personal data, or restrict it while a retention period runs, or refuse with the reason."""
    with unit_of_work() as session:
        customer = service.load_customer(session, customer_id, actor, P.CUSTOMER_ERASE, lock=True)
        request = rights.get_request(session, body.rights_request_id) if body.rights_request_id else None
        outcome = rights.erase(session, actor=actor, customer=customer, request=request,
                               relationship_ended_on=body.relationship_ended_on)
        return EraseRead(status=outcome.status, reason=outcome.reason)


@router.post("/customers/{customer_id}/consents", status_code=201, response_model=ConsentRead)
def consent(customer_id: PathId, body: ConsentIn, actor: Annotated[Principal, require(P.CUSTOMER_WRITE)],
            idem: IdempotencyKey) -> JSONResponse:
    with unit_of_work() as session:
        customer = service.load_customer(session, customer_id, actor, P.CUSTOMER_WRITE, lock=True)
        return idem.run(session, actor, lambda: ConsentRead.model_validate(service.record_consent(
            session, actor=actor, customer=customer, purpose=body.purpose, granted=body.granted,
            channel=body.channel)))


@router.post("/customers/{customer_id}/rights-requests", status_code=201, response_model=RightsRequestRead)
def open_rights_request(customer_id: PathId, body: RightsRequestIn,
                        actor: Annotated[Principal, require(P.CUSTOMER_WRITE)],
                        idem: IdempotencyKey) -> JSONResponse:
    with unit_of_work() as session:
        customer = service.load_customer(session, customer_id, actor, P.CUSTOMER_WRITE)
        return idem.run(session, actor, lambda: RightsRequestRead.of(rights.open_request(
            session, actor=actor, customer=customer, kind=body.kind, channel=body.channel,
            received_at=body.received_at, fields=body.fields)))


@router.get("/rights-requests", response_model=list[RightsRequestRead])
def list_rights_requests(actor: Annotated[Principal, require(P.CUSTOMER_ERASE)],
                         status: Annotated[str | None, one_of_query(RightsRequestStatus)] = "open",
                         customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> list[RightsRequestRead]:
    """The rights desk's queue, earliest deadline first."""
    with unit_of_work(read_only=True) as session:
        return [RightsRequestRead.of(r) for r in rights.list_requests(session, status=status,
                                                                       customer_id=customer_id)]


@router.post("/rights-requests/{request_id}/refuse", response_model=RightsRequestRead)
def refuse(request_id: PathId, body: RefuseIn,
           actor: Annotated[Principal, require(P.CUSTOMER_ERASE)]) -> RightsRequestRead:
    with unit_of_work() as session:
        request = rights.get_request(session, request_id)
        return RightsRequestRead.of(rights.refuse_request(session, actor=actor, request=request, reason=body.reason))


@router.post("/rights-requests/{request_id}/withdraw-consent", response_model=RightsRequestRead)
def withdraw_consent(request_id: PathId, actor: Annotated[Principal, require(P.CUSTOMER_ERASE)]) -> RightsRequestRead:
    """Fulfil a consent-withdrawal request: every purpose withdrawn."""
    with unit_of_work() as session:
        request = rights.get_request(session, request_id)
        if request.kind != RightsRequestKind.CONSENT_WITHDRAWAL:
            raise Invalid("this request is not a consent withdrawal", field="request_id")
        customer = service.get_customer(session, request.customer_id)
        assert customer is not None
        rights.withdraw_all_consents(session, actor=actor, customer=customer, request=request)
        return RightsRequestRead.of(request)


@router.post("/rights-requests/{request_id}/correct", response_model=CustomerRead)
def correct(request_id: PathId, body: CustomerPatch,
            actor: Annotated[Principal, require(P.CUSTOMER_ERASE)]) -> CustomerRead:
    """Fulfil a correction request (PIPL Art. 46): the changes are applied and audited like an edit."""
    with unit_of_work() as session:
        request = rights.get_request(session, request_id)
        customer = service.load_customer(session, request.customer_id, actor, P.CUSTOMER_ERASE, lock=True)
        return CustomerRead.of(rights.correct(session, actor=actor, customer=customer, raw=body.raw(),
                                              request=request))
