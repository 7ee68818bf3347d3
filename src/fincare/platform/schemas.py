"""Base classes for request and response bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from fincare.platform import clock
from fincare.platform.text import CONTROL, CONTROL_MESSAGE

# Ids are 64-bit at most: a larger number is a 422, not a driver overflow.
MAX_ID = 2**62
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
Ids = Annotated[int, Field(ge=1, le=MAX_ID)]  # an id in a list of a body


def _within_range(value: datetime) -> datetime:
    try:  # astimezone overflows for a moment UTC cannot hold
        held = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        held = None
    if held is None or not clock.in_years(held.year):
        raise ValueError(f"a moment {clock.YEARS}")
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_within_range)]
"""A date and time with its UTC offset, between the years 1900 and 2999."""
MomentOrUTC = Annotated[datetime, AfterValidator(_within_range)]
"""As `Moment`; one given without an offset is read as UTC (query filters)."""


class RequestBody(BaseModel):
    """Input: unknown fields are an error (a typo must not be silently ignored); strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and CONTROL.search(t) for t in texts):
            raise ValueError(CONTROL_MESSAGE)
        return value


class ResponseBody(BaseModel):
    """Output: built from models with `from_attributes`."""

    model_config = ConfigDict(from_attributes=True)
