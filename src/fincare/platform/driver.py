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
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Connection
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


def run(connection: Connection, statement: DriverStatement, params: Mapping[str, Any]) -> Any:
    """Run `statement` with `params` in `connection`'s transaction; its first row (attributes named
    as its columns, like SQLAlchemy's `Row`), or None when it returns none."""
    values = {**statement.fixed, **params}
    if not statement.required <= values.keys():  # as SQLAlchemy's execute words it, before any round trip
        missing = min(statement.required - values.keys())
        cause = InvalidRequestError(f"A value is required for bind parameter {missing!r}")
        raise StatementError(str(cause), statement.sql, None, cause)
    try:
        for name, processor in statement.processors.items():
            if name in values:
                values[name] = processor(values[name])
    except Exception as error:  # a value its column type refuses, as SQLAlchemy's execute reports it
        raise StatementError(str(error), statement.sql, None, error) from error
    raw = connection.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    try:
        with raw.cursor(row_factory=namedtuple_row) as cursor:
            cursor.execute(statement.sql, values)
            return cursor.fetchone() if cursor.description else None
    except psycopg.Error as error:
        # as SQLAlchemy's own execute: its exception classes, parameters hidden (they may be
        # personal); a connection that is gone is invalidated, and with it every connection the
        # pool holds from before, which the server dropped too
        invalidated = connection.dialect.is_disconnect(cast(Any, error), connection.connection, None)
        if invalidated:
            connection.engine.pool._invalidate(connection.connection, error)
            connection.invalidate(error)
        raise DBAPIError.instance(statement.sql, values, error, psycopg.Error, hide_parameters=True,
                                  connection_invalidated=invalidated, dialect=connection.dialect) from error
    except BaseException:  # anything else mid-statement (Ctrl-C, say): the connection's state is unknown
        connection.invalidate()
        raise


def first_row(connection: Connection, statement: ClauseElement, params: Mapping[str, Any]) -> Any:
    """Execute `statement` on the driver's cursor if `on_driver` takes it, else through SQLAlchemy;
    its first row (attributes named as its columns), or None when it returns none."""
    if (on_the_driver := on_driver(statement, connection.dialect)) is not None:
        return run(connection, on_the_driver, params)
    result = connection.execute(cast(Any, statement), params)
    return result.first() if result.returns_rows else None
