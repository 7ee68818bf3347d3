"""Satisfaction surveys: who is asked (sampling, one survey per customer per 30 days, opt-out), the
signed single-use link sent through the outbox, the reminder, and the answers.

A link is ``{invitation id}.{nonce}.{signature}``: the signature (HMAC of id and nonce under a key
derived from the master key) makes a tampered link worthless; the nonce is random per invitation;
expiry and single use are kept on the invitation row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.customers import service as customers
from fincare.customers.identity import redact_identifiers, redact_phones
from fincare.customers.models import ConsentPurpose, Customer
from fincare.followups.models import (
    FollowUpKind,
    InvitationStatus,
    QuestionType,
    SurveyInvitation,
    SurveyPolicy,
    SurveyResponse,
    SurveyTemplate,
    SurveyTrigger,
)
from fincare.followups.service.tasks import open_follow_up
from fincare.platform import audit_trail, clock, crypto, notify, outbox
from fincare.platform.accounts.models import StaffAccount
from fincare.platform.config import get_settings
from fincare.platform.errors import Conflict, DomainError, Invalid, Message, NotFound, one_of
from fincare.platform.permissions import SYSTEM, Principal, Role
from fincare.platform.text import refuse_control
from fincare.servicedesk.models import Ticket

MAX_TEXT = 2000
SCALES = {QuestionType.CSAT: (1, 5), QuestionType.NPS: (0, 10)}
MAX_DIGITS = 3  # every scale fits; `int()` of more could only be out of range (or too long to convert)
INVITATION = "followups.survey_invitation"
REMINDER = "followups.survey_reminder"

outbox.register_template(INVITATION, {
    "zh-CN": ("{{ title }}：请评价我们的服务",
              "尊敬的客户：\n感谢您联系我们（{{ reference }}）。请花一分钟评价我们的服务：\n{{ link }}\n"
              "链接{{ days }}天内有效，仅可使用一次。如不希望再收到调查，可在页面底部退订。"),
    "en": ("{{ title }}: how did we do?",
           "Dear customer,\nThank you for contacting us ({{ reference }}). Please take a minute to rate our service:\n"
           "{{ link }}\nThe link is valid for {{ days }} days and works once. You can opt out of surveys at the "
           "bottom of the page."),
})
outbox.register_template(REMINDER, {
    "zh-CN": ("提醒：{{ title }}",
              "尊敬的客户：\n您还没有评价我们的服务（{{ reference }}）。您的意见对我们很重要：\n{{ link }}"),
    "en": ("Reminder: {{ title }}", "Dear customer,\nYou have not yet rated our service ({{ reference }}). "
                                   "Your view matters to us:\n{{ link }}"),
})


class Gone(DomainError):
    """The link has expired."""

    status_code = 410
    code = "gone"


# -- links -----------------------------------------------------------------------------------------


def _signature(invitation_id: int, nonce: str) -> str:
    mac = crypto.keyed_digest("survey-link", f"{invitation_id}.{nonce}".encode())
    return base64.urlsafe_b64encode(mac[:18]).decode()


def token_of(invitation: SurveyInvitation) -> str:
    return f"{invitation.id}.{invitation.nonce}.{_signature(invitation.id, invitation.nonce)}"


def link_of(invitation: SurveyInvitation) -> str:
    return f"{get_settings().public_url.rstrip('/')}/s/{token_of(invitation)}"


def _invitation(session: Session, token: str, *, lock: bool = False) -> SurveyInvitation:
    """The invitation a genuine link names; a tampered or unknown link is NotFound."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isascii() or not parts[0].isdigit() or len(parts[0]) > 12:
        raise NotFound("this survey link is not valid", field="token")
    invitation_id, nonce, signature = int(parts[0]), parts[1], parts[2]
    if not hmac.compare_digest(signature.encode(), _signature(invitation_id, nonce).encode()):
        raise NotFound("this survey link is not valid", field="token")
    invitation = session.get(SurveyInvitation, invitation_id, with_for_update=lock)
    if invitation is None or not hmac.compare_digest(invitation.nonce.encode(), nonce.encode()):
        raise NotFound("this survey link is not valid", field="token")
    return invitation


# -- who is asked ----------------------------------------------------------------------------------


def _sampled(source_key: str, rate: float) -> bool:
    """A stable draw per source: a redelivered event decides the same way."""
    draw = int.from_bytes(hashlib.sha256(source_key.encode()).digest()[:8], "big") / 2**64
    return draw < rate


