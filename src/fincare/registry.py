"""DOMAINS: the one list of FinCare's domains, lowest row first, and how to load their parts.

A domain package may have `models.py`, `api.py` (exposing `router`), `views.py` (exposing
`router`) and `jobs.py` (registering `@on` / `@scheduled` handlers). The platform's own parts
are loaded the same way, before any domain.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from types import ModuleType

from fastapi import APIRouter

PLATFORM_PARTS = ("fincare.platform.accounts", "fincare.platform.audit_trail", "fincare.platform.jobs",
                  "fincare.platform.notify", "fincare.platform.outbox")
PLATFORM_MODEL_MODULES = ("fincare.platform.idempotency",)

# Rows of ARCHITECTURE.md: a domain imports only the platform and lower rows.
DOMAINS: tuple[str, ...] = ("customers", "workforce", "sla", "servicedesk", "followups", "scorecard")


def _packages() -> tuple[str, ...]:
    return PLATFORM_PARTS + tuple(f"fincare.{name}" for name in DOMAINS)


def _optional(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


@lru_cache(maxsize=1)
def load_models() -> None:
    """Import every models module so `Base.metadata` knows every table."""
    for module in PLATFORM_MODEL_MODULES:
        importlib.import_module(module)
    for package in _packages():
        _optional(f"{package}.models")


@lru_cache(maxsize=1)
def load_jobs() -> None:
    """Import every jobs module so handlers and schedules are registered."""
    load_models()
    for package in _packages():
        _optional(f"{package}.jobs")


def routers() -> list[APIRouter]:
    """API routers first, then console routers, in domain order."""
    load_models()
    found: list[APIRouter] = []
    for part in ("api", "views"):
        for package in _packages():
            module = _optional(f"{package}.{part}")
            if module is not None:
                found.append(module.router)
    return found
