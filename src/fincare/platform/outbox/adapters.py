"""Channel adapters: how a rendered message leaves FinCare.

`EmailAdapter` speaks SMTP (`smtp://`, `smtps://` or `smtp+starttls://`, optional user:password)
through the standard library, one connection per delivery pass. Each e-mail carries a Message-ID
derived from the outbox row, so a message sent again after a crash (accepted by the server, but the
"sent" mark never committed) can be recognised as a duplicate by the receiving side.

SMS goes through the `SmsAdapter` protocol; `LoggingSmsAdapter` (FINCARE_SMS_ADAPTER=log, the
demo's) only writes a log line with the number masked.

Adapters raise `DeliveryError` with a reason that carries no personal data: SMTP replies often
quote the address they refuse, so every reason is scrubbed of addresses and long digit runs.
"""

from __future__ import annotations

import email.policy
import logging
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from types import TracebackType
from typing import Protocol, Self
from urllib.parse import unquote, urlsplit

from fincare.platform import clock
from fincare.platform.config import ConfigurationError, Settings, get_settings
from fincare.platform.masking import mask_phone
from fincare.platform.outbox.models import Channel

log = logging.getLogger(__name__)

_ADDRESS = re.compile(r"[^\s<>@'\"(),;:]+@[^\s<>@'\"(),;:]+")
_DIGITS = re.compile(r"\+?\d[\d -]{5,}\d")
MAX_REASON = 500


def scrub(text: str) -> str:
    """`text` without e-mail addresses or phone-like digit runs, cut to a readable length."""
    text = _DIGITS.sub("<number>", _ADDRESS.sub("<address>", text))
    return " ".join(text.split())[:MAX_REASON]


@dataclass(frozen=True)
class Envelope:
    """One decrypted message on its way out (lives only for the delivery pass)."""

    message_id: int
    uid: bytes
    to: str
    subject_line: str | None
    body: str
    language: str
    template: str


class DeliveryError(Exception):
    """The message was not accepted. `reason` is free of personal data; `permanent` means trying
    again cannot help (e.g. the server refused the address with a 5xx reply)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Transport(Protocol):
    """An open channel for one delivery pass: `send` raises DeliveryError unless the message was accepted."""

    channel: Channel

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def send(self, envelope: Envelope) -> None: ...


class SmsAdapter(Transport, Protocol):
    """An SMS gateway. Implementations raise DeliveryError(permanent=True) for a number the gateway
    will never accept, DeliveryError for anything worth retrying."""


# -- e-mail -----------------------------------------------------------------------------------------


_SCHEMES = {"smtp": ("plain", 25), "smtps": ("tls", 465), "smtp+starttls": ("starttls", 587)}


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: str  # "plain", "tls" (implicit, smtps) or "starttls"
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        """`smtp://[user:password@]host[:port]`, `smtps://…` or `smtp+starttls://…`."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ConfigurationError("FINCARE_SMTP_URL is not a valid URL") from None
        if parts.scheme not in _SCHEMES:
            raise ConfigurationError("FINCARE_SMTP_URL must start with smtp://, smtps:// or smtp+starttls://")
        if not parts.hostname:
            raise ConfigurationError("FINCARE_SMTP_URL names no host")
        security, default_port = _SCHEMES[parts.scheme]
        return cls(host=parts.hostname, port=port or default_port, security=security,
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password is not None else None)


def sender_address(value: str) -> tuple[str, str]:
    """(display name, address) of FINCARE_SMTP_FROM, e.g. "FinCare <noreply@bank.example>"."""
    name, address = parseaddr(value)
    if "@" not in address:
        raise ConfigurationError("FINCARE_SMTP_FROM must be an e-mail address, e.g. 'FinCare <noreply@bank.example>'")
    return name, address


def message_id_header(envelope: Envelope, sender_domain: str) -> str:
    """The same for every send of one outbox row: receivers deduplicate on it."""
    return f"<outbox.{envelope.message_id}.{envelope.uid.hex()[:16]}@{sender_domain}>"


