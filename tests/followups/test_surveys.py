"""Satisfaction surveys: sampled after resolution, at most one per customer per 30 days, opt-out
honoured, a signed single-use expiring link, answers validated, detractors recovered, results."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from fincare.followups import service
from fincare.followups.models import FollowUp, SurveyInvitation, SurveyResponse, SurveyTemplate
from fincare.platform import clock, outbox
from fincare.platform.db import unit_of_work
from fincare.platform.notify.models import Notification
from fincare.platform.outbox.models import OutboundMessage
from fincare.platform.permissions import Role
from tests.factories import customers as make
from tests.factories.accounts import Staff, make_staff
from tests.factories.customers import make_customer
from tests.factories.followups import deliver_resolutions, resolved_complaint
from tests.smtp import SmtpServer, body_of

API = "/api/v1"


@pytest.fixture
def chen(db: Engine) -> Staff:
    return make_staff("specialist_chen", Role.COMPLAINT_SPECIALIST)


def count(model: type[Any]) -> int:
    with unit_of_work(read_only=True) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def invitations() -> list[SurveyInvitation]:
    with unit_of_work(read_only=True) as session:
        return list(session.execute(select(SurveyInvitation).order_by(SurveyInvitation.id)).scalars())


def surveyed_once(client: TestClient, handler: Staff, **customer: Any) -> tuple[str, SurveyInvitation]:
    """Resolve a complaint of a new customer, deliver the event, return the link's token."""
    customer_id = make_customer(email="wang.fang@example.com", **customer).id
    resolved_complaint(client, handler, customer_id)
    deliver_resolutions()
    invitation = invitations()[-1]
    return service.token_of(invitation), invitation


def test_a_resolution_sends_one_survey_through_the_outbox_in_the_customer_s_language(
        client: TestClient, chen: Staff) -> None:
    token, invitation = surveyed_once(client, chen, language="en")
    deliver_resolutions()  # redelivered: nothing more
    assert count(SurveyInvitation) == 1 and invitation.language == "en" and invitation.channel == "email"
    with unit_of_work(read_only=True) as session:
        message = session.execute(select(OutboundMessage)).scalar_one()
        assert message.language == "en" and message.subject_type == "ticket"
    page = client.get(f"/s/{token}")
    assert page.status_code == 200 and 'lang="en"' in page.text and "How satisfied are you" in page.text
    shown = client.get(f"{API}/surveys/{token}").json()
    assert shown["status"] == "open" and [q["id"] for q in shown["questions"]] == ["csat", "nps", "comment"]


def test_one_survey_per_customer_per_30_days(client: TestClient, chen: Staff,
                                             frozen_clock: clock.FrozenClock) -> None:
    customer_id = make_customer(email="li.na@example.com").id
    resolved_complaint(client, chen, customer_id)
    deliver_resolutions()
    frozen_clock.advance(timedelta(days=10))
    resolved_complaint(client, chen, customer_id)
    deliver_resolutions()
    assert len(invitations()) == 1
    frozen_clock.advance(timedelta(days=21))
    resolved_complaint(client, chen, customer_id)
    deliver_resolutions()
    assert len(invitations()) == 2


def test_an_opted_out_customer_gets_no_more_surveys(client: TestClient, chen: Staff,
                                                    frozen_clock: clock.FrozenClock) -> None:
    token, invitation = surveyed_once(client, chen)
    page = client.post(f"/s/{token}/opt-out")
    assert page.status_code == 200 and 'data-testid="survey-opted-out"' in page.text
    frozen_clock.advance(timedelta(days=40))
    resolved_complaint(client, chen, invitation.customer_id)
    deliver_resolutions()
    assert len(invitations()) == 1


