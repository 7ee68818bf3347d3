"""Database access: engines, the unit of work, the declarative base and portable column types.

SQLite runs in WAL mode with foreign keys on; PostgreSQL through psycopg 3. The caller of a service
owns the transaction: `with unit_of_work() as session:` commits on success and rolls back on error.
"""

from __future__ import annotations

import functools
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar, cast

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    FromClause,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    inspect,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.attributes import instance_dict
from sqlalchemy.orm.attributes import manager_of_class as manager_of
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.expression import Insert, Label, Select, TextClause
from sqlalchemy.sql.schema import ColumnDefault
from sqlalchemy.types import TypeDecorator

from fincare.platform import driver
from fincare.platform.config import get_settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes; naive values are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite has no time zone type: store naive UTC so that text ordering is time ordering.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDoc = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDoc,
        list[str]: JSONDoc,
        list[dict[str, Any]]: JSONDoc,
        StrEnum: String(32),
    }


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the write lock at BEGIN: a read that later writes would otherwise fail with
    # "database is locked" instead of waiting its turn. Read-only units read a WAL snapshot.
    read_only = conn.get_execution_options().get("fincare_read_only", False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str, *, pool_size: int = 10, read_only: bool = False) -> Engine:
    """An engine configured for FinCare's rules on either database; on PostgreSQL, `read_only` makes
    the engine of read-only units (`_reader_of`)."""
    if url.startswith("sqlite"):
        # connections are pooled: opening one (file, WAL index, schema) costs about 1 ms, five times a
        # short read through a warm one, and its page cache would start cold every time
        pooled = {} if ":memory:" in url else {"pool_size": pool_size, "max_overflow": pool_size * 2}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True,
                               **pooled)
        event.listen(engine, "connect", _on_sqlite_connect)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves

        event.listen(engine, "begin", _sqlite_begin)
        return engine
    _keep_parsed_statements()
    # A read-only unit's statements each run as a transaction of their own (autocommit) that the
    # server opens read-only: a short read is one round trip instead of three (BEGIN READ ONLY, the
    # read, COMMIT), and a write is still refused. Nothing is lost by it: under READ COMMITTED a
    # transaction takes a new snapshot for each statement all the same.
    reader = {"isolation_level": "AUTOCOMMIT"} if read_only else {}
    # hide_parameters: a database error must not carry the bound (possibly personal) values into a log
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2, hide_parameters=True, **reader)
    if read_only:
        event.listen(engine, "connect", _read_only_session)
    else:
        driver.hold_writes(engine)
    event.listen(engine, "connect", _note_use)
    event.listen(engine, "checkin", _note_use)
    event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    return engine


