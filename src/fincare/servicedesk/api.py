"""Tickets over REST: intake with Idempotency-Key, reading, replies and notes, transitions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from fincare.platform.db import unit_of_work
from fincare.platform.errors import Invalid
from fincare.platform.http import require
from fincare.platform.idempotency import IdempotencyKey
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import MAX_ID, PathId
from fincare.servicedesk import service
from fincare.servicedesk.models import Visibility
from fincare.servicedesk.schemas import (
    AssignIn,
    ClockRead,
    CodeIn,
    CodeRead,
    CodingIn,
    EventRead,
    ExtensionIn,
    MessageRead,
    ReplyIn,
    TicketIn,
    TicketRead,
    TransitionIn,
)

router = APIRouter(prefix="/api/v1", tags=["tickets"])
Reader = Annotated[Principal, require(P.TICKET_READ)]
Writer = Annotated[Principal, require(P.TICKET_WRITE)]


@router.post("/tickets", status_code=201, response_model=TicketRead)
def create(body: TicketIn, actor: Writer, idem: IdempotencyKey) -> JSONResponse:
    """Take in a consultation, complaint or feedback; its SLA clocks start at `received_at` (default now)."""
    with unit_of_work() as session:
        def open_it() -> TicketRead:
            intake = service.parse_intake(session, actor=actor, raw=body.raw())
            return TicketRead.opened(service.open_ticket(session, actor=actor, intake=intake))

        return idem.run(session, actor, open_it)


@router.get("/tickets", response_model=list[TicketRead])
def find(
    actor: Reader,
    kind: Annotated[str | None, Query(max_length=20)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    breached: bool | None = None,
    assignee: Annotated[str | None, Query(max_length=20, description="a staff id, `me` or `none`")] = None,
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[TicketRead]:
    """Newest first; page with `before_id` (the last id of the previous page)."""
    assignee_id, unassigned = None, False
    if assignee == "me":
        assignee_id = actor.account_id
    elif assignee == "none":
        unassigned = True
    elif assignee is not None:
        if not (assignee.isascii() and assignee.isdigit()) or not 1 <= int(assignee) <= MAX_ID:
            raise Invalid("a staff id, `me` or `none`", field="assignee")
        assignee_id = int(assignee)
    with unit_of_work(read_only=True) as session:
        found = service.list_tickets(session, actor=actor, kind=kind, status=status, breached=breached,
                                     assignee_id=assignee_id, unassigned=unassigned, customer_id=customer_id,
                                     before_id=before_id, limit=limit)
        return TicketRead.many(session, found)


@router.get("/tickets/{ticket_id}", response_model=TicketRead)
def read(ticket_id: PathId, actor: Reader) -> TicketRead:
    with unit_of_work(read_only=True) as session:
        return TicketRead.of(service.access_ticket(session, ticket_id, actor), session)


@router.get("/tickets/{ticket_id}/messages", response_model=list[MessageRead])
def messages(ticket_id: PathId, actor: Reader) -> list[MessageRead]:
    """Replies and internal notes, oldest first."""
    with unit_of_work(read_only=True) as session:
        ticket = service.access_ticket(session, ticket_id, actor)
        return [MessageRead.of(m) for m in service.list_messages(session, ticket.id)]


@router.get("/tickets/{ticket_id}/events", response_model=list[EventRead])
def events(ticket_id: PathId, actor: Reader) -> list[EventRead]:
    """The timeline, oldest first."""
    with unit_of_work(read_only=True) as session:
        ticket = service.access_ticket(session, ticket_id, actor)
        return [EventRead.of(e) for e in service.list_events(session, ticket.id)]


@router.post("/tickets/{ticket_id}/replies", status_code=201, response_model=MessageRead)
def reply(ticket_id: PathId, body: ReplyIn, actor: Reader, idem: IdempotencyKey) -> JSONResponse:
    """A reply to the customer (`public`) or a note among staff (`internal`)."""
    with unit_of_work() as session:
        ticket = service.access_ticket(session, ticket_id, actor, for_write=True)
        return idem.run(session, actor, lambda: MessageRead.of(service.add_message(
            session, actor=actor, ticket=ticket, body=body.body, visibility=Visibility(body.visibility))))


@router.post("/tickets/{ticket_id}/transitions", response_model=TicketRead)
def transition(ticket_id: PathId, body: TransitionIn, actor: Reader) -> TicketRead:
    with unit_of_work() as session:
        ticket = service.access_ticket(session, ticket_id, actor, for_write=True)
        return TicketRead.of(service.transition(session, actor=actor, ticket=ticket, to=body.to,
                                                reason=body.reason), session)


@router.post("/tickets/{ticket_id}/assignment", response_model=TicketRead)
def assign(ticket_id: PathId, body: AssignIn, actor: Reader) -> TicketRead:
    """Take an unassigned ticket, hand over one's own, or (supervisors) reassign any."""
    with unit_of_work() as session:
        ticket = service.access_ticket(session, ticket_id, actor, for_write=True)
        return TicketRead.of(service.assign(session, actor=actor, ticket=ticket, assignee_id=body.assignee_id,
                                            reason=body.reason), session)


@router.post("/tickets/{ticket_id}/extensions", response_model=ClockRead)
def extend(ticket_id: PathId, body: ExtensionIn, actor: Annotated[Principal, require(P.COMPLAINT_HANDLE)],
           idem: IdempotencyKey) -> JSONResponse:
    """Extend a complaint's statutory deadline to 30, then 60 days; needs a supervisor-level role.

    Send an `Idempotency-Key`: a retry after a lost answer must not extend twice.
    """
    with unit_of_work() as session:
        ticket = service.access_ticket(session, ticket_id, actor, for_write=True)
        return idem.run(session, actor, lambda: ClockRead.of(service.extend_deadline(
            session, actor=actor, ticket=ticket, reason=body.reason)), status_code=200)


@router.post("/tickets/{ticket_id}/coding", response_model=TicketRead)
def code(ticket_id: PathId, body: CodingIn, actor: Reader) -> TicketRead:
    """Code a complaint by JR/T 0169-2018 channel, business type and cause (required before closing)."""
    with unit_of_work() as session:
        ticket = service.access_ticket(session, ticket_id, actor, for_write=True)
        return TicketRead.of(service.code_complaint(session, actor=actor, ticket=ticket, channel_code=body.channel_code,
                                                    business_type_code=body.business_type_code,
                                                    cause_code=body.cause_code), session)


@router.get("/complaint-codes", response_model=list[CodeRead])
def codes(actor: Reader, dimension: Annotated[str | None, Query(max_length=16)] = None) -> list[CodeRead]:
    """The complaint code table in force (JR/T 0169-2018 and the institution's own finer codes)."""
    with unit_of_work(read_only=True) as session:
        return [CodeRead.model_validate(c) for c in service.list_codes(session, dimension=dimension)]


@router.post("/complaint-codes", status_code=201, response_model=CodeRead)
def add_code(body: CodeIn, actor: Annotated[Principal, require(P.COMPLAINT_CODES_MANAGE)]) -> CodeRead:
    with unit_of_work() as session:
        return CodeRead.model_validate(service.add_code(session, actor=actor, dimension=body.dimension,
                                                        code=body.code, name_zh=body.name_zh, name_en=body.name_en,
                                                        parent_code=body.parent_code))
