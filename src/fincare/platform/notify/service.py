"""Write to and read the staff inbox.

A notification is written by a job (never inline in a request), so it goes through the outbox and
survives a crash; `dedupe_key` makes the write idempotent per recipient. The title is a message id
with parameters, rendered in the reader's language. E-mail / SMS delivery to customers is a
separate port (follow-ups and surveys).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fincare.platform import clock
from fincare.platform.accounts.models import AccountRole, StaffAccount
from fincare.platform.db import insert_on_conflict
from fincare.platform.notify.models import Notification
from fincare.platform.permissions import ROLE_PERMISSIONS, Permission, Role


def notify_staff(session: Session, *, recipients: Iterable[int], kind: str, params: dict[str, Any],
                 dedupe_key: str, link: str | None = None) -> int:
    """Put one notification in each recipient's inbox; a repeated `dedupe_key` writes nothing.

    Returns how many were written. `params` must be JSON and must not hold personal data.
    """
    now = clock.now()
    rows = [{"recipient_id": r, "kind": kind, "params": params, "link": link, "dedupe_key": dedupe_key,
             "created_at": now} for r in sorted(set(recipients))]
    if not rows:
        return 0
    result = session.execute(insert_on_conflict(session, Notification).values(rows)
                             .on_conflict_do_nothing(index_elements=["recipient_id", "dedupe_key"]))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def staff_with_role(session: Session, role: Role, *, department_id: int | None = None) -> list[int]:
    """Ids of active accounts holding `role` (in `department_id`, when given)."""
    query = (select(StaffAccount.id).join(AccountRole, AccountRole.account_id == StaffAccount.id)
             .where(AccountRole.role == role, StaffAccount.active))
    if department_id is not None:
        query = query.where(StaffAccount.department_id == department_id)
    return list(session.execute(query.order_by(StaffAccount.id)).scalars())


def staff_with_permission(session: Session, permission: Permission) -> list[int]:
    """Ids of active accounts whose roles grant `permission` (whoever may act on a notice)."""
    roles = [role for role, granted in ROLE_PERMISSIONS.items() if permission in granted]
    query = (select(StaffAccount.id).join(AccountRole, AccountRole.account_id == StaffAccount.id)
             .where(AccountRole.role.in_(roles), StaffAccount.active).distinct())
    return sorted(session.execute(query).scalars())


def inbox(session: Session, *, account_id: int, unread_only: bool = False, limit: int = 50) -> Sequence[Notification]:
    """Newest first."""
    query = select(Notification).where(Notification.recipient_id == account_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return session.execute(query.order_by(Notification.id.desc()).limit(min(max(limit, 1), 200))).scalars().all()


def count_unread(session: Session, *, account_id: int) -> int:
    return int(session.execute(select(func.count()).select_from(Notification).where(
        Notification.recipient_id == account_id, Notification.read_at.is_(None))).scalar_one())


def mark_read(session: Session, *, account_id: int, notification_ids: Sequence[int] | None = None) -> int:
    """Mark the reader's own notifications read (all of them when no ids are given)."""
    stmt = update(Notification).where(Notification.recipient_id == account_id, Notification.read_at.is_(None))
    if notification_ids is not None:
        stmt = stmt.where(Notification.id.in_(notification_ids))
    return int(session.execute(stmt.values(read_at=clock.now())).rowcount or 0)  # type: ignore[attr-defined]
