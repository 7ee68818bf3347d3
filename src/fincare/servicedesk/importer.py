"""Bulk import of historical tickets from CSV (`fincare import tickets FILE [--format fincare|cfpb]`).

Imported tickets are history, not work: they are written in bulk with no routing, no duplicate
detection, no SLA clocks, no follow-ups or surveys (no `servicedesk.ticket_resolved` is queued).
Where the source says whether the institution answered in time, `ticket.timely` keeps it and the
complaint report uses it in place of a statutory clock. Each ticket has an `external_id`; a row
whose ticket exists already is skipped, so running the same file twice creates nothing new. Rows
stream through in batches (memory stays flat); each batch is validated row by row (errors: line,
column, reason — never the value, which may be personal) and written with bulk INSERTs, with one
audit entry per batch (`ticket.imported`, as `customers` does with `customer.imported`).

**`--format cfpb`**: the US CFPB consumer complaint export. Headers in any case, with spaces or
underscores (`Date received`, `Date_received`, `date_received`); dates as `2020/3/18`,
`2020-03-18`, `03/18/2020`, `3/18/20` or ISO date-times. Required: Date received, Product, Issue,
Submitted via, Complaint ID. Each row becomes a complaint of an anonymous individual customer
created for it (`external_id` `cfpb-{Complaint ID}`, its State as the customer's `branch`):

- Complaint ID → `external_id` `cfpb-{id}` (of the ticket and of its customer);
- Date received → `received_at`, 00:00 of that day in FINCARE_TIMEZONE;
- Submitted via → channel (`CFPB_CHANNELS`): Web → web, Phone → phone, Email → email,
  Postal mail / Fax → branch (paper), Referral / Web Referral → regulator_transfer;
  and the JR/T 0169 dimension A code from the channel (`CHANNEL_CODES`);
- Product → JR/T 0169 dimension B code by keyword (`PRODUCT_CODES`);
- Issue → subject, and the dimension C code by keyword (`ISSUE_CODES`);
- Consumer complaint narrative → description (a line naming product and issue when none was published);
- Date sent to company → an `imported` timeline event on that day, with the source's non-personal fields;
- Company response to consumer → the decision (`OUTCOMES`): monetary relief → upheld; non-monetary
  relief (or "relief") → partly_upheld; explanation / without relief / closed → not_upheld;
  In progress → open, no decision; Untimely response → closed without a decision;
- Timely response? → `ticket.timely`.

The export carries no date of the company's answer: a decision is dated on the day the complaint
was sent to the company, and `timely` (not that date) says whether it was in time. ZIP codes,
consent and the narrative's redactions stay as the source has them; ZIP is not stored.

**`--format fincare`** (FinCare's own layout; columns in any order, unknown ones refused):

    external_id, kind, channel, customer_external_id, subject, description, received_at,
    risk_grade, priority, channel_code, business_type_code, cause_code, outcome, resolved_at, timely

Required: external_id, kind, channel, customer_external_id, subject, description, received_at.
The customer must exist already (`fincare import customers`). Rows are validated by
`service.parse_intake` (kind, channel, texts, risk grade, a past `received_at` with its offset or a
date meaning 00:00 local). Codes must be active codes of their JR/T 0169 dimension; `outcome`
(complaints) needs `resolved_at`; a row with `resolved_at` is closed, one without stays open.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any, TextIO, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from fincare.customers import importer as customer_import
from fincare.customers.importer import RowError
from fincare.customers.models import Customer
from fincare.platform import audit_trail, clock
from fincare.platform.config import get_settings
from fincare.platform.db import allocate_ids, bulk_insert
from fincare.platform.errors import DomainError, Invalid, one_of
from fincare.platform.permissions import Principal
from fincare.servicedesk.models import (
    Channel,
    CodeDimension,
    ComplaintCode,
    ComplaintDecision,
    DecisionStatus,
    Outcome,
    Priority,
    RiskGrade,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketStatus,
    ticket_reference,
)
from fincare.servicedesk.service.coding import CODE_VERSION
from fincare.servicedesk.service.intake import EARLIEST_RECEIVED, parse_intake
from fincare.servicedesk.service.rules import MAX_DESCRIPTION, MAX_SUBJECT


class Format(StrEnum):
    FINCARE = "fincare"
    CFPB = "cfpb"


# -- the mapping tables (documented in the module docstring and the README) --------------------------

CFPB_CHANNELS: dict[str, Channel] = {
    "web": Channel.WEB, "phone": Channel.PHONE, "email": Channel.EMAIL,
    "postal mail": Channel.BRANCH, "fax": Channel.BRANCH,  # paper, taken in like a counter letter
    "referral": Channel.REGULATOR_TRANSFER, "web referral": Channel.REGULATOR_TRANSFER,
}

# JR/T 0169-2018 dimension A (where the business was done) from the intake channel
CHANNEL_CODES: dict[Channel, str] = {
    Channel.BRANCH: "A01", Channel.WEB: "A03", Channel.ONLINE_CHAT: "A03", Channel.PHONE: "A04",
    Channel.APP: "A05", Channel.WECHAT: "A06", Channel.REGULATOR_TRANSFER: "A08", Channel.EMAIL: "A99",
}

# dimension B from the CFPB Product: the first keyword found in the lower-cased product wins
PRODUCT_CODES: tuple[tuple[str, str], ...] = (
    ("credit report", "B06"),  # credit reporting, credit repair: personal financial information
    ("credit card", "B03"), ("prepaid card", "B03"),
    ("checking", "B01"), ("savings", "B01"), ("bank account", "B01"),
    ("money transfer", "B04"), ("money service", "B04"), ("virtual currency", "B04"),
    ("mortgage", "B02"), ("loan", "B02"), ("lease", "B02"), ("debt collection", "B02"),
)
OTHER_BUSINESS = "B99"

# dimension C from the CFPB Issue: the first keyword found in the lower-cased issue wins
ISSUE_CODES: tuple[tuple[str, str], ...] = (
    ("identity theft", "C10"), ("fraud alert", "C10"), ("security freeze", "C10"),
    ("improper use of your report", "C10"), ("sharing of info", "C10"), ("share information", "C10"),
    ("monitoring", "C10"),
    ("fraud", "C09"), ("scam", "C09"), ("unauthorized", "C09"), ("stolen", "C09"), ("embezzlement", "C09"),
    ("money was not available", "C09"),
    ("advertising", "C04"), ("marketing", "C04"),
    ("disclosure", "C05"), ("notification", "C05"), ("false statements", "C05"), ("misleading", "C05"),
    ("customer service", "C01"), ("communication tactics", "C01"), ("threat", "C01"), ("contact", "C01"),
    ("didn't apply for", "C07"), ("add-on", "C07"),
    ("fee", "C08"), ("interest", "C08"), ("terms", "C08"), ("credit limit", "C08"), ("funds being low", "C08"),
    ("trouble using", "C02"), ("mobile wallet", "C02"), ("unable to get your credit report", "C02"),
    ("incorrect information", "C03"), ("investigation", "C03"), ("debt", "C03"), ("account", "C03"),
    ("loan", "C03"), ("lease", "C03"), ("mortgage", "C03"), ("payment", "C03"), ("payoff", "C03"),
    ("struggling", "C03"), ("applying", "C03"), ("getting", "C03"), ("closing", "C03"), ("transaction", "C03"),
    ("purchase", "C03"), ("settlement", "C03"), ("credited", "C03"), ("report", "C03"),
)
OTHER_CAUSE = "C99"

# Company response to consumer → (outcome or None, whether the complaint is closed)
OUTCOMES: dict[str, tuple[Outcome | None, bool]] = {
    "closed with monetary relief": (Outcome.UPHELD, True),
    "closed with non-monetary relief": (Outcome.PARTLY_UPHELD, True),
    "closed with relief": (Outcome.PARTLY_UPHELD, True),
    "closed with explanation": (Outcome.NOT_UPHELD, True),
    "closed without relief": (Outcome.NOT_UPHELD, True),
    "closed": (Outcome.NOT_UPHELD, True),
    "in progress": (None, False),
    "": (None, False),
    "untimely response": (None, True),  # the company never answered: closed by the CFPB, nothing decided
}
TIMELY = {"yes": True, "no": False, "": None}


def _first_match(text: str, table: tuple[tuple[str, str], ...], default: str) -> str:
    lowered = text.lower()
    return next((code for keyword, code in table if keyword in lowered), default)


def business_type_code(product: str) -> str:
    return _first_match(product, PRODUCT_CODES, OTHER_BUSINESS)


def cause_code(issue: str) -> str:
    return _first_match(issue, ISSUE_CODES, OTHER_CAUSE)


# -- reading -----------------------------------------------------------------------------------------

CFPB_REQUIRED = ("date received", "product", "issue", "submitted via", "complaint id")
# other spellings of the same column, as the CFPB's API and older exports write them
CFPB_ALIASES = {"timely": "timely response", "company response": "company response to consumer",
                "complaint what happened": "consumer complaint narrative", "tags": "tags",
                "sub product": "sub-product", "sub issue": "sub-issue"}
# the source's fields the timeline keeps (no ZIP, no narrative: the description has it)
CFPB_KEPT = ("product", "sub-product", "issue", "sub-issue", "company", "company public response",
             "company response to consumer", "timely response", "consumer disputed", "tags",
             "consumer consent provided", "submitted via", "date received", "date sent to company")

FINCARE_COLUMNS = ("external_id", "kind", "channel", "customer_external_id", "subject", "description", "received_at",
                   "risk_grade", "priority", "channel_code", "business_type_code", "cause_code", "outcome",
                   "resolved_at", "timely")
FINCARE_REQUIRED = ("external_id", "kind", "channel", "customer_external_id", "subject", "description",
                    "received_at")
INTAKE_FIELDS = {"customer_id": "customer_external_id"}  # intake's field names → this layout's columns
MAX_FIELD = MAX_DESCRIPTION + 10_000  # a narrative may be longer than a description: it is shortened


def cfpb_key(header: str) -> str:
    """`Date_received`, ` date received `, `DATE RECEIVED` → `date received`; `Timely response?` → `timely response`."""
    key = re.sub(r"[\s_]+", " ", header.strip().lstrip("\ufeff").lower()).rstrip("?").strip()
    return CFPB_ALIASES.get(key, key)


Row = tuple[int, dict[str, str]]  # (first line of the record, cells by canonical column)


@dataclass
class Source:
    """An open CSV: its format, its rows, and the file's own spelling of each column (for errors)."""

    format: Format
    rows: Iterator[Row]
    spelled: dict[str, str]


