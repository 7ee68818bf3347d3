"""The measures plan: list it (overdue ones flagged), record progress, change status — by admins and
the measure's owner department."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.customers.identity import redact_identifiers
from fincare.platform import audit_trail, clock
from fincare.platform.accounts import service as accounts
from fincare.platform.accounts.models import Department
from fincare.platform.errors import Forbidden, Invalid, Message, NotFound, one_of
from fincare.platform.permissions import Permission, Principal, Role
from fincare.scorecard.models import Cadence, Measure, MeasureNote, MeasureStatus
from fincare.scorecard.plan import PLAN
from fincare.scorecard.service.catalogue import BY_KEY

MAX_NOTE = 2000


@dataclass(frozen=True)
class PlanRow:
    measure: Measure
    overdue: bool


def is_overdue(measure: Measure, today: date) -> bool:
    """Past its deadline and not done (a recurring measure is judged on its cadence elsewhere)."""
    return measure.due_on < today and measure.status not in (MeasureStatus.DONE, MeasureStatus.CANCELLED)


def plan_row(session: Session, measure_id: int) -> PlanRow:
    """One measure of the plan, overdue or not; NotFound names it."""
    measure = session.get(Measure, measure_id)
    if measure is None:
        raise NotFound("no such measure", field="measure_id")
    return PlanRow(measure, is_overdue(measure, clock.now().date()))


def list_plan(session: Session, *, department: str | None = None) -> list[PlanRow]:
    """The plan, soonest deadline first, overdue ones flagged."""
    today = clock.now().date()
    query = select(Measure).order_by(Measure.due_on, Measure.id)
    if department is not None:
        query = query.where(Measure.owner_department == department)
    return [PlanRow(m, is_overdue(m, today)) for m in session.execute(query).scalars()]


def notes_of(session: Session, measure_id: int) -> Sequence[MeasureNote]:
    """A measure's progress notes, oldest first; NotFound names a measure that does not exist."""
    if session.get(Measure, measure_id) is None:
        raise NotFound("no such measure", field="measure_id")
    return session.execute(select(MeasureNote).where(MeasureNote.measure_id == measure_id)
                           .order_by(MeasureNote.at, MeasureNote.id)).scalars().all()


def _department_code(session: Session, actor: Principal) -> str | None:
    if actor.department_id is None:
        return None
    department = session.get(Department, actor.department_id)
    return department.code if department else None


def may_edit(session: Session, actor: Principal, measure: Measure) -> bool:
    """Admins and executives (measures.manage), or a member of the owner department."""
    return actor.can(Permission.MEASURES_MANAGE) or (
        actor.can(Permission.KPI_READ) and _department_code(session, actor) == measure.owner_department
        and Role.AUDITOR not in actor.roles)


def record_progress(session: Session, *, actor: Principal, measure_id: int, text: str,
                    progress: int | None = None, status: str | None = None) -> MeasureNote:
    """A progress note, optionally with the new percentage and status (audited)."""
    measure = session.get(Measure, measure_id, with_for_update=True)
    if measure is None:
        raise NotFound("no such measure", field="measure_id")
    if not may_edit(session, actor, measure):
        raise Forbidden("only the owner department or a plan manager updates this measure", field="measure_id")
    text = (text or "").strip()
    if not text:
        raise Invalid("required", field="text")
    if len(text) > MAX_NOTE:
        raise Invalid(Message("at most {limit} characters", limit=MAX_NOTE), field="text")
    text = redact_identifiers(text)
    if progress is not None and not 0 <= progress <= 100:
        raise Invalid("a percentage from 0 to 100", field="progress")
    chosen = one_of(MeasureStatus, status, "status") if status else None
    before = {"progress": measure.progress, "status": measure.status}
    now = clock.now()
    if progress is not None:
        measure.progress = progress
    if chosen is not None:
        measure.status = chosen
    elif progress is not None and measure.status == MeasureStatus.PLANNED and progress > 0:
        measure.status = MeasureStatus.IN_PROGRESS
    measure.updated_at = now
    note = MeasureNote(measure_id=measure.id, at=now, author_id=actor.account_id, text=text, progress=progress,
                       status=chosen)
    session.add(note)
    session.flush()
    audit_trail.record(session, actor=actor, action="measure.progress", subject=measure, before=before,
                       after={"progress": measure.progress, "status": measure.status})
    return note


