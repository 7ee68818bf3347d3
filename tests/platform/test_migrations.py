"""Models and migrations describe the same schema, on SQLite and on PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.schema import CreateIndex

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


def test_every_index_is_the_one_the_models_define(db: Engine) -> None:
    """Alembic's comparison does not look at an index's WHERE clause (partial indexes) and, on SQLite,
    at little else: each model index is built again under another name and the database's own
    definitions of the two must read the same."""
    differ = []
    with db.connect() as connection, connection.begin() as transaction:
        for table in Base.metadata.sorted_tables:
            for index in table.indexes:
                assert index.name is not None
                ddl = str(CreateIndex(index).compile(dialect=db.dialect))
                connection.execute(text(ddl.replace(index.name, "zz_model_copy", 1)))
                migrated, modelled = (_definition(connection, name).replace(name, "<index>")
                                      for name in (index.name, "zz_model_copy"))
                if migrated != modelled:
                    differ.append(f"{index.name}: migrated {migrated!r}, models {modelled!r}")
                connection.execute(text("DROP INDEX zz_model_copy"))
        transaction.rollback()
    assert differ == []


def _definition(connection: Connection, name: str) -> str:
    query = ("SELECT indexdef FROM pg_indexes WHERE indexname = :name" if connection.dialect.name == "postgresql"
             else "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name")
    found = connection.execute(text(query), {"name": name}).scalar_one_or_none()
    return " ".join(str(found).replace('"', "").lower().split())
