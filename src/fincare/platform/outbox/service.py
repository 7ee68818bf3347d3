"""Queue messages to customers in the caller's transaction; deliver them; let admins retry the parked.

`send` validates the address, renders the template in the customer's language, encrypts recipient,
subject line and body under the row's uid, and stores the row queued; a repeated `dedupe_key`
writes nothing and returns the first row. `deliver_due` is the sweep: it claims due rows of each
configured channel with ``FOR UPDATE SKIP LOCKED`` (two workers never send one message in the same
pass), sends them, and marks each sent only after the server accepted it. A failure is retried
after 30 s × 2^(attempts−1) (capped at an hour) and parked after FINCARE_OUTBOX_MAX_ATTEMPTS, or at
once when the server refuses the address for good. A channel with no transport (e-mail without
FINCARE_SMTP_URL) keeps its messages queued, untouched, until one is configured.

Delivery is at least once: if the process dies between the server's acceptance and the commit,
the message goes again with the same Message-ID, which receivers use to drop the duplicate.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from prometheus_client import Counter
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from fincare.platform import audit_trail, clock, keys
from fincare.platform.config import get_settings
from fincare.platform.db import insert_on_conflict
from fincare.platform.errors import Conflict, Invalid, Label, Message, NotFound, one_of
from fincare.platform.masking import mask_email, mask_phone
from fincare.platform.outbox.adapters import DeliveryError, Envelope, Transport, describe, transports_from_settings
from fincare.platform.outbox.models import Channel, MessageStatus, OutboundMessage, new_uid
from fincare.platform.outbox.templates import render
from fincare.platform.permissions import Principal

log = logging.getLogger(__name__)

TABLE = OutboundMessage.__tablename__
MESSAGES = Counter("fincare_outbox_messages_total", "Outbound messages, by channel and outcome",
                   ["channel", "outcome"])
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)

_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


# -- addresses ------------------------------------------------------------------------------------


def normalise_address(channel: Channel, value: str) -> str:
    """The address as it will be used: an e-mail address (domain lower-cased) or an 11-digit
    mainland mobile number (spaces, dashes and a +86 / 0086 prefix removed). Invalid(field="to")
    otherwise; the message never repeats the value."""
    text = (value or "").strip()
    if channel is Channel.EMAIL:
        local, _, domain = text.rpartition("@")
        if len(text) > 254 or len(local) > 64 or not _EMAIL.match(text):
            raise Invalid("not a valid e-mail address", field="to")
        return f"{local}@{domain.lower()}"
    digits = re.sub(r"[\s-]", "", text)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == 11 + len(prefix):
            digits = digits[len(prefix):]
            break
    if not _MOBILE.match(digits):
        raise Invalid("not a valid mainland China mobile number (11 digits, starting with 1)", field="to")
    return digits


def mask_address(channel: Channel | str, address: str) -> str:
    return mask_email(address) if channel == Channel.EMAIL else mask_phone(address)


# -- queueing ---------------------------------------------------------------------------------------


def send(
    session: Session,
    *,
    channel: Channel | str,
    to: str,
    template: str,
    language: str,
    params: Mapping[str, Any],
    subject: tuple[str, int] | None = None,
    dedupe_key: str,
) -> OutboundMessage:
    """Queue one message; it is delivered after the caller's transaction commits.

    `subject` is what the message is about, e.g. ("ticket", 42), for delivery status on its
    timeline. A second call with the same `dedupe_key` writes nothing and returns the first message
    (whatever it was sent to); the key is stored in clear, so it must name things by id, never by
    personal data ("survey:ticket:42"). Raises Invalid naming the field at fault: channel, to, template,
    language, params, subject or dedupe_key.
    """
    channel = one_of(Channel, channel, "channel")
    address = normalise_address(channel, to)
    rendered = render(template, language, params)
    if channel is Channel.EMAIL and not rendered.subject_line:
        raise Invalid(Message("template {template} has no subject line, so it cannot be e-mailed",
                              template=template), field="template")
    if not dedupe_key or len(dedupe_key) > 200:
        raise Invalid("a dedupe key of 1 to 200 characters is required", field="dedupe_key")
    if subject is not None and (not subject[0] or len(subject[0]) > 40 or not isinstance(subject[1], int)):
        raise Invalid("subject must be (type of up to 40 characters, integer id)", field="subject")
    existing = get_by_dedupe_key(session, dedupe_key)
    if existing is not None:
        return existing

    uid, now = new_uid(), clock.now()
    version = keys.active_version(session)

    def seal(column: str, value: str) -> bytes:
        return keys.encrypt(session, value, table=TABLE, column=column, uid=uid, version=version)

    values = {
        "uid": uid, "key_version": version, "channel": channel.value,
        "recipient_enc": seal("recipient_enc", address), "recipient_mask": mask_address(channel, address),
        "subject_line_enc": None if rendered.subject_line is None else seal("subject_line_enc",
                                                                             rendered.subject_line),
        "body_enc": seal("body_enc", rendered.body), "language": language, "template": template,
        "subject_type": subject[0] if subject else None, "subject_id": subject[1] if subject else None,
        "dedupe_key": dedupe_key, "status": MessageStatus.QUEUED.value, "attempts": 0,
        "next_attempt_at": now, "created_at": now,
    }
    # ON CONFLICT DO NOTHING: a concurrent send of the same key waits for the first to commit, then
    # writes nothing, instead of failing on the unique index
    session.execute(insert_on_conflict(session, cast(Table, OutboundMessage.__table__)).values(values)
                    .on_conflict_do_nothing(index_elements=["dedupe_key"]))
    message = get_by_dedupe_key(session, dedupe_key)
    assert message is not None
    MESSAGES.labels(channel.value, "queued").inc()
    return message


def get_by_dedupe_key(session: Session, dedupe_key: str) -> OutboundMessage | None:
    return session.execute(select(OutboundMessage).where(OutboundMessage.dedupe_key == dedupe_key)
                           ).scalar_one_or_none()


# -- delivery ---------------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    parked: int = 0


def retry_delay(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min, … at most an hour."""
    doublings: int = min(max(attempts - 1, 0), 20)
    return min(FIRST_RETRY * (1 << doublings), MAX_RETRY)


