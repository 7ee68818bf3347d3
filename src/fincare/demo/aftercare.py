"""After a ticket: the follow-up call a resolved complaint is owed (回访), the satisfaction survey a
resolved ticket may get (sampled by the survey policy, at most one per customer per 30 days), the
answers of those who reply, and the recovery call a detractor gets — planned, not yet written."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fincare.demo.tickets import TicketPlan, lognormal
from fincare.followups.models import FollowUpKind, Result, SurveyTrigger
from fincare.followups.service.tasks import UNREACHABLE_DAYS
from fincare.servicedesk.models import TicketKind
from fincare.sla.calendar import Calendar
from fincare.sla.service import WARN_AT

SATISFIED_CHANCE: dict[str, float] = {SurveyTrigger.CONSULTATION: 0.95, SurveyTrigger.FEEDBACK: 0.92,
                                      SurveyTrigger.COMPLAINT: 0.85, SurveyTrigger.FOLLOW_UP: 0.9}
RESPONSE_CHANCE: dict[str, float] = {SurveyTrigger.CONSULTATION: 0.37, SurveyTrigger.FEEDBACK: 0.35,
                                     SurveyTrigger.COMPLAINT: 0.31, SurveyTrigger.FOLLOW_UP: 0.4}
PRAISE = ("客服态度很好，解答耐心专业。", "处理速度快，问题一次解决，很满意。", "工作人员很热情，点赞！",
          "手机银行操作指导很详细，谢谢。")
NEUTRAL = ("整体还可以，就是等待时间有点长。", "希望以后能在App里直接办理，不用跑网点。",
           "问题解决了，但流程有些繁琐。")
COMPLAINTS = ("电话一直排队，等了很久才接通。", "答复太笼统，没有真正解决我的问题。",
              "多次反映同一问题，至今没有结果，很失望。", "手续费收取不合理，希望尽快退还。")
DISSATISFIED_REASONS = ("对处理结果不认可，认为补偿不足", "处理时间过长", "答复内容未解决实际问题")


@dataclass
class AttemptPlan:
    at: datetime
    result: str
    actor: int


@dataclass
class FollowUpPlan:
    kind: str
    customer_id: int
    ticket: TicketPlan | None
    assignee: int
    created: datetime
    due: datetime
    warn: datetime
    attempts: list[AttemptPlan] = field(default_factory=list)
    reason: str | None = None
    survey: SurveyPlan | None = None  # the detractor's survey that made a recovery call

    @property
    def outcome(self) -> str:
        return self.attempts[-1].result


@dataclass
class SurveyPlan:
    trigger: str
    customer_id: int
    ticket: TicketPlan | None
    follow_up: FollowUpPlan | None
    agent_id: int
    sent: datetime
    answered: datetime | None = None
    csat: int | None = None
    nps: int | None = None
    comment: str | None = None


@dataclass
class Aftercare:
    """Plans and the state that crosses tickets: when each customer was last surveyed."""

    zone: ZoneInfo
    business: Calendar
    followup_budget: timedelta
    sampling: dict[str, float]
    throttle: timedelta
    link_days: int
    followup_agents: list[int]
    supervisors: list[int]
    last_surveyed: dict[int, datetime] = field(default_factory=dict)
    follow_ups: list[FollowUpPlan] = field(default_factory=list)
    surveys: list[SurveyPlan] = field(default_factory=list)

    def after(self, rng: random.Random, plan: TicketPlan, now: datetime, pressure: float) -> None:
        """Whatever a resolution (before `now`) sets off."""
        if plan.resolved > now:
            return
        survey = self._survey(rng, SurveyTrigger(plan.kind), plan.customer_id, plan, None, plan.assignee,
                              plan.resolved + timedelta(minutes=rng.uniform(1, 5)), now, pressure)
        if survey is not None:
            self._recover(rng, survey, now)
        if plan.kind == TicketKind.COMPLAINT:
            call = self._call(rng, FollowUpKind.COMPLAINT, plan.customer_id, plan, rng.choice(self.followup_agents),
                              plan.resolved + timedelta(seconds=rng.uniform(20, 120)), now)
            if call.attempts and call.outcome in (Result.REACHED_SATISFIED, Result.REACHED_DISSATISFIED):
                self._survey(rng, SurveyTrigger.FOLLOW_UP, plan.customer_id, plan, call, call.assignee,
                             call.attempts[-1].at + timedelta(minutes=rng.uniform(1, 5)), now, pressure)

    def _call(self, rng: random.Random, kind: str, customer_id: int, ticket: TicketPlan | None, assignee: int,
              created: datetime, now: datetime) -> FollowUpPlan:
        """A follow-up and its calls: mostly reached (most satisfied), some unreachable on three days, a few
        refused; calls after `now` have not happened yet."""
        call = FollowUpPlan(kind=kind, customer_id=customer_id, ticket=ticket, assignee=assignee, created=created,
                            due=self.business.add(created, self.followup_budget),
                            warn=self.business.add(created, self.followup_budget * WARN_AT))
        self.follow_ups.append(call)
        draw = rng.random()
        first = self.business.add(created, timedelta(hours=lognormal(rng, 5, 0.7)))
        if draw < 0.80:
            if rng.random() < 0.25:  # not reached the first time
                call.attempts.append(AttemptPlan(first, Result.UNREACHABLE, assignee))
                first = self.business.add(first, timedelta(hours=9 + rng.uniform(0, 4)))
            satisfied = rng.random() < 0.87
            call.attempts.append(AttemptPlan(first, Result.REACHED_SATISFIED if satisfied
                                             else Result.REACHED_DISSATISFIED, assignee))
            if not satisfied:
                call.reason = rng.choice(DISSATISFIED_REASONS)
        elif draw < 0.95:
            for _ in range(UNREACHABLE_DAYS):
                call.attempts.append(AttemptPlan(first, Result.UNREACHABLE, assignee))
                first = self.business.add(first, timedelta(hours=9 + rng.uniform(0.1, 1)))
        else:
            call.attempts.append(AttemptPlan(first, Result.REFUSED, assignee))
        call.attempts = [a for a in call.attempts if a.at <= now]
        return call

    def _survey(self, rng: random.Random, trigger: str, customer_id: int, ticket: TicketPlan | None,
                follow_up: FollowUpPlan | None, agent_id: int, sent: datetime, now: datetime,
                pressure: float) -> SurveyPlan | None:
        if sent > now or rng.random() >= self.sampling.get(trigger, 0.0):
            return None
        last = self.last_surveyed.get(customer_id)
        if last is not None and sent - last < self.throttle:
            return None
        self.last_surveyed[customer_id] = sent
        survey = SurveyPlan(trigger, customer_id, ticket, follow_up, agent_id, sent)
        self.surveys.append(survey)
        if rng.random() >= RESPONSE_CHANCE[trigger]:
            return survey
        answered = sent + timedelta(hours=lognormal(rng, 5, 1.3))
        if answered > now or answered >= sent + timedelta(days=self.link_days):
            return survey
        survey.answered = answered
        satisfied = rng.random() < SATISFIED_CHANCE[trigger] - 0.1 * (pressure - 1.0)
        if satisfied:
            survey.csat = 5 if rng.random() < 0.62 else 4
        else:
            survey.csat = rng.choices((3, 2, 1), weights=(60, 25, 15))[0]
        if rng.random() < 0.8:
            scale = {5: ((10, 45), (9, 35), (8, 15), (7, 5)), 4: ((9, 15), (8, 40), (7, 35), (6, 10)),
                     3: ((7, 25), (6, 35), (5, 25), (4, 15))}.get(survey.csat, ((4, 25), (3, 25), (2, 20), (1, 15),
                                                                                (0, 15)))
            survey.nps = rng.choices([s for s, _ in scale], weights=[w for _, w in scale])[0]
        if rng.random() < 0.15:
            survey.comment = rng.choice(PRAISE if survey.csat >= 5 else NEUTRAL if survey.csat >= 3 else COMPLAINTS)
        return survey

    def _recover(self, rng: random.Random, survey: SurveyPlan, now: datetime) -> None:
        """A detractor (CSAT ≤ 2 or NPS ≤ 6) gets a recovery call from a supervisor."""
        if survey.answered is None or not ((survey.csat or 5) <= 2 or (survey.nps is not None and survey.nps <= 6)):
            return
        call = self._call(rng, FollowUpKind.RECOVERY, survey.customer_id, survey.ticket,
                          rng.choice(self.supervisors), survey.answered + timedelta(seconds=rng.uniform(20, 120)), now)
        call.survey = survey
