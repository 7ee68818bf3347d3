"""Console: the agent workspace — my queue, the ticket page (SLA, timeline, reply, status, the complaint
procedure: decision, extension request, duplicate link, review), new tickets — and the supervisor board.

Thin like `api.py`: forms are decoded here and handed to `service` inside one `unit_of_work()`; the
rules (who may work a ticket, which status may follow which, what a reply does to the clocks) live
in `service` and `sla`. A form the service refuses (Invalid, Forbidden, Conflict) is shown again
with the message next to the field at fault and what the user typed. Customers appear masked only.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from fincare.customers import service as customers
from fincare.platform import clock, idempotency, web
from fincare.platform.config import get_settings
from fincare.platform.db import unit_of_work
from fincare.platform.errors import Conflict, Forbidden, Invalid, one_of
from fincare.platform.forms import FormError, Submitted, plain, text
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import PathId
from fincare.platform.web import NavItem, add_nav, language_of, render
from fincare.servicedesk import board_views, service, workspace
from fincare.servicedesk.models import (
    Channel,
    Outcome,
    Priority,
    ReviewStatus,
    RiskGrade,
    Ticket,
    TicketKind,
    TicketStatus,
    Visibility,
)
from fincare.servicedesk.pages import (
    Approver,
    DecisionApprover,
    Reader,
    Reviewer,
    Writer,
    common,
    parse_id,
    yes,
    zone,
)
from fincare.servicedesk.schemas import TicketRead
from fincare.servicedesk.service.resolution import Language

router = APIRouter(include_in_schema=False)
router.include_router(board_views.router)
web.add_templates("servicedesk", Path(__file__).parent / "templates" / "servicedesk")
add_nav(NavItem("My queue", "/tickets", P.TICKET_READ, order=5))
add_nav(NavItem("New ticket", "/tickets/new", P.TICKET_WRITE, order=6))

DECISION_FIELDS = ("outcome", "remedy", "reply", "language")

LOOKUP_FIELDS = ("phone", "id_number")  # exact blind-index lookups a caller can read out
# form_key: made when the form is first shown, it is the creation's Idempotency-Key, so a form sent
# twice (a double click, a resend after a lost answer) opens one ticket
INTAKE_FIELDS = ("lookup_field", "lookup_value", "customer_id", "kind", "channel", "subject", "description",
                 "risk_grade", "priority", "received_at", "form_key")
# The status buttons, in the order a ticket usually moves.
STATUS_ORDER = (TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER, TicketStatus.RESOLVED, TicketStatus.CLOSED,
                TicketStatus.REOPENED)


# -- my queue --------------------------------------------------------------------------------------


@router.get("/tickets")
def queue_page(request: Request, actor: Reader) -> Response:
    """The actor's active tickets, closest to (or furthest past) breach first, then the unassigned ones."""
    now = clock.now()
    with unit_of_work(read_only=True) as session:
        mine = service.my_queue(session, actor=actor)
        unassigned = service.unassigned_queue(session, actor=actor)
        masked = customers.summaries(session, [t.customer_id for t in (*mine, *unassigned)])
        return render(request, "servicedesk/queue.html", {
            **common(now), "mine": mine, "unassigned": unassigned, "customers": masked,
            "may_take": {t.id for t in unassigned if service.may_take(actor, t)},
        })


# -- a new ticket ----------------------------------------------------------------------------------


def _typed_intake(form: FormData) -> dict[str, str]:
    typed = {name: text(form, name) for name in INTAKE_FIELDS}
    typed["lookup_field"] = typed["lookup_field"] or "phone"
    return typed


def _received_at(value: str) -> datetime | None:
    """The form's local date and time (the institution's zone unless an offset is given)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("a date and time like 2026-10-12 09:30", field="received_at") from None
    return moment.replace(tzinfo=zone()) if moment.tzinfo is None else moment


def _raw_intake(typed: dict[str, str]) -> dict[str, Any]:
    """`open_ticket`'s input: empty selects mean "the default", the customer by id."""
    customer_id = typed["customer_id"]
    raw: dict[str, Any] = {
        "kind": typed["kind"], "channel": typed["channel"], "subject": typed["subject"],
        "description": typed["description"],
        "customer_id": parse_id(customer_id),
    }
    for optional in ("risk_grade", "priority"):
        if typed[optional]:
            raw[optional] = typed[optional]
    if (received_at := _received_at(typed["received_at"])) is not None:
        raw["received_at"] = received_at
    return raw


