"""Follow-ups and surveys for tests: resolutions delivered to the follow-ups domain as the worker would."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from fincare.followups import jobs as followup_jobs
from fincare.platform.db import unit_of_work
from fincare.platform.jobs.models import Job
from tests.factories.accounts import Staff
from tests.factories.tickets import decide_via_api, open_via_api


def resolution_payloads() -> list[dict[str, Any]]:
    with unit_of_work(read_only=True) as session:
        return [j.payload for j in session.execute(select(Job).where(Job.event == "servicedesk.ticket_resolved")
                                                   .order_by(Job.id)).scalars()]


def deliver_resolutions(times: int = 1, *, payloads: list[dict[str, Any]] | None = None) -> None:
    """Run the follow-ups' handler on the queued resolutions, `times` times each (a redelivery)."""
    for payload in payloads if payloads is not None else resolution_payloads():
        for _ in range(times):
            with unit_of_work() as session:
                followup_jobs.after_resolution(session, **payload)


def resolved_complaint(client: TestClient, handler: Staff, customer_id: int | None = None,
                       **overrides: Any) -> dict[str, Any]:
    ticket = open_via_api(client, handler, customer_id, kind="complaint", **overrides)
    decide_via_api(client, handler, ticket["id"])
    return ticket
