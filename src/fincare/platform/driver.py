"""Statements run on psycopg's own cursor, for the few on the busiest path (a new ticket's read and
write): SQLAlchemy's execute builds an execution context, processes every parameter, wraps the
cursor in a result and fires its events each time, which cost a ticket's request 15 % of its CPU
(BENCHMARKS.md). Here a statement is compiled once; a run binds its values, applying the same bind
processing SQLAlchemy would, and psycopg's errors become SQLAlchemy's (an IntegrityError stays an
IntegrityError). The statement runs in the session's transaction, on its connection.

What it leaves out: engine events (`before_cursor_execute`, `handle_error` and the like do not see
these statements) and statements that need what only SQLAlchemy's execute does — expanding or
computed parameters, escaped parameter names, column defaults computed per run, result values to
convert; `on_driver` refuses those (None), and `first_row` runs them through SQLAlchemy.

Round trips saved besides: a read that takes no lock may run before its unit's transaction begins
(`first_row(..., before_begin=True)`), and a write whose result is not wanted is held while it may
still be the transaction's only statement (`hold_write`). A unit of work that is such a read and
such a write — a new consultation — then sends each as a statement of its own, autocommitted: two
round trips instead of four (BEGIN, the read, the write, COMMIT), with the same guarantees: under
READ COMMITTED (FinCare's, PostgreSQL's default) a read takes its own snapshot inside a transaction
or out of it, and one statement is all or nothing and durable when its answer comes, as a COMMIT is.
A held write goes first, inside the transaction, when any other statement follows on its connection;
a rollback drops it unsent. Its errors are raised there, or by the commit, not by `hold_write`.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import psycopg
from psycopg.adapt import PyFormat
from psycopg.pq import TransactionStatus
from psycopg.rows import namedtuple_row
from psycopg.types.json import Json, Jsonb
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, InvalidRequestError, StatementError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement


@dataclass(frozen=True)
class DriverStatement:
    """A statement as psycopg takes it: its SQL, the values of its fixed parameters (a LIMIT, a
    literal), the names a run must give a value and the bind processing of each parameter that has one."""

    sql: str
    fixed: Mapping[str, Any]
    required: frozenset[str]
    processors: Mapping[str, Callable[[Any], Any]]


@functools.lru_cache(maxsize=256)
def on_driver(statement: ClauseElement, dialect: Dialect) -> DriverStatement | None:
    """`statement` compiled for `run` on PostgreSQL, once per statement object; None if it needs
    SQLAlchemy's execute. Pass statements built once (module constants, cached builders)."""
    if dialect.name != "postgresql":
        return None
    compiled = statement.compile(dialect=dialect)
    if not isinstance(compiled, SQLCompiler) or compiled.escaped_bind_names or compiled.prefetch:
        return None  # prefetch: a column default SQLAlchemy's execute computes and binds per run
    if any(column.type._cached_result_processor(dialect, None) is not None for column in compiled._result_columns):
        return None  # values SQLAlchemy would convert on the way back (a time zone, say)
    fixed: dict[str, Any] = {}
    required: set[str] = set()
    processors: dict[str, Callable[[Any], Any]] = {}
    for bind, name in compiled.bind_names.items():  # each parameter by the name the SQL gives it
        if bind.expanding or bind.literal_execute or bind.callable is not None:
            return None
        if bind.required:
            required.add(name)
        else:
            fixed[name] = bind.value
        # the processor SQLAlchemy's execute applies (bulk_insert uses the same one)
        if (processor := bind.type._cached_bind_processor(dialect)) is not None:
            processors[name] = processor
    return DriverStatement(compiled.string, fixed, frozenset(required), processors)


def run(connection: Connection, statement: DriverStatement, params: Mapping[str, Any], *,
        before_begin: bool = False) -> Any:
    """Run `statement` with `params` in `connection`'s transaction; its first row (attributes named
    as its columns, like SQLAlchemy's `Row`), or None when it returns none. With `before_begin`,
    when nothing has run yet in the transaction, it runs before it, autocommitted: only for a read
    that takes no lock."""
    values = _bound(statement, params)
    raw = _raw(connection)
    _send_held(connection, alone=False)
    alone = before_begin and _idle(raw) and raw.isolation_level in _SNAPSHOT_PER_STATEMENT
    return _execute(connection, raw, statement.sql, values, alone=alone, fetch=True)


# where a transaction's statements each see their own snapshot, a read outside it sees what it would
# inside: READ COMMITTED, or the server's default (PostgreSQL's is READ COMMITTED; FinCare sets none)
_SNAPSHOT_PER_STATEMENT = (None, psycopg.IsolationLevel.READ_COMMITTED)


def _bound(statement: DriverStatement, params: Mapping[str, Any]) -> dict[str, Any]:
    """The values of a run, checked and processed as SQLAlchemy's execute would, before any round trip."""
    values = {**statement.fixed, **params}
    if not statement.required <= values.keys():  # as SQLAlchemy's execute words it
        missing = min(statement.required - values.keys())
        cause = InvalidRequestError(f"A value is required for bind parameter {missing!r}")
        raise StatementError(str(cause), statement.sql, None, cause)
    try:
        for name, processor in statement.processors.items():
            if name in values:
                values[name] = processor(values[name])
    except Exception as error:  # a value its column type refuses, as SQLAlchemy's execute reports it
        raise StatementError(str(error), statement.sql, None, error) from error
    return values


def _raw(connection: Connection) -> psycopg.Connection[Any]:
    raw = connection.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw


