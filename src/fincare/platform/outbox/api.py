"""The outbox over REST: admins see parked (or any) messages with their errors and retry them.

Recipients appear masked; subject lines and bodies are not shown (they may hold personal data).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from fincare.platform import outbox
from fincare.platform.db import unit_of_work
from fincare.platform.http import require
from fincare.platform.outbox.models import Channel, MessageStatus, OutboundMessage
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import MAX_BIG_ID, BigPathId, ResponseBody

router = APIRouter(prefix="/api/v1/outbox", tags=["outbox"])
Admin = Annotated[Principal, require(P.JOBS_MANAGE)]


class OutboundMessageRead(ResponseBody):
    id: int
    channel: str
    recipient: str  # masked
    language: str
    template: str
    subject_type: str | None
    subject_id: int | None
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    sent_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, message: OutboundMessage) -> OutboundMessageRead:
        return cls(id=message.id, channel=message.channel, recipient=message.recipient_mask,
                   language=message.language, template=message.template, subject_type=message.subject_type,
                   subject_id=message.subject_id, status=message.status, attempts=message.attempts,
                   last_error=message.last_error, next_attempt_at=message.next_attempt_at,
                   sent_at=message.sent_at, created_at=message.created_at)


@router.get("", response_model=list[OutboundMessageRead])
def list_messages(actor: Admin, status: MessageStatus | None = None, channel: Channel | None = None,
                  subject_type: Annotated[str | None, Query(max_length=40)] = None,
                  subject_id: Annotated[int | None, Query(ge=1, le=MAX_BIG_ID)] = None,
                  before_id: Annotated[int | None, Query(ge=1, le=MAX_BIG_ID)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[OutboundMessageRead]:
    """Newest first; `?status=parked` lists what needs an admin. Page with `before_id`."""
    subject = (subject_type, subject_id) if subject_type and subject_id else None
    with unit_of_work(read_only=True) as session:
        return [OutboundMessageRead.of(m) for m in outbox.list_messages(
            session, status=status, channel=channel, subject=subject, before_id=before_id, limit=limit)]


@router.post("/{message_id}/retry", response_model=OutboundMessageRead)
def retry(message_id: BigPathId, actor: Admin) -> OutboundMessageRead:
    """Queue a parked message again with a fresh set of attempts (409 unless it is parked)."""
    with unit_of_work() as session:
        return OutboundMessageRead.of(outbox.retry(session, message_id, actor=actor))
