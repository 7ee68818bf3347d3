"""The management dashboard's figures for a period: the KPIs (the reader's own department's first),
their 12-month trends, complaint volume by channel / business type / cause / risk grade, SLA and
statutory-deadline attainment, and the measures plan with the overdue ones flagged.

A bounded number of queries whatever the volume: one GROUP BY over the period's complaints, one over
their clocks (both through `ix_ticket_received`), one read of the trend months' snapshots — a KPI
is computed only for a month that has no snapshot yet (or is still open).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from fincare.platform import clock
from fincare.platform.accounts.models import Department
from fincare.platform.permissions import Principal
from fincare.scorecard.models import KpiSnapshot
from fincare.scorecard.periods import Period, current_month, parse
from fincare.scorecard.service.catalogue import Kpi
from fincare.scorecard.service.kpis import KpiResult, scorecard
from fincare.scorecard.service.measures import LATE, MEASURES, ON_TIME
from fincare.scorecard.service.plan import PlanRow, list_plan
from fincare.servicedesk.models import CodeDimension, ComplaintCode, Ticket, TicketKind
from fincare.sla.models import Clock, ClockState, Target

TREND_MONTHS = 12
# The order attainment rows read in: what the customer waits for first, the statutory deadline last.
TARGET_ORDER = (Target.FIRST_RESPONSE, Target.FEEDBACK, Target.RESOLUTION, Target.STATUTORY, Target.FOLLOW_UP)
KIND_ORDER = (TicketKind.CONSULTATION, TicketKind.COMPLAINT, TicketKind.FEEDBACK)


@dataclass(frozen=True)
class Tile:
    """One KPI of the period, with whether it is the reader's department's and its plan overdue."""

    result: KpiResult
    own: bool
    overdue_measures: tuple[str, ...]  # keys of the overdue measures that feed it

    @property
    def kpi(self) -> Kpi:
        return self.result.kpi

    @property
    def computed(self) -> bool:
        return self.kpi.key in MEASURES


@dataclass(frozen=True)
class Share:
    key: str | None  # a channel, code or risk grade; None: not recorded
    label: str | None  # a code's name in the reader's language (codes only)
    count: int


@dataclass
class Volume:
    """Complaints received in the period (linked duplicates excluded), broken down four ways."""

    total: int = 0
    by_channel: list[Share] = field(default_factory=list)
    by_business_type: list[Share] = field(default_factory=list)
    by_cause: list[Share] = field(default_factory=list)
    by_risk_grade: list[Share] = field(default_factory=list)
    imported_timely: int = 0  # imported complaints whose source says "timely response"
    imported_late: int = 0


@dataclass(frozen=True)
class Attainment:
    """The clocks of one target on the period's tickets of one kind: met on time, breached, still running."""

    kind: str
    target: str
    on_time: int
    breached: int
    pending: int

    @property
    def decided(self) -> int:
        return self.on_time + self.breached

    @property
    def rate(self) -> float | None:
        return self.on_time / self.decided if self.decided else None


@dataclass(frozen=True)
class Dashboard:
    period: Period
    department: str | None  # the reader's department code
    tiles: list[Tile]
    trends: dict[str, list[tuple[str, float | None]]]  # computed KPIs only, oldest month first
    volume: Volume
    attainment: list[Attainment]
    plan: list[PlanRow]  # overdue first, then the reader's department's, soonest deadline first
    departments: dict[str, tuple[str, str]]  # code → (name_zh, name_en)


def dashboard(session: Session, *, actor: Principal, period: Period, language: str = "zh-CN") -> Dashboard:
    """Everything the dashboard shows for `period`. Takes the snapshots a closed period still lacks."""
    departments = {d.id: d for d in session.execute(select(Department)).scalars()}
    mine = departments[actor.department_id].code if actor.department_id in departments else None
    plan = list_plan(session)
    overdue: dict[str, list[str]] = {}
    for row in plan:
        if row.overdue:
            for key in row.measure.kpi_keys:
                overdue.setdefault(key, []).append(row.measure.key)
    results = scorecard(session, period)
    tiles = sorted((Tile(r, r.kpi.owner == mine, tuple(overdue.get(r.kpi.key, ()))) for r in results),
                   key=lambda t: not t.own)  # stable: the catalogue's order within each group
    plan = sorted(plan, key=lambda r: (not r.overdue, r.measure.owner_department != mine))
    computed = [t.kpi for t in tiles if t.computed]
    complaints = volume(session, period, language=language)
    return Dashboard(period, mine, tiles, trends(session, computed, trend_end(period), current=results),
                     complaints, attainment(session, period, imported=complaints), plan,
                     {d.code: (d.name_zh, d.name_en) for d in departments.values()})


def trend_end(period: Period) -> Period:
    """The month a period's trend ends with: its last month, or this month if the period runs on."""
    now_month = current_month(clock.now())
    last = parse(f"{period.last.year}-{period.last.month:02d}")
    return now_month if last.first > now_month.first else last


