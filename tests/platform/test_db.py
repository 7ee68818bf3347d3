"""Writing new rows in one round trip: ids for several tables at once, and rows of several tables
in one statement, stored exactly as the session's unit of work would store them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, select, text

from fincare.platform import audit_trail, driver
from fincare.platform.audit_trail import new_entry
from fincare.platform.audit_trail.models import AuditEntry
from fincare.platform.db import (
    allocate_id_sets,
    insert_new,
    make_engine,
    new_row,
    number,
    read_with_ids,
    set_engine,
    unit_of_work,
)
from fincare.platform.permissions import SYSTEM
from fincare.sla.models import Clock, ClockEvent

AT = datetime(2026, 10, 12, 1, 30, tzinfo=UTC)


def a_clock(**given: object) -> Clock:
    return Clock(**{"subject_type": "ticket", "subject_id": 7, "target": "resolution", "calendar": "24x7",
                    "budget_seconds": 60, "started_at": AT, "due_at": AT, "warn_at": AT, "state": "running",
                    **given})


def test_ids_for_several_tables_come_in_one_call_and_are_never_handed_out_twice(db: Engine) -> None:
    with unit_of_work() as session:
        first = allocate_id_sets(session, {"sla_clock": 3, "sla_clock_event": 1, "ticket": 0})
        insert_new(session, [a_clock(id=n, subject_id=n) for n in first["sla_clock"]])
    with unit_of_work() as session:
        second = allocate_id_sets(session, {"sla_clock": 2})
    assert [len(first["sla_clock"]), len(first["sla_clock_event"]), first["ticket"]] == [3, 1, []]
    assert first["sla_clock"] == sorted(first["sla_clock"])
    assert min(second["sla_clock"]) > max(first["sla_clock"])


def test_many_ids_at_once_are_as_distinct_and_ordered_as_a_few(db: Engine) -> None:
    with unit_of_work() as session:
        few = allocate_id_sets(session, {"sla_clock": 2, "ticket": 1})
        many = allocate_id_sets(session, {"sla_clock": 40, "ticket": 25})  # beyond one row of calls
    assert [len(many["sla_clock"]), len(many["ticket"])] == [40, 25]
    for table in ("sla_clock", "ticket"):
        assert many[table] == sorted(set(many[table]))
        if db.dialect.name == "postgresql":  # SQLite hands out max(id)+1…: nothing is reserved until inserted
            assert min(many[table]) > max(few[table])


def test_a_row_and_ids_are_read_together_and_no_row_draws_no_ids(db: Engine) -> None:
    query = select(Clock.id, Clock.target).where(Clock.id == bindparam("id"))
    with unit_of_work() as session:
        first = allocate_id_sets(session, {"sla_clock": 1})["sla_clock"][0]
        insert_new(session, [a_clock(id=first)])
        missing, none = read_with_ids(session, query, {"id": first + 1000}, {"sla_clock": 2, "ticket": 1})
        row, ids = read_with_ids(session, query, {"id": first}, {"sla_clock": 2, "ticket": 1, "audit_entry": 0})
    assert missing is None and none == {"sla_clock": [], "ticket": []}
    assert row is not None and (row.id, row.target) == (first, "resolution")
    assert len(ids["ticket"]) == 1 and ids["audit_entry"] == []
    assert len(ids["sla_clock"]) == 2 and ids["sla_clock"] == sorted(ids["sla_clock"]) and first not in ids["sla_clock"]
    if db.dialect.name == "postgresql":  # the missing row drew nothing: the sequence went on from `first`
        assert ids["sla_clock"] == [first + 1, first + 2]


def test_many_ids_come_with_a_row_too(db: Engine) -> None:
    query = select(Clock.id).where(Clock.id == bindparam("id"))
    with unit_of_work() as session:
        first = allocate_id_sets(session, {"sla_clock": 1})["sla_clock"][0]
        insert_new(session, [a_clock(id=first)])
        row, ids = read_with_ids(session, query, {"id": first}, {"sla_clock_event": 40})  # beyond one row of calls
    assert row is not None and row.id == first
    assert len(ids["sla_clock_event"]) == 40 and ids["sla_clock_event"] == sorted(set(ids["sla_clock_event"]))


def test_rows_are_stored_as_the_unit_of_work_stores_them_in_the_order_they_were_made(db: Engine) -> None:
    made = [a_clock(paused_seconds=None)]  # None where the column has a default: the default applies
    made += [ClockEvent(clock_id=0, kind=kind, at=AT, detail={"名": kind}) for kind in ("started", "warned", "met")]
    made.append(new_entry(actor=SYSTEM, action="test.made", subject=("sla_clock", 0), before=None, after={"a": 1}))
    with unit_of_work() as session:
        ids = allocate_id_sets(session, {"sla_clock": 1, "sla_clock_event": 3, "audit_entry": 1})
        number(made, ids)
        insert_new(session, made)
        assert all(obj not in session for obj in made)
    with unit_of_work(read_only=True) as session:
        stored = session.execute(select(Clock)).scalar_one()
        events = session.execute(select(ClockEvent).order_by(ClockEvent.id)).scalars().all()
        entry = session.execute(select(AuditEntry)).scalar_one()
    assert (stored.id, stored.due_at, stored.paused_seconds, stored.extensions) == (ids["sla_clock"][0], AT, 0, 0)
    assert [(e.kind, e.detail, e.actor_id) for e in events] == [
        ("started", {"名": "started"}, None), ("warned", {"名": "warned"}, None), ("met", {"名": "met"}, None)]
    assert (entry.id, entry.after, entry.before) == (ids["audit_entry"][0], {"a": 1}, None)


CLOCK = {"subject_type": "ticket", "subject_id": 7, "target": "resolution", "calendar": "24x7",
         "budget_seconds": 60, "started_at": AT, "due_at": AT, "warn_at": AT, "state": "running"}


def stored_clocks() -> list[tuple[object, ...]]:
    with unit_of_work(read_only=True) as session:
        return [(c.target, c.budget_seconds, c.paused_seconds, c.extensions, c.due_at, c.state, c.policy_id)
                for c in session.execute(select(Clock).order_by(Clock.subject_id)).scalars()]


def test_a_new_row_is_stored_as_the_constructor_s_object_is_by_either_path(db: Engine) -> None:
    made = new_row(Clock, **CLOCK)
    assert (made.target, made.due_at, made.id, made.paused_seconds) == ("resolution", AT, None, None)
    with unit_of_work() as session:  # the session's unit of work: added, flushed, given an id
        added = [new_row(Clock, **{**CLOCK, "subject_id": 1}), Clock(**{**CLOCK, "subject_id": 2})]
        session.add_all(added)
        session.flush()
        assert all(c.id is not None for c in added)
    with unit_of_work() as session:  # insert_new
        rows = [new_row(Clock, **{**CLOCK, "subject_id": 3}), Clock(**{**CLOCK, "subject_id": 4})]
        number(rows, allocate_id_sets(session, {"sla_clock": 2}))
        insert_new(session, rows)
    by_new_row, by_constructor, *inserted = stored_clocks()
    assert by_new_row == by_constructor == inserted[0] == inserted[1]
    assert by_new_row[2:4] == (0, 0)  # column defaults applied on both paths


def test_a_new_row_changed_before_its_flush_is_stored_as_changed(db: Engine) -> None:
    with unit_of_work() as session:
        clock_row = new_row(Clock, **CLOCK)
        session.add(clock_row)
        clock_row.budget_seconds = 120  # an instrumented set on an object made without events
        session.flush()
        clock_row.state = "met"  # and after its flush: an UPDATE, as for any object of the session
        entry = audit_trail.record(session, actor=SYSTEM, action="test.recorded", subject=("sla_clock", 1),
                                   after={"名": "值"})
    with unit_of_work(read_only=True) as session:
        stored = session.execute(select(Clock)).scalar_one()
        recorded = session.get(AuditEntry, entry.id)
    assert (stored.budget_seconds, stored.state) == (120, "met")
    assert recorded is not None and (recorded.before, recorded.after, recorded.action) == (
        None, {"名": "值"}, "test.recorded")


def test_a_new_row_with_an_attribute_that_is_not_a_column_is_refused() -> None:
    with pytest.raises(TypeError, match="no column attribute 'nonsense'"):
        new_row(Clock, **CLOCK, nonsense=1)
    with pytest.raises(TypeError, match="no column attribute"):
        new_row(Clock, **CLOCK, events=[])  # a relationship or anything else but a column


def test_objects_without_their_ids_are_refused_before_anything_is_written(db: Engine) -> None:
    with pytest.raises(ValueError, match="id"), unit_of_work() as session:
        insert_new(session, [ClockEvent(clock_id=1, kind="started", at=AT)])


def test_a_failing_row_writes_none_of_the_others(db: Engine) -> None:
    rows = [ClockEvent(clock_id=1, kind="started", at=AT), ClockEvent(clock_id=1, kind=None, at=AT)]
    with unit_of_work() as session:
        number(rows, allocate_id_sets(session, {"sla_clock_event": 2}))
    with pytest.raises(Exception), unit_of_work() as session:  # noqa: B017, PT011 - the driver's own error
        insert_new(session, rows)  # the second has no kind, which is NOT NULL
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(ClockEvent)).first() is None


def test_a_pooled_connection_that_died_while_idle_is_replaced_before_use(db: Engine,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("a SQLite file has no server to drop a connection")
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from fincare.platform import db as database

    with unit_of_work() as session:
        victim = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(db.url, poolclass=NullPool)
    with admin.begin() as other:  # the server drops the idle pooled connection (restart, proxy timeout)
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
    admin.dispose()
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if idle past the window
    with unit_of_work() as session:
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != victim


def test_bulk_units_that_each_commit_do_so_one_by_one_on_one_connection(db: Engine) -> None:
    from sqlalchemy import text

    from fincare.platform.db import bulk_writes

    with bulk_writes(each_unit_commits=True) as unit:
        with unit() as session:
            session.execute(text("CREATE TEMPORARY TABLE scratch (n integer)"))  # lives as long as the connection
            insert_new(session, [a_clock(id=1)])

        def a_bad_batch() -> None:
            with unit() as session:
                session.execute(text("INSERT INTO scratch (n) VALUES (1)"))
                insert_new(session, [a_clock(id=2, subject_id=2)])
                raise RuntimeError("a bad batch")

        with pytest.raises(RuntimeError):
            a_bad_batch()
        with unit() as session:
            assert session.execute(text("SELECT count(*) FROM scratch")).scalar_one() == 0
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(Clock.id)).scalars().all() == [1]


def test_bulk_units_all_or_nothing_share_one_transaction(db: Engine) -> None:
    from fincare.platform.db import bulk_writes

    with bulk_writes(each_unit_commits=False) as unit:
        with unit() as session:
            insert_new(session, [a_clock(id=1)])
        with unit() as session:  # sees the first unit's row: the same transaction, not yet committed
            assert session.get(Clock, 1) is not None
            insert_new(session, [a_clock(id=2, subject_id=2)])
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(Clock.id).order_by(Clock.id)).scalars().all() == [1, 2]

    def an_aborted_job() -> None:
        with bulk_writes(each_unit_commits=False) as unit:
            with unit() as session:
                insert_new(session, [a_clock(id=3, subject_id=3)])
            raise RuntimeError("a bad row later in the file")

    with pytest.raises(RuntimeError):
        an_aborted_job()
    with unit_of_work(read_only=True) as session:  # nothing of the aborted job is left
        assert session.execute(select(Clock.id).order_by(Clock.id)).scalars().all() == [1, 2]


def test_a_bulk_job_on_sqlite_raises_its_connections_limits_and_sets_them_back(db: Engine) -> None:
    if db.dialect.name != "sqlite":
        pytest.skip("page cache and WAL checkpoint threshold are SQLite's")
    from sqlalchemy import event

    from fincare.platform import db as database

    def limits(sqlite_connection: Any) -> tuple[int, int]:
        return (sqlite_connection.execute("PRAGMA cache_size").fetchone()[0],
                sqlite_connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0])

    def own_limits(sqlite_connection: Any, _record: Any, _proxy: Any) -> None:  # not SQLite's defaults
        sqlite_connection.execute("PRAGMA cache_size = -5000")
        sqlite_connection.execute("PRAGMA wal_autocheckpoint = 500")

    def a_job_that_fails(*, connection_lost: bool) -> None:
        with database.bulk_writes(each_unit_commits=False) as unit, unit() as session:
            if connection_lost:  # as SQLAlchemy does when Ctrl-C interrupts a statement
                session.connection().invalidate()
            raise RuntimeError("a bad row")

    bulk = (-database.SQLITE_BULK_CACHE_KIB, database.SQLITE_BULK_CHECKPOINT_PAGES)
    event.listen(db, "checkout", own_limits)
    try:
        with database.bulk_writes(each_unit_commits=True) as unit, unit() as session:
            sqlite_connection = session.connection().connection.driver_connection
            assert limits(sqlite_connection) == bulk
        assert limits(sqlite_connection) == (-5000, 500)  # back in the pool with its own limits
        with pytest.raises(RuntimeError, match="a bad row"):
            a_job_that_fails(connection_lost=False)
        assert limits(sqlite_connection) == (-5000, 500)
        with pytest.raises(RuntimeError, match="a bad row"):  # not a complaint about a closed connection
            a_job_that_fails(connection_lost=True)
    finally:
        event.remove(db, "checkout", own_limits)


def test_a_read_only_unit_of_work_cannot_write_on_postgresql_and_a_writer_s_can(db: Engine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite has no read-only transactions; read-only units there only skip the write lock")
    from sqlalchemy.exc import InternalError

    with pytest.raises(InternalError, match="read-only transaction"), unit_of_work(read_only=True) as session:
        insert_new(session, [a_clock(id=1)])
    with unit_of_work() as session:  # a writer's unit writes
        insert_new(session, [a_clock(id=1)])
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(Clock.id)).scalars().all() == [1]


def test_each_statement_of_a_read_only_unit_on_postgresql_is_a_read_only_transaction_of_its_own(
        db: Engine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite's read-only units are one deferred transaction")
    own = text("SELECT now() = statement_timestamp(), current_setting('transaction_read_only')")
    with unit_of_work(read_only=True) as session:  # no BEGIN before the read: its transaction began with it
        assert tuple(session.execute(own).one()) == (True, "on")
        assert tuple(session.execute(own).one()) == (True, "on")
    with unit_of_work() as session:  # a writer's unit is one transaction, begun before its second statement
        session.execute(text("SELECT 1"))
        assert tuple(session.execute(own).one()) == (False, "off")


def test_read_only_units_keep_the_options_the_database_url_sets(db: Engine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's connection options")
    url = db.url.update_query_dict({"options": "-c statement_timeout=4321"}).render_as_string(hide_password=False)
    set_engine(make_engine(url))
    try:
        with unit_of_work(read_only=True) as session:
            assert session.execute(text("SHOW statement_timeout")).scalar_one() == "4321ms"
            assert session.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
    finally:
        set_engine(db)


# -- the busiest path's statements on the driver's cursor (`platform.driver`): the same rows, values
# and errors as through SQLAlchemy's execute, or SQLAlchemy's execute where the driver cannot


def test_a_duplicate_row_is_sqlalchemys_integrity_error_with_the_values_hidden(db: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    with unit_of_work() as session:
        insert_new(session, [a_clock(id=1)])
    with pytest.raises(IntegrityError) as caught, unit_of_work() as session:
        insert_new(session, [a_clock(id=1, subject_id=8), ClockEvent(id=1, clock_id=1, kind="started", at=AT)])
    assert "parameters hidden" in str(caught.value)  # bound values may be personal: never in a log line
    if db.dialect.name == "postgresql":  # what the API's error handler answers 409 on
        assert caught.value.orig.sqlstate == "23505"  # type: ignore[union-attr]
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(Clock.subject_id)).scalars().all() == [7]
        assert session.execute(select(ClockEvent)).first() is None


def _in_transaction(session: Any) -> bool:
    """Whether the session's PostgreSQL connection has begun a transaction on the server."""
    from psycopg.pq import TransactionStatus

    raw = session.connection().connection.driver_connection
    return bool(raw.info.transaction_status != TransactionStatus.IDLE)


