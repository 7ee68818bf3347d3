"""Staff personas for tests: accounts with a known password and API token."""

from __future__ import annotations

from dataclasses import dataclass

from fincare.platform.accounts import service
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM, Role

PASSWORD = "correct-horse-battery"


@dataclass(frozen=True)
class Staff:
    id: int
    username: str
    token: str
    password: str
    roles: tuple[Role, ...]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_staff(username: str, *roles: Role, department: str | None = "customer_service",
               totp: bool = False) -> Staff:
    """A staff account with `PASSWORD` (no forced change) and an API token."""
    with unit_of_work() as session:
        new = service.create_account(session, actor=SYSTEM, username=username, roles=list(roles),
                                     department_code=department, password=PASSWORD)
        if totp:
            service.provision_totp(session, account=new.account, actor=SYSTEM)
        return Staff(new.account.id, new.account.username, new.api_token, PASSWORD, roles)


def totp_code(username: str) -> str:
    with unit_of_work() as session:
        account = service.get_account_by_username(session, username)
        assert account is not None
        return service.current_totp_code(account)