def read_rows(stream: TextIO, format: Format) -> Source:
    """The rows of `stream`; a bad header raises Invalid naming the column before any row is read."""
    reader = csv.reader(stream)
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise Invalid("the file is empty or has no header row", field="header")
    if format == Format.CFPB:
        keys = [cfpb_key(h) for h in header]
        required: tuple[str, ...] = CFPB_REQUIRED
    else:
        keys = [h.strip().lstrip("\ufeff") for h in header]
        unknown = [k for k in keys if k not in FINCARE_COLUMNS]
        if unknown:
            raise Invalid(f"unknown column {unknown[0]!r}; columns are {', '.join(FINCARE_COLUMNS)}",
                          field=unknown[0])
        required = FINCARE_REQUIRED
    spelled = {k: h.strip().lstrip("\ufeff") for k, h in zip(keys, header, strict=True)}
    for missing in required:
        if missing not in keys:
            raise Invalid(f"the column {missing!r} is required", field=missing)
    return Source(format, _records(reader, keys), spelled)


def _records(reader: Any, keys: list[str]) -> Iterator[Row]:
    end = reader.line_num
    for cells in reader:
        start, end = end + 1, reader.line_num  # a quoted narrative spans lines: errors name the first
        if not any(c.strip() for c in cells):
            continue
        row = {k: c.strip() for k, c in zip(keys, cells, strict=False)}
        if len(cells) > len(keys):
            row["__extra__"] = "1"
        yield start, row


