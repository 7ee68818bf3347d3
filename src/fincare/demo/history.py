"""A year (or `months`) of the demo institution's service desk, ending now, written month by month.

Each calendar month is one transaction with one `demo.generated` audit entry; a month whose entry
exists is not generated again, so a second run adds nothing. Each month draws from its own
`random.Random(f"{seed}-{month}")`: the same seed gives the same tickets on a fresh database.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.customers.models import Customer, CustomerStatus
from fincare.demo import rows, seasons
from fincare.demo.aftercare import Aftercare
from fincare.demo.staff import Team
from fincare.demo.tickets import (
    BUSINESS_CODES,
    CAUSE_CODES,
    CHANNEL_CODES,
    CHANNELS,
    KINDS,
    RISK,
    Desk,
    plan_ticket,
)
from fincare.followups.models import SurveyPolicy
from fincare.followups.service.tasks import POLICY_KIND as FOLLOW_UP_POLICY
from fincare.platform import audit_trail, clock
from fincare.platform.audit_trail.models import AuditEntry
from fincare.platform.config import get_settings
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import Principal, Role
from fincare.servicedesk.models import CodeDimension, ComplaintCode, Priority
from fincare.servicedesk.service.coding import CODE_VERSION
from fincare.sla import service as sla
from fincare.sla.models import CalendarKind
from fincare.workforce.models import Skill
from fincare.workforce.service import Shift

ACTION = "demo.generated"
TICKETS_PER_CUSTOMER_YEAR = 3.0
DEMO_ACTOR = Principal(account_id=None, username="demo")

Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass(frozen=True)
class Month:
    key: str  # "2026-03"
    first: date
    last: date  # inclusive


def months_ending(today: date, count: int) -> list[Month]:
    """The calendar months of the `count` months ending `today` (the first and the last are partial)."""
    start_month = (today.year * 12 + today.month - 1) - count
    start = date(start_month // 12, start_month % 12 + 1, min(today.day, 28))
    found, day = [], start
    while day <= today:
        next_first = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        found.append(Month(f"{day.year}-{day.month:02d}", day, min(next_first - timedelta(days=1), today)))
        day = next_first
    return found


def generated_months(session: Session) -> set[str]:
    entries = session.execute(select(AuditEntry.after).where(AuditEntry.action == ACTION)).scalars()
    return {str(after["month"]) for after in entries if after and "month" in after}


def _desk(session: Session, team: Team, zone: ZoneInfo) -> Desk:
    agents = team.of(Role.AGENT)
    on_duty: dict[tuple[int, int], list[int]] = {}
    for weekday in range(7):
        for hour in range(24):
            at = datetime(2000, 1, 3 + weekday, hour, 30)  # 2000-01-03 was a Monday
            on_duty[(weekday, hour)] = [a for a in agents if not team.shifts.get(a) or any(
                Shift(d, s, e).covers(at) for d, s, e in team.shifts[a])]
    by_skill = {str(skill): [a for a in agents if skill in team.skills.get(a, ())] for skill in Skill}
    specs = {}
    for kind, _ in KINDS:
        for channel, _ in CHANNELS[kind]:
            for risk in (r for r, _ in RISK) if kind == "complaint" else (None,):
                for priority in Priority:
                    specs[(str(kind), str(priority), risk and str(risk), str(channel))] = sla.clock_specs(
                        session, kind=kind, priority=priority, risk_grade=risk, channel=channel)
    codes: dict[str, dict[str, int]] = {str(d): {} for d in CodeDimension}
    weights = {CodeDimension.CHANNEL: CHANNEL_CODES, CodeDimension.BUSINESS_TYPE: BUSINESS_CODES,
               CodeDimension.CAUSE: CAUSE_CODES}
    for row in session.execute(select(ComplaintCode).where(ComplaintCode.version == CODE_VERSION,
                                                           ComplaintCode.active)).scalars():
        weight = weights[CodeDimension(row.dimension)].get(row.code, 0 if row.custom else 1)
        if weight:
            codes[row.dimension][row.code] = weight
    return Desk(zone=zone, agents_on_duty=on_duty, agents_by_skill=by_skill, specialists=team.of(
        Role.COMPLAINT_SPECIALIST), supervisors=team.of(Role.SUPERVISOR), compliance=team.of(Role.COMPLIANCE_OFFICER),
        specs=specs, calendars={k: sla.calendar_of(session, k) for k in CalendarKind}, codes=codes)


def ensure_history(*, team: Team, customers: int, months: int, seed: int,
                   churned: dict[int, date], progress: Progress | None = None) -> Counter[str]:
    """Generate the months not generated yet; returns the rows written by table."""
    settings = get_settings()
    zone = ZoneInfo(settings.timezone)
    now = clock.now()
    window = months_ending(now.astimezone(zone).date(), months)
    written: Counter[str] = Counter()
    with unit_of_work() as session:
        done = generated_months(session)
        todo = [m for m in window if m.key not in done]
        if not todo:
            return written
        desk = _desk(session, team, zone)
        ids = list(session.execute(select(Customer.id).where(Customer.status == CustomerStatus.ACTIVE)
                                   .order_by(Customer.id).limit(customers)).scalars())
        emails = set(session.execute(select(Customer.id).where(Customer.email_mask.is_not(None),
                                                               Customer.id.in_(ids))).scalars()) if ids else set()
        policies = {p.trigger: p for p in session.execute(select(SurveyPolicy)).scalars()}
        follow_spec = sla.clock_specs(session, kind=FOLLOW_UP_POLICY)[0]
    if not ids:
        return written
    care = Aftercare(zone=zone, business=desk.calendars[CalendarKind.BUSINESS], followup_budget=follow_spec.budget,
                     sampling={t: p.sampling_rate for t, p in policies.items() if p.active},
                     throttle=timedelta(days=settings.survey_throttle_days), link_days=settings.survey_link_days,
                     followup_agents=team.of(Role.FOLLOWUP_AGENT), supervisors=team.of(Role.SUPERVISOR))
    days = [window[0].first + timedelta(days=n) for n in range((window[-1].last - window[0].first).days + 1)]
    mean_weight = sum(seasons.day_weight(d) for d in days) / len(days)
    per_day = TICKETS_PER_CUSTOMER_YEAR * len(ids) / 365 / mean_weight
    for number, month in enumerate(todo, start=1):
        if progress:
            progress(month.key, number - 1, len(todo))
        rng = random.Random(f"{seed}-{month.key}")
        pressure = seasons.month_pressure(seed, month.first.year, month.first.month)
        plans = []
        day = month.first
        while day <= month.last:
            for _ in range(seasons.count(rng, per_day * seasons.day_weight(day))):
                received = seasons.moment(rng, day, zone)
                customer = _customer(rng, ids, churned, day)
                if received <= now and customer is not None:
                    plans.append(plan_ticket(rng, desk, received=received, customer_id=customer, pressure=pressure))
            day += timedelta(days=1)
        plans.sort(key=lambda p: p.received)
        care.follow_ups, care.surveys = [], []
        for plan in plans:
            care.after(rng, plan, now, pressure)
        with unit_of_work() as session:
            batch = rows.Batch(now=now, zone=zone, compliance=desk.compliance, supervisors=desk.supervisors,
                               link_days=settings.survey_link_days, emails=emails,
                               templates={t: p.template_id for t, p in policies.items()},
                               followup_policy=(follow_spec.policy_id, follow_spec.budget))
            allocated = rows.Ids(session, rows.needs(plans, care.follow_ups, care.surveys))
            rows.build(batch, allocated, plans, care.follow_ups, care.surveys)
            rows.write(session, batch)
            audit_trail.record(session, actor=DEMO_ACTOR, action=ACTION, subject=None,
                               after={"month": month.key, "seed": seed, "tickets": len(plans),
                                      "rows": dict(sorted(batch.counts.items()))})
            written.update(batch.counts)
    if progress:
        progress("done", len(todo), len(todo))
    return written


def _customer(rng: random.Random, ids: list[int], churned: dict[int, date], day: date) -> int | None:
    """Some customers get in touch far more often than others; a former customer no longer does."""
    for _ in range(4):
        customer = ids[int(len(ids) * rng.random() ** 1.4)]
        ended = churned.get(customer)
        if ended is None or ended > day:
            return customer
    return None