def test_a_read_and_a_write_alone_in_a_unit_run_without_begin_or_commit_on_postgresql(db: Engine) -> None:
    query = select(Clock.id).where(Clock.id == bindparam("id"))
    with unit_of_work() as session:
        insert_new(session, [a_clock(id=1)])
        read_with_ids(session, query, {"id": 1}, {"sla_clock": 1, "sla_clock_event": 1})  # sequences looked up
    with unit_of_work() as session:
        row, ids = read_with_ids(session, query, {"id": 1}, {"sla_clock": 1, "sla_clock_event": 1})
        if db.dialect.name == "postgresql":  # the read ran before any BEGIN; the write waits for the commit
            assert not _in_transaction(session)
        insert_new(session, [a_clock(id=ids["sla_clock"][0], subject_id=8),
                             ClockEvent(id=ids["sla_clock_event"][0], clock_id=ids["sla_clock"][0], kind="started",
                                        at=AT)])
        if db.dialect.name == "postgresql":
            assert not _in_transaction(session)
    assert row.id == 1
    assert [c[0:2] for c in stored_clocks()] == [("resolution", 60)] * 2
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(ClockEvent.clock_id)).scalar_one() == ids["sla_clock"][0]


def test_a_row_is_written_as_it_was_when_inserted_not_as_changed_afterwards(db: Engine) -> None:
    event = ClockEvent(id=1, clock_id=1, kind="started", at=AT, detail={"名": "值"})
    with unit_of_work() as session:
        insert_new(session, [a_clock(id=1), event])
        event.detail["added"] = "later"  # a JSON document is a value: the write has it as it was
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(ClockEvent.detail)).scalar_one() == {"名": "值"}


