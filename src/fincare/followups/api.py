"""Follow-ups over REST: the due list, call outcomes, and the rules of periodic follow-ups."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as UrlPath
from fastapi.responses import JSONResponse

from fincare.followups import service
from fincare.followups.models import FollowUpStatus
from fincare.followups.schemas import (
    AnswersIn,
    AttemptRead,
    FiguresRead,
    FollowUpRead,
    OutcomeIn,
    PolicyIn,
    PolicyRead,
    RuleIn,
    RuleRead,
    SubmittedRead,
    SurveyRead,
    TemplateIn,
    TemplateRead,
)
from fincare.followups.service.results import Dimension
from fincare.platform.db import unit_of_work
from fincare.platform.http import require
from fincare.platform.idempotency import IdempotencyKey
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import MAX_ID, Moment, PathId, one_of_query

router = APIRouter(prefix="/api/v1", tags=["followups"])
Caller = Annotated[Principal, require(P.FOLLOWUP_WORK)]
Manager = Annotated[Principal, require(P.SURVEY_MANAGE)]
Token = Annotated[str, UrlPath(max_length=120)]


@router.get("/followups", response_model=list[FollowUpRead])
def find(actor: Caller, due_before: Moment | None = None,
         status: Annotated[str | None, one_of_query(FollowUpStatus)] = "open",
         assignee: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
         limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[FollowUpRead]:
    """Follow-ups, earliest due first (`status=open` by default)."""
    with unit_of_work(read_only=True) as session:
        found = service.list_follow_ups(session, actor=actor, status=status, due_before=due_before,
                                        assignee_id=assignee, limit=limit)
        return FollowUpRead.many(session, found)


@router.get("/followups/{follow_up_id}", response_model=FollowUpRead)
def read(follow_up_id: PathId, actor: Caller) -> FollowUpRead:
    with unit_of_work(read_only=True) as session:
        return FollowUpRead.many(session, [service.access(session, follow_up_id, actor)])[0]


@router.get("/followups/{follow_up_id}/attempts", response_model=list[AttemptRead])
def attempts(follow_up_id: PathId, actor: Caller) -> list[AttemptRead]:
    with unit_of_work(read_only=True) as session:
        follow_up = service.access(session, follow_up_id, actor)
        return [AttemptRead.model_validate(a) for a in service.attempts_of(session, follow_up.id)]


@router.post("/followups/{follow_up_id}/outcome", response_model=FollowUpRead)
def outcome(follow_up_id: PathId, body: OutcomeIn, actor: Caller, idem: IdempotencyKey) -> JSONResponse:
    """Record one call: reached (satisfied or not: reason, and reopen / review / none), unreachable
    (closed on the third different day) or refused; send an `Idempotency-Key`: a retry must not count
    a call twice."""
    with unit_of_work() as session:
        follow_up = service.access(session, follow_up_id, actor, for_write=True)

        def record() -> FollowUpRead:
            service.record_attempt(session, actor=actor, follow_up=follow_up, result=body.result, note=body.note,
                                   reason=body.reason, next_step=body.next_step)
            return FollowUpRead.many(session, [follow_up])[0]

        return idem.run(session, actor, record, status_code=200)


@router.get("/followup-rules", response_model=list[RuleRead])
def rules(actor: Caller) -> list[RuleRead]:
    with unit_of_work(read_only=True) as session:
        return [RuleRead.model_validate(r) for r in service.list_rules(session)]


@router.post("/followup-rules", status_code=201, response_model=RuleRead)
def add_rule(body: RuleIn, actor: Manager, idem: IdempotencyKey) -> JSONResponse:
    """Periodic follow-ups for the customers of a segment or a tag (key customers, high-risk sales)."""
    with unit_of_work() as session:
        return idem.run(session, actor, lambda: RuleRead.model_validate(service.add_rule(
            session, actor=actor, kind=body.kind, cadence=body.cadence, segment=body.segment, tag=body.tag)))


@router.post("/followup-rules/{rule_id}/deactivate", response_model=RuleRead)
def deactivate_rule(rule_id: PathId, actor: Manager) -> RuleRead:
    with unit_of_work() as session:
        return RuleRead.model_validate(service.deactivate_rule(session, actor=actor, rule_id=rule_id))


# -- surveys ---------------------------------------------------------------------------------------


@router.get("/surveys/{token}", response_model=SurveyRead)
def survey(token: Token) -> SurveyRead:
    """Public (the signed link is the key): the questions in the customer's language."""
    with unit_of_work(read_only=True) as session:
        view = service.open_survey(session, token)
        status = "answered" if view.answered else "expired" if view.expired else "open"
        return SurveyRead(language=view.language, status=status, questions=view.template.questions,
                          title=view.template.title_zh if view.language == "zh-CN" else view.template.title_en)


@router.post("/surveys/{token}", status_code=201, response_model=SubmittedRead, responses={
    200: {"model": SubmittedRead, "description": "Answered before: `already_answered`, nothing written"},
    410: {"description": "The link has expired"}})
def answer(token: Token, body: AnswersIn) -> JSONResponse:
    """Public: answer once. A repeat is 200 `already_answered` and writes nothing; an expired link 410."""
    with unit_of_work() as session:
        _, new = service.submit(session, token, body.answers)
    return JSONResponse({"status": "answered" if new else "already_answered"}, status_code=201 if new else 200)


@router.get("/survey-templates", response_model=list[TemplateRead])
def templates(actor: Manager) -> list[TemplateRead]:
    with unit_of_work(read_only=True) as session:
        return [TemplateRead.model_validate(t) for t in service.list_templates(session)]


@router.post("/survey-templates", status_code=201, response_model=TemplateRead)
def add_template(body: TemplateIn, actor: Manager, idem: IdempotencyKey) -> JSONResponse:
    """A questionnaire: CSAT (1–5), NPS (0–10), single / multiple choice, free text, in zh-CN and en."""
    with unit_of_work() as session:
        return idem.run(session, actor, lambda: TemplateRead.model_validate(service.add_template(
            session, actor=actor, key=body.key, title_zh=body.title_zh, title_en=body.title_en,
            questions=body.questions)))


@router.get("/survey-policies", response_model=list[PolicyRead])
def policies(actor: Manager) -> list[PolicyRead]:
    with unit_of_work(read_only=True) as session:
        return [PolicyRead.model_validate(p) for p in service.list_policies(session)]


@router.put("/survey-policies/{trigger}", response_model=PolicyRead)
def set_policy(trigger: Annotated[str, UrlPath(max_length=20)], body: PolicyIn, actor: Manager) -> PolicyRead:
    """Which template follows complaints, consultations, feedback or follow-up calls, and how often."""
    with unit_of_work() as session:
        return PolicyRead.model_validate(service.set_policy(session, actor=actor, trigger=trigger,
                                                            template_id=body.template_id,
                                                            sampling_rate=body.sampling_rate, active=body.active))


@router.get("/survey-results", response_model=list[FiguresRead])
def results(actor: Annotated[Principal, require(P.KPI_READ)], since: Moment, until: Moment,
            by: Annotated[str | None, one_of_query(Dimension)]
            = None) -> list[FiguresRead]:
    """CSAT (share of 4–5), NPS, response rate and follow-up satisfaction for surveys sent and
    follow-ups closed in [since, until)."""
    with unit_of_work(read_only=True) as session:
        return [FiguresRead(key=f.key, invitations=f.invitations, responses=f.responses,
                            response_rate=f.response_rate, csat=f.csat, nps=f.nps, reached=f.reached,
                            followup_satisfaction=f.followup_satisfaction)
                for f in service.results(session, since=since, until=until, by=by)]
