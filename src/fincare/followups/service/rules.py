"""Periodic follow-ups by rule: key customers (by segment or tag) quarterly, customers flagged for
high-risk sales monthly. Generation is idempotent per rule, customer and period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.customers import service as customers
from fincare.followups.models import Cadence, FollowUpKind, FollowUpRule
from fincare.followups.service.tasks import open_follow_up
from fincare.platform import audit_trail, clock
from fincare.platform.config import get_settings
from fincare.platform.errors import Invalid, Message, NotFound, one_of
from fincare.platform.permissions import Principal

MAX_LABEL = 60
PERIODIC = (FollowUpKind.KEY_CUSTOMER, FollowUpKind.HIGH_RISK_SALES)


def period_of(cadence: Cadence, at: datetime) -> str:
    """The local period a follow-up belongs to: "2026Q4" or "2026-11"."""
    local = at.astimezone(ZoneInfo(get_settings().timezone))
    if cadence == Cadence.QUARTERLY:
        return f"{local.year}Q{(local.month - 1) // 3 + 1}"
    return f"{local.year}-{local.month:02d}"


def add_rule(session: Session, *, actor: Principal, kind: str, cadence: str, segment: str | None = None,
             tag: str | None = None) -> FollowUpRule:
    """A rule selecting customers by segment or by tag (exactly one of them)."""
    chosen = one_of(FollowUpKind, kind, "kind")
    if chosen not in PERIODIC:
        raise Invalid(Message("one of {choices}", choices=", ".join(PERIODIC)), field="kind")
    every = one_of(Cadence, cadence, "cadence")
    segment, tag = (segment or "").strip() or None, (tag or "").strip() or None
    if (segment is None) == (tag is None):
        raise Invalid("a rule selects by segment or by tag, one of them", field="segment")
    for name, value in (("segment", segment), ("tag", tag)):
        if value is not None and len(value) > MAX_LABEL:
            raise Invalid(Message("at most {limit} characters", limit=MAX_LABEL), field=name)
    rule = FollowUpRule(kind=chosen, cadence=every, segment=segment, tag=tag, active=True,
                        created_by_id=actor.account_id, created_at=clock.now())
    session.add(rule)
    session.flush()
    audit_trail.record(session, actor=actor, action="follow_up_rule.added", subject=rule,
                       after={"kind": chosen, "cadence": every, "segment": segment, "tag": tag})
    return rule


def deactivate_rule(session: Session, *, actor: Principal, rule_id: int) -> FollowUpRule:
    rule = session.get(FollowUpRule, rule_id, with_for_update=True)
    if rule is None:
        raise NotFound("no such rule", field="rule_id")
    if rule.active:
        rule.active = False
        audit_trail.record(session, actor=actor, action="follow_up_rule.deactivated", subject=rule,
                           before={"active": True}, after={"active": False})
    return rule


def list_rules(session: Session) -> Sequence[FollowUpRule]:
    return session.execute(select(FollowUpRule).order_by(FollowUpRule.id)).scalars().all()


def generate(session: Session, *, batch: int = 1000) -> int:
    """Open this period's follow-ups for every active rule's customers; returns how many were new."""
    now = clock.now()
    created = 0
    for rule in session.execute(select(FollowUpRule).where(FollowUpRule.active.is_(True))).scalars().all():
        period = period_of(Cadence(rule.cadence), now)
        after = 0
        while True:
            ids = customers.active_ids(session, segment=rule.segment, tag=rule.tag, after_id=after, limit=batch)
            if not ids:
                break
            for customer_id in ids:
                if open_follow_up(session, kind=FollowUpKind(rule.kind), customer_id=customer_id, rule_id=rule.id,
                                  source_key=f"rule-{rule.id}-{customer_id}-{period}") is not None:
                    created += 1
            after = ids[-1]
    return created