def test_a_held_write_goes_first_in_the_transaction_of_the_statements_after_it(db: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    def the_same_id_twice() -> None:
        with unit_of_work() as session:
            insert_new(session, [a_clock(id=1)])
            session.add(Clock(**{**CLOCK, "id": 1, "subject_id": 9}))  # refused only if the first is in
            session.flush()

    with pytest.raises(IntegrityError):
        the_same_id_twice()
    assert stored_clocks() == []  # and the refusal took the first write with it
    with unit_of_work() as session:
        insert_new(session, [a_clock(id=1)])
        session.add(ClockEvent(id=1, clock_id=1, kind="started", at=AT))  # its foreign key needs the clock first
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(ClockEvent.clock_id)).scalar_one() == 1


def test_a_unit_that_fails_after_its_held_write_writes_nothing(db: Engine) -> None:
    def failing_after_the_write() -> None:
        with unit_of_work() as session:
            insert_new(session, [a_clock(id=1)])
            raise RuntimeError("the unit's own error")

    with pytest.raises(RuntimeError):
        failing_after_the_write()
    with unit_of_work() as session:  # the connection goes on with no write left over from before
        insert_new(session, [a_clock(id=2, subject_id=8)])
    assert [c[4] for c in stored_clocks()] == [AT]
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(Clock.id)).scalars().all() == [2]