def _idle(raw: psycopg.Connection[Any]) -> bool:
    """Nothing has run yet in the connection's transaction (psycopg sends BEGIN with the first statement)."""
    return not raw.autocommit and raw.info.transaction_status == TransactionStatus.IDLE


def _execute(connection: Connection, raw: psycopg.Connection[Any], sql: str, values: Mapping[str, Any], *,
             alone: bool, fetch: bool) -> Any:
    """`sql` on the driver's cursor; `alone`: autocommitted, outside any transaction."""
    try:
        if alone:
            raw.autocommit = True
        try:
            with raw.cursor(row_factory=namedtuple_row) as cursor:
                cursor.execute(sql, values)
                return cursor.fetchone() if fetch and cursor.description else None
        finally:
            if alone:
                if raw.info.transaction_status == TransactionStatus.IDLE:
                    raw.autocommit = False
                else:  # lost mid-statement: closed, so it never goes back to the pool autocommitting
                    raw.close()
    except psycopg.Error as error:
        # as SQLAlchemy's own execute: its exception classes, parameters hidden (they may be
        # personal); a connection that is gone is invalidated, and with it every connection the
        # pool holds from before, which the server dropped too
        invalidated = connection.dialect.is_disconnect(cast(Any, error), connection.connection, None)
        if invalidated:
            connection.engine.pool._invalidate(connection.connection, error)
            connection.invalidate(error)
        raise DBAPIError.instance(sql, values, error, psycopg.Error, hide_parameters=True,
                                  connection_invalidated=invalidated, dialect=connection.dialect) from error
    except BaseException:  # anything else mid-statement (Ctrl-C, say): the connection's state is unknown
        connection.invalidate()
        raise


def first_row(connection: Connection, statement: ClauseElement, params: Mapping[str, Any], *,
              before_begin: bool = False) -> Any:
    """Execute `statement` on the driver's cursor if `on_driver` takes it, else through SQLAlchemy;
    its first row (attributes named as its columns), or None when it returns none. `before_begin`
    as for `run`."""
    if (on_the_driver := on_driver(statement, connection.dialect)) is not None:
        return run(connection, on_the_driver, params, before_begin=before_begin)
    result = connection.execute(cast(Any, statement), params)
    return result.first() if result.returns_rows else None


# -- a write held while it may be its transaction's only statement ---------------------------------

_HELD = "fincare_held_write"  # its key in the pooled connection's `info`, which a closed connection loses
_holding: weakref.WeakSet[Engine] = weakref.WeakSet()


def hold_writes(engine: Engine) -> None:
    """Let `hold_write` hold writes on `engine`'s connections: a held write is sent before any other
    statement, alone at commit, and dropped by a rollback or when its connection goes back to the pool."""
    event.listen(engine, "before_cursor_execute", _send_held_first)
    event.listen(engine, "commit", _send_held_alone)
    event.listen(engine, "rollback", _drop_held)
    event.listen(engine, "checkin", _forget_held)
    _holding.add(engine)


def hold_write(connection: Connection, statement: ClauseElement, params: Mapping[str, Any]) -> None:
    """Write with `statement`, whose result is not wanted: at once, or, when nothing has run yet in
    the transaction (and `hold_writes` holds on its engine), when the next statement runs or alone at
    commit. A value `statement` cannot take is refused at once; a database's refusal comes later."""
    on_the_driver = on_driver(statement, connection.dialect)
    if on_the_driver is None:
        connection.execute(cast(Any, statement), params)
        return
    values = _bound(on_the_driver, params)
    raw = _raw(connection)
    _send_held(connection, alone=False)
    if connection.engine in _holding and _idle(raw):
        connection.connection.info[_HELD] = (on_the_driver.sql, _written_out(raw, values))
        return
    _execute(connection, raw, on_the_driver.sql, values, alone=False, fetch=False)


def _written_out(raw: psycopg.Connection[Any], values: dict[str, Any]) -> dict[str, Any]:
    """`values` with each JSON document written out now: a held write stores a document as it was
    when held, not as the caller may change it before it is sent."""
    for name, value in values.items():
        if isinstance(value, Json | Jsonb):
            values[name] = type(value)(json_text(raw, value), dumps=str)  # the text, as it is
    return values


def json_text(raw: psycopg.Connection[Any], value: Json | Jsonb) -> str:
    """A psycopg JSON wrapper as the text `raw` would send for it, by psycopg's own dumper."""
    dumped = raw.adapters.get_dumper(type(value), PyFormat.TEXT)(type(value), raw).dump(value)
    return bytes(dumped or b"null").decode()


def send_held(connection: Connection) -> None:
    """Send a write held on `connection` now, in its transaction: before work on the driver's own
    connection that the engine's events do not see (COPY)."""
    _send_held(connection, alone=False)


def _send_held(connection: Connection, *, alone: bool) -> None:
    held = None if connection.invalidated else connection.connection.info.pop(_HELD, None)
    if held is not None:
        raw = _raw(connection)
        _execute(connection, raw, *held, alone=alone and _idle(raw), fetch=False)


def _send_held_first(connection: Connection, *_statement: Any) -> None:
    _send_held(connection, alone=False)


def _send_held_alone(connection: Connection) -> None:
    _send_held(connection, alone=True)


def _drop_held(connection: Connection) -> None:
    if not connection.invalidated:  # else its pooled connection, and what it held, is gone
        connection.connection.info.pop(_HELD, None)


def _forget_held(_dbapi_connection: Any, record: Any) -> None:
    record.info.pop(_HELD, None)