def trends(session: Session, kpis: list[Kpi], last: Period, months: int = TREND_MONTHS, *,
           current: list[KpiResult] | None = None) -> dict[str, list[tuple[str, float | None]]]:
    """Each KPI month by month up to `last` (oldest first): the latest snapshot of a closed month,
    in one query; a month without one (or still open) is computed — and snapshotted if closed."""
    if not kpis:
        return {}
    keys = [k.key for k in kpis]
    span = [last.previous(back) for back in range(months - 1, -1, -1)]
    found: dict[tuple[str, str], float | None] = {}
    if current:  # the period on screen, when it is one of the months: already read
        found |= {(r.kpi.key, r.period): r.actual for r in current if r.kpi.key in keys}
    now = clock.now()
    rows = session.execute(select(KpiSnapshot.kpi_key, KpiSnapshot.period, KpiSnapshot.actual)
                           .where(KpiSnapshot.period.in_([p.label for p in span if p.closed(now)]),
                                  KpiSnapshot.kpi_key.in_(keys))
                           .order_by(KpiSnapshot.revision))
    for key, label, actual in rows:  # ordered by revision: the latest wins
        found[(key, label)] = actual
    for month in span:
        missing = [key for key in keys if (key, month.label) not in found]
        if missing:
            found |= {(r.kpi.key, month.label): r.actual for r in scorecard(session, month, keys=missing)}
    return {key: [(m.label, found[(key, m.label)]) for m in span] for key in keys}


def _received(period: Period) -> list[ColumnElement[bool]]:
    return [Ticket.received_at >= period.since, Ticket.received_at < period.until]


def volume(session: Session, period: Period, *, language: str = "zh-CN") -> Volume:
    """Complaints received in the period by channel, JR/T business type and cause, and risk grade:
    one GROUP BY over the period's complaints, folded four ways here."""
    rows = session.execute(
        select(Ticket.channel, Ticket.business_type_code, Ticket.cause_code, Ticket.risk_grade, Ticket.timely,
               func.count())
        .where(*_received(period), Ticket.kind == TicketKind.COMPLAINT, Ticket.duplicate_of_id.is_(None))
        .group_by(Ticket.channel, Ticket.business_type_code, Ticket.cause_code, Ticket.risk_grade, Ticket.timely)
    ).all()
    found = Volume()
    channels: Counter[str | None] = Counter()
    business: Counter[str | None] = Counter()
    causes: Counter[str | None] = Counter()
    grades: Counter[str | None] = Counter()
    for channel, business_type, cause, grade, timely, count in rows:
        found.total += count
        channels[channel] += count
        business[business_type] += count
        causes[cause] += count
        grades[grade] += count
        if timely is True:
            found.imported_timely += count
        elif timely is False:
            found.imported_late += count
    names = _code_names(session, {c for c in business if c} | {c for c in causes if c}, language)

    def shares(counter: Counter[str | None], dimension: str | None = None) -> list[Share]:
        ordered = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
        return [Share(key, names.get((dimension, key)) if dimension and key else None, count)
                for key, count in ordered]

    found.by_channel = shares(channels)
    found.by_business_type = shares(business, CodeDimension.BUSINESS_TYPE)
    found.by_cause = shares(causes, CodeDimension.CAUSE)
    found.by_risk_grade = shares(grades)
    return found


def _code_names(session: Session, codes: set[str], language: str) -> dict[tuple[str, str], str]:
    if not codes:
        return {}
    names: dict[tuple[str, str], str] = {}
    rows = session.execute(select(ComplaintCode.dimension, ComplaintCode.code, ComplaintCode.name_zh,
                                  ComplaintCode.name_en)
                           .where(ComplaintCode.code.in_(sorted(codes)),
                                  ComplaintCode.dimension.in_([CodeDimension.BUSINESS_TYPE, CodeDimension.CAUSE]))
                           .order_by(ComplaintCode.active, ComplaintCode.id))  # the active entry last: it wins
    for dimension, code, name_zh, name_en in rows:
        names[(dimension, code)] = name_zh if language == "zh-CN" else name_en
    return names


def attainment(session: Session, period: Period, *, imported: Volume | None = None) -> list[Attainment]:
    """Per ticket kind and target, the period's tickets' clocks met on time, breached, still running.

    Imported complaints carry their source's "timely" flag instead of a statutory clock; pass the
    period's `volume` to count them in the statutory row as the KPI does.
    """
    # driven from the clocks started in the period (a ticket's clocks start when it was received)
    rows = session.execute(
        select(Ticket.kind, Clock.target, func.count().filter(ON_TIME), func.count().filter(LATE), func.count())
        .select_from(Clock).join(Ticket, Ticket.id == Clock.subject_id)
        .where(Clock.subject_type == "ticket", Clock.started_at >= period.since, Clock.started_at < period.until,
               Clock.state != ClockState.CANCELLED)
        .group_by(Ticket.kind, Clock.target)).all()
    found = {(kind, target): [good, bad, total - good - bad] for kind, target, good, bad, total in rows}
    if imported is not None and imported.imported_timely + imported.imported_late:
        row = found.setdefault((TicketKind.COMPLAINT, Target.STATUTORY), [0, 0, 0])
        row[0] += imported.imported_timely
        row[1] += imported.imported_late

    def order(key: tuple[str, str]) -> tuple[int, int, str]:
        kind, target = key
        return (KIND_ORDER.index(TicketKind(kind)) if kind in KIND_ORDER else len(KIND_ORDER),
                TARGET_ORDER.index(Target(target)) if target in TARGET_ORDER else len(TARGET_ORDER), target)

    return [Attainment(kind, target, *found[(kind, target)]) for kind, target in sorted(found, key=order)]
