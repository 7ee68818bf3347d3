"""Bulk import of customers from CSV (`fincare import customers FILE`).

Columns (header row, UTF-8 with or without BOM; unknown columns are an error):

    external_id, kind, name, id_number, credit_code, phone, email, address, cards,
    risk_tolerance, risk_assessed_on, service_lines, branch, segment, tags

`cards`, `service_lines` and `tags` hold several values separated by `;`. Only `kind` and `name`
are required. A row whose `external_id` already exists updates that customer, so running the same
file twice creates nothing new. Rows stream through in batches: memory stays flat for any size.
Each batch is validated row by row (errors: line, column, reason) and written with bulk INSERTs;
one audit entry per batch records the ids created and updated.
"""

from __future__ import annotations

import csv
import gc
import itertools
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.customers import service
from fincare.customers.models import Customer, CustomerCard, CustomerStatus
from fincare.platform import audit_trail, clock, keys
from fincare.platform.db import allocate_ids, bulk_insert, reset_after_fork
from fincare.platform.errors import DomainError, Invalid
from fincare.platform.masking import mask_address, mask_card, mask_email, mask_id_number, mask_name, mask_phone
from fincare.platform.permissions import Principal

COLUMNS = ("external_id", "kind", "name", "id_number", "credit_code", "phone", "email", "address", "cards",
           "risk_tolerance", "risk_assessed_on", "service_lines", "branch", "segment", "tags")
LIST_COLUMNS = ("cards", "service_lines", "tags")
MAX_FIELD = 1000


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


