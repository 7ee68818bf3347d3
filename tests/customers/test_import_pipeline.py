"""The import's parallel pipeline: blocks of the file parse as `csv.DictReader` would, each database
encoding stores what the ORM would, and a batch prepared under a retired key is redone."""

from __future__ import annotations

import csv
import io
import json
import random
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from fincare.customers import importer, service
from fincare.customers.import_rows import Encoding, encoding_for
from fincare.customers.models import Customer, CustomerCard
from fincare.platform import keys
from fincare.platform.db import unit_of_work
from fincare.platform.errors import Invalid
from fincare.platform.permissions import SYSTEM
from tests.customers.test_import import row, write_csv
from tests.factories import customers as make
from tests.platform.test_cli import fincare

TRICKY = (
    "\ufeffexternal_id,kind,name,address,tags\r\n"
    'E1,individual,"张 三","北京市\r\n朝阳区 ""一"" 号",a;b\r\n'
    "\r\n"
    'E2,individual,李四,"多\n行\r\n地址,有逗号",\r\n'
    "E3,individual,王五,上海,x,extra cell\r\n"
    "E4,individual\r\n"
    'E5,individual,"赵\u2028六",杭州,"t1;""t2"""\r\n'
    "E6,individual,钱七,广州,\r\n"
)


def dict_reader_rows(text: str) -> list[importer.Row]:
    """What the import read before blocks: csv.DictReader over the whole file, then `normalise_row`."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    return [(reader.line_num, importer.normalise_row(r)) for r in reader]


@pytest.mark.parametrize("lines", [1, 2, 3, 1000])
def test_blocks_parse_exactly_like_a_dict_reader(lines: int) -> None:
    source = importer.read_rows(io.StringIO(TRICKY.removeprefix("\ufeff"), newline=""))
    blocks = list(source.blocks(lines))
    assert [r for block in blocks for r in block.rows()] == dict_reader_rows(TRICKY)
    assert all(block.text.endswith("\n") for block in blocks)  # never cut inside a record


def test_a_header_naming_a_column_twice_is_refused() -> None:
    with pytest.raises(Invalid) as refused:
        importer.read_rows(io.StringIO("kind,name,kind\nindividual,张三,individual\n"))
    assert refused.value.field == "kind"


UNENDED = (
    "external_id,kind,name,phone\r\n"
    'E1,individual,"张 三",13800138000\r\n'
    'E2,individual,"李\r\n四",13800138001\r\n'  # lines 3–4: a quoted line break, as it may be
    'fz-unt,individual,"王五,13800138002\r\n'  # line 5: the quote is never closed
    "E4,individual,赵六,13800138003\r\n"
)


@pytest.mark.parametrize("lines", [1, 2, 3, 1000])
@pytest.mark.parametrize("rest", [
    "E5,individual,钱七,13800138004\r\n",  # the open cell would run to the end of the file
    'E5,individual,"钱七",13800138004\r\n',  # the next quote would "close" it, then more text follows
])
def test_a_quoted_cell_that_never_ends_is_an_error_naming_the_line_it_starts_on(lines: int, rest: str) -> None:
    source = importer.read_rows(io.StringIO(UNENDED + rest, newline=""))
    with pytest.raises(csv.Error, match=r"^line 5: a quoted cell starts on this line"):
        [r for block in source.blocks(lines) for r in block.rows()]  # read to the end


def test_a_quoted_cell_left_open_in_the_header_names_line_1() -> None:
    with pytest.raises(csv.Error, match=r"^line 1: a quoted cell"):
        importer.read_rows(io.StringIO('kind,"name\nindividual,张三\n', newline=""))


@pytest.mark.parametrize("options", [(), ("--batch", "2", "--workers", "1"), ("--batch", "2", "--workers", "0")])
def test_a_quoted_cell_that_never_ends_imports_nothing_of_the_file(db: Engine, tmp_path: Path,
                                                                   options: tuple[str, ...]) -> None:
    path = write_csv(tmp_path / "in.csv", [row(n) for n in range(4)])  # lines 2–5
    with path.open("a", encoding="utf-8", newline="") as out:
        out.write('fz-unt,individual,"张三,,,13800138000\r\n')  # line 6
        csv.writer(out).writerows([list(row(n).values()) for n in range(4, 9)])
    result = fincare("import", "customers", str(path), *options, "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "not a readable UTF-8 CSV: line 6: a quoted cell starts on this line" in result.stderr
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(Customer.id)).first() is None  # not even the rows before it


def test_errors_in_blocks_name_the_last_line_of_their_record(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(TRICKY.encode())  # BOM, CRLF, quoted line breaks, a blank line, an extra and a short row
    result = fincare("import", "customers", str(path), "--skip-bad-rows", "--batch", "2", "--workers", "1",
                     "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) | {"error_report": None} == {
        "rows": 6, "created": 4, "updated": 0, "errors": 2, "error_report": None, "imported": True}
    errors = (tmp_path / "in.csv.errors.csv").read_text().splitlines()[1:]
    assert [e.split(",")[:2] for e in errors] == [["8", "(row)"], ["9", "name"]]
    with unit_of_work(read_only=True) as session:
        tags = dict(session.execute(select(Customer.external_id, Customer.tags)).all())
    assert tags == {"E1": ["a", "b"], "E2": [], "E5": ['"t2"', "t1"], "E6": []}


def stored(engine: Engine) -> list[dict[str, Any]]:
    """Every customer and card as read back, without the ids the database chose."""
    with engine.connect() as connection:
        customers = connection.execute(select(Customer.__table__).order_by(Customer.id)).mappings().all()
        cards = connection.execute(select(CustomerCard.__table__).order_by(CustomerCard.id)).mappings().all()
    return ([{k: v for k, v in c.items() if k != "id"} for c in customers]
            + [{k: v for k, v in c.items() if k not in ("id", "customer_id")} for c in cards])


class SameRandomness:
    """The same "random" uids and nonces for every batch, so that two preparations compare equal."""

    def __init__(self) -> None:
        self._rng = random.Random(7)

    def take(self, size: int) -> bytes:
        return self._rng.randbytes(size)


def test_each_encoding_stores_exactly_what_the_orm_path_stores(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "_Random", SameRandomness)
    rows = [(n + 2, importer.normalise_row(r)) for n, r in enumerate(
        [row(1), row(2, kind="enterprise", id_number="", credit_code=make.credit_code(), tags="甲;b"),
         row(3, email="", cards="", risk_tolerance="", risk_assessed_on="", service_lines="", tags="")])]
    now = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
    with unit_of_work() as session:
        sealer, fast = keys.sealer(session), encoding_for(session)
    assert fast != Encoding.VALUES
    results = []
    for encoding in (Encoding.VALUES, fast):
        prepared = importer.prepare_batch(rows, sealer, now, encoding)
        assert not prepared.errors
        with unit_of_work() as session:
            importer.import_batch(session, actor=SYSTEM, rows=rows, totals=importer.ImportTotals(),
                                  prepared=prepared)
        results.append(stored(db))
        with unit_of_work() as session:
            session.execute(CustomerCard.__table__.delete())
            session.execute(Customer.__table__.delete())
    by_orm, by_fast = results
    assert by_fast == by_orm
    assert len(by_orm) == 3 + 2 + 2  # three customers, two cards each but the last
    assert by_orm[0]["created_at"] == now and by_orm[0]["risk_assessed_on"] == date(2026, 1, 15)
    assert by_orm[1]["tags"] == ["b", "甲"] and by_orm[2]["service_lines"] == []


def test_a_batch_prepared_before_a_rotation_is_prepared_again_under_the_new_key(db: Engine) -> None:
    rows = [(2, importer.normalise_row(row(1)))]
    with unit_of_work() as session:
        sealer, encoding = keys.sealer(session), encoding_for(session)
    prepared = importer.prepare_batch(rows, sealer, datetime.now(UTC), encoding)
    with unit_of_work() as session:
        new_version = keys.begin_rotation(session)
    assert new_version != sealer.version
    with unit_of_work() as session:
        importer.import_batch(session, actor=SYSTEM, rows=rows, totals=importer.ImportTotals(), prepared=prepared)
    with unit_of_work(read_only=True) as session:
        customer = session.execute(select(Customer)).scalar_one()
        assert customer.key_version == new_version
        assert keys.version_of(customer.phone_enc or b"") == new_version
        assert keys.decrypt(session, customer.phone_enc or b"", table="customer", column="phone_enc",
                            uid=customer.uid) == rows[0][1]["phone"]
        assert all(card.key_version == new_version for card in customer.cards)


def test_a_csv_error_in_a_worker_stops_the_import_before_any_later_batch(db: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [row(n) for n in range(6)])
    with path.open("a", encoding="utf-8") as out:  # an unquoted cell beyond the csv module's field limit
        out.write("E-huge,individual,张三," + "x" * 200_000 + "\n")
        out.write(",".join(row(99).values()) + "\n")
    result = fincare("import", "customers", str(path), "--skip-bad-rows", "--batch", "2", "--workers", "1",
                     "--json")
    assert result.returncode == 1
    assert "not a readable UTF-8 CSV" in result.stderr
    with unit_of_work(read_only=True) as session:
        imported = set(session.execute(select(Customer.external_id)).scalars())
    assert imported == {f"EXT-{n}" for n in range(6)}  # the batches before it, none after


def test_several_workers_write_the_blocks_in_file_order(db: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [row(n) for n in range(40)])
    result = fincare("import", "customers", str(path), "--batch", "3", "--workers", "3", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["created"] == 40
    with unit_of_work(read_only=True) as session:
        in_id_order = list(session.execute(select(Customer.external_id).order_by(Customer.id)).scalars())
    assert in_id_order == [f"EXT-{n}" for n in range(40)]


@pytest.mark.parametrize(("cores", "server", "sqlite"), [(None, 1, 1), (1, 1, 1), (2, 2, 1), (3, 3, 2), (64, 4, 4)])
def test_the_default_is_a_worker_per_core_and_sqlite_leaves_one_to_the_writer(
        monkeypatch: pytest.MonkeyPatch, cores: int | None, server: int, sqlite: int) -> None:
    monkeypatch.setattr(importer.os, "cpu_count", lambda: cores)
    assert importer.MAX_DEFAULT_WORKERS == 4
    assert importer.default_workers(Encoding.COPY_BINARY) == importer.default_workers(Encoding.VALUES) == server
    assert importer.default_workers(Encoding.SQLITE) == sqlite


def test_uids_tell_when_their_row_was_made_so_later_rows_sort_after(db: Engine, tmp_path: Path) -> None:
    with unit_of_work() as session:
        older = service.create_customer(session, actor=SYSTEM, data=service.parse_customer(
            importer.normalise_row(row(999)))).uid
    path = write_csv(tmp_path / "in.csv", [row(n) for n in range(30)])
    result = fincare("import", "customers", str(path), "--batch", "4", "--workers", "2", "--json")
    assert result.returncode == 0, result.stderr
    with unit_of_work(read_only=True) as session:
        imported = session.execute(select(Customer).where(Customer.external_id != "EXT-999")
                                   .order_by(Customer.id)).scalars().all()
        uids = [customer.uid for customer in imported]
        assert all(customer.uid[:keys.UID_TIME] == keys.uid_prefix(customer.created_at) for customer in imported)
        assert all(card.uid[:keys.UID_TIME] == customer.uid[:keys.UID_TIME]
                   for customer in imported for card in customer.cards)
    assert len(set(uids)) == 30 and all(len(uid) == 16 for uid in uids)
    # in file order, batch after batch (rows of one batch share their time; the rest is random)
    assert [uid[:keys.UID_TIME] for uid in uids] == sorted(uid[:keys.UID_TIME] for uid in uids)
    assert older[:keys.UID_TIME] <= uids[0][:keys.UID_TIME]


def test_an_import_on_sqlite_leaves_its_rows_in_the_database_file_not_only_in_the_wal(
        db: Engine, tmp_path: Path) -> None:
    if db.dialect.name != "sqlite":
        pytest.skip("the write-ahead log checkpoint is SQLite's")
    path = write_csv(tmp_path / "in.csv", [row(n) for n in range(30)])
    result = fincare("import", "customers", str(path), "--skip-bad-rows", "--batch", "4", "--json")
    assert result.returncode == 0, result.stderr
    # the database file alone, as if the WAL were gone: the import ran its last checkpoint itself
    main_file = sqlite3.connect(f"file:{db.url.database}?immutable=1", uri=True)
    try:
        assert main_file.execute("SELECT count(*) FROM customer").fetchone()[0] == 30
    finally:
        main_file.close()