# -- validating ----------------------------------------------------------------------------------------


@dataclass
class Historical:
    """One validated row, ready to write."""

    line: int
    external_id: str
    customer_external_id: str
    customer_branch: str | None  # for a customer this import creates (CFPB: the State)
    kind: TicketKind
    channel: Channel
    subject: str
    description: str
    received_at: datetime
    risk_grade: RiskGrade | None
    priority: Priority
    codes: tuple[str | None, str | None, str | None]
    timely: bool | None
    outcome: Outcome | None
    closed_at: datetime | None
    reply: str
    event_at: datetime
    event_detail: dict[str, Any] = field(default_factory=dict)
    answered: bool = True  # False: closed without the institution ever answering (CFPB "Untimely response")


_YMD = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?$")
_MDY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})$")


def parse_day(text: str, column: str) -> date:
    """`2020/3/18`, `2020-03-18`, `2020-03-18T00:00:00`, `03/18/2020`, `3/18/20` (US order; 20xx)."""
    value = text.strip()
    try:
        if m := _YMD.match(value):
            day = date(int(m[1]), int(m[2]), int(m[3]))
        elif m := _MDY.match(value):
            year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
            day = date(year, int(m[1]), int(m[2]))
        else:
            raise ValueError
    except ValueError:
        raise Invalid("not a date (2020/3/18, 2020-03-18, 03/18/2020 or 3/18/20)" if value else "required",
                      field=column) from None
    return day


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(get_settings().timezone)).astimezone(UTC)


