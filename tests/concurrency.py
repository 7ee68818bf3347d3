"""Two transactions in a known order on PostgreSQL, without guessing with sleeps how long one takes."""

from __future__ import annotations

import time

from sqlalchemy import Engine, text


def wait_for_a_lock_wait(db: Engine) -> None:
    """Return once some session of the test database waits for a lock (another's uncommitted row)."""
    with db.connect() as connection:
        for _ in range(600):
            waiting = connection.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                              "AND datname = current_database()")).scalar_one()
            connection.rollback()  # a transaction sees one snapshot of pg_stat_activity: each look is its own
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("no session ever waited for a lock")
