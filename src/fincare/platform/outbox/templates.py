"""Message templates per language, registered by domains at import time and rendered on `send`.

A template is a pair of Jinja2 text templates (subject line, body) for each of the shipped
languages, zh-CN and en. Rendering is strict: a parameter the template uses but the caller did not
pass is an error, never an empty gap in a letter to a customer. Templates are text, not HTML, so
nothing is escaped; the subject line is folded onto one line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, StrictUndefined, Template, TemplateSyntaxError, UndefinedError

from fincare.platform import i18n
from fincare.platform.errors import Invalid, Message

LANGUAGES = tuple(i18n.LANGUAGES)  # every language of the console, no fewer
MAX_BODY_CHARS = 20_000

_env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)  # noqa: S701 - text, not HTML
_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_SPACE = re.compile(r"\s+")


class UnknownTemplate(Invalid):
    """No template of this key was registered (a domain that owns it was not loaded?)."""


class MissingParameter(Invalid):
    """The template uses a parameter that the caller did not pass."""


@dataclass(frozen=True)
class MessageTemplate:
    key: str
    sources: Mapping[str, tuple[str | None, str]]
    compiled: Mapping[str, tuple[Template | None, Template]]


@dataclass(frozen=True)
class Rendered:
    subject_line: str | None
    body: str


_templates: dict[str, MessageTemplate] = {}


def register_template(key: str, languages: Mapping[str, tuple[str | None, str]]) -> None:
    """Register `key` (dotted, owned by a domain: "followups.survey_invitation") with a (subject line,
    body) pair for each language; the subject may be None for SMS-only templates.

    Registering the same key again with the same text does nothing; with different text it is a
    programming error (two domains claiming one key), raised at import time.
    """
    if not _KEY.match(key) or len(key) > 80:
        raise ValueError(f"template key {key!r} must be dotted lower-case, like 'followups.survey_invitation'")
    if set(languages) != set(LANGUAGES):
        raise ValueError(f"template {key} must have exactly the languages {', '.join(LANGUAGES)}")
    sources = {language: (subject, body) for language, (subject, body) in languages.items()}
    existing = _templates.get(key)
    if existing is not None:
        if dict(existing.sources) != sources:
            raise ValueError(f"template {key} is already registered with a different text")
        return
    try:
        compiled = {language: (None if subject is None else _env.from_string(subject), _env.from_string(body))
                    for language, (subject, body) in sources.items()}
    except TemplateSyntaxError as exc:
        raise ValueError(f"template {key}: {exc}") from None
    _templates[key] = MessageTemplate(key=key, sources=sources, compiled=compiled)


def render(key: str, language: str, params: Mapping[str, Any]) -> Rendered:
    """The subject line and body of `key` in `language` with `params`.

    Raises UnknownTemplate (field "template"), Invalid (field "language") or MissingParameter
    (field "params", naming the parameter but never a value).
    """
    template = _templates.get(key)
    if template is None:
        raise UnknownTemplate(Message("no message template {key!r} is registered", key=key), field="template")
    if language not in template.compiled:
        raise Invalid(Message("language must be one of {choices}", choices=", ".join(LANGUAGES)), field="language")
    subject, body = template.compiled[language]
    try:
        rendered_subject = None if subject is None else _SPACE.sub(" ", subject.render(params)).strip()
        rendered_body = body.render(params)
    except UndefinedError as exc:
        # Jinja says "'link' is undefined": the name of the parameter, never a value
        raise MissingParameter(Message("template {key} needs a parameter the caller did not pass: {detail}", key=key,
                                       detail=exc.message),
                               field="params") from None
    if len(rendered_body) > MAX_BODY_CHARS:
        raise Invalid(Message("the rendered message exceeds {limit} characters", limit=MAX_BODY_CHARS), field="params")
    return Rendered(subject_line=rendered_subject, body=rendered_body)
