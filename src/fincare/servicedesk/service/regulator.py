"""Regulator reports: high-risk complaints and those the regulator transferred must be reported back,
each by its own deadline, and the list handed over as CSV or XLSX.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.platform import audit_trail, clock, exports
from fincare.platform.errors import Conflict, Forbidden, NotFound, one_of
from fincare.platform.permissions import Permission, Principal
from fincare.servicedesk.models import RegulatorReport, ReportStatus, RiskGrade, Ticket
from fincare.servicedesk.service import routing
from fincare.servicedesk.service.rules import MAX_REASON, add_event, clean_prose, clean_text
from fincare.sla.models import Clock, Target

# A high-risk complaint is reported within a day of receipt; a transferred one by its statutory deadline.
HIGH_RISK_REPORT_WITHIN = timedelta(hours=24)
MAX_REFERENCE = 60
EXPORT_COLUMNS = ("report_id", "ticket_reference", "reasons", "received_at", "due_at", "status", "submitted_at",
                  "regulator_reference", "risk_grade", "channel", "channel_code", "business_type_code", "cause_code",
                  "ticket_status")


def open_report(session: Session, ticket: Ticket, clocks: Sequence[Clock]) -> RegulatorReport:
    """The report record of a complaint that needs one (called at intake, in its transaction)."""
    reasons, due = [], []
    if ticket.risk_grade == RiskGrade.HIGH:
        reasons.append("high_risk")
        due.append(ticket.received_at + HIGH_RISK_REPORT_WITHIN)
    if ticket.regulator_transfer:
        reasons.append("regulator_transfer")
        statutory = next((c.due_at for c in clocks if c.target == Target.STATUTORY), None)
        due.append(statutory or ticket.received_at + HIGH_RISK_REPORT_WITHIN)
    report = RegulatorReport(ticket_id=ticket.id, reasons=reasons, due_at=min(due), status=ReportStatus.DUE,
                             created_at=clock.now())
    session.add(report)
    add_event(session, ticket, "regulator_report_opened", None, reasons=reasons, due_at=report.due_at.isoformat())
    return report


@dataclass(frozen=True)
class ReportRow:
    report: RegulatorReport
    ticket: Ticket


def list_reports(session: Session, *, status: str | None = None,
                 limit: int = 500) -> list[ReportRow]:
    """Reports, earliest deadline first."""
    query = select(RegulatorReport, Ticket).join(Ticket, Ticket.id == RegulatorReport.ticket_id)
    if status is not None:
        query = query.where(RegulatorReport.status == one_of(ReportStatus, status, "status"))
    rows = session.execute(query.order_by(RegulatorReport.due_at, RegulatorReport.id).limit(limit)).all()
    return [ReportRow(r, t) for r, t in rows]


def report_row(session: Session, report: RegulatorReport) -> ReportRow:
    ticket = session.get(Ticket, report.ticket_id)
    if ticket is None:  # the foreign key makes this impossible; mypy cannot know
        raise NotFound("the report's complaint is gone", field="report_id")
    return ReportRow(report, ticket)


def submit_report(session: Session, *, actor: Principal, report_id: int, regulator_reference: str | None,
                  note: str | None) -> RegulatorReport:
    """Record that the report went to the regulator (once; audited)."""
    if not actor.can(Permission.REGULATOR_REPORT):
        raise Forbidden("your role may not submit regulator reports", field="report_id")
    report = session.get(RegulatorReport, report_id, with_for_update=True)
    if report is None:
        raise NotFound("no such regulator report", field="report_id")
    if report.status == ReportStatus.SUBMITTED:
        raise Conflict("this report was already submitted", field="report_id")
    ticket = report_row(session, report).ticket
    routing.refuse_if_recused(session, ticket, actor, field="report_id")
    reference = clean_text(regulator_reference, "regulator_reference", MAX_REFERENCE, required=False) or None
    report.note = clean_prose(note, "note", MAX_REASON, required=False) or None
    now = clock.now()
    report.status, report.submitted_at, report.submitted_by_id = ReportStatus.SUBMITTED, now, actor.account_id
    report.regulator_reference = reference
    add_event(session, ticket, "regulator_reported", actor, at=now, report_id=report.id,
              regulator_reference=reference, late=now > report.due_at)
    audit_trail.record(session, actor=actor, action="regulator_report.submitted", subject=report,
                       before={"status": ReportStatus.DUE},
                       after={"status": ReportStatus.SUBMITTED, "regulator_reference": reference})
    return report


def export_rows(rows: Iterable[ReportRow]) -> Iterable[tuple[object, ...]]:
    """The export's rows (no personal data: tickets appear by reference and codes)."""
    for row in rows:
        r, t = row.report, row.ticket
        yield (r.id, t.reference, ";".join(r.reasons), t.received_at.isoformat(), r.due_at.isoformat(), r.status,
               r.submitted_at.isoformat() if r.submitted_at else "", r.regulator_reference or "", t.risk_grade or "",
               t.channel, t.channel_code or "", t.business_type_code or "", t.cause_code or "", t.status)


def to_csv(rows: Iterable[ReportRow]) -> str:
    return exports.to_csv([EXPORT_COLUMNS, *export_rows(rows)])


def to_xlsx(rows: Iterable[ReportRow]) -> bytes:
    return exports.to_xlsx([("regulator_reports", [EXPORT_COLUMNS, *export_rows(rows)])])