def ensure_plan(session: Session, *, starts_on: date | None = None) -> None:
    """Create the measures of the source documents' plan that are missing (idempotent)."""
    start = starts_on or clock.now().date()
    existing = set(session.execute(select(Measure.key)).scalars())
    for planned in PLAN:
        if planned.key in existing:
            continue
        year, month = divmod(start.year * 12 + start.month - 1 + planned.months, 12)
        due = date(year, month + 1, min(start.day, 28))
        session.add(Measure(key=planned.key, title_zh=planned.title_zh, title_en=planned.title_en,
                            owner_department=planned.owner, starts_on=start, due_on=due,
                            cadence=Cadence(planned.cadence), status=MeasureStatus.PLANNED, progress=0,
                            kpi_keys=list(planned.kpis), updated_at=clock.now()))
    session.flush()


def _text(value: str | None, field: str, limit: int = 200) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise Invalid("required", field=field)
    if len(cleaned) > limit:
        raise Invalid(Message("at most {limit} characters", limit=limit), field=field)
    return cleaned


def _department(session: Session, code: str | None) -> str:
    if not code or accounts.get_department(session, code) is None:
        raise Invalid("no such department", field="owner_department")
    return code


def add_measure(session: Session, *, actor: Principal, key: str, title_zh: str, title_en: str,
                owner_department: str, starts_on: date, due_on: date, cadence: str,
                kpi_keys: Sequence[str] = ()) -> Measure:
    """A new measure of the plan (plan managers only; audited)."""
    if not actor.can(Permission.MEASURES_MANAGE):
        raise Forbidden("only a plan manager adds measures", field="key")
    key = _text(key, "key", 60)
    if not key.replace("_", "").isalnum() or not key.isascii():
        raise Invalid("letters, digits and _", field="key")
    if session.execute(select(Measure.id).where(Measure.key == key)).first() is not None:
        raise Invalid("a measure with this key exists", field="key")
    measure = Measure(key=key, title_zh=_text(title_zh, "title_zh"), title_en=_text(title_en, "title_en"),
                      owner_department=_department(session, owner_department), starts_on=starts_on,
                      due_on=_due(starts_on, due_on), cadence=one_of(Cadence, cadence, "cadence"),
                      status=MeasureStatus.PLANNED, progress=0, kpi_keys=_kpi_keys(kpi_keys),
                      updated_at=clock.now())
    session.add(measure)
    session.flush()
    audit_trail.record(session, actor=actor, action="measure.added", subject=measure,
                       after={"key": key, "owner_department": owner_department, "due_on": due_on.isoformat()})
    return measure


def _due(starts_on: date, due_on: date) -> date:
    if due_on < starts_on:
        raise Invalid("the deadline comes after the start", field="due_on")
    return due_on


def _kpi_keys(keys: Sequence[str]) -> list[str]:
    unknown = sorted(set(keys) - set(BY_KEY))
    if unknown:
        raise Invalid(Message("unknown KPI {kpi}", kpi=unknown[0]), field="kpi_keys")
    return sorted(set(keys))


def revise_measure(session: Session, *, actor: Principal, measure_id: int, changes: dict[str, object]) -> Measure:
    """Change a measure's titles, owner, dates, cadence or KPIs (plan managers only; audited before/after)."""
    if not actor.can(Permission.MEASURES_MANAGE):
        raise Forbidden("only a plan manager changes a measure's plan", field="measure_id")
    measure = session.get(Measure, measure_id, with_for_update=True)
    if measure is None:
        raise NotFound("no such measure", field="measure_id")
    before = {k: str(getattr(measure, k)) for k in changes}
    for field, value in changes.items():
        if field in ("title_zh", "title_en"):
            setattr(measure, field, _text(value if isinstance(value, str) else None, field))
        elif field == "owner_department":
            measure.owner_department = _department(session, value if isinstance(value, str) else None)
        elif field == "cadence":
            measure.cadence = one_of(Cadence, value, "cadence")
        elif field == "kpi_keys":
            measure.kpi_keys = _kpi_keys(value if isinstance(value, list) else [])
        elif field in ("starts_on", "due_on"):
            if not isinstance(value, date):
                raise Invalid("a date such as 2026-12-31", field=field)
            setattr(measure, field, value)
        else:
            raise Invalid("not a field of a measure's plan", field=field)
    _due(measure.starts_on, measure.due_on)
    measure.updated_at = clock.now()
    audit_trail.record(session, actor=actor, action="measure.revised", subject=measure, before=before,
                       after={k: str(getattr(measure, k)) for k in changes})
    return measure
