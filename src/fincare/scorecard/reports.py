"""The complaint report over REST and as a printable page (routers included by `api` and `views`).

`GET /api/v1/reports/complaints?period=2026-10[&format=json|csv|xlsx]` and the console page
`GET /reports/complaints?period=2026-10`, both for holders of `reports.export`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from fincare.platform import clock
from fincare.platform.db import unit_of_work
from fincare.platform.errors import Invalid
from fincare.platform.exports import FILE_RESPONSES, XLSX_TYPE
from fincare.platform.http import require, require_page
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.web import NavItem, add_nav, render
from fincare.scorecard import periods
from fincare.scorecard.service import complaints

api_router = APIRouter()
page_router = APIRouter(include_in_schema=False)
add_nav(NavItem("Complaint report", "/reports/complaints", P.REPORTS_EXPORT, order=40))

PeriodQuery = Annotated[str, Query(max_length=30, description=periods.HELP)]


class ComplaintLineRead(BaseModel):
    key: str
    name_zh: str
    name_en: str
    count: int


class ComplaintReportRead(BaseModel):
    """CONTRACT: {period, total, by_channel, by_business_type, by_cause, by_risk_grade, within_deadline,
    regulator_transferred, …} with counts; breakdown lines carry their code (or key) and names."""

    period: str
    total: int
    within_deadline: int
    past_deadline: int
    still_open: int
    deadline_unknown: int
    regulator_transferred: int
    regulator_reported: int
    by_channel: list[ComplaintLineRead]
    by_business_type: list[ComplaintLineRead]
    by_cause: list[ComplaintLineRead]
    by_intake_channel: list[ComplaintLineRead]
    by_region: list[ComplaintLineRead]
    by_risk_grade: list[ComplaintLineRead]
    by_outcome: list[ComplaintLineRead]


def _report(period: str) -> complaints.ComplaintReport:
    chosen = periods.parse(period)
    with unit_of_work(read_only=True) as session:
        return complaints.complaint_report(session, chosen)


def _file(report: complaints.ComplaintReport, format: str) -> Response:
    name = f"complaints-{report.period.label}"
    if format == "xlsx":
        return Response(complaints.to_xlsx(report), media_type=XLSX_TYPE,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    return Response(complaints.to_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@api_router.get("/reports/complaints", response_model=ComplaintReportRead, tags=["reports"],
                responses=FILE_RESPONSES)
def complaint_report(actor: Annotated[Principal, require(P.REPORTS_EXPORT)], period: PeriodQuery,
                     format: Annotated[str, Query(pattern="^(json|csv|xlsx)$")] = "json") -> object:
    """The complaint report of a period: totals and breakdowns with counts (`format=csv|xlsx` for a file)."""
    report = _report(period)
    return report.as_dict() if format == "json" else _file(report, format)


@page_router.get("/reports/complaints")
def complaint_report_page(request: Request, actor: Annotated[Principal, require_page(P.REPORTS_EXPORT)],
                          period: Annotated[str | None, Query(max_length=30)] = None,
                          format: Annotated[str, Query(pattern="^(html|csv|xlsx)$")] = "html") -> Response:
    """The printable complaint report (last month unless a period is chosen), with CSV / XLSX downloads."""
    chosen = period or periods.last_month(clock.now()).label
    try:
        report = _report(chosen)
    except Invalid as exc:
        return render(request, "scorecard/complaint_report.html", {"report": None, "period": chosen,
                                                                    "error": exc.message}, status_code=422)
    if format != "html":
        return _file(report, format)
    return render(request, "scorecard/complaint_report.html", {
        "report": report, "period": chosen, "error": None, "figures": complaints.FIGURES,
        "sections": complaints.SECTIONS, "coded": ("by_channel", "by_business_type", "by_cause")})