class EmailAdapter:
    """SMTP for one delivery pass: connects on the first send, reuses the connection, quits at exit.

    A connection that cannot be opened fails every later send of the same pass at once, rather than
    each waiting for the timeout again.
    """

    channel = Channel.EMAIL

    def __init__(self, url: str, sender: str, *, timeout: float = 30.0) -> None:
        self.target = SmtpTarget.parse(url)
        self.sender_name, self.sender = sender_address(sender)
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None
        self._unreachable: DeliveryError | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> EmailAdapter | None:
        """None when FINCARE_SMTP_URL is unset: e-mail then waits in the outbox."""
        if not settings.smtp_url:
            return None
        return cls(settings.smtp_url.get_secret_value(), settings.smtp_from, timeout=settings.smtp_timeout_seconds)

    def __enter__(self) -> Self:
        self._unreachable = None  # a new pass tries the server again
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        if self._unreachable is not None:
            raise self._unreachable
        target = self.target
        try:
            if target.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(target.host, target.port, timeout=self.timeout,
                                                      context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(target.host, target.port, timeout=self.timeout)
                if target.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if target.username is not None:
                smtp.login(target.username, target.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            self._unreachable = DeliveryError(f"SMTP login refused: {exc.smtp_code} {_reply(exc.smtp_error)}")
            raise self._unreachable from None
        except (smtplib.SMTPException, OSError) as exc:
            self._unreachable = DeliveryError(
                f"SMTP server {target.host}:{target.port} unreachable: {describe(exc)}")
            raise self._unreachable from None
        self._smtp = smtp
        return smtp

    def build(self, envelope: Envelope) -> EmailMessage:
        message = EmailMessage(policy=email.policy.SMTP)
        domain = self.sender.rpartition("@")[2]
        message["From"] = str(Address(self.sender_name, addr_spec=self.sender)) if self.sender_name else self.sender
        message["To"] = envelope.to
        message["Subject"] = envelope.subject_line or ""
        message["Date"] = format_datetime(clock.now())
        message["Message-ID"] = message_id_header(envelope, domain)
        message.set_content(envelope.body, charset="utf-8")
        message["Content-Language"] = envelope.language  # after set_content, which resets Content-* headers
        return message

    def send(self, envelope: Envelope) -> None:
        message = self.build(envelope)
        for fresh_connection in (False, True):
            smtp = self._connect()
            try:
                smtp.send_message(message, from_addr=self.sender, to_addrs=[envelope.to])
                return
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = next(iter(exc.recipients.values()), (0, b""))
                raise DeliveryError(f"SMTP refused the recipient: {code} {_reply(reply)}",
                                    permanent=500 <= code < 600) from None
            except smtplib.SMTPResponseException as exc:  # sender or data refused (smtplib has sent RSET)
                raise DeliveryError(f"SMTP refused the message: {exc.smtp_code} {_reply(exc.smtp_error)}",
                                    permanent=500 <= exc.smtp_code < 600) from None
            except (smtplib.SMTPException, OSError) as exc:
                self.close()  # the connection broke: one fresh connection, then give up for this message
                if fresh_connection:
                    raise DeliveryError(f"SMTP connection failed: {describe(exc)}") from None
        raise AssertionError("unreachable")  # pragma: no cover

def _reply(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return scrub(text)


def describe(exc: BaseException) -> str:
    """Exception type and scrubbed message: safe to store and log."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {scrub(exc.strerror)}"
    text = scrub(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- SMS --------------------------------------------------------------------------------------------


class LoggingSmsAdapter:
    """The demo's SMS gateway: logs each message with the number masked and the body left out."""

    channel = Channel.SMS

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def send(self, envelope: Envelope) -> None:
        log.info("sms sent", extra={"to": mask_phone(envelope.to), "outbound_message_id": envelope.message_id,
                                    "template": envelope.template, "chars": len(envelope.body)})


SMS_ADAPTERS: dict[str, type[LoggingSmsAdapter]] = {"log": LoggingSmsAdapter}


def transports_from_settings(settings: Settings | None = None) -> dict[Channel, Transport]:
    """The configured transport of each channel; a channel without one keeps its messages queued."""
    settings = settings or get_settings()
    found: dict[Channel, Transport] = {Channel.SMS: SMS_ADAPTERS[settings.sms_adapter]()}
    if (email_adapter := EmailAdapter.from_settings(settings)) is not None:
        found[Channel.EMAIL] = email_adapter
    return found
