"""Domain errors. Services raise these; `app.py` maps them once to HTTP and to console messages."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)


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
        raise Invalid(f"one of {', '.join(enum)}", field=field) from None
