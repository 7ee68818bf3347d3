"""Valid (checksummed) synthetic identifiers and customers for tests."""

from __future__ import annotations

import random
from typing import Any

from fincare.customers import identity, service
from fincare.customers.models import Customer
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM

_rng = random.Random(20261122)


def resident_id(birth: str = "19850312", region: str = "110105", seq: int | None = None) -> str:
    first17 = f"{region}{birth}{seq if seq is not None else _rng.randint(100, 999):03d}"
    return first17 + identity.resident_id_check_char(first17)


def credit_code() -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    first17 = "91" + "110108" + "".join(_rng.choice(alphabet) for _ in range(9))
    return first17 + identity.credit_code_check_char(first17)


def phone() -> str:
    return f"1{_rng.choice('3456789')}{_rng.randint(0, 999_999_999):09d}"


def card() -> str:
    partial = "622848" + f"{_rng.randint(0, 999_999_999_999):012d}"
    return partial + identity.luhn_check_digit(partial)


def individual(**overrides: Any) -> dict[str, Any]:
    n = _rng.randint(1000, 9999)
    return {"kind": "individual", "name": f"张{'明华伟芳'[n % 4]}{'国英'[n % 2]}", "id_number": resident_id(),
            "phone": phone(), "email": f"user{n}@example.com", "address": f"北京市朝阳区建国路{n}号",
            "cards": [card()], "risk_tolerance": "C3", "branch": "北京分行", "segment": "mass",
            **overrides}


def make_customer(**overrides: Any) -> Customer:
    with unit_of_work() as session:
        return service.create_customer(session, actor=SYSTEM, data=service.parse_customer(individual(**overrides)))
