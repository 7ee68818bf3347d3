"""Roster request and response bodies."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from pydantic import Field

from fincare.platform.schemas import Moment, RequestBody, ResponseBody
from fincare.workforce.service import MAX_REASON, MAX_SHIFTS, Roster


class SkillsIn(RequestBody):
    skills: list[str] = Field(max_length=20, description="deposits | loans | cards | payments | wealth | insurance")


class ShiftIn(RequestBody):
    weekday: int = Field(description="0 Monday … 6 Sunday")
    starts: str = Field(max_length=8, description="local time, e.g. 09:00")
    ends: str = Field(max_length=8, description="local time; earlier than `starts` runs past midnight")


class ShiftsIn(RequestBody):
    shifts: list[ShiftIn] = Field(max_length=MAX_SHIFTS)

    def raw(self) -> list[dict[str, Any]]:
        return [s.model_dump() for s in self.shifts]


class AvailabilityIn(RequestBody):
    presence: str = Field(max_length=12, description="available | away")
    until: Moment | None = Field(default=None, description="an absence ends by itself at this time")
    reason: str | None = Field(default=None, max_length=MAX_REASON)


class ShiftRead(ResponseBody):
    weekday: int
    starts: time
    ends: time


class RosterRead(ResponseBody):
    account_id: int
    skills: list[str]
    shifts: list[ShiftRead]
    presence: str
    away_until: datetime | None
    reason: str | None

    @classmethod
    def of(cls, roster: Roster) -> RosterRead:
        return cls(account_id=roster.account_id, skills=sorted(roster.skills),
                   shifts=[ShiftRead(weekday=s.weekday, starts=s.starts, ends=s.ends) for s in roster.shifts],
                   presence=roster.presence, away_until=roster.away_until, reason=roster.reason)
