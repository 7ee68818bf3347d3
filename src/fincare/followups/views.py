"""The public survey page (no sign-in: the signed link is the key) in the customer's language.

Each state has its own page: the questions; thanks; already answered (a second submit writes
nothing); expired (410); not valid (404, a tampered or unknown link — nothing is written).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as UrlPath
from fastapi.responses import HTMLResponse, Response

from fincare.followups import service
from fincare.platform import i18n, web
from fincare.platform.db import unit_of_work
from fincare.platform.errors import DomainError, NotFound
from fincare.platform.web import render

web.add_templates("followups", Path(__file__).parent / "templates" / "followups")
router = APIRouter()
Token = Annotated[str, UrlPath(max_length=120)]
MAX_FIELDS = 100


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