def _lookup(actor: Principal, typed: dict[str, str]) -> list[customers.CustomerSummary]:
    """Exact lookup by mobile phone or ID number (audited, in its own transaction); masks only."""
    if not actor.can(P.CUSTOMER_READ):
        raise Forbidden("your role may not look up customers", field="lookup_value")
    if typed["lookup_field"] not in LOOKUP_FIELDS:
        raise Invalid("look the customer up by mobile phone or resident ID number", field="lookup_field")
    if not typed["lookup_value"]:
        raise Invalid("type the customer's mobile phone or ID number", field="lookup_value")
    try:
        with unit_of_work() as session:
            found = customers.search(session, actor=actor, field_name=typed["lookup_field"],
                                     value=typed["lookup_value"])
            matches = [customers.summarize(c) for c in found]
    except Invalid as exc:  # a malformed number: shown next to the value typed
        raise Invalid(exc.message, field="lookup_value") from None
    if not matches:
        raise Invalid("no active customer has this identifier", field="lookup_value")
    return matches


def _new_form(request: Request, actor: Principal, typed: dict[str, str], *, error: FormError | None = None,
              choices: list[customers.CustomerSummary] | None = None) -> Response:
    chosen = None
    if parse_id(typed["customer_id"]) is not None and not choices:
        with unit_of_work(read_only=True) as session:
            chosen = customers.summaries(session, [int(typed["customer_id"])]).get(int(typed["customer_id"]))
    return render(request, "servicedesk/new.html", {
        "values": typed, "chosen": chosen, "choices": choices or [], "error": error,
        "lookup_fields": LOOKUP_FIELDS, "kinds": list(TicketKind), "channels": list(Channel),
        "risk_grades": list(RiskGrade), "priorities": list(Priority),
        "may_backdate": actor.can(P.TICKET_BACKDATE), "timezone": get_settings().timezone,
    }, status_code=error.status_code if error else 200)


@router.get("/tickets/new")
def new_ticket_page(request: Request, actor: Writer) -> Response:
    blank = {**dict.fromkeys(INTAKE_FIELDS, ""), "lookup_field": "phone", "kind": TicketKind.CONSULTATION,
             "channel": Channel.PHONE, "form_key": secrets.token_urlsafe(16)}
    return _new_form(request, actor, blank)


@router.post("/tickets/new")
def create_ticket(request: Request, actor: Writer, form: Submitted) -> Response:
    """Find the customer (button "find"), or find and create in one go; then go to the new ticket."""
    typed = _typed_intake(form)
    finding = text(form, "action") == "find"
    try:
        plain(typed)
        if typed["lookup_value"]:
            matches = _lookup(actor, typed)
            typed["lookup_value"] = ""  # found: the identifier is not echoed back, the masks are shown
            if len(matches) > 1:
                typed["customer_id"] = ""
                return _new_form(request, actor, typed, choices=matches)
            typed["customer_id"] = str(matches[0].id)
        elif finding and not typed["customer_id"]:
            raise Invalid("type the customer's mobile phone or ID number", field="lookup_value")
        if finding:  # (Enter in any field presses "find" too: the form comes back as it was)
            return _new_form(request, actor, typed)
        if not typed["customer_id"]:
            raise Invalid("find the customer by mobile phone or ID number first", field="lookup_value")
        raw = _raw_intake(typed)
        with unit_of_work() as session:
            answer = idempotency.for_form(typed["form_key"], raw).run(
                session, actor, lambda: TicketRead.opened(service.open_ticket(session, actor=actor, raw=raw)))
        ticket_id = json.loads(bytes(answer.body))["id"]  # a replay answers with the first ticket
    except (Invalid, Forbidden, Conflict) as exc:
        if exc.code == "idempotency_key_reused":  # the form of a ticket opened already, changed and sent again
            typed["form_key"] = secrets.token_urlsafe(16)
        return _new_form(request, actor, typed, error=FormError.of("ticket", exc))
    return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)


# -- the ticket page -------------------------------------------------------------------------------