def test_answers_are_recorded_once_and_a_second_submit_says_already_answered(client: TestClient,
                                                                              chen: Staff) -> None:
    token, _ = surveyed_once(client, chen)
    first = client.post(f"{API}/surveys/{token}", json={"answers": {"csat": 5, "nps": 9, "comment": "很专业"}})
    assert first.status_code == 201 and first.json() == {"status": "answered"}
    again = client.post(f"{API}/surveys/{token}", json={"answers": {"csat": 1}})
    assert again.status_code == 200 and again.json() == {"status": "already_answered"}
    with unit_of_work(read_only=True) as session:
        response = session.execute(select(SurveyResponse)).scalar_one()
    assert (response.csat, response.nps, response.comment) == (5, 9, "很专业")
    page = client.post(f"/s/{token}", data={"answers.csat": "2"})
    assert page.status_code == 200 and 'data-testid="survey-already"' in page.text


def test_a_card_id_or_mobile_number_in_a_comment_is_kept_only_masked(client: TestClient, chen: Staff) -> None:
    token, _ = surveyed_once(client, chen)
    card, id_number = make.card(), make.resident_id()
    comment = f"卡{card} 证{id_number} 请回电 139 1234 5678，订单 20261123000123"
    answered = client.post(f"{API}/surveys/{token}", json={"answers": {"csat": 2, "comment": comment}})
    assert answered.status_code == 201
    with unit_of_work(read_only=True) as session:
        stored = session.execute(select(SurveyResponse.comment)).scalar_one()
    assert stored == (f"卡{'*' * (len(card) - 4)}{card[-4:]} 证{id_number[:3]}{'*' * 11}{id_number[-4:]}"
                      " 请回电 139****5678，订单 20261123000123")


@pytest.mark.parametrize(("answers", "field"), [
    ({"csat": 6}, "answers.csat"),
    ({"csat": 0}, "answers.csat"),
    ({"csat": "5.5"}, "answers.csat"),
    ({"csat": 4, "nps": 11}, "answers.nps"),
    ({"csat": 4, "mood": "好"}, "answers.mood"),
    ({"csat": 4, "comment": "长" * 2001}, "answers.comment"),
    ({"nps": 3}, "answers.csat"),  # required
    ({"csat": "²"}, "answers.csat"),  # a Unicode digit: isdigit() says yes, int() says no
    ({"csat": "9" * 5000}, "answers.csat"),  # beyond int()'s digit limit
    ({"csat": "--4"}, "answers.csat"),
    ({"csat": 4, "comment": "好\x00"}, "answers.comment"),  # PostgreSQL cannot store a NUL
    ({"csat": 4, "comment": "叮\x07"}, "answers.comment"),
])
def test_bad_answers_are_refused_with_the_field_named_and_nothing_written(
        client: TestClient, chen: Staff, answers: dict[str, Any], field: str) -> None:
    token, _ = surveyed_once(client, chen)
    refused = client.post(f"{API}/surveys/{token}", json={"answers": answers})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == field
    assert count(SurveyResponse) == 0 and invitations()[0].status == "sent"


def test_a_comment_keeps_its_line_breaks_and_tabs_as_the_api_allows(client: TestClient, chen: Staff) -> None:
    token, _ = surveyed_once(client, chen)
    answered = client.post(f"{API}/surveys/{token}",
                           json={"answers": {"csat": " 4 ", "comment": "第一行\r\n第二行\t好"}})
    assert answered.status_code == 201
    with unit_of_work(read_only=True) as session:
        response = session.execute(select(SurveyResponse)).scalar_one()
    assert (response.csat, response.comment) == (4, "第一行\r\n第二行\t好")


def template(**question: Any) -> dict[str, Any]:
    entry = {"id": "q", "type": "single", "text_zh": "您满意吗", "text_en": "Satisfied?",
             "options": [{"value": "y", "zh": "是", "en": "Yes"}, {"value": "n", "zh": "否", "en": "No"}]}
    return {"key": "kz", "title_zh": "调查", "title_en": "Survey", "questions": [entry | question]}


