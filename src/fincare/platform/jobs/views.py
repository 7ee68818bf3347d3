"""Console: admins see parked and failing jobs with their errors, and retry them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fincare.platform import jobs
from fincare.platform.db import unit_of_work
from fincare.platform.http import require_page
from fincare.platform.jobs.models import JobState
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import BigPathId
from fincare.platform.web import NavItem, add_nav, render

router = APIRouter(include_in_schema=False)
add_nav(NavItem("Background jobs", "/admin/jobs", P.JOBS_MANAGE, order=910))


@router.get("/admin/jobs")
def jobs_page(request: Request, actor: Annotated[Principal, require_page(P.JOBS_MANAGE)],
              state: JobState | None = JobState.PARKED) -> Response:
    with unit_of_work() as session:
        rows = jobs.list_jobs(session, state=state, limit=100)
    return render(request, "jobs.html", {"jobs": rows, "state": state, "states": list(JobState)})


@router.post("/admin/jobs/{job_id}/retry")
def retry(request: Request, job_id: BigPathId, actor: Annotated[Principal, require_page(P.JOBS_MANAGE)]) -> Response:
    with unit_of_work() as session:
        jobs.retry_job(session, job_id=job_id, actor=actor)
    return RedirectResponse("/admin/jobs", status_code=303)
