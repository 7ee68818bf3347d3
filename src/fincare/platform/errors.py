"""Domain errors. Services raise these; `app.py` maps them once to HTTP and to console messages."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

E = TypeVar("E", bound=StrEnum)


class Label(str):
    """Coded values in a `Message` ("restricted"; "review, mediation"): reads as the values joined by
    ", "; the console shows the catalogue's label of each ("customer_status:restricted"), or the value
    where it has none, joined as its language joins a list."""

    kind: str
    values: tuple[str, ...]

    def __new__(cls, kind: str, *values: str) -> Label:
        label = super().__new__(cls, ", ".join(values))
        label.kind, label.values = kind, tuple(map(str, values))
        return label

    def __reduce__(self) -> tuple[type[Label], tuple[str, ...]]:
        return Label, (self.kind, *self.values)


class Message(str):
    """A message with values in it: reads as its English text (API, CLI, logs), while the console
    translates `template` and fills in `params`, so "at most {limit} characters" is Chinese too.

    `Message("at most {limit} characters", limit=200)` == "at most 200 characters".
    """

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, /, **params: Any) -> Message:
        # without params the template is the text as is (braces and all): that is also how pickle remakes one
        message = super().__new__(cls, template.format(**params) if params else template)
        message.template, message.params = template, params
        return message


class DomainError(Exception):
    """A rule said no. `field` names the input at fault, when there is one."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class Unauthenticated(DomainError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Invalid(DomainError):
    status_code = 422
    code = "invalid"


class TooLarge(DomainError):
    status_code = 413
    code = "too_large"


class Locked(DomainError):
    """Too many failed attempts; try again later."""

    status_code = 423
    code = "locked"


def one_of(enum: type[E], value: object, field: str) -> E:
    """`value` as a member of `enum`, or Invalid naming `field` and the members."""
    try:
        return enum(str(value))
    except ValueError:
        raise Invalid(Message("one of {choices}", choices=", ".join(enum)), field=field) from None