@pytest.mark.parametrize(("question", "field"), [
    ({"type": []}, "questions[0].type"),  # unhashable: was a 500
    ({"type": {"csat": 1}}, "questions[0].type"),
    ({"text_zh": "您满意吗\x00"}, "questions[0].text_zh"),
    ({"text_en": "Satisfied\x07?"}, "questions[0].text_en"),
    ({"options": [{"value": "y", "zh": "是\x1b", "en": "Yes"}, {"value": "n", "zh": "否", "en": "No"}]},
     "questions[0].options"),
    ({"options": [{"value": "y\x00", "zh": "是", "en": "Yes"}, {"value": "n", "zh": "否", "en": "No"}]},
     "questions[0].options"),
])
def test_a_bad_template_question_is_refused_with_the_entry_named_and_nothing_written(
        client: TestClient, supervisor_wang: Staff, question: dict[str, Any], field: str) -> None:
    before = count(SurveyTemplate)
    refused = client.post(f"{API}/survey-templates", json=template(**question), headers=supervisor_wang.headers)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == field
    assert count(SurveyTemplate) == before
    added = client.post(f"{API}/survey-templates", json=template(), headers=supervisor_wang.headers)
    assert added.status_code == 201 and count(SurveyTemplate) == before + 1  # the same, well formed


def test_tampered_and_expired_links_get_a_clear_page_and_write_nothing(
        client: TestClient, chen: Staff, frozen_clock: clock.FrozenClock) -> None:
    token, _ = surveyed_once(client, chen)
    ident, nonce, signature = token.split(".")
    for forged in (f"{int(ident) + 1}.{nonce}.{signature}", f"{ident}.{nonce}x.{signature}",
                   f"{ident}.{nonce}.{signature[:-2]}AA", "garbage"):
        page = client.post(f"/s/{forged}", data={"answers.csat": "5"})
        assert page.status_code == 404 and 'data-testid="survey-invalid"' in page.text, forged
        assert client.post(f"{API}/surveys/{forged}", json={"answers": {"csat": 5}}).status_code == 404
    frozen_clock.advance(timedelta(days=15))
    expired = client.post(f"/s/{token}", data={"answers.csat": "5"})
    assert expired.status_code == 410 and 'data-testid="survey-expired"' in expired.text
    assert client.get(f"/s/{token}").status_code == 410
    assert count(SurveyResponse) == 0


def test_a_detractor_opens_a_recovery_task_for_a_supervisor(client: TestClient, chen: Staff,
                                                            supervisor_wang: Staff) -> None:
    token, invitation = surveyed_once(client, chen)
    page = client.post(f"/s/{token}", data={"answers.csat": "2", "answers.comment": "等了太久"})
    assert page.status_code == 200 and 'data-testid="survey-thanks"' in page.text
    with unit_of_work(read_only=True) as session:
        task = session.execute(select(FollowUp).where(FollowUp.kind == "recovery")).scalar_one()
        notice = session.execute(select(Notification).where(Notification.kind == "survey_detractor")).scalar_one()
    assert task.assignee_id == supervisor_wang.id and task.ticket_id == invitation.ticket_id
    assert notice.recipient_id == supervisor_wang.id


