"""Console: the signed-in staff member's inbox (breaches, warnings), newest first."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fincare.platform import notify, web
from fincare.platform.db import unit_of_work
from fincare.platform.http import require_page
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.web import NavItem, add_nav, render

router = APIRouter(include_in_schema=False)
web.add_templates("notify", Path(__file__).parent / "templates")
add_nav(NavItem("Notifications", "/notifications", P.CONSOLE, order=5))
Own = Annotated[Principal, require_page(P.CONSOLE)]


@router.get("/notifications")
def inbox_page(request: Request, actor: Own) -> Response:
    assert actor.account_id is not None
    with unit_of_work(read_only=True) as session:
        rows = notify.inbox(session, account_id=actor.account_id, limit=100)
        unread = notify.count_unread(session, account_id=actor.account_id)
    return render(request, "notify/inbox.html", {"notifications": rows, "unread": unread})


@router.post("/notifications/read")
def mark_all_read(request: Request, actor: Own) -> Response:
    assert actor.account_id is not None
    with unit_of_work() as session:
        notify.mark_read(session, account_id=actor.account_id)
    return RedirectResponse("/notifications", status_code=303)
