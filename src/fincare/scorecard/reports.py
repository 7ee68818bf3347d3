"""The complaint report over REST and as a printable page (routers included by `api` and `views`)."""

from __future__ import annotations

from fastapi import APIRouter

api_router = APIRouter()
page_router = APIRouter(include_in_schema=False)