def test_results_give_csat_nps_response_rate_and_follow_up_satisfaction(
        client: TestClient, chen: Staff, supervisor_wang: Staff, agent_li: Staff) -> None:
    caller = make_staff("followup_sun", Role.FOLLOWUP_AGENT)
    scores = [(5, 10), (4, 8), (2, 3), None]  # the last one never answers
    for answer in scores:
        token, _ = surveyed_once(client, chen)
        if answer:
            client.post(f"{API}/surveys/{token}", json={"answers": {"csat": answer[0], "nps": answer[1]}})
    with unit_of_work(read_only=True) as session:
        calls = [f.id for f in session.execute(select(FollowUp).where(FollowUp.kind == "complaint")).scalars()]
    for follow_up_id, result in zip(calls, ["reached_satisfied", "reached_satisfied", "reached_dissatisfied",
                                            "refused"], strict=True):
        body = {"result": result, **({"reason": "不满意"} if result == "reached_dissatisfied" else {})}
        assert client.post(f"{API}/followups/{follow_up_id}/outcome", json=body,
                           headers=caller.headers).status_code == 200
    window = {"since": (clock.now() - timedelta(days=1)).isoformat(),
              "until": (clock.now() + timedelta(days=1)).isoformat()}
    overall = client.get(f"{API}/survey-results", params=window, headers=supervisor_wang.headers).json()
    assert len(overall) == 1
    figures = overall[0]
    assert (figures["invitations"], figures["responses"], figures["reached"]) == (4, 3, 3)
    assert figures["csat"] == pytest.approx(2 / 3) and figures["response_rate"] == pytest.approx(0.75)
    assert figures["nps"] == pytest.approx(0.0)  # one promoter, one passive, one detractor
    assert figures["followup_satisfaction"] == pytest.approx(2 / 3)
    by_agent = client.get(f"{API}/survey-results", params={**window, "by": "agent"},
                          headers=supervisor_wang.headers).json()
    assert {row["key"] for row in by_agent} >= {str(chen.id), str(caller.id)}
    assert client.get(f"{API}/survey-results", params=window, headers=agent_li.headers).status_code == 403
    bad = client.get(f"{API}/survey-results", params={**window, "by": "weather"}, headers=supervisor_wang.headers)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "by"


def test_one_reminder_goes_to_an_unanswered_survey_after_three_days(client: TestClient, chen: Staff,
                                                                    frozen_clock: clock.FrozenClock) -> None:
    token, _ = surveyed_once(client, chen)
    answered, _ = surveyed_once(client, chen)
    client.post(f"{API}/surveys/{answered}", json={"answers": {"csat": 5}})
    with unit_of_work() as session:
        assert service.send_reminders(session) == 0  # too early
    frozen_clock.advance(timedelta(days=3, minutes=1))
    with unit_of_work() as session:
        assert service.send_reminders(session) == 1
    with unit_of_work() as session:
        assert service.send_reminders(session) == 0  # once only
    with unit_of_work(read_only=True) as session:
        templates = [m.template for m in session.execute(select(OutboundMessage).order_by(OutboundMessage.id))
                     .scalars()]
    assert templates == ["followups.survey_invitation"] * 2 + ["followups.survey_reminder"]
    assert token != answered


def test_the_survey_e_mail_arrives_in_the_customer_s_language_with_a_working_link(
        client: TestClient, chen: Staff, smtp: SmtpServer) -> None:
    english = make_customer(email="amy.chen@example.com", language="en").id
    chinese = make_customer(email="zhang.wei@example.com").id
    for customer_id in (english, chinese):
        resolved_complaint(client, chen, customer_id)
    deliver_resolutions()
    with unit_of_work() as session:
        assert outbox.deliver_due(session).sent == 2
    by_recipient = {str(m["To"]): m for m in smtp.received}
    assert set(by_recipient) == {"amy.chen@example.com", "zhang.wei@example.com"}
    assert "how did we do" in str(by_recipient["amy.chen@example.com"]["Subject"])
    assert "请评价我们的服务" in str(by_recipient["zhang.wei@example.com"]["Subject"])
    for address, marker in (("amy.chen@example.com", "How satisfied are you"), ("zhang.wei@example.com", "满意度")):
        link = re.search(r"http\S+/s/(\S+)", body_of(by_recipient[address]))
        assert link is not None
        page = client.get(f"/s/{link.group(1)}")
        assert page.status_code == 200 and marker in page.text
        assert client.post(f"/s/{link.group(1)}", data={"answers.csat": "5"}).status_code == 200
    assert count(SurveyResponse) == 2
