"""Append, seal, verify and browse the audit trail. Nothing here updates or deletes an entry."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, inspect, select, update
from sqlalchemy.orm import Session

from fincare.platform import clock, context, crypto
from fincare.platform.audit_trail.models import AuditChainHead, AuditEntry
from fincare.platform.db import Base, new_row
from fincare.platform.masking import mask_fields
from fincare.platform.permissions import Principal

GENESIS = "0" * 64
HEAD_ID = 1

Subject = Base | tuple[str, int | str] | None


def _plain(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """JSON-safe, personal fields masked: exactly what is stored is what gets hashed."""
    if doc is None:
        return None
    masked = mask_fields(doc)
    return json.loads(json.dumps(masked, default=str, ensure_ascii=False))  # type: ignore[no-any-return]


def _subject_ref(session: Session, subject: Subject) -> tuple[str | None, str | None]:
    if subject is None:
        return None, None
    if isinstance(subject, tuple):
        return subject[0], str(subject[1])
    identity = inspect(subject).identity
    if identity is None:
        session.flush()
        identity = inspect(subject).identity
    assert identity is not None
    return subject.__tablename__, ":".join(str(part) for part in identity)


def record(
    session: Session,
    *,
    actor: Principal,
    action: str,
    subject: Subject = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    kind: str = "change",
) -> AuditEntry:
    """Append an entry in the caller's transaction; it is sealed into the chain after commit."""
    entry = new_entry(actor=actor, action=action, subject=_subject_ref(session, subject), before=before,
                      after=after, reason=reason, kind=kind)
    session.add(entry)
    return entry


def new_entry(
    *,
    actor: Principal,
    action: str,
    subject: tuple[str | None, int | str | None],
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    kind: str = "change",
) -> AuditEntry:
    """An entry not yet added, for a caller that writes it with its own rows (`db.insert_new`)."""
    return new_row(
        AuditEntry,
        occurred_at=clock.now(),
        kind=kind,
        actor_id=actor.account_id,
        actor_name=actor.username,
        action=action,
        subject_type=subject[0],
        subject_id=None if subject[1] is None else str(subject[1]),
        before=_plain(before),
        after=_plain(after),
        reason=reason,
        request_id=actor.request_id or context.request_id.get(),
        source_ip=actor.source_ip or context.source_ip.get(),
    )


def _canonical(entry: Any, seq: int) -> bytes:
    doc = {
        "id": entry.id,
        "seq": seq,
        "occurred_at": entry.occurred_at.isoformat(timespec="microseconds"),
        "kind": entry.kind,
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "action": entry.action,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
        "request_id": entry.request_id,
        "source_ip": entry.source_ip,
    }
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def entry_hash(prev_hash: str, entry: Any, seq: int) -> str:
    """The chain hash of `entry` (an AuditEntry or a row of its table) sealed as number `seq`.

    HMAC-SHA256 under a key derived from the master key, which never enters the database: whoever
    can only write to the database cannot forge a consistent chain after editing it.
    """
    return crypto.keyed_digest("audit-chain", prev_hash.encode() + b"\n" + _canonical(entry, seq)).hex()


def _lock_head(session: Session) -> AuditChainHead:
    head = session.execute(
        select(AuditChainHead).where(AuditChainHead.id == HEAD_ID).with_for_update()
    ).scalar_one_or_none()
    if head is None:  # a database created without the migration's seed row
        head = AuditChainHead(id=HEAD_ID, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    return head


def seal_pending(session: Session, *, limit: int = 5000) -> int:
    """Chain up to `limit` committed, unsealed entries in id order; returns how many were sealed.

    Idempotent and safe with several sealers: the head row lock serialises them.
    """
    head = _lock_head(session)
    table = AuditEntry.__table__  # Core rows: no identity map to grow while sealing
    pending = session.execute(
        select(table).where(table.c.seq.is_(None)).order_by(table.c.id).limit(limit)
    ).all()
    if not pending:
        return 0
    seq, prev = head.seq, head.hash
    rows = []
    for entry in pending:
        seq += 1
        digest = entry_hash(prev, entry, seq)
        rows.append({"b_id": entry.id, "b_seq": seq, "b_prev": prev, "b_hash": digest})
        prev = digest
    stmt = (
        update(AuditEntry)
        .where(AuditEntry.id == bindparam("b_id"), AuditEntry.seq.is_(None))
        .values(seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash"))
    )
    session.connection().execute(stmt, rows)
    head.seq, head.hash, head.sealed_at = seq, prev, clock.now()
    session.flush()
    return len(rows)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    pending: int
    head_seq: int
    first_bad_seq: int | None = None
    first_bad_id: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "checked": self.checked, "pending": self.pending, "head_seq": self.head_seq,
            "first_bad_seq": self.first_bad_seq, "first_bad_id": self.first_bad_id, "problem": self.problem,
        }


def verify(session: Session, *, seal: bool = True, batch: int = 5000) -> VerifyResult:
    """Walk the chain from the start; report the first entry that does not fit.

    With `seal`, committed entries still waiting for the sealer are chained first, so the answer
    covers everything written so far.
    """
    if seal:
        while seal_pending(session, limit=batch) == batch:
            pass
    head = session.get(AuditChainHead, HEAD_ID)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    pending = session.execute(select(func.count()).select_from(AuditEntry).where(AuditEntry.seq.is_(None))).scalar_one()
    expected_seq, prev, checked = 1, GENESIS, 0

    def bad(entry_seq: int | None, entry_id: int | None, problem: str) -> VerifyResult:
        return VerifyResult(ok=False, checked=checked, pending=pending, head_seq=head_seq,
                            first_bad_seq=entry_seq, first_bad_id=entry_id, problem=problem)

    table = AuditEntry.__table__
    last_seq = 0
    while True:
        entries = session.execute(
            select(table).where(table.c.seq > last_seq).order_by(table.c.seq).limit(batch)
        ).all()
        if not entries:
            break
        for entry in entries:
            assert entry.seq is not None
            if entry.seq != expected_seq:
                return bad(expected_seq, entry.id,
                           f"entry #{expected_seq} is missing (deleted); the chain jumps to #{entry.seq}")
            if entry.prev_hash != prev:
                return bad(entry.seq, entry.id,
                           f"entry #{entry.seq} does not follow #{entry.seq - 1} (inserted or reordered)")
            if entry_hash(prev, entry, entry.seq) != entry.hash:
                return bad(entry.seq, entry.id, f"entry #{entry.seq} was altered after it was sealed")
            prev, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
        last_seq = entries[-1].seq
    if checked != head_seq or prev != head_hash:
        return bad(checked + 1, None,
                   f"the chain ends at #{checked} but its head records #{head_seq} (entries deleted at the end)")
    return VerifyResult(ok=True, checked=checked, pending=pending, head_seq=head_seq)


def list_entries(
    session: Session,
    *,
    actor_id: int | None = None,
    action: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> Sequence[AuditEntry]:
    """Newest first, filtered; page with `before_id` (keyset, so deep pages stay fast)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(min(max(limit, 1), 500))
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if subject_type:
        query = query.where(AuditEntry.subject_type == subject_type)
    if subject_id:
        query = query.where(AuditEntry.subject_id == subject_id)
    if kind:
        query = query.where(AuditEntry.kind == kind)
    if since:
        query = query.where(AuditEntry.occurred_at >= since)
    if until:
        query = query.where(AuditEntry.occurred_at < until)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    return session.execute(query).scalars().all()
