"""Rosters for tests: who is on duty decides where routing sends a ticket."""

from __future__ import annotations

from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM
from fincare.workforce import service as workforce
from tests.factories.accounts import Staff


def away(*staff: Staff) -> None:
    """Mark staff away so routing passes them by (tickets then wait unassigned)."""
    with unit_of_work() as session:
        for member in staff:
            workforce.set_availability(session, actor=SYSTEM, account_id=member.id, presence="away")
