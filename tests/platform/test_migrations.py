"""Models and migrations describe the same schema, on SQLite and on PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from fincare.platform.db import Base
from fincare.platform.migrations import current_revision, head_revision


def test_the_migrated_schema_matches_the_models(db: Engine) -> None:
    with db.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_the_database_is_at_the_head_revision(db: Engine) -> None:
    assert current_revision(db) == head_revision()


def test_reference_data_is_seeded(db: Engine) -> None:
    with db.connect() as connection:
        codes = set(connection.execute(text("SELECT code FROM department")).scalars())
    assert codes == {"customer_service", "security_office", "it", "marketing", "hr", "compliance", "management"}


def test_sqlite_runs_with_wal_and_foreign_keys(db: Engine) -> None:
    if db.dialect.name != "sqlite":
        assert "audit_entry" in inspect(db).get_table_names()
        return
    with db.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
