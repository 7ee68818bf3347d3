"""Intake: validate a new consultation, complaint or feedback and open it with its clocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from fincare.customers import service as customers
from fincare.customers.models import CustomerStatus
from fincare.customers.service import CustomerSummary
from fincare.platform import audit_trail, clock
from fincare.platform.config import get_settings
from fincare.platform.db import Base, insert_new, new_row, number, read_with_ids
from fincare.platform.errors import Forbidden, Invalid, Label, Message, one_of
from fincare.platform.permissions import Permission, Principal
from fincare.servicedesk.models import (
    Channel,
    Priority,
    RiskGrade,
    Ticket,
    TicketKind,
    TicketStatus,
    ticket_reference,
)
from fincare.servicedesk.service import duplicates, regulator, routing
from fincare.servicedesk.service.routing import Named
from fincare.servicedesk.service.rules import (
    MAX_DESCRIPTION,
    MAX_SUBJECT,
    SUBJECT,
    clean_prose,
    may_work,
    new_event,
    next_due,
)
from fincare.sla import service as sla
from fincare.sla.models import Clock
from fincare.workforce.models import Skill

# A clock on a server a little ahead must not make "now" from a client look like the future.
CLOCK_SKEW = timedelta(minutes=2)

EARLIEST_RECEIVED = datetime(2000, 1, 1, tzinfo=UTC)  # historical imports, yes; year 1, no


@dataclass(frozen=True)
class TicketRequest:
    """A new ticket as validated before its customer is read."""

    kind: TicketKind
    channel: Channel
    customer_id: int  # not yet known to exist
    subject: str
    description: str
    priority: Priority
    risk_grade: RiskGrade | None
    received_at: datetime
    product: Skill | None = None
    named: Named = field(default_factory=Named)


@dataclass(frozen=True)
class Intake(TicketRequest):
    """A validated new ticket: its customer exists and may be processed."""

    customer: CustomerSummary = field(kw_only=True)


def parse_intake(session: Session, *, actor: Principal, raw: dict[str, Any]) -> Intake:
    """Validate a new ticket (an import row); Invalid / Forbidden name the field at fault. Whether the
    customer exists and may be processed is checked after every other field, as `open_ticket` does."""
    request = _parse_request(session, actor=actor, raw=raw)
    return _with_customer(request, customers.summaries(session, [request.customer_id]).get(request.customer_id))


def _parse_request(session: Session, *, actor: Principal, raw: dict[str, Any]) -> TicketRequest:
    kind = one_of(TicketKind, raw.get("kind"), "kind")
    channel = one_of(Channel, raw.get("channel"), "channel")
    if channel == Channel.REGULATOR_TRANSFER and kind != TicketKind.COMPLAINT:
        raise Invalid("only complaints are transferred by the regulator", field="channel")
    subject = clean_prose(raw.get("subject"), "subject", MAX_SUBJECT)
    description = clean_prose(raw.get("description"), "description", MAX_DESCRIPTION)
    risk_grade = None
    if raw.get("risk_grade") is not None:
        if kind != TicketKind.COMPLAINT:
            raise Invalid("only complaints carry a risk grade", field="risk_grade")
        risk_grade = one_of(RiskGrade, raw["risk_grade"], "risk_grade")
    elif kind == TicketKind.COMPLAINT:
        risk_grade = RiskGrade.LOW
    priority = one_of(Priority, raw["priority"], "priority") if raw.get("priority") else _default_priority(
        channel, risk_grade)
    now = clock.now()
    received_at = raw.get("received_at")
    if received_at is None:
        received_at = now
    else:
        if not isinstance(received_at, datetime) or received_at.tzinfo is None:
            raise Invalid("a date and time with its time zone, e.g. 2026-10-12T09:30:00+08:00", field="received_at")
        if received_at < EARLIEST_RECEIVED:
            raise Invalid("no earlier than 2000-01-01", field="received_at")
        if received_at > now + CLOCK_SKEW:
            raise Invalid("cannot be in the future", field="received_at")
        if received_at < now - CLOCK_SKEW and not actor.can(Permission.TICKET_BACKDATE):
            raise Forbidden("your role may not record a ticket received earlier", field="received_at")
        received_at = received_at.astimezone(UTC)  # as stored: the answer to a new ticket equals a later read
    customer_id = raw.get("customer_id")
    if not isinstance(customer_id, int) or isinstance(customer_id, bool):
        raise Invalid("no such customer", field="customer_id")
    product = one_of(Skill, raw["product"], "product") if raw.get("product") is not None else None
    named = routing.Named()
    if raw.get("named_staff_ids") or raw.get("named_department_ids"):
        if kind != TicketKind.COMPLAINT:
            raise Invalid("only a complaint names the staff or units it is about", field="named_staff_ids")
        named = routing.parse_named(session, raw.get("named_staff_ids"), raw.get("named_department_ids"))
    return TicketRequest(kind, channel, customer_id, subject, description, priority, risk_grade, received_at,
                         product, named)


def _with_customer(request: TicketRequest, customer: CustomerSummary | None) -> Intake:
    if customer is None:
        raise Invalid("no such customer", field="customer_id")
    if customer.status != CustomerStatus.ACTIVE:
        raise Invalid(Message("the customer's data is {status}; it may not be processed",
                              status=Label("customer_status", customer.status)), field="customer_id")
    return Intake(**vars(request), customer=customer)


def _default_priority(channel: Channel, risk_grade: RiskGrade | None) -> Priority:
    if risk_grade == RiskGrade.HIGH or channel == Channel.REGULATOR_TRANSFER:
        return Priority.HIGH
    return Priority.NORMAL


@dataclass(frozen=True)
class Opened:
    """A new ticket with what was made with it, so an answer needs no second read."""

    ticket: Ticket
    clocks: list[Clock]
    customer: CustomerSummary


def open_ticket(session: Session, *, actor: Principal, raw: dict[str, Any]) -> Opened:
    """Validate a new ticket as `parse_intake` does (API body or console form), record it and start
    its clocks from `received_at`.

    First-contact responsibility: whoever takes it in owns it if qualified to work it (and not named
    in it); otherwise it is routed to a qualified colleague on duty, or waits in its kind's queue.
    A high-risk or regulator-transferred complaint gets its regulator report record.
    """
    now = clock.now()
    request = _parse_request(session, actor=actor, raw=raw)
    specs = sla.clock_specs(session, kind=request.kind, priority=request.priority, risk_grade=request.risk_grade,
                            channel=request.channel)
    # the customer is read with every new row's id, in one round trip: intake is the desk's busiest
    # write. The ticket's and clocks' ids are referred to, and all are in creation order. A complaint
    # may turn out to be a possible duplicate, an event more: its id is drawn either way.
    complaint = request.kind == TicketKind.COMPLAINT
    counts = {"ticket": 1, "sla_clock": len(specs), "sla_clock_event": len(specs),
              "ticket_event": 2 if complaint else 1, "audit_entry": 1}
    row, ids = read_with_ids(session, *customers.summary_query(request.customer_id), counts)
    intake = _with_customer(request, None if row is None else customers.summary_of(row))
    findings = duplicates.examine(session, customer_id=intake.customer.id, received_at=intake.received_at,
                                  subject=intake.subject, description=intake.description) if complaint else None
    duplicate_of = findings.possible_duplicate_of if findings else None
    ticket_id = ids["ticket"][0]
    first_contact = actor.account_id is not None and may_work(actor, intake.kind) and not intake.named.excludes(
        actor.account_id, actor.department_id)
    owner = actor.account_id if first_contact else None
    # the clocks first, so the ticket row is written once, with its queue sort key already known
    clocks, clock_events = sla.new_clocks(session, subject_type=SUBJECT, subject_id=ticket_id, specs=specs,
                                          started_at=intake.received_at, ids=ids["sla_clock"])
    ticket = new_row(
        Ticket,
        id=ticket_id, reference=ticket_reference(intake.kind, ticket_id, intake.received_at,
                                                 ZoneInfo(get_settings().timezone)),
        kind=intake.kind, channel=intake.channel, status=TicketStatus.OPEN if owner else TicketStatus.NEW,
        priority=intake.priority, risk_grade=intake.risk_grade,
        regulator_transfer=intake.channel == Channel.REGULATOR_TRANSFER, customer_id=intake.customer.id,
        subject=intake.subject, description=intake.description, assignee_id=owner, product=intake.product,
        created_by_id=actor.account_id, received_at=intake.received_at, created_at=now, updated_at=now,
        next_due_at=next_due(clocks), breached=False,
        possible_duplicate_of_id=duplicate_of.id if duplicate_of else None,
        repeat_complainant=bool(findings and findings.repeat_complainant),
    )
    written: list[Base] = [ticket, *clocks, *clock_events]
    written.append(new_event(ticket, "created", actor, at=now, channel=intake.channel, assignee_id=owner,
                             received_at=intake.received_at.isoformat()))
    written.append(audit_trail.new_entry(
        actor=actor, action="ticket.opened", subject=("ticket", ticket_id),
        after={"reference": ticket.reference, "kind": ticket.kind, "channel": ticket.channel,
               "customer_id": ticket.customer_id, "priority": ticket.priority, "risk_grade": ticket.risk_grade,
               "received_at": ticket.received_at.isoformat(), "assignee_id": owner,
               "possible_duplicate_of_id": ticket.possible_duplicate_of_id,
               "repeat_complainant": ticket.repeat_complainant}))
    if duplicate_of is not None:
        written.append(new_event(ticket, "possible_duplicate", actor, at=now, of=duplicate_of.id,
                                 reference=duplicate_of.reference))
    number(written, ids)
    insert_new(session, written)  # every row of the new ticket in one round trip
    if intake.named.staff_ids or intake.named.department_ids:
        routing.record_named(session, ticket, intake.named)
    if intake.kind == TicketKind.COMPLAINT and (intake.risk_grade == RiskGrade.HIGH or ticket.regulator_transfer):
        regulator.open_report(session, ticket, clocks)
    if owner is None:
        routed = session.get(Ticket, ticket_id)  # routing changes the ticket: it must be the session's own
        assert routed is not None
        routing.route(session, routed)
        ticket = routed
    return Opened(ticket, clocks, intake.customer)