def _ticket_page(request: Request, session: Session, ticket: Ticket, actor: Principal, *,
                 error: FormError | None = None, typed: dict[str, str] | None = None) -> Response:
    now = clock.now()
    entries = workspace.timeline(session, ticket.id)
    complaint = ticket.kind == TicketKind.COMPLAINT
    decisions = service.decisions_of(session, ticket.id) if complaint else []
    reviews = service.reviews_of(session, ticket.id) if complaint else []
    named: list[int | None] = [ticket.assignee_id, ticket.created_by_id, *(e.actor_id for e in entries)]
    named += [v for e in entries if e.kind in ("assigned", "reviewer_assigned")
              for v in (e.detail.get("before"), e.detail.get("after")) if isinstance(v, int)]
    named += [a for d in decisions for a in (d.decided_by_id, d.approved_by_id)]
    named += [r.reviewer_id for r in reviews]
    raw_clocks = service.clocks(session, ticket)
    clocks = workspace.clock_statuses(session, raw_clocks, now=now)
    may = service.offered(session, actor, ticket, raw_clocks)
    waiting = complaint and service.pending_extension(session, ticket.id) is not None
    procedure = workspace.complaint_forms(actor, ticket, works=may.work, answers=may.answer, recused=may.recused,
                                          decisions=decisions, reviews=reviews, clocks=clocks, waiting=waiting)
    transitions = [str(s) for s in STATUS_ORDER if s in may.statuses]
    # the forms on the page; a refusal of any other (a stale page, a role without the form) shows on top
    forms = {"take", *(["extension"] if may.extend else []), *(f"status-{t}" for t in transitions)}
    forms |= {"assign"} if may.hand_over else set()
    forms |= {"reply"} if may.work and ticket.status != TicketStatus.CLOSED else set()
    forms |= {"coding"} if may.code else set()
    forms |= {name for name, shown in (("decision", procedure.decide), ("extension-request",
              procedure.request_extension), ("duplicate", procedure.link_duplicate),
              ("review", procedure.request_review), ("approval", procedure.approve is not None),
              ("conclusion", procedure.conclude is not None)) if shown}
    typed = typed or {}
    drafted = typed if error and error.form == "decision" else _decision_template(
        ticket, typed if error is None else {}, language_of(request)) if procedure.decide else {}
    response = render(request, "servicedesk/ticket.html", {
        **common(now), "ticket": ticket, "clocks": clocks, "entries": entries,
        "customer": customers.summaries(session, [ticket.customer_id]).get(ticket.customer_id),
        "names": workspace.staff_names(session, named), "may": may,
        "transitions": transitions, "forms": forms, "procedure": procedure,
        "decisions": decisions, "reviews": reviews, "outcomes": list(Outcome), "reply_languages": list(Language),
        "review_outcomes": [s for s in ReviewStatus if s != ReviewStatus.OPEN],
        "colleagues": workspace.colleagues(session, ticket.kind) if may.hand_over else [],
        "visibilities": list(Visibility) if may.answer else [Visibility.INTERNAL],
        "error": error, "typed": typed, "drafted": drafted,
        "codes": service.list_codes(session) if may.code else [],
    }, status_code=error.status_code if error else 200)
    response.headers["Cache-Control"] = "no-store"
    return response


def _decision_template(ticket: Ticket, chosen: dict[str, str], language: str) -> dict[str, str]:
    """The decision form's values: the outcome, remedy and language chosen (by default the first outcome
    in the console's language) and the standard reply for them, routes included, for the handler to edit."""
    values = {"outcome": chosen.get("outcome") or Outcome.UPHELD, "remedy": chosen.get("remedy", ""),
              "language": chosen.get("language") or language}
    try:
        reply = service.reply_template(ticket, outcome=values["outcome"], remedy=values["remedy"],
                                       language=values["language"])
    except Invalid:  # a crafted choice: the defaults instead
        values = {"outcome": Outcome.UPHELD, "remedy": "", "language": language}
        reply = service.reply_template(ticket, outcome=Outcome.UPHELD, remedy=None, language=language)
    return {**values, "reply": reply}


@router.get("/tickets/{ticket_id}")
def ticket_page(request: Request, ticket_id: PathId, actor: Reader) -> Response:
    with unit_of_work(read_only=True) as session:
        return _ticket_page(request, session, service.access_ticket(session, ticket_id, actor), actor)