def test_a_held_write_stays_when_a_later_savepoint_rolls_back(db: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    def the_same_id_in_a_savepoint(session: Any) -> None:
        with session.begin_nested():
            session.add(Clock(**{**CLOCK, "id": 1, "subject_id": 9}))
            session.flush()

    with unit_of_work() as session:
        insert_new(session, [a_clock(id=1)])
        with pytest.raises(IntegrityError):
            the_same_id_in_a_savepoint(session)
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(Clock.subject_id)).scalars().all() == [7]


def test_a_held_write_goes_before_a_bulk_insert_of_rows_that_refer_to_it(db: Engine) -> None:
    from fincare.platform.db import bulk_insert

    with unit_of_work() as session:
        insert_new(session, [a_clock(id=1)])
        bulk_insert(session, ClockEvent.__table__, [{"id": n, "clock_id": 1, "kind": "started", "at": AT, "detail": {}}
                                                   for n in (1, 2)])
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(ClockEvent.clock_id)).scalars().all() == [1, 1]


def test_a_new_tickets_statements_run_on_the_driver_on_postgresql(db: Engine) -> None:
    from sqlalchemy import event

    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    query = select(Clock.id, Clock.target).where(Clock.id == bindparam("id"))
    event.listen(db, "before_cursor_execute", note)
    try:
        with unit_of_work() as session:
            insert_new(session, [a_clock(id=1), ClockEvent(id=1, clock_id=1, kind="started", at=AT)])
            row, _ = read_with_ids(session, query, {"id": 1}, {"sla_clock": 1})
    finally:
        event.remove(db, "before_cursor_execute", note)
    assert (row.id, row.target) == (1, "resolution")
    through_sqlalchemy = [s for s in seen if "sla_clock" in s]
    if db.dialect.name == "postgresql":  # engine events do not see them
        assert through_sqlalchemy == []
    else:
        assert any(s.startswith("INSERT INTO sla_clock") for s in through_sqlalchemy)