def opted_out(session: Session, customer_id: int) -> bool:
    consent = customers.current_consents(session, customer_id).get(ConsentPurpose.SURVEYS)
    return consent is not None and not consent.granted


def recently_surveyed(session: Session, customer_id: int, now: datetime) -> bool:
    since = now - timedelta(days=get_settings().survey_throttle_days)
    return session.execute(select(SurveyInvitation.id).where(
        SurveyInvitation.customer_id == customer_id, SurveyInvitation.sent_at > since).limit(1)).first() is not None


def invite(session: Session, *, trigger: SurveyTrigger, source_key: str, customer_id: int, reference: str,
           ticket_id: int | None = None, follow_up_id: int | None = None,
           agent_id: int | None = None) -> SurveyInvitation | None:
    """Send the trigger's survey if the policy samples it, the customer has not opted out, was not
    surveyed in the last 30 days and can be reached; once per `source_key`."""
    policy = session.get(SurveyPolicy, trigger)
    if policy is None or not policy.active or not _sampled(source_key, policy.sampling_rate):
        return None
    if session.execute(select(SurveyInvitation.id).where(SurveyInvitation.source_key == source_key)).first():
        return None
    now = clock.now()
    if opted_out(session, customer_id) or recently_surveyed(session, customer_id, now):
        return None
    contact = customers.contact_of(session, customer_id, purpose="survey")
    reachable = contact.reachable() if contact else None
    if contact is None or reachable is None:
        return None
    channel, address = reachable
    settings = get_settings()
    invitation = SurveyInvitation(source_key=source_key, template_id=policy.template_id, trigger=trigger,
                                  customer_id=customer_id, ticket_id=ticket_id, follow_up_id=follow_up_id,
                                  agent_id=agent_id, channel=channel, language=contact.language,
                                  nonce=crypto.new_token(12), status=InvitationStatus.SENT, sent_at=now,
                                  expires_at=now + timedelta(days=settings.survey_link_days))
    session.add(invitation)
    session.flush()
    template = session.get(SurveyTemplate, policy.template_id)
    outbox.send(session, channel=channel, to=address, template=INVITATION, language=contact.language,
                params={"title": _title(template, contact.language), "reference": reference,
                        "link": link_of(invitation), "days": settings.survey_link_days},
                subject=("ticket", ticket_id) if ticket_id else ("follow_up", follow_up_id) if follow_up_id else None,
                dedupe_key=f"survey-invitation-{invitation.id}")
    return invitation


def _title(template: SurveyTemplate | None, language: str) -> str:
    if template is None:
        return ""
    return template.title_zh if language == "zh-CN" else template.title_en


def send_reminders(session: Session, *, limit: int = 500) -> int:
    """One reminder for each unanswered, unexpired invitation older than the reminder delay."""
    now = clock.now()
    settings = get_settings()
    due = session.execute(select(SurveyInvitation).where(
        SurveyInvitation.status == InvitationStatus.SENT, SurveyInvitation.reminded_at.is_(None),
        SurveyInvitation.sent_at <= now - timedelta(days=settings.survey_reminder_days),
        SurveyInvitation.expires_at > now).order_by(SurveyInvitation.id).limit(limit)
        .with_for_update(skip_locked=True)).scalars().all()
    sent = 0
    for invitation in due:
        invitation.reminded_at = now
        if opted_out(session, invitation.customer_id):
            continue
        contact = customers.contact_of(session, invitation.customer_id, purpose="survey reminder")
        address = None if contact is None else (contact.email if invitation.channel == "email" else contact.phone)
        if not address:
            continue
        template = session.get(SurveyTemplate, invitation.template_id)
        outbox.send(session, channel=outbox.Channel(invitation.channel), to=address, template=REMINDER,
                    language=invitation.language,
                    params={"title": _title(template, invitation.language), "link": link_of(invitation),
                            "reference": _reference(session, invitation)},
                    subject=("ticket", invitation.ticket_id) if invitation.ticket_id else None,
                    dedupe_key=f"survey-reminder-{invitation.id}")
        sent += 1
    return sent


def _reference(session: Session, invitation: SurveyInvitation) -> str:
    ticket = session.get(Ticket, invitation.ticket_id) if invitation.ticket_id else None
    return ticket.reference if ticket else f"#{invitation.id}"


# -- the public page -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyView:
    invitation: SurveyInvitation
    template: SurveyTemplate
    language: str
    answered: bool
    expired: bool


