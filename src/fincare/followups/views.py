"""Follow-ups in the console and the public survey page.

Console (staff, signed in): the follow-up queue (mine earliest due first, then the unassigned ones),
a follow-up's page (the customer masked, the ticket and its decision, the call script, the calls so
far, the outcome form) and the survey results (CSAT, NPS, response rate, follow-up satisfaction
against their targets, a 12-month trend, a breakdown, the free-text answers). Thin like `api.py`:
a refused outcome is shown again with the message next to the field at fault, nothing written.

Public (no sign-in: the signed link is the key), in the customer's language. Each state has its own
page: the questions; thanks; already answered (a second submit writes nothing); expired (410); not
valid (404, a tampered or unknown link — nothing is written).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as UrlPath
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from fincare.customers import service as customers
from fincare.followups import scripts, service
from fincare.followups.models import FollowUp, FollowUpStatus, NextStep, Result
from fincare.followups.service.results import (
    CSAT_TARGET,
    FOLLOWUP_TARGET,
    Dimension,
    Figures,
    key_labels,
    recent_comments,
)
from fincare.platform import clock, i18n, web
from fincare.platform.config import get_settings
from fincare.platform.db import unit_of_work
from fincare.platform.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from fincare.platform.forms import FormError, Submitted, plain, text
from fincare.platform.http import require_page
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import PathId
from fincare.platform.web import NavItem, add_nav, render
from fincare.servicedesk import pages, workspace
from fincare.servicedesk import service as desk
from fincare.servicedesk.models import Ticket

web.add_templates("followups", Path(__file__).parent / "templates" / "followups")
router = APIRouter(include_in_schema=False)
add_nav(NavItem("Follow-ups", "/followups", P.FOLLOWUP_WORK, order=8))
add_nav(NavItem("Satisfaction", "/surveys/results", P.KPI_READ, order=9))

Token = Annotated[str, UrlPath(max_length=120)]
Caller = Annotated[Principal, require_page(P.FOLLOWUP_WORK)]
Analyst = Annotated[Principal, require_page(P.KPI_READ)]
MAX_FIELDS = 100
QUEUE_LIMIT = 200
OUTCOME_FIELDS = ("result", "reason", "next_step", "note")
BREAKDOWNS = (Dimension.AGENT, Dimension.TEAM, Dimension.CHANNEL, Dimension.PRODUCT)
DEFAULT_DAYS = 30
TREND_MONTHS = 12


def _page(request: Request, state: str, *, language: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    translate = i18n.translator(language)
    values = {"lang": language, "_": translate, "state": state, "title": context.pop("title", translate("Survey")),
              **context}
    return render(request, "followups/survey.html", values, status_code=status_code)


def _language(request: Request) -> str:
    return web.language_of(request)


@router.get("/s/{token}")
def survey_page(request: Request, token: Token) -> Response:
    with unit_of_work(read_only=True) as session:
        try:
            view = service.open_survey(session, token)
        except NotFound:
            return _page(request, "invalid", language=_language(request), status_code=404)
        language = view.language
        title = view.template.title_zh if language == "zh-CN" else view.template.title_en
        if view.answered:
            return _page(request, "answered", language=language, title=title)
        if view.expired:
            return _page(request, "expired", language=language, title=title, status_code=410)
        return _page(request, "open", language=language, title=title, token=token,
                     questions=view.template.questions)


@router.post("/s/{token}")
async def answer(request: Request, token: Token) -> Response:
    form = await request.form(max_fields=MAX_FIELDS)
    answers: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key.startswith("answers.") and isinstance(value, str):
            qid = key.removeprefix("answers.")
            answers[qid] = [*answers[qid], value] if isinstance(answers.get(qid), list) else (
                [answers[qid], value] if qid in answers else value)
    shown: dict[str, Any] = {}
    try:
        with unit_of_work() as session:  # a refused answer raises out of it: nothing is written
            view = service.open_survey(session, token)
            shown = {"language": view.language, "questions": view.template.questions,
                     "title": view.template.title_zh if view.language == "zh-CN" else view.template.title_en}
            multiple = {q["id"] for q in view.template.questions if q["type"] == "multiple"}
            answers = {k: [v] if k in multiple and not isinstance(v, list) else v for k, v in answers.items()}
            _, new = service.submit(session, token, answers)
    except NotFound:
        return _page(request, "invalid", language=_language(request), status_code=404)
    except service.Gone:
        return _page(request, "expired", language=shown["language"], title=shown["title"], status_code=410)
    except DomainError as error:
        return _page(request, "open", language=shown["language"], title=shown["title"], token=token,
                     questions=shown["questions"], error=error, status_code=error.status_code)
    return _page(request, "thanks" if new else "answered", language=shown["language"], title=shown["title"])


@router.post("/s/{token}/opt-out")
def opt_out(request: Request, token: Token) -> Response:
    with unit_of_work() as session:
        try:
            view = service.open_survey(session, token)
            service.opt_out(session, token)
        except NotFound:
            return _page(request, "invalid", language=_language(request), status_code=404)
        return _page(request, "opted_out", language=view.language)


# -- the console (times and countdowns as the service desk shows them: `servicedesk.pages`) --------


def _tickets(session: Session, actor: Principal, follow_ups: list[FollowUp]) -> dict[int, Ticket]:
    """The tickets the follow-ups are about, as far as the actor may read them."""
    return desk.readable_tickets(session, actor, [f.ticket_id for f in follow_ups if f.ticket_id is not None])


# -- the follow-up queue ---------------------------------------------------------------------------


@router.get("/followups")
def queue_page(request: Request, actor: Caller) -> Response:
    """The actor's open follow-ups, earliest due first, then the open ones nobody owns yet."""
    now = clock.now()
    with unit_of_work(read_only=True) as session:
        mine = list(service.list_follow_ups(session, actor=actor, assignee_id=actor.account_id, limit=QUEUE_LIMIT))
        # routed when an agent comes on duty; until then anyone who works follow-ups may call
        unassigned = list(service.list_follow_ups(session, actor=actor, unassigned=True, limit=QUEUE_LIMIT))
        shown = [*mine, *unassigned]
        response = render(request, "followups/queue.html", {
            **pages.common(now), "mine": mine, "unassigned": unassigned,
            "customers": customers.summaries(session, [f.customer_id for f in shown]),
            "tickets": _tickets(session, actor, shown),
        })
    response.headers["Cache-Control"] = "no-store"
    return response