def deliver_due(session: Session, *, transports: Mapping[Channel, Transport] | None = None,
                limit: int = 100, budget_seconds: float = 60.0) -> DeliveryReport:
    """Send up to `limit` due messages per configured channel, in the caller's transaction.

    Rows are claimed with FOR UPDATE SKIP LOCKED, so a second worker's pass skips them. A pass that
    runs past `budget_seconds` leaves the rest for the next one. Returns what happened.
    """
    transports = transports_from_settings() if transports is None else transports
    max_attempts = get_settings().outbox_max_attempts
    report = DeliveryReport()
    started = time.monotonic()
    for channel, transport in transports.items():
        rows = session.execute(
            select(OutboundMessage)
            .where(OutboundMessage.status == MessageStatus.QUEUED, OutboundMessage.channel == channel.value,
                   OutboundMessage.next_attempt_at <= clock.now())
            .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id).limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars().all()
        if not rows:
            continue
        with transport:
            for row in rows:
                if time.monotonic() - started > budget_seconds:
                    break
                _deliver(session, row, transport, max_attempts, report)
        session.flush()
    return report


def _deliver(session: Session, row: OutboundMessage, transport: Transport, max_attempts: int,
             report: DeliveryReport) -> None:
    try:
        transport.send(_envelope(session, row))
    except DeliveryError as exc:
        _failed(row, exc.reason, permanent=exc.permanent, max_attempts=max_attempts, report=report)
    except keys.UndecryptableError as exc:  # its key is gone or the row was altered: it can never go
        _failed(row, describe(exc), permanent=True, max_attempts=max_attempts, report=report)
    except Exception as exc:  # an adapter's bug must not stop the rest of the pass
        log.exception("outbound message %s: unexpected error in the %s adapter", row.id, row.channel)
        _failed(row, describe(exc), permanent=False, max_attempts=max_attempts, report=report)
    else:
        row.status, row.sent_at, row.last_error = MessageStatus.SENT, clock.now(), None
        row.attempts += 1
        report.sent += 1
        MESSAGES.labels(row.channel, "sent").inc()


