"""Skills, shifts and availability: who is qualified and on duty to be routed a ticket now."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fincare.platform import audit_trail, clock
from fincare.platform.accounts.models import StaffAccount
from fincare.platform.config import get_settings
from fincare.platform.errors import Forbidden, Invalid, Message, NotFound, one_of
from fincare.platform.permissions import Permission, Principal
from fincare.workforce.models import Availability, Presence, ShiftPattern, Skill, StaffSkill

MAX_SHIFTS = 21  # three windows a day is already a split-shift roster
MAX_REASON = 200


@dataclass(frozen=True)
class Shift:
    weekday: int
    starts: time
    ends: time

    def covers(self, local: datetime) -> bool:
        """Whether the local moment falls in this window (an overnight window spills into the next day)."""
        moment, day = local.time(), local.weekday()
        if self.starts < self.ends:
            return day == self.weekday and self.starts <= moment < self.ends
        return (day == self.weekday and moment >= self.starts) or (day == (self.weekday + 1) % 7 and moment < self.ends)


@dataclass(frozen=True)
class Roster:
    """One staff member's routing profile."""

    account_id: int
    skills: frozenset[Skill]
    shifts: tuple[Shift, ...]
    presence: Presence
    away_until: datetime | None
    reason: str | None


def _account(session: Session, account_id: int) -> StaffAccount:
    account = session.get(StaffAccount, account_id)
    if account is None:
        raise NotFound("no such staff member", field="account_id")
    return account


def _may_manage(actor: Principal, account_id: int, *, own_allowed: bool) -> None:
    if actor.can(Permission.ROSTER_MANAGE) or (own_allowed and actor.account_id == account_id):
        return
    raise Forbidden("your role may not change this staff member's roster", field="account_id")


def roster(session: Session, account_id: int) -> Roster:
    """Skills, shifts and presence of one staff member."""
    _account(session, account_id)
    skills = session.execute(select(StaffSkill.skill).where(StaffSkill.account_id == account_id)).scalars()
    shifts = session.execute(select(ShiftPattern).where(ShiftPattern.account_id == account_id)
                             .order_by(ShiftPattern.weekday, ShiftPattern.starts)).scalars()
    presence = session.get(Availability, account_id)
    return Roster(account_id=account_id, skills=frozenset(Skill(s) for s in skills),
                  shifts=tuple(Shift(s.weekday, s.starts, s.ends) for s in shifts),
                  presence=Presence(presence.presence) if presence else Presence.AVAILABLE,
                  away_until=presence.until if presence else None, reason=presence.reason if presence else None)


def read_roster(session: Session, *, actor: Principal, account_id: int) -> Roster:
    """One's own roster, or (roster managers) anyone's."""
    if account_id != actor.account_id and not actor.can(Permission.ROSTER_MANAGE):
        raise Forbidden("your role may not read this staff member's roster", field="account_id")
    return roster(session, account_id)


def set_skills(session: Session, *, actor: Principal, account_id: int, skills: Sequence[object]) -> Roster:
    """Replace the product skills of a staff member (audited)."""
    _may_manage(actor, account_id, own_allowed=False)
    before = roster(session, account_id)
    chosen = sorted({one_of(Skill, s, "skills") for s in skills})
    session.execute(delete(StaffSkill).where(StaffSkill.account_id == account_id))
    session.add_all(StaffSkill(account_id=account_id, skill=s) for s in chosen)
    audit_trail.record(session, actor=actor, action="workforce.skills_set", subject=_account(session, account_id),
                       before={"skills": sorted(before.skills)}, after={"skills": chosen})
    session.flush()
    return roster(session, account_id)


def _time(value: object, field: str) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise Invalid("a time of day such as 09:00", field=field) from None


def parse_shifts(raw: Sequence[dict[str, Any]]) -> list[Shift]:
    """Validate weekly windows; Invalid names the entry (`shifts[2].ends`)."""
    if len(raw) > MAX_SHIFTS:
        raise Invalid(Message("at most {limit} windows a week", limit=MAX_SHIFTS), field="shifts")
    shifts = []
    for i, entry in enumerate(raw):
        weekday = entry.get("weekday")
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
            raise Invalid("0 (Monday) to 6 (Sunday)", field=f"shifts[{i}].weekday")
        starts, ends = _time(entry.get("starts"), f"shifts[{i}].starts"), _time(entry.get("ends"), f"shifts[{i}].ends")
        if starts == ends:
            raise Invalid("a window must not be empty", field=f"shifts[{i}].ends")
        shifts.append(Shift(weekday, starts, ends))
    return shifts


