"""Console: find, create, view and edit customers; reveal one field with a reason; the rights desk.

Thin like `api.py`: forms are decoded here and handed to `service` / `rights` inside one
`unit_of_work()`. A form the service refuses (Invalid, Conflict) is shown again, with the message
next to the field at fault and what the user typed — never a value the user did not type.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from fincare.customers import rights, service
from fincare.customers.models import (
    ConsentPurpose,
    Customer,
    CustomerKind,
    RightsRequestKind,
    RiskTolerance,
    ServiceLine,
)
from fincare.platform import clock, web
from fincare.platform.db import unit_of_work
from fincare.platform.errors import Conflict, DomainError, Invalid, NotFound, one_of
from fincare.platform.forms import FormError, Submitted, text
from fincare.platform.http import require_page
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import MAX_ID, PathId
from fincare.platform.web import NavItem, add_nav, render

router = APIRouter(include_in_schema=False)
web.add_templates("customers", Path(__file__).parent / "templates" / "customers")
add_nav(NavItem("Customers", "/customers", P.CUSTOMER_READ, order=10))
add_nav(NavItem("Rights requests", "/rights-requests", P.CUSTOMER_ERASE, order=20))

Reader = Annotated[Principal, require_page(P.CUSTOMER_READ)]
Writer = Annotated[Principal, require_page(P.CUSTOMER_WRITE)]
Revealer = Annotated[Principal, require_page(P.CUSTOMER_REVEAL)]
Exporter = Annotated[Principal, require_page(P.CUSTOMER_EXPORT)]
RightsDesk = Annotated[Principal, require_page(P.CUSTOMER_ERASE)]

PAGE = 50
PERSONAL = ("name", "id_number", "credit_code", "phone", "email", "address")
FORM_FIELDS = ("kind", *PERSONAL, "cards", "risk_tolerance", "risk_assessed_on", "branch", "segment", "tags",
               "external_id")  # and the service_lines checkboxes
CHANNELS = ("branch", "phone", "online", "letter")
SLOTS = ("tickets", "followups", "loyalty")  # filled by later domains


def _date(value: str, field: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise Invalid("a date like 2026-03-31", field=field) from None


@dataclass(frozen=True)
class Revealed:
    field: str
    value: Any  # str, the list of card numbers, or None


@dataclass(frozen=True)
class Done:
    """What the rights desk just did to one request, shown above the queue."""

    request_id: int
    status: str
    message: str


def _existing(session: Session, customer_id: int) -> Customer:
    customer = service.get_customer(session, customer_id)
    if customer is None:
        raise NotFound("no such customer", field="customer_id")
    return customer


# -- list and search -------------------------------------------------------------------------------


@router.get("/customers")
def customers_page(request: Request, actor: Reader, kind: Annotated[str, Query(max_length=16)] = "",
                   branch: Annotated[str, Query(max_length=60)] = "",
                   segment: Annotated[str, Query(max_length=60)] = "",
                   risk_tolerance: Annotated[str, Query(max_length=2)] = "",
                   before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> Response:
    filters = {"kind": kind, "branch": branch, "segment": segment, "risk_tolerance": risk_tolerance}
    with unit_of_work() as session:  # a page of the book is an audited read
        found = service.list_customers(session, actor=actor, kind=kind or None, branch=branch or None,
                                       segment=segment or None, risk_tolerance=risk_tolerance or None,
                                       before_id=before_id, limit=PAGE)
    older = None
    if len(found) == PAGE:
        older = "/customers?" + urlencode({**{k: v for k, v in filters.items() if v}, "before_id": found[-1].id})
    return _list_page(request, customers=found, filters=filters, older=older)


@router.post("/customers")
def search_customers(request: Request, actor: Reader, form: Submitted) -> Response:
    """Exact lookup by one identifier. A POST, so that the identifier never reaches a URL."""
    search = {"field": text(form, "field"), "value": text(form, "value")}
    try:
        with unit_of_work() as session:
            found = service.search(session, actor=actor, field_name=search["field"], value=search["value"])
    except Invalid as exc:
        return _list_page(request, customers=[], search=search, error=FormError.of("search", exc))
    # The results show masks only: the identifier typed is not echoed back.
    return _list_page(request, customers=found, search={"field": search["field"], "value": ""}, searched=True)


def _list_page(request: Request, *, customers: Sequence[Customer], filters: dict[str, str] | None = None,
               search: dict[str, str] | None = None, older: str | None = None, searched: bool = False,
               error: FormError | None = None) -> Response:
    return render(request, "customers/list.html", {
        "customers": customers, "filters": filters or {"kind": "", "branch": "", "segment": "", "risk_tolerance": ""},
        "search": search or {"field": "phone", "value": ""}, "searchable": service.SEARCHABLE,
        "kinds": list(CustomerKind), "tolerances": list(RiskTolerance), "older": older, "searched": searched,
        "error": error,
    }, status_code=error.status_code if error else 200)


# -- create and edit -------------------------------------------------------------------------------


def _typed(form: FormData) -> dict[str, Any]:
    """The customer form as the user typed it."""
    values: dict[str, Any] = {name: text(form, name) for name in FORM_FIELDS}
    values["service_lines"] = sorted(v for v in form.getlist("service_lines") if isinstance(v, str))
    return values


def _current(customer: Customer) -> dict[str, Any]:
    """The edit form's starting values: personal inputs empty (their masks are the placeholders)."""
    return {**dict.fromkeys(PERSONAL, ""), "cards": "", "risk_tolerance": customer.risk_tolerance or "",
            "risk_assessed_on": customer.risk_assessed_on.isoformat() if customer.risk_assessed_on else "",
            "service_lines": sorted(customer.service_lines), "branch": customer.branch or "",
            "segment": customer.segment or "", "tags": ", ".join(customer.tags),
            "external_id": customer.external_id or ""}


