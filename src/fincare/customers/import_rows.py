"""Prepared rows in the form a database's bulk path takes, made where the rows are prepared.

A worker process encodes each sealed row for the writer's database, so that the writer only puts
the ids in front and sends: on PostgreSQL a row of `COPY … (FORMAT BINARY)` (no text escaping,
hex or date parsing on either side), on SQLite the values as bound (dates, times and JSON as
SQLAlchemy's SQLite types store them). `Encoding.VALUES` keeps plain Python values, converted at
write time by `bulk_insert`, for any database.

Values of the columns not named `distinct` repeat from row to row (kinds, dates, branches, the
JSON lists, given as tuples): each distinct one is encoded once per batch.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, FromClause, Integer, LargeBinary, String
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from fincare.platform import driver
from fincare.platform.db import UTCDateTime, bulk_insert


class Encoding(StrEnum):
    VALUES = "values"  # Python values; `bulk_insert` converts them (any database)
    COPY_BINARY = "copy_binary"  # PostgreSQL binary COPY rows (UTF-8 text) without the leading ids, see `RowEncoder`
    SQLITE = "sqlite"  # values bound as SQLite stores them


def encoding_for(session: Session) -> Encoding:
    """The cheapest encoding the session's database takes."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return Encoding.SQLITE
    if dialect == "postgresql" and _dbapi(session).info.encoding == "utf-8":  # text goes as UTF-8 bytes
        return Encoding.COPY_BINARY
    return Encoding.VALUES


class RowEncoder:
    """Encodes the value tuples of a table's columns after its `leading` id columns, and inserts them."""

    def __init__(self, table: FromClause, columns: Sequence[str], *, leading: int,
                 distinct: Sequence[str] = ()) -> None:
        self.table, self.columns, self.leading = table, tuple(columns), leading
        self.name = str(getattr(table, "name", ""))
        types = {name: table.c[name].type for name in columns[leading:]}
        positions = {name: n for n, name in enumerate(columns[leading:])}
        # COPY names its columns, so a binary row can list them grouped by how they are encoded:
        # byte strings, then text unique to the row, then values that repeat
        self._binary = [name for name in types if isinstance(types[name], LargeBinary)]
        self._distinct = [name for name in types if name in distinct and name not in self._binary]
        self._repeating = [name for name in types if name not in self._binary and name not in self._distinct]
        if any(not isinstance(types[name], String) for name in self._distinct):
            raise TypeError("only text columns may be distinct")
        self._copy_columns = (*columns[:leading], *self._binary, *self._distinct, *self._repeating)
        self._positions = [[positions[name] for name in group]
                           for group in (self._binary, self._distinct, self._repeating)]
        self._copy_fields = [_copy_field(types[name]) for name in self._repeating]
        self._sqlite = [(positions[name], process) for name, type_ in types.items()
                        if not isinstance(type_, LargeBinary)
                        and (process := type_._cached_bind_processor(_SQLITE)) is not None]

    def encode(self, encoding: Encoding, rows: Sequence[tuple[Any, ...]]) -> list[Any]:
        """The rows (value tuples) of a batch, encoded. Column by column: a loop per column rather
        than a function call per value, and each distinct repeating value encoded once."""
        if not rows or encoding == Encoding.VALUES:
            return list(rows)
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
        if encoding == Encoding.SQLITE:
            for n, process in self._sqlite:
                columns[n] = list(map(_Memo(process, None).__getitem__, columns[n]))
            return list(zip(*columns, strict=True))
        binary, distinct, repeating = self._positions
        int4, null = _INT4, _NULL
        fields = [[null if v is None else int4(len(v)) + v for v in columns[n]] for n in binary]
        fields += [[null if v is None else int4(len(b := v.encode())) + b for v in columns[n]] for n in distinct]
        fields += [list(map(_Memo(field, null).__getitem__, columns[n]))
                   for n, field in zip(repeating, self._copy_fields, strict=True)]
        return list(map(b"".join, zip(*fields, strict=True)))

    def insert(self, session: Session, encoding: Encoding, ids: Sequence[tuple[int, ...]],
               rows: Sequence[Any]) -> None:
        """Insert rows made by `encode(encoding, …)`, each after its leading ids."""
        if not rows:
            return
        if encoding == Encoding.VALUES:
            bulk_insert(session, self.table, [(*lead, *row) for lead, row in zip(ids, rows, strict=True)],
                        columns=self.columns)
            return
        if encoding == Encoding.SQLITE:
            names = ", ".join(f'"{c}"' for c in self.columns)
            marks = ", ".join("?" for _ in self.columns)
            cursor = _dbapi(session).cursor()
            try:
                cursor.executemany(f'INSERT INTO "{self.name}" ({names}) VALUES ({marks})',  # noqa: S608
                                   [(*lead, *row) for lead, row in zip(ids, rows, strict=True)])
            finally:
                cursor.close()
            return
        # a row: its number of fields, then each as length and value; the ids are int4
        head = struct.Struct("!h" + "ii" * self.leading).pack
        count = len(self._copy_columns)
        parts: list[bytes] = [_COPY_SIGNATURE]
        for lead, row in zip(ids, rows, strict=True):
            parts.append(head(count, *(x for i in lead for x in (4, i))))
            parts.append(row)
        parts.append(_COPY_TRAILER)
        names = ", ".join(f'"{c}"' for c in self._copy_columns)
        with _dbapi(session).cursor() as cursor, cursor.copy(
                f'COPY "{self.name}" ({names}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.write(b"".join(parts))


class _Memo(dict[Any, Any]):
    """`memo[value]`: `encode(value)`, computed once per distinct value; `null` for None."""

    def __init__(self, encode: Callable[[Any], Any], null: Any) -> None:
        super().__init__({None: null})
        self._encode = encode

    def __missing__(self, value: Any) -> Any:
        encoded = self[value] = self._encode(value)
        return encoded


def _dbapi(session: Session) -> Any:
    connection = session.connection()
    driver.send_held(connection)  # what is done on the driver's connection is not seen by the engine's events
    return connection.connection.dbapi_connection


_SQLITE = sqlite.dialect()

# -- PostgreSQL binary COPY (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format") -------

_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_COPY_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_INT4 = struct.Struct("!i").pack
_INT4_FIELD = struct.Struct("!ii").pack
_INT8_FIELD = struct.Struct("!iq").pack
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PG_EPOCH_DAY = date(2000, 1, 1).toordinal()


def _text(value: Any) -> bytes:
    data = str(value).encode()
    return _INT4(len(data)) + data


def _timestamptz(value: datetime) -> bytes:  # microseconds since 2000-01-01 UTC; a naive time is refused
    return _INT8_FIELD(8, (value - _PG_EPOCH) // timedelta(microseconds=1))


def _date(value: date) -> bytes:  # days since 2000-01-01
    return _INT4_FIELD(4, value.toordinal() - _PG_EPOCH_DAY)


def _jsonb(value: Any) -> bytes:  # format version 1, then the JSON text
    return _text("\x01" + json.dumps(value))


def _int4(value: int) -> bytes:
    return _INT4_FIELD(4, value)


def _copy_field(type_: Any) -> Callable[[Any], bytes]:
    """The binary COPY field (length, then value) for a non-null value of a column of this type."""
    if isinstance(type_, UTCDateTime):
        return _timestamptz
    if isinstance(type_, Date):
        return _date
    if isinstance(type_, JSON):
        return _jsonb
    if isinstance(type_, Integer) and not isinstance(type_, BigInteger):
        return _int4
    if isinstance(type_, String):
        return _text
    raise TypeError(f"no binary COPY encoding for {type_!r}")
