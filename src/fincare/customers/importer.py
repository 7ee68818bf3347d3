"""Bulk import of customers from CSV (`fincare import customers FILE`).

Columns (header row, UTF-8 with or without BOM; unknown columns are an error):

    external_id, kind, name, id_number, credit_code, phone, email, address, cards,
    risk_tolerance, risk_assessed_on, service_lines, branch, segment, tags

`cards`, `service_lines` and `tags` hold several values separated by `;`. Only `kind` and `name`
are required. A row whose `external_id` already exists updates that customer, so running the same
file twice creates nothing new. Rows stream through in batches: memory stays flat for any size.
Each batch is validated row by row (errors: line, column, reason) and written with bulk INSERTs;
one audit entry per batch records the ids created and updated.

The work is split so that the writing process does little besides writing. It reads the header
and cuts the rest of the file into blocks of whole records (`import_source`); worker processes
parse each block, validate, encrypt and mask its rows and encode them for the database
(`import_rows`: COPY BINARY rows on PostgreSQL, bound values on SQLite); the writer checks which
external ids exist, puts the allocated ids in front of the rows and sends them, block by block in
file order.
"""

from __future__ import annotations

import csv
import functools
import gc
import itertools
import json
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import String

from fincare.customers import rights, service
from fincare.customers.import_rows import Encoding, RowEncoder, encoding_for
from fincare.customers.import_source import COLUMNS, EXTRA, LIST_COLUMNS, Block, CsvSource, Row
from fincare.customers.models import Customer, CustomerCard, CustomerStatus
from fincare.platform import audit_trail, clock, keys
from fincare.platform.db import allocate_ids, reset_after_fork
from fincare.platform.errors import DomainError
from fincare.platform.masking import mask_address, mask_card, mask_email, mask_id_number, mask_name, mask_phone
from fincare.platform.permissions import Principal
from fincare.platform.text import CONTROL, CONTROL_MESSAGE

__all__ = ["COLUMNS", "LIST_COLUMNS", "Block", "CsvSource", "Encoding", "ImportTotals", "PreparedBatch", "Row",
           "RowError", "import_batch", "normalise_row", "open_csv", "prepare_batch", "prepare_block", "read_rows",
           "run_import", "write_errors"]

MAX_FIELD = 1000
ERASED = "this customer's personal data was erased at their request; remove them from the source file"


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    reason: str


@dataclass
class ImportTotals:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    # ids are allocated in increasing order, so an "existing" customer at or above this id was
    # created by this very file: its external id is a duplicate, not an update (no set kept in memory)
    first_created_id: int | None = None


def read_rows(stream: TextIO) -> CsvSource:
    """The file after its header: iterate it for (line number, raw row), or cut it into blocks for
    `run_import`. A bad header raises Invalid naming the column, before any row is read."""
    return CsvSource(stream)


def normalise_row(row: Mapping[str | None, Any] | Mapping[str, Any]) -> dict[str, Any]:
    """A `csv.DictReader` row as `parse_customer` takes it: blanks dropped, list columns split on `;`
    (what `Block.rows` gives for the same record)."""
    raw: dict[str, Any] = {}
    for key, value in row.items():
        if key is None:  # more cells than header columns
            raw[EXTRA] = value
            continue
        value = (value or "").strip()
        if value:
            raw[key] = value.split(";") if key in LIST_COLUMNS else value
    return raw


def open_csv(path: Path) -> TextIO:
    return path.open(newline="", encoding="utf-8-sig")


# The columns written by `_insert`, in the order `PreparedBatch` holds their values ("id" is
# allocated by the writer and put in front).
CUSTOMER_COLUMNS = ("id", "uid", "kind", "status", "key_version", "name_enc", "name_mask", "id_number_enc",
                    "id_number_lookup", "id_number_mask", "credit_code_enc", "credit_code_lookup",
                    "credit_code_mask", "phone_enc", "phone_lookup", "phone_mask", "email_enc", "email_lookup",
                    "email_mask", "address_enc", "address_mask", "birth_year", "gender", "risk_tolerance",
                    "risk_assessed_on", "risk_expires_on", "service_lines", "branch", "segment", "tags",
                    "external_id", "relationship_ended_on", "created_at", "updated_at")
# no "id": the database numbers the cards (nothing refers to a new card), saving a round of sequence calls
CARD_COLUMNS = ("customer_id", "uid", "key_version", "number_enc", "number_lookup", "number_mask")

