"""Staff notifications: the inbox that escalations and reminders write to, read in the console and the API.

A notification is written by a job (never inline in a request), so it goes through the outbox and
survives a crash; `dedupe_key` makes the write idempotent per recipient. The title is a message id
(`notification:<kind>`) with parameters, rendered in the reader's language; parameters never hold
personal data. E-mail and SMS to customers are a separate port (follow-ups and surveys).
"""

from fincare.platform.notify.models import Notification
from fincare.platform.notify.service import (
    count_unread,
    inbox,
    mark_read,
    notify_staff,
    staff_with_permission,
    staff_with_role,
)

__all__ = ["Notification", "count_unread", "inbox", "mark_read", "notify_staff", "staff_with_permission",
           "staff_with_role"]
