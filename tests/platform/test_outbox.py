"""The outbound message outbox against a real SMTP server (aiosmtpd, started here): messages arrive in
the customer's language with their link, a failing server means retries with backoff and then a
parked message with its error, nothing is lost or duplicated when the server comes back, and no
recipient, subject line or body is ever stored in clear."""

from __future__ import annotations

import itertools
import logging
import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from fincare.platform import clock, keys, outbox
from fincare.platform.audit_trail.models import AuditEntry
from fincare.platform.config import ConfigurationError
from fincare.platform.db import unit_of_work
from fincare.platform.errors import Conflict, Invalid
from fincare.platform.jobs.registry import schedules
from fincare.platform.outbox import Channel, MessageStatus, OutboundMessage
from fincare.platform.outbox.adapters import SmtpTarget, scrub
from fincare.platform.permissions import SYSTEM
from tests.factories.accounts import Staff
from tests.smtp import SmtpServer, body_of

BANK = "示范银行"
LINK = "https://survey.bank.example/s/abc123?sig=xyz"

outbox.register_template("tests.survey_invitation", {
    "zh-CN": ("{{ bank }}邀请您评价本次服务", "尊敬的{{ name }}：\n感谢您的耐心。请点击链接评价本次服务：{{ link }}\n"),
    "en": ("{{ bank }} asks how we did", "Dear {{ name }},\nthank you for your patience. Please rate us: {{ link }}\n"),
})
outbox.register_template("tests.sms_notice", {
    "zh-CN": (None, "【{{ bank }}】您的投诉 {{ reference }} 已延期处理，详情：{{ link }}"),
    "en": (None, "[{{ bank }}] Complaint {{ reference }} extended, see {{ link }}"),
})


# -- helpers ----------------------------------------------------------------------------------------


_keys = itertools.count(1)


def invite(to: str, *, language: str = "zh-CN", key: str | None = None, name: str = "张三",
           ticket_id: int = 42) -> int:
    with unit_of_work() as session:
        message = outbox.send(session, channel="email", to=to, template="tests.survey_invitation",
                              language=language, params={"bank": BANK, "name": name, "link": LINK},
                              subject=("ticket", ticket_id),
                              dedupe_key=key or f"survey:ticket:{ticket_id}:{next(_keys)}")
        return message.id


def deliver() -> outbox.DeliveryReport:
    with unit_of_work() as session:
        return outbox.deliver_due(session)


def message(message_id: int) -> OutboundMessage:
    with unit_of_work(read_only=True) as session:
        found = session.get(OutboundMessage, message_id)
        assert found is not None
        return found


# -- arrival --------------------------------------------------------------------------------------


def test_messages_arrive_in_the_customers_language_with_their_link(smtp: SmtpServer, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    zh = invite("zhang.san@example.com", language="zh-CN", name="张三")
    en = invite("li.si@example.com", language="en", name="Li Si")

    report = deliver()

    assert report.sent == 2 and report.retrying == report.parked == 0
    by_to = {str(m["To"]): m for m in smtp.received}
    chinese, english = by_to["zhang.san@example.com"], by_to["li.si@example.com"]
    assert chinese["Subject"] == "示范银行邀请您评价本次服务"
    assert body_of(chinese) == "尊敬的张三：\n感谢您的耐心。请点击链接评价本次服务：" + LINK + "\n"
    assert chinese.get_content_charset() == "utf-8" and chinese["Content-Language"] == "zh-CN"
    assert english["Subject"] == "示范银行 asks how we did"
    assert LINK in body_of(english) and body_of(english).startswith("Dear Li Si,")
    assert chinese["From"].addresses[0].display_name == "示范银行客服"
    assert chinese["Message-ID"].startswith(f"<outbox.{zh}.") and english["Message-ID"].startswith(f"<outbox.{en}.")
    assert chinese["Message-ID"].endswith("@bank.example>")
    sent = message(zh)
    assert (sent.status, sent.attempts, sent.sent_at) == (MessageStatus.SENT, 1, clock.now())

    assert deliver().sent == 0  # a sent message is never picked again
    assert len(smtp.received) == 2


def test_a_message_is_queued_only_if_the_callers_transaction_commits(db: Engine) -> None:
    def failing_change() -> None:
        with unit_of_work() as session:
            outbox.send(session, channel="email", to="a@example.com", template="tests.survey_invitation",
                        language="en", params={"bank": BANK, "name": "A", "link": LINK}, dedupe_key="k1")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(func.count()).select_from(OutboundMessage)).scalar_one() == 0


