"""Routing: the qualified, on-duty staff member with the fewest open tickets — never one a complaint
names (回避).

Queues are by kind (complaints only to complaint specialists) and product skill. Routing only
fills an empty owner: whoever owns a ticket keeps it until an explicit hand-over (首问负责制).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fincare.platform.accounts.models import AccountRole, Department, StaffAccount
from fincare.platform.errors import Forbidden, Invalid, Message
from fincare.platform.permissions import SYSTEM, Principal, Role
from fincare.platform.schemas import MAX_ID
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
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_ID for v in value):
        raise Invalid(Message("a list of at most {limit} ids", limit=MAX_NAMED), field=field)
    return frozenset(value)


def record_named(session: Session, ticket: Ticket, named: Named) -> None:
    """Store who the complaint names (in the caller's transaction)."""
    session.add_all([TicketRecusal(ticket_id=ticket.id, account_id=a) for a in sorted(named.staff_ids)]
                    + [TicketRecusal(ticket_id=ticket.id, department_id=d) for d in sorted(named.department_ids)])


def named_in(session: Session, ticket_id: int) -> Named:
    return named_of(session, [ticket_id]).get(ticket_id, Named())


def named_of(session: Session, ticket_ids: Collection[int]) -> dict[int, Named]:
    """Who each of these complaints names (absent: nobody), in one query for a batch or a page."""
    if not ticket_ids:
        return {}
    staff: dict[int, set[int]] = {}
    units: dict[int, set[int]] = {}
    for ticket_id, account_id, department_id in session.execute(
            select(TicketRecusal.ticket_id, TicketRecusal.account_id, TicketRecusal.department_id)
            .where(TicketRecusal.ticket_id.in_(ticket_ids))):
        if account_id is not None:
            staff.setdefault(ticket_id, set()).add(account_id)
        if department_id is not None:
            units.setdefault(ticket_id, set()).add(department_id)
    return {t: Named(frozenset(staff.get(t, ())), frozenset(units.get(t, ()))) for t in staff.keys() | units.keys()}


def is_recused(session: Session, ticket_id: int, account: StaffAccount) -> bool:
    """Whether the complaint names `account` or its unit."""
    return named_in(session, ticket_id).excludes(account.id, account.department_id)


def recused(session: Session, ticket: Ticket, actor: Principal) -> bool:
    """Whether `ticket` is a complaint that names the actor or their unit: they may read it, never
    handle it — reply, decide, approve, extend, code or reassign (回避)."""
    return ticket.id in recused_from(session, [ticket], actor)


def recused_from(session: Session, tickets: Iterable[Ticket], actor: Principal) -> set[int]:
    """The ids of those `tickets` that `recused` holds for the actor, in one query for a page."""
    if actor.account_id is None:
        return set()
    named = named_of(session, [t.id for t in tickets if t.kind == TicketKind.COMPLAINT])
    return {ticket_id for ticket_id, who in named.items() if who.excludes(actor.account_id, actor.department_id)}


def refuse_if_recused(session: Session, ticket: Ticket, actor: Principal, *, field: str) -> None:
    if recused(session, ticket, actor):
        raise Forbidden("the complaint names you or your unit: a colleague handles it (回避)", field=field,
                        code="recused")


@dataclass
class Queues:
    """Who may be given tickets of some kinds: each queue's members (with their unit), their product
    skills, who is on duty and their open loads. Read once for a batch of routing or a page of the
    board, instead of once per ticket; each pick counts against the one picked."""

    members: dict[TicketKind, list[tuple[int, int | None]]]
    skills: dict[int, set[str]]
    on_duty: set[int]
    loads: dict[int, int]

    def qualified(self, kind: TicketKind, product: Skill | None, named: Named) -> list[int]:
        """Active members of the kind's queue with the product skill, minus those the complaint names."""
        return [a for a, department in self.members.get(kind, []) if not named.excludes(a, department)
                and (product is None or product in self.skills.get(a, ()))]

    def choose(self, kind: TicketKind, product: Skill | None, named: Named) -> int | None:
        """The qualified, on-duty member with the fewest open tickets (ties: the lower id), or None."""
        on_duty = [a for a in self.qualified(kind, product, named) if a in self.on_duty]
        if not on_duty:
            return None
        chosen = workforce.least_loaded(on_duty, self.loads)
        self.loads[chosen] = self.loads.get(chosen, 0) + 1
        return chosen


def queues(session: Session, kinds: Collection[TicketKind]) -> Queues:
    """The `Queues` of these ticket kinds, as they stand now."""
    roles = {QUEUE_ROLES[k] for k in kinds}
    rows = session.execute(
        select(StaffAccount.id, StaffAccount.department_id, AccountRole.role)
        .join(AccountRole, AccountRole.account_id == StaffAccount.id)
        .where(StaffAccount.active.is_(True), AccountRole.role.in_(roles)).order_by(StaffAccount.id)).all()
    members = {k: [(a, department) for a, department, role in rows if role == QUEUE_ROLES[k]] for k in kinds}
    ids = {a for a, _, _ in rows}
    return Queues(members, workforce.skills_of(session, ids), workforce.on_duty(session, ids),
                  open_loads(session, ids))


def open_loads(session: Session, account_ids: Collection[int]) -> dict[int, int]:
    """Active tickets owned by each of `account_ids` (absent: none)."""
    if not account_ids:
        return {}
    rows = session.execute(select(Ticket.assignee_id, func.count()).where(
        Ticket.assignee_id.in_(account_ids), Ticket.status.in_(ACTIVE_STATUSES)).group_by(Ticket.assignee_id)).all()
    return {a: n for a, n in rows if a is not None}


def route(session: Session, ticket: Ticket, *, actor: Principal = SYSTEM, reason: str = "routed",
          within: Queues | None = None, named: Named | None = None) -> int | None:
    """Give an unowned active ticket to whoever `Queues.choose` picks; audited like any assignment.

    `within` and `named` are given by a batch that read them for all its tickets at once.
    """
    if ticket.assignee_id is not None or ticket.status not in ACTIVE_STATUSES:
        return ticket.assignee_id
    kind = TicketKind(ticket.kind)
    within = within or queues(session, [kind])
    chosen = within.choose(kind, Skill(ticket.product) if ticket.product else None,
                           named if named is not None else named_in(session, ticket.id))
    if chosen is None:
        return None
    record_assignment(session, ticket, actor, chosen, reason)
    return chosen


def route_waiting(session: Session, *, limit: int = ROUTE_BATCH) -> Sequence[int]:
    """Route unowned active tickets, most urgent first; returns the ids routed.

    The active tickets of staff whose account was deactivated (who left, or were suspended) are
    first handed back to the queue: only their owner or a supervisor may answer for them
    (`rules.may_answer`), and the owner no longer can. Rows another worker holds are skipped
    (PostgreSQL), so two workers never route one ticket twice.
    """
    orphaned = session.execute(
        select(Ticket).where(Ticket.assignee_id.in_(select(StaffAccount.id).where(StaffAccount.active.is_(False))),
                             Ticket.status.in_(ACTIVE_STATUSES))
        .limit(limit).with_for_update(skip_locked=True)).scalars().all()
    for ticket in orphaned:
        record_assignment(session, ticket, SYSTEM, None, "the owner's account is deactivated")
    waiting = session.execute(
        select(Ticket).where(Ticket.assignee_id.is_(None), Ticket.status.in_(ACTIVE_STATUSES))
        .order_by(Ticket.next_due_at.is_(None), Ticket.next_due_at, Ticket.id).limit(limit)
        .with_for_update(skip_locked=True)).scalars().all()
    if not waiting:
        return []
    within = queues(session, {TicketKind(t.kind) for t in waiting})
    named = named_of(session, [t.id for t in waiting])
    return [t.id for t in waiting if route(session, t, within=within, named=named.get(t.id, Named())) is not None]