def set_shifts(session: Session, *, actor: Principal, account_id: int, shifts: Sequence[Shift]) -> Roster:
    """Replace the weekly shift pattern of a staff member (audited); no windows = works whenever available."""
    _may_manage(actor, account_id, own_allowed=False)
    before = roster(session, account_id)
    session.execute(delete(ShiftPattern).where(ShiftPattern.account_id == account_id))
    session.add_all(ShiftPattern(account_id=account_id, weekday=s.weekday, starts=s.starts, ends=s.ends)
                    for s in shifts)
    audit_trail.record(session, actor=actor, action="workforce.shifts_set", subject=_account(session, account_id),
                       before={"shifts": [_shift_json(s) for s in before.shifts]},
                       after={"shifts": [_shift_json(s) for s in shifts]})
    session.flush()
    return roster(session, account_id)


def _shift_json(shift: Shift) -> dict[str, Any]:
    return {"weekday": shift.weekday, "starts": shift.starts.isoformat("minutes"),
            "ends": shift.ends.isoformat("minutes")}


def set_availability(session: Session, *, actor: Principal, account_id: int, presence: object,
                     until: datetime | None = None, reason: str | None = None) -> Roster:
    """Present or away: anyone for themselves, a roster manager for anyone (audited)."""
    _may_manage(actor, account_id, own_allowed=True)
    chosen = one_of(Presence, presence, "presence")
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > MAX_REASON:
        raise Invalid(Message("at most {limit} characters", limit=MAX_REASON), field="reason")
    if until is not None:
        if chosen != Presence.AWAY:
            raise Invalid("only an absence has an end", field="until")
        if until.tzinfo is None or until <= clock.now():
            raise Invalid("a future date and time with its time zone", field="until")
    account = _account(session, account_id)
    row = session.get(Availability, account_id, with_for_update=True)
    before = {"presence": row.presence if row else Presence.AVAILABLE}
    if row is None:
        row = Availability(account_id=account_id)
        session.add(row)
    row.presence, row.until, row.reason, row.updated_at = chosen, until, reason, clock.now()
    audit_trail.record(session, actor=actor, action="workforce.availability_set", subject=account, before=before,
                       after={"presence": chosen, "until": until.isoformat() if until else None}, reason=reason)
    session.flush()
    return roster(session, account_id)


def skills_of(session: Session, account_ids: Collection[int]) -> dict[int, set[str]]:
    """The product skills of each of `account_ids` (absent: none), as stored: a `Skill` compares equal."""
    found: dict[int, set[str]] = defaultdict(set)
    if account_ids:
        for account_id, skill in session.execute(select(StaffSkill.account_id, StaffSkill.skill).where(
                StaffSkill.account_id.in_(account_ids))):
            found[account_id].add(skill)
    return dict(found)


def on_duty(session: Session, account_ids: Collection[int], at: datetime | None = None) -> set[int]:
    """Those of `account_ids` available and inside a shift window at `at` (default now)."""
    if not account_ids:
        return set()
    at = at or clock.now()
    away = set(session.execute(select(Availability.account_id).where(
        Availability.account_id.in_(account_ids), Availability.presence == Presence.AWAY,
        (Availability.until.is_(None)) | (Availability.until > at))).scalars())
    windows: dict[int, list[Shift]] = defaultdict(list)
    for row in session.execute(select(ShiftPattern).where(ShiftPattern.account_id.in_(account_ids))).scalars():
        windows[row.account_id].append(Shift(row.weekday, row.starts, row.ends))
    local = at.astimezone(ZoneInfo(get_settings().timezone))
    return {a for a in account_ids if a not in away
            and (a not in windows or any(s.covers(local) for s in windows[a]))}



def least_loaded(candidates: Collection[int], loads: dict[int, int]) -> int:
    """The candidate with the fewest open items (absent from `loads`: none); ties go to the lower id."""
    return min(candidates, key=lambda a: (loads.get(a, 0), a))
