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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.customers import service
from fincare.customers.models import Customer, CustomerCard, CustomerStatus, new_uid
from fincare.platform import audit_trail, clock, keys
from fincare.platform.db import allocate_ids, bulk_insert
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


@dataclass
class _Prepared:
    line: int
    data: service.CustomerData


def import_batch(session: Session, *, actor: Principal, rows: list[tuple[int, dict[str, Any]]],
                 totals: ImportTotals) -> None:
    """Validate and write one batch; bad rows are added to `totals.errors` and skipped."""
    prepared: list[_Prepared] = []
    seen: set[str] = set()
    for line, raw in rows:
        totals.rows += 1
        if "__extra__" in raw:
            totals.errors.append(RowError(line, "(row)", "more cells than columns"))
            continue
        too_long = next((k for k, v in raw.items() if isinstance(v, str) and len(v) > MAX_FIELD), None)
        if too_long:
            totals.errors.append(RowError(line, too_long, f"longer than {MAX_FIELD} characters"))
            continue
        try:
            data = service.parse_customer(raw)
            service.check_kind_rules(str(data.kind), data)
        except DomainError as exc:
            totals.errors.append(RowError(line, exc.field or "(row)", exc.message))
            continue
        if data.external_id and data.external_id in seen:
            totals.errors.append(RowError(line, "external_id", "appears twice in this batch"))
            continue
        if data.external_id:
            seen.add(data.external_id)
        prepared.append(_Prepared(line, data))
    if not prepared:
        return
    existing = _existing(session, [p.data.external_id for p in prepared if p.data.external_id])
    fresh = [p for p in prepared if not (p.data.external_id and p.data.external_id in existing)]
    created_ids = _insert(session, [p.data for p in fresh])
    if created_ids and totals.first_created_id is None:
        totals.first_created_id = created_ids[0]
    updated_ids = []
    for p in prepared:
        if not (p.data.external_id and p.data.external_id in existing):
            continue
        customer_id = existing[p.data.external_id]
        if totals.first_created_id is not None and customer_id >= totals.first_created_id:
            totals.errors.append(RowError(p.line, "external_id", "appears earlier in this file"))
            continue
        customer = session.get(Customer, customer_id)
        assert customer is not None
        if customer.status != CustomerStatus.ACTIVE:
            totals.errors.append(RowError(p.line, "external_id", f"customer is {customer.status}"))
            continue
        try:
            with session.begin_nested():
                service.update_customer(session, actor=actor, customer=customer, data=p.data)
        except DomainError as exc:
            totals.errors.append(RowError(p.line, exc.field or "(row)", exc.message))
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


def _existing(session: Session, external_ids: list[str | None]) -> dict[str, int]:
    ids = [e for e in external_ids if e]
    if not ids:
        return {}
    rows = session.execute(select(Customer.external_id, Customer.id).where(Customer.external_id.in_(ids))).all()
    return {str(external_id): int(customer_id) for external_id, customer_id in rows}


def _insert(session: Session, batch: list[service.CustomerData]) -> list[int]:
    """Bulk-insert new customers with their cards; returns their ids in input order."""
    if not batch:
        return []
    version = keys.active_version(session)
    now = clock.now()
    customer_rows, card_rows = [], []
    for data in batch:
        uid = new_uid()

        def seal(column: str, value: str | None, uid: bytes = uid) -> bytes | None:
            if value is None:
                return None
            return keys.encrypt(session, value, table="customer", column=column, uid=uid, version=version)

        resident = data.resident
        assessed = data.risk_assessed_on or (now.date() if data.risk_tolerance else None)
        customer_rows.append({
            "uid": uid, "kind": str(data.kind), "status": CustomerStatus.ACTIVE, "key_version": version,
            "name_enc": seal("name_enc", data.name), "name_mask": mask_name(data.name or ""),
            "id_number_enc": seal("id_number_enc", data.id_number),
            "id_number_lookup": keys.blind_index("id_number", data.id_number) if data.id_number else None,
            "id_number_mask": mask_id_number(data.id_number) if data.id_number else None,
            "credit_code_enc": seal("credit_code_enc", data.credit_code),
            "credit_code_lookup": keys.blind_index("credit_code", data.credit_code) if data.credit_code else None,
            "credit_code_mask": mask_id_number(data.credit_code) if data.credit_code else None,
            "phone_enc": seal("phone_enc", data.phone),
            "phone_lookup": keys.blind_index("phone", data.phone) if data.phone else None,
            "phone_mask": mask_phone(data.phone) if data.phone else None,
            "email_enc": seal("email_enc", data.email),
            "email_lookup": keys.blind_index("email", data.email) if data.email else None,
            "email_mask": mask_email(data.email) if data.email else None,
            "address_enc": seal("address_enc", data.address),
            "address_mask": mask_address(data.address) if data.address else None,
            "birth_year": resident.birth_date.year if resident else None,
            "gender": resident.gender if resident else None,
            "risk_tolerance": data.risk_tolerance, "risk_assessed_on": assessed,
            "risk_expires_on": assessed + service.RISK_ASSESSMENT_VALIDITY if assessed else None,
            "service_lines": data.service_lines or [], "branch": data.branch, "segment": data.segment,
            "tags": data.tags or [], "external_id": data.external_id, "relationship_ended_on": None,
            "created_at": now, "updated_at": now,
        })
    ids = allocate_ids(session, "customer", len(customer_rows))
    for customer_id, row in zip(ids, customer_rows, strict=True):
        row["id"] = customer_id
    bulk_insert(session, Customer.__table__, customer_rows)
    for customer_id, data in zip(ids, batch, strict=True):
        for number in dict.fromkeys(data.cards or []):
            card_uid = new_uid()
            card_rows.append({"customer_id": customer_id, "uid": card_uid, "key_version": version,
                              "number_enc": keys.encrypt(session, number, table="customer_card",
                                                         column="number_enc", uid=card_uid, version=version),
                              "number_lookup": keys.blind_index("card_number", number),
                              "number_mask": mask_card(number)})
    if card_rows:
        card_ids = allocate_ids(session, "customer_card", len(card_rows))
        for card_id, card_row in zip(card_ids, card_rows, strict=True):
            card_row["id"] = card_id
        bulk_insert(session, CustomerCard.__table__, card_rows)
    return ids


ERROR_COLUMNS = ("line", "column", "reason")


def write_errors(path: Path, errors: list[RowError]) -> None:
    """The error report: one CSV row per rejected input row (no input values: they may be personal)."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(ERROR_COLUMNS)
        for error in errors:
            writer.writerow((error.line, error.column, error.reason))
