"""Clocks: chosen from policies, paused and resumed, the statutory deadline and its extensions,
and the sweep marking each breach exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from fincare.platform import clock as platform_clock
from fincare.platform.db import unit_of_work
from fincare.platform.errors import Conflict, Forbidden, Invalid
from fincare.platform.jobs.models import Job
from fincare.platform.permissions import Principal, Role
from fincare.sla import service
from fincare.sla.models import Clock, ClockEvent, ClockState, SlaPolicy, Target

SHANGHAI = ZoneInfo("Asia/Shanghai")
AGENT = Principal.of(account_id=1, username="specialist_chen", roles=frozenset({Role.COMPLAINT_SPECIALIST}),
                     department_id=None)
SUPERVISOR = Principal.of(account_id=2, username="supervisor_wang", roles=frozenset({Role.SUPERVISOR}),
                          department_id=None)
ADMIN = Principal.of(account_id=3, username="admin", roles=frozenset({Role.ADMIN}), department_id=None)


def complaint(received: datetime, risk_grade: str | None = None, subject_id: int = 1) -> dict[str, Clock]:
    with unit_of_work() as session:
        clocks = service.start_clocks(session, subject_type="ticket", subject_id=subject_id, kind="complaint",
                                      received_at=received, risk_grade=risk_grade, channel="phone")
        return {c.target: c for c in clocks}


def reload(item: Clock) -> Clock:
    with unit_of_work(read_only=True) as session:
        fresh = session.get(Clock, item.id)
        assert fresh is not None
        return fresh


def queued(event: str) -> list[dict[str, object]]:
    with unit_of_work(read_only=True) as session:
        return [j.payload for j in session.execute(select(Job).where(Job.event == event)).scalars()]


def test_a_complaint_gets_its_business_clock_and_the_statutory_clock(db: Engine) -> None:
    received = datetime(2026, 2, 13, 16, tzinfo=SHANGHAI)
    clocks = complaint(received)
    assert set(clocks) == {Target.FEEDBACK, Target.STATUTORY}
    assert clocks[Target.FEEDBACK].due_at == datetime(2026, 2, 25, 13, tzinfo=SHANGHAI)  # over Spring Festival
    assert clocks[Target.STATUTORY].due_at == received + timedelta(days=15)  # calendar days


def test_high_risk_complaints_run_around_the_clock_with_a_resolution_target(db: Engine) -> None:
    received = datetime(2026, 3, 6, 20, tzinfo=SHANGHAI)  # a Friday evening
    clocks = complaint(received, risk_grade="high")
    assert clocks[Target.FEEDBACK].due_at == received + timedelta(hours=24)
    assert clocks[Target.RESOLUTION].due_at == received + timedelta(hours=48)


def test_a_clock_keeps_the_policy_version_it_started_with(db: Engine) -> None:
    first = complaint(datetime(2026, 3, 2, 9, tzinfo=SHANGHAI), subject_id=1)[Target.FEEDBACK]
    with unit_of_work() as session:
        policy = session.get(SlaPolicy, first.policy_id)
        assert policy is not None
        with pytest.raises(Forbidden):
            service.revise_policy(session, actor=AGENT, policy=policy, minutes=60)
        service.revise_policy(session, actor=ADMIN, policy=policy, minutes=8 * 60)
    second = complaint(datetime(2026, 3, 2, 9, tzinfo=SHANGHAI), subject_id=2)[Target.FEEDBACK]
    assert reload(first).due_at == datetime(2026, 3, 4, 15, tzinfo=SHANGHAI)  # 24 business hours
    assert second.due_at == datetime(2026, 3, 2, 17, tzinfo=SHANGHAI)  # the new 8 hours
    assert second.policy_id != first.policy_id


def test_pausing_extends_the_due_time_by_the_business_time_paused(db: Engine) -> None:
    feedback = complaint(datetime(2026, 3, 2, 9, tzinfo=SHANGHAI))[Target.FEEDBACK]
    with unit_of_work() as session:
        item = session.get(Clock, feedback.id)
        assert item is not None
        service.pause(session, item=item, at=datetime(2026, 3, 2, 17, tzinfo=SHANGHAI))
        assert item.state == ClockState.PAUSED
        # waiting for the customer from Monday 17:00 to Tuesday 10:00: 2 business hours
        service.resume(session, item=item, at=datetime(2026, 3, 3, 10, tzinfo=SHANGHAI))
    resumed = reload(feedback)
    assert resumed.state == ClockState.RUNNING
    assert resumed.due_at == feedback.due_at + timedelta(hours=2)
    assert resumed.paused_seconds == 2 * 3600


def test_the_statutory_clock_does_not_pause(db: Engine) -> None:
    received = datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)
    statutory = complaint(received)[Target.STATUTORY]
    with platform_clock.frozen(received + timedelta(days=1)), unit_of_work() as session:
        item = session.get(Clock, statutory.id)
        assert item is not None
        service.pause(session, item=item)
        assert item.state == ClockState.RUNNING


def test_the_statutory_deadline_extends_to_30_then_60_days_only_with_approval(db: Engine) -> None:
    received = datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)
    statutory = complaint(received)[Target.STATUTORY]
    with platform_clock.frozen(received + timedelta(days=10)), unit_of_work() as session:
        item = session.get(Clock, statutory.id)
        assert item is not None
        with pytest.raises(Forbidden):
            service.extend_statutory(session, item=item, actor=AGENT, approver=None, reason="complex case")
        with pytest.raises(Forbidden):
            service.extend_statutory(session, item=item, actor=AGENT, approver=AGENT, reason="complex case")
        with pytest.raises(Invalid):
            service.extend_statutory(session, item=item, actor=AGENT, approver=SUPERVISOR, reason="")
        service.extend_statutory(session, item=item, actor=AGENT, approver=SUPERVISOR,
                                 reason="complex case: needs the card network's records")
        assert item.due_at == received + timedelta(days=30)
        service.extend_statutory(session, item=item, actor=AGENT, approver=SUPERVISOR,
                                 reason="the superior institution approved a further 30 days")
        assert item.due_at == received + timedelta(days=60)
        with pytest.raises(Conflict):
            service.extend_statutory(session, item=item, actor=AGENT, approver=SUPERVISOR, reason="once more")
    notices = queued("sla.statutory_extended")
    assert [n["days"] for n in notices] == [30, 60]
    with unit_of_work(read_only=True) as session:
        kinds = session.execute(select(ClockEvent.kind).where(ClockEvent.clock_id == statutory.id)).scalars().all()
    assert kinds.count("extended") == 2


def test_the_sweep_warns_at_80_percent_then_marks_the_breach_once(db: Engine) -> None:
    received = datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)
    feedback = complaint(received, risk_grade="medium")[Target.FEEDBACK]  # 24 h around the clock
    with unit_of_work() as session:
        assert service.sweep(session, now=received + timedelta(hours=19)) == service.SweepResult(0, 0)
    with unit_of_work() as session:
        assert service.sweep(session, now=received + timedelta(hours=20)) == service.SweepResult(1, 0)
    for _ in range(3):
        with unit_of_work() as session:
            service.sweep(session, now=received + timedelta(hours=25))
    assert reload(feedback).state == ClockState.BREACHED
    assert len(queued("sla.clock_breached")) == 1
    assert len(queued("sla.clock_warned")) == 1


def test_a_clock_paused_after_its_due_time_is_breached_not_paused(db: Engine) -> None:
    received = datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)
    feedback = complaint(received, risk_grade="medium")[Target.FEEDBACK]
    with unit_of_work() as session:  # the sweep has not been round: the clock still reads running
        item = session.get(Clock, feedback.id)
        assert item is not None
        service.pause(session, item=item, at=received + timedelta(hours=24, seconds=5))
    late = reload(feedback)
    assert late.state == ClockState.BREACHED and late.breached_at == received + timedelta(hours=24)
    assert len(queued("sla.clock_breached")) == 1
    with unit_of_work() as session:
        assert service.sweep(session, now=received + timedelta(hours=25)).breached == 0  # nothing twice


def test_a_breached_clock_met_late_keeps_its_breach(db: Engine) -> None:
    received = datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)
    feedback = complaint(received, risk_grade="medium")[Target.FEEDBACK]
    with unit_of_work() as session:
        service.sweep(session, now=received + timedelta(hours=25))
    with unit_of_work() as session:
        item = session.get(Clock, feedback.id)
        assert item is not None
        service.meet(session, item=item, at=received + timedelta(hours=26))
    late = reload(feedback)
    assert late.state == ClockState.BREACHED and late.met_at is not None


def test_two_sweepers_on_postgresql_mark_each_breach_exactly_once(db: Engine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("concurrent sweepers are a PostgreSQL deployment")
    received = datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)
    with unit_of_work() as session:
        for n in range(300):
            service.start_clocks(session, subject_type="ticket", subject_id=n, kind="consultation",
                                 received_at=received)
    barrier = threading.Barrier(2)

    def sweeper() -> None:
        barrier.wait()
        while True:
            with unit_of_work() as session:
                if service.sweep(session, now=received + timedelta(hours=1), limit=20).breached == 0:
                    return

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(queued("sla.clock_breached")) == 300
    with unit_of_work(read_only=True) as session:
        breaches = session.execute(select(func.count()).select_from(ClockEvent)
                                   .where(ClockEvent.kind == "breached")).scalar_one()
    assert breaches == 300


def test_a_sweep_that_dies_mid_way_leaves_nothing_half_done(db: Engine) -> None:
    received = datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)
    complaint(received, risk_grade="medium")

    def crashing_sweep() -> None:
        with unit_of_work() as session:
            service.sweep(session, now=received + timedelta(hours=25))
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        crashing_sweep()
    assert queued("sla.clock_breached") == []
    with platform_clock.frozen(datetime.now(UTC)), unit_of_work() as session:
        assert service.sweep(session, now=received + timedelta(hours=25)).breached == 1
    assert len(queued("sla.clock_breached")) == 1
