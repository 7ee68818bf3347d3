"""SLA policies and the business calendar over REST: read by the desk's supervisors, changed by admins."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Response
from fastapi import Path as UrlPath
from fastapi.responses import JSONResponse

from fincare.platform.db import unit_of_work
from fincare.platform.http import require
from fincare.platform.idempotency import IdempotencyKey
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import PathId
from fincare.sla import service
from fincare.sla.models import CalendarKind
from fincare.sla.schemas import OverrideIn, OverrideRead, PolicyRead, RevisionIn

router = APIRouter(prefix="/api/v1/sla", tags=["sla"])
Manager = Annotated[Principal, require(P.SLA_POLICY_MANAGE)]
Day = Annotated[date, UrlPath(description="a local date, e.g. 2026-10-08")]


@router.get("/policies", response_model=list[PolicyRead])
def policies(actor: Annotated[Principal, require(P.SLA_POLICY_READ)], history: bool = False) -> list[PolicyRead]:
    """The targets in force (with `history=true`, every version); a clock keeps the version it started with."""
    with unit_of_work(read_only=True) as session:
        return [PolicyRead.model_validate(p) for p in service.list_policies(session, include_history=history)]


@router.post("/policies/{policy_id}/revisions", status_code=201, response_model=PolicyRead)
def revise(policy_id: PathId, body: RevisionIn, actor: Manager, idem: IdempotencyKey) -> JSONResponse:
    """A new version of one policy target; running clocks are not changed."""
    with unit_of_work() as session:
        policy = service.get_policy(session, policy_id, lock=True)
        calendar = CalendarKind(body.calendar) if body.calendar else None
        return idem.run(session, actor, lambda: PolicyRead.model_validate(service.revise_policy(
            session, actor=actor, policy=policy, minutes=body.minutes, calendar=calendar)))


@router.get("/calendar/overrides", response_model=list[OverrideRead])
def overrides(actor: Annotated[Principal, require(P.SLA_POLICY_READ)]) -> list[OverrideRead]:
    """The institution's own closed days and extra workdays (beside the official holidays and 调休)."""
    with unit_of_work(read_only=True) as session:
        return [OverrideRead.model_validate(o) for o in service.list_calendar_overrides(session)]


@router.put("/calendar/overrides/{day}", response_model=OverrideRead)
def set_override(day: Day, body: OverrideIn, actor: Manager) -> OverrideRead:
    with unit_of_work() as session:
        return OverrideRead.model_validate(service.set_calendar_override(session, actor=actor, day=day,
                                                                         workday=body.workday, note=body.note))


@router.delete("/calendar/overrides/{day}", status_code=204)
def remove_override(day: Day, actor: Manager) -> Response:
    with unit_of_work() as session:
        service.remove_calendar_override(session, actor=actor, day=day)
    return Response(status_code=204)
