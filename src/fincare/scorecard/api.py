"""The scorecard over REST: KPIs for a period, the measures plan, and the reports."""

from __future__ import annotations

from fastapi import APIRouter

from fincare.scorecard import reports

router = APIRouter(prefix="/api/v1", tags=["scorecard"])
router.include_router(reports.api_router)
