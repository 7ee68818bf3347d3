"""Scorecard rules by topic: `catalogue` (the KPIs and their targets), `measures` (how each is
computed, or why it cannot be yet), `kpis` (scorecards, snapshots, revisions, trends), `plan` (the
measures plan) and `complaints` (the monthly complaint report).

Callers use this package as one module: ``from fincare.scorecard import service``.
"""

from fincare.scorecard.service.catalogue import BY_KEY, CATALOGUE, Direction, Kpi, Unit
from fincare.scorecard.service.complaints import ComplaintReport, complaint_report
from fincare.scorecard.service.dashboard import Attainment, Dashboard, Share, Tile, Volume, dashboard
from fincare.scorecard.service.drilldown import Drilldown, Row, get_kpi, records
from fincare.scorecard.service.kpis import KpiResult, compute, revise, revisions, scorecard, snapshot_recent
from fincare.scorecard.service.measures import Figure
from fincare.scorecard.service.plan import (
    PlanRow,
    add_measure,
    ensure_plan,
    list_plan,
    may_edit,
    notes_of,
    plan_row,
    record_progress,
    revise_measure,
)

__all__ = [
    "BY_KEY",
    "CATALOGUE",
    "Attainment",
    "ComplaintReport",
    "Dashboard",
    "Direction",
    "Drilldown",
    "Figure",
    "Kpi",
    "KpiResult",
    "PlanRow",
    "Row",
    "Share",
    "Tile",
    "Unit",
    "Volume",
    "add_measure",
    "complaint_report",
    "compute",
    "dashboard",
    "ensure_plan",
    "get_kpi",
    "list_plan",
    "may_edit",
    "notes_of",
    "plan_row",
    "record_progress",
    "records",
    "revise",
    "revise_measure",
    "revisions",
    "scorecard",
    "snapshot_recent",
]