def test_values_the_driver_cannot_return_as_they_are_come_through_sqlalchemy(db: Engine) -> None:
    from sqlalchemy import text

    query = select(Clock.id, Clock.due_at).where(Clock.id == bindparam("id"))  # a time zone to put back
    assert driver.on_driver(query, db.dialect) is None
    with unit_of_work() as session:
        insert_new(session, [a_clock(id=1)])
        if db.dialect.name == "postgresql":  # the server answers in its session's zone
            session.execute(text("SET LOCAL TimeZone = 'Asia/Shanghai'"))
        row, ids = read_with_ids(session, query, {"id": 1}, {"sla_clock": 1})
    assert row.due_at == AT and row.due_at.tzinfo is UTC
    assert len(ids["sla_clock"]) == 1


def test_a_missing_value_is_refused_before_the_statement_runs_as_sqlalchemy_words_it(db: Engine) -> None:
    from sqlalchemy.exc import StatementError

    query = select(Clock.id, Clock.target).where(Clock.id == bindparam("id"), Clock.subject_id == bindparam("sid"))
    with unit_of_work() as session:
        insert_new(session, [a_clock(id=1)])
        with pytest.raises(StatementError, match="A value is required for bind parameter 'sid'"):
            driver.first_row(session.connection(), query, {"id": 1})
        # nothing reached the server: the transaction goes on (PostgreSQL aborts it on a failed statement)
        assert driver.first_row(session.connection(), query, {"id": 1, "sid": 7}).target == "resolution"


