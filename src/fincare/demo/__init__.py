"""The synthetic institution behind `fincare demo`: deterministic, reused when it exists.

Staff of every role in their departments, each signing in with the demo password, and customers
with valid (synthetic) identifiers. Tickets and the rest are added as their domains are built.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from fincare.customers import importer
from fincare.customers import service as customers_service
from fincare.demo.people import synthetic_customer
from fincare.platform.accounts import service as accounts
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM, TWO_FACTOR_REQUIRED, Principal, Role

DEMO_PASSWORD = "fincare-demo"

STAFF: tuple[tuple[str, str, Role, str], ...] = (
    ("agent_li", "李娜", Role.AGENT, "customer_service"),
    ("specialist_chen", "陈静", Role.COMPLAINT_SPECIALIST, "customer_service"),
    ("followup_zhou", "周敏", Role.FOLLOWUP_AGENT, "customer_service"),
    ("supervisor_wang", "王强", Role.SUPERVISOR, "customer_service"),
    ("security_sun", "孙磊", Role.SECURITY_OFFICER, "security_office"),
    ("compliance_qian", "钱芳", Role.COMPLIANCE_OFFICER, "compliance"),
    ("marketing_wu", "吴婷", Role.MARKETING, "marketing"),
    ("hr_zheng", "郑丽", Role.HR, "hr"),
    ("exec_feng", "冯伟", Role.EXECUTIVE, "management"),
    ("auditor_zhao", "赵敏", Role.AUDITOR, "compliance"),
    ("admin", "系统管理员", Role.ADMIN, "it"),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    roles: list[str]
    two_factor: bool


def ensure_demo(*, customers: int = 10_000, months: int = 12, seed: int = 7) -> list[DemoLogin]:
    """Create whatever part of the demo institution is missing; return the logins to print."""
    logins = []
    with unit_of_work() as session:
        for username, name, role, department in STAFF:
            account = accounts.get_account_by_username(session, username)
            if account is None:
                account = accounts.create_account(session, actor=SYSTEM, username=username, roles=[role],
                                                  department_code=department, display_name=name,
                                                  password=DEMO_PASSWORD).account
                if role in TWO_FACTOR_REQUIRED:
                    accounts.provision_totp(session, account=account, actor=SYSTEM)
            logins.append(DemoLogin(username=username, password=DEMO_PASSWORD, roles=account.role_names,
                                    two_factor=account.totp_enabled))
        existing = customers_service.count_customers(session)
    _ensure_customers(existing, customers, seed)
    return logins


def _ensure_customers(existing: int, wanted: int, seed: int) -> None:
    """Add customers up to `wanted`, in batches, through the importer's bulk path."""
    rng = random.Random(seed)
    actor = Principal(account_id=None, username="demo")
    for start in range(existing, wanted, 2000):
        rows = [(n + 1, importer.normalise_row(synthetic_customer(rng, n)))
                for n in range(start, min(start + 2000, wanted))]
        with unit_of_work() as session:
            importer.import_batch(session, actor=actor, rows=rows, totals=importer.ImportTotals())
