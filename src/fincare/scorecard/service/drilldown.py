"""The records behind a KPI for a period, as the dashboard's drill-down lists them: the tickets whose
clocks make a response-time percentile or the statutory-deadline rate, the survey answers behind
satisfaction, the follow-up calls behind follow-up satisfaction, the customers who left.

Page by page (at most `LIMIT` rows), the records that hurt the figure first. Customers appear by their
stored mask only — nothing is decrypted here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from fincare.customers.models import Customer
from fincare.followups.models import FollowUp, FollowUpStatus, Result, SurveyInvitation, SurveyResponse
from fincare.platform.accounts.models import StaffAccount
from fincare.platform.errors import Invalid, Message, NotFound
from fincare.platform.permissions import Permission, Principal
from fincare.scorecard.periods import Period
from fincare.scorecard.service.catalogue import BY_KEY, Kpi
from fincare.scorecard.service.measures import DURATIONS, MEASURES, ON_TIME, late, on_time, seconds_between, started_in
from fincare.servicedesk.models import Ticket, TicketKind
from fincare.sla.models import Clock, ClockState, Target

Query = Select[*tuple[Any, ...]]
LIMIT = 100
MAX_OFFSET = 1_000_000

# The duration KPIs of `measures`: which tickets, which clock, and the unit (seconds per unit).
@dataclass(frozen=True)
class Row:
    """One record behind a KPI; which fields are set depends on the drill-down's `kind`."""

    ticket_id: int | None = None
    reference: str | None = None
    ticket_kind: str | None = None
    channel: str | None = None
    at: datetime | None = None  # received (tickets), answered (surveys), closed (follow-ups)
    customer: str | None = None  # the stored mask
    assignee: str | None = None  # username
    value: float | None = None  # the measured duration in the KPI's unit
    on_time: bool | None = None  # within the target (durations) or the statutory deadline
    status: str | None = None  # on_time | late | pending | timely | untimely (statutory); outcome (follow-ups)
    csat: int | None = None
    nps: int | None = None
    segment: str | None = None
    day: date | None = None  # the relationship ended (customers)


@dataclass(frozen=True)
class Drilldown:
    kpi: Kpi
    kind: str  # durations | statutory | surveys | followups | customers | none
    rows: list[Row]
    total: int
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.rows) < self.total


def get_kpi(key: str) -> Kpi:
    kpi = BY_KEY.get(key)
    if kpi is None:
        raise NotFound("no such KPI", field="key")
    return kpi


def records(session: Session, *, key: str, period: Period, actor: Principal, offset: int = 0,
            limit: int = LIMIT) -> Drilldown:
    """The records behind KPI `key` in `period`, `limit` (≤ 100) from `offset`; none for a KPI that
    FinCare cannot compute yet (its tile names the reason). Who the customer was (their masked name)
    only for an actor who may read customers: a KPI reader (marketing, HR, an executive) sees the
    records without it."""
    kpi = get_kpi(key)
    if not 0 <= offset <= MAX_OFFSET:
        raise Invalid(Message("from 0 to {limit}", limit=MAX_OFFSET), field="offset")
    limit = min(max(limit, 1), LIMIT)
    if key in DURATIONS:
        kind, query, count = "durations", *_durations(session, key, period)
    elif key == "complaint_statutory_deadline_met_rate":
        kind, query, count = "statutory", *_statutory(period)
    elif key == "customer_satisfaction_rate":
        kind, query, count = "surveys", *_surveys(period)
    elif key == "followup_satisfaction_rate":
        kind, query, count = "followups", *_followups(period)
    elif key == "customer_churn_rate":
        kind, query, count = "customers", *_customers(period)
    else:
        if key in MEASURES:  # a measure added without its drill-down: say so rather than list nothing silently
            raise NotFound("this KPI has no drill-down yet", field="key")
        return Drilldown(kpi, "none", [], 0, offset, limit)
    total = session.execute(count).scalar_one()
    rows = [_row(kind, r._mapping, kpi) for r in session.execute(query.offset(offset).limit(limit))]
    if not actor.can(Permission.CUSTOMER_READ):
        rows = [replace(row, customer=None) for row in rows]
    return Drilldown(kpi, kind, rows, int(total), offset, limit)


def _row(kind: str, r: Any, kpi: Kpi) -> Row:
    if kind == "durations":
        seconds = max(float(r["seconds"]), 0.0)
        return Row(r["id"], r["reference"], r["kind"], r["channel"], r["received_at"], r["customer"], r["assignee"],
                   value=seconds / DURATIONS[kpi.key].per, on_time=bool(r["on_time"]))
    if kind == "statutory":
        status = _statutory_status(r)
        return Row(r["id"], r["reference"], r["kind"], r["channel"], r["received_at"], r["customer"], r["assignee"],
                   status=status, on_time=status in ("on_time", "timely") if status != "pending" else None)
    if kind == "surveys":
        return Row(r["ticket_id"], r["reference"], r["kind"], r["channel"], r["submitted_at"], assignee=r["assignee"],
                   csat=r["csat"], nps=r["nps"], on_time=None, status="satisfied" if r["csat"] >= 4 else "dissatisfied")
    if kind == "followups":
        return Row(r["ticket_id"], r["reference"], r["kind"], r["channel"], r["closed_at"], r["customer"],
                   r["assignee"], status=r["outcome"])
    return Row(day=r["ended_on"], customer=r["customer"], segment=r["segment"], status=r["kind"])


def _statutory_status(r: Any) -> str:
    if r["clock_id"] is None:
        return "timely" if r["timely"] else "untimely"
    if r["late"]:
        return "late"
    return "on_time" if r["on_time"] else "pending"