def _read_only_session(dbapi_connection: Any, _record: Any) -> None:
    """Every transaction of this connection read-only, once when it opens: a statement rather than a
    startup option, so the URL's `options` (a search_path, a statement_timeout) and PGOPTIONS still
    apply, and a pooler that refuses startup options (PgBouncer) lets it through."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    dbapi_connection.commit()  # a no-op if autocommit is already on


def _keep_parsed_statements() -> None:
    """psycopg keeps its parsed form of a statement only up to 4096 bytes and 50 parameters; the
    one-round-trip inserts of `insert_new` exceed both, and parsing one again on every execution
    costs more than sending it. FinCare's statements bind their values, so they are few and
    repeat; the cache stays bounded (LRU). The limits are psycopg's private settings: a release
    without them leaves its own (slower, not wrong)."""
    try:
        from psycopg import _queries
    except ImportError:
        return
    for name, wanted in (("MAX_CACHED_STATEMENT_LENGTH", 32_768), ("MAX_CACHED_STATEMENT_PARAMS", 512)):
        current = getattr(_queries, name, None)
        if isinstance(current, int) and current < wanted:
            setattr(_queries, name, wanted)


# A pooled connection that was idle longer than this is tested before use (a restarted database
# or a dropped link must not fail the next request); one back from use within it is not, which
# saves a round trip per unit of work under load (HikariCP's aliveBypassWindowMs, same default).
PING_AFTER_IDLE_SECONDS = 0.5


def _note_use(_dbapi_connection: Any, record: Any) -> None:
    record.info["fincare_used_at"] = time.monotonic()


def _ping_if_idle(dialect: Dialect, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    if time.monotonic() - record.info.get("fincare_used_at", 0.0) < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as exc:  # the pool discards this connection and checks out (or opens) another
        raise DisconnectionError(f"pooled connection is gone: {type(exc).__name__}") from exc


_lock = threading.Lock()
_engine: Engine | None = None
_reader: Engine | None = None  # PostgreSQL's read-only units' own engine, made from `_engine`
_factories: dict[bool, sessionmaker[Session]] = {}


def _reader_of(engine: Engine) -> Engine:
    """The engine of read-only units over `engine`'s database. On PostgreSQL a new one, with a pool
    of its own (as large as `engine`'s) of read-only autocommit connections, for the caller to
    dispose; on SQLite `engine`'s own connections, whose read-only units begin with a plain
    (deferred) BEGIN."""
    if engine.dialect.name != "postgresql":
        return engine.execution_options(fincare_read_only=True)
    pool_size = engine.pool.size() if isinstance(engine.pool, QueuePool) else 10
    return make_engine(engine.url.render_as_string(hide_password=False), pool_size=pool_size, read_only=True)


def _install(engine: Engine | None) -> None:
    global _engine, _reader, _factories
    reader = None if engine is None else _reader_of(engine)
    _factories = {} if engine is None or reader is None else {
        False: sessionmaker(engine, expire_on_commit=False), True: sessionmaker(reader, expire_on_commit=False)}
    _reader = reader if reader is not None and reader.dialect.name == "postgresql" else None
    _engine = engine  # last: a thread that sees the engine finds its session factories


def get_engine() -> Engine:
    """The process-wide engine for `FINCARE_DATABASE_URL`."""
    if _engine is None:
        with _lock:
            if _engine is None:
                _install(make_engine(get_settings().database_url))
    assert _engine is not None
    return _engine


def set_engine(engine: Engine | None) -> None:
    """Use `engine` from now on (tests, benchmarks, a forked worker); None forgets it."""
    with _lock:
        if _reader is not None:
            _reader.dispose()
        if _engine is not None and _engine is not engine:
            _engine.dispose()
        _install(engine)


def reset_after_fork() -> None:
    """In a forked child: forget inherited connections without closing the parent's sockets."""
    for engine in (_engine, _reader):
        if engine is not None:
            engine.dispose(close=False)


@contextmanager
def unit_of_work(*, read_only: bool = False) -> Iterator[Session]:
    """One transaction: commits when the block ends normally, rolls back on any exception.

    `read_only` units never take SQLite's write lock, so pages and reports do not queue behind
    writers; they must not write (nothing enforces it on SQLite, PostgreSQL refuses).
    """
    get_engine()
    with _committed(_factories[read_only]()) as session:
        yield session


@contextmanager
def _committed(session: Session) -> Iterator[Session]:
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# A bulk job's SQLite connection. Random blind-index keys touch a new page of each index for almost
# every row: a page cache that holds them (bounded, so memory stays flat) saves writing and re-reading
# them per row. Each commit writes the pages it dirtied to the WAL and the next batches dirty most of
# them again: checkpointing less often copies such a page into the database once for many batches
# (1M customers with a commit per batch: 100 s -> 85 s).
SQLITE_BULK_CACHE_KIB = 256 * 1024  # SQLite's default: 2 MiB
SQLITE_BULK_CHECKPOINT_PAGES = 16_384  # 64 MiB of WAL; SQLite's default: 1,000 pages (~4 MiB)


@contextmanager
def bulk_writes(*, each_unit_commits: bool) -> Iterator[Callable[[], AbstractContextManager[Session]]]:
    """Units of work for a bulk job (an import), all on one connection: `with unit() as session:`.

    With `each_unit_commits` every unit is its own transaction (a bad batch rolls back alone);
    without, all units share one transaction, committed when the `with bulk_writes(...)` block ends
    and rolled back if it raises (all or nothing). One connection keeps SQLite's page cache warm
    from batch to batch, where the pool might hand out another one each time. On SQLite the
    connection's page cache and WAL checkpoint threshold are raised for the job and set back after
    it, and the job runs its last checkpoint itself, so no later request pays for it.
    """
    with get_engine().connect() as connection:
        restore = _raise_bulk_limits(connection)
        try:
            if each_unit_commits:
                yield lambda: _committed(_factories[False](bind=connection))
            else:
                with _committed(_factories[False](bind=connection)) as session:
                    yield lambda: nullcontext(session)
        finally:
            if not connection.invalidated:  # else closed by SQLAlchemy (Ctrl-C mid-statement, say)
                restore()


def _raise_bulk_limits(connection: Connection) -> Callable[[], None]:
    """Raise a bulk job's SQLite limits on `connection`; what ends the job: the last checkpoint and
    the connection's own limits back (on PostgreSQL: nothing)."""
    if connection.dialect.name != "sqlite":
        return lambda: None
    # on the driver's connection: outside the BEGIN that SQLAlchemy's would start
    sqlite_connection = connection.connection.driver_connection
    assert sqlite_connection is not None
    cache_size = int(sqlite_connection.execute("PRAGMA cache_size").fetchone()[0])
    threshold = int(sqlite_connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
    sqlite_connection.execute(f"PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}")
    sqlite_connection.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_BULK_CHECKPOINT_PAGES}")

    def restore() -> None:
        sqlite_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # PASSIVE: without waiting for readers
        sqlite_connection.execute(f"PRAGMA cache_size = {cache_size}")
        sqlite_connection.execute(f"PRAGMA wal_autocheckpoint = {threshold}")

    return restore


def insert_on_conflict(session: Session, table: Any) -> postgresql.Insert | sqlite.Insert:
    """`insert(table)` that takes PostgreSQL's and SQLite's `ON CONFLICT` clauses (spelled alike by both:
    `.on_conflict_do_nothing(index_elements=…)`, `.on_conflict_do_update(…)`)."""
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)


