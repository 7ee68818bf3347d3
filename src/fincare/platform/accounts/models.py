"""Account tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fincare.platform.db import Base


class Department(Base):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))


class StaffAccount(Base):
    __tablename__ = "staff_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(default=True)
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed, see service.totp_aad
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    totp_last_step: Mapped[int | None]  # a code is accepted once: replay protection
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]

    roles: Mapped[list[AccountRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    department: Mapped[Department | None] = relationship(lazy="joined")

    @property
    def role_names(self) -> list[str]:
        return sorted(r.role for r in self.roles)


class AccountRole(Base):
    __tablename__ = "account_role"

    account_id: Mapped[int] = mapped_column(ForeignKey("staff_account.id", ondelete="CASCADE"),
                                            primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # shown in lists so people can tell tokens apart
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebSession(Base):
    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_account.id", ondelete="CASCADE"), index=True)
    second_factor_done: Mapped[bool] = mapped_column(default=False)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    source_ip: Mapped[str | None] = mapped_column(String(64))

