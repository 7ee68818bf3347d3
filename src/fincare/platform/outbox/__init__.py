"""Outbound messages to customers (e-mail now, SMS through an adapter): the delivery outbox.

Domains register message templates per language (`register_template`) and queue messages with
`send(session, …)` in their own transaction; the worker's `platform.outbox.deliver` schedule sends
them through the channel's adapter (`FINCARE_SMTP_URL`, `FINCARE_SMS_ADAPTER`), retries failures
with backoff and parks a message after `FINCARE_OUTBOX_MAX_ATTEMPTS`, its error kept for admins, who
may `retry` it. Recipient, subject line and body are encrypted at rest (rotated by `fincare keys
rotate`); lists show the masked recipient only. `messages_for` gives delivery status per subject
(e.g. each ticket) for timelines. Without FINCARE_SMTP_URL, e-mail stays queued: nothing is lost.

Glossary: *queued* (waiting for its next attempt), *sent* (the server accepted it), *parked*
(given up on until an admin retries it).
"""

from fincare.platform.outbox.adapters import (
    DeliveryError,
    EmailAdapter,
    Envelope,
    LoggingSmsAdapter,
    SmsAdapter,
    Transport,
    transports_from_settings,
)
from fincare.platform.outbox.models import Channel, MessageStatus, OutboundMessage
from fincare.platform.outbox.service import (
    Delivery,
    DeliveryReport,
    deliver_due,
    get_by_dedupe_key,
    list_messages,
    messages_for,
    normalise_address,
    retry,
    retry_delay,
    send,
)
from fincare.platform.outbox.templates import MissingParameter, UnknownTemplate, register_template, render

__all__ = [
    "Channel", "Delivery", "DeliveryError", "DeliveryReport", "EmailAdapter", "Envelope", "LoggingSmsAdapter",
    "MessageStatus", "MissingParameter", "OutboundMessage", "SmsAdapter", "Transport", "UnknownTemplate",
    "deliver_due", "get_by_dedupe_key", "list_messages", "messages_for", "normalise_address", "register_template",
    "render", "retry", "retry_delay", "send", "transports_from_settings",
]