def open_survey(session: Session, token: str) -> SurveyView:
    """What the public page shows for a link (NotFound for a tampered one)."""
    invitation = _invitation(session, token)
    template = session.get(SurveyTemplate, invitation.template_id)
    if template is None:
        raise NotFound("this survey link is not valid", field="token")
    return SurveyView(invitation, template, invitation.language, invitation.status == InvitationStatus.ANSWERED,
                      invitation.expires_at <= clock.now())


def _validate(template: SurveyTemplate, answers: dict[str, Any]) -> dict[str, Any]:
    """The answers, checked against the template's questions; Invalid names `answers.<id>`."""
    questions = {q["id"]: q for q in template.questions}
    unknown = sorted(set(answers) - set(questions))
    if unknown:
        raise Invalid("no such question", field=f"answers.{unknown[0]}")
    clean: dict[str, Any] = {}
    for qid, question in questions.items():
        field = f"answers.{qid}"
        value = answers.get(qid)
        if value is None or value == "" or value == []:
            if question.get("required"):
                raise Invalid("required", field=field)
            continue
        kind = QuestionType(question["type"])
        if kind in SCALES:
            low, high = SCALES[kind]
            if isinstance(value, str):
                value = _whole_number(value)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise Invalid(Message("a whole number from {low} to {high}", low=low, high=high), field=field)
        elif kind == QuestionType.TEXT:
            if not isinstance(value, str):
                raise Invalid("text", field=field)
            refuse_control(value, field)  # answers are a JSON object: the request schema never sees inside
            value = value.strip()
            if len(value) > MAX_TEXT:
                raise Invalid(Message("at most {limit} characters", limit=MAX_TEXT), field=field)
            # what the customer wrote, with any card, ID or mobile number masked: the results page is
            # read by staff who may not see a customer's contact details
            value = redact_phones(redact_identifiers(value))
        else:
            options = {o["value"] for o in question.get("options", [])}
            chosen = value if isinstance(value, list) else [value]
            if kind == QuestionType.SINGLE and len(chosen) != 1:
                raise Invalid("choose one", field=field)
            if not all(isinstance(c, str) and c in options for c in chosen) or len(set(chosen)) != len(chosen):
                raise Invalid("not one of the choices", field=field)
            value = chosen[0] if kind == QuestionType.SINGLE else sorted(chosen)
        clean[qid] = value
    return clean


def _whole_number(text: str) -> int | str:
    """A scale answer typed as text: an int if it is a few ASCII digits (with an optional minus), else
    the text unchanged, to be refused. `isdigit()` alone lets "²" or 5,000 digits reach `int()`."""
    digits = text.strip().removeprefix("-")
    if digits.isascii() and digits.isdigit() and len(digits) <= MAX_DIGITS:
        return int(text)
    return text


def submit(session: Session, token: str, answers: dict[str, Any]) -> tuple[SurveyResponse, bool]:
    """Record the answers once; returns (the response, whether it was new). A second submit of the
    same link writes nothing; an expired link is Gone; bad answers are Invalid and write nothing."""
    invitation = _invitation(session, token, lock=True)
    if invitation.status == InvitationStatus.ANSWERED:
        existing = session.execute(select(SurveyResponse).where(
            SurveyResponse.invitation_id == invitation.id)).scalar_one()
        return existing, False
    now = clock.now()
    if invitation.expires_at <= now:
        raise Gone("this survey link has expired", field="token")
    template = session.get(SurveyTemplate, invitation.template_id)
    if template is None:
        raise NotFound("this survey link is not valid", field="token")
    clean = _validate(template, answers)
    types = {q["id"]: q["type"] for q in template.questions}
    csat = next((v for k, v in clean.items() if types[k] == QuestionType.CSAT), None)
    nps = next((v for k, v in clean.items() if types[k] == QuestionType.NPS), None)
    comment = "\n".join(v for k, v in clean.items() if types[k] == QuestionType.TEXT) or None
    response = SurveyResponse(invitation_id=invitation.id, submitted_at=now, csat=csat, nps=nps, answers=clean,
                              comment=comment)
    session.add(response)
    invitation.status, invitation.answered_at = InvitationStatus.ANSWERED, now
    session.flush()
    audit_trail.record(session, actor=SYSTEM, action="survey.answered", subject=invitation,
                       after={"csat": csat, "nps": nps})
    if (csat is not None and csat <= 2) or (nps is not None and nps <= 6):
        _recover(session, invitation, csat=csat, nps=nps)
    return response, True


