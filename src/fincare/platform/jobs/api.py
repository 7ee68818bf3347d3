"""Background jobs over REST: admins see failures and retry parked jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from fincare.platform import jobs
from fincare.platform.db import unit_of_work
from fincare.platform.http import require
from fincare.platform.jobs.models import Job, JobState
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import MAX_BIG_ID, BigPathId, ResponseBody

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


class JobRead(ResponseBody):
    id: int
    event: str
    handler: str | None
    payload: dict[str, Any]
    state: str
    attempts: int
    max_attempts: int
    run_at: datetime
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobRead:
        return cls.model_validate(job)


@router.get("", response_model=list[JobRead])
def list_jobs(actor: Annotated[Principal, require(P.JOBS_MANAGE)], state: JobState | None = None,
              event: Annotated[str | None, Query(max_length=120)] = None,
              before_id: Annotated[int | None, Query(ge=1, le=MAX_BIG_ID)] = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[JobRead]:
    with unit_of_work() as session:
        return [JobRead.of(j) for j in jobs.list_jobs(session, state=state, event=event, before_id=before_id,
                                                       limit=limit)]


@router.post("/{job_id}/retry", response_model=JobRead)
def retry(job_id: BigPathId, actor: Annotated[Principal, require(P.JOBS_MANAGE)]) -> JobRead:
    with unit_of_work() as session:
        return JobRead.of(jobs.retry_job(session, job_id=job_id, actor=actor))