def read_rows(stream: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, raw row) for each data row; a bad header raises Invalid naming the column."""
    reader = csv.DictReader(stream)
    header = [h.strip().lstrip("\ufeff") for h in reader.fieldnames or []]
    if not header:
        raise Invalid("the file is empty or has no header row", field="header")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise Invalid(f"unknown column {unknown[0]!r}; columns are {', '.join(COLUMNS)}", field=unknown[0])
    for missing in ("kind", "name"):
        if missing not in header:
            raise Invalid(f"the column {missing!r} is required", field=missing)
    reader.fieldnames = header
    for row in reader:
        yield reader.line_num, normalise_row(row)


def normalise_row(row: Mapping[str | None, Any] | Mapping[str, Any]) -> dict[str, Any]:
    """Cells as `parse_customer` takes them: blanks dropped, list columns split on `;`."""
    raw: dict[str, Any] = {}
    for key, value in row.items():
        if key is None:  # more cells than header columns
            raw["__extra__"] = value
            continue
        value = (value or "").strip()
        if value:
            raw[key] = value.split(";") if key in LIST_COLUMNS else value
    return raw


def open_csv(path: Path) -> TextIO:
    return path.open(newline="", encoding="utf-8-sig")


Row = tuple[int, dict[str, Any]]  # (line number, raw row) as `read_rows` yields it

# The columns written by `_insert`, in the order `PreparedBatch` holds their values ("id" is
# allocated by the writer and put in front).
CUSTOMER_COLUMNS = ("id", "uid", "kind", "status", "key_version", "name_enc", "name_mask", "id_number_enc",
                    "id_number_lookup", "id_number_mask", "credit_code_enc", "credit_code_lookup",
                    "credit_code_mask", "phone_enc", "phone_lookup", "phone_mask", "email_enc", "email_lookup",
                    "email_mask", "address_enc", "address_mask", "birth_year", "gender", "risk_tolerance",
                    "risk_assessed_on", "risk_expires_on", "service_lines", "branch", "segment", "tags",
                    "external_id", "relationship_ended_on", "created_at", "updated_at")
CARD_COLUMNS = ("id", "customer_id", "uid", "key_version", "number_enc", "number_lookup", "number_mask")

_NAME, _ID_NUMBER, _CREDIT_CODE, _PHONE, _EMAIL, _ADDRESS, _CARD = (
    keys.Sealer.aad_prefix(table, column) for table, column in (
        ("customer", "name_enc"), ("customer", "id_number_enc"), ("customer", "credit_code_enc"),
        ("customer", "phone_enc"), ("customer", "email_enc"), ("customer", "address_enc"),
        ("customer_card", "number_enc")))


@dataclass
class PreparedBatch:
    """One batch validated and encrypted, ready to write: no database was needed to make it.

    `rows` holds, for each good input row: its index in the batch, its external id, the values of
    `CUSTOMER_COLUMNS[1:]` and, per distinct card, the values of `CARD_COLUMNS[2:]`. Rows whose
    external id turns out to exist already are re-parsed by the writer and updated instead.
    """

    version: int  # the data-key version everything was encrypted under
    rows: list[tuple[int, str | None, tuple[Any, ...], list[tuple[Any, ...]]]]
    errors: list[RowError]


def prepare_batch(rows: list[Row], sealer: keys.Sealer, now: datetime) -> PreparedBatch:
    """Validate, normalise and encrypt one batch; pure (no session), so it can run in a worker process."""
    prepared = PreparedBatch(sealer.version, [], [])
    errors = prepared.errors
    seen: set[str] = set()
    shared: dict[Any, Any] = {}  # equal dates and lists become one object: the writer converts each once
    for index, (line, raw) in enumerate(rows):
        if "__extra__" in raw:
            errors.append(RowError(line, "(row)", "more cells than columns"))
            continue
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
        prepared.rows.append((index, external_id, *_sealed_row(data, sealer, now, shared)))
    return prepared


def _sealed_row(data: service.CustomerData, sealer: keys.Sealer, now: datetime,
                shared: dict[Any, Any]) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The customer's column values (without id) and its cards' (without id and customer id)."""
    version, seal, index = sealer.version, sealer.seal, sealer.blind_index
    cards = list(dict.fromkeys(data.cards)) if data.cards else []
    # one system call for the row: its uid, a nonce per customer field (6) and a uid and nonce per card
    rnd = os.urandom(88 + 28 * len(cards))
    uid = rnd[:16]
    name, id_number, credit_code, phone, email, address = (data.name, data.id_number, data.credit_code,
                                                           data.phone, data.email, data.address)
    resident = data.resident
    assessed = data.risk_assessed_on or (now.date() if data.risk_tolerance else None)
    if assessed is not None:
        assessed = shared.setdefault(assessed, assessed)
    service_lines = data.service_lines or []
    tags = data.tags or []
    values = (
        uid, str(data.kind), CustomerStatus.ACTIVE, version,
        seal(name, _NAME, uid, rnd[16:28]) if name is not None else None, mask_name(name or ""),
        seal(id_number, _ID_NUMBER, uid, rnd[28:40]) if id_number else None,
        index("id_number", id_number) if id_number else None,
        mask_id_number(id_number) if id_number else None,
        seal(credit_code, _CREDIT_CODE, uid, rnd[40:52]) if credit_code else None,
        index("credit_code", credit_code) if credit_code else None,
        mask_id_number(credit_code) if credit_code else None,
        seal(phone, _PHONE, uid, rnd[52:64]) if phone else None,
        index("phone", phone) if phone else None,
        mask_phone(phone) if phone else None,
        seal(email, _EMAIL, uid, rnd[64:76]) if email else None,
        index("email", email) if email else None,
        mask_email(email) if email else None,
        seal(address, _ADDRESS, uid, rnd[76:88]) if address else None,
        mask_address(address) if address else None,
        resident.birth_date.year if resident else None, resident.gender if resident else None,
        data.risk_tolerance, assessed,
        shared.setdefault(("expires", assessed), assessed + service.RISK_ASSESSMENT_VALIDITY) if assessed else None,
        shared.setdefault(("lines", *service_lines), service_lines), data.branch, data.segment,
        shared.setdefault(("tags", *tags), tags), data.external_id, None, now, now,
    )
    card_values = []
    for n, number in enumerate(cards):
        at = 88 + 28 * n
        card_uid = rnd[at:at + 16]
        card_values.append((card_uid, version, seal(number, _CARD, card_uid, rnd[at + 16:at + 28]),
                            index("card_number", number), mask_card(number)))
    return values, card_values


def import_batch(session: Session, *, actor: Principal, rows: list[Row], totals: ImportTotals,
                 prepared: PreparedBatch | None = None) -> None:
    """Validate and write one batch; bad rows are added to `totals.errors` and skipped.

    `prepared` is `prepare_batch(rows, …)` done ahead (by a worker process); it is redone here if
    missing or if the active key version changed since (a rotation began: nothing may be written
    under the old key any more).
    """
    totals.rows += len(rows)
    if prepared is None or (prepared.rows and prepared.version != keys.active_version(session)):
        prepared = prepare_batch(rows, keys.sealer(session), clock.now())
    totals.errors.extend(prepared.errors)
    if not prepared.rows:
        return
    existing = _existing(session, [external_id for _, external_id, _, _ in prepared.rows])
    created_ids = _insert(session, [p for p in prepared.rows if not (p[1] and p[1] in existing)])
    if created_ids and totals.first_created_id is None:
        totals.first_created_id = created_ids[0]
    updated_ids = []
    for index, external_id, _, _ in prepared.rows:
        if not (external_id and external_id in existing):
            continue
        line, raw = rows[index]
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


