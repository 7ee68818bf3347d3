"""Ticket request and response bodies. The customer appears by id, reference and masks only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy.orm import Session

from fincare.customers import service as customers
from fincare.platform.schemas import MAX_ID, Ids, Moment, RequestBody, ResponseBody
from fincare.servicedesk import service
from fincare.servicedesk.models import Ticket, TicketEvent, TicketMessage
from fincare.sla.models import Clock


class TicketIn(RequestBody):
    kind: str = Field(max_length=20, description="consultation | complaint | feedback")
    channel: str = Field(max_length=24, description="phone | online_chat | app | web | wechat | email | branch | "
                                                     "regulator_transfer")
    customer_id: int = Field(ge=1, le=MAX_ID)
    subject: str = Field(max_length=service.MAX_SUBJECT)
    description: str = Field(max_length=service.MAX_DESCRIPTION)
    risk_grade: str | None = Field(default=None, max_length=12, description="complaints: low | medium | high")
    priority: str | None = Field(default=None, max_length=12, description="low | normal | high | urgent")
    received_at: Moment | None = Field(
        default=None, description="when it reached the institution, if earlier (needs ticket.backdate)")
    product: str | None = Field(default=None, max_length=20,
                                description="the product skill it needs: deposits | loans | cards | payments | "
                                            "wealth | insurance")
    named_staff_ids: list[Ids] | None = Field(default=None, max_length=20,
                                              description="complaints: staff members it is about (never assigned it)")
    named_department_ids: list[Ids] | None = Field(default=None, max_length=20,
                                                   description="complaints: units it is about (their staff recuse)")

    def raw(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class ReplyIn(RequestBody):
    body: str = Field(max_length=service.MAX_BODY)
    visibility: str = Field(pattern="^(public|internal)$", description="public: the customer sees it; internal: a note")


class TransitionIn(RequestBody):
    to: str = Field(max_length=20, description="open | pending_customer | resolved | closed | reopened")
    reason: str | None = Field(default=None, max_length=service.MAX_REASON)


class AssignIn(RequestBody):
    assignee_id: int | None = Field(ge=1, le=MAX_ID)
    reason: str | None = Field(default=None, max_length=service.MAX_REASON)


class CodingIn(RequestBody):
    channel_code: str = Field(max_length=12, description="JR/T 0169-2018 dimension A, e.g. A05")
    business_type_code: str = Field(max_length=12, description="dimension B, e.g. B03")
    cause_code: str = Field(max_length=12, description="dimension C, e.g. C01")


class CodeIn(RequestBody):
    dimension: str = Field(max_length=16, description="channel | business_type | cause")
    code: str = Field(max_length=12)
    name_zh: str = Field(max_length=80)
    name_en: str = Field(max_length=120)
    parent_code: str | None = Field(default=None, max_length=12)


class CodeRead(ResponseBody):
    version: str
    dimension: str
    code: str
    name_zh: str
    name_en: str
    parent_code: str | None
    custom: bool
    active: bool


class ExtensionIn(RequestBody):
    reason: str = Field(max_length=service.MAX_REASON)


class LinkIn(RequestBody):
    duplicate_of: int = Field(ge=1, le=MAX_ID, description="the earlier complaint of the same customer")
    reason: str = Field(max_length=service.MAX_REASON)


class DecisionIn(RequestBody):
    outcome: str = Field(max_length=16, description="upheld | partly_upheld | not_upheld")
    reply: str = Field(max_length=service.MAX_BODY,
                       description="to the complainant; must name the review, mediation, arbitration and "
                                   "litigation routes (see the decision template)")
    remedy: str | None = Field(default=None, max_length=service.MAX_REASON)
    language: str | None = Field(default=None, max_length=8, description="zh-CN | en (default: yours)")


class DecisionRead(ResponseBody):
    id: int
    ticket_id: int
    outcome: str
    remedy: str | None
    reply: str
    language: str
    status: str
    decided_by_id: int | None
    decided_at: datetime
    approved_by_id: int | None
    approved_at: datetime | None
    approval_note: str | None
    sent_at: datetime | None


class TemplateRead(ResponseBody):
    language: str
    reply: str


class ApprovalIn(RequestBody):
    approve: bool
    note: str | None = Field(default=None, max_length=service.MAX_REASON, description="required to refuse")


class ReviewIn(RequestBody):
    reason: str = Field(max_length=service.MAX_REASON, description="why the complainant disputes the decision")
    reviewer_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class ReviewerIn(RequestBody):
    reviewer_id: int = Field(ge=1, le=MAX_ID)


class ConclusionIn(RequestBody):
    outcome: str = Field(max_length=12, description="confirmed | overturned (reopens the complaint)")
    finding: str = Field(max_length=service.MAX_REASON)


class ReviewRead(ResponseBody):
    id: int
    ticket_id: int
    decision_id: int
    reason: str
    requested_at: datetime
    requested_by_id: int | None
    reviewer_id: int | None
    due_at: datetime
    status: str
    finding: str | None
    decided_at: datetime | None


class ExtensionRequestRead(ResponseBody):
    id: int
    ticket_id: int
    reason: str
    requested_by_id: int | None
    requested_at: datetime
    status: str
    decided_by_id: int | None
    decided_at: datetime | None
    note: str | None


class SubmissionIn(RequestBody):
    regulator_reference: str | None = Field(default=None, max_length=60)
    note: str | None = Field(default=None, max_length=service.MAX_REASON)


class ReportRead(ResponseBody):
    id: int
    ticket_id: int
    ticket_reference: str
    reasons: list[str]
    due_at: datetime
    status: str
    submitted_at: datetime | None
    regulator_reference: str | None

    @classmethod
    def of(cls, row: service.ReportRow) -> ReportRead:
        r = row.report
        return cls(id=r.id, ticket_id=r.ticket_id, ticket_reference=row.ticket.reference, reasons=r.reasons,
                   due_at=r.due_at, status=r.status, submitted_at=r.submitted_at,
                   regulator_reference=r.regulator_reference)


class BoardTicket(ResponseBody):
    id: int
    reference: str
    kind: str
    priority: str
    assignee_id: int | None
    next_due_at: datetime | None
    breached: bool


class AgentLoadRead(ResponseBody):
    account_id: int
    display_name: str
    open: int
    breached: int
    on_duty: bool


class BoardRead(ResponseBody):
    breached: list[BoardTicket]
    at_risk: list[BoardTicket]
    loads: list[AgentLoadRead]
    extension_requests: list[ExtensionRequestRead]
    decisions_awaiting_approval: list[DecisionRead]
    regulator_reports_due: list[ReportRead]
    reviews_due: list[ReviewRead]

    @classmethod
    def of(cls, board: service.Board) -> BoardRead:
        return cls(breached=[BoardTicket.model_validate(t) for t in board.breached],
                   at_risk=[BoardTicket.model_validate(t) for t in board.at_risk],
                   loads=[AgentLoadRead.model_validate(a) for a in board.loads],
                   extension_requests=[ExtensionRequestRead.model_validate(r) for r, _ in board.extensions],
                   decisions_awaiting_approval=[DecisionRead.model_validate(d) for d, _ in board.approvals],
                   regulator_reports_due=[ReportRead.of(r) for r in board.reports_due],
                   reviews_due=[ReviewRead.model_validate(r) for r, _ in board.reviews_due])


class ClockRead(ResponseBody):
    target: str
    due_at: datetime
    state: str
    started_at: datetime
    calendar: str
    budget_seconds: int
    paused_seconds: int
    breached_at: datetime | None
    met_at: datetime | None
    extensions: int

    @classmethod
    def of(cls, item: Clock) -> ClockRead:
        return cls.model_validate(item)


class CustomerRef(ResponseBody):
    id: int
    reference: str
    name: str
    phone: str | None

    @classmethod
    def of(cls, summary: customers.CustomerSummary) -> CustomerRef:
        return cls(id=summary.id, reference=summary.reference, name=summary.name, phone=summary.phone)


class TicketRead(ResponseBody):
    id: int
    reference: str
    kind: str
    channel: str
    status: str
    priority: str
    risk_grade: str | None
    regulator_transfer: bool
    customer_id: int
    customer: CustomerRef | None = None
    subject: str
    description: str
    assignee_id: int | None
    created_by_id: int | None
    received_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    next_due_at: datetime | None
    breached: bool
    possible_duplicate_of_id: int | None = None
    repeat_complainant: bool = False
    code_version: str | None = None
    channel_code: str | None = None
    business_type_code: str | None = None
    cause_code: str | None = None
    product: str | None = None
    duplicate_of_id: int | None = None
    decision_id: int | None = None
    created_at: datetime
    updated_at: datetime
    sla: list[ClockRead] = Field(default_factory=list)

    @classmethod
    def opened(cls, opened: service.Opened) -> TicketRead:
        """A ticket just opened, from what its intake made: nothing is read again."""
        read = cls.model_validate(opened.ticket)
        read.sla = sorted((ClockRead.of(c) for c in opened.clocks), key=lambda c: c.due_at)
        read.customer = CustomerRef.of(opened.customer)
        return read

    @classmethod
    def many(cls, session: Session, tickets: Sequence[Ticket]) -> list[TicketRead]:
        """A page of tickets with their clocks and masked customers, in two queries for the page."""
        clocks = service.clocks_by_ticket(session, [t.id for t in tickets])
        masked = customers.summaries(session, (t.customer_id for t in tickets))
        reads = []
        for ticket in tickets:
            read = cls.model_validate(ticket)
            read.sla = [ClockRead.of(c) for c in clocks.get(ticket.id, [])]
            summary = masked.get(ticket.customer_id)
            read.customer = CustomerRef.of(summary) if summary else None
            reads.append(read)
        return reads

    @classmethod
    def of(cls, ticket: Ticket, session: Session | None = None) -> TicketRead:
        """With `session`, also the clocks and the masked customer."""
        read = cls.model_validate(ticket)
        if session is not None:
            read.sla = [ClockRead.of(c) for c in service.clocks(session, ticket)]
            summary = customers.summaries(session, [ticket.customer_id]).get(ticket.customer_id)
            read.customer = CustomerRef.of(summary) if summary else None
        return read


class MessageRead(ResponseBody):
    id: int
    visibility: str
    body: str
    author_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, message: TicketMessage) -> MessageRead:
        return cls.model_validate(message)


class EventRead(ResponseBody):
    id: int
    kind: str
    at: datetime
    actor_id: int | None
    detail: dict[str, Any]

    @classmethod
    def of(cls, event: TicketEvent) -> EventRead:
        return cls.model_validate(event)
