"""What the customer is sent: each public reply (a complaint's decision among them), and the notice
the regulations require of each extension of the statutory deadline.

Sent through the outbox in the customer's language, by email or else SMS; a customer with no
address gets a timeline event instead, so the handler knows to telephone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.customers import service as customers
from fincare.platform import outbox
from fincare.platform.config import get_settings
from fincare.platform.errors import Invalid
from fincare.platform.permissions import SYSTEM
from fincare.servicedesk.models import Ticket, TicketEvent, TicketMessage
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


REPLY = "servicedesk.reply"

outbox.register_template(REPLY, {
    "zh-CN": ("关于您的{{ kind }}的回复（{{ reference }}）",
              "尊敬的客户：\n关于您的{{ kind }}（编号 {{ reference }}），我们的回复如下：\n\n{{ body }}"),
    "en": ("A reply about your {{ kind }} {{ reference }}",
           "Dear customer,\nThis is our reply about your {{ kind }} {{ reference }}:\n\n{{ body }}"),
})
KIND_NAMES = {"zh-CN": {"consultation": "咨询", "complaint": "投诉", "feedback": "反馈"},
              "en": {"consultation": "enquiry", "complaint": "complaint", "feedback": "feedback"}}


def deliver_reply(session: Session, *, ticket_id: int, message_id: int) -> None:
    """Send a public reply to the customer (once: a redelivered job finds its message queued)."""
    dedupe_key = f"ticket-reply-{message_id}"
    ticket = session.get(Ticket, ticket_id, with_for_update=True)
    message = session.get(TicketMessage, message_id)
    if ticket is None or message is None or _reply_handled(session, ticket_id, message_id, dedupe_key):
        return
    reached = _reach(session, ticket, purpose="ticket reply", undeliverable="reply_undeliverable",
                     message_id=message_id)
    if reached is None:
        return
    contact, channel, address = reached
    kind = KIND_NAMES.get(contact.language, KIND_NAMES["en"])[ticket.kind]
    try:
        with session.begin_nested():
            outbox.send(session, channel=channel, to=address, template=REPLY, language=contact.language,
                        params={"reference": ticket.reference, "kind": kind, "body": message.body},
                        subject=("ticket", ticket.id), dedupe_key=dedupe_key)
    except Invalid as refused:  # a reply near the 20,000-character limit no longer fits the letter
        add_event(session, ticket, "reply_undeliverable", SYSTEM, message_id=message_id,
                  reason=TOO_LONG if refused.field == "params" else refused.message)


# Why nothing was sent, on the timeline (msgids: the console translates them)
NO_ADDRESS = "the customer has neither an e-mail address nor a mobile number: telephone them"
NOT_PROCESSED = "the customer's personal data is restricted or erased: nothing may be sent to them"
TOO_LONG = "the reply is too long to send with its greeting: send it in shorter parts"


def _reach(session: Session, ticket: Ticket, *, purpose: str, undeliverable: str,
           **detail: Any) -> tuple[customers.Contact, outbox.Channel, str] | None:
    """The ticket's customer's contact (its use audited for `purpose`), the channel and address a
    message can go to; None, with the `undeliverable` event and its reason on the timeline so the
    handler knows to telephone or not to contact at all."""
    contact = customers.contact_of(session, ticket.customer_id, purpose=purpose)
    reachable = contact.reachable() if contact else None
    if contact is None or reachable is None:
        add_event(session, ticket, undeliverable, SYSTEM, reason=NOT_PROCESSED if contact is None else NO_ADDRESS,
                  **detail)
        return None
    return contact, *reachable


def _reply_handled(session: Session, ticket_id: int, message_id: int, dedupe_key: str) -> bool:
    """A redelivered job finds its message queued, or its failure to find an address."""
    return outbox.get_by_dedupe_key(session, dedupe_key) is not None or _on_timeline(
        session, ticket_id, ("reply_undeliverable",), "message_id", message_id)


def _already_told(session: Session, ticket_id: int, days: int) -> bool:
    """A redelivered job finds its own earlier notice (or its failure to find an address)."""
    return _on_timeline(session, ticket_id, ("complainant_notified", "notice_undeliverable"), "days", days)


def _on_timeline(session: Session, ticket_id: int, kinds: tuple[str, ...], key: str, value: object) -> bool:
    """Whether an event of `kinds` on the ticket's timeline has `value` as its detail's `key`."""
    events = session.execute(select(TicketEvent.detail).where(TicketEvent.ticket_id == ticket_id,
                                                              TicketEvent.kind.in_(kinds)))
    return any(detail.get(key) == value for detail in events.scalars())


def notify_extension(session: Session, *, ticket_id: int, clock_id: int, days: int, due_at: str) -> None:
    """Tell the complainant of an extension (once per extension: the outbox's dedupe key)."""
    ticket = session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None or _already_told(session, ticket.id, days):
        return
    reached = _reach(session, ticket, purpose="statutory extension notice", undeliverable="notice_undeliverable",
                     days=days)
    if reached is None:
        return
    contact, channel, address = reached
    due_date = datetime.fromisoformat(due_at).astimezone(ZoneInfo(get_settings().timezone)).date().isoformat()
    message = outbox.send(session, channel=channel, to=address, template=EXTENSION, language=contact.language,
                          params={"reference": ticket.reference, "days": days, "due_date": due_date},
                          subject=("ticket", ticket.id), dedupe_key=f"statutory-extension-{clock_id}-{days}")
    add_event(session, ticket, "complainant_notified", SYSTEM, message_id=message.id, channel=channel, days=days)
