"""Tickets over REST: intake with Idempotency-Key, reading, replies and notes, transitions; and the
complaint procedure — duplicates, extensions, decisions, reviews, regulator reports, the board."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from fincare.platform.db import unit_of_work
from fincare.platform.errors import Invalid
from fincare.platform.exports import FILE_RESPONSES, XLSX_TYPE
from fincare.platform.http import require
from fincare.platform.idempotency import IdempotencyKey
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import MAX_ID, PathId, one_of_query
from fincare.servicedesk import service
from fincare.servicedesk.models import CodeDimension, Outcome, ReportStatus, TicketKind, TicketStatus, Visibility
from fincare.servicedesk.schemas import (
    ApprovalIn,
    AssignIn,
    BoardRead,
    ClockRead,
    CodeIn,
    CodeRead,
    CodingIn,
    ConclusionIn,
    DecisionIn,
    DecisionRead,
    EventRead,
    ExtensionIn,
    ExtensionRequestRead,
    LinkIn,
    MessageRead,
    ReplyIn,
    ReportRead,
    ReviewerIn,
    ReviewIn,
    ReviewRead,
    SubmissionIn,
    TemplateRead,
    TicketIn,
    TicketRead,
    TransitionIn,
)

router = APIRouter(prefix="/api/v1", tags=["tickets"])
Reader = Annotated[Principal, require(P.TICKET_READ)]
Writer = Annotated[Principal, require(P.TICKET_WRITE)]
Handler = Annotated[Principal, require(P.COMPLAINT_HANDLE)]
Reporter = Annotated[Principal, require(P.REGULATOR_REPORT)]


@router.post("/tickets", status_code=201, response_model=TicketRead)
def create(body: TicketIn, actor: Writer, idem: IdempotencyKey) -> JSONResponse:
    """Take in a consultation, complaint or feedback; its SLA clocks start at `received_at` (default now)."""
    with unit_of_work() as session:
        def open_it() -> TicketRead:
            return TicketRead.opened(service.open_ticket(session, actor=actor, raw=body.raw()))

        return idem.run(session, actor, open_it)


@router.get("/tickets", response_model=list[TicketRead])
def find(
    actor: Reader,
    kind: Annotated[str | None, one_of_query(TicketKind)] = None,
    status: Annotated[str | None, one_of_query(TicketStatus)] = None,
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
    """A reply to the customer (`public`) or a note among staff (`internal`). A public reply comes from
    the ticket's owner, a supervisor, or anyone qualified while nobody owns it (who then owns it); a
    colleague's is refused (403, field `visibility`)."""
    with unit_of_work() as session:
        ticket = service.access_ticket(session, ticket_id, actor, for_write=True)
        return idem.run(session, actor, lambda: MessageRead.of(service.reply(
            session, actor=actor, ticket=ticket, body=body.body, visibility=Visibility(body.visibility))))


