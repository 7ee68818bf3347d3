"""Console: the management dashboard and the printable reports."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from fincare.platform import web
from fincare.scorecard import reports

web.add_templates("scorecard", Path(__file__).parent / "templates" / "scorecard")
router = APIRouter(include_in_schema=False)
router.include_router(reports.page_router)
