"""Follow-up request and response bodies (customers appear by id and masks only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pydantic import Field
from sqlalchemy.orm import Session

from fincare.customers import service as customers
from fincare.followups.models import FollowUp
from fincare.followups.service.tasks import MAX_NOTE
from fincare.platform.schemas import MAX_ID, RequestBody, ResponseBody


class OutcomeIn(RequestBody):
    result: str = Field(max_length=24, description="reached_satisfied | reached_dissatisfied | unreachable | refused")
    note: str | None = Field(default=None, max_length=MAX_NOTE)
    reason: str | None = Field(default=None, max_length=MAX_NOTE, description="required when dissatisfied")
    next_step: str | None = Field(default=None, max_length=12,
                                  description="when dissatisfied: reopen | review | none (default none)")


class AttemptRead(ResponseBody):
    id: int
    at: datetime
    local_day: date
    actor_id: int | None
    result: str
    note: str | None


class FollowUpRead(ResponseBody):
    id: int
    kind: str
    customer_id: int
    customer_name: str | None = None
    customer_phone: str | None = None
    ticket_id: int | None
    rule_id: int | None
    status: str
    outcome: str | None
    assignee_id: int | None
    attempts: int
    dissatisfaction_reason: str | None
    next_step: str | None
    due_at: datetime
    created_at: datetime
    closed_at: datetime | None

    @classmethod
    def many(cls, session: Session, follow_ups: Sequence[FollowUp]) -> list[FollowUpRead]:
        masked = customers.summaries(session, (f.customer_id for f in follow_ups))
        reads = []
        for follow_up in follow_ups:
            read = cls.model_validate(follow_up)
            summary = masked.get(follow_up.customer_id)
            if summary is not None:
                read.customer_name, read.customer_phone = summary.name, summary.phone
            reads.append(read)
        return reads


class RuleIn(RequestBody):
    kind: str = Field(max_length=20, description="key_customer | high_risk_sales")
    cadence: str = Field(max_length=12, description="monthly | quarterly")
    segment: str | None = Field(default=None, max_length=60)
    tag: str | None = Field(default=None, max_length=60)


class RuleRead(ResponseBody):
    id: int
    kind: str
    cadence: str
    segment: str | None
    tag: str | None
    active: bool
    created_at: datetime


class AnswersIn(RequestBody):
    answers: dict[str, Any] = Field(max_length=50, description="question id → value (number, choice, list, text)")


class SurveyRead(ResponseBody):
    """What a survey link shows (public: no personal data)."""

    language: str
    title: str
    status: str  # open | answered | expired
    questions: list[dict[str, Any]]


class SubmittedRead(ResponseBody):
    status: str  # answered | already_answered


class TemplateIn(RequestBody):
    key: str = Field(max_length=40)
    title_zh: str = Field(max_length=120)
    title_en: str = Field(max_length=120)
    questions: list[dict[str, Any]] = Field(max_length=20)


class TemplateRead(ResponseBody):
    id: int
    key: str
    title_zh: str
    title_en: str
    questions: list[dict[str, Any]]
    active: bool


class PolicyIn(RequestBody):
    template_id: int = Field(ge=1, le=MAX_ID)
    sampling_rate: float = Field(description="share of resolutions surveyed, 0 to 1")
    active: bool = True


class PolicyRead(ResponseBody):
    trigger: str
    template_id: int
    sampling_rate: float
    active: bool


class FiguresRead(ResponseBody):
    key: str
    invitations: int
    responses: int
    response_rate: float | None
    csat: float | None
    nps: float | None
    reached: int
    followup_satisfaction: float | None