def _recover(session: Session, invitation: SurveyInvitation, *, csat: int | None, nps: int | None) -> None:
    """A detractor: a recovery call for a supervisor of the rated agent's department, and a notice."""
    department_id = None
    if invitation.agent_id is not None:
        agent = session.get(StaffAccount, invitation.agent_id)
        department_id = agent.department_id if agent else None
    supervisors = notify.staff_with_role(session, Role.SUPERVISOR, department_id=department_id) or \
        notify.staff_with_role(session, Role.SUPERVISOR)
    task = open_follow_up(session, kind=FollowUpKind.RECOVERY, source_key=f"survey-recovery-{invitation.id}",
                          customer_id=invitation.customer_id, ticket_id=invitation.ticket_id,
                          assignee_id=supervisors[0] if supervisors else None)
    if task is not None and supervisors:
        notify.notify_staff(session, recipients=supervisors, kind="survey_detractor",
                            params={"csat": csat, "nps": nps, "follow_up_id": task.id},
                            dedupe_key=f"survey-detractor-{invitation.id}", link=f"/followups/{task.id}")


def opt_out(session: Session, token: str) -> None:
    """The customer asks for no more surveys: a withdrawal of the `surveys` consent (idempotent)."""
    invitation = _invitation(session, token, lock=True)
    if opted_out(session, invitation.customer_id):
        return
    customer = session.get(Customer, invitation.customer_id)
    if customer is None:
        raise NotFound("this survey link is not valid", field="token")
    customers.record_consent(session, actor=SYSTEM, customer=customer, purpose=ConsentPurpose.SURVEYS,
                             granted=False, channel="survey_link")


# -- templates and policies ------------------------------------------------------------------------

MAX_QUESTIONS = 20
MAX_OPTIONS = 20
MAX_LABEL = 300


