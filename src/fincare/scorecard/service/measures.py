"""How each KPI is measured from FinCare's own records for a period — or, where the capability that
would feed it is not built yet, a null naming that capability (never a made-up number).

Durations are the clock's elapsed time minus the time it spent paused waiting for the customer;
p90 is the 90th percentile (linear interpolation) of the clocks met in the period's tickets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from fincare.customers.models import Customer
from fincare.followups import service as followups
from fincare.scorecard.periods import Period
from fincare.servicedesk.models import Ticket, TicketKind
from fincare.sla.models import Clock, ClockState, Target


@dataclass(frozen=True)
class Figure:
    actual: float | None
    basis: int  # how many records it rests on
    reason: str | None = None  # why `actual` is null


Measure = Callable[[Session, Period], Figure]


def seconds_between(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    """Seconds from `start` to `end`, in the database's own arithmetic."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400


def started_in(period: Period) -> tuple[ColumnElement[bool], ...]:
    """Ticket clocks of the period's tickets: a ticket's clocks start when it was received, so the
    clocks' own index (`ix_sla_clock_started`) finds them without touching other periods' rows."""
    return (Clock.subject_type == "ticket", Clock.started_at >= period.since, Clock.started_at < period.until)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    rank = share * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Duration:
    """A response-time KPI: the time tickets of `kind` took to meet `target`, in units of `per` seconds."""

    kind: TicketKind
    target: Target
    per: int
    what: str  # "answered consultation": what the basis counts, for the no-data reason


DURATIONS = {
    "consultation_first_response_p90_minutes": Duration(TicketKind.CONSULTATION, Target.FIRST_RESPONSE, 60,
                                                        "answered consultation"),
    "complaint_feedback_p90_hours": Duration(TicketKind.COMPLAINT, Target.FEEDBACK, 3600, "complaint with feedback"),
    "feedback_handling_p90_hours": Duration(TicketKind.FEEDBACK, Target.RESOLUTION, 3600, "handled feedback"),
}


def _p90_duration(spec: Duration) -> Measure:
    """p90 of the time to meet the spec's target on the period's tickets of its kind."""
    kind, target, per, what = spec.kind, spec.target, spec.per, spec.what

    def measure(session: Session, period: Period) -> Figure:
        elapsed = seconds_between(session, Clock.started_at, Clock.met_at) - Clock.paused_seconds
        query = (select(elapsed).select_from(Clock).join(Ticket, Ticket.id == Clock.subject_id)
                 .where(*started_in(period), Clock.target == target, Ticket.kind == kind, Clock.met_at.is_not(None)))
        if session.get_bind().dialect.name == "postgresql":  # the percentile in the database
            sub = query.subquery()
            value, count = session.execute(select(func.percentile_cont(0.9).within_group(sub.c[0].asc()),
                                                  func.count()).select_from(sub)).one()
            if not count:
                return Figure(None, 0, f"no {what} in the period")
            return Figure(max(float(value), 0.0) / per, int(count))
        values = [max(float(v), 0.0) for v in session.execute(query).scalars()]
        if not values:
            return Figure(None, 0, f"no {what} in the period")
        return Figure(_percentile(values, 0.9) / per, len(values))

    return measure


# One rule for every figure that judges a deadline (KPIs, dashboard, complaint report, drill-down): a
# clock met by its due time and never breached is on time; one breached, or met after it was due, is late.
def on_time(clock: Any = Clock) -> ColumnElement[bool]:
    """Whether `clock` (the Clock entity or an alias of it) was met in time."""
    return and_(clock.met_at.is_not(None), clock.breached_at.is_(None), clock.met_at <= clock.due_at)


def late(clock: Any = Clock) -> ColumnElement[bool]:
    """Whether `clock` (the Clock entity or an alias of it) was breached or met after its due time."""
    return or_(clock.breached_at.is_not(None), clock.state == ClockState.BREACHED,
               and_(clock.met_at.is_not(None), clock.met_at > clock.due_at))