def _envelope(session: Session, row: OutboundMessage) -> Envelope:
    def clear(column: str, blob: bytes) -> str:
        return keys.decrypt(session, blob, table=TABLE, column=column, uid=row.uid)

    return Envelope(message_id=row.id, uid=row.uid, to=clear("recipient_enc", row.recipient_enc),
                    subject_line=None if row.subject_line_enc is None else clear("subject_line_enc",
                                                                                 row.subject_line_enc),
                    body=clear("body_enc", row.body_enc), language=row.language, template=row.template)


def _failed(row: OutboundMessage, reason: str, *, permanent: bool, max_attempts: int,
            report: DeliveryReport) -> None:
    row.attempts += 1
    row.last_error = reason
    if permanent or row.attempts >= max_attempts:
        row.status = MessageStatus.PARKED
        report.parked += 1
        MESSAGES.labels(row.channel, "parked").inc()
        log.warning("outbound message %s parked after %s attempts: %s", row.id, row.attempts, reason)
    else:
        row.next_attempt_at = clock.now() + retry_delay(row.attempts)
        report.retrying += 1
        MESSAGES.labels(row.channel, "failed").inc()
        log.info("outbound message %s not delivered (attempt %s), retrying at %s: %s", row.id, row.attempts,
                 row.next_attempt_at.isoformat(), reason)


# -- administration and reading ------------------------------------------------------------------


def retry(session: Session, message_id: int, *, actor: Principal) -> OutboundMessage:
    """Queue a parked message again, due now, with a fresh set of attempts (audited)."""
    message = session.get(OutboundMessage, message_id, with_for_update=True)
    if message is None:
        raise NotFound("no such outbound message", field="message_id")
    if message.status != MessageStatus.PARKED:
        raise Conflict(Message("only a parked message can be retried; this one is {status}",
                               status=Label("message_status", message.status)), field="message_id")
    before = {"status": message.status, "attempts": message.attempts, "last_error": message.last_error}
    message.status, message.attempts, message.next_attempt_at = MessageStatus.QUEUED, 0, clock.now()
    audit_trail.record(session, actor=actor, action="outbox.message_retried", subject=message, before=before,
                       after={"status": message.status, "attempts": 0})
    return message


def list_messages(session: Session, *, status: MessageStatus | None = None, channel: Channel | None = None,
                  subject: tuple[str, int] | None = None, before_id: int | None = None,
                  limit: int = 50) -> Sequence[OutboundMessage]:
    """Newest first; page with `before_id`."""
    query = select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(min(max(limit, 1), 500))
    if status is not None:
        query = query.where(OutboundMessage.status == status)
    if channel is not None:
        query = query.where(OutboundMessage.channel == channel)
    if subject is not None:
        query = query.where(OutboundMessage.subject_type == subject[0], OutboundMessage.subject_id == subject[1])
    if before_id:
        query = query.where(OutboundMessage.id < before_id)
    return session.execute(query).scalars().all()


@dataclass(frozen=True)
class Delivery:
    """Delivery status of one message, as a timeline shows it (no personal data but the mask)."""

    id: int
    channel: str
    template: str
    language: str
    recipient_mask: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None


def messages_for(session: Session, subject_type: str, subject_ids: Iterable[int]) -> dict[int, list[Delivery]]:
    """Messages about each of `subject_ids` (oldest first); subjects with none are left out."""
    ids = sorted(set(subject_ids))
    m = OutboundMessage
    found: dict[int, list[Delivery]] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(m.subject_id, m.id, m.channel, m.template, m.language, m.recipient_mask, m.status, m.attempts,
                   m.last_error, m.created_at, m.next_attempt_at, m.sent_at)
            .where(m.subject_type == subject_type, m.subject_id.in_(ids[start:start + 500]))
            .order_by(m.subject_id, m.id)
        )
        for subject_id, *fields in rows:
            found.setdefault(cast(int, subject_id), []).append(Delivery(*fields))
    return found
