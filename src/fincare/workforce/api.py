"""Rosters over REST: skills and shifts set by roster managers, availability by oneself or them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from fincare.platform.db import unit_of_work
from fincare.platform.http import require
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import PathId
from fincare.workforce import service
from fincare.workforce.schemas import AvailabilityIn, RosterRead, ShiftsIn, SkillsIn

router = APIRouter(prefix="/api/v1/staff", tags=["workforce"])
Manager = Annotated[Principal, require(P.ROSTER_MANAGE)]


@router.get("/{account_id}/roster", response_model=RosterRead)
def read(account_id: PathId, actor: Annotated[Principal, require(P.CONSOLE)]) -> RosterRead:
    """One's own roster, or (roster managers) anyone's."""
    with unit_of_work(read_only=True) as session:
        return RosterRead.of(service.read_roster(session, actor=actor, account_id=account_id))


@router.put("/{account_id}/skills", response_model=RosterRead)
def skills(account_id: PathId, body: SkillsIn, actor: Manager) -> RosterRead:
    with unit_of_work() as session:
        return RosterRead.of(service.set_skills(session, actor=actor, account_id=account_id, skills=body.skills))


@router.put("/{account_id}/shifts", response_model=RosterRead)
def shifts(account_id: PathId, body: ShiftsIn, actor: Manager) -> RosterRead:
    """Replace the weekly pattern; an empty list means "works whenever available"."""
    with unit_of_work() as session:
        return RosterRead.of(service.set_shifts(session, actor=actor, account_id=account_id,
                                                shifts=service.parse_shifts(body.raw())))


@router.put("/{account_id}/availability", response_model=RosterRead)
def availability(account_id: PathId, body: AvailabilityIn, actor: Annotated[Principal, require(P.CONSOLE)]
                 ) -> RosterRead:
    """Available or away (optionally until a time): oneself, or (roster managers) anyone."""
    with unit_of_work() as session:
        return RosterRead.of(service.set_availability(session, actor=actor, account_id=account_id,
                                                      presence=body.presence, until=body.until, reason=body.reason))
