"""Account request and response bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from fincare.platform.accounts.models import ApiToken, StaffAccount
from fincare.platform.permissions import Role, permissions_of
from fincare.platform.schemas import RequestBody, ResponseBody


class StaffIn(RequestBody):
    username: str = Field(min_length=1, max_length=60)
    roles: list[Role] = Field(min_length=1, max_length=len(Role))
    department: str | None = Field(default=None, max_length=40)
    display_name: str | None = Field(default=None, max_length=80)
    language: str = Field(default="zh-CN", pattern=r"^(zh-CN|en)$")


class StaffRead(ResponseBody):
    id: int
    username: str
    display_name: str
    department: str | None
    roles: list[str]
    active: bool
    two_factor: bool
    locked_until: datetime | None
    last_login_at: datetime | None

    @classmethod
    def of(cls, account: StaffAccount) -> StaffRead:
        return cls(id=account.id, username=account.username, display_name=account.display_name,
                   department=account.department.code if account.department else None,
                   roles=account.role_names, active=account.active, two_factor=account.totp_enabled,
                   locked_until=account.locked_until, last_login_at=account.last_login_at)


class StaffCreated(StaffRead):
    one_time_password: str
    api_token: str


class MeRead(StaffRead):
    permissions: list[str]

    @classmethod
    def of(cls, account: StaffAccount) -> MeRead:
        base = StaffRead.of(account).model_dump()
        perms = permissions_of(frozenset(Role(r) for r in account.role_names))
        return cls(**base, permissions=sorted(perms))


class TokenIn(RequestBody):
    name: str = Field(min_length=1, max_length=80)


class TokenRead(ResponseBody):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenRead:
        return cls.model_validate(token)


class TokenCreated(TokenRead):
    token: str


class DepartmentRead(ResponseBody):
    id: int
    code: str
    name_zh: str
    name_en: str
