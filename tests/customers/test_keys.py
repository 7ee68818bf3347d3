"""Key rotation: online, resumable after kill -9, and the old key destroyed only when unused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from fincare.customers import service
from fincare.customers.models import Customer, CustomerCard
from fincare.platform import keys
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM
from tests.factories import customers as make


def seed(n: int, start: int = 0) -> list[dict[str, object]]:
    bodies = [make.individual(external_id=f"K-{i}") for i in range(start, start + n)]
    with unit_of_work() as session:
        for body in bodies:
            service.create_customer(session, actor=SYSTEM, data=service.parse_customer(body))
    return bodies


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9999, 1, 1)),
       st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9999, 1, 1)))
def test_a_uid_made_later_never_sorts_before_one_made_earlier(one: datetime, other: datetime) -> None:
    earlier, later = sorted((one.replace(tzinfo=UTC), other.replace(tzinfo=UTC)))
    assert keys.uid_prefix(earlier) <= keys.uid_prefix(later)
    assert len(keys.uid_prefix(earlier)) == keys.UID_TIME


def test_new_uids_are_unique_and_begin_with_the_time() -> None:
    before = keys.uid_prefix(datetime.now(UTC))
    uids = [keys.new_uid() for _ in range(1000)]
    assert len(set(uids)) == 1000 and all(len(uid) == 16 for uid in uids)
    assert all(before <= uid[:keys.UID_TIME] <= keys.uid_prefix(datetime.now(UTC)) for uid in uids)


def test_a_customer_s_uids_begin_with_its_creation_time_on_the_institution_s_clock(
        db: Engine, frozen_clock: object) -> None:
    with unit_of_work() as session:
        customer = service.create_customer(session, actor=SYSTEM, data=service.parse_customer(make.individual()))
        assert customer.cards
        assert customer.uid[:keys.UID_TIME] == keys.uid_prefix(customer.created_at)
        assert all(card.uid[:keys.UID_TIME] == keys.uid_prefix(customer.created_at) for card in customer.cards)


def versions_in_use() -> set[int]:
    with unit_of_work(read_only=True) as session:
        return set(session.execute(select(Customer.key_version).distinct()).scalars()) | set(
            session.execute(select(CustomerCard.key_version).distinct()).scalars())


def all_decrypt(bodies: list[dict[str, object]]) -> bool:
    keys.keyring.forget()
    with unit_of_work(read_only=True) as session:
        for body in bodies:
            customer = session.execute(select(Customer).where(Customer.external_id == body["external_id"])).scalar_one()
            clear = service.decrypt_all(session, customer)
            if clear["phone"] != body["phone"] or clear["cards"] != body["cards"] or clear["name"] != body["name"]:
                return False
    return True


def test_rotation_reencrypts_everything_and_retires_the_old_key(db: Engine) -> None:
    bodies = seed(30)
    assert versions_in_use() == {1}
    result = keys.rotate(batch=7)
    assert result.version == 2 and result.reencrypted == 60 and result.retired == [1]
    assert versions_in_use() == {2}
    assert all_decrypt(bodies)
    with unit_of_work(read_only=True) as session:
        states = {k.version: (k.state, k.wrapped is None) for k in keys.key_versions(session)}
    assert states == {1: ("retired", True), 2: ("active", False)}


def test_writes_during_a_rotation_are_not_lost(db: Engine) -> None:
    bodies = seed(10)
    with unit_of_work() as session:
        target = keys.begin_rotation(session)
    bodies += seed(5, start=100)  # written after the switch: straight under the new version
    with unit_of_work() as session:
        moved, after = keys.reencrypt_batch(session, keys.encrypted_tables()[0], target, limit=3)
    assert moved == 3 and after is not None
    result = keys.rotate(batch=4)  # resumes towards the same version
    assert result.version == target
    assert versions_in_use() == {target}
    assert all_decrypt(bodies)


def test_a_rotation_killed_mid_way_finishes_on_the_next_run(db: Engine) -> None:
    bodies = seed(1500)
    child = subprocess.Popen([sys.executable, "-m", "fincare", "keys", "rotate", "--batch", "5", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    deadline = time.monotonic() + 60
    while True:
        with unit_of_work(read_only=True) as session:
            moved = session.execute(select(func.count()).select_from(Customer)
                                    .where(Customer.key_version == 2)).scalar_one()
        if moved >= 20:
            break
        assert child.poll() is None and time.monotonic() < deadline, "the rotation ended before it was killed"
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert versions_in_use() == {1, 2}  # interrupted half-way: both in use, nothing retired
    assert all_decrypt(bodies)
    rerun = subprocess.run([sys.executable, "-m", "fincare", "keys", "rotate", "--json"], capture_output=True,
                           text=True, env=os.environ.copy(), timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["version"] == 2  # the same target, not a third version
    assert versions_in_use() == {2}
    assert all_decrypt(bodies)


def test_an_edit_during_a_rotation_moves_the_fields_it_did_not_touch(db: Engine) -> None:
    bodies = seed(3)
    with unit_of_work() as session:
        target = keys.begin_rotation(session)
    with unit_of_work() as session:  # change only the phone of the first customer
        customer = session.execute(select(Customer).where(Customer.external_id == "K-0")).scalar_one()
        service.update_customer(session, actor=SYSTEM, customer=customer,
                                data=service.parse_customer({"phone": "13700001111"}, partial=True))
    bodies[0]["phone"] = "13700001111"
    result = keys.rotate(batch=2)
    assert result.version == target and result.retired == [1]
    assert all_decrypt(bodies)


OTHER_KEY = "".join(f"{b:02x}" for b in range(101, 133))  # well formed, but not this database's key


def test_another_master_key_is_refused_before_anything_changes(db: Engine, tmp_path: Path) -> None:
    bodies = seed(3)
    wrong = {**os.environ, "FINCARE_MASTER_KEY": OTHER_KEY}
    for command in (["keys", "rotate"], ["worker"], ["serve", "--port", "1"]):
        refused = subprocess.run([sys.executable, "-m", "fincare", *command], capture_output=True, text=True,
                                 env=wrong, timeout=120, check=False)
        assert refused.returncode != 0, command
        assert "does not open data key version 1" in refused.stderr and "Traceback" not in refused.stderr, \
            refused.stderr
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text("external_id,kind,name,phone\nK-new,individual,张三,13812345678\n", encoding="utf-8")
    imported = subprocess.run([sys.executable, "-m", "fincare", "import", "customers", str(csv_file)],
                              capture_output=True, text=True, env=wrong, timeout=120, check=False)
    assert imported.returncode != 0 and "does not open data key" in imported.stderr, imported.stderr
    with unit_of_work(read_only=True) as session:
        states = {k.version: k.state for k in keys.key_versions(session)}
        assert session.execute(select(func.count()).select_from(Customer)).scalar_one() == 3
    assert states == {1: "active"}  # no version wrapped under the wrong key, none set retiring
    assert keys.rotate().version == 2  # the right key rotates as before
    assert all_decrypt(bodies)