def allocate_ids(session: Session, table: str, count: int) -> list[int]:
    """Reserve `count` primary keys of `table` for a bulk insert without RETURNING.

    PostgreSQL draws them from the table's sequence; SQLite's write lock (taken at BEGIN IMMEDIATE)
    makes max(id)+1… safe for the rest of the transaction.
    """
    return allocate_id_sets(session, {table: count})[table]


def allocate_id_sets(session: Session, counts: Mapping[str, int]) -> dict[str, list[int]]:
    """`allocate_ids` for several tables in one round trip, each table's ids in ascending order.

    PostgreSQL: a few ids (a new ticket's) come as one row of `nextval` calls on the sequences, named
    as constants (a set over `generate_series` with a catalog lookup of each sequence by its table's
    name cost the server a fifth of its work on a new ticket); many (a bulk import) as an array per
    table.
    """
    wanted = {table: count for table, count in counts.items() if count > 0}
    found: dict[str, list[int]] = {table: [] for table in counts}
    if not wanted:
        return found
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.flush()  # an object still pending would take an id handed out here
        for table, count in wanted.items():
            start = int(connection.execute(text(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')).scalar_one()) + 1  # noqa: S608
            found[table] = list(range(start, start + count))
        return found
    sequences = _sequences(connection, wanted)
    named = tuple(sequences[table] for table in wanted)
    if sum(wanted.values()) <= _IDS_IN_ONE_ROW:
        counted = tuple(zip(named, wanted.values(), strict=True))
        return found | _dealt(connection.execute(_ids_row_query(counted)).one(), wanted)
    arrays = connection.execute(_ids_arrays_query(named), {f"n{n}": c for n, c in enumerate(wanted.values())}).one()
    for table, ids in zip(wanted, arrays, strict=True):
        found[table] = sorted(ids)
    return found


def read_with_ids(session: Session, statement: Select[Any], params: Mapping[str, Any],
                  counts: Mapping[str, int]) -> tuple[Any, dict[str, list[int]]]:
    """The first row of `statement` (None if none; its values by position, or as attributes named
    as its columns) and, if there is one, ids as `allocate_id_sets` gives them.

    On PostgreSQL one round trip: the `nextval` calls are columns added to the statement's (after
    its own, which keep their names) and the statement is limited to one row, so no row draws no
    ids. `statement` reads plain rows (no aggregate or DISTINCT, which the added columns would
    change) and takes no lock: as the unit's first statement it runs before its transaction begins
    (`driver.run`'s `before_begin`), saving the BEGIN's round trip. A check that must pass before
    rows are written (the customer of a new ticket) costs no round trip of its own this way. The
    statement with its calls added is kept per `statement` object, so pass one built once (a module
    constant), not a new select per call; it runs on the driver's cursor when it can (`platform.driver`).
    """
    connection = session.connection()
    wanted = {table: count for table, count in counts.items() if count > 0}
    if connection.dialect.name != "postgresql" or not wanted or sum(wanted.values()) > _IDS_IN_ONE_ROW:
        row = connection.execute(statement, params).first()
        return row, allocate_id_sets(session, counts) if row is not None else {table: [] for table in counts}
    sequences = _sequences(connection, wanted)
    counted = tuple((sequences[table], count) for table, count in wanted.items())
    row = driver.first_row(connection, _with_nextvals(statement, counted), params, before_begin=True)
    found: dict[str, list[int]] = {table: [] for table in counts}
    if row is None:
        return None, found
    return row, found | _dealt(row[len(row) - sum(wanted.values()):], wanted)


def _dealt(values: Sequence[Any], counts: Mapping[str, int]) -> dict[str, list[int]]:
    """`values` drawn `counts[table]` at a time, table after table, each table's in ascending order."""
    drawn = iter(values)
    return {table: sorted(int(next(drawn)) for _ in range(count)) for table, count in counts.items()}


def _nextval_calls(counted: tuple[tuple[str, int], ...]) -> list[str]:
    """`count` calls of `nextval` on each sequence, in the order given."""
    return [_nextval(sequence) for sequence, count in counted for _ in range(count)]


@functools.lru_cache(maxsize=64)
def _with_nextvals(statement: Select[Any], counted: tuple[tuple[str, int], ...]) -> Select[Any]:
    columns: list[Label[Any]] = [literal_column(call).label(f"_new_id_{n}")
                                 for n, call in enumerate(_nextval_calls(counted))]
    return statement.add_columns(*columns).limit(1)  # every row returned would draw its own ids


_IDS_IN_ONE_ROW = 32
_sequence_names: weakref.WeakKeyDictionary[Engine, dict[str, str]] = weakref.WeakKeyDictionary()


def _sequences(connection: Connection, tables: Iterable[str]) -> Mapping[str, str]:
    """The id sequence of each table (found through the search path, as the table is), read from the
    catalog once per engine and table. A migration that renames a sequence while FinCare runs needs
    the server processes restarted, as any schema change does."""
    names = _sequence_names.get(connection.engine, {})
    if missing := [table for table in tables if table not in names]:
        rows = connection.execute(_SEQUENCE_OF, {"tables": missing})
        names = _sequence_names[connection.engine] = {**names, **{table: sequence for table, sequence in rows
                                                                  if sequence}}
        if missing := [table for table in missing if table not in names]:
            raise ValueError(f"no id sequence for table(s) {', '.join(missing)}")
    return names


_SEQUENCE_OF = text("SELECT t, pg_get_serial_sequence(t, 'id') FROM unnest(CAST(:tables AS text[])) AS t")


def _nextval(sequence: str) -> str:
    """`nextval` of a sequence named as a constant: resolved when the statement is prepared, not per call."""
    return "nextval('" + sequence.replace("'", "''") + "'::regclass)"


@functools.lru_cache(maxsize=64)
def _ids_row_query(counted: tuple[tuple[str, int], ...]) -> TextClause:
    return text("SELECT " + ", ".join(_nextval_calls(counted)))


@functools.lru_cache(maxsize=64)
def _ids_arrays_query(named: tuple[str, ...]) -> TextClause:
    """One row of arrays, `:n<position>` ids from each sequence: the driver parses an array of
    thousands of ids far faster than as many rows."""
    arrays = [f"ARRAY(SELECT {_nextval(sequence)} FROM generate_series(1, :n{n}))"  # noqa: S608 - catalog names, quoted
              for n, sequence in enumerate(named)]
    return text("SELECT " + ", ".join(arrays))


def number(objects: Sequence[Base], ids: Mapping[str, Sequence[int]]) -> None:
    """Give each object without an id the next of `ids[its table]` (from `allocate_id_sets`), in order."""
    left = {table: iter(values) for table, values in ids.items()}
    for obj in objects:
        if obj.id is None:  # type: ignore[attr-defined]
            obj.id = next(left[obj.__tablename__])  # type: ignore[attr-defined]


_B = TypeVar("_B", bound="Base")


def new_row(cls: type[_B], **values: Any) -> _B:
    """`cls(**values)` for a row written by `insert_new` or added to a session, made without
    SQLAlchemy's per-attribute change events: a new object has no history to record, and inserting
    it reads its values as they are. Building a ticket's five objects this way took 8 % off the CPU
    of a ticket's request. Only column attributes may be given (a relationship needs its events);
    a name that is not one is a TypeError, as for `cls(**values)`."""
    if unknown := values.keys() - _column_keys(cls):
        raise TypeError(f"{cls.__name__} has no column attribute {sorted(unknown)[0]!r}")
    obj = manager_of(cls).new_instance()  # as the ORM makes an object it loads: no __init__
    obj.__dict__.update(values)
    return obj


@functools.cache
def _column_keys(cls: type[Base]) -> frozenset[str]:
    return frozenset(attr.key for attr in inspect(cls).column_attrs)


def insert_new(session: Session, objects: Sequence[Base]) -> None:
    """Insert new ORM objects, each with its id set (`number`), in one round trip.

    The session's unit of work sends one statement per table and reads back what it does not need;
    this sends all the rows as one statement of data-modifying CTEs on PostgreSQL (one by one on
    SQLite, where a statement costs no round trip). PostgreSQL runs such CTEs in no set order, so
    the ids are the caller's: rows are numbered in the order they were made. The objects stay
    transient: code that changes one afterwards loads it with `session.get`. On PostgreSQL the
    statement runs on the driver's cursor (`platform.driver`): engine events do not see it; and it
    is held (`driver.hold_write`) while it may be the transaction's only statement, so a database's
    refusal of it (an IntegrityError) may come from the next statement or the commit.
    """
    shape: list[tuple[Table, tuple[str, ...]]] = []
    params: dict[str, Any] = {}
    for n, obj in enumerate(objects):
        table, row = _row_of(obj)
        shape.append((table, tuple(row)))
        params |= {f"p{n}_{c}": value for c, value in enumerate(row.values())}
    session.flush()  # what is pending goes first: the new rows may refer to it
    connection = session.connection()
    for statement in _insert_statements(tuple(shape), connection.dialect.name == "postgresql"):
        driver.hold_write(connection, statement, params)


def _row_of(obj: Base) -> tuple[Table, dict[str, Any]]:
    """The table and column values of a new object, as the session's unit of work would insert them:
    a None is left out (the column's default applies, else NULL) unless the type stores None as a
    value (JSON's `null`). Leaving NULLs out also keeps the parameters few."""
    plan = _row_plan(type(obj))
    values = instance_dict(obj)
    if any(values.get(key) is None for key in plan.primary_key):
        raise ValueError("insert_new needs the id of every object: allocate and `number` them first")
    row: dict[str, Any] = {}
    for key, column, keeps_none, default in plan.columns:
        value = values.get(key)
        if value is not None or (keeps_none and key in values):
            row[column] = value
        elif default is not None:
            row[column] = default.arg if default.is_scalar else default.arg(None)
    return plan.table, row


@dataclass(frozen=True)
class _RowPlan:
    table: Table
    primary_key: tuple[str, ...]
    # per column: attribute, column name, whether None is a value, its Python-side default if any
    columns: tuple[tuple[str, str, bool, ColumnDefault | None], ...]


@functools.cache
def _row_plan(cls: type[Base]) -> _RowPlan:
    """How `_row_of` reads an object of this mapped class, worked out once per class. Python-side
    defaults are applied here because an INSERT inside a CTE does not apply them."""
    mapper = inspect(cls)
    table = cast(Table, mapper.local_table)
    columns = []
    for attr in mapper.column_attrs:
        column = table.c[attr.columns[0].key]
        default = column.default if isinstance(column.default, ColumnDefault) else None
        if default is not None and default.is_clause_element:  # would be left out of the CTE unnoticed
            raise TypeError(f"insert_new cannot apply the SQL default of {table.name}.{column.key}: "
                            "give it a server_default")
        columns.append((attr.key, column.key, bool(column.type.should_evaluate_none), default))
    return _RowPlan(table, tuple(mapper.get_property_by_column(c).key for c in mapper.primary_key), tuple(columns))


@functools.lru_cache(maxsize=256)
def _insert_statements(shape: tuple[tuple[Table, tuple[str, ...]], ...], together: bool
                       ) -> list[Insert | Select[Any]]:
    """The statements of `insert_new` for rows of this shape, built once. One single-row INSERT per
    object (SQLAlchemy cannot cache a multi-row VALUES), with bound parameters in place of values:
    each shape compiles once and PostgreSQL prepares it after a few uses."""
    statements = [insert(table).values({column: bindparam(f"p{n}_{c}", type_=table.c[column].type)
                                        for c, column in enumerate(columns)})
                  for n, (table, columns) in enumerate(shape)]
    if together and len(statements) > 1:
        return [select(literal(1)).add_cte(*(s.cte(f"new_{n}") for n, s in enumerate(statements)))]
    return list(statements)


def bulk_insert(session: Session, table: FromClause, rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]],
                *, columns: Sequence[str] | None = None) -> None:
    """Insert many rows at driver speed: COPY on PostgreSQL, executemany on SQLite.

    `rows` are dicts with the same keys in the same order, or, with `columns`, tuples of values in
    that order (cheaper to build). Values go through each column type's bind processing once per
    distinct value object, so time zones, dates and JSON are stored exactly as the ORM would store them.
    """
    if not rows:
        return
    if columns is None:
        columns = list(cast(Mapping[str, Any], rows[0]))
        rows = [tuple(row.values()) for row in cast(Sequence[Mapping[str, Any]], rows)]
    dialect = session.get_bind().dialect
    by_column: list[Sequence[Any]] = list(zip(*cast(Sequence[Sequence[Any]], rows), strict=True))
    if len(by_column) != len(columns):
        raise ValueError(f"rows have {len(by_column)} values for {len(columns)} columns")
    connection = session.connection()
    driver.send_held(connection)  # COPY below is not seen by the engine's events
    raw: Any = connection.connection.dbapi_connection  # the driver's own connection
    for i, column in enumerate(columns):
        processor = table.c[column].type._cached_bind_processor(dialect)
        if processor is not None and not isinstance(table.c[column].type, LargeBinary):
            convert = _json_as_text(processor, raw) if dialect.name == "postgresql" else processor
            by_column[i] = _convert(by_column[i], convert)
    prepared = list(zip(*by_column, strict=True))
    name = str(getattr(table, "name", ""))
    names = ", ".join(f'"{c}"' for c in columns)
    if dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f'COPY "{name}" ({names}) FROM STDIN') as copy:
            for values in prepared:
                copy.write_row(values)
        return
    marks = ", ".join("?" for _ in columns)
    cursor = raw.cursor()
    try:
        cursor.executemany(f'INSERT INTO "{name}" ({names}) VALUES ({marks})', prepared)  # noqa: S608
    finally:
        cursor.close()


def _convert(values: Sequence[Any], processor: Callable[[Any], Any]) -> list[Any]:
    """`processor` applied to each value, once per distinct object (the rows keep every value alive
    for the whole call, so an id() is never reused meanwhile); None stays None."""
    done: dict[int, Any] = {}
    out: list[Any] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        key = id(value)
        if key not in done:
            done[key] = processor(value)
        out.append(done[key])
    return out


def _json_as_text(processor: Callable[[Any], Any], raw: Any) -> Callable[[Any], Any]:
    """For COPY: a psycopg JSON wrapper is rendered to its text by psycopg's own dumper here, once
    per distinct value, rather than again for every row (COPY's text format carries JSON as text)."""
    from psycopg.types.json import Json, Jsonb

    def process(value: Any) -> Any:
        value = processor(value)
        return driver.json_text(raw, value) if isinstance(value, Json | Jsonb) else value

    return process
