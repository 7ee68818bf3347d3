"""Console: the supervisor board — breaches and tickets about to breach with a reassign form, each
agent's load, and what waits for a supervisor: extension requests, replies awaiting approval,
regulator reports due (with their CSV / XLSX export) and reviews due.

Thin like `views.py`: each action is one service call in one `unit_of_work()`; a refusal shows the
board again with the message by the form at fault.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from fincare.platform.db import unit_of_work
from fincare.platform.errors import Conflict, Forbidden, Invalid
from fincare.platform.exports import XLSX_TYPE
from fincare.platform.forms import FormError, Submitted, plain, text
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import PathId
from fincare.platform.web import NavItem, add_nav, render
from fincare.servicedesk import service, workspace
from fincare.servicedesk.pages import Approver, DecisionApprover, Reporter, Supervisor, common, parse_id, yes

router = APIRouter(include_in_schema=False)
add_nav(NavItem("Supervisor board", "/board", P.TICKET_ASSIGN, order=7))


def _board_page(request: Request, actor: Principal, *, error: FormError | None = None,
                typed: dict[str, str] | None = None) -> Response:
    with unit_of_work(read_only=True) as session:
        board = service.board(session)
        tickets = [*board.breached, *board.at_risk]
        named = [t.assignee_id for t in tickets] + [r.requested_by_id for r, _ in board.extensions]
        named += [d.decided_by_id for d, _ in board.approvals] + [r.reviewer_id for r, _ in board.reviews_due]
        # a complaint that names the supervisor or their unit is shown without its forms (回避)
        recused = service.recused_from(session, [*tickets, *(t for _, t in board.extensions),
                                                 *(t for _, t in board.approvals),
                                                 *(row.ticket for row in board.reports_due)], actor)
        forms = {f"reassign-{t.id}" for t in tickets if t.id not in recused}
        if actor.can(P.EXTENSION_APPROVE):
            forms |= {f"extension-{r.id}" for r, t in board.extensions if t.id not in recused}
        forms |= {f"approval-{d.id}" for d, t in board.approvals
                  if t.id not in recused and service.may_approve(actor, d)}
        if actor.can(P.REGULATOR_REPORT):
            forms |= {f"report-{row.report.id}" for row in board.reports_due if row.ticket.id not in recused}
        response = render(request, "servicedesk/board.html", {
            **common(board.now), "board": board, "choices": workspace.reassign_choices(session, tickets),
            "names": workspace.staff_names(session, named), "forms": forms, "recused": recused, "error": error,
            "typed": typed or {},
        }, status_code=error.status_code if error else 200)
    response.headers["Cache-Control"] = "no-store"
    return response


def _on_board(request: Request, actor: Principal, form_name: str, typed: dict[str, str],
              act: Callable[[Session], object]) -> Response:
    """Act in one transaction and go back to the board; or show it again with the refusal by the form."""
    try:
        plain(typed)
        with unit_of_work() as session:
            act(session)
    except (Invalid, Forbidden, Conflict) as exc:
        return _board_page(request, actor, error=FormError.of(form_name, exc), typed=typed)
    return RedirectResponse("/board", status_code=303)


@router.get("/board")
def board_page(request: Request, actor: Supervisor) -> Response:
    """Breaches and tickets about to breach, each agent's load, and what waits for a supervisor."""
    return _board_page(request, actor)


@router.post("/board/tickets/{ticket_id}/assign")
def reassign(request: Request, ticket_id: PathId, actor: Supervisor, form: Submitted) -> Response:
    """Hand a breached or at-risk ticket to a qualified colleague, with a reason."""
    typed = {"assignee_id": text(form, "assignee_id"), "reason": text(form, "reason")}

    def act(session: Session) -> None:
        ticket = service.access_ticket(session, ticket_id, actor, for_write=True)
        if parse_id(typed["assignee_id"]) is None:
            raise Invalid("choose a colleague", field="assignee_id")
        service.assign(session, actor=actor, ticket=ticket, assignee_id=int(typed["assignee_id"]),
                       reason=typed["reason"])

    return _on_board(request, actor, f"reassign-{ticket_id}", typed, act)


@router.post("/board/extension-requests/{request_id}")
def decide_extension(request: Request, request_id: PathId, actor: Supervisor, _approver: Approver,
                     form: Submitted) -> Response:
    """Grant a handler's request for more time (the deadline moves on) or refuse it with a note."""
    typed = {"approve": text(form, "approve"), "note": text(form, "note")}

    def act(session: Session) -> None:
        service.decide_extension(session, actor=actor, request_id=request_id, approve=yes(typed["approve"]),
                                 note=typed["note"] or None)

    return _on_board(request, actor, f"extension-{request_id}", typed, act)


@router.post("/board/decisions/{decision_id}/approval")
def approve_on_board(request: Request, decision_id: PathId, actor: Supervisor, _approver: DecisionApprover,
                     form: Submitted) -> Response:
    """Release a high-risk complaint's waiting reply, or send it back with a note."""
    typed = {"approve": text(form, "approve"), "note": text(form, "note")}

    def act(session: Session) -> None:
        service.approve_decision(session, actor=actor, decision_id=decision_id, approve=yes(typed["approve"]),
                                 note=typed["note"] or None)

    return _on_board(request, actor, f"approval-{decision_id}", typed, act)


@router.post("/board/regulator-reports/{report_id}")
def submit_report(request: Request, report_id: PathId, actor: Supervisor, _reporter: Reporter,
                  form: Submitted) -> Response:
    """Record that the report went to the regulator, with the regulator's reference."""
    typed = {"regulator_reference": text(form, "regulator_reference"), "note": text(form, "note")}

    def act(session: Session) -> None:
        service.submit_report(session, actor=actor, report_id=report_id,
                              regulator_reference=typed["regulator_reference"] or None, note=typed["note"] or None)

    return _on_board(request, actor, f"report-{report_id}", typed, act)


def _export(status: str | None, render_rows: Callable[[list[service.ReportRow]], str | bytes], media_type: str,
            filename: str) -> Response:
    with unit_of_work(read_only=True) as session:
        rows = service.list_reports(session, status=status or None, limit=100_000)
        return Response(render_rows(rows), media_type=media_type,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                 "Cache-Control": "no-store"})


ReportStatusQuery = Annotated[str | None, Query(max_length=12)]


@router.get("/board/regulator-reports.csv")
def export_reports_csv(actor: Reporter, status: ReportStatusQuery = None) -> Response:
    """The regulator reports as CSV (tickets by reference and codes; no personal data)."""
    return _export(status, service.to_csv, "text/csv; charset=utf-8", "regulator-reports.csv")


@router.get("/board/regulator-reports.xlsx")
def export_reports_xlsx(actor: Reporter, status: ReportStatusQuery = None) -> Response:
    """The regulator reports as an XLSX workbook."""
    return _export(status, service.to_xlsx, XLSX_TYPE, "regulator-reports.xlsx")
