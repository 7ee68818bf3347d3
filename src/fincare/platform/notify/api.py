"""The signed-in staff member's own inbox over REST."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field

from fincare.platform import notify
from fincare.platform.db import unit_of_work
from fincare.platform.http import require
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import Ids, RequestBody, ResponseBody

router = APIRouter(prefix="/api/v1", tags=["notifications"])
Own = Annotated[Principal, require(P.CONSOLE)]


class NotificationRead(ResponseBody):
    id: int
    kind: str
    params: dict[str, Any]
    link: str | None
    created_at: datetime
    read_at: datetime | None


class ReadIn(RequestBody):
    ids: list[Ids] | None = Field(default=None, max_length=500, description="none: all of them")


@router.get("/notifications", response_model=list[NotificationRead])
def own_inbox(actor: Own, unread: bool = False) -> list[NotificationRead]:
    """Your notifications, newest first."""
    assert actor.account_id is not None
    with unit_of_work(read_only=True) as session:
        return [NotificationRead.model_validate(n)
                for n in notify.inbox(session, account_id=actor.account_id, unread_only=unread)]


@router.post("/notifications/read")
def mark_read(body: ReadIn, actor: Own) -> dict[str, int]:
    """Mark your notifications read (these ids, or all); returns how many changed."""
    assert actor.account_id is not None
    with unit_of_work() as session:
        return {"marked": notify.mark_read(session, account_id=actor.account_id, notification_ids=body.ids)}
