"""The scorecard for a period: every KPI of the catalogue with its actual, target and whether it was
met. An open period is computed live; a closed one is read from its snapshot (taken the first time it
is asked for, or by the worker), and a recomputation that differs is kept as a new revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fincare.platform import clock
from fincare.scorecard.models import KpiSnapshot
from fincare.scorecard.periods import Period, last_month
from fincare.scorecard.service.catalogue import CATALOGUE, Kpi
from fincare.scorecard.service.measures import MEASURES, NOT_YET, Figure

TOLERANCE = 1e-9


@dataclass(frozen=True)
class KpiResult:
    kpi: Kpi
    period: str
    actual: float | None
    met: bool | None
    basis: int
    reason: str | None
    revision: int | None  # None: live, the period is still open
    revised_from: float | None  # the previous revision's actual, when this one corrected it
    computed_at: datetime


def compute(session: Session, kpi: Kpi, period: Period) -> Figure:
    """The KPI's figure from the records, or a null naming what will feed it."""
    measure = MEASURES.get(kpi.key)
    if measure is None:
        return Figure(None, 0, f"needs {NOT_YET.get(kpi.key, 'a capability not built yet')}")
    return measure(session, period)


def _snapshots(session: Session, period: Period) -> dict[str, list[KpiSnapshot]]:
    found: dict[str, list[KpiSnapshot]] = {}
    for row in session.execute(select(KpiSnapshot).where(KpiSnapshot.period == period.label)
                               .order_by(KpiSnapshot.kpi_key, KpiSnapshot.revision)).scalars():
        found.setdefault(row.kpi_key, []).append(row)
    return found


def _differs(a: float | None, b: float | None) -> bool:
    return (a is None) != (b is None) or (a is not None and b is not None and abs(a - b) > TOLERANCE)


def _result(kpi: Kpi, period: Period, history: list[KpiSnapshot]) -> KpiResult:
    latest = history[-1]
    return KpiResult(kpi, period.label, latest.actual, latest.met, latest.basis or 0, latest.reason,
                     latest.revision, history[-2].actual if len(history) > 1 else None, latest.computed_at)


def scorecard(session: Session, period: Period, *, keys: list[str] | None = None) -> list[KpiResult]:
    """Every KPI (or those of `keys`) for `period`; a closed period's missing snapshots are taken now."""
    now = clock.now()
    wanted = [k for k in CATALOGUE if keys is None or k.key in keys]
    closed = period.closed(now)
    history = _snapshots(session, period) if closed else {}
    results = []
    for kpi in wanted:
        if kpi.key in history:
            results.append(_result(kpi, period, history[kpi.key]))
            continue
        figure = compute(session, kpi, period)
        if closed:
            row, _ = _snapshot(session, kpi, period, figure, revision=1, at=now)
            results.append(_result(kpi, period, [row]))
        else:
            results.append(KpiResult(kpi, period.label, figure.actual, kpi.met(figure.actual), figure.basis,
                                     figure.reason, None, None, now))
    return results


def _snapshot(session: Session, kpi: Kpi, period: Period, figure: Figure, *, revision: int,
              at: datetime) -> tuple[KpiSnapshot, bool]:
    """The snapshot `revision` of the KPI for the period, and whether this call took it. Readers at
    the start of a month and the worker may take the same one at once (PostgreSQL makes the later
    wait for the earlier's commit): the first stands, the others read it instead of failing."""
    row = KpiSnapshot(kpi_key=kpi.key, period=period.label, revision=revision, actual=figure.actual,
                      target=kpi.target, met=kpi.met(figure.actual), basis=figure.basis, reason=figure.reason,
                      computed_at=at)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        taken = session.execute(select(KpiSnapshot).where(
            KpiSnapshot.kpi_key == kpi.key, KpiSnapshot.period == period.label,
            KpiSnapshot.revision == revision)).scalar_one()
        return taken, False
    return row, True


def revise(session: Session, period: Period) -> list[str]:
    """Recompute a closed period; keep a new revision of every KPI whose figure changed (late data,
    corrections). Returns the keys revised. Running it twice does no harm."""
    if not period.closed(clock.now()):
        return []
    now = clock.now()
    history = _snapshots(session, period)
    revised = []
    for kpi in CATALOGUE:
        figure = compute(session, kpi, period)
        rows = history.get(kpi.key)
        if rows is None:
            _snapshot(session, kpi, period, figure, revision=1, at=now)
        elif _differs(rows[-1].actual, figure.actual):
            _, taken = _snapshot(session, kpi, period, figure, revision=rows[-1].revision + 1, at=now)
            if taken:  # else a concurrent pass kept the same revision first
                revised.append(kpi.key)
    return revised


def snapshot_recent(session: Session) -> list[str]:
    """The worker's daily pass: snapshot (or revise) last month and the two before it."""
    month = last_month(clock.now())
    revised = []
    for back in range(3):
        revised += [f"{month.previous(back).label}:{k}" for k in revise(session, month.previous(back))]
    return revised


def revisions(session: Session, key: str, period: Period) -> list[KpiSnapshot]:
    return list(session.execute(select(KpiSnapshot).where(KpiSnapshot.kpi_key == key,
                                                          KpiSnapshot.period == period.label)
                                .order_by(KpiSnapshot.revision)).scalars())