def _ticket_columns() -> tuple[Any, ...]:
    return (Ticket.id, Ticket.reference, Ticket.kind, Ticket.channel, Ticket.received_at,
            Customer.name_mask.label("customer"), StaffAccount.username.label("assignee"))


def _with_people(query: Query) -> Query:
    return (query.join(Customer, Customer.id == Ticket.customer_id)
            .outerjoin(StaffAccount, StaffAccount.id == Ticket.assignee_id))


def _durations(session: Session, key: str, period: Period) -> tuple[Query, Query]:
    """The tickets whose clock met the target, slowest first (what drives the p90)."""
    kind, target = DURATIONS[key].kind, DURATIONS[key].target
    elapsed = seconds_between(session, Clock.started_at, Clock.met_at) - Clock.paused_seconds
    joined = and_(Clock.subject_type == "ticket", Clock.subject_id == Ticket.id, Clock.target == target)
    where = (*started_in(period), Ticket.kind == kind, Clock.met_at.is_not(None))
    query = _with_people(select(*_ticket_columns(), elapsed.label("seconds"), ON_TIME.label("on_time"))
                         .select_from(Ticket).join(Clock, joined)
                         ).where(*where).order_by(elapsed.desc(), Ticket.id)
    count = select(func.count()).select_from(Ticket).join(Clock, joined).where(*where)
    return query, count


def _statutory(period: Period) -> tuple[Query, Query]:
    """The period's complaints with a statutory clock or an imported "timely" flag: late first,
    then those still running, then those decided on time."""
    clock = aliased(Clock)
    joined = and_(clock.subject_type == "ticket", clock.subject_id == Ticket.id, clock.target == Target.STATUTORY,
                  clock.state != ClockState.CANCELLED)
    where = (Ticket.kind == TicketKind.COMPLAINT, Ticket.duplicate_of_id.is_(None),
             Ticket.received_at >= period.since, Ticket.received_at < period.until,
             or_(clock.id.is_not(None), Ticket.timely.is_not(None)))
    rank = case((or_(late(clock), Ticket.timely.is_(False)), 0),
                (and_(clock.id.is_not(None), clock.met_at.is_(None)), 1), else_=2)
    query = _with_people(select(*_ticket_columns(), clock.id.label("clock_id"), late(clock).label("late"),
                                on_time(clock).label("on_time"), Ticket.timely)
                         .select_from(Ticket).outerjoin(clock, joined)).where(*where).order_by(
        rank, Ticket.received_at, Ticket.id)
    count = select(func.count()).select_from(Ticket).outerjoin(clock, joined).where(*where)
    return query, count


def _surveys(period: Period) -> tuple[Query, Query]:
    """Satisfaction answers to the surveys sent in the period, the dissatisfied first."""
    where = (SurveyInvitation.sent_at >= period.since, SurveyInvitation.sent_at < period.until,
             SurveyResponse.csat.is_not(None))
    query = (select(SurveyInvitation.ticket_id, Ticket.reference, Ticket.kind, Ticket.channel,
                    SurveyResponse.submitted_at, SurveyResponse.csat, SurveyResponse.nps,
                    StaffAccount.username.label("assignee"))
             .select_from(SurveyInvitation)
             .join(SurveyResponse, SurveyResponse.invitation_id == SurveyInvitation.id)
             .outerjoin(Ticket, Ticket.id == SurveyInvitation.ticket_id)
             .outerjoin(StaffAccount, StaffAccount.id == SurveyInvitation.agent_id)
             .where(*where).order_by(SurveyResponse.csat, SurveyResponse.submitted_at, SurveyResponse.id))
    count = (select(func.count()).select_from(SurveyInvitation)
             .join(SurveyResponse, SurveyResponse.invitation_id == SurveyInvitation.id).where(*where))
    return query, count


def _followups(period: Period) -> tuple[Query, Query]:
    """Follow-up calls closed in the period that reached the customer, the dissatisfied first."""
    where = (FollowUp.status == FollowUpStatus.CLOSED, FollowUp.closed_at >= period.since,
             FollowUp.closed_at < period.until,
             FollowUp.outcome.in_((Result.REACHED_SATISFIED, Result.REACHED_DISSATISFIED)))
    query = (select(FollowUp.ticket_id, Ticket.reference, Ticket.kind, Ticket.channel, FollowUp.closed_at,
                    FollowUp.outcome, Customer.name_mask.label("customer"), StaffAccount.username.label("assignee"))
             .select_from(FollowUp)
             .join(Customer, Customer.id == FollowUp.customer_id)
             .outerjoin(Ticket, Ticket.id == FollowUp.ticket_id)
             .outerjoin(StaffAccount, StaffAccount.id == FollowUp.assignee_id)
             .where(*where).order_by(FollowUp.outcome == Result.REACHED_SATISFIED, FollowUp.closed_at, FollowUp.id))
    count = select(func.count()).select_from(FollowUp).where(*where)
    return query, count


def _customers(period: Period) -> tuple[Query, Query]:
    """Customers (there at the period's start) whose relationship ended in it."""
    where = (Customer.created_at < period.since, Customer.relationship_ended_on >= period.first,
             Customer.relationship_ended_on <= period.last)
    query = (select(Customer.name_mask.label("customer"), Customer.kind, Customer.segment,
                    Customer.relationship_ended_on.label("ended_on"))
             .where(*where).order_by(Customer.relationship_ended_on, Customer.id))
    count = select(func.count()).select_from(Customer).where(*where)
    return query, count
