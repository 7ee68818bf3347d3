"""Every create in the API takes an `Idempotency-Key`, so a client may retry any of them after a lost
answer (README: "Every create accepts `Idempotency-Key`")."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from fincare.app import PUBLIC_ROUTES
from fincare.platform.idempotency import IdempotencyKey


def takes_a_key(route: APIRoute) -> bool:
    wanted = IdempotencyKey.__metadata__[0].dependency  # type: ignore[attr-defined]
    stack: list[Any] = [route.dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is wanted:
            return True
        stack.extend(dependant.dependencies)
    return False


# creates that answer with the record they add to (200), not with a new resource (201)
ADDING_TO = {"/api/v1/measures/{measure_id}/progress", "/api/v1/followups/{follow_up_id}/outcome"}


def test_every_create_takes_an_idempotency_key(app) -> None:  # type: ignore[no-untyped-def]
    creates = [r for r in app.routes if isinstance(r, APIRoute) and "POST" in r.methods
               and (r.status_code == 201 or r.path in ADDING_TO) and r.path not in PUBLIC_ROUTES]
    assert len(creates) > 10 and {r.path for r in creates} >= ADDING_TO
    assert [r.path for r in creates if not takes_a_key(r)] == []