@router.post("/tickets/{ticket_id}/transitions", response_model=TicketRead)
def transition(ticket_id: PathId, body: TransitionIn, actor: Reader) -> TicketRead:
    """Change the status; only whoever may publicly reply may (403, field `to`, for a colleague)."""
    with unit_of_work() as session:
        ticket = service.access_ticket(session, ticket_id, actor, for_write=True)
        return TicketRead.of(service.change_status(session, actor=actor, ticket=ticket, to=body.to,
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
def codes(actor: Reader, dimension: Annotated[str | None, one_of_query(CodeDimension)] = None) -> list[CodeRead]:
    """The complaint code table in force (JR/T 0169-2018 and the institution's own finer codes)."""
    with unit_of_work(read_only=True) as session:
        return [CodeRead.model_validate(c) for c in service.list_codes(session, dimension=dimension)]


@router.post("/complaint-codes", status_code=201, response_model=CodeRead)
def add_code(body: CodeIn, actor: Annotated[Principal, require(P.COMPLAINT_CODES_MANAGE)],
             idem: IdempotencyKey) -> JSONResponse:
    with unit_of_work() as session:
        return idem.run(session, actor, lambda: CodeRead.model_validate(service.add_code(
            session, actor=actor, dimension=body.dimension, code=body.code, name_zh=body.name_zh,
            name_en=body.name_en, parent_code=body.parent_code)))


# -- the complaint procedure -----------------------------------------------------------------------


@router.post("/tickets/{ticket_id}/duplicate-link", response_model=TicketRead)
def link(ticket_id: PathId, body: LinkIn, actor: Handler) -> TicketRead:
    """Handle this complaint as part of the customer's earlier open one: it closes, its clocks are
    cancelled, and the earlier complaint's statutory deadline runs on unchanged."""
    with unit_of_work() as session:
        ticket = service.access_ticket(session, ticket_id, actor, for_write=True)
        return TicketRead.of(service.link_duplicate(session, actor=actor, ticket=ticket, primary_id=body.duplicate_of,
                                                    reason=body.reason), session)


@router.post("/tickets/{ticket_id}/extension-requests", status_code=201, response_model=ExtensionRequestRead)
def request_extension(ticket_id: PathId, body: ExtensionIn, actor: Handler, idem: IdempotencyKey) -> JSONResponse:
    """Ask a supervisor-level role for more time; it is decided at `/extension-requests/{id}/decision`."""
    with unit_of_work() as session:
        ticket = service.access_ticket(session, ticket_id, actor, for_write=True)
        return idem.run(session, actor, lambda: ExtensionRequestRead.model_validate(service.request_extension(
            session, actor=actor, ticket=ticket, reason=body.reason)))


@router.post("/extension-requests/{request_id}/decision", response_model=ExtensionRequestRead)
def decide_extension(request_id: PathId, body: ApprovalIn,
                     actor: Annotated[Principal, require(P.EXTENSION_APPROVE)]) -> ExtensionRequestRead:
    """Grant (the deadline moves to 30, then 60 days; the complainant is told) or refuse with a note."""
    with unit_of_work() as session:
        return ExtensionRequestRead.model_validate(service.decide_extension(
            session, actor=actor, request_id=request_id, approve=body.approve, note=body.note))


@router.get("/tickets/{ticket_id}/decision-template", response_model=TemplateRead)
def decision_template(ticket_id: PathId, actor: Handler,
                      outcome: Annotated[str, one_of_query(Outcome)],
                      language: Annotated[str | None, one_of_query(service.Language)] = None,
                      remedy: Annotated[str | None, Query(max_length=service.MAX_REASON)] = None) -> TemplateRead:
    """A complete reply with the review, mediation, arbitration and litigation routes, to edit."""
    with unit_of_work(read_only=True) as session:
        ticket = service.access_ticket(session, ticket_id, actor)
        chosen = language or actor.language
        return TemplateRead(language=chosen, reply=service.reply_template(ticket, outcome=outcome, remedy=remedy,
                                                                           language=chosen))


@router.post("/tickets/{ticket_id}/decisions", status_code=201, response_model=DecisionRead)
def decide(ticket_id: PathId, body: DecisionIn, actor: Handler, idem: IdempotencyKey) -> JSONResponse:
    """Record the decision and send its reply (resolving the complaint); a high-risk complaint's reply
    waits for approval first."""
    with unit_of_work() as session:
        ticket = service.access_ticket(session, ticket_id, actor, for_write=True)
        return idem.run(session, actor, lambda: DecisionRead.model_validate(service.decide(
            session, actor=actor, ticket=ticket, outcome=body.outcome, reply=body.reply, remedy=body.remedy,
            language=body.language)))


@router.get("/tickets/{ticket_id}/decisions", response_model=list[DecisionRead])
def decisions(ticket_id: PathId, actor: Reader) -> list[DecisionRead]:
    with unit_of_work(read_only=True) as session:
        ticket = service.access_ticket(session, ticket_id, actor)
        return [DecisionRead.model_validate(d) for d in service.decisions_of(session, ticket.id)]


@router.post("/decisions/{decision_id}/approval", response_model=DecisionRead)
def approve(decision_id: PathId, body: ApprovalIn,
            actor: Annotated[Principal, require(P.DECISION_APPROVE)]) -> DecisionRead:
    """Release a waiting reply, or send it back with a note; never by the decision's author."""
    with unit_of_work() as session:
        return DecisionRead.model_validate(service.approve_decision(session, actor=actor, decision_id=decision_id,
                                                                    approve=body.approve, note=body.note))


@router.post("/tickets/{ticket_id}/reviews", status_code=201, response_model=ReviewRead)
def request_review(ticket_id: PathId, body: ReviewIn, actor: Handler, idem: IdempotencyKey) -> JSONResponse:
    """Record the complainant's request for review (核查) of the decision; due in 30 days."""
    with unit_of_work() as session:
        ticket = service.access_ticket(session, ticket_id, actor)
        return idem.run(session, actor, lambda: ReviewRead.model_validate(service.request_review(
            session, actor=actor, ticket=ticket, reason=body.reason, reviewer_id=body.reviewer_id)))


@router.get("/tickets/{ticket_id}/reviews", response_model=list[ReviewRead])
def reviews(ticket_id: PathId, actor: Reader) -> list[ReviewRead]:
    with unit_of_work(read_only=True) as session:
        ticket = service.access_ticket(session, ticket_id, actor)
        return [ReviewRead.model_validate(r) for r in service.reviews_of(session, ticket.id)]


@router.post("/reviews/{review_id}/reviewer", response_model=ReviewRead)
def assign_reviewer(review_id: PathId, body: ReviewerIn,
                    actor: Annotated[Principal, require(P.COMPLAINT_REVIEW)]) -> ReviewRead:
    """Someone of the superior level who did not handle the complaint."""
    with unit_of_work() as session:
        return ReviewRead.model_validate(service.assign_reviewer(session, actor=actor, review_id=review_id,
                                                                 reviewer_id=body.reviewer_id))


@router.post("/reviews/{review_id}/conclusion", response_model=ReviewRead)
def conclude_review(review_id: PathId, body: ConclusionIn,
                    actor: Annotated[Principal, require(P.COMPLAINT_REVIEW)]) -> ReviewRead:
    """Confirm the decision or overturn it (the complaint reopens for a new decision)."""
    with unit_of_work() as session:
        return ReviewRead.model_validate(service.conclude_review(session, actor=actor, review_id=review_id,
                                                                 outcome=body.outcome, finding=body.finding))


@router.get("/regulator-reports", response_model=list[ReportRead])
def regulator_reports(actor: Reporter,
                      status: Annotated[str | None, one_of_query(ReportStatus)] = None) -> list[ReportRead]:
    """High-risk and regulator-transferred complaints to report, earliest deadline first."""
    with unit_of_work(read_only=True) as session:
        return [ReportRead.of(r) for r in service.list_reports(session, status=status)]


@router.get("/regulator-reports/export", response_class=Response, responses=FILE_RESPONSES)
def export_regulator_reports(actor: Reporter, format: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "csv",
                             status: Annotated[str | None, one_of_query(ReportStatus)] = None) -> Response:
    """The list as CSV or XLSX (tickets by reference and codes; no personal data)."""
    with unit_of_work(read_only=True) as session:
        rows = service.list_reports(session, status=status, limit=100_000)
        if format == "xlsx":
            return Response(service.to_xlsx(rows), media_type=XLSX_TYPE,
                            headers={"Content-Disposition": 'attachment; filename="regulator-reports.xlsx"'})
        return Response(service.to_csv(rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="regulator-reports.csv"'})


@router.post("/regulator-reports/{report_id}/submission", response_model=ReportRead)
def submit_report(report_id: PathId, body: SubmissionIn, actor: Reporter) -> ReportRead:
    """Record that the report went to the regulator, with the regulator's reference."""
    with unit_of_work() as session:
        report = service.submit_report(session, actor=actor, report_id=report_id,
                                       regulator_reference=body.regulator_reference, note=body.note)
        return ReportRead.of(service.report_row(session, report))


@router.get("/board", response_model=BoardRead)
def board(actor: Annotated[Principal, require(P.TICKET_ASSIGN)]) -> BoardRead:
    """The supervisor board: breaches, tickets at risk, agents' load, and what waits for a supervisor."""
    with unit_of_work(read_only=True) as session:
        return BoardRead.of(service.board(session))