def _received(day: date, column: str, now: datetime) -> datetime:
    moment = _local_midnight(day)
    if moment < EARLIEST_RECEIVED:
        raise Invalid("no earlier than 2000-01-01", field=column)
    if moment > now:
        raise Invalid("cannot be in the future", field=column)
    return moment


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def parse_cfpb(line: int, raw: dict[str, str], now: datetime) -> Historical:
    """One CFPB row; Invalid names the canonical column at fault."""
    complaint_id = raw.get("complaint id", "")
    if not complaint_id:
        raise Invalid("required", field="complaint id")
    if not complaint_id.isascii() or not complaint_id.isalnum() or len(complaint_id) > 40:
        raise Invalid("letters and digits only, at most 40", field="complaint id")
    received_day = parse_day(raw.get("date received", ""), "date received")
    received_at = _received(received_day, "date received", now)
    sent_at = received_at
    if raw.get("date sent to company"):
        sent_at = _local_midnight(parse_day(raw["date sent to company"], "date sent to company"))
    via = raw.get("submitted via", "")
    channel = CFPB_CHANNELS.get(via.lower())
    if channel is None:
        raise Invalid(f"unknown channel; one of {', '.join(sorted({k.title() for k in CFPB_CHANNELS}))}"
                      if via else "required", field="submitted via")
    product, issue = raw.get("product", ""), raw.get("issue", "")
    if not product:
        raise Invalid("required", field="product")
    if not issue:
        raise Invalid("required", field="issue")
    response = raw.get("company response to consumer", "")
    if response.lower() not in OUTCOMES:
        raise Invalid("unknown company response", field="company response to consumer")
    outcome, closed = OUTCOMES[response.lower()]
    timely_text = raw.get("timely response", "")
    if timely_text.lower() not in TIMELY:
        raise Invalid("Yes or No", field="timely response")
    narrative = raw.get("consumer complaint narrative", "")
    what = "; ".join(v for v in (product, raw.get("sub-product"), issue, raw.get("sub-issue")) if v)
    description = narrative or f"CFPB complaint {complaint_id} ({what}); no narrative was published."
    detail = {"source": "cfpb", "complaint_id": complaint_id,
              **{k.replace(" ", "_").replace("-", "_"): raw[k] for k in CFPB_KEPT if raw.get(k)}}
    return Historical(
        line=line, external_id=f"cfpb-{complaint_id}", customer_external_id=f"cfpb-{complaint_id}",
        customer_branch=raw.get("state") or None, kind=TicketKind.COMPLAINT, channel=channel,
        subject=_shorten(issue, MAX_SUBJECT), description=_shorten(description, MAX_DESCRIPTION),
        received_at=received_at, risk_grade=None, priority=Priority.NORMAL,
        codes=(CHANNEL_CODES[channel], business_type_code(product), cause_code(issue)),
        timely=TIMELY[timely_text.lower()], outcome=outcome, closed_at=sent_at if closed else None,
        reply=_shorten(f"{response}. {raw.get('company public response', '')}".strip(), MAX_DESCRIPTION),
        event_at=sent_at, event_detail=detail, answered=outcome is not None or not closed)


def _fincare_time(text: str, column: str) -> datetime:
    value = text.strip()
    if len(value) <= 10:
        return _local_midnight(parse_day(value, column))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("a date and time with its offset, e.g. 2026-10-12T09:30:00+08:00", field=column) from None
    if moment.tzinfo is None:
        raise Invalid("a date and time with its offset, e.g. 2026-10-12T09:30:00+08:00", field=column)
    return moment.astimezone(UTC)


def parse_fincare(session: Session, line: int, raw: dict[str, str], *, actor: Principal, customer_id: int | None,
                  active_codes: dict[str, set[str]]) -> Historical:
    """One row of FinCare's own layout, through the intake rules."""
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
            raise Invalid(f"not an active {dimension} code of {CODE_VERSION}" if intake.kind == TicketKind.COMPLAINT
                          else "only complaints are coded", field=column)
        codes.append(code)
    closed_at = _fincare_time(raw["resolved_at"], "resolved_at") if raw.get("resolved_at") else None
    if closed_at is not None and closed_at < intake.received_at:
        raise Invalid("before received_at", field="resolved_at")
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
            try:
                if self.source.format == Format.CFPB:
                    parsed.append(parse_cfpb(line, raw, now))
                else:
                    with session.no_autoflush:
                        parsed.append(parse_fincare(
                            session, line, raw, actor=self.actor, active_codes=self.active_codes(session),
                            customer_id=customer_ids.get(raw.get("customer_external_id", ""))))
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
