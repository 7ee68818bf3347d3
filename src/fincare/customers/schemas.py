"""Customer request and response bodies. Responses carry masks only; `reveal` is its own use case."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field
from sqlalchemy.orm import Session

from fincare.customers import service
from fincare.customers.models import ConsentPurpose, Customer, RightsRequest, RightsRequestKind
from fincare.platform.schemas import MAX_ID, Moment, RequestBody, ResponseBody


class CustomerIn(RequestBody):
    kind: str = Field(description="individual | enterprise | institutional")
    name: str = Field(max_length=100)
    id_number: str | None = Field(default=None, max_length=30)
    credit_code: str | None = Field(default=None, max_length=30)
    phone: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=254)
    address: str | None = Field(default=None, max_length=300)
    cards: list[str] | None = Field(default=None, max_length=service.MAX_CARDS)
    risk_tolerance: str | None = Field(default=None, max_length=2)
    risk_assessed_on: date | None = None
    service_lines: list[str] | None = None
    branch: str | None = Field(default=None, max_length=60)
    segment: str | None = Field(default=None, max_length=60)
    tags: list[str] | None = Field(default=None, max_length=service.MAX_TAGS)
    external_id: str | None = Field(default=None, max_length=80)
    language: str | None = Field(default=None, max_length=8, description="zh-CN | en: messages and surveys")

    def raw(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class CustomerPatch(RequestBody):
    name: str | None = Field(default=None, max_length=100)
    id_number: str | None = Field(default=None, max_length=30)
    credit_code: str | None = Field(default=None, max_length=30)
    phone: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=254)
    address: str | None = Field(default=None, max_length=300)
    cards: list[str] | None = Field(default=None, max_length=service.MAX_CARDS)
    risk_tolerance: str | None = Field(default=None, max_length=2)
    risk_assessed_on: date | None = None
    service_lines: list[str] | None = None
    branch: str | None = Field(default=None, max_length=60)
    segment: str | None = Field(default=None, max_length=60)
    tags: list[str] | None = Field(default=None, max_length=service.MAX_TAGS)
    external_id: str | None = Field(default=None, max_length=80)
    language: str | None = Field(default=None, max_length=8, description="zh-CN | en: messages and surveys")

    def raw(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class ConsentRead(ResponseBody):
    purpose: str
    granted: bool
    channel: str
    recorded_at: datetime


class CustomerRead(ResponseBody):
    id: int
    reference: str
    kind: str
    status: str
    name: str
    id_number: str | None
    credit_code: str | None
    phone: str | None
    email: str | None
    address: str | None
    cards: list[str]
    birth_year: int | None
    gender: str | None
    risk_tolerance: str | None
    risk_assessed_on: date | None
    risk_expires_on: date | None
    risk_assessment_valid: bool
    service_lines: list[str]
    branch: str | None
    segment: str | None
    tags: list[str]
    external_id: str | None
    language: str = "zh-CN"
    consents: list[ConsentRead] | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, customer: Customer, *, session: Session | None = None) -> CustomerRead:
        consents = None
        if session is not None:
            consents = [ConsentRead.model_validate(c)
                        for c in service.current_consents(session, customer.id).values()]
        return cls(id=customer.id, reference=customer.reference, kind=customer.kind, status=customer.status,
                   name=customer.name_mask, id_number=customer.id_number_mask,
                   credit_code=customer.credit_code_mask, phone=customer.phone_mask, email=customer.email_mask,
                   address=customer.address_mask, cards=[c.number_mask for c in customer.cards],
                   birth_year=customer.birth_year, gender=customer.gender,
                   risk_tolerance=customer.risk_tolerance, risk_assessed_on=customer.risk_assessed_on,
                   risk_expires_on=customer.risk_expires_on,
                   risk_assessment_valid=service.risk_assessment_valid(customer),
                   service_lines=list(customer.service_lines), branch=customer.branch, segment=customer.segment,
                   tags=list(customer.tags), external_id=customer.external_id, language=customer.language,
                   consents=consents,
                   created_at=customer.created_at, updated_at=customer.updated_at)


class RevealIn(RequestBody):
    field: str = Field(max_length=20)
    reason: str = Field(max_length=500)


class RevealRead(ResponseBody):
    field: str
    value: Any


class ConsentIn(RequestBody):
    purpose: ConsentPurpose
    granted: bool
    channel: str = Field(default="branch", max_length=20)


class RightsRequestIn(RequestBody):
    kind: RightsRequestKind
    channel: str = Field(default="branch", max_length=20)
    received_at: Moment | None = None
    fields: list[str] | None = Field(default=None, max_length=20, description="fields concerned (names only)")


class RightsRequestRead(ResponseBody):
    id: int
    customer_id: int
    kind: str
    status: str
    channel: str
    received_at: datetime
    due_at: datetime
    outcome: str | None
    closed_at: datetime | None

    @classmethod
    def of(cls, request: RightsRequest) -> RightsRequestRead:
        return cls.model_validate(request)


class EraseIn(RequestBody):
    rights_request_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    relationship_ended_on: date | None = None


class EraseRead(ResponseBody):
    status: str
    reason: str


class RefuseIn(RequestBody):
    reason: str = Field(max_length=1000)
