"""Base classes for request and response bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestBody(BaseModel):
    """Input: unknown fields are an error (a typo must not be silently ignored); strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseBody(BaseModel):
    """Output: built from models with `from_attributes`."""

    model_config = ConfigDict(from_attributes=True)
