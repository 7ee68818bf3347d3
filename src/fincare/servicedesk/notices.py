"""Notices to complainants that the regulations require: each extension of the statutory deadline.

Sent through the outbox in the customer's language, by email or else SMS; a complainant with no
address gets a timeline event instead, so the handler knows to telephone.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.customers import service as customers
from fincare.platform import outbox
from fincare.platform.config import get_settings
from fincare.platform.permissions import SYSTEM
from fincare.servicedesk.models import Ticket, TicketEvent
from fincare.servicedesk.service import add_event

EXTENSION = "servicedesk.statutory_extension"

outbox.register_template(EXTENSION, {
    "zh-CN": ("您的投诉处理期限已延长（{{ reference }}）",
              "尊敬的客户：\n您的投诉（编号 {{ reference }}）因情况复杂，处理期限已延长至自受理之日起{{ days }}日，"
              "即{{ due_date }}前。我们将尽快处理并告知您结果。"),
    "en": ("The deadline for your complaint {{ reference }} has been extended",
           "Dear customer,\nBecause your complaint {{ reference }} needs further investigation, the deadline for "
           "our decision has been extended to {{ days }} days from its receipt, that is by {{ due_date }}. We will "
           "let you know the outcome as soon as we can."),
})


def _already_told(session: Session, ticket_id: int, days: int) -> bool:
    """A redelivered job finds its own earlier notice (or its failure to find an address)."""
    events = session.execute(select(TicketEvent.detail).where(
        TicketEvent.ticket_id == ticket_id, TicketEvent.kind.in_(("complainant_notified", "notice_undeliverable"))))
    return any(detail.get("days") == days for detail in events.scalars())


def notify_extension(session: Session, *, ticket_id: int, clock_id: int, days: int, due_at: str) -> None:
    """Tell the complainant of an extension (once per extension: the outbox's dedupe key)."""
    ticket = session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None or _already_told(session, ticket.id, days):
        return
    contact = customers.contact_of(session, ticket.customer_id, purpose="statutory extension notice")
    reachable = contact.reachable() if contact else None
    if contact is None or reachable is None:
        add_event(session, ticket, "notice_undeliverable", SYSTEM, days=days)
        return
    channel, address = reachable
    due_date = datetime.fromisoformat(due_at).astimezone(ZoneInfo(get_settings().timezone)).date().isoformat()
    message = outbox.send(session, channel=channel, to=address, template=EXTENSION, language=contact.language,
                          params={"reference": ticket.reference, "days": days, "due_date": due_date},
                          subject=("ticket", ticket.id), dedupe_key=f"statutory-extension-{clock_id}-{days}")
    add_event(session, ticket, "complainant_notified", SYSTEM, message_id=message.id, channel=channel, days=days)