def _work(request: Request, ticket_id: int, actor: Principal, form_name: str, typed: dict[str, str],
          act: Callable[[Session, Ticket], object], anchor: str = "", *, for_write: bool = True) -> Response:
    """Load the ticket (for writing, unless the service authorises the act itself), act on it in one
    transaction and go back to its page; or show the page again with the refusal next to the form (a
    ticket the actor cannot see stays a 404)."""
    try:
        plain(typed)
        with unit_of_work() as session:
            act(session, service.access_ticket(session, ticket_id, actor, for_write=for_write))
    except (Invalid, Forbidden, Conflict) as exc:
        with unit_of_work(read_only=True) as session:
            ticket = service.access_ticket(session, ticket_id, actor)
            return _ticket_page(request, session, ticket, actor, error=FormError.of(form_name, exc), typed=typed)
    return RedirectResponse(f"/tickets/{ticket_id}{anchor}", status_code=303)


@router.post("/tickets/{ticket_id}/reply")
def reply(request: Request, ticket_id: PathId, actor: Reader, form: Submitted) -> Response:
    """A reply the customer sees, or an internal note (the visibility the agent chose)."""
    typed = {"body": text(form, "body"), "visibility": text(form, "visibility")}

    def act(session: Session, ticket: Ticket) -> None:
        visibility = one_of(Visibility, typed["visibility"], "visibility")
        service.reply(session, actor=actor, ticket=ticket, body=typed["body"], visibility=visibility)

    return _work(request, ticket_id, actor, "reply", typed, act, "#timeline")


@router.post("/tickets/{ticket_id}/status")
def change_status(request: Request, ticket_id: PathId, actor: Reader, form: Submitted) -> Response:
    typed = {"to": text(form, "to"), "reason": text(form, "reason")}

    def act(session: Session, ticket: Ticket) -> None:
        service.change_status(session, actor=actor, ticket=ticket, to=typed["to"], reason=typed["reason"] or None)

    return _work(request, ticket_id, actor, f"status-{typed['to']}", typed, act)


@router.post("/tickets/{ticket_id}/take")
def take(request: Request, ticket_id: PathId, actor: Reader) -> Response:
    """Take an unassigned ticket of a kind the actor works (首问负责制 from here on)."""

    def act(session: Session, ticket: Ticket) -> None:
        service.assign(session, actor=actor, ticket=ticket, assignee_id=actor.account_id)

    return _work(request, ticket_id, actor, "take", {}, act)


@router.post("/tickets/{ticket_id}/assign")
def assign(request: Request, ticket_id: PathId, actor: Reader, form: Submitted) -> Response:
    """Hand the ticket to a qualified colleague with a reason (one's own, or any for a supervisor)."""
    typed = {"assignee_id": text(form, "assignee_id"), "reason": text(form, "reason")}

    def act(session: Session, ticket: Ticket) -> None:
        chosen = typed["assignee_id"]
        if parse_id(chosen) is None:
            raise Invalid("choose a colleague", field="assignee_id")
        service.assign(session, actor=actor, ticket=ticket, assignee_id=int(chosen), reason=typed["reason"])

    return _work(request, ticket_id, actor, "assign", typed, act)


@router.post("/tickets/{ticket_id}/coding")
def code(request: Request, ticket_id: PathId, actor: Reader, form: Submitted) -> Response:
    """Code a complaint under JR/T 0169-2018: channel, business type and cause (needed before closing)."""
    typed = {name: text(form, name) for name in ("channel_code", "business_type_code", "cause_code")}

    def act(session: Session, ticket: Ticket) -> None:
        service.code_complaint(session, actor=actor, ticket=ticket, **typed)

    return _work(request, ticket_id, actor, "coding", typed, act, "#coding")


@router.post("/tickets/{ticket_id}/extension")
def extend(request: Request, ticket_id: PathId, actor: Approver, form: Submitted) -> Response:
    """Extend a complaint's statutory deadline (15 → 30 → 60 days) with the reason the approver gives."""
    typed = {"reason": text(form, "reason")}

    def act(session: Session, ticket: Ticket) -> None:
        service.extend_deadline(session, actor=actor, ticket=ticket, reason=typed["reason"])

    return _work(request, ticket_id, actor, "extension", typed, act, "#sla")