def _changes(typed: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Only what the edit form changed: an empty personal input means "unchanged"."""
    changed = {name: value for name, value in typed.items() if name in current and value != current[name]}
    if "risk_assessed_on" in changed:  # a new assessment date comes with the tolerance it rated
        changed.setdefault("risk_tolerance", typed["risk_tolerance"])
    return changed


def _raw(values: dict[str, Any]) -> dict[str, Any]:
    """`parse_customer`'s input: cards one per line, tags separated by commas (also full-width)."""
    raw = dict(values)
    if "cards" in raw:
        raw["cards"] = [line.strip() for line in raw["cards"].splitlines() if line.strip()]
    if "tags" in raw:
        raw["tags"] = raw["tags"].replace("，", ",").replace("；", ",")
    return raw


def _customer_form(request: Request, *, values: dict[str, Any], customer: Customer | None = None,
                   error: FormError | None = None) -> Response:
    return render(request, "customers/form.html", {
        "customer": customer, "values": values, "kinds": list(CustomerKind), "tolerances": list(RiskTolerance),
        "service_lines": list(ServiceLine), "sensitivity": service.SENSITIVITY, "error": error,
    }, status_code=error.status_code if error else 200)


@router.get("/customers/new")
def new_customer_page(request: Request, actor: Writer) -> Response:
    blank: dict[str, Any] = {**dict.fromkeys(FORM_FIELDS, ""), "kind": CustomerKind.INDIVIDUAL,
                             "service_lines": []}
    return _customer_form(request, values=blank)


@router.post("/customers/new")
def create_customer(request: Request, actor: Writer, form: Submitted) -> Response:
    typed = _typed(form)
    try:
        with unit_of_work() as session:
            data = service.parse_customer(_raw(typed))
            customer_id = service.create_customer(session, actor=actor, data=data).id
    except (Invalid, Conflict) as exc:
        return _customer_form(request, values=typed, error=FormError.of("customer", exc))
    return RedirectResponse(f"/customers/{customer_id}", status_code=303)


@router.get("/customers/{customer_id}/edit")
def edit_customer_page(request: Request, customer_id: PathId, actor: Writer) -> Response:
    with unit_of_work() as session:
        customer = service.access_customer(session, customer_id, actor)  # shows masks: an audited view
        return _customer_form(request, values=_current(customer), customer=customer)


@router.post("/customers/{customer_id}/edit")
def edit_customer(request: Request, customer_id: PathId, actor: Writer, form: Submitted) -> Response:
    typed = _typed(form)
    try:
        with unit_of_work() as session:
            customer = service.access_customer(session, customer_id, actor, for_write=True)
            if changed := _changes(typed, _current(customer)):
                data = service.parse_customer(_raw(changed), partial=True)
                service.update_customer(session, actor=actor, customer=customer, data=data)
    except (Invalid, Conflict) as exc:
        with unit_of_work() as session:
            customer = service.access_customer(session, customer_id, actor, for_write=True)
            return _customer_form(request, values={**typed, "kind": customer.kind}, customer=customer,
                                  error=FormError.of("customer", exc))
    return RedirectResponse(f"/customers/{customer_id}", status_code=303)


# -- the customer page -----------------------------------------------------------------------------


def _customer_page(request: Request, session: Session, customer: Customer, actor: Principal, *,
                   revealed: Revealed | None = None, error: FormError | None = None,
                   typed: dict[str, str] | None = None) -> Response:
    response = render(request, "customers/customer.html", {
        "customer": customer, "risk_valid": service.risk_assessment_valid(customer),
        "sensitivity": service.SENSITIVITY, "revealable": service.REVEALABLE,
        "consents": service.current_consents(session, customer.id), "purposes": list(ConsentPurpose),
        "requests": rights.list_requests(session, customer_id=customer.id, status=None),
        "request_kinds": list(RightsRequestKind), "channels": CHANNELS, "slots": SLOTS,
        "may": {"write": actor.can(P.CUSTOMER_WRITE), "reveal": actor.can(P.CUSTOMER_REVEAL),
                "erase": actor.can(P.CUSTOMER_ERASE)},
        "revealed": revealed, "error": error, "typed": typed or {},
    }, status_code=error.status_code if error else 200)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/customers/{customer_id}")
def customer_page(request: Request, customer_id: PathId, actor: Reader) -> Response:
    with unit_of_work() as session:
        customer = service.access_customer(session, customer_id, actor)  # the one audited view
        return _customer_page(request, session, customer, actor)


@router.post("/customers/{customer_id}/reveal")
def reveal(request: Request, customer_id: PathId, actor: Revealer, form: Submitted) -> Response:
    """The page again, with one field in clear; the reveal is the audited read, not another view."""
    field_name, reason = text(form, "field"), text(form, "reason")
    try:
        with unit_of_work() as session:
            customer = _existing(session, customer_id)
            value = service.reveal(session, actor=actor, customer=customer, field_name=field_name, reason=reason)
            return _customer_page(request, session, customer, actor, revealed=Revealed(field_name, value))
    except Invalid as exc:
        error = FormError.of(f"reveal-{field_name}", exc)
    with unit_of_work() as session:  # nothing was revealed: showing the page again is a view
        customer = service.access_customer(session, customer_id, actor)
        return _customer_page(request, session, customer, actor, error=error, typed={"reason": reason})


@router.post("/customers/{customer_id}/consents")
def record_consent(request: Request, customer_id: PathId, actor: Writer, form: Submitted) -> Response:
    purpose, granted, channel = text(form, "purpose"), text(form, "granted"), text(form, "channel")
    try:
        if granted not in ("true", "false"):
            raise Invalid("grant or withdraw", field="granted")
        with unit_of_work() as session:
            customer = service.access_customer(session, customer_id, actor, for_write=True)
            service.record_consent(session, actor=actor, customer=customer,
                                   purpose=one_of(ConsentPurpose, purpose, "purpose"), granted=granted == "true",
                                   channel=channel or "branch")
    except (Invalid, Conflict) as exc:
        return _page_with_error(request, customer_id, actor, FormError.of(f"consent-{purpose}", exc))
    return RedirectResponse(f"/customers/{customer_id}#consents", status_code=303)


@router.post("/customers/{customer_id}/rights-requests")
def open_rights_request(request: Request, customer_id: PathId, actor: Writer, form: Submitted) -> Response:
    kind, channel = text(form, "kind"), text(form, "channel")
    try:
        with unit_of_work() as session:
            customer = service.access_customer(session, customer_id, actor, for_write=True)
            rights.open_request(session, actor=actor, customer=customer,
                                kind=one_of(RightsRequestKind, kind, "kind"), channel=channel or "branch")
    except (Invalid, Conflict) as exc:
        return _page_with_error(request, customer_id, actor, FormError.of("rights-request", exc),
                                typed={"kind": kind, "channel": channel})
    return RedirectResponse(f"/customers/{customer_id}#rights", status_code=303)


def _page_with_error(request: Request, customer_id: PathId, actor: Principal, error: FormError,
                     typed: dict[str, str] | None = None) -> Response:
    with unit_of_work() as session:
        customer = service.access_customer(session, customer_id, actor)
        return _customer_page(request, session, customer, actor, error=error, typed=typed)


@router.post("/customers/{customer_id}/export.json")
def export(customer_id: PathId, actor: Exporter,
           rights_request_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> Response:
    """Everything held about the customer, in clear, as a download (PIPL access and copy); audited.

    A POST with the CSRF token: fulfilling a request is a change, which a link must not trigger.
    """
    with unit_of_work() as session:
        customer = _existing(session, customer_id)
        request = rights.get_request(session, rights_request_id) if rights_request_id else None
        doc = rights.export(session, actor=actor, customer=customer, request=request)
        filename = f"{customer.reference}.json"
    return Response(json.dumps(doc, ensure_ascii=False, indent=2), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})


# -- the rights desk -------------------------------------------------------------------------------


def _desk(request: Request, session: Session, *, done: Done | None = None, error: FormError | None = None,
          typed: dict[str, str] | None = None) -> Response:
    return render(request, "customers/rights_desk.html", {
        "queue": rights.list_requests(session, status="open"), "now": clock.now(), "done": done,
        "error": error, "typed": typed or {},
    }, status_code=error.status_code if error else 200)


def _desk_with_error(request: Request, request_id: PathId, exc: DomainError, typed: dict[str, str]) -> Response:
    with unit_of_work(read_only=True) as session:
        return _desk(request, session, error=FormError.of(f"request-{request_id}", exc), typed=typed)


@router.get("/rights-requests")
def rights_desk_page(request: Request, actor: RightsDesk) -> Response:
    with unit_of_work(read_only=True) as session:
        return _desk(request, session)


@router.post("/rights-requests/{request_id}/erase")
def erase(request: Request, request_id: PathId, actor: RightsDesk, form: Submitted) -> Response:
    """Erase, or restrict while the retention period runs, or refuse an ongoing relationship."""
    ended = text(form, "relationship_ended_on")
    try:
        with unit_of_work() as session:
            rights_request = rights.get_request(session, request_id)
            if rights_request.kind != RightsRequestKind.DELETION:
                raise Invalid("this request is not a deletion", field="request_id")
            outcome = rights.erase(session, actor=actor, customer=_existing(session, rights_request.customer_id),
                                   request=rights_request,
                                   relationship_ended_on=_date(ended, "relationship_ended_on"))
            return _desk(request, session, done=Done(request_id, outcome.status, outcome.reason))
    except (Invalid, Conflict) as exc:
        return _desk_with_error(request, request_id, exc, {"relationship_ended_on": ended})


@router.post("/rights-requests/{request_id}/refuse")
def refuse(request: Request, request_id: PathId, actor: RightsDesk, form: Submitted) -> Response:
    reason = text(form, "reason")
    try:
        with unit_of_work() as session:
            refused = rights.refuse_request(session, actor=actor, request=rights.get_request(session, request_id),
                                            reason=reason)
            return _desk(request, session, done=Done(request_id, refused.status, refused.outcome or ""))
    except (Invalid, Conflict) as exc:
        return _desk_with_error(request, request_id, exc, {"reason": reason})


@router.post("/rights-requests/{request_id}/withdraw-consent")
def withdraw_consent(request: Request, request_id: PathId, actor: RightsDesk) -> Response:
    """Fulfil a consent-withdrawal request: every purpose withdrawn."""
    try:
        with unit_of_work() as session:
            rights_request = rights.get_request(session, request_id)
            if rights_request.kind != RightsRequestKind.CONSENT_WITHDRAWAL:
                raise Invalid("this request is not a consent withdrawal", field="request_id")
            rights.withdraw_all_consents(session, actor=actor, request=rights_request,
                                         customer=_existing(session, rights_request.customer_id))
            return _desk(request, session,
                         done=Done(request_id, rights_request.status, rights_request.outcome or ""))
    except (Invalid, Conflict) as exc:
        return _desk_with_error(request, request_id, exc, {})