def test_statements_that_need_sqlalchemys_execute_are_refused(db: Engine) -> None:
    if db.dialect.name != "postgresql":
        assert driver.on_driver(select(Clock.id), db.dialect) is None
        return
    plain = select(Clock.id, Clock.target).where(Clock.id == bindparam("id")).limit(1)
    compiled = driver.on_driver(plain, db.dialect)
    assert compiled is not None and set(compiled.fixed.values()) == {1}  # the LIMIT, bound once
    assert driver.on_driver(select(Clock.id).where(Clock.id.in_(bindparam("ids", expanding=True))),
                            db.dialect) is None
    assert driver.on_driver(select(Clock.id).where(Clock.id == bindparam("id", callable_=lambda: 1)),
                            db.dialect) is None
    assert driver.on_driver(select(Clock.id).where(Clock.id == bindparam("the id")), db.dialect) is None
    from sqlalchemy import insert

    every_column = [column.key for column in Clock.__table__.c]
    # a column default computed per run (paused_seconds: 0), a value to convert on the way back
    assert driver.on_driver(insert(Clock.__table__).values(id=bindparam("id")), db.dialect) is None
    assert driver.on_driver(insert(Clock.__table__).values(**{c: bindparam(c) for c in every_column})
                            .returning(Clock.due_at), db.dialect) is None
    assert driver.on_driver(insert(Clock.__table__).values(**{c: bindparam(c) for c in every_column}),
                            db.dialect) is not None


def test_a_connection_lost_mid_transaction_is_invalidated_and_replaced(db: Engine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("a SQLite file has no server to drop a connection")
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.pool import NullPool

    admin = create_engine(db.url, poolclass=NullPool)
    pids = []
    invalidated_before = db.pool._invalidate_time  # the pool's mark: connections older are replaced

    def write_after_the_server_dropped_the_connection() -> None:
        with unit_of_work() as session:
            pids.append(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
            with admin.begin() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pids[0]})
            insert_new(session, [a_clock(id=1)])

    try:
        with pytest.raises(OperationalError) as caught:
            write_after_the_server_dropped_the_connection()
    finally:
        admin.dispose()
    assert caught.value.connection_invalidated
    assert db.pool._invalidate_time > invalidated_before  # the server dropped the pool's others too
    with unit_of_work() as session:  # the pool hands out a live connection
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != pids[0]
        insert_new(session, [a_clock(id=1)])


def test_a_read_runs_before_begin_only_where_each_statement_has_its_own_snapshot(db: Engine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite has no isolation levels to choose")
    import psycopg

    query = select(Clock.id).where(Clock.id == bindparam("id"))
    with unit_of_work() as session:
        read_with_ids(session, query, {"id": 1}, {"sla_clock": 1})  # the sequence looked up once
    with unit_of_work() as session:
        raw = session.connection().connection.driver_connection
        raw.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot for the whole transaction
        try:
            read_with_ids(session, query, {"id": 1}, {"sla_clock": 1})
            assert _in_transaction(session)  # so the read is the transaction's first statement
        finally:
            session.rollback()
            raw.isolation_level = None