# -- a follow-up -----------------------------------------------------------------------------------


def _follow_up_page(request: Request, session: Session, follow_up: FollowUp, actor: Principal, *,
                    error: FormError | None = None, typed: dict[str, str] | None = None) -> Response:
    now = clock.now()
    language = web.language_of(request)
    ticket = _tickets(session, actor, [follow_up]).get(follow_up.ticket_id or 0)
    decisions = desk.decisions_of(session, ticket.id) if ticket is not None else []
    decision = next((d for d in decisions if ticket is not None and d.id == ticket.decision_id),
                    decisions[-1] if decisions else None)
    attempts = service.attempts_of(session, follow_up.id)
    reference = ticket.reference if ticket is not None else None
    other = "en" if language == "zh-CN" else "zh-CN"
    response = render(request, "followups/follow_up.html", {
        **pages.common(now), "follow_up": follow_up, "ticket": ticket, "decision": decision,
        "customer": customers.summaries(session, [follow_up.customer_id]).get(follow_up.customer_id),
        "attempts": attempts,
        "names": workspace.staff_names(session, [follow_up.assignee_id, *(a.actor_id for a in attempts)]),
        "script": scripts.script_for(follow_up.kind, language, reference=reference),
        "script_other": scripts.script_for(follow_up.kind, other, reference=reference), "script_other_lang": other,
        "results": list(Result), "next_steps": list(NextStep), "open": follow_up.status == FollowUpStatus.OPEN,
        "error": error, "typed": typed or {},
    }, status_code=error.status_code if error else 200)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/followups/{follow_up_id}")
def follow_up_page(request: Request, follow_up_id: PathId, actor: Caller) -> Response:
    with unit_of_work(read_only=True) as session:
        return _follow_up_page(request, session, service.access(session, follow_up_id, actor), actor)


@router.post("/followups/{follow_up_id}/outcome")
def record_outcome(request: Request, follow_up_id: PathId, actor: Caller, form: Submitted) -> Response:
    """Record one call: its result; when the customer is dissatisfied, the reason and what they were
    offered (reopen the complaint, a review, nothing further); a note."""
    typed = {name: text(form, name) for name in OUTCOME_FIELDS}
    try:
        plain(typed)
        if not typed["result"]:
            raise Invalid("choose what the call achieved", field="result")
        with unit_of_work() as session:  # a refusal raises out of it: nothing is written
            follow_up = service.access(session, follow_up_id, actor, for_write=True)
            service.record_attempt(session, actor=actor, follow_up=follow_up, result=typed["result"],
                                   note=typed["note"] or None, reason=typed["reason"] or None,
                                   next_step=typed["next_step"] or None)
    except (Invalid, Forbidden, Conflict) as exc:
        with unit_of_work(read_only=True) as session:
            follow_up = service.access(session, follow_up_id, actor)
            return _follow_up_page(request, session, follow_up, actor, error=FormError.of("outcome", exc),
                                   typed=typed)
    return RedirectResponse(f"/followups/{follow_up_id}#attempts", status_code=303)