def test_sms_goes_through_the_logging_adapter_with_the_number_masked(db: Engine, frozen_clock,  # type: ignore[no-untyped-def]
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    with unit_of_work() as session:
        sms = outbox.send(session, channel="sms", to="+86 138-0013-8000", template="tests.sms_notice",
                          language="zh-CN", params={"bank": BANK, "reference": "CP-2026-000042", "link": LINK},
                          subject=("ticket", 42), dedupe_key="extension:42")
        assert sms.recipient_mask == "138****8000"
    with caplog.at_level(logging.INFO, logger="fincare.platform.outbox.adapters"):
        assert deliver().sent == 1
    assert message(sms.id).status == MessageStatus.SENT
    logged = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "138****8000" in logged and "13800138000" not in logged and LINK not in logged


def test_without_an_smtp_url_email_stays_queued_untouched(db: Engine, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    queued = invite("zhang.san@example.com")
    frozen_clock.advance(timedelta(days=3))

    assert deliver().sent == 0

    kept = message(queued)
    assert (kept.status, kept.attempts, kept.last_error) == (MessageStatus.QUEUED, 0, None)


# -- failures, backoff, parking, nothing lost ----------------------------------------------------


def test_a_stopped_server_means_retries_with_backoff_then_a_parked_message_with_its_error(  # type: ignore[no-untyped-def]
        smtp: SmtpServer, frozen_clock, admin_root: Staff) -> None:
    smtp.stop()
    queued = invite("zhang.san@example.com")
    start = clock.now()

    waits = []
    for attempt in range(1, 4):
        assert deliver().retrying == 1
        row = message(queued)
        assert (row.status, row.attempts) == (MessageStatus.QUEUED, attempt)
        assert "unreachable" in (row.last_error or "")
        waits.append(row.next_attempt_at - clock.now())
        assert deliver().retrying == 0  # not due again before its backoff
        frozen_clock.advance(waits[-1])
    assert waits == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]

    assert deliver().parked == 1  # FINCARE_OUTBOX_MAX_ATTEMPTS=4
    parked = message(queued)
    assert (parked.status, parked.attempts) == (MessageStatus.PARKED, 4)
    assert f"127.0.0.1:{smtp.port} unreachable" in (parked.last_error or "")
    assert clock.now() - start == timedelta(seconds=210)

    smtp.start()
    frozen_clock.advance(timedelta(days=1))
    assert deliver().sent == 0 and smtp.received == []  # parked waits for an admin
    with unit_of_work() as session:
        outbox.retry(session, queued, actor=SYSTEM)
    assert deliver().sent == 1
    assert [str(m["To"]) for m in smtp.received] == ["zhang.san@example.com"]


def test_a_server_that_comes_back_gets_every_queued_message_exactly_once(smtp: SmtpServer, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    smtp.mailbox.data_reply = "451 4.3.0 Mail server temporarily rejected message"
    ids = [invite(f"customer{n}@example.com", ticket_id=n) for n in range(1, 6)]
    assert deliver().retrying == 5
    assert all("451" in (message(i).last_error or "") for i in ids)
    smtp.stop()
    frozen_clock.advance(timedelta(seconds=30))
    assert deliver().retrying == 5
    ids.append(invite("latecomer@example.com", ticket_id=6))  # queued while the server is down

    smtp.mailbox.data_reply = None
    smtp.start()
    frozen_clock.advance(timedelta(seconds=60))
    assert deliver().sent == 6
    frozen_clock.advance(timedelta(hours=2))
    assert deliver().sent == 0

    assert sorted(str(m["To"]) for m in smtp.received) == sorted(
        [f"customer{n}@example.com" for n in range(1, 6)] + ["latecomer@example.com"])
    assert len({m["Message-ID"] for m in smtp.received}) == 6
    assert all(message(i).status == MessageStatus.SENT and message(i).last_error is None for i in ids)


def test_an_address_the_server_refuses_is_parked_at_once_without_the_address_in_the_error(  # type: ignore[no-untyped-def]
        smtp: SmtpServer, frozen_clock) -> None:
    smtp.mailbox.refuse.add("nobody@example.com")
    refused = invite("nobody@example.com")
    fine = invite("somebody@example.com")

    report = deliver()

    assert (report.sent, report.parked) == (1, 1)
    row = message(refused)
    assert (row.status, row.attempts) == (MessageStatus.PARKED, 1)
    assert "550" in (row.last_error or "") and "nobody" not in (row.last_error or "")
    assert message(fine).status == MessageStatus.SENT


def test_two_workers_never_send_one_message_twice(smtp: SmtpServer, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    ids = [invite(f"c{n}@example.com", ticket_id=n) for n in range(12)]
    smtp.mailbox.delay = 0.02
    barrier = threading.Barrier(2)
    reports: list[outbox.DeliveryReport] = []

    def worker() -> None:
        barrier.wait()
        reports.append(deliver())

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r.sent for r in reports) == 12
    assert len(smtp.received) == 12 and len({m["Message-ID"] for m in smtp.received}) == 12
    assert all(message(i).attempts == 1 for i in ids)


# -- idempotence, validation ----------------------------------------------------------------------


def test_a_second_send_with_the_same_dedupe_key_writes_nothing_and_returns_the_first(db: Engine) -> None:
    first = invite("zhang.san@example.com", key="survey:ticket:42")
    again = invite("someone.else@example.com", key="survey:ticket:42", language="en")
    assert again == first
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(func.count()).select_from(OutboundMessage)).scalar_one() == 1
        assert session.get(OutboundMessage, first).language == "zh-CN"  # type: ignore[union-attr]


@pytest.mark.parametrize(("channel", "to"), [
    ("email", "not-an-address"), ("email", "zhang@"), ("email", "a b@example.com"), ("email", "a@example"),
    ("email", "a@@example.com"), ("sms", "12345"), ("sms", "23800138000"), ("sms", "1380013800a"),
    ("sms", "+1 415 555 0100"),
])
def test_a_bad_address_is_invalid_naming_the_field(db: Engine, channel: str, to: str) -> None:
    with pytest.raises(Invalid) as raised, unit_of_work() as session:
        outbox.send(session, channel=channel, to=to, template="tests.survey_invitation", language="en",
                    params={"bank": BANK, "name": "A", "link": LINK}, dedupe_key="k")
    assert raised.value.field == "to"
    assert to not in raised.value.message


@pytest.mark.parametrize(("changes", "field"), [
    ({"template": "tests.no_such_template"}, "template"),
    ({"params": {"bank": BANK, "name": "A"}}, "params"),
    ({"language": "fr"}, "language"),
    ({"channel": "fax"}, "channel"),
    ({"template": "tests.sms_notice", "params": {"bank": BANK, "reference": "CP-1", "link": LINK}}, "template"),
    ({"dedupe_key": ""}, "dedupe_key"),
])
def test_an_unknown_template_or_missing_parameter_is_a_clear_error(db: Engine, changes: dict[str, Any],
                                                                    field: str) -> None:
    arguments: dict[str, Any] = {"channel": "email", "to": "a@example.com", "template": "tests.survey_invitation",
                                 "language": "en", "params": {"bank": BANK, "name": "A", "link": LINK},
                                 "dedupe_key": "k"} | changes
    with pytest.raises(Invalid) as raised, unit_of_work() as session:
        outbox.send(session, **arguments)
    assert raised.value.field == field
    if field == "params":
        assert "link" in raised.value.message


def test_mainland_mobile_numbers_are_normalised() -> None:
    for given in ("13800138000", "+86 138 0013 8000", "0086-138-0013-8000", "8613800138000"):
        assert outbox.normalise_address(Channel.SMS, given) == "13800138000"
    assert outbox.normalise_address(Channel.EMAIL, " Zhang.San@Example.COM ") == "Zhang.San@example.com"


def test_templates_must_cover_both_languages_and_keep_their_text() -> None:
    with pytest.raises(ValueError, match="languages"):
        outbox.register_template("tests.only_chinese", {"zh-CN": ("主题", "正文")})
    with pytest.raises(ValueError, match="different text"):
        outbox.register_template("tests.survey_invitation", {"zh-CN": ("x", "y"), "en": ("x", "y")})


# -- encryption at rest ---------------------------------------------------------------------------


def test_recipient_subject_and_body_are_never_stored_in_clear(db: Engine) -> None:
    invite("zhang.sanfeng@example.com", name="张三丰")
    with db.connect() as connection:
        row = connection.execute(text("SELECT * FROM outbound_message")).one()
    stored = b"".join(value if isinstance(value, bytes) else str(value).encode() for value in row)
    for secret in ("zhang.sanfeng", "张三丰", LINK, "邀请您评价"):
        assert secret.encode() not in stored, secret
    assert b"z***@example.com" in stored  # the mask lists show


def test_key_rotation_re_encrypts_messages_that_still_deliver(smtp: SmtpServer, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    queued = invite("zhang.san@example.com")
    before = message(queued).key_version

    rotation = keys.rotate()  # the whole rotation, as `fincare keys rotate` runs it
    assert rotation.version == before + 1 and rotation.retired == [before]
    assert message(queued).key_version == rotation.version
    assert deliver().sent == 1
    assert LINK in body_of(smtp.received[0])


# -- delivery status per subject, administration --------------------------------------------------


def test_messages_for_gives_delivery_status_per_subject(smtp: SmtpServer, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    smtp.mailbox.refuse.add("gone@example.com")
    invite("zhang.san@example.com", ticket_id=1)
    invite("gone@example.com", ticket_id=2)
    deliver()
    invite("later@example.com", ticket_id=2, key="second")

    with unit_of_work(read_only=True) as session:
        status = outbox.messages_for(session, "ticket", [1, 2, 3])

    assert set(status) == {1, 2}
    assert [d.status for d in status[1]] == ["sent"] and status[1][0].recipient_mask == "z***@example.com"
    assert [d.status for d in status[2]] == ["parked", "queued"]
    assert "550" in (status[2][0].last_error or "")


def test_admins_list_parked_messages_masked_and_retry_them_and_others_are_refused(  # type: ignore[no-untyped-def]
        client: TestClient, smtp: SmtpServer, frozen_clock, admin_root: Staff, agent_li: Staff) -> None:
    smtp.mailbox.refuse.add("zhang.san@example.com")
    queued = invite("zhang.san@example.com")
    deliver()

    listed = client.get("/api/v1/outbox", params={"status": "parked"}, headers=admin_root.headers)

    assert listed.status_code == 200
    [parked] = listed.json()
    assert parked["id"] == queued and parked["recipient"] == "z***@example.com"
    assert "550" in parked["last_error"] and "zhang.san" not in listed.text
    assert client.get("/api/v1/outbox", headers=agent_li.headers).status_code == 403
    assert client.post(f"/api/v1/outbox/{queued}/retry", headers=agent_li.headers).status_code == 403

    smtp.mailbox.refuse.clear()
    retried = client.post(f"/api/v1/outbox/{queued}/retry", headers=admin_root.headers)
    assert retried.status_code == 200 and retried.json()["status"] == "queued" and retried.json()["attempts"] == 0
    assert client.post(f"/api/v1/outbox/{queued}/retry", headers=admin_root.headers).status_code == 409
    assert client.post("/api/v1/outbox/999999/retry", headers=admin_root.headers).status_code == 404
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(AuditEntry.action).where(AuditEntry.action == "outbox.message_retried")
                               ).scalars().all() == ["outbox.message_retried"]
    assert deliver().sent == 1 and len(smtp.received) == 1


def test_only_a_parked_message_can_be_retried(db: Engine) -> None:
    queued = invite("zhang.san@example.com")
    with pytest.raises(Conflict), unit_of_work() as session:
        outbox.retry(session, queued, actor=SYSTEM)


# -- configuration --------------------------------------------------------------------------------


def test_smtp_urls_name_host_port_security_and_credentials() -> None:
    assert SmtpTarget.parse("smtp://mail.bank.example") == SmtpTarget("mail.bank.example", 25, "plain", None, None)
    assert SmtpTarget.parse("smtps://mail.bank.example") == SmtpTarget("mail.bank.example", 465, "tls", None, None)
    assert SmtpTarget.parse("smtp+starttls://svc%40bank:p%40ss%3Aword@mail.bank.example:2525") == SmtpTarget(
        "mail.bank.example", 2525, "starttls", "svc@bank", "p@ss:word")
    for bad in ("http://mail.bank.example", "smtp://", "smtp://host:notaport"):
        with pytest.raises(ConfigurationError):
            SmtpTarget.parse(bad)


def test_delivery_runs_on_the_workers_schedule_and_backoff_is_capped() -> None:
    assert "platform.outbox.deliver" in {s.name for s in schedules()}
    assert [outbox.retry_delay(n) for n in (1, 2, 3)] == [timedelta(seconds=30), timedelta(minutes=1),
                                                            timedelta(minutes=2)]
    assert outbox.retry_delay(50) == timedelta(hours=1)


def test_errors_are_scrubbed_of_addresses_and_numbers() -> None:
    scrubbed = scrub("550 <zhang.san@example.com>: unknown, call 138 0013 8000")
    assert scrubbed == "550 <<address>>: unknown, call <number>"
