"""Routing: the qualified, on-duty staff member with the fewest open tickets — never one a complaint
names (回避).

Queues are by kind (complaints only to complaint specialists) and product skill. Routing only
fills an empty owner: whoever owns a ticket keeps it until an explicit hand-over (首问负责制).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fincare.platform.accounts.models import AccountRole, Department, StaffAccount
from fincare.platform.errors import Invalid
from fincare.platform.permissions import SYSTEM, Principal, Role
from fincare.servicedesk.models import ACTIVE_STATUSES, Ticket, TicketKind, TicketRecusal
from fincare.servicedesk.service.rules import record_assignment
from fincare.workforce import service as workforce
from fincare.workforce.models import Skill

# Who works each kind's queue. Supervisors are not routed work: they oversee it.
QUEUE_ROLES: dict[TicketKind, Role] = {
    TicketKind.COMPLAINT: Role.COMPLAINT_SPECIALIST,
    TicketKind.CONSULTATION: Role.AGENT,
    TicketKind.FEEDBACK: Role.AGENT,
}
MAX_NAMED = 20
ROUTE_BATCH = 200


@dataclass(frozen=True)
class Named:
    """Who a complaint is about: staff members and units that must not handle it."""

    staff_ids: frozenset[int] = frozenset()
    department_ids: frozenset[int] = frozenset()

    def excludes(self, account_id: int, department_id: int | None) -> bool:
        return account_id in self.staff_ids or (department_id is not None and department_id in self.department_ids)


def parse_named(session: Session, staff_ids: object, department_ids: object) -> Named:
    """Validate the staff members and units a complaint names; Invalid names the field at fault."""
    staff = _ids(staff_ids, "named_staff_ids")
    departments = _ids(department_ids, "named_department_ids")
    if staff and len(set(session.execute(select(StaffAccount.id).where(StaffAccount.id.in_(staff))).scalars())) \
            != len(staff):
        raise Invalid("no such staff member", field="named_staff_ids")
    if departments and len(set(session.execute(select(Department.id).where(Department.id.in_(departments)))
                               .scalars())) != len(departments):
        raise Invalid("no such department", field="named_department_ids")
    return Named(staff, departments)


def _ids(value: object, field: str) -> frozenset[int]:
    if value is None:
        return frozenset()
    if not isinstance(value, list | tuple) or len(value) > MAX_NAMED or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise Invalid(f"a list of at most {MAX_NAMED} ids", field=field)
    return frozenset(value)


def record_named(session: Session, ticket: Ticket, named: Named) -> None:
    """Store who the complaint names (in the caller's transaction)."""
    session.add_all([TicketRecusal(ticket_id=ticket.id, account_id=a) for a in sorted(named.staff_ids)]
                    + [TicketRecusal(ticket_id=ticket.id, department_id=d) for d in sorted(named.department_ids)])


def named_in(session: Session, ticket_id: int) -> Named:
    rows = session.execute(select(TicketRecusal.account_id, TicketRecusal.department_id)
                           .where(TicketRecusal.ticket_id == ticket_id)).all()
    return Named(frozenset(a for a, _ in rows if a is not None), frozenset(d for _, d in rows if d is not None))


def is_recused(session: Session, ticket_id: int, account: StaffAccount) -> bool:
    """Whether the complaint names `account` or its unit."""
    return named_in(session, ticket_id).excludes(account.id, account.department_id)


def qualified(session: Session, *, kind: TicketKind, product: Skill | None, named: Named) -> list[int]:
    """Active members of the kind's queue with the product skill, minus those the complaint names."""
    rows = session.execute(
        select(StaffAccount.id, StaffAccount.department_id).join(AccountRole, AccountRole.account_id == StaffAccount.id)
        .where(StaffAccount.active.is_(True), AccountRole.role == QUEUE_ROLES[kind])).all()
    ids = [a for a, department in rows if not named.excludes(a, department)]
    if product is not None:
        holders = workforce.skilled(session, ids, product)
        ids = [a for a in ids if a in holders]
    return ids


def open_loads(session: Session, account_ids: Collection[int]) -> dict[int, int]:
    """Active tickets owned by each of `account_ids` (absent: none)."""
    if not account_ids:
        return {}
    rows = session.execute(select(Ticket.assignee_id, func.count()).where(
        Ticket.assignee_id.in_(account_ids), Ticket.status.in_(ACTIVE_STATUSES)).group_by(Ticket.assignee_id)).all()
    return {a: n for a, n in rows if a is not None}


def choose(session: Session, *, kind: TicketKind, product: Skill | None, named: Named) -> int | None:
    """The qualified, on-duty staff member with the fewest open tickets (ties: the lower id), or None."""
    on_duty = workforce.on_duty(session, qualified(session, kind=kind, product=product, named=named))
    if not on_duty:
        return None
    return workforce.least_loaded(on_duty, open_loads(session, on_duty))


def route(session: Session, ticket: Ticket, *, actor: Principal = SYSTEM, reason: str = "routed") -> int | None:
    """Give an unowned active ticket to whoever `choose` picks; audited like any assignment."""
    if ticket.assignee_id is not None or ticket.status not in ACTIVE_STATUSES:
        return ticket.assignee_id
    chosen = choose(session, kind=TicketKind(ticket.kind), product=Skill(ticket.product) if ticket.product else None,
                    named=named_in(session, ticket.id))
    if chosen is None:
        return None
    record_assignment(session, ticket, actor, chosen, reason)
    return chosen


def route_waiting(session: Session, *, limit: int = ROUTE_BATCH) -> Sequence[int]:
    """Route unowned active tickets, most urgent first; returns the ids routed.

    Rows another worker holds are skipped (PostgreSQL), so two workers never route one ticket twice.
    """
    waiting = session.execute(
        select(Ticket).where(Ticket.assignee_id.is_(None), Ticket.status.in_(ACTIVE_STATUSES))
        .order_by(Ticket.next_due_at.is_(None), Ticket.next_due_at, Ticket.id).limit(limit)
        .with_for_update(skip_locked=True)).scalars().all()
    return [t.id for t in waiting if route(session, t) is not None]
