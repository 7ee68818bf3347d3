"""Duplicate and repeat complaints, detected at intake.

A complaint is a *possible duplicate* when the same customer complained of something similar in
the previous 7 days: similarity is the Jaccard index of character bigrams of subject and
description, which works for Chinese without segmentation as for English. A customer is a *repeat
complainant* with at least 2 earlier complaints in the previous 12 months. Both are flags for the
handler and the analysis; nothing is merged automatically.

A handler *links* a duplicate to the earlier complaint: the duplicate closes, its clocks are
cancelled, and the earlier complaint's clocks — the statutory deadline above all — run on untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.platform import audit_trail, clock
from fincare.platform.errors import Conflict, Invalid
from fincare.platform.permissions import Principal
from fincare.servicedesk.models import ACTIVE_STATUSES, Ticket, TicketKind, TicketStatus
from fincare.servicedesk.service import routing
from fincare.servicedesk.service.rules import (
    MAX_REASON,
    SUBJECT,
    add_event,
    clean_prose,
    refresh_due,
    refuse_unless_answering,
)
from fincare.sla import service as sla

DUPLICATE_WINDOW = timedelta(days=7)
REPEAT_WINDOW = timedelta(days=365)
REPEAT_AFTER = 2  # earlier complaints within the window
SIMILAR = 0.5  # Jaccard index of bigrams from which two complaints read as the same matter
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def bigrams(text: str) -> set[str]:
    """Character bigrams of the text without spaces and punctuation, lower-cased."""
    cleaned = _NOISE.sub("", text.lower())
    return {cleaned[i:i + 2] for i in range(len(cleaned) - 1)} or ({cleaned} if cleaned else set())


def similarity(a: str, b: str) -> float:
    """Jaccard index of the two texts' bigrams, 0 to 1."""
    first, second = bigrams(a), bigrams(b)
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)


@dataclass(frozen=True)
class Findings:
    possible_duplicate_of: Ticket | None
    repeat_complainant: bool


def examine(session: Session, *, customer_id: int, received_at: datetime, subject: str,
            description: str) -> Findings:
    """What the customer's earlier complaints say about a new one (one indexed query)."""
    earlier = session.execute(
        select(Ticket).where(Ticket.customer_id == customer_id, Ticket.kind == TicketKind.COMPLAINT,
                             Ticket.received_at >= received_at - REPEAT_WINDOW, Ticket.received_at <= received_at)
        .order_by(Ticket.received_at.desc()).limit(100)
    ).scalars().all()
    text = f"{subject} {description}"
    best, best_score = None, SIMILAR
    for ticket in earlier:
        if ticket.received_at < received_at - DUPLICATE_WINDOW:
            continue
        score = similarity(text, f"{ticket.subject} {ticket.description}")
        if score >= best_score:
            best, best_score = ticket, score
    return Findings(best, len(earlier) >= REPEAT_AFTER)


def link_duplicate(session: Session, *, actor: Principal, ticket: Ticket, primary_id: int, reason: str) -> Ticket:
    """Handle `ticket` as part of the customer's earlier, still open complaint `primary_id`.

    The duplicate closes with its clocks cancelled; the earlier complaint's clocks are not touched,
    so linking never restarts or extends its statutory deadline.
    """
    reason = clean_prose(reason, "reason", MAX_REASON)
    if ticket.kind != TicketKind.COMPLAINT or ticket.status not in ACTIVE_STATUSES:
        raise Conflict("only an open complaint can be linked as a duplicate", field="ticket_id")
    if ticket.duplicate_of_id is not None:
        raise Conflict("this complaint is already linked", field="ticket_id")
    refuse_unless_answering(actor, ticket, field="ticket_id")  # linking closes it
    primary = session.get(Ticket, primary_id, with_for_update=True) if primary_id != ticket.id else None
    if primary is None or primary.kind != TicketKind.COMPLAINT or primary.customer_id != ticket.customer_id:
        raise Invalid("not a complaint of the same customer", field="duplicate_of")
    routing.refuse_if_recused(session, primary, actor, field="duplicate_of")  # it takes the new one in
    if primary.duplicate_of_id is not None:
        raise Invalid("that complaint is itself a duplicate; link to the one it belongs to", field="duplicate_of")
    if primary.status not in ACTIVE_STATUSES:
        raise Conflict("that complaint is already concluded; handle this one on its own", field="duplicate_of")
    now = clock.now()
    clocks = sla.clocks_of(session, SUBJECT, ticket.id, lock=True)
    for item in clocks:
        sla.cancel(session, item=item, at=now, reason=f"duplicate of {primary.reference}")
    before = ticket.status
    ticket.duplicate_of_id, ticket.status = primary.id, TicketStatus.CLOSED
    ticket.closed_at = ticket.updated_at = now
    refresh_due(ticket, clocks)
    add_event(session, ticket, "linked_as_duplicate", actor, at=now, of=primary.id, reference=primary.reference,
              reason=reason)
    add_event(session, ticket, "status_changed", actor, at=now, before=before, after=TicketStatus.CLOSED, reason=reason)
    add_event(session, primary, "duplicate_linked", actor, at=now, duplicate=ticket.id, reference=ticket.reference)
    audit_trail.record(session, actor=actor, action="ticket.linked_as_duplicate", subject=ticket,
                       before={"status": before, "duplicate_of_id": None},
                       after={"status": TicketStatus.CLOSED, "duplicate_of_id": primary.id}, reason=reason)
    return ticket