# what differs from row to row: encoded as it comes, the rest (kinds, dates, branches, lists) once per batch
_CUSTOMER_ROWS = RowEncoder(Customer.__table__, CUSTOMER_COLUMNS, leading=1, distinct=(
    "name_mask", "id_number_mask", "credit_code_mask", "phone_mask", "email_mask", "address_mask", "external_id"))
_CARD_ROWS = RowEncoder(CustomerCard.__table__, CARD_COLUMNS, leading=1, distinct=("number_mask",))

_NAME, _ID_NUMBER, _CREDIT_CODE, _PHONE, _EMAIL, _ADDRESS, _CARD = (
    keys.Sealer.aad_prefix(table, column) for table, column in (
        ("customer", "name_enc"), ("customer", "id_number_enc"), ("customer", "credit_code_enc"),
        ("customer", "phone_enc"), ("customer", "email_enc"), ("customer", "address_enc"),
        ("customer_card", "number_enc")))


@dataclass
class PreparedBatch:
    """One batch validated and encrypted, ready to write: no database was needed to make it.

    `rows` holds, for each good input row: its index in the batch, its external id and its number
    of distinct cards; `customers` the row's values of `CUSTOMER_COLUMNS[1:]` and `cards` those of
    `CARD_COLUMNS[1:]` for all its cards, row after row, both encoded as `encoding` says. Rows
    whose external id turns out to exist already are re-parsed by the writer and updated instead.
    """

    version: int  # the data-key version everything was encrypted under
    rows: list[tuple[int, str | None, int]]
    errors: list[RowError]
    encoding: Encoding = Encoding.VALUES
    count: int = 0  # input rows, good and bad
    customers: list[Any] = field(default_factory=list)
    cards: list[Any] = field(default_factory=list)


def _with_control(raw: Mapping[str, Any]) -> str | None:
    """The first column whose cell (or one of whose list items) holds a control character."""
    for column, value in raw.items():
        text = value if isinstance(value, str) else "\t".join(map(str, value)) if isinstance(value, list) else ""
        if CONTROL.search(text):
            return column
    return None


def prepare_block(block: Block, sealer: keys.Sealer, now: datetime, encoding: Encoding) -> PreparedBatch:
    """`prepare_batch` for the rows of a block of the file, parsed here (in a worker process). The
    block's text is searched for a control character once, and its rows one by one only if it has one."""
    return prepare_batch(block.rows(), sealer, now, encoding, screen=CONTROL.search(block.text) is not None)


def prepare_batch(rows: Iterable[Row], sealer: keys.Sealer, now: datetime,
                  encoding: Encoding = Encoding.VALUES, *, screen: bool = True) -> PreparedBatch:
    """Validate, normalise and encrypt one batch; pure (no session), so it can run in a worker process.
    `screen`: look for control characters in each row (False: the caller knows there are none)."""
    prepared = PreparedBatch(sealer.version, [], [], encoding)
    errors = prepared.errors
    seen: set[str] = set()
    shared: dict[Any, Any] = {}  # equal dates and lists become one object: the writer converts each once
    random = _Random()
    uid_prefix = keys.uid_prefix(now)  # the rows' uids tell when they were made, as `created_at` does
    customers: list[tuple[Any, ...]] = []
    cards: list[tuple[Any, ...]] = []
    index = -1
    for index, (line, raw) in enumerate(rows):
        if EXTRA in raw:
            errors.append(RowError(line, "(row)", "more cells than columns"))
            continue
        if screen and (control := _with_control(raw)):
            errors.append(RowError(line, control, CONTROL_MESSAGE))
            continue
        if raw and max(map(len, raw.values())) > MAX_FIELD:  # rare: only then find which text cell it is
            too_long = next((k for k, v in raw.items() if isinstance(v, str) and len(v) > MAX_FIELD), None)
            if too_long:
                errors.append(RowError(line, too_long, f"longer than {MAX_FIELD} characters"))
                continue
        try:
            data = service.parse_customer(raw)
            service.check_kind_rules(str(data.kind), data)
        except DomainError as exc:
            errors.append(RowError(line, exc.field or "(row)", exc.message))
            continue
        external_id = data.external_id
        if external_id:
            if external_id in seen:
                errors.append(RowError(line, "external_id", "appears twice in this batch"))
                continue
            seen.add(external_id)
        values, row_cards = _sealed_row(data, sealer, now, uid_prefix, shared, random)
        prepared.rows.append((index, external_id, len(row_cards)))
        customers.append(values)
        cards += row_cards
    prepared.count = index + 1
    prepared.customers = _CUSTOMER_ROWS.encode(encoding, customers)
    prepared.cards = _CARD_ROWS.encode(encoding, cards)
    return prepared


