"""Base classes for request and response bodies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, field_validator

# Ids are 64-bit at most: a larger number is a 422, not a driver overflow.
MAX_ID = 2**62
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
_CONTROL = {chr(c) for c in range(32)} - {"\n", "\r", "\t"}


class RequestBody(BaseModel):
    """Input: unknown fields are an error (a typo must not be silently ignored); strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and not _CONTROL.isdisjoint(t) for t in texts):
            raise ValueError("control characters are not allowed")
        return value


class ResponseBody(BaseModel):
    """Output: built from models with `from_attributes`."""

    model_config = ConfigDict(from_attributes=True)
