"""Plans to rows: ids allocated in blocks, every state cut at "now" the way the services would have left
it, written with `bulk_insert` (COPY on PostgreSQL, executemany on SQLite) in foreign-key order.

Consistency kept here: a clock is met when its met time has passed, breached when it was met late or
is unmet past due (breached_at = due_at, as the sweep records it); the ticket's status, first
response, resolution, closing, next due time and breach flag follow from the same times.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from fincare.demo.aftercare import FollowUpPlan, SurveyPlan
from fincare.demo.tickets import DESCRIPTIONS, FIRST_REPLY, KIND_WORD, NOTE, ClockPlan, TicketPlan
from fincare.followups.models import (
    FollowUp,
    FollowUpAttempt,
    FollowUpStatus,
    InvitationStatus,
    NextStep,
    Result,
    SurveyInvitation,
    SurveyResponse,
)
from fincare.followups.service.tasks import SUBJECT as FOLLOW_UP_SUBJECT
from fincare.followups.service.tasks import UNREACHABLE_DAYS
from fincare.platform import crypto
from fincare.platform.db import allocate_ids, bulk_insert
from fincare.servicedesk.models import (
    ACTIVE_STATUSES,
    ComplaintDecision,
    DecisionStatus,
    ExtensionRequest,
    Outcome,
    RegulatorReport,
    ReportStatus,
    RequestStatus,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketMessage,
    TicketStatus,
    Visibility,
    ticket_reference,
)
from fincare.servicedesk.service.coding import CODE_VERSION
from fincare.servicedesk.service.resolution import OUTCOME_WORDS, TEMPLATES, Language
from fincare.sla.models import CalendarKind, Clock, ClockEvent, ClockState, Target

EXTENSION_REASON = "案情复杂，需调取交易记录并与合作机构核实，申请延长处理期限。"


@dataclass
class Batch:
    """The rows of one batch, by table, in insertion order."""

    now: datetime
    zone: ZoneInfo
    compliance: list[int]
    supervisors: list[int]
    link_days: int
    emails: set[int]  # customers with an e-mail address (surveys go by e-mail, else by SMS)
    templates: dict[str, int]  # survey trigger → template
    followup_policy: tuple[int | None, timedelta]  # the follow-up clock's policy and budget
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    decided: list[dict[str, int]] = field(default_factory=list)  # ticket.decision_id, set after the decisions
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows.setdefault(table, []).append(row)


COLUMNS: dict[str, tuple[str, ...]] = {
    "ticket": ("id", "reference", "kind", "channel", "status", "priority", "risk_grade", "regulator_transfer",
               "customer_id", "subject", "description", "assignee_id", "created_by_id", "received_at",
               "first_response_at", "resolved_at", "closed_at", "next_due_at", "repeat_complainant", "product",
               "code_version", "channel_code", "business_type_code", "cause_code", "breached", "created_at",
               "updated_at"),
    "ticket_event": ("id", "ticket_id", "kind", "at", "actor_id", "detail"),
    "ticket_message": ("id", "ticket_id", "visibility", "body", "author_id", "created_at"),
    "complaint_decision": ("id", "ticket_id", "outcome", "remedy", "reply", "language", "status", "decided_by_id",
                           "decided_at", "approved_by_id", "approved_at", "message_id", "sent_at"),
    "regulator_report": ("id", "ticket_id", "reasons", "due_at", "status", "submitted_at", "submitted_by_id",
                         "regulator_reference", "created_at"),
    "extension_request": ("id", "ticket_id", "reason", "requested_by_id", "requested_at", "status", "decided_by_id",
                          "decided_at"),
    "sla_clock": ("id", "subject_type", "subject_id", "target", "policy_id", "calendar", "budget_seconds",
                  "paused_seconds", "started_at", "due_at", "warn_at", "state", "warned_at", "breached_at", "met_at",
                  "extensions"),
    "sla_clock_event": ("id", "clock_id", "kind", "at", "detail", "actor_id"),
    "follow_up": ("id", "kind", "source_key", "customer_id", "ticket_id", "status", "outcome", "assignee_id",
                  "attempts", "dissatisfaction_reason", "next_step", "due_at", "created_at", "closed_at"),
    "follow_up_attempt": ("id", "follow_up_id", "at", "local_day", "actor_id", "result", "note"),
    "survey_invitation": ("id", "source_key", "template_id", "trigger", "customer_id", "ticket_id", "follow_up_id",
                          "agent_id", "channel", "language", "nonce", "status", "sent_at", "expires_at",
                          "reminded_at", "answered_at"),
    "survey_response": ("id", "invitation_id", "submitted_at", "csat", "nps", "answers", "comment"),
}
TABLES = {"ticket": Ticket, "ticket_event": TicketEvent, "ticket_message": TicketMessage,
          "complaint_decision": ComplaintDecision, "regulator_report": RegulatorReport,
          "extension_request": ExtensionRequest, "sla_clock": Clock, "sla_clock_event": ClockEvent,
          "follow_up": FollowUp, "follow_up_attempt": FollowUpAttempt, "survey_invitation": SurveyInvitation,
          "survey_response": SurveyResponse}


class Ids:
    """Ids of one batch, reserved per table in one block before any row is built."""

    def __init__(self, session: Session, needs: dict[str, int]) -> None:
        self._free = {table: iter(allocate_ids(session, table, n)) for table, n in needs.items()}

    def next(self, table: str) -> int:
        return next(self._free[table])


def _clock_state(item: ClockPlan, now: datetime) -> tuple[str, datetime | None, datetime | None, datetime | None]:
    """(state, met_at, breached_at, warned_at) of a clock as the services and the sweep leave it at `now`."""
    met = item.met if item.met is not None and item.met <= now else None
    breached = item.due if (met is not None and met > item.due) or (met is None and item.due <= now) else None
    state = ClockState.BREACHED if breached else ClockState.MET if met else ClockState.RUNNING
    warned = item.warn if item.warn <= (met or now) else None
    return state, met, breached, warned


def needs(plans: Sequence[TicketPlan], follow_ups: Sequence[FollowUpPlan],
          surveys: Sequence[SurveyPlan]) -> dict[str, int]:
    """Upper bounds of the ids each table needs (unused ids are simply skipped)."""
    clocks = sum(len(p.clocks) for p in plans) + len(follow_ups)
    complaints = sum(1 for p in plans if p.decision is not None)
    return {"ticket": len(plans), "ticket_event": 6 * len(plans) + 6 * complaints,
            "ticket_message": 3 * len(plans), "complaint_decision": complaints,
            "regulator_report": sum(1 for p in plans if p.report_due is not None),
            "extension_request": sum(1 for p in plans for c in p.clocks if c.extended_at is not None),
            "sla_clock": clocks, "sla_clock_event": 5 * clocks, "follow_up": len(follow_ups),
            "follow_up_attempt": sum(len(f.attempts) for f in follow_ups), "survey_invitation": len(surveys),
            "survey_response": sum(1 for s in surveys if s.answered is not None)}


def build(batch: Batch, ids: Ids, plans: Sequence[TicketPlan], follow_ups: Sequence[FollowUpPlan],
          surveys: Sequence[SurveyPlan]) -> None:
    """Rows for the plans; follow-ups and invitations name each other, so their ids are drawn first."""
    keys = Keys(follow_ups={id(call): ids.next("follow_up") for call in follow_ups},
                invitations={id(survey): ids.next("survey_invitation") for survey in surveys})
    for plan in plans:
        ticket_id = ids.next("ticket")
        keys.tickets[id(plan)] = ticket_id
        resolution = _ticket(batch, ids, plan, ticket_id)
        if resolution is not None:
            keys.resolutions[id(plan)] = resolution
    for call in follow_ups:
        _follow_up(batch, ids, call, keys)
    for survey in surveys:
        _survey(batch, ids, survey, keys)


@dataclass
class Keys:
    """The ids given to plans (by the plan object's id), for the rows that refer to them."""

    follow_ups: dict[int, int]
    invitations: dict[int, int]
    tickets: dict[int, int] = field(default_factory=dict)
    resolutions: dict[int, int] = field(default_factory=dict)  # ticket plan → its resolution event


def _ticket(batch: Batch, ids: Ids, plan: TicketPlan, ticket_id: int) -> int | None:
    now, event = batch.now, batch.add
    first = plan.first_response if plan.first_response <= now else None
    resolved = plan.resolved if plan.resolved <= now else None
    closed = plan.closed if plan.closed <= now else None
    status = TicketStatus.CLOSED if closed else TicketStatus.RESOLVED if resolved else TicketStatus.OPEN
    subject = f"{plan.topic}{KIND_WORD[TicketKind(plan.kind)]}"
    events: list[tuple[str, datetime, int | None, dict[str, Any]]] = [
        ("created", plan.received, plan.assignee, {"channel": plan.channel, "assignee_id": plan.assignee,
                                                    "received_at": plan.received.isoformat()})]

    def message(at: datetime, body: str, visibility: str, author: int) -> int:
        message_id = ids.next("ticket_message")
        event("ticket_message", (message_id, ticket_id, visibility, body, author, at))
        events.append(("replied" if visibility == Visibility.PUBLIC else "noted", at, author,
                       {"message_id": message_id}))
        return message_id

    if plan.report_due is not None:
        events.append(("regulator_report_opened", plan.received, None, {"due_at": plan.report_due.isoformat()}))
    if first is not None:
        message(first, FIRST_REPLY[TicketKind(plan.kind)].format(topic=plan.topic), Visibility.PUBLIC, plan.assignee)
        if plan.codes is not None:
            events.append(("coded", first, plan.assignee, {"version": CODE_VERSION, "channel_code": plan.codes[0],
                                                           "business_type_code": plan.codes[1],
                                                           "cause_code": plan.codes[2]}))
    if plan.note_at is not None and plan.note_at <= now and (resolved is None or plan.note_at < resolved):
        message(plan.note_at, NOTE, Visibility.INTERNAL, plan.assignee)
    clock_rows = _clocks(batch, ids, plan, ticket_id, events)
    resolution_event = None
    if resolved is not None:
        if plan.decision is not None:
            _decision(batch, ids, plan, ticket_id, resolved, message, events)
        resolution_event = ids.next("ticket_event")
        events.append(("status_changed", resolved, plan.assignee,
                       {"before": TicketStatus.OPEN, "after": TicketStatus.RESOLVED, "reason": None,
                        "_id": resolution_event}))
    if plan.report_due is not None and plan.report_submitted is not None and plan.report_submitted <= now:
        events.append(("regulator_reported", plan.report_submitted, batch.compliance[0],
                       {"late": plan.report_submitted > plan.report_due}))
    if closed is not None:
        events.append(("status_changed", closed, plan.assignee,
                       {"before": TicketStatus.RESOLVED, "after": TicketStatus.CLOSED, "reason": None}))
    if plan.report_due is not None:
        submitted = plan.report_submitted if plan.report_submitted and plan.report_submitted <= now else None
        reasons = (["high_risk"] if plan.risk == "high" else []) + (
            ["regulator_transfer"] if plan.channel == "regulator_transfer" else [])
        event("regulator_report", (ids.next("regulator_report"), ticket_id, reasons, plan.report_due,
                                   ReportStatus.SUBMITTED if submitted else ReportStatus.DUE, submitted,
                                   batch.compliance[0] if submitted else None,
                                   f"YJ{ticket_id:08d}" if submitted else None, plan.received))
    counting = [c for c in clock_rows if c[14] is None and c[11] != ClockState.CANCELLED]
    next_due = min((c[9] for c in counting), default=None) if status in ACTIVE_STATUSES else None
    updated = max(at for _, at, _, _ in events)
    codes = plan.codes if plan.codes is not None and first is not None else None
    reference = ticket_reference(plan.kind, ticket_id, plan.received, batch.zone)
    event("ticket", (ticket_id, reference, plan.kind, plan.channel, status, plan.priority, plan.risk,
                     plan.channel == "regulator_transfer", plan.customer_id, subject,
                     DESCRIPTIONS[TicketKind(plan.kind)].format(topic=plan.topic), plan.assignee,
                     plan.assignee, plan.received, first, resolved, closed, next_due, False, plan.product,
                     CODE_VERSION if codes else None, *(codes or (None, None, None)),
                     any(c[13] is not None for c in clock_rows), plan.received, updated))
    for kind, at, actor, detail in sorted(events, key=lambda e: e[1]):
        event_id = detail.pop("_id", None) or ids.next("ticket_event")
        event("ticket_event", (event_id, ticket_id, kind, at, actor, detail))
    return resolution_event


def _decision(batch: Batch, ids: Ids, plan: TicketPlan, ticket_id: int, resolved: datetime, message: Any,
              events: list[tuple[str, datetime, int | None, dict[str, Any]]]) -> None:
    decision = plan.decision
    assert decision is not None
    decided = max(resolved - timedelta(hours=3), plan.first_response) if decision.approved_by else resolved
    remedy = f"我行将为您：{decision.remedy}。" if decision.remedy else ""
    reply = TEMPLATES[Language.ZH].format(reference=ticket_reference(plan.kind, ticket_id, plan.received, batch.zone),
                                          outcome=OUTCOME_WORDS[Language.ZH][Outcome(decision.outcome)], remedy=remedy)
    decision_id = ids.next("complaint_decision")
    events.append(("decision_recorded", decided, decision.decided_by,
                   {"decision_id": decision_id, "outcome": decision.outcome,
                    "awaiting_approval": decision.approved_by is not None}))
    if decision.approved_by:
        events.append(("decision_approved", resolved, decision.approved_by,
                       {"decision_id": decision_id, "note": None}))
    message_id = message(resolved, reply, Visibility.PUBLIC, decision.decided_by)
    events.append(("decision_sent", resolved, decision.approved_by or decision.decided_by,
                   {"decision_id": decision_id, "outcome": decision.outcome}))
    batch.add("complaint_decision", (decision_id, ticket_id, decision.outcome, decision.remedy, reply, Language.ZH,
                                     DecisionStatus.SENT, decision.decided_by, decided, decision.approved_by,
                                     resolved if decision.approved_by else None, message_id, resolved))
    batch.decided.append({"t": ticket_id, "d": decision_id})


def _clocks(batch: Batch, ids: Ids, plan: TicketPlan, ticket_id: int,
            events: list[tuple[str, datetime, int | None, dict[str, Any]]]) -> list[tuple[Any, ...]]:
    rows = []
    for item in plan.clocks:
        extended = item.extended_at is not None and item.extended_at <= batch.now
        if item.extended_at is not None and not extended and item.unextended is not None:
            item.budget, item.due, item.warn = item.unextended  # the extension has not been asked for yet
        row = _clock_row(batch, ids, "ticket", ticket_id, item, extended)
        rows.append(row)
        if extended and item.extended_at is not None:
            supervisor = batch.supervisors[ticket_id % len(batch.supervisors)]
            batch.add("extension_request", (ids.next("extension_request"), ticket_id, EXTENSION_REASON,
                                            plan.assignee, item.extended_at - timedelta(hours=2),
                                            RequestStatus.APPROVED, supervisor, item.extended_at))
            events.append(("extension_requested", item.extended_at - timedelta(hours=2), plan.assignee,
                           {"reason": EXTENSION_REASON}))
            events.append(("extension_decided", item.extended_at, supervisor, {"approved": True, "note": None}))
            events.append(("deadline_extended", item.extended_at, supervisor,
                           {"days": 30, "due_at": item.due.isoformat()}))
    return rows


def _clock_row(batch: Batch, ids: Ids, subject_type: str, subject_id: int, item: ClockPlan,
               extended: bool) -> tuple[Any, ...]:
    clock_id = ids.next("sla_clock")
    state, met, breached, warned = _clock_state(item, batch.now)
    first_due = item.unextended[1] if extended and item.unextended else item.due
    log: list[tuple[str, datetime, dict[str, Any]]] = [("started", item.started, {"due_at": first_due.isoformat()})]
    if extended and item.extended_at is not None:
        log.append(("extended", item.extended_at, {"days": 30, "reason": EXTENSION_REASON}))
    if warned is not None:
        log.append(("warned", warned, {"due_at": item.due.isoformat()}))
    if breached is not None:
        log.append(("breached", breached, {"due_at": item.due.isoformat()}))
    if met is not None:
        log.append(("met", met, {"late": met > item.due}))
    for kind, at, detail in log:
        batch.add("sla_clock_event", (ids.next("sla_clock_event"), clock_id, kind, at, detail, None))
    row = (clock_id, subject_type, subject_id, item.target, item.policy_id, item.calendar,
           int(item.budget.total_seconds()), 0, item.started, item.due, item.warn, state, warned, breached, met,
           1 if extended else 0)
    batch.add("sla_clock", row)
    return row


def _follow_up(batch: Batch, ids: Ids, call: FollowUpPlan, keys: Keys) -> None:
    follow_up_id = keys.follow_ups[id(call)]
    ticket_id = keys.tickets.get(id(call.ticket)) if call.ticket is not None else None
    if call.survey is not None:
        source = f"survey-recovery-{keys.invitations[id(call.survey)]}"
    else:
        source = f"ticket-resolved-{keys.resolutions[id(call.ticket)]}"
    tried: set[object] = set()
    closed_at, outcome = None, None
    for attempt in call.attempts:
        day = attempt.at.astimezone(batch.zone).date()
        batch.add("follow_up_attempt", (ids.next("follow_up_attempt"), follow_up_id, attempt.at, day, attempt.actor,
                                        attempt.result, None))
        if attempt.result == Result.UNREACHABLE:
            tried.add(day)
        if attempt.result != Result.UNREACHABLE or len(tried) >= UNREACHABLE_DAYS:
            closed_at, outcome = attempt.at, attempt.result
    policy_id, budget = batch.followup_policy
    item = ClockPlan(Target.FOLLOW_UP, CalendarKind.BUSINESS, policy_id, budget, call.created, call.due, call.warn,
                     closed_at)
    _clock_row(batch, ids, FOLLOW_UP_SUBJECT, follow_up_id, item, False)
    dissatisfied = outcome == Result.REACHED_DISSATISFIED
    batch.add("follow_up", (follow_up_id, call.kind, source, call.customer_id, ticket_id,
                            FollowUpStatus.CLOSED if closed_at else FollowUpStatus.OPEN, outcome, call.assignee,
                            len(call.attempts), call.reason if dissatisfied else None,
                            NextStep.NONE if dissatisfied else None, call.due, call.created, closed_at))


def _survey(batch: Batch, ids: Ids, survey: SurveyPlan, keys: Keys) -> None:
    invitation_id = keys.invitations[id(survey)]
    ticket_id = keys.tickets.get(id(survey.ticket)) if survey.ticket is not None else None
    follow_up_id = keys.follow_ups[id(survey.follow_up)] if survey.follow_up is not None else None
    source = f"follow-up-{follow_up_id}" if follow_up_id is not None else \
        f"resolution-{keys.resolutions[id(survey.ticket)]}"
    expires = survey.sent + timedelta(days=batch.link_days)
    remind = survey.sent + timedelta(days=3, minutes=7)
    reminded = remind if remind <= batch.now and remind < expires and (
        survey.answered is None or survey.answered > remind) else None
    channel = "email" if survey.customer_id in batch.emails else "sms"
    batch.add("survey_invitation", (invitation_id, source, batch.templates[survey.trigger], survey.trigger,
                                    survey.customer_id, ticket_id, follow_up_id, survey.agent_id, channel, "zh-CN",
                                    crypto.new_token(12),
                                    InvitationStatus.ANSWERED if survey.answered else InvitationStatus.SENT,
                                    survey.sent, expires, reminded, survey.answered))
    if survey.answered is not None:
        answers: dict[str, Any] = {"csat": survey.csat}
        if survey.nps is not None:
            answers["nps"] = survey.nps
        if survey.comment:
            answers["comment"] = survey.comment
        batch.add("survey_response", (ids.next("survey_response"), invitation_id, survey.answered, survey.csat,
                                      survey.nps, answers, survey.comment))


def write(session: Session, batch: Batch) -> int:
    """Insert every row of the batch in foreign-key order; returns how many rows were written."""
    written = 0
    for name in ("ticket", "ticket_message", "complaint_decision", "ticket_event", "regulator_report",
                  "extension_request", "sla_clock", "sla_clock_event", "follow_up", "follow_up_attempt",
                  "survey_invitation", "survey_response"):
        rows = batch.rows.get(name, [])
        if rows:
            bulk_insert(session, TABLES[name].__table__, rows, columns=COLUMNS[name])
            batch.counts[name] += len(rows)
            written += len(rows)
    if batch.decided:
        session.connection().execute(update(Ticket).where(Ticket.id == bindparam("t"))
                                     .values(decision_id=bindparam("d")), batch.decided)
    return written
