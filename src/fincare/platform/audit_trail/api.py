"""The audit trail over REST: browse (auditors) and verify."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from fincare.platform import audit_trail
from fincare.platform.audit_trail.models import AuditEntry
from fincare.platform.db import unit_of_work
from fincare.platform.http import require
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import MAX_BIG_ID, MAX_ID, MomentOrUTC, ResponseBody

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditEntryRead(ResponseBody):
    id: int
    seq: int | None
    occurred_at: datetime
    kind: str
    actor_id: int | None
    actor_name: str
    action: str
    subject_type: str | None
    subject_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    request_id: str | None
    source_ip: str | None
    hash: str | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryRead:
        return cls.model_validate(entry)


class VerifyRead(ResponseBody):
    ok: bool
    checked: int
    pending: int
    head_seq: int
    first_bad_seq: int | None
    first_bad_id: int | None
    problem: str | None


@router.get("", response_model=list[AuditEntryRead])
def list_audit(
    actor: Annotated[Principal, require(P.AUDIT_READ)],
    actor_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    action: Annotated[str | None, Query(max_length=80)] = None,
    subject_type: Annotated[str | None, Query(max_length=60)] = None,
    subject_id: Annotated[str | None, Query(max_length=60)] = None,
    kind: Annotated[str | None, Query(pattern="^(change|read)$")] = None,
    since: MomentOrUTC | None = None,
    until: MomentOrUTC | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_BIG_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[AuditEntryRead]:
    """Newest first; pass the last `id` as `before_id` for the next page."""
    with unit_of_work() as session:
        entries = audit_trail.list_entries(session, actor_id=actor_id, action=action, subject_type=subject_type,
                                           subject_id=subject_id, kind=kind, since=_aware(since),
                                           until=_aware(until), before_id=before_id, limit=limit)
        return [AuditEntryRead.of(e) for e in entries]


@router.get("/verify", response_model=VerifyRead)
def verify_audit(actor: Annotated[Principal, require(P.AUDIT_READ)]) -> VerifyRead:
    """Seal what is pending, then walk the whole chain; names the first bad entry."""
    with unit_of_work() as session:
        return VerifyRead(**audit_trail.verify(session).as_dict())


def _aware(value: datetime | None) -> datetime | None:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
