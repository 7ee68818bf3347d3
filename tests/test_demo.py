"""The demo institution: every role can sign in, customers are valid, a re-run reuses it, and its history
(tickets, clocks, decisions, follow-ups, surveys) is deterministic with a seed and consistent."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from fincare.customers import service
from fincare.customers.models import Customer
from fincare.demo import DEMO_PASSWORD, ensure_demo
from fincare.followups.models import FollowUp, SurveyInvitation, SurveyResponse
from fincare.platform import audit_trail, clock, keys
from fincare.platform.accounts import service as accounts
from fincare.platform.config import reset_settings
from fincare.platform.db import get_engine, make_engine, set_engine, unit_of_work
from fincare.platform.permissions import Role
from fincare.servicedesk.models import ACTIVE_STATUSES, ComplaintDecision, RegulatorReport, Ticket
from fincare.sla import service as sla
from fincare.sla.models import Clock, ClockState
from tests.conftest import Backend, _truncate

SIZE = {"customers": 300, "months": 2, "seed": 11}


def test_the_demo_has_every_role_and_is_reused_on_a_second_run(db: Engine, frozen_clock: clock.FrozenClock) -> None:
    logins = ensure_demo(customers=60, months=1, seed=3)
    assert {role for login in logins for role in login.roles} == {r.value for r in Role}
    assert all(login.password == DEMO_PASSWORD for login in logins)
    assert {login.username for login in logins if login.two_factor} == {
        "security_sun", "compliance_qian", "auditor_zhao", "admin"}
    with unit_of_work(read_only=True) as session:
        before = _row_counts(session)
    again = ensure_demo(customers=60, months=1, seed=3)
    assert [login.username for login in again] == [login.username for login in logins]
    with unit_of_work(read_only=True) as session:
        assert service.count_customers(session) == 60
        assert _row_counts(session) == before
        sample = session.execute(select(Customer).limit(5)).scalars().all()
        assert all("*" in c.name_mask or c.kind != "individual" for c in sample)


def test_the_same_seed_makes_the_same_history(db: Engine, backend: Backend, tmp_path: Path,
                                              frozen_clock: clock.FrozenClock) -> None:
    ensure_demo(**SIZE)
    first = _ticket_mix()
    _fresh_database(backend, tmp_path)
    ensure_demo(**SIZE)
    assert _ticket_mix() == first
    kinds: Counter[str] = Counter()
    for (kind, _channel), n in first.items():
        kinds[kind] += n
    assert kinds["consultation"] > kinds["complaint"] > kinds["feedback"] > 0
    assert 150 <= sum(kinds.values()) <= 300  # about 3 tickets per customer a year, for 2 months and a bit


def test_the_history_is_consistent(db: Engine, frozen_clock: clock.FrozenClock) -> None:
    ensure_demo(**SIZE)
    now = clock.now()
    with unit_of_work() as session:
        tickets = {t.id: t for t in session.execute(select(Ticket)).scalars()}
        clocks = sla.clocks_of_subjects(session, "ticket", list(tickets))
        states: Counter[str] = Counter()
        for ticket_id, ticket in tickets.items():
            own = clocks[ticket_id]
            assert own, ticket.reference
            for item in own:
                states[item.state] += 1
                _assert_consistent(item, now)
            assert ticket.breached == any(c.breached_at is not None for c in own)
            if ticket.status in ACTIVE_STATUSES:
                assert ticket.resolved_at is None
                assert ticket.next_due_at == min((c.due_at for c in own if c.met_at is None), default=None)
            else:
                assert ticket.resolved_at is not None and all(c.met_at is not None for c in own)
                assert ticket.next_due_at is None
            assert ticket.received_at <= now
        assert states[ClockState.MET] > states[ClockState.BREACHED] > 0
        assert any(t.status in ACTIVE_STATUSES for t in tickets.values())  # the last days' tickets are open

        complaints = [t for t in tickets.values() if t.kind == "complaint"]
        for ticket in complaints:
            assert ticket.risk_grade in ("low", "medium", "high")
            if ticket.resolved_at is not None and ticket.resolved_at < now - timedelta(days=7):
                assert ticket.decision_id is not None
                assert ticket.channel_code and ticket.business_type_code and ticket.cause_code
                decision = session.get(ComplaintDecision, ticket.decision_id)
                assert decision is not None and decision.status == "sent" and "调解" in decision.reply
        reported = {r.ticket_id for r in session.execute(select(RegulatorReport)).scalars()}
        assert reported == {t.id for t in complaints if t.risk_grade == "high" or t.regulator_transfer}

        follow_ups = session.execute(select(FollowUp)).scalars().all()
        assert follow_ups and all(f.ticket_id in tickets for f in follow_ups if f.kind == "complaint")
        follow_clocks = sla.clocks_of_subjects(session, "follow_up", [f.id for f in follow_ups])
        for follow_up in follow_ups:
            for item in follow_clocks[follow_up.id]:
                _assert_consistent(item, now)
            assert (follow_up.status == "closed") == (follow_up.outcome is not None)
        assert {f.outcome for f in follow_ups} >= {"reached_satisfied", "reached_dissatisfied", "unreachable"}

        invitations = session.execute(select(func.count()).select_from(SurveyInvitation)).scalar_one()
        responses = session.execute(select(SurveyResponse)).scalars().all()
        assert invitations > len(responses) > 0
        assert all(1 <= r.csat <= 5 for r in responses if r.csat is not None)
        assert all(0 <= r.nps <= 10 for r in responses if r.nps is not None)
        assert sum(1 for r in responses if (r.csat or 0) >= 4) > len(responses) / 2

        churned = session.execute(select(func.count()).select_from(Customer)
                                  .where(Customer.relationship_ended_on.is_not(None))).scalar_one()
        assert 0 < churned < 300 * 0.1
        assert audit_trail.verify(session).ok


def _assert_consistent(item: Clock, now: object) -> None:
    """met_at set ⇔ met (on time) or breached-then-met; breached ⇔ met late or unmet past due."""
    late = item.met_at is not None and item.met_at > item.due_at
    overdue = item.met_at is None and item.due_at <= now  # type: ignore[operator]
    assert (item.state == ClockState.BREACHED) == (late or overdue), item.id
    assert (item.breached_at is not None) == (late or overdue)
    if item.breached_at is not None:
        assert item.breached_at == item.due_at
    if item.state == ClockState.MET:
        assert item.met_at is not None and item.met_at <= item.due_at
    if item.state == ClockState.RUNNING:
        assert item.met_at is None and item.due_at > now  # type: ignore[operator]
    assert item.started_at <= item.warn_at <= item.due_at


def _ticket_mix() -> Counter[tuple[str, str]]:
    with unit_of_work(read_only=True) as session:
        return Counter({(kind, channel): n for kind, channel, n in session.execute(
            select(Ticket.kind, Ticket.channel, func.count()).group_by(Ticket.kind, Ticket.channel))})


def _row_counts(session: Session) -> dict[str, int]:
    return {model.__tablename__: session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Customer, Ticket, Clock, FollowUp, SurveyInvitation, SurveyResponse)}


def _fresh_database(backend: Backend, tmp_path: Path) -> None:
    """Start again on an empty, migrated database (a second "fresh run")."""
    if backend.template is not None:
        target = tmp_path / "second.db"
        shutil.copyfile(backend.template, target)
        url = f"sqlite:///{target}"
        os.environ["FINCARE_DATABASE_URL"] = url
        reset_settings()
        set_engine(make_engine(url))
    else:
        _truncate(get_engine())
    sla.reference_cache.clear()
    keys.keyring.forget()
    accounts.token_cache.clear()