# -- survey results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Local calendar days, both included."""

    first: date
    last: date

    def bounds(self) -> tuple[datetime, datetime]:
        """[since, until) as aware UTC: local midnight of the first day to that after the last."""
        zone = pages.zone()
        since = datetime.combine(self.first, datetime.min.time(), zone)
        until = datetime.combine(self.last + timedelta(days=1), datetime.min.time(), zone)
        return since.astimezone(UTC), until.astimezone(UTC)


def _day(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid("a date like 2026-10-12", field=field) from None


def _period(typed: dict[str, str], today: date) -> Period:
    last = _day(typed["until"], "until") or today
    first = _day(typed["since"], "since") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise Invalid("the period must end after it starts", field="until")
    return Period(first, last)


def _months(last: date) -> list[date]:
    """The first days of the `TREND_MONTHS` months ending with `last`'s month, oldest first."""
    index = last.year * 12 + last.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - TREND_MONTHS + 1, index + 1)]


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


@router.get("/surveys/results")
def results_page(request: Request, actor: Analyst, since: Annotated[str, Query(max_length=10)] = "",
                 until: Annotated[str, Query(max_length=10)] = "",
                 by: Annotated[str, Query(max_length=10)] = "agent") -> Response:
    """CSAT, NPS, response rate and follow-up satisfaction for a period (the last 30 days unless
    chosen) against their targets, a 12-month trend, a breakdown, and the customers' own words."""
    language = web.language_of(request)
    translate = i18n.translator(language)
    today = clock.now().astimezone(pages.zone()).date()
    typed = {"since": since, "until": until, "by": by}
    error = None
    try:
        plain(typed)
        period = _period(typed, today)
        if by not in BREAKDOWNS:
            raise Invalid("choose agent, team, channel or product", field="by")
    except Invalid as exc:  # the page still shows: the default period and breakdown, the refusal by the field
        error = FormError.of("period", exc)
        period, by = _period({"since": "", "until": ""}, today), Dimension.AGENT
    start, end = period.bounds()
    months = _months(period.last)
    trend_start = Period(months[0], months[0]).bounds()[0]
    with unit_of_work(read_only=True) as session:
        overall = service.totals(session, since=start, until=end)
        rows = service.results(session, since=start, until=end, by=by)
        labels = key_labels(session, by=by, keys=[r.key for r in rows], language=language)
        by_month = {f.key: f for f in service.results(session, since=trend_start, until=end, by="month")}
        comments = recent_comments(session, since=start, until=end)
        trend = [(m.strftime("%Y-%m"), by_month.get(m.strftime("%Y-%m"), Figures(m.strftime("%Y-%m"))))
                 for m in months]
        chart = {
            "months": [key for key, _ in trend],
            "series": [
                {"name": translate("CSAT"), "kind": "rate", "data": [_percent(f.csat) for _, f in trend]},
                {"name": translate("Follow-up satisfaction"), "kind": "rate",
                 "data": [_percent(f.followup_satisfaction) for _, f in trend]},
                {"name": translate("Response rate"), "kind": "rate",
                 "data": [_percent(f.response_rate) for _, f in trend]},
                {"name": translate("NPS"), "kind": "score",
                 "data": [None if f.nps is None else round(f.nps, 1) for _, f in trend]},
            ],
            "targets": [{"name": translate("CSAT target"), "value": 100 * CSAT_TARGET},
                        {"name": translate("Follow-up satisfaction target"), "value": 100 * FOLLOWUP_TARGET}],
            "axes": [translate("Rate (%)"), translate("NPS")],
        }
        response = render(request, "followups/results.html", {
            "period": period, "overall": overall, "rows": rows, "labels": labels, "by": by,
            "breakdowns": BREAKDOWNS, "trend": trend, "chart": chart, "comments": comments,
            "csat_target": CSAT_TARGET, "followup_target": FOLLOWUP_TARGET, "typed": typed, "error": error,
            "local": web.local_time, "timezone": get_settings().timezone,
        }, status_code=error.status_code if error else 200)
    response.headers["Cache-Control"] = "no-store"
    return response
