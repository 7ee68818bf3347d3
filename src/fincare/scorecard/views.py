"""Console: the management dashboard, its drill-down to the records behind a KPI, and the printable
reports.

`/dashboard?period=` shows, for a month (last month by default), quarter, half-year or year: the KPI
tiles (the reader's department's first), 12-month trends, complaint volume, SLA and statutory-deadline
attainment and the measures plan; `/dashboard/kpis/{key}?period=` lists the records behind a tile and
the revisions of a closed period's figure. Thin like `api.py`: the figures come from `service`; a bad
period is shown again with the message by the picker.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as UrlPath
from fastapi.responses import Response

from fincare.platform import clock, web
from fincare.platform.db import unit_of_work
from fincare.platform.errors import Invalid
from fincare.platform.forms import FormError
from fincare.platform.http import require_page
from fincare.platform.i18n import translator
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.web import NavItem, add_nav, language_of, render
from fincare.scorecard import periods, reports, service
from fincare.scorecard.periods import Period
from fincare.scorecard.service.catalogue import Unit
from fincare.scorecard.service.drilldown import LIMIT

web.add_templates("scorecard", Path(__file__).parent / "templates" / "scorecard")
router = APIRouter(include_in_schema=False)
router.include_router(reports.page_router)
add_nav(NavItem("Dashboard", "/dashboard", P.KPI_READ, order=1))  # right after Home: executives start here

Reader = Annotated[Principal, require_page(P.KPI_READ)]
PeriodQuery = Annotated[str | None, Query(max_length=30, description=periods.HELP)]
PageQuery = Annotated[int, Query(ge=1, le=10_000)]
KeyPath = Annotated[str, UrlPath(max_length=60)]
DIRECTION = {"ge": "≥", "le": "≤", "lt": "<"}


def figure(value: float | None, unit: str, _: Callable[[str], str]) -> str:
    """A KPI value as people read it: ratios in %, durations with their unit, counts as whole numbers."""
    if value is None:
        return "—"
    if unit == Unit.RATIO:
        percent = 100 * value
        return f"{percent:.2f}%" if 0 < abs(percent) < 1 else f"{percent:.1f}%"
    if unit == Unit.COUNT:
        return f"{value:,.0f}"
    return f"{value:.1f} {_('kpi_unit:' + unit)}"


def chart_value(value: float | None, unit: str) -> float | None:
    """A value on a trend chart's axis: ratios in % (rounded for the tooltip), durations as they are."""
    if value is None:
        return None
    return round(100 * value, 2) if unit == Unit.RATIO else round(value, 2)


def period_choices(now_month: Period, chosen: str | None) -> list[tuple[str, list[str]]]:
    """The picker's options, newest first: 13 months, 5 quarters, 3 halves, 3 years (and the chosen one)."""
    first = now_month.first
    quarter = periods.parse(f"{first.year}-Q{(first.month - 1) // 3 + 1}")
    half = periods.parse(f"{first.year}-H{(first.month - 1) // 6 + 1}")
    year = periods.parse(str(first.year))
    groups = [("Month", [now_month.previous(n).label for n in range(13)]),
              ("Quarter", [quarter.previous(n).label for n in range(5)]),
              ("Half-year", [half.previous(n).label for n in range(3)]),
              ("Year", [year.previous(n).label for n in range(3)])]
    if chosen and all(chosen not in labels for _, labels in groups):
        groups.append(("Other period", [chosen]))
    return groups


def _context(request: Request, actor: Principal) -> dict[str, Any]:
    _ = translator(language_of(request))
    return {"fmt": lambda value, unit: figure(value, unit, _), "direction": DIRECTION, "local": web.local_time,
            "can_open_tickets": actor.can(P.TICKET_READ), "can_export": actor.can(P.REPORTS_EXPORT)}


def _choose(text: str | None) -> Period:
    return periods.parse(text) if text else periods.last_month(clock.now())


@router.get("/dashboard")
def dashboard_page(request: Request, actor: Reader, period: PeriodQuery = None) -> Response:
    """The KPIs of a period (last month by default) against their targets, with trends, complaint
    volume, deadline attainment and the measures plan."""
    context = _context(request, actor)
    now_month = periods.current_month(clock.now())
    try:
        chosen = _choose(period)
    except Invalid as exc:  # shown by the picker: which field, and the forms it accepts
        return render(request, "scorecard/dashboard.html", {
            **context, "board": None, "error": FormError.of("period", exc), "typed": period,
            "choices": period_choices(now_month, None), "chosen": None}, status_code=exc.status_code)
    language = language_of(request)
    with unit_of_work() as session:  # a closed period's first reading takes its snapshots
        board = service.dashboard(session, actor=actor, period=chosen, language=language)
    charts = [{"key": t.kpi.key, "name": t.kpi.name_zh if language == "zh-CN" else t.kpi.name_en,
               "unit": t.kpi.unit, "target": chart_value(t.kpi.target, t.kpi.unit),
               "values": [chart_value(v, t.kpi.unit) for _, v in board.trends[t.kpi.key]]}
              for t in board.tiles if t.kpi.key in board.trends]
    months = [label for label, _ in next(iter(board.trends.values()), [])]
    response = render(request, "scorecard/dashboard.html", {
        **context, "board": board, "error": None, "typed": period, "chosen": chosen.label,
        "choices": period_choices(now_month, chosen.label), "charts": charts,
        "chart_data": {"months": months, "charts": charts}})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/dashboard/kpis/{key}")
def kpi_page(request: Request, key: KeyPath, actor: Reader, period: PeriodQuery = None,
             page: PageQuery = 1) -> Response:
    """The records behind one KPI for a period, 100 a page, and its revisions once the period closed."""
    kpi = service.get_kpi(key)
    chosen = _choose(period)
    with unit_of_work() as session:
        result = service.scorecard(session, chosen, keys=[kpi.key])[0]
        found = service.records(session, key=kpi.key, period=chosen, actor=actor, offset=(page - 1) * LIMIT)
        history = service.revisions(session, kpi.key, chosen) if chosen.closed(clock.now()) else []
        response = render(request, "scorecard/kpi.html", {
            **_context(request, actor), "result": result, "drill": found, "history": history,
            "chosen": chosen.label, "page": page})
    response.headers["Cache-Control"] = "no-store"
    return response
