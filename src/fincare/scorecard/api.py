"""The scorecard over REST: KPIs for a period, the measures plan, and the reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from fincare.platform.db import unit_of_work
from fincare.platform.http import require
from fincare.platform.idempotency import IdempotencyKey
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import PathId
from fincare.scorecard import periods, reports, service
from fincare.scorecard.schemas import KpiRead, MeasureIn, MeasurePatch, MeasureRead, NoteRead, ProgressIn

router = APIRouter(prefix="/api/v1", tags=["scorecard"])
router.include_router(reports.api_router)
Reader = Annotated[Principal, require(P.KPI_READ)]


@router.get("/kpis", response_model=list[KpiRead])
def kpis(actor: Reader, period: Annotated[str, Query(max_length=30, description=periods.HELP)]) -> list[KpiRead]:
    """Every KPI of CONTRACT for the period; a KPI without data has `actual: null` and the `reason`.

    A closed period's figures are its snapshot; a later correction is a new `revision`.
    """
    chosen = periods.parse(period)
    with unit_of_work() as session:  # a closed period's first reading takes its snapshot
        return [KpiRead.of(r, actor.language) for r in service.scorecard(session, chosen)]


@router.get("/measures", response_model=list[MeasureRead])
def measures(actor: Reader, department: Annotated[str | None, Query(max_length=40)] = None) -> list[MeasureRead]:
    """The measures plan, soonest deadline first, overdue ones flagged."""
    with unit_of_work(read_only=True) as session:
        return [MeasureRead.of(row) for row in service.list_plan(session, department=department)]


@router.get("/measures/{measure_id}/notes", response_model=list[NoteRead])
def notes(measure_id: PathId, actor: Reader) -> list[NoteRead]:
    """A measure's progress notes, oldest first."""
    with unit_of_work(read_only=True) as session:
        return [NoteRead.model_validate(n) for n in service.notes_of(session, measure_id)]


@router.post("/measures/{measure_id}/progress", response_model=MeasureRead)
def progress(measure_id: PathId, body: ProgressIn, actor: Reader, idem: IdempotencyKey) -> JSONResponse:
    """A progress note (with the new percentage or status) by the owner department or a plan manager;
    send an `Idempotency-Key`: a retry must not add the note twice."""
    with unit_of_work() as session:
        def add() -> MeasureRead:
            service.record_progress(session, actor=actor, measure_id=measure_id, text=body.text,
                                    progress=body.progress, status=body.status)
            return _row(session, measure_id)

        return idem.run(session, actor, add, status_code=200)


def _row(session: Session, measure_id: int) -> MeasureRead:
    return MeasureRead.of(service.plan_row(session, measure_id))


@router.post("/measures", status_code=201, response_model=MeasureRead)
def add_measure(body: MeasureIn, actor: Annotated[Principal, require(P.MEASURES_MANAGE)],
                idem: IdempotencyKey) -> JSONResponse:
    """A new measure of the plan, with its owner department, dates, cadence and the KPIs that show it."""
    with unit_of_work() as session:
        def add() -> MeasureRead:
            measure = service.add_measure(session, actor=actor, key=body.key, title_zh=body.title_zh,
                                          title_en=body.title_en, owner_department=body.owner_department,
                                          starts_on=body.starts_on, due_on=body.due_on, cadence=body.cadence,
                                          kpi_keys=body.kpi_keys)
            return _row(session, measure.id)

        return idem.run(session, actor, add)


@router.patch("/measures/{measure_id}", response_model=MeasureRead)
def revise_measure(measure_id: PathId, body: MeasurePatch,
                   actor: Annotated[Principal, require(P.MEASURES_MANAGE)]) -> MeasureRead:
    """Change a measure's titles, owner, dates, cadence or KPIs (audited before and after)."""
    with unit_of_work() as session:
        service.revise_measure(session, actor=actor, measure_id=measure_id, changes=body.changes())
        return _row(session, measure_id)
