"""The synthetic institution behind `fincare demo`: deterministic with a seed, reused when it exists.

Staff of every role in their departments (several agents, complaint specialists, follow-up agents
and supervisors, with product skills and some weekly shifts), each signing in with the demo
password; customers with valid (synthetic) identifiers, a few private-banking clients, some flagged
for high-risk sales and 3–6 % who leave during the year; and `months` of history ending today:
consultations, complaints and feedback with their SLA clocks, complaint coding, decisions and
regulator reports, follow-up calls and satisfaction surveys (`history`). Everything is written with
bulk inserts, one `demo.generated` audit entry per batch.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from fincare.customers import importer
from fincare.customers import service as customers_service
from fincare.customers.models import Customer
from fincare.demo.history import DEMO_ACTOR, Progress, ensure_history, months_ending
from fincare.demo.people import synthetic_customer
from fincare.demo.staff import DEMO_PASSWORD, STAFF, DemoLogin, ensure_staff
from fincare.followups import service as followups
from fincare.followups.models import Cadence, FollowUpKind
from fincare.platform import audit_trail, clock, keys
from fincare.platform.config import get_settings
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM
from fincare.sla import service as sla

__all__ = ["DEMO_PASSWORD", "STAFF", "DemoLogin", "ensure_demo"]

CUSTOMER_BATCH = 2000


def ensure_demo(*, customers: int = 10_000, months: int = 12, seed: int = 7,
                progress: Progress | None = None) -> list[DemoLogin]:
    """Create whatever part of the demo institution is missing; return the logins to print.

    `progress(what, done, total)` is told of each step (customers, then each month of history).
    """
    with unit_of_work() as session:
        sla.ensure_default_policies(session)
        followups.ensure_default_surveys(session)
        logins, team = ensure_staff(session)
        _ensure_rules(session)
    zone = ZoneInfo(get_settings().timezone)
    window = months_ending(clock.now().astimezone(zone).date(), months)
    _ensure_customers(customers, seed, joined_before=window[0].first, progress=progress)
    churned = _ensure_churn(customers, seed, window[0].first, window[-1].last)
    ensure_history(team=team, customers=customers, months=months, seed=seed, churned=churned, progress=progress)
    return logins


def _ensure_rules(session: Session) -> None:
    """Key customers are called quarterly, customers sold high-risk products monthly."""
    existing = {(r.kind, r.segment, r.tag) for r in followups.list_rules(session)}
    for kind, cadence, segment, tag in ((FollowUpKind.KEY_CUSTOMER, Cadence.QUARTERLY, "private_banking", None),
                                        (FollowUpKind.HIGH_RISK_SALES, Cadence.MONTHLY, None, "high_risk_sales")):
        if (kind, segment, tag) not in existing:
            followups.add_rule(session, actor=SYSTEM, kind=kind, cadence=cadence, segment=segment, tag=tag)


def _ensure_customers(wanted: int, seed: int, *, joined_before: date, progress: Progress | None) -> None:
    """Add customers up to `wanted`, in batches, through the importer's bulk path; they were customers
    before the history starts (joined over the previous five years)."""
    with unit_of_work(read_only=True) as session:
        existing = customers_service.count_customers(session)
    if existing >= wanted:
        return
    rng = random.Random(seed)
    for _ in range(existing):  # keep the stream where it was, so a resumed run makes the same people
        synthetic_customer(rng, 0)
    zone = ZoneInfo(get_settings().timezone)
    start = clock.now().astimezone(zone).date()
    if progress:
        progress("customers", existing, max(wanted, existing))
    for first in range(existing, wanted, CUSTOMER_BATCH):
        rows = [(n + 1, importer.normalise_row(synthetic_customer(rng, n)))
                for n in range(first, min(first + CUSTOMER_BATCH, wanted))]
        joined = joined_before - timedelta(days=30 + (first // CUSTOMER_BATCH * 97) % 1800)
        joined_at = clock.now() - (start - joined) if joined < start else clock.now()
        with unit_of_work() as session:
            prepared = importer.prepare_batch(rows, keys.sealer(session), joined_at)
            importer.import_batch(session, actor=DEMO_ACTOR, rows=rows, totals=importer.ImportTotals(),
                                  prepared=prepared)
        if progress:
            progress("customers", min(first + CUSTOMER_BATCH, wanted), wanted)


def _ensure_churn(customers: int, seed: int, first: date, last: date) -> dict[int, date]:
    """3–6 % of the customers end their relationship during the history (once: a re-run finds them)."""
    with unit_of_work() as session:
        ids = list(session.execute(select(Customer.id).order_by(Customer.id).limit(customers)).scalars())
        wanted = set(ids)
        ended = {i: d for i, d in session.execute(select(Customer.id, Customer.relationship_ended_on).where(
            Customer.relationship_ended_on.is_not(None))).all() if d is not None and i in wanted}
        if ended or not ids:
            return ended
        rng = random.Random(f"{seed}-churn")
        rate = rng.uniform(0.03, 0.06)
        span = (last - first).days
        chosen = {i: first + timedelta(days=rng.randrange(max(span, 1))) for i in ids if rng.random() < rate}
        if chosen:
            session.connection().execute(update(Customer).where(Customer.id == bindparam("c"))
                                         .values(relationship_ended_on=bindparam("d")),
                                         [{"c": i, "d": d} for i, d in chosen.items()])
            audit_trail.record(session, actor=DEMO_ACTOR, action="demo.generated", subject=None,
                               after={"churned": len(chosen), "seed": seed})
        return chosen
