"""The supervisor board: what needs a supervisor now — breaches and tickets about to breach, the
load of each agent, and the approvals, regulator reports and reviews waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from fincare.platform import clock
from fincare.platform.accounts.models import AccountRole, StaffAccount
from fincare.servicedesk.models import (
    ACTIVE_STATUSES,
    ComplaintDecision,
    ComplaintReview,
    ExtensionRequest,
    Ticket,
)
from fincare.servicedesk.service import deadline, regulator, resolution, review
from fincare.servicedesk.service.routing import QUEUE_ROLES
from fincare.workforce import service as workforce

AT_RISK_WITHIN = timedelta(hours=4)
ROWS = 50


@dataclass(frozen=True)
class AgentLoad:
    account_id: int
    display_name: str
    open: int
    breached: int
    on_duty: bool


@dataclass(frozen=True)
class Board:
    breached: list[Ticket]
    at_risk: list[Ticket]
    loads: list[AgentLoad]
    extensions: list[tuple[ExtensionRequest, Ticket]]
    approvals: list[tuple[ComplaintDecision, Ticket]]
    reports_due: list[regulator.ReportRow]
    reviews_due: list[tuple[ComplaintReview, Ticket]]
    now: datetime


def agent_loads(session: Session) -> list[AgentLoad]:
    """Every active member of a routed queue with their open and breached tickets, busiest first."""
    members = session.execute(
        select(StaffAccount.id, StaffAccount.display_name).join(AccountRole, AccountRole.account_id == StaffAccount.id)
        .where(StaffAccount.active.is_(True), AccountRole.role.in_(set(QUEUE_ROLES.values())))
        .distinct()).all()
    ids = [a for a, _ in members]
    counts = {a: (n, b) for a, n, b in session.execute(
        select(Ticket.assignee_id, func.count(), func.sum(case((Ticket.breached.is_(True), 1), else_=0)))
        .where(Ticket.assignee_id.in_(ids), Ticket.status.in_(ACTIVE_STATUSES)).group_by(Ticket.assignee_id))}
    on_duty = workforce.on_duty(session, ids)
    loads = [AgentLoad(a, name, counts.get(a, (0, 0))[0], int(counts.get(a, (0, 0))[1] or 0), a in on_duty)
             for a, name in members]
    return sorted(loads, key=lambda load: (-load.open, load.display_name))


def board(session: Session, *, rows: int = ROWS) -> Board:
    """Everything on the supervisor board, each list most urgent first."""
    now = clock.now()
    active = Ticket.status.in_(ACTIVE_STATUSES)
    breached = session.execute(select(Ticket).where(active, Ticket.breached.is_(True))
                               .order_by(Ticket.next_due_at.asc().nulls_last(), Ticket.id).limit(rows)).scalars()
    at_risk = session.execute(select(Ticket).where(active, Ticket.breached.is_(False),
                                                   Ticket.next_due_at <= now + AT_RISK_WITHIN)
                              .order_by(Ticket.next_due_at, Ticket.id).limit(rows)).scalars()
    return Board(breached=list(breached), at_risk=list(at_risk), loads=agent_loads(session),
                 extensions=deadline.pending_extensions(session, limit=rows),
                 approvals=resolution.pending_approvals(session, limit=rows),
                 reports_due=regulator.list_reports(session, status="due", limit=rows),
                 reviews_due=review.reviews_due(session, limit=rows), now=now)
