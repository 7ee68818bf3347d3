"""Survey and follow-up results: CSAT (share of 4–5), NPS (promoters − detractors), follow-up
satisfaction (satisfied ÷ reached) and response rate, for a period, overall or by agent, team,
channel, product or month.

These are the figures behind the KPIs `customer_satisfaction_rate` and `followup_satisfaction_rate`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fincare.followups.models import FollowUp, FollowUpStatus, Result, SurveyInvitation, SurveyResponse
from fincare.platform.accounts.models import Department, StaffAccount
from fincare.platform.config import get_settings
from fincare.platform.errors import Invalid, one_of
from fincare.servicedesk.models import ComplaintCode, Ticket

# MISSION's targets: ≥ 90 % satisfied (CSAT 4–5); follow-up satisfaction ≥ 85 %
CSAT_TARGET = 0.90
FOLLOWUP_TARGET = 0.85


class Dimension(StrEnum):
    AGENT = "agent"
    TEAM = "team"
    CHANNEL = "channel"
    PRODUCT = "product"
    MONTH = "month"


@dataclass
class Figures:
    """One row of results; a rate is None when it has nothing to be a rate of."""

    key: str
    invitations: int = 0
    responses: int = 0
    csat_answers: int = 0
    csat_satisfied: int = 0
    nps_answers: int = 0
    promoters: int = 0
    detractors: int = 0
    reached: int = 0
    reached_satisfied: int = 0

    @property
    def response_rate(self) -> float | None:
        return self.responses / self.invitations if self.invitations else None

    @property
    def csat(self) -> float | None:
        return self.csat_satisfied / self.csat_answers if self.csat_answers else None

    @property
    def nps(self) -> float | None:
        return 100 * (self.promoters - self.detractors) / self.nps_answers if self.nps_answers else None

    @property
    def followup_satisfaction(self) -> float | None:
        return self.reached_satisfied / self.reached if self.reached else None


def _month(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(get_settings().timezone)).strftime("%Y-%m")


def results(session: Session, *, since: datetime, until: datetime, by: str | None = None) -> list[Figures]:
    """Figures for surveys sent and follow-ups closed in [since, until), grouped `by` a dimension."""
    if since >= until:
        raise Invalid("the period must end after it starts", field="until")
    dimension = one_of(Dimension, by, "by") if by else None
    departments = dict(session.execute(select(StaffAccount.id, StaffAccount.department_id)).all()) \
        if dimension == Dimension.TEAM else {}

    def key_of(agent_id: int | None, channel: str | None, product: str | None, at: datetime) -> str:
        if dimension is None:
            return "all"
        value: Any = {Dimension.AGENT: agent_id, Dimension.TEAM: departments.get(agent_id) if agent_id else None,
                      Dimension.CHANNEL: channel, Dimension.PRODUCT: product, Dimension.MONTH: _month(at)}[dimension]
        return "none" if value is None else str(value)

    rows: dict[str, Figures] = defaultdict(lambda: Figures(""))
    invitations = session.execute(
        select(SurveyInvitation.agent_id, SurveyInvitation.sent_at, Ticket.channel,
               Ticket.business_type_code, Ticket.product, SurveyResponse.csat, SurveyResponse.nps,
               SurveyResponse.id)
        .outerjoin(Ticket, Ticket.id == SurveyInvitation.ticket_id)
        .outerjoin(SurveyResponse, SurveyResponse.invitation_id == SurveyInvitation.id)
        .where(SurveyInvitation.sent_at >= since, SurveyInvitation.sent_at < until))
    for agent_id, sent_at, channel, business_type, product, csat, nps, response_id in invitations:
        figures = rows[key_of(agent_id, channel, product or business_type, sent_at)]
        figures.invitations += 1
        if response_id is not None:
            figures.responses += 1
        if csat is not None:
            figures.csat_answers += 1
            figures.csat_satisfied += csat >= 4
        if nps is not None:
            figures.nps_answers += 1
            figures.promoters += nps >= 9
            figures.detractors += nps <= 6
    calls = session.execute(
        select(FollowUp.assignee_id, FollowUp.closed_at, FollowUp.outcome, Ticket.channel, Ticket.business_type_code,
               Ticket.product)
        .outerjoin(Ticket, Ticket.id == FollowUp.ticket_id)
        .where(FollowUp.status == FollowUpStatus.CLOSED, FollowUp.closed_at >= since, FollowUp.closed_at < until,
               FollowUp.outcome.in_((Result.REACHED_SATISFIED, Result.REACHED_DISSATISFIED))))
    for agent_id, closed_at, outcome, channel, business_type, product in calls:
        figures = rows[key_of(agent_id, channel, product or business_type, closed_at or since)]
        figures.reached += 1
        figures.reached_satisfied += outcome == Result.REACHED_SATISFIED
    for key, figures in rows.items():
        figures.key = key
    return sorted(rows.values(), key=_sort_key(dimension))


def _sort_key(dimension: Dimension | None) -> Callable[[Figures], Any]:
    return lambda f: f.key if dimension == Dimension.MONTH else (-(f.invitations + f.reached), f.key)


def totals(session: Session, *, since: datetime, until: datetime) -> Figures:
    """The period's figures overall, aggregated in the database (fast at scale)."""
    surveys = survey_totals(session, since=since, until=until)
    calls = followup_totals(session, since=since, until=until)
    return replace(surveys, reached=calls.reached, reached_satisfied=calls.reached_satisfied)


