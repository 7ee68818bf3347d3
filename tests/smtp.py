"""A real SMTP server for tests (aiosmtpd on a free local port) and the fixture that points FinCare at it."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from fincare.platform.config import reset_settings


class Mailbox:
    """aiosmtpd handler: keeps what it accepts; can refuse recipients, fail data, or be slow."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self.data_reply: str | None = None  # e.g. "451 4.3.0 try again later"
        self.delay = 0.0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.data_reply:
            return self.data_reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.mailbox = Mailbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def received(self) -> list[EmailMessage]:
        return self.mailbox.received


@pytest.fixture
def smtp(db: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    monkeypatch.setenv("FINCARE_SMTP_URL", f"smtp://127.0.0.1:{server.port}")
    monkeypatch.setenv("FINCARE_SMTP_FROM", "示范银行客服 <service@bank.example>")
    monkeypatch.setenv("FINCARE_SMTP_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("FINCARE_OUTBOX_MAX_ATTEMPTS", "4")
    reset_settings()
    yield server
    server.stop()
    reset_settings()


def body_of(received: EmailMessage) -> str:
    """The plain-text body of a received message, with Unix line ends."""
    part = received.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]
