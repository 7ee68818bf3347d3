"""Follow-ups and satisfaction in the console: the queue (mine earliest due first, then the unassigned),
a follow-up's page with its call script and outcome form (a refusal shown by the field it names, with
nothing written), the survey results for those who read KPIs, and the delivery status of what the
outbox sent the customer on the ticket's timeline."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from types import TracebackType
from typing import Any, Self

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, func, select

from fincare.followups import service
from fincare.followups.models import FollowUp, FollowUpAttempt, FollowUpKind, SurveyInvitation
from fincare.platform import clock, outbox
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import Role
from fincare.servicedesk.models import Ticket, TicketStatus
from tests.console import post_form, sign_in
from tests.factories.accounts import Staff, make_staff
from tests.factories.customers import make_customer
from tests.factories.followups import deliver_resolutions, resolved_complaint
from tests.factories.roster import away

API = "/api/v1"


@pytest.fixture
def chen(db: Engine) -> Staff:
    return make_staff("specialist_chen", Role.COMPLAINT_SPECIALIST)


@pytest.fixture
def caller_sun(db: Engine) -> Staff:
    return make_staff("followup_sun", Role.FOLLOWUP_AGENT)


def count(model: type[Any]) -> int:
    with unit_of_work(read_only=True) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def follow_ups() -> list[FollowUp]:
    with unit_of_work(read_only=True) as session:
        return list(session.execute(select(FollowUp).order_by(FollowUp.id)).scalars())


def section(page: Response, testid: str) -> str:
    return page.text.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]


def reload_ticket(ticket_id: int) -> Ticket:
    with unit_of_work(read_only=True) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


# -- the queue -------------------------------------------------------------------------------------


def test_the_queue_lists_my_follow_ups_earliest_due_first_then_the_unassigned(
        client: TestClient, chen: Staff, caller_sun: Staff, frozen_clock: clock.FrozenClock) -> None:
    first = resolved_complaint(client, chen)
    deliver_resolutions()
    frozen_clock.advance(timedelta(days=1))
    second = resolved_complaint(client, chen)
    deliver_resolutions()
    away(caller_sun)  # nobody on duty: the next one waits unassigned
    with unit_of_work() as session:
        waiting = service.open_follow_up(session, kind=FollowUpKind.KEY_CUSTOMER, source_key="rule-test-1",
                                         customer_id=make_customer().id)
        assert waiting is not None and waiting.assignee_id is None
        waiting_id = waiting.id
    by_ticket = {f.ticket_id: f for f in follow_ups()}
    earlier, later = by_ticket[first["id"]], by_ticket[second["id"]]
    assert earlier.due_at < later.due_at

    sign_in(client, "followup_sun")
    page = client.get("/followups")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    mine = section(page, "my-follow-ups")
    assert re.findall(r'data-testid="mine-row" data-follow-up="(\d+)"', mine) == [str(earlier.id), str(later.id)]
    assert first["reference"] in mine and "Complaint follow-up" in mine
    due = earlier.due_at.astimezone(UTC).isoformat(timespec="milliseconds")
    assert f'data-due="{due}"' in mine  # the live countdown to the due time
    assert "*" in mine  # customers masked
    unassigned = section(page, "unassigned-follow-ups")
    assert re.findall(r'data-follow-up="(\d+)"', unassigned) == [str(waiting_id)]
    assert 'href="/followups"' in page.text  # the menu entry


def test_the_queue_is_for_those_who_work_follow_ups(client: TestClient, agent_li: Staff) -> None:
    sign_in(client, "agent_li")
    assert client.get("/followups").status_code == 403
    assert 'href="/followups"' not in client.get("/").text


def test_the_menu_reads_in_chinese_by_default(client: TestClient, caller_sun: Staff) -> None:
    sign_in(client, "followup_sun", english=False)
    home = client.get("/").text
    assert ">回访</a>" in home


# -- a follow-up -----------------------------------------------------------------------------------


def test_the_follow_up_page_shows_the_customer_masked_the_ticket_its_decision_and_the_script(
        client: TestClient, chen: Staff, caller_sun: Staff) -> None:
    customer = make_customer(name="王晓明", phone="13812345678")
    ticket = resolved_complaint(client, chen, customer.id)
    deliver_resolutions()
    follow_up = follow_ups()[0]
    sign_in(client, "followup_sun")
    page = client.get(f"/followups/{follow_up.id}")
    assert page.status_code == 200
    assert "王*明" in page.text and "138****5678" in page.text and "13812345678" not in page.text
    assert f'href="/tickets/{ticket["id"]}"' in page.text and ticket["reference"] in page.text
    assert 'data-testid="decision-outcome">Partly upheld<' in page.text
    assert "Are you satisfied with how your complaint was handled?" in page.text  # the script, in English
    assert "请问您对本次投诉的处理结果是否满意？" in page.text  # and in Chinese, folded
    assert 'data-testid="outcome-form"' in page.text
    chinese = client.get(f"/followups/{follow_up.id}?lang=zh-CN").text
    assert "回访话术" in chinese and "投诉回访" in chinese and "已接通，满意" in chinese


def test_the_outcome_form_records_a_call(client: TestClient, chen: Staff, caller_sun: Staff) -> None:
    ticket = resolved_complaint(client, chen)
    deliver_resolutions()
    follow_up = follow_ups()[0]
    sign_in(client, "followup_sun")
    page = f"/followups/{follow_up.id}"
    done = post_form(client, f"{page}/outcome", {"result": "reached_dissatisfied", "reason": "赔付金额偏低",
                                                 "next_step": "review", "note": "客户情绪平稳"}, page=page)
    assert done.status_code == 303 and done.headers["location"] == f"{page}#attempts"
    closed = follow_ups()[0]
    assert (closed.status, closed.outcome, closed.next_step) == ("closed", "reached_dissatisfied", "review")
    assert closed.dissatisfaction_reason == "赔付金额偏低"
    shown = client.get(page).text
    assert 'data-testid="attempt-row" data-result="reached_dissatisfied"' in shown and "客户情绪平稳" in shown
    assert 'data-testid="outcome-form"' not in shown  # closed: nothing more to record
    assert reload_ticket(ticket["id"]).status == TicketStatus.RESOLVED  # a review, not a reopening


@pytest.mark.parametrize(("data", "field", "status"), [
    ({}, "result", 422),
    ({"result": "maybe"}, "result", 422),
    ({"result": "reached_dissatisfied"}, "reason", 422),
    ({"result": "reached_dissatisfied", "reason": "不满意", "next_step": "escalate"}, "next_step", 422),
    ({"result": "reached_satisfied", "next_step": "reopen"}, "next_step", 422),
    ({"result": "refused", "note": "长" * 1001}, "note", 422),
    ({"result": "refused", "note": "bad\x00byte"}, "note", 422),
])
def test_the_outcome_form_refuses_bad_input_by_the_field_and_writes_nothing(
        client: TestClient, chen: Staff, caller_sun: Staff, data: dict[str, str], field: str,
        status: int) -> None:
    resolved_complaint(client, chen)
    deliver_resolutions()
    follow_up = follow_ups()[0]
    sign_in(client, "followup_sun")
    page = f"/followups/{follow_up.id}"
    refused = post_form(client, f"{page}/outcome", data, page=page)
    assert refused.status_code == status
    assert f'data-testid="error-{field}"' in refused.text
    assert count(FollowUpAttempt) == 0 and follow_ups()[0].status == "open"
    if data.get("reason"):  # what was typed comes back
        assert data["reason"] in refused.text


def test_a_second_unreachable_call_on_the_same_day_is_refused(
        client: TestClient, chen: Staff, caller_sun: Staff) -> None:
    resolved_complaint(client, chen)
    deliver_resolutions()
    page = f"/followups/{follow_ups()[0].id}"
    sign_in(client, "followup_sun")
    assert post_form(client, f"{page}/outcome", {"result": "unreachable"}, page=page).status_code == 303
    again = post_form(client, f"{page}/outcome", {"result": "unreachable"}, page=page)
    assert again.status_code == 409 and 'data-testid="error-result"' in again.text
    assert count(FollowUpAttempt) == 1


def test_a_colleague_s_follow_up_is_refused_on_the_form(client: TestClient, chen: Staff, caller_sun: Staff) -> None:
    make_staff("followup_zhao", Role.FOLLOWUP_AGENT)
    resolved_complaint(client, chen)
    deliver_resolutions()
    follow_up = follow_ups()[0]
    assert follow_up.assignee_id == caller_sun.id
    sign_in(client, "followup_zhao")
    page = f"/followups/{follow_up.id}"
    refused = post_form(client, f"{page}/outcome", {"result": "reached_satisfied"}, page=page)
    assert refused.status_code == 403 and 'data-testid="form-error"' in refused.text
    assert count(FollowUpAttempt) == 0
    assert client.get("/followups/999999").status_code == 404


# -- survey results --------------------------------------------------------------------------------


def answered_survey(client: TestClient, handler: Staff, **answers: Any) -> dict[str, Any]:
    """A resolved complaint whose survey the customer answered with `answers`."""
    ticket = resolved_complaint(client, handler, make_customer(email="li.lei@example.com").id)
    deliver_resolutions()
    with unit_of_work(read_only=True) as session:
        invitation = session.execute(select(SurveyInvitation).where(
            SurveyInvitation.ticket_id == ticket["id"])).scalar_one()
        token = service.token_of(invitation)
    answered = client.post(f"{API}/surveys/{token}", json={"answers": answers})
    assert answered.status_code == 201, answered.text
    return ticket


def test_the_results_page_shows_the_figures_the_trend_the_breakdown_and_the_comments(
        client: TestClient, chen: Staff, supervisor_wang: Staff, frozen_clock: clock.FrozenClock) -> None:
    ticket = answered_survey(client, chen, csat=5, nps=10, comment="处理及时，很专业")
    sign_in(client, "supervisor_wang")
    page = client.get("/surveys/results")
    assert page.status_code == 200
    html = page.text
    csat = html.split('data-testid="kpi-csat"', 1)[1].split("</section>", 1)[0]
    assert "100.0%" in csat and "target ≥ 90%" in csat
    assert "target ≥ 85%" in html.split('data-testid="kpi-followup"', 1)[1].split("</section>", 1)[0]
    assert "+100" in html.split('data-testid="kpi-nps"', 1)[1].split("</section>", 1)[0]
    assert "1 of 1 surveys answered" in html
    assert 'value="2026-09-13"' in html and 'value="2026-10-12"' in html  # the last 30 days by default
    assert 'id="trend-chart"' in html and "/static/vendor/echarts.min.js" in html
    trend = section(page, "trend-table")
    assert trend.count("<tr data-month=") == 12 and 'data-month="2026-10"' in trend
    assert 'data-month="2025-11"' in trend
    breakdown = section(page, "breakdown")
    assert 'data-key="' + str(chen.id) + '"' in breakdown and "specialist_chen" in breakdown
    comments = section(page, "comments")
    assert ticket["reference"] in comments and "处理及时，很专业" in comments
    by_channel = client.get("/surveys/results?by=channel&since=2026-10-01&until=2026-10-12")
    assert by_channel.status_code == 200 and 'data-key="phone"' in by_channel.text
    assert "Phone" in section(by_channel, "breakdown")
    before = client.get("/surveys/results?since=2026-09-01&until=2026-09-30")
    assert "1 of 1" not in before.text and "处理及时" not in before.text
    assert 'href="/surveys/results"' in html  # the menu entry


@pytest.mark.parametrize(("query", "field"), [
    ("since=2026-13-01", "since"),
    ("until=yesterday", "until"),
    ("since=2026-10-12&until=2026-10-01", "until"),
    ("by=colour", "by"),
])
def test_the_results_page_refuses_a_bad_period_by_the_field(client: TestClient, supervisor_wang: Staff,
                                                            query: str, field: str) -> None:
    sign_in(client, "supervisor_wang")
    page = client.get(f"/surveys/results?{query}")
    assert page.status_code == 422 and f'data-testid="error-{field}"' in page.text
    assert 'data-testid="figures"' in page.text  # still shows the default period


def test_the_results_page_is_denied_without_kpi_read(client: TestClient, caller_sun: Staff,
                                                     agent_li: Staff) -> None:
    for username in ("followup_sun", "agent_li"):
        client.cookies.clear()
        sign_in(client, username)
        assert client.get("/surveys/results").status_code == 403
        assert 'href="/surveys/results"' not in client.get("/").text


# -- delivery status on the ticket -----------------------------------------------------------------


class Refusing:
    """An e-mail server that refuses every message for good."""

    channel = outbox.Channel.EMAIL

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def send(self, envelope: outbox.Envelope) -> None:
        raise outbox.DeliveryError("SMTP refused the recipient: 550 mailbox unavailable", permanent=True)


def test_the_ticket_page_shows_the_delivery_status_of_messages_to_the_customer(
        client: TestClient, chen: Staff) -> None:
    ticket = resolved_complaint(client, chen, make_customer(email="wang.fang@example.com").id)
    deliver_resolutions()
    sign_in(client, "specialist_chen")

    def outbound() -> str:
        page = client.get(f"/tickets/{ticket['id']}")
        assert page.status_code == 200
        return page.text.split('data-testid="entry-outbound"', 1)[1].split("</li>", 1)[0]

    queued = outbound()
    assert 'data-status="queued"' in queued and "Survey invitation" in queued and "E-mail" in queued
    assert "wang.fang@example.com" not in queued and "@example.com" in queued  # the masked recipient
    assert "0 attempts" in queued
    with unit_of_work() as session:
        assert outbox.deliver_due(session, transports={outbox.Channel.EMAIL: Refusing()}).parked == 1
    parked = outbound()
    assert 'data-status="parked"' in parked and "1 attempts" in parked
    assert "550 mailbox unavailable" in parked.split('data-testid="delivery-error"', 1)[1]
    chinese = client.get(f"/tickets/{ticket['id']}?lang=zh-CN").text
    assert "致客户消息" in chinese and "满意度调查邀请" in chinese and "发送失败已挂起" in chinese
