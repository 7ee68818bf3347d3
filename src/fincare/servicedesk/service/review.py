"""Review (核查): a complainant who disputes the decision asks the superior level to look again.

The review has its own deadline (30 calendar days from the request) and a reviewer who never
handled the complaint — not an owner, not the decision's author or approver. It confirms the
decision or overturns it, which reopens the complaint for a new decision.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.platform import audit_trail, clock
from fincare.platform.accounts.models import StaffAccount
from fincare.platform.accounts.service import principal_of
from fincare.platform.errors import Conflict, Forbidden, Invalid, NotFound, one_of
from fincare.platform.permissions import Permission, Principal
from fincare.servicedesk.models import (
    ComplaintDecision,
    ComplaintReview,
    ReviewStatus,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketStatus,
)
from fincare.servicedesk.service import routing
from fincare.servicedesk.service.rules import MAX_REASON, add_event, clean_prose
from fincare.servicedesk.service.work import transition

REVIEW_DAYS = 30


def handlers(session: Session, ticket: Ticket) -> set[int]:
    """Everyone who owned the complaint or authored or approved one of its decisions."""
    found: set[int] = set()
    for kind, detail in session.execute(select(TicketEvent.kind, TicketEvent.detail).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.kind.in_(("created", "assigned")))):
        owner = detail.get("assignee_id") if kind == "created" else detail.get("after")
        if isinstance(owner, int):
            found.add(owner)
    for decided, approved in session.execute(select(ComplaintDecision.decided_by_id, ComplaintDecision.approved_by_id)
                                             .where(ComplaintDecision.ticket_id == ticket.id)):
        found |= {a for a in (decided, approved) if a is not None}
    if ticket.assignee_id is not None:
        found.add(ticket.assignee_id)
    return found


def _check_reviewer(session: Session, ticket: Ticket, reviewer_id: int) -> StaffAccount:
    account = session.get(StaffAccount, reviewer_id)
    if account is None or not account.active or not principal_of(account).can(Permission.COMPLAINT_REVIEW):
        raise Invalid("not a staff member who may review complaints", field="reviewer_id")
    if reviewer_id in handlers(session, ticket):
        raise Invalid("the reviewer must not have handled this complaint", field="reviewer_id")
    if routing.is_recused(session, ticket.id, account):
        raise Invalid("the complaint names this staff member or their unit (回避)", field="reviewer_id")
    return account


def open_review(session: Session, ticket_id: int) -> ComplaintReview | None:
    return session.execute(select(ComplaintReview).where(
        ComplaintReview.ticket_id == ticket_id, ComplaintReview.status == ReviewStatus.OPEN)).scalar_one_or_none()


def request_review(session: Session, *, actor: Principal, ticket: Ticket, reason: str,
                   reviewer_id: int | None = None) -> ComplaintReview:
    """Record the complainant's request for review of the decision sent to them. Whoever takes the
    request down (a follow-up call, say) only relays it: recusal (回避) applies to the reviewer."""
    if ticket.kind != TicketKind.COMPLAINT:
        raise Invalid("only complaints are reviewed", field="ticket_id")
    if ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED) or ticket.decision_id is None:
        raise Conflict("only a decided complaint can be reviewed", field="ticket_id")
    if open_review(session, ticket.id) is not None:
        raise Conflict("a review of this complaint is already open", field="ticket_id")
    reason = clean_prose(reason, "reason", MAX_REASON)
    if reviewer_id is not None:
        _check_reviewer(session, ticket, reviewer_id)
    now = clock.now()
    review = ComplaintReview(ticket_id=ticket.id, decision_id=ticket.decision_id, reason=reason, requested_at=now,
                             requested_by_id=actor.account_id, reviewer_id=reviewer_id,
                             due_at=now + timedelta(days=REVIEW_DAYS), status=ReviewStatus.OPEN)
    session.add(review)
    session.flush()
    add_event(session, ticket, "review_requested", actor, at=now, review_id=review.id, reviewer_id=reviewer_id,
              due_at=review.due_at.isoformat())
    audit_trail.record(session, actor=actor, action="complaint.review_requested", subject=ticket,
                       after={"review_id": review.id, "reviewer_id": reviewer_id}, reason=reason)
    return review


def _review(session: Session, review_id: int) -> tuple[ComplaintReview, Ticket]:
    review = session.get(ComplaintReview, review_id, with_for_update=True)
    ticket = session.get(Ticket, review.ticket_id, with_for_update=True) if review else None
    if review is None or ticket is None:
        raise NotFound("no such review", field="review_id")
    if review.status != ReviewStatus.OPEN:
        raise Conflict("this review is already concluded", field="review_id")
    return review, ticket


def assign_reviewer(session: Session, *, actor: Principal, review_id: int, reviewer_id: int) -> ComplaintReview:
    """Give the review to a qualified colleague who did not handle the complaint."""
    if not actor.can(Permission.COMPLAINT_REVIEW):
        raise Forbidden("your role may not assign reviews", field="review_id")
    review, ticket = _review(session, review_id)
    routing.refuse_if_recused(session, ticket, actor, field="review_id")  # nor choose who reviews it
    _check_reviewer(session, ticket, reviewer_id)
    before, review.reviewer_id = review.reviewer_id, reviewer_id
    add_event(session, ticket, "reviewer_assigned", actor, review_id=review.id, before=before, after=reviewer_id)
    audit_trail.record(session, actor=actor, action="complaint.reviewer_assigned", subject=ticket,
                       before={"reviewer_id": before}, after={"reviewer_id": reviewer_id})
    return review


def conclude_review(session: Session, *, actor: Principal, review_id: int, outcome: str,
                    finding: str) -> ComplaintReview:
    """The reviewer confirms the decision or overturns it (the complaint reopens for a new decision).

    An unassigned review is taken by the actor if they may review it.
    """
    chosen = one_of(ReviewStatus, outcome, "outcome")
    if chosen == ReviewStatus.OPEN:
        raise Invalid("confirmed or overturned", field="outcome")
    review, ticket = _review(session, review_id)
    if actor.account_id is None:
        raise Forbidden("a review is concluded by a person", field="review_id")
    if review.reviewer_id is None:
        _check_reviewer(session, ticket, actor.account_id)
        review.reviewer_id = actor.account_id
    elif review.reviewer_id != actor.account_id:
        raise Forbidden("only the assigned reviewer concludes this review", field="review_id")
    finding = clean_prose(finding, "finding", MAX_REASON)
    now = clock.now()
    review.status, review.finding, review.decided_at = chosen, finding, now
    add_event(session, ticket, "review_concluded", actor, at=now, review_id=review.id, outcome=chosen,
              late=now > review.due_at)
    audit_trail.record(session, actor=actor, action="complaint.review_concluded", subject=ticket,
                       before={"status": ReviewStatus.OPEN}, after={"status": chosen}, reason=finding)
    if chosen == ReviewStatus.OVERTURNED:
        transition(session, actor=actor, ticket=ticket, to=TicketStatus.REOPENED, reason=f"review: {finding}")
    return review


def reviews_due(session: Session, *, limit: int = 100) -> list[tuple[ComplaintReview, Ticket]]:
    """Open reviews, earliest deadline first (the supervisor board)."""
    rows = session.execute(select(ComplaintReview, Ticket).join(Ticket, Ticket.id == ComplaintReview.ticket_id)
                           .where(ComplaintReview.status == ReviewStatus.OPEN)
                           .order_by(ComplaintReview.due_at).limit(limit)).all()
    return [(r, t) for r, t in rows]


def reviews_of(session: Session, ticket_id: int) -> list[ComplaintReview]:
    return list(session.execute(select(ComplaintReview).where(ComplaintReview.ticket_id == ticket_id)
                                .order_by(ComplaintReview.id)).scalars())