ON_TIME, LATE = on_time(), late()


def statutory_deadline_met_rate(session: Session, period: Period) -> Figure:
    """Complaints received in the period and decided (or overdue): the share decided on time.

    Imported complaints count by their source's "timely" flag; linked duplicates do not count.
    """
    received = and_(Ticket.kind == TicketKind.COMPLAINT, Ticket.duplicate_of_id.is_(None),
                    Ticket.received_at >= period.since, Ticket.received_at < period.until)
    good, bad = session.execute(
        select(func.count().filter(ON_TIME), func.count().filter(LATE)).select_from(Clock)
        .join(Ticket, Ticket.id == Clock.subject_id)
        .where(*started_in(period), Clock.target == Target.STATUTORY, received, Clock.state != ClockState.CANCELLED)
    ).one()
    imported_good, imported_bad = session.execute(
        select(func.count().filter(Ticket.timely.is_(True)), func.count().filter(Ticket.timely.is_(False)))
        .where(received, Ticket.timely.is_not(None))).one()
    total = good + bad + imported_good + imported_bad
    if not total:
        return Figure(None, 0, "no complaint received in the period was decided yet")
    return Figure((good + imported_good) / total, total)


def customer_satisfaction_rate(session: Session, period: Period) -> Figure:
    figures = followups.survey_totals(session, since=period.since, until=period.until)
    if not figures.csat_answers:
        return Figure(None, 0, "no survey answers in the period")
    return Figure(figures.csat, figures.csat_answers)


def followup_satisfaction_rate(session: Session, period: Period) -> Figure:
    figures = followups.followup_totals(session, since=period.since, until=period.until)
    if not figures.reached:
        return Figure(None, 0, "no follow-up call reached a customer in the period")
    return Figure(figures.followup_satisfaction, figures.reached)


def churn_rate(session: Session, period: Period) -> Figure:
    """Customers whose relationship ended in the period ÷ customers at its start."""
    at_start = session.execute(select(func.count()).select_from(Customer).where(
        Customer.created_at < period.since,
        or_(Customer.relationship_ended_on.is_(None), Customer.relationship_ended_on >= period.first))).scalar_one()
    if not at_start:
        return Figure(None, 0, "no customers at the start of the period")
    left = session.execute(select(func.count()).select_from(Customer).where(
        Customer.created_at < period.since, Customer.relationship_ended_on >= period.first,
        Customer.relationship_ended_on <= period.last)).scalar_one()
    return Figure(left / at_start, int(at_start))


MEASURES: dict[str, Measure] = {
    "customer_satisfaction_rate": customer_satisfaction_rate,
    **{key: _p90_duration(spec) for key, spec in DURATIONS.items()},
    "complaint_statutory_deadline_met_rate": statutory_deadline_met_rate,
    "followup_satisfaction_rate": followup_satisfaction_rate,
    "customer_churn_rate": churn_rate,
}

# The capability that will feed each KPI FinCare cannot compute yet (MISSION's domains).
NOT_YET = {
    "data_leak_incident_rate": "security incidents (domain `security`, not built yet)",
    "security_audit_pass_rate": "security audits (domain `security`, not built yet)",
    "security_incident_response_p90_minutes": "security incidents (domain `security`, not built yet)",
    "recommendation_conversion_rate": "recommendations (domain `insight`, not built yet)",
    "training_participation_rate": "training records (domain `workforce`: training not built yet)",
    "employee_satisfaction_rate": "employee surveys (domain `workforce`: surveys not built yet)",
    "lectures_per_quarter": "lectures (domain `education`, not built yet)",
    "lecture_attendance": "lectures (domain `education`, not built yet)",
    "forums_per_quarter": "forums (domain `education`, not built yet)",
    "knowledge_posts_per_month": "knowledge posts (domain `knowledge`, not built yet)",
    "knowledge_post_views": "knowledge posts (domain `knowledge`, not built yet)",
}