class _Random:
    """Random bytes for uids and nonces, drawn from the system 64 KiB at a time. Made per batch,
    in the process that uses it: bytes drawn before a fork would be the same in every worker."""

    def __init__(self) -> None:
        self._pool, self._at = b"", 0

    def take(self, size: int) -> bytes:
        if self._at + size > len(self._pool):
            self._pool, self._at = os.urandom(max(size, 65536)), 0
        self._at += size
        return self._pool[self._at - size:self._at]


_ACTIVE = str(CustomerStatus.ACTIVE)  # plain str values: an Enum member hashes in Python, a str in C


def _sealed_row(data: service.CustomerData, sealer: keys.Sealer, now: datetime, uid_prefix: bytes,
                shared: dict[Any, Any], random: _Random) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The customer's column values (without id) and its cards' (without id and customer id)."""
    version, seal, index = sealer.version, sealer.seal, sealer.blind_index
    cards = list(dict.fromkeys(data.cards)) if data.cards else []
    # the random part of the row's uid, a nonce per customer field (6), and both for each card
    rnd = random.take(82 + 22 * len(cards))
    uid = uid_prefix + rnd[:10]
    name, id_number, credit_code, phone, email, address = (data.name, data.id_number, data.credit_code,
                                                           data.phone, data.email, data.address)
    resident = data.resident
    assessed = data.risk_assessed_on or (now.date() if data.risk_tolerance else None)
    if assessed is not None:
        assessed = shared.setdefault(assessed, assessed)
    service_lines = tuple(data.service_lines or ())  # tuples: the encoders take each distinct one once
    tags = tuple(data.tags or ())
    values = (
        uid, str(data.kind), _ACTIVE, version,
        seal(name, _NAME, uid, rnd[10:22]) if name is not None else None, mask_name(name or ""),
        seal(id_number, _ID_NUMBER, uid, rnd[22:34]) if id_number else None,
        index("id_number", id_number) if id_number else None,
        mask_id_number(id_number) if id_number else None,
        seal(credit_code, _CREDIT_CODE, uid, rnd[34:46]) if credit_code else None,
        index("credit_code", credit_code) if credit_code else None,
        mask_id_number(credit_code) if credit_code else None,
        seal(phone, _PHONE, uid, rnd[46:58]) if phone else None,
        index("phone", phone) if phone else None,
        mask_phone(phone) if phone else None,
        seal(email, _EMAIL, uid, rnd[58:70]) if email else None,
        index("email", email) if email else None,
        mask_email(email) if email else None,
        seal(address, _ADDRESS, uid, rnd[70:82]) if address else None,
        mask_address(address) if address else None,
        resident.birth_date.year if resident else None, resident.gender if resident else None,
        str(data.risk_tolerance) if data.risk_tolerance else None, assessed,
        shared.setdefault(("expires", assessed), service.risk_expiry(assessed)) if assessed else None,
        shared.setdefault(service_lines, service_lines), data.branch, data.segment,
        shared.setdefault(tags, tags), data.external_id, None, now, now,
    )
    card_values = []
    for n, number in enumerate(cards):
        at = 82 + 22 * n
        card_uid = uid_prefix + rnd[at:at + 10]
        card_values.append((card_uid, version, seal(number, _CARD, card_uid, rnd[at + 10:at + 22]),
                            index("card_number", number), mask_card(number)))
    return values, card_values


def import_batch(session: Session, *, actor: Principal, rows: list[Row], totals: ImportTotals,
                 prepared: PreparedBatch | None = None) -> None:
    """Validate and write one batch; bad rows are added to `totals.errors` and skipped.

    `prepared` is `prepare_batch(rows, …)` done ahead (by a worker process); it is redone here if
    missing or if the active key version changed since (a rotation began: nothing may be written
    under the old key any more).
    """
    _write_batch(session, actor=actor, totals=totals, rows=lambda: rows, prepared=prepared)


def _write_batch(session: Session, *, actor: Principal, totals: ImportTotals, rows: Callable[[], Sequence[Row]],
                 prepared: PreparedBatch | None) -> None:
    """`import_batch`, where the rows are only parsed (`rows()`) if the writer needs them: to update
    existing customers, or to prepare the batch again."""
    encoding = encoding_for(session)
    if prepared is None or (prepared.rows and (prepared.version != keys.active_version(session)
                                               or prepared.encoding not in (encoding, Encoding.VALUES))):
        prepared = prepare_batch(rows(), keys.sealer(session), clock.now(), encoding)
    totals.rows += prepared.count
    totals.errors.extend(prepared.errors)
    if not prepared.rows:
        return
    existing = _existing(session, [external_id for _, external_id, _ in prepared.rows])
    erased = rights.erased_external_ids(session, {external_id for _, external_id, _ in prepared.rows
                                                  if external_id and external_id not in existing})
    for index, external_id, _ in prepared.rows:
        if external_id in erased:
            totals.errors.append(RowError(rows()[index][0], "external_id", ERASED))
    created_ids = _insert(session, prepared, existing, erased)
    if created_ids and totals.first_created_id is None:
        totals.first_created_id = created_ids[0]
    updated_ids = []
    for index, external_id, _ in prepared.rows:
        if not (external_id and external_id in existing):
            continue
        line, raw = rows()[index]
        customer_id = existing[external_id]
        if totals.first_created_id is not None and customer_id >= totals.first_created_id:
            totals.errors.append(RowError(line, "external_id", "appears earlier in this file"))
            continue
        customer = session.get(Customer, customer_id)
        assert customer is not None
        if customer.status != CustomerStatus.ACTIVE:
            totals.errors.append(RowError(line, "external_id", f"customer is {customer.status}"))
            continue
        try:
            data = service.parse_customer(raw)  # validated already: updates are rare, so not kept from then
            with session.begin_nested():
                service.update_customer(session, actor=actor, customer=customer, data=data)
        except DomainError as exc:
            totals.errors.append(RowError(line, exc.field or "(row)", exc.message))
            continue
        updated_ids.append(customer.id)
    totals.created += len(created_ids)
    totals.updated += len(updated_ids)
    if created_ids:
        audit_trail.record(session, actor=actor, action="customer.imported", subject=("customer", created_ids[0]),
                           after={"created": len(created_ids), "first_id": created_ids[0],
                                  "last_id": created_ids[-1]})
    session.flush()
    session.expunge_all()  # flat memory: nothing of this batch stays in the identity map


MAX_DEFAULT_WORKERS = 4  # more than one writer on one connection can take: they would only wait


def default_workers(encoding: Encoding) -> int:
    """Worker processes for `run_import` writing in this encoding, at least one.

    On SQLite the writer does the database's work itself: it keeps a core, and the workers get the
    others (a second worker on two cores took its CPU and gained nothing at 1M rows). On a database
    server the writer mostly waits: with one worker per core beyond it, that worker and the
    database took turns, each idle while the other worked (three quarters of two cores busy); one
    per core keeps both cores busy (20-30 % more rows per second on PostgreSQL; BENCHMARKS.md).
    """
    cores = os.cpu_count() or 1
    return min(max(cores - 1, 1) if encoding == Encoding.SQLITE else cores, MAX_DEFAULT_WORKERS)


def run_import(source: CsvSource, *, actor: Principal, totals: ImportTotals, batch_size: int,
               transaction: Callable[[], AbstractContextManager[Session]],
               after_batch: Callable[[], None] | None = None, workers: int | None = None) -> None:
    """Import the rows of `source` in batches of `batch_size` lines (more where a quoted cell spans a
    cut), each written inside `transaction()`.

    With --skip-bad-rows the CLI gives a new transaction per batch, for all-or-nothing the same one
    every time. When there is more than one batch, `workers` processes (default: `default_workers`)
    parse, validate, encrypt and encode the next batches while this process writes the current one,
    in file order; at most `workers + 1` batches are in flight, so memory stays flat. Workers never
    touch the database: they get a block of the file, a `keys.Sealer`, the time and the encoding,
    and send back a `PreparedBatch`.
    """
    blocks = source.blocks(batch_size)
    gc.freeze()  # what is loaded by now lives to the end: the collector need not scan it per batch
    gc.disable()  # …and runs once per batch below, instead of every few hundred allocations
    try:
        first = next(blocks, None)
        second = next(blocks, None) if first is not None else None
        if second is None or (workers is not None and workers < 1):  # small file: forking costs more
            for block in itertools.chain(() if first is None else (first,), () if second is None else (second,),
                                         blocks):
                with transaction() as session:
                    _write_batch(session, actor=actor, totals=totals, rows=_rows_of(block), prepared=None)
                _after(after_batch)
            return
        with transaction() as session:
            sealer, encoding = keys.sealer(session), encoding_for(session)
        workers = default_workers(encoding) if workers is None else workers
        context = multiprocessing.get_context("fork")
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_started)
        try:
            in_flight: deque[tuple[Block, Future[PreparedBatch]]] = deque()

            def write_next() -> None:
                nonlocal sealer
                block, future = in_flight.popleft()
                prepared = future.result()  # a worker's error (a cell too large for csv…) stops the import here
                with transaction() as session:
                    _write_batch(session, actor=actor, totals=totals, rows=_rows_of(block), prepared=prepared)
                    if prepared.rows and keys.active_version(session) != sealer.version:
                        sealer = keys.sealer(session)  # a rotation began: encrypt the next batches under the new key
                del block, future, prepared  # written: the collection in `_after` need not scan the batch
                _after(after_batch)

            pending = itertools.chain((first, second), blocks)
            while True:
                try:
                    read = next(pending, None)
                except Exception:
                    # a bad byte or quote further on: write what was read before it, as a serial import would
                    while in_flight:
                        write_next()
                    raise
                if read is None:
                    break
                in_flight.append((read, pool.submit(_prepare_in_worker, read, sealer, clock.now(), encoding)))
                if len(in_flight) > workers:
                    write_next()
            while in_flight:
                write_next()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        gc.enable()
        gc.unfreeze()


def _rows_of(block: Block) -> Callable[[], list[Row]]:
    return functools.cache(lambda: list(block.rows()))


_batches_written = itertools.count(1)


def _after(after_batch: Callable[[], None] | None) -> None:
    # the garbage cycles of the batch just written (sessions, ORM states) are young: a cheap
    # young-generation pass finds them; a full pass now and then catches anything that got older
    gc.collect(2 if next(_batches_written) % 16 == 0 else 0)
    if after_batch is not None:
        after_batch()


def _worker_started() -> None:
    reset_after_fork()  # the parent's database connections are not ours to use or close
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the pool
    gc.freeze()
    gc.disable()


def _prepare_in_worker(block: Block, sealer: keys.Sealer, now: datetime, encoding: Encoding) -> PreparedBatch:
    gc.collect(0)  # what the previous batch left (it has been sent by now)
    return prepare_block(block, sealer, now, encoding)


# One parameter for the whole batch's external ids: an IN list of thousands of parameters costs more
# to compile and send than the lookups themselves.
_EXISTING = {
    "postgresql": text("SELECT external_id, id FROM customer WHERE external_id = ANY(:ids)")
    .bindparams(bindparam("ids", type_=ARRAY(String))),
    "sqlite": text("SELECT external_id, id FROM customer WHERE external_id IN (SELECT value FROM json_each(:ids))"),
}


def _existing(session: Session, external_ids: list[str | None]) -> dict[str, int]:
    ids = [e for e in external_ids if e]
    if not ids:
        return {}
    dialect = session.get_bind().dialect.name  # FinCare runs on these two
    rows = session.execute(_EXISTING[dialect], {"ids": json.dumps(ids) if dialect == "sqlite" else ids}).all()
    return {str(external_id): int(customer_id) for external_id, customer_id in rows}


def _insert(session: Session, prepared: PreparedBatch, existing: dict[str, int], erased: set[str]) -> list[int]:
    """Bulk-insert the prepared customers neither in `existing` nor `erased`, with their cards;
    returns their ids in input order."""
    customers: list[Any] = []
    cards: list[Any] = []
    owners: list[int] = []  # for each card in `cards`, its customer's position in `customers`
    at = 0
    for (_, external_id, card_count), customer in zip(prepared.rows, prepared.customers, strict=True):
        if not (external_id and (external_id in existing or external_id in erased)):
            owners += [len(customers)] * card_count
            customers.append(customer)
            cards += prepared.cards[at:at + card_count]
        at += card_count
    if not customers:
        return []
    ids = allocate_ids(session, "customer", len(customers))
    _CUSTOMER_ROWS.insert(session, prepared.encoding, [(customer_id,) for customer_id in ids], customers)
    _CARD_ROWS.insert(session, prepared.encoding, [(ids[owner],) for owner in owners], cards)
    return ids


ERROR_COLUMNS = ("line", "column", "reason")


def write_errors(path: Path, errors: list[RowError]) -> None:
    """The error report: one CSV row per rejected input row (no input values: they may be personal)."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(ERROR_COLUMNS)
        for error in sorted(errors, key=lambda e: e.line):  # some are found only when a batch is written
            writer.writerow((error.line, error.column, error.reason))
