"""Handler and schedule registration; domains register from their `jobs.py` at import time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

Handler = Callable[..., None]


@dataclass(frozen=True)
class Subscription:
    event: str
    key: str
    fn: Handler


@dataclass(frozen=True)
class Schedule:
    name: str
    every: timedelta
    fn: Callable[[Session], Any]


_subscriptions: dict[str, list[Subscription]] = {}
_by_key: dict[str, Subscription] = {}
_schedules: dict[str, Schedule] = {}


def handler_key(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}:{fn.__qualname__}"


def on(event: str) -> Callable[[Handler], Handler]:
    """Subscribe `fn(session, **payload)` to `event`; it must be idempotent."""

    def register(fn: Handler) -> Handler:
        sub = Subscription(event=event, key=handler_key(fn), fn=fn)
        if sub.key not in _by_key:
            _subscriptions.setdefault(event, []).append(sub)
            _by_key[sub.key] = sub
        return fn

    return register


def scheduled(*, every: timedelta, name: str | None = None) -> Callable[[Handler], Handler]:
    """Run `fn(session)` about every `every`, on one worker at a time, in its own transaction."""

    def register(fn: Handler) -> Handler:
        key = name or handler_key(fn)
        _schedules[key] = Schedule(name=key, every=every, fn=fn)
        return fn

    return register


def subscriptions(event: str) -> list[Subscription]:
    return list(_subscriptions.get(event, ()))


def subscription(key: str) -> Subscription | None:
    return _by_key.get(key)


def schedules() -> list[Schedule]:
    return list(_schedules.values())


def forget(key: str) -> None:
    """Drop a handler or schedule (tests that register throw-away handlers)."""
    sub = _by_key.pop(key, None)
    if sub is not None:
        _subscriptions[sub.event] = [s for s in _subscriptions[sub.event] if s.key != key]
    _schedules.pop(key, None)
