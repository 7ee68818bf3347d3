"""Scorecard response bodies."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from fincare.platform.schemas import RequestBody, ResponseBody
from fincare.scorecard.service import KpiResult, PlanRow
from fincare.scorecard.service.plan import MAX_NOTE


class KpiRead(ResponseBody):
    """CONTRACT: {key, name, owner, target, actual, unit, met} — and what else a reader needs."""

    key: str
    name: str
    name_zh: str
    name_en: str
    owner: str
    target: float
    direction: str
    actual: float | None
    unit: str
    met: bool | None
    cadence: str
    period: str
    basis: int
    reason: str | None
    revision: int | None
    revised_from: float | None
    computed_at: datetime

    @classmethod
    def of(cls, result: KpiResult, language: str) -> KpiRead:
        kpi = result.kpi
        return cls(key=kpi.key, name=kpi.name_zh if language == "zh-CN" else kpi.name_en, name_zh=kpi.name_zh,
                   name_en=kpi.name_en, owner=kpi.owner, target=kpi.target, direction=kpi.direction,
                   actual=result.actual, unit=kpi.unit, met=result.met, cadence=kpi.cadence, period=result.period,
                   basis=result.basis, reason=result.reason, revision=result.revision,
                   revised_from=result.revised_from, computed_at=result.computed_at)


class MeasureRead(ResponseBody):
    id: int
    key: str
    title_zh: str
    title_en: str
    owner_department: str
    starts_on: date
    due_on: date
    cadence: str
    status: str
    progress: int
    kpi_keys: list[str]
    overdue: bool

    @classmethod
    def of(cls, row: PlanRow) -> MeasureRead:
        m = row.measure
        return cls(id=m.id, key=m.key, title_zh=m.title_zh, title_en=m.title_en, owner_department=m.owner_department,
                   starts_on=m.starts_on, due_on=m.due_on, cadence=m.cadence, status=m.status, progress=m.progress,
                   kpi_keys=list(m.kpi_keys), overdue=row.overdue)


class MeasureIn(RequestBody):
    key: str = Field(max_length=60)
    title_zh: str = Field(max_length=200)
    title_en: str = Field(max_length=200)
    owner_department: str = Field(max_length=40, description="a department code")
    starts_on: date
    due_on: date
    cadence: str = Field(max_length=12, description="monthly | quarterly | half_yearly")
    kpi_keys: list[str] = Field(default_factory=list, max_length=20)


class MeasurePatch(RequestBody):
    title_zh: str | None = Field(default=None, max_length=200)
    title_en: str | None = Field(default=None, max_length=200)
    owner_department: str | None = Field(default=None, max_length=40)
    starts_on: date | None = None
    due_on: date | None = None
    cadence: str | None = Field(default=None, max_length=12)
    kpi_keys: list[str] | None = Field(default=None, max_length=20)

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True)


class NoteRead(ResponseBody):
    id: int
    at: datetime
    author_id: int | None
    text: str
    progress: int | None
    status: str | None


class ProgressIn(RequestBody):
    text: str = Field(max_length=MAX_NOTE)
    progress: int | None = Field(default=None, description="percent, 0 to 100")
    status: str | None = Field(default=None, max_length=12, description="planned | in_progress | done | cancelled")
