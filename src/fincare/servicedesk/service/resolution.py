"""Decision and reply: the outcome of a complaint, the remedy offered, and a reply that tells the
complainant how to go further — review (核查), mediation, arbitration, litigation.

A complaint is resolved only by sending its decision. With `FINCARE_HIGH_RISK_DECISION_APPROVAL`
(default on) a high-risk complaint's reply waits for a second person's approval before it goes out.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.platform import audit_trail, clock, notify
from fincare.platform.config import get_settings
from fincare.platform.errors import Conflict, Forbidden, Invalid, Label, Message, NotFound, one_of
from fincare.platform.permissions import Permission, Principal
from fincare.servicedesk.models import (
    ACTIVE_STATUSES,
    ComplaintDecision,
    DecisionStatus,
    Outcome,
    RiskGrade,
    Ticket,
    TicketKind,
    TicketStatus,
    Visibility,
)
from fincare.servicedesk.service import routing
from fincare.servicedesk.service.rules import MAX_BODY, MAX_REASON, add_event, clean_prose, refuse_unless_answering
from fincare.servicedesk.service.work import add_message, take_if_unowned, transition


class Language(StrEnum):
    """The languages a reply is written in: those of the console (`i18n.LANGUAGES`; a test keeps them equal)."""

    ZH = "zh-CN"
    EN = "en"



# Words a reply must contain, per language: each route once at least (any of its spellings).
ROUTES: dict[str, dict[str, tuple[str, ...]]] = {
    Language.ZH: {"review": ("核查", "复核"), "mediation": ("调解",), "arbitration": ("仲裁",),
                  "litigation": ("诉讼", "起诉")},
    Language.EN: {"review": ("review",), "mediation": ("mediation", "mediate"), "arbitration": ("arbitration",),
                  "litigation": ("litigation", "lawsuit", "court")},
}

OUTCOME_WORDS = {
    Language.ZH: {Outcome.UPHELD: "投诉成立", Outcome.PARTLY_UPHELD: "投诉部分成立", Outcome.NOT_UPHELD: "投诉不成立"},
    Language.EN: {Outcome.UPHELD: "upheld", Outcome.PARTLY_UPHELD: "partly upheld", Outcome.NOT_UPHELD: "not upheld"},
}

TEMPLATES = {
    Language.ZH: (
        "尊敬的客户：\n您的投诉（编号 {reference}）我行已调查处理完毕，处理结果为：{outcome}。{remedy}\n"
        "如您对本处理决定有异议，可自收到本决定之日起30日内向我行上级机构申请核查；"
        "也可向金融消费纠纷调解组织申请调解，或依法申请仲裁、向人民法院提起诉讼。"
    ),
    Language.EN: (
        "Dear customer,\nWe have investigated your complaint {reference}. Our decision: your complaint is "
        "{outcome}.{remedy}\nIf you disagree with this decision you may, within 30 days of receiving it, ask our "
        "superior office to review it; you may also apply to a financial dispute mediation body for mediation, "
        "or pursue arbitration or litigation in court."
    ),
}


def missing_routes(reply: str, language: str) -> list[str]:
    """The routes the reply fails to mention (empty when it mentions all four)."""
    text = reply.casefold()
    return [route for route, words in ROUTES[Language(language)].items()
            if not any(w.casefold() in text for w in words)]


def reply_template(ticket: Ticket, *, outcome: str, remedy: str | None, language: str) -> str:
    """A complete reply in `language`, routes included, for the handler to edit."""
    chosen = one_of(Outcome, outcome, "outcome")
    written = one_of(Language, language, "language")
    remedy_text = ""
    if remedy and remedy.strip():
        remedy_text = f"我行将为您：{remedy.strip()}。" if written == Language.ZH else f" We will: {remedy.strip()}."
    return TEMPLATES[written].format(reference=ticket.reference, outcome=OUTCOME_WORDS[written][chosen],
                                     remedy=remedy_text)


def needs_approval(ticket: Ticket) -> bool:
    return ticket.risk_grade == RiskGrade.HIGH and get_settings().high_risk_decision_approval


def pending_decision(session: Session, ticket_id: int) -> ComplaintDecision | None:
    return session.execute(select(ComplaintDecision).where(
        ComplaintDecision.ticket_id == ticket_id, ComplaintDecision.status == DecisionStatus.PENDING_APPROVAL)
    ).scalar_one_or_none()


def decide(session: Session, *, actor: Principal, ticket: Ticket, outcome: str, reply: str,
           remedy: str | None = None, language: str | None = None) -> ComplaintDecision:
    """Record the decision and its reply; send it (resolving the complaint) unless it needs approval first.

    The reply must name the review, mediation, arbitration and litigation routes: Invalid names
    `reply` and the routes missing.
    """
    if ticket.kind != TicketKind.COMPLAINT:
        raise Invalid("only complaints receive a decision", field="ticket_id")
    refuse_unless_answering(actor, ticket, field="ticket_id")
    if ticket.status not in ACTIVE_STATUSES:
        raise Conflict("the complaint is already resolved; reopen it first", field="ticket_id")
    if pending_decision(session, ticket.id) is not None:
        raise Conflict("a decision on this complaint is waiting for approval", field="ticket_id")
    chosen = one_of(Outcome, outcome, "outcome")
    language = one_of(Language, language or actor.language, "language")
    reply = clean_prose(reply, "reply", MAX_BODY)
    missing = missing_routes(reply, language)
    if missing:
        raise Invalid(Message("the reply must tell the complainant of these routes: {routes}",
                              routes=Label("appeal_route", *missing)), field="reply")
    remedy = clean_prose(remedy, "remedy", MAX_REASON, required=False) or None
    now = clock.now()
    waits = needs_approval(ticket)
    decision = ComplaintDecision(ticket_id=ticket.id, outcome=chosen, remedy=remedy, reply=reply, language=language,
                                 status=DecisionStatus.PENDING_APPROVAL if waits else DecisionStatus.SENT,
                                 decided_by_id=actor.account_id, decided_at=now)
    session.add(decision)
    session.flush()
    add_event(session, ticket, "decision_recorded", actor, at=now, decision_id=decision.id, outcome=chosen,
              awaiting_approval=waits)
    audit_trail.record(session, actor=actor, action="complaint.decided", subject=ticket,
                       after={"decision_id": decision.id, "outcome": chosen, "awaiting_approval": waits})
    if waits:
        approvers = [a for a in notify.staff_with_permission(session, Permission.DECISION_APPROVE)
                     if a != actor.account_id]
        notify.notify_staff(session, recipients=approvers, kind="decision_awaiting_approval",
                            params={"reference": ticket.reference}, dedupe_key=f"decision-approval-{decision.id}",
                            link=f"/tickets/{ticket.id}")
    else:
        _send(session, actor=actor, ticket=ticket, decision=decision)
    take_if_unowned(session, actor, ticket)  # awaiting approval, it stays with its author (sent, it is resolved)
    return decision


def _send(session: Session, *, actor: Principal, ticket: Ticket, decision: ComplaintDecision) -> None:
    message = add_message(session, actor=actor, ticket=ticket, body=decision.reply, visibility=Visibility.PUBLIC)
    decision.status, decision.sent_at, decision.message_id = DecisionStatus.SENT, clock.now(), message.id
    ticket.decision_id = decision.id
    add_event(session, ticket, "decision_sent", actor, decision_id=decision.id, outcome=decision.outcome)
    transition(session, actor=actor, ticket=ticket, to=TicketStatus.RESOLVED)


def may_approve(actor: Principal, decision: ComplaintDecision) -> bool:
    """A waiting decision is released or sent back by an approver who did not write it."""
    return (actor.can(Permission.DECISION_APPROVE) and decision.status == DecisionStatus.PENDING_APPROVAL
            and decision.decided_by_id != actor.account_id)


def approve_decision(session: Session, *, actor: Principal, decision_id: int, approve: bool,
                     note: str | None = None) -> ComplaintDecision:
    """Release a waiting reply (it is sent and the complaint resolved) or send it back with a note.

    The approver is never the one who decided.
    """
    if not actor.can(Permission.DECISION_APPROVE):
        raise Forbidden("your role may not approve decisions", field="decision_id")
    decision = session.get(ComplaintDecision, decision_id, with_for_update=True)
    if decision is None:
        raise NotFound("no such decision", field="decision_id")
    if decision.status != DecisionStatus.PENDING_APPROVAL:
        raise Conflict("this decision is not waiting for approval", field="decision_id")
    if decision.decided_by_id == actor.account_id:
        raise Forbidden("a decision is approved by someone other than its author", field="decision_id")
    note = clean_prose(note, "note", MAX_REASON, required=not approve) or None
    ticket = session.get(Ticket, decision.ticket_id, with_for_update=True)
    if ticket is None:
        raise NotFound("no such ticket", field="decision_id")
    routing.refuse_if_recused(session, ticket, actor, field="decision_id")
    now = clock.now()
    decision.approved_by_id, decision.approved_at, decision.approval_note = actor.account_id, now, note
    add_event(session, ticket, "decision_approved" if approve else "decision_rejected", actor, at=now,
              decision_id=decision.id, note=note)
    audit_trail.record(session, actor=actor, action="complaint.decision_approved" if approve
                       else "complaint.decision_rejected", subject=ticket,
                       before={"status": DecisionStatus.PENDING_APPROVAL}, after={"decision_id": decision.id},
                       reason=note)
    if approve:
        _send(session, actor=actor, ticket=ticket, decision=decision)
    else:
        decision.status = DecisionStatus.REJECTED
    return decision


def decisions_of(session: Session, ticket_id: int) -> list[ComplaintDecision]:
    """Every decision recorded on a complaint, oldest first."""
    return list(session.execute(select(ComplaintDecision).where(ComplaintDecision.ticket_id == ticket_id)
                                .order_by(ComplaintDecision.id)).scalars())


def pending_approvals(session: Session, *, limit: int = 100) -> list[tuple[ComplaintDecision, Ticket]]:
    """Replies waiting for approval, oldest first (the supervisor board)."""
    rows = session.execute(select(ComplaintDecision, Ticket).join(Ticket, Ticket.id == ComplaintDecision.ticket_id)
                           .where(ComplaintDecision.status == DecisionStatus.PENDING_APPROVAL)
                           .order_by(ComplaintDecision.decided_at).limit(limit)).all()
    return [(d, t) for d, t in rows]