def default_workers() -> int:
    """Worker processes for `run_import`: one per core beyond the writer's, at least one."""
    return max((os.cpu_count() or 1) - 1, 1)


def run_import(rows: Iterable[Row], *, actor: Principal, totals: ImportTotals, batch_size: int,
               transaction: Callable[[], AbstractContextManager[Session]],
               after_batch: Callable[[], None] | None = None, workers: int | None = None) -> None:
    """Import `rows` in batches of `batch_size`, each written by `import_batch` inside `transaction()`.

    With --skip-bad-rows the CLI gives a new transaction per batch, for all-or-nothing the same one
    every time. When there is more than one batch, `workers` processes (default: `default_workers()`)
    validate and encrypt the next batches while this process writes the current one, in file order;
    at most `workers + 1` batches are in flight, so memory stays flat. Workers never touch the
    database: they get the raw rows, a `keys.Sealer` and the time, and send back a `PreparedBatch`.
    """
    workers = default_workers() if workers is None else workers
    chunks = _chunks(rows, batch_size)
    gc.freeze()  # what is loaded by now lives to the end: the collector need not scan it per batch
    gc.disable()  # …and runs once per batch below, instead of every few hundred allocations
    try:
        first = next(chunks, None)
        second = next(chunks, None) if first is not None else None
        if second is None or workers < 1:  # small file: forking would cost more than it saves
            for batch in itertools.chain(() if first is None else (first,), () if second is None else (second,),
                                         chunks):
                with transaction() as session:
                    import_batch(session, actor=actor, rows=batch, totals=totals)
                _after(after_batch)
            return
        assert first is not None
        with transaction() as session:
            sealer = keys.sealer(session)
        context = multiprocessing.get_context("fork")
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_started)
        try:
            in_flight: deque[tuple[list[Row], Future[PreparedBatch]]] = deque()

            def write_next() -> None:
                nonlocal sealer
                batch, future = in_flight.popleft()
                prepared = future.result()
                with transaction() as session:
                    import_batch(session, actor=actor, rows=batch, totals=totals, prepared=prepared)
                    if prepared.rows and keys.active_version(session) != sealer.version:
                        sealer = keys.sealer(session)  # a rotation began: encrypt the next batches under the new key
                _after(after_batch)

            try:
                for batch in itertools.chain((first, second), chunks):
                    in_flight.append((batch, pool.submit(_prepare_in_worker, batch, sealer, clock.now())))
                    if len(in_flight) > workers:
                        write_next()
            except Exception:
                # a bad byte or quote further on: write what was read before it, as a serial import would
                while in_flight:
                    write_next()
                raise
            while in_flight:
                write_next()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        gc.enable()
        gc.unfreeze()


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


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


def _prepare_in_worker(rows: list[Row], sealer: keys.Sealer, now: datetime) -> PreparedBatch:
    gc.collect(0)  # what the previous batch left (it has been sent by now)
    return prepare_batch(rows, sealer, now)


def _existing(session: Session, external_ids: list[str | None]) -> dict[str, int]:
    ids = [e for e in external_ids if e]
    if not ids:
        return {}
    rows = session.execute(select(Customer.external_id, Customer.id).where(Customer.external_id.in_(ids))).all()
    return {str(external_id): int(customer_id) for external_id, customer_id in rows}


def _insert(session: Session, fresh: list[tuple[int, str | None, tuple[Any, ...], list[tuple[Any, ...]]]]) -> list[int]:
    """Bulk-insert prepared new customers with their cards; returns their ids in input order."""
    if not fresh:
        return []
    ids = allocate_ids(session, "customer", len(fresh))
    bulk_insert(session, Customer.__table__, [(customer_id, *values) for customer_id, (_, _, values, _)
                                              in zip(ids, fresh, strict=True)], columns=CUSTOMER_COLUMNS)
    cards = [(customer_id, card) for customer_id, (_, _, _, card_values) in zip(ids, fresh, strict=True)
             for card in card_values]
    if cards:
        card_ids = allocate_ids(session, "customer_card", len(cards))
        bulk_insert(session, CustomerCard.__table__, [(card_id, customer_id, *card) for card_id, (customer_id, card)
                                                      in zip(card_ids, cards, strict=True)], columns=CARD_COLUMNS)
    return ids


ERROR_COLUMNS = ("line", "column", "reason")


def write_errors(path: Path, errors: list[RowError]) -> None:
    """The error report: one CSV row per rejected input row (no input values: they may be personal)."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(ERROR_COLUMNS)
        for error in errors:
            writer.writerow((error.line, error.column, error.reason))
