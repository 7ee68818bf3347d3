"""Console: auditors browse, filter and verify the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from fincare.platform import audit_trail
from fincare.platform.db import unit_of_work
from fincare.platform.http import require_page
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import MAX_BIG_ID, MAX_ID
from fincare.platform.web import NavItem, add_nav, render

router = APIRouter(include_in_schema=False)
add_nav(NavItem("Audit trail", "/audit", P.AUDIT_READ, order=800))


@router.get("/audit")
def audit_page(
    request: Request,
    actor: Annotated[Principal, require_page(P.AUDIT_READ)],
    action: Annotated[str | None, Query(max_length=80)] = None,
    subject_type: Annotated[str | None, Query(max_length=60)] = None,
    subject_id: Annotated[str | None, Query(max_length=60)] = None,
    actor_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    kind: Annotated[str | None, Query(pattern="^(change|read)?$")] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_BIG_ID)] = None,
) -> Response:
    with unit_of_work() as session:
        entries = audit_trail.list_entries(session, action=action or None, subject_type=subject_type or None,
                                           subject_id=subject_id or None, actor_id=actor_id,
                                           kind=kind or None, before_id=before_id, limit=50)
    filters = {"action": action or "", "subject_type": subject_type or "", "subject_id": subject_id or "",
               "actor_id": actor_id or "", "kind": kind or ""}
    return render(request, "audit.html", {"entries": entries, "filters": filters, "result": None})


@router.post("/audit/verify")
def audit_verify(request: Request, actor: Annotated[Principal, require_page(P.AUDIT_READ)]) -> Response:
    with unit_of_work() as session:
        result = audit_trail.verify(session)
        entries = audit_trail.list_entries(session, limit=50)
    filters = {"action": "", "subject_type": "", "subject_id": "", "actor_id": "", "kind": ""}
    return render(request, "audit.html", {"entries": entries, "filters": filters, "result": result})