def _label(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("required", field=field)
    refuse_control(value, field)
    if len(value.strip()) > MAX_LABEL:
        raise Invalid(Message("at most {limit} characters", limit=MAX_LABEL), field=field)
    return value.strip()


def parse_questions(raw: object) -> list[dict[str, Any]]:
    """Validate a questionnaire; Invalid names the entry (`questions[2].options`)."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_QUESTIONS:
        raise Invalid(Message("1 to {limit} questions", limit=MAX_QUESTIONS), field="questions")
    out, seen = [], set()
    for i, entry in enumerate(raw):
        at = f"questions[{i}]"
        if not isinstance(entry, dict):
            raise Invalid("a question", field=at)
        qid = entry.get("id")
        if not isinstance(qid, str) or not qid.isidentifier() or not qid.isascii() or len(qid) > 30 or qid in seen:
            raise Invalid("a unique short identifier (letters, digits, _)", field=f"{at}.id")
        seen.add(qid)
        kind = entry.get("type")
        if not isinstance(kind, str) or kind not in set(QuestionType):  # a list or dict is not even hashable
            raise Invalid(Message("one of {choices}", choices=", ".join(QuestionType)), field=f"{at}.type")
        question: dict[str, Any] = {"id": qid, "type": kind, "required": bool(entry.get("required", False)),
                                    "text_zh": _label(entry.get("text_zh"), f"{at}.text_zh"),
                                    "text_en": _label(entry.get("text_en"), f"{at}.text_en")}
        if kind in (QuestionType.SINGLE, QuestionType.MULTIPLE):
            options = entry.get("options")
            if not isinstance(options, list) or not 2 <= len(options) <= MAX_OPTIONS:
                raise Invalid(Message("2 to {limit} choices", limit=MAX_OPTIONS), field=f"{at}.options")
            values = [o.get("value") if isinstance(o, dict) else None for o in options]
            if not all(isinstance(v, str) and v for v in values) or len(set(values)) != len(values):
                raise Invalid("each choice needs a unique value", field=f"{at}.options")
            refuse_control("".join(map(str, values)), f"{at}.options")  # all text by now
            question["options"] = [{"value": o["value"], "zh": _label(o.get("zh"), f"{at}.options"),
                                    "en": _label(o.get("en"), f"{at}.options")} for o in options]
        out.append(question)
    return out


def add_template(session: Session, *, actor: Principal, key: str, title_zh: str, title_en: str,
                 questions: object) -> SurveyTemplate:
    """A new questionnaire (templates are never edited in place: answers keep their meaning)."""
    key = (key or "").strip()
    if not key or len(key) > 40 or not key.replace("_", "").replace("-", "").isalnum() or not key.isascii():
        raise Invalid("a short key of letters, digits, - and _", field="key")
    if session.execute(select(SurveyTemplate.id).where(SurveyTemplate.key == key)).first():
        raise Conflict("a template with this key exists", field="key")
    template = SurveyTemplate(key=key, title_zh=_label(title_zh, "title_zh"), title_en=_label(title_en, "title_en"),
                              questions=parse_questions(questions), active=True, created_at=clock.now())
    session.add(template)
    session.flush()
    audit_trail.record(session, actor=actor, action="survey_template.added", subject=template, after={"key": key})
    return template


def list_templates(session: Session) -> list[SurveyTemplate]:
    return list(session.execute(select(SurveyTemplate).order_by(SurveyTemplate.id)).scalars())


def list_policies(session: Session) -> list[SurveyPolicy]:
    return list(session.execute(select(SurveyPolicy).order_by(SurveyPolicy.trigger)).scalars())


def set_policy(session: Session, *, actor: Principal, trigger: str, template_id: int, sampling_rate: float,
               active: bool = True) -> SurveyPolicy:
    """Which template follows `trigger`, for which share of customers (0 to 1)."""
    chosen = one_of(SurveyTrigger, trigger, "trigger")
    if not 0 <= sampling_rate <= 1:
        raise Invalid("a share from 0 to 1", field="sampling_rate")
    template = session.get(SurveyTemplate, template_id)
    if template is None or not template.active:
        raise Invalid("no such active template", field="template_id")
    policy = session.get(SurveyPolicy, chosen, with_for_update=True)
    before = None if policy is None else {"template_id": policy.template_id, "sampling_rate": policy.sampling_rate,
                                          "active": policy.active}
    if policy is None:
        policy = SurveyPolicy(trigger=chosen)
        session.add(policy)
    policy.template_id, policy.sampling_rate, policy.active = template_id, sampling_rate, active
    policy.updated_at = clock.now()
    session.flush()
    audit_trail.record(session, actor=actor, action="survey_policy.set", subject=None, before=before,
                       after={"trigger": chosen, "template_id": template_id, "sampling_rate": sampling_rate,
                              "active": active})
    return policy


# What a new institution starts with: one short questionnaire, every complaint and follow-up call
# surveyed, a sample of consultations and feedback.
DEFAULT_TEMPLATE = {
    "key": "service", "title_zh": "服务满意度调查", "title_en": "Service satisfaction survey",
    "questions": [
        {"id": "csat", "type": "csat", "required": True, "text_zh": "您对本次服务的总体满意度如何？",
         "text_en": "How satisfied are you with our service this time?"},
        {"id": "nps", "type": "nps", "required": False, "text_zh": "您有多大可能向亲友推荐我们？",
         "text_en": "How likely are you to recommend us to a friend or relative?"},
        {"id": "comment", "type": "text", "required": False, "text_zh": "还有什么想告诉我们的吗？",
         "text_en": "Is there anything else you would like to tell us?"},
    ],
}
DEFAULT_SAMPLING = {SurveyTrigger.COMPLAINT: 1.0, SurveyTrigger.CONSULTATION: 0.2, SurveyTrigger.FEEDBACK: 0.5,
                    SurveyTrigger.FOLLOW_UP: 1.0}


def ensure_default_surveys(session: Session) -> None:
    """Create the default questionnaire and policies where none exist (idempotent)."""
    template = session.execute(select(SurveyTemplate).where(SurveyTemplate.key == DEFAULT_TEMPLATE["key"])
                               ).scalar_one_or_none()
    if template is None:
        template = SurveyTemplate(key=DEFAULT_TEMPLATE["key"], title_zh=DEFAULT_TEMPLATE["title_zh"],
                                  title_en=DEFAULT_TEMPLATE["title_en"],
                                  questions=parse_questions(DEFAULT_TEMPLATE["questions"]), active=True,
                                  created_at=clock.now())
        session.add(template)
        session.flush()
    for trigger, rate in DEFAULT_SAMPLING.items():
        if session.get(SurveyPolicy, trigger) is None:
            session.add(SurveyPolicy(trigger=trigger, template_id=template.id, sampling_rate=rate, active=True,
                                     updated_at=clock.now()))
    session.flush()
