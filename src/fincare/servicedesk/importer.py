"""Bulk import of historical tickets from CSV (`fincare import tickets FILE [--format fincare|cfpb]`).

Imported tickets are history, not work: they are written in bulk with no routing, no duplicate
detection, no SLA clocks, no follow-ups or surveys (no `servicedesk.ticket_resolved` is queued).
Where the source says whether the institution answered in time, `ticket.timely` keeps it and the
complaint report uses it in place of a statutory clock. Each ticket has an `external_id`; a row
whose ticket exists already is skipped, so running the same file twice creates nothing new. Rows
stream through in batches (memory stays flat); each batch is validated row by row (errors: line,
column, reason — never the value, which may be personal) and written with bulk INSERTs, with one
audit entry per batch (`ticket.imported`, as `customers` does with `customer.imported`).

**`--format cfpb`**: the US CFPB consumer complaint export, mapped as `servicedesk.cfpb` describes.

**`--format fincare`** (FinCare's own layout; columns in any order, unknown ones refused):

    external_id, kind, channel, customer_external_id, subject, description, received_at,
    risk_grade, priority, channel_code, business_type_code, cause_code, outcome, resolved_at, timely

Required: external_id, kind, channel, customer_external_id, subject, description, received_at.
The customer must exist already (`fincare import customers`). Rows are validated by
`service.parse_intake` (kind, channel, texts, risk grade, a past `received_at` with its offset or a
date meaning 00:00 local). Codes must be active codes of their JR/T 0169 dimension; `outcome`
(complaints) needs `resolved_at`, which may not be in the future; a row with `resolved_at` is
closed, one without stays open.

Either layout: a column named twice is refused, as is a cell holding a control character (the API's
rule: line breaks and tabs only); a quoted cell that never ends stops the import, naming its line.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from fincare.customers import importer as customer_import
from fincare.customers.import_source import keeping, malformed
from fincare.customers.importer import RowError
from fincare.customers.models import Customer
from fincare.platform import audit_trail, clock
from fincare.platform.config import get_settings
from fincare.platform.db import allocate_ids, bulk_insert
from fincare.platform.errors import DomainError, Invalid, Label, Message, one_of
from fincare.platform.permissions import Principal
from fincare.platform.text import CONTROL, CONTROL_MESSAGE
from fincare.servicedesk.cfpb import CFPB_REQUIRED, cfpb_key, parse_cfpb
from fincare.servicedesk.history import TIMELY, Historical, local_midnight, parse_day
from fincare.servicedesk.models import (
    Channel,
    CodeDimension,
    ComplaintCode,
    ComplaintDecision,
    DecisionStatus,
    Outcome,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketStatus,
    ticket_reference,
)
from fincare.servicedesk.service.coding import CODE_VERSION
from fincare.servicedesk.service.intake import parse_intake
from fincare.servicedesk.service.rules import MAX_DESCRIPTION


class Format(StrEnum):
    FINCARE = "fincare"
    CFPB = "cfpb"


# -- reading -----------------------------------------------------------------------------------------

FINCARE_COLUMNS = ("external_id", "kind", "channel", "customer_external_id", "subject", "description", "received_at",
                   "risk_grade", "priority", "channel_code", "business_type_code", "cause_code", "outcome",
                   "resolved_at", "timely")
FINCARE_REQUIRED = ("external_id", "kind", "channel", "customer_external_id", "subject", "description",
                    "received_at")
INTAKE_FIELDS = {"customer_id": "customer_external_id"}  # intake's field names → this layout's columns
MAX_FIELD = MAX_DESCRIPTION + 10_000  # a narrative may be longer than a description: it is shortened


Row = tuple[int, dict[str, str]]  # (first line of the record, cells by canonical column)


@dataclass
class Source:
    """An open CSV: its format, its rows, and the file's own spelling of each column (for errors)."""

    format: Format
    rows: Iterator[Row]
    spelled: dict[str, str]