def survey_totals(session: Session, *, since: datetime, until: datetime) -> Figures:
    """The period's survey figures (invitations sent in it), in one aggregate query: what CSAT reads."""
    answered = SurveyResponse.id.is_not(None)
    row = session.execute(
        select(func.count(), func.count().filter(answered), func.count(SurveyResponse.csat),
               func.count().filter(SurveyResponse.csat >= 4), func.count(SurveyResponse.nps),
               func.count().filter(SurveyResponse.nps >= 9), func.count().filter(SurveyResponse.nps <= 6))
        .select_from(SurveyInvitation)
        .outerjoin(SurveyResponse, SurveyResponse.invitation_id == SurveyInvitation.id)
        .where(SurveyInvitation.sent_at >= since, SurveyInvitation.sent_at < until)).one()
    return Figures("all", invitations=row[0], responses=row[1], csat_answers=row[2], csat_satisfied=row[3],
                   nps_answers=row[4], promoters=row[5], detractors=row[6])


def followup_totals(session: Session, *, since: datetime, until: datetime) -> Figures:
    """The period's follow-up calls that reached the customer (closed in it), in one query."""
    reached, satisfied = session.execute(
        select(func.count(), func.count().filter(FollowUp.outcome == Result.REACHED_SATISFIED))
        .where(FollowUp.status == FollowUpStatus.CLOSED, FollowUp.closed_at >= since, FollowUp.closed_at < until,
               FollowUp.outcome.in_((Result.REACHED_SATISFIED, Result.REACHED_DISSATISFIED)))).one()
    return Figures("all", reached=reached, reached_satisfied=satisfied)


# -- what the results page reads beside the figures ------------------------------------------------


@dataclass(frozen=True)
class Comment:
    """A survey's free-text answer beside its ticket (no personal data: the customer is not named)."""

    invitation_id: int
    submitted_at: datetime
    ticket_id: int | None
    reference: str | None  # the ticket's reference, e.g. TS-2026-000123
    csat: int | None
    nps: int | None
    text: str


def recent_comments(session: Session, *, since: datetime, until: datetime, limit: int = 50) -> list[Comment]:
    """Free-text answers submitted in [since, until), newest first, at most `limit` (1–200)."""
    if since >= until:
        raise Invalid("the period must end after it starts", field="until")
    rows = session.execute(
        select(SurveyInvitation.id, SurveyResponse.submitted_at, Ticket.id, Ticket.reference, SurveyResponse.csat,
               SurveyResponse.nps, SurveyResponse.comment)
        .join(SurveyInvitation, SurveyInvitation.id == SurveyResponse.invitation_id)
        .outerjoin(Ticket, Ticket.id == SurveyInvitation.ticket_id)
        .where(SurveyResponse.submitted_at >= since, SurveyResponse.submitted_at < until,
               SurveyResponse.comment.is_not(None))
        .order_by(SurveyResponse.submitted_at.desc(), SurveyResponse.id.desc())
        .limit(min(max(limit, 1), 200)))
    return [Comment(invitation_id, submitted_at, ticket_id, reference, csat, nps, comment)
            for invitation_id, submitted_at, ticket_id, reference, csat, nps, comment in rows if comment]


def key_labels(session: Session, *, by: str, keys: Collection[str], language: str) -> dict[str, str]:
    """Names for the keys `results(by=…)` returns, where the key is an id or a code: agents by username,
    teams by department name, products coded by business type by that code's name (in `language`).
    Channels, product skills and months are left to the page's own labels."""
    dimension = one_of(Dimension, by, "by")
    ids = [int(k) for k in keys if k.isascii() and k.isdigit()]
    if dimension == Dimension.AGENT and ids:
        accounts = session.execute(select(StaffAccount.id, StaffAccount.username).where(StaffAccount.id.in_(ids)))
        return {str(r.id): r.username for r in accounts}
    if dimension == Dimension.TEAM and ids:
        departments = session.execute(select(Department.id, Department.name_zh, Department.name_en)
                                    .where(Department.id.in_(ids)))
        return {str(r.id): r.name_zh if language == "zh-CN" else r.name_en for r in departments}
    if dimension == Dimension.PRODUCT and keys:
        codes = session.execute(select(ComplaintCode.code, ComplaintCode.name_zh, ComplaintCode.name_en)
                              .where(ComplaintCode.dimension == "business_type",
                                     ComplaintCode.code.in_(list(keys))))
        return {r.code: r.name_zh if language == "zh-CN" else r.name_en for r in codes}
    return {}
