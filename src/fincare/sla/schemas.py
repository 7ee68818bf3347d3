"""SLA policy and calendar bodies."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from fincare.platform.schemas import RequestBody, ResponseBody


class PolicyRead(ResponseBody):
    id: int
    key: str
    version: int
    kind: str
    priority: str | None
    risk_grade: str | None
    channel: str | None
    target: str
    minutes: int
    calendar: str
    active: bool
    created_at: datetime


class RevisionIn(RequestBody):
    minutes: int = Field(ge=1, le=60 * 24 * 90)
    calendar: str | None = Field(default=None, pattern="^(24x7|business)$")


class OverrideIn(RequestBody):
    workday: bool
    note: str = Field(max_length=200)


class OverrideRead(ResponseBody):
    day: date
    workday: bool
    note: str