def read_rows(stream: TextIO, format: Format) -> Source:
    """The rows of `stream`; a bad header raises Invalid naming the column before any row is read.
    A malformed record (a quoted cell that never ends) raises `csv.Error` naming its line when reached."""
    read: list[str] = []  # the lines of the record being read, for that error
    reader = csv.reader(keeping(stream, read), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise malformed(exc, read, 1) from None
    if not header or not any(h.strip() for h in header):
        raise Invalid("the file is empty or has no header row", field="header")
    if format == Format.CFPB:
        keys = [cfpb_key(h) for h in header]
        required: tuple[str, ...] = CFPB_REQUIRED
    else:
        keys = [h.strip().lstrip("\ufeff") for h in header]
        unknown = [k for k in keys if k not in FINCARE_COLUMNS]
        if unknown:
            raise Invalid(Message("unknown column {column!r}; columns are {columns}", column=unknown[0],
                                  columns=", ".join(FINCARE_COLUMNS)),
                          field=unknown[0])
        required = FINCARE_REQUIRED
    twice = next((h for n, (k, h) in enumerate(zip(keys, header, strict=True)) if k and k in keys[:n]), None)
    if twice is not None:  # the second cell would silently win (`Date received` and `date_received` too)
        name = twice.strip().lstrip("\ufeff")
        raise Invalid(Message("the column {column!r} appears twice", column=name), field=name)
    spelled = {k: h.strip().lstrip("\ufeff") for k, h in zip(keys, header, strict=True)}
    for missing in required:
        if missing not in keys:
            raise Invalid(Message("the column {column!r} is required", column=missing), field=missing)
    return Source(format, _records(reader, keys, read), spelled)


def _records(reader: Any, keys: list[str], read: list[str]) -> Iterator[Row]:
    end = reader.line_num
    while True:
        read.clear()  # the reader never reads past a record's last line: what follows is the next one's
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            raise malformed(exc, read, end + 1) from None
        if cells is None:
            return
        start, end = end + 1, reader.line_num  # a quoted narrative spans lines: errors name the first
        if not any(c.strip() for c in cells):
            continue
        row = {k: c.strip() for k, c in zip(keys, cells, strict=False)}
        if len(cells) > len(keys):
            row["__extra__"] = "1"
        yield start, row


def _fincare_time(text: str, column: str, *, earliest: str = "2000-01-01") -> datetime:
    value = text.strip()
    try:
        if len(value) <= 10:
            return local_midnight(parse_day(value, column))
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError
        return moment.astimezone(UTC)
    except ValueError:
        raise Invalid("a date and time with its offset, e.g. 2026-10-12T09:30:00+08:00", field=column) from None
    except OverflowError:  # year 1 east of UTC, or 9999 west of it: no moment UTC can hold
        raise Invalid(Message("out of range: from {earliest} to now", earliest=earliest), field=column) from None


def parse_fincare(session: Session, line: int, raw: dict[str, str], *, actor: Principal, customer_id: int | None,
                  active_codes: dict[str, set[str]], now: datetime) -> Historical:
    """One row of FinCare's own layout, through the intake rules (`now`: the time of the import)."""
    if len(raw.get("external_id", "")) > 60 or not raw.get("external_id"):
        raise Invalid("required, at most 60 characters", field="external_id")
    if customer_id is None:
        raise Invalid("no customer with this external id (import customers first)", field="customer_external_id")
    body: dict[str, Any] = {k: raw[k] for k in ("kind", "channel", "subject", "description", "risk_grade",
                                                "priority") if raw.get(k)}
    body["customer_id"] = customer_id
    body["received_at"] = _fincare_time(raw.get("received_at", ""), "received_at")
    intake = parse_intake(session, actor=actor, raw=body)
    codes: list[str | None] = []
    for column, dimension in (("channel_code", CodeDimension.CHANNEL),
                              ("business_type_code", CodeDimension.BUSINESS_TYPE),
                              ("cause_code", CodeDimension.CAUSE)):
        code = raw.get(column, "").upper() or None
        if code is not None and (intake.kind != TicketKind.COMPLAINT or code not in active_codes[dimension]):
            if intake.kind != TicketKind.COMPLAINT:
                raise Invalid("only complaints are coded", field=column)
            raise Invalid(Message("not an active {dimension} code of {version}",
                                  dimension=Label("code_dimension", dimension), version=CODE_VERSION), field=column)
        codes.append(code)
    closed_at = _fincare_time(raw["resolved_at"], "resolved_at", earliest="received_at") \
        if raw.get("resolved_at") else None
    if closed_at is not None and closed_at < intake.received_at:
        raise Invalid("before received_at", field="resolved_at")
    if closed_at is not None and closed_at > now:
        raise Invalid("cannot be in the future", field="resolved_at")
    outcome = None
    if raw.get("outcome"):
        if intake.kind != TicketKind.COMPLAINT:
            raise Invalid("only complaints are decided", field="outcome")
        if closed_at is None:
            raise Invalid("an outcome needs resolved_at", field="outcome")
        outcome = one_of(Outcome, raw["outcome"], "outcome")
    timely_text = raw.get("timely", "").lower()
    if timely_text not in TIMELY:
        raise Invalid("yes or no", field="timely")
    return Historical(
        line=line, external_id=raw["external_id"], customer_external_id=raw["customer_external_id"],
        customer_branch=None, kind=intake.kind, channel=intake.channel, subject=intake.subject,
        description=intake.description, received_at=intake.received_at, risk_grade=intake.risk_grade,
        priority=intake.priority, codes=(codes[0], codes[1], codes[2]), timely=TIMELY[timely_text],
        outcome=outcome, closed_at=closed_at, reply=f"Imported decision: {outcome}" if outcome else "",
        event_at=closed_at or intake.received_at, event_detail={"source": "fincare"})


# -- writing -------------------------------------------------------------------------------------------


@dataclass
class ImportTotals:
    rows: int = 0
    created: int = 0
    skipped: int = 0  # imported by an earlier run
    customers_created: int = 0
    errors: list[RowError] = field(default_factory=list)
    # ids grow: an existing ticket at or above this id came from this very file (see customers)
    first_created_id: int | None = None


TICKET_COLUMNS = ("id", "reference", "kind", "channel", "status", "priority", "risk_grade", "regulator_transfer",
                  "customer_id", "subject", "description", "received_at", "resolved_at", "closed_at",
                  "repeat_complainant", "external_id", "timely", "code_version", "channel_code",
                  "business_type_code", "cause_code", "breached", "created_at", "updated_at")
DECISION_COLUMNS = ("id", "ticket_id", "outcome", "reply", "language", "status", "decided_at", "sent_at")
EVENT_COLUMNS = ("id", "ticket_id", "kind", "at", "detail")


@dataclass
class Importer:
    """One run: its format, actor and totals; `import_batch` per batch, in the caller's transaction."""

    source: Source
    actor: Principal
    totals: ImportTotals = field(default_factory=ImportTotals)
    _codes: dict[str, set[str]] | None = None
    _customer_totals: customer_import.ImportTotals = field(default_factory=customer_import.ImportTotals)

    def column(self, key: str) -> str:
        """The file's own spelling of a canonical column, for the error report."""
        return self.source.spelled.get(key, key)

    def active_codes(self, session: Session) -> dict[str, set[str]]:
        if self._codes is None:
            rows = session.execute(select(ComplaintCode.dimension, ComplaintCode.code).where(
                ComplaintCode.version == CODE_VERSION, ComplaintCode.active)).all()
            self._codes = {d.value: set() for d in CodeDimension}
            for dimension, code in rows:
                self._codes[dimension].add(code)
        return self._codes

    def import_batch(self, session: Session, rows: list[Row]) -> None:
        """Validate and write one batch; bad rows go to `totals.errors`, known tickets are skipped."""
        totals = self.totals
        totals.rows += len(rows)
        now = clock.now()
        parsed = self._parse(session, rows, now)
        existing = _existing(session, Ticket, [h.external_id for h in parsed])
        fresh: list[Historical] = []
        seen: set[str] = set()
        for h in parsed:
            known = existing.get(h.external_id)
            if h.external_id in seen or (known is not None and totals.first_created_id is not None
                                         and known >= totals.first_created_id):
                totals.errors.append(RowError(h.line, self.column(
                    "complaint id" if self.source.format == Format.CFPB else "external_id"),
                    "appears earlier in this file"))
            elif known is not None:
                totals.skipped += 1
            else:
                seen.add(h.external_id)
                fresh.append(h)
        if fresh:
            customers = self._customers(session, fresh)
            self._write(session, fresh, customers, now)
        session.flush()
        session.expunge_all()  # flat memory

    def _parse(self, session: Session, rows: list[Row], now: datetime) -> list[Historical]:
        parsed: list[Historical] = []
        customer_ids: dict[str, int] = {}
        if self.source.format == Format.FINCARE:
            customer_ids = _existing(session, Customer, [raw.get("customer_external_id") for _, raw in rows])
        for line, raw in rows:
            if "__extra__" in raw:
                self.totals.errors.append(RowError(line, "(row)", "more cells than columns"))
                continue
            too_long = next((k for k, v in raw.items() if len(v) > MAX_FIELD), None)
            if too_long:
                self.totals.errors.append(RowError(line, self.column(too_long), f"longer than {MAX_FIELD} characters"))
                continue
            control = next((k for k, v in raw.items() if CONTROL.search(v)), None)
            if control:
                self.totals.errors.append(RowError(line, self.column(control), CONTROL_MESSAGE))
                continue
            try:
                if self.source.format == Format.CFPB:
                    parsed.append(parse_cfpb(line, raw, now))
                else:
                    with session.no_autoflush:
                        parsed.append(parse_fincare(
                            session, line, raw, actor=self.actor, active_codes=self.active_codes(session),
                            customer_id=customer_ids.get(raw.get("customer_external_id", "")), now=now))
            except DomainError as exc:
                column = INTAKE_FIELDS.get(exc.field or "(row)", exc.field or "(row)")
                self.totals.errors.append(RowError(line, self.column(column), exc.message))
        return parsed

    def _customers(self, session: Session, fresh: list[Historical]) -> dict[str, int]:
        """Customer ids by external id; CFPB complainants missing yet are created (anonymous, audited)."""
        found = _existing(session, Customer, [h.customer_external_id for h in fresh])
        missing = [h for h in fresh if h.customer_external_id not in found]
        if missing and self.source.format == Format.CFPB:
            rows: list[customer_import.Row] = [
                (h.line, {"external_id": h.customer_external_id, "kind": "individual",
                          "name": f"CFPB consumer {h.external_id.removeprefix('cfpb-')}",
                          **({"branch": h.customer_branch[:60]} if h.customer_branch else {})})
                for h in missing]
            before = self._customer_totals.created
            customer_import.import_batch(session, actor=self.actor, rows=rows, totals=self._customer_totals)
            self.totals.customers_created += self._customer_totals.created - before
            self.totals.errors.extend(self._customer_totals.errors)
            self._customer_totals.errors.clear()
            found |= _existing(session, Customer, [h.customer_external_id for h in missing])
        return found

    def _write(self, session: Session, fresh: list[Historical], customers: dict[str, int], now: datetime) -> None:
        writable = [h for h in fresh if h.customer_external_id in customers]
        if not writable:
            return
        ids = allocate_ids(session, "ticket", len(writable))
        zone = ZoneInfo(get_settings().timezone)
        tickets = []
        for ticket_id, h in zip(ids, writable, strict=True):
            status = TicketStatus.CLOSED if h.closed_at else TicketStatus.OPEN
            tickets.append((
                ticket_id, ticket_reference(h.kind, ticket_id, h.received_at, zone), h.kind, h.channel, status,
                h.priority, h.risk_grade, h.channel == Channel.REGULATOR_TRANSFER,
                customers[h.customer_external_id], h.subject, h.description, h.received_at,
                h.closed_at if h.answered else None, h.closed_at, False, h.external_id, h.timely,
                CODE_VERSION if any(h.codes) else None, *h.codes,
                False, now, now))
        bulk_insert(session, Ticket.__table__, tickets, columns=TICKET_COLUMNS)
        decided = [(ticket_id, h) for ticket_id, h in zip(ids, writable, strict=True) if h.outcome is not None]
        if decided:
            decision_ids = allocate_ids(session, "complaint_decision", len(decided))
            bulk_insert(session, ComplaintDecision.__table__, [
                (decision_id, ticket_id, h.outcome, h.reply or str(h.outcome), "en", DecisionStatus.SENT,
                 h.closed_at, h.closed_at)
                for decision_id, (ticket_id, h) in zip(decision_ids, decided, strict=True)], columns=DECISION_COLUMNS)
            table = cast(Table, Ticket.__table__)
            session.execute(update(table).where(table.c.id == bindparam("tid")).values(
                decision_id=bindparam("did")), [{"tid": t, "did": d} for d, (t, _) in zip(decision_ids, decided,
                                                                                           strict=True)])
        event_ids = allocate_ids(session, "ticket_event", len(writable))
        bulk_insert(session, TicketEvent.__table__, [
            (event_id, ticket_id, "imported", h.event_at,
             {**h.event_detail, "outcome": h.outcome, "status": "closed" if h.closed_at else "open"})
            for event_id, ticket_id, h in zip(event_ids, ids, writable, strict=True)], columns=EVENT_COLUMNS)
        if self.totals.first_created_id is None:
            self.totals.first_created_id = ids[0]
        self.totals.created += len(ids)
        audit_trail.record(session, actor=self.actor, action="ticket.imported", subject=("ticket", ids[0]),
                           after={"source": self.source.format.value, "created": len(ids), "first_id": ids[0],
                                  "last_id": ids[-1], "decisions": len(decided)})


def _existing(session: Session, model: type[Ticket] | type[Customer], external_ids: Iterable[str | None]) -> dict[
        str, int]:
    wanted = sorted({e for e in external_ids if e})
    if not wanted:
        return {}
    column = model.__table__.c
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 1000):  # bound parameters stay under every driver's limit
        chunk = wanted[start:start + 1000]
        found |= {str(e): int(i) for e, i in session.execute(
            select(column.external_id, column.id).where(column.external_id.in_(chunk))).all()}
    return found


def run_import(source: Source, *, actor: Principal, batch_size: int,
               transaction: Callable[[], AbstractContextManager[Session]],
               after_batch: Callable[[], None] | None = None) -> ImportTotals:
    """Import `source` in batches, each in `transaction()` (a new one per batch to keep good rows of a
    file with bad ones, or the same one every time for all-or-nothing)."""
    importer = Importer(source, actor)
    batch: list[Row] = []
    for row in source.rows:
        batch.append(row)
        if len(batch) >= batch_size:
            with transaction() as session:
                importer.import_batch(session, batch)
            batch = []
            if after_batch is not None:
                after_batch()
    if batch:
        with transaction() as session:
            importer.import_batch(session, batch)
        if after_batch is not None:
            after_batch()
    importer.totals.errors.sort(key=lambda e: e.line)
    return importer.totals
