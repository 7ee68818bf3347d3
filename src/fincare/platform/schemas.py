"""Base classes for request and response bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, get_args

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from fincare.platform import clock
from fincare.platform.text import CONTROL, CONTROL_MESSAGE

# An id beyond its column's range is a 422 naming it, not a driver overflow (a 500 on PostgreSQL).
MAX_ID = 2**31 - 1  # primary keys are PostgreSQL `integer`
MAX_BIG_ID = 2**63 - 1  # except the `bigint` ones of the busiest tables: jobs, outbox, audit trail
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
BigPathId = Annotated[int, Path(ge=1, le=MAX_BIG_ID)]
Ids = Annotated[int, Field(ge=1, le=MAX_ID)]  # an id in a list of a body


def _within_range(value: datetime) -> datetime:
    try:  # astimezone overflows for a moment UTC cannot hold
        held = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        held = None
    if held is None or not clock.in_years(held.year):
        raise ValueError(f"a moment {clock.YEARS}")
    return value


def _written_out(value: object) -> object:
    """A moment as text (or a datetime, from Python): pydantic would read a number ("1764700000",
    "+1.7e9") as seconds since 1970, which no form or import means."""
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        raise ValueError("a date and time with its UTC offset, e.g. 2026-10-12T09:30:00+08:00, not a number")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


Moment = Annotated[AwareDatetime, BeforeValidator(_written_out), AfterValidator(_within_range)]
"""A date and time with its UTC offset, between the years 1900 and 2999."""
MomentOrUTC = Annotated[datetime, BeforeValidator(_written_out), AfterValidator(_within_range)]
"""As `Moment`; one given without an offset is read as UTC (query filters)."""


class RequestBody(BaseModel):
    """Input: unknown fields are an error (a typo must not be silently ignored); strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_true_or_false_for_a_number(cls, value: object, info: ValidationInfo) -> object:
        # pydantic reads true as 1: `"customer_id": true` would file a ticket on customer #1
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, bool) for v in values) and info.field_name is not None and not _takes_bool(
                cls.model_fields[info.field_name].annotation):
            raise ValueError("true or false is not a value of this field")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and CONTROL.search(t) for t in texts):
            raise ValueError(CONTROL_MESSAGE)
        return value


def _takes_bool(annotation: Any) -> bool:
    return annotation is bool or annotation is Any or any(_takes_bool(arg) for arg in get_args(annotation))


class ResponseBody(BaseModel):
    """Output: built from models with `from_attributes`."""

    model_config = ConfigDict(from_attributes=True)


def one_of_query(values: type[StrEnum]) -> Any:
    """A query parameter that takes one of `values`, documented as an enum. The service checks it
    (`errors.one_of`), so a value not listed is refused as everywhere else: 422 naming the parameter."""
    return Query(max_length=max(len(value) for value in values),
                 json_schema_extra={"enum": [value.value for value in values]})