# -- the complaint procedure on the ticket page ----------------------------------------------------


@router.post("/tickets/{ticket_id}/decision")
def decide(request: Request, ticket_id: PathId, actor: Reader, form: Submitted) -> Response:
    """Send the decision and its reply (resolving the complaint; a high-risk one waits for approval), or
    (button "template") show the standard reply for the outcome, remedy and language chosen."""
    typed = {name: text(form, name) for name in DECISION_FIELDS}
    if text(form, "action") == "template":  # nothing is written: the page again, the reply drafted anew
        with unit_of_work(read_only=True) as session:
            ticket = service.access_ticket(session, ticket_id, actor)
            return _ticket_page(request, session, ticket, actor, typed=typed)

    def act(session: Session, ticket: Ticket) -> None:
        service.decide(session, actor=actor, ticket=ticket, outcome=typed["outcome"], reply=typed["reply"],
                       remedy=typed["remedy"] or None, language=typed["language"] or None)

    return _work(request, ticket_id, actor, "decision", typed, act, "#decision")


@router.post("/tickets/{ticket_id}/decisions/{decision_id}/approval")
def approve_on_ticket(request: Request, ticket_id: PathId, decision_id: PathId, actor: DecisionApprover,
                      form: Submitted) -> Response:
    """Release the waiting reply (it is sent, the complaint resolved) or send it back with a note."""
    typed = {"approve": text(form, "approve"), "note": text(form, "note")}

    def act(session: Session, ticket: Ticket) -> None:
        service.approve_decision(session, actor=actor, decision_id=decision_id, approve=yes(typed["approve"]),
                                 note=typed["note"] or None)

    return _work(request, ticket_id, actor, "approval", typed, act, "#decision", for_write=False)


@router.post("/tickets/{ticket_id}/extension-request")
def request_extension(request: Request, ticket_id: PathId, actor: Reader, form: Submitted) -> Response:
    """A handler asks a supervisor for more time; it is decided on the supervisor board."""
    typed = {"reason": text(form, "reason")}

    def act(session: Session, ticket: Ticket) -> None:
        service.request_extension(session, actor=actor, ticket=ticket, reason=typed["reason"])

    return _work(request, ticket_id, actor, "extension-request", typed, act, "#sla")


@router.post("/tickets/{ticket_id}/duplicate")
def link_duplicate(request: Request, ticket_id: PathId, actor: Reader, form: Submitted) -> Response:
    """Handle this complaint as part of the customer's earlier one (it closes; that one's clocks run on)."""
    typed = {"duplicate_of": text(form, "duplicate_of"), "reason": text(form, "reason")}

    def act(session: Session, ticket: Ticket) -> None:
        primary = parse_id(typed["duplicate_of"])
        if primary is None:
            raise Invalid("choose the earlier complaint", field="duplicate_of")
        service.link_duplicate(session, actor=actor, ticket=ticket, primary_id=primary, reason=typed["reason"])

    return _work(request, ticket_id, actor, "duplicate", typed, act)


@router.post("/tickets/{ticket_id}/review")
def request_review(request: Request, ticket_id: PathId, actor: Reader, form: Submitted) -> Response:
    """Record the complainant's request for review (核查) of the decision sent to them."""
    typed = {"reason": text(form, "reason")}

    def act(session: Session, ticket: Ticket) -> None:
        service.request_review(session, actor=actor, ticket=ticket, reason=typed["reason"])

    return _work(request, ticket_id, actor, "review", typed, act, "#review")


@router.post("/tickets/{ticket_id}/reviews/{review_id}/conclusion")
def conclude_review(request: Request, ticket_id: PathId, review_id: PathId, actor: Reviewer,
                    form: Submitted) -> Response:
    """The reviewer confirms the decision, or overturns it (the complaint reopens for a new decision)."""
    typed = {"outcome": text(form, "outcome"), "finding": text(form, "finding")}

    def act(session: Session, ticket: Ticket) -> None:
        service.conclude_review(session, actor=actor, review_id=review_id, outcome=typed["outcome"],
                                finding=typed["finding"])

    return _work(request, ticket_id, actor, "conclusion", typed, act, "#review", for_write=False)
