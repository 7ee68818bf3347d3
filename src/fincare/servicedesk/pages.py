"""What every page of the desk shares: the permission guards of its routes, times as staff read them
and as the countdown script parses them, and the small form decoders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fincare.platform import web
from fincare.platform.config import get_settings
from fincare.platform.errors import Invalid
from fincare.platform.http import require_page
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import MAX_ID

Reader = Annotated[Principal, require_page(P.TICKET_READ)]
Writer = Annotated[Principal, require_page(P.TICKET_WRITE)]
Approver = Annotated[Principal, require_page(P.EXTENSION_APPROVE)]
Supervisor = Annotated[Principal, require_page(P.TICKET_ASSIGN)]
DecisionApprover = Annotated[Principal, require_page(P.DECISION_APPROVE)]
Reviewer = Annotated[Principal, require_page(P.COMPLAINT_REVIEW)]
Reporter = Annotated[Principal, require_page(P.REGULATOR_REPORT)]


def zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def iso(moment: datetime) -> str:
    """For the countdown script: milliseconds at most, which every browser parses."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def left(due: datetime, now: datetime, days: str) -> str:
    """Time left until `due` as "[-][N d ]hh:mm:ss" (what the countdown script shows, second by second)."""
    seconds = int((due - now).total_seconds())
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    day, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    clock_text = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{sign}{days.format(n=day)} {clock_text}" if day else f"{sign}{clock_text}"


def common(now: datetime) -> dict[str, Any]:
    return {"now": now, "now_iso": iso(now), "local": web.local_time, "iso": iso,
            "left": lambda due, days: left(due, now, days), "timezone": get_settings().timezone}


def parse_id(text: str) -> int | None:
    """A database id typed into a form, or None (ASCII digits only: `int("²")` would raise)."""
    return int(text) if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ID else None


def yes(value: str) -> bool:
    """The approve / refuse button pressed."""
    if value not in ("yes", "no"):
        raise Invalid("approve or refuse", field="approve")
    return value == "yes"
