"""Customer tables. Personal fields are ciphertexts (see `platform.keys`), each with a keyed blind
index for exact lookup where one is needed and a stored mask for lists, so that lists, searches
and exports never decrypt."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fincare.platform import keys
from fincare.platform.db import Base


class CustomerKind(StrEnum):
    INDIVIDUAL = "individual"
    ENTERPRISE = "enterprise"
    INSTITUTIONAL = "institutional"


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    RESTRICTED = "restricted"  # PIPL deletion asked while a legal retention period runs: stored, not processed
    ERASED = "erased"  # personal data destroyed; the anonymous record keeps tickets and statistics whole


class RiskTolerance(StrEnum):
    """Investor risk tolerance (适当性 C1–C5) — not the JR/T 0171 sensitivity grade of a field."""

    C1 = "C1"
    C2 = "C2"
    C3 = "C3"
    C4 = "C4"
    C5 = "C5"


class ServiceLine(StrEnum):
    WEALTH = "wealth_management"
    INVESTMENT = "investment"
    LOANS = "loans"
    INSURANCE = "insurance"
    PAYMENTS = "payments"
    CARDS = "cards"


def customer_reference(customer_id: int) -> str:
    """What people read and quote: CU-00000042."""
    return f"CU-{customer_id:08d}"


class Customer(Base):
    __tablename__ = "customer"
    __table_args__ = (
        Index("ix_customer_list", "status", "id"),
        Index("ix_customer_branch", "branch", "id"),
        # blind indexes hold only the customers that have the field (an organisation has no ID number,
        # most people no credit code): a lookup is an equality, which no NULL matches anyway
        *(Index(f"ix_customer_{column}", column, postgresql_where=text(f"{column} IS NOT NULL"),
                sqlite_where=text(f"{column} IS NOT NULL"))
          for column in ("id_number_lookup", "credit_code_lookup", "phone_lookup", "email_lookup")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True, default=keys.new_uid)  # binds ciphertexts
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=CustomerStatus.ACTIVE)
    key_version: Mapped[int]  # no index: rotation walks the primary key (keys.reencrypt_batch)

    name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    name_mask: Mapped[str] = mapped_column(String(120))
    id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_lookup: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    id_number_mask: Mapped[str | None] = mapped_column(String(24))
    credit_code_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    credit_code_lookup: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    credit_code_mask: Mapped[str | None] = mapped_column(String(24))
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_lookup: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    phone_mask: Mapped[str | None] = mapped_column(String(24))
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_lookup: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    email_mask: Mapped[str | None] = mapped_column(String(260))
    address_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    address_mask: Mapped[str | None] = mapped_column(String(320))

    birth_year: Mapped[int | None]  # from the ID number; enough for age segments without the full date
    gender: Mapped[str | None] = mapped_column(String(8))
    risk_tolerance: Mapped[str | None] = mapped_column(String(2))
    risk_assessed_on: Mapped[date | None]
    risk_expires_on: Mapped[date | None]
    service_lines: Mapped[list[str]] = mapped_column(default=list)
    branch: Mapped[str | None] = mapped_column(String(60))
    segment: Mapped[str | None] = mapped_column(String(60), index=True)
    tags: Mapped[list[str]] = mapped_column(default=list)
    external_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    language: Mapped[str] = mapped_column(String(8), default="zh-CN", server_default="zh-CN")
    relationship_ended_on: Mapped[date | None]  # starts the retention period after which data may go
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    cards: Mapped[list[CustomerCard]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                     order_by="CustomerCard.id")

    @property
    def reference(self) -> str:
        return customer_reference(self.id)


class CustomerCard(Base):
    __tablename__ = "customer_card"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    uid: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True, default=keys.new_uid)
    key_version: Mapped[int]
    number_enc: Mapped[bytes] = mapped_column(LargeBinary)
    number_lookup: Mapped[bytes] = mapped_column(LargeBinary(16), index=True)
    number_mask: Mapped[str] = mapped_column(String(24))


class ConsentPurpose(StrEnum):
    MARKETING = "marketing"
    PERSONALISED_RECOMMENDATIONS = "personalised_recommendations"  # PIPL Art. 24
    THIRD_PARTY_SHARING = "third_party_sharing"
    SURVEYS = "surveys"


class Consent(Base):
    """One consent decision; the latest per purpose is in force."""

    __tablename__ = "customer_consent"
    __table_args__ = (Index("ix_customer_consent_current", "customer_id", "purpose", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(40))
    granted: Mapped[bool]
    channel: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[int | None]


class RightsRequestKind(StrEnum):
    ACCESS = "access"  # access and copy (PIPL Art. 45)
    CORRECTION = "correction"  # Art. 46
    DELETION = "deletion"  # Art. 47
    CONSENT_WITHDRAWAL = "consent_withdrawal"  # Art. 15


class RightsRequestStatus(StrEnum):
    OPEN = "open"
    FULFILLED = "fulfilled"
    RESTRICTED = "restricted"  # deletion asked, retention period running: processing restricted instead
    REFUSED = "refused"


class RightsRequest(Base):
    __tablename__ = "rights_request"
    __table_args__ = (Index("ix_rights_request_open", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), default=RightsRequestStatus.OPEN)
    channel: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime]
    due_at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # never personal values: field names only
    outcome: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]
    handled_by: Mapped[int | None]


class CustomerViewCount(Base):
    """Customer records viewed per staff member per day: the input of access-anomaly flags."""

    __tablename__ = "customer_view_count"

    account_id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    views: Mapped[int] = mapped_column(default=0)


class ErasedExternalId(Base):
    """The keyed digest (blind index) of the external id an erased customer had: an import that meets
    the id again refuses the row instead of re-creating the personal data the customer had erased.
    The id itself is not kept."""

    __tablename__ = "erased_external_id"

    lookup: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    erased_at: Mapped[datetime]


PERSONAL_COLUMNS = ("name_enc", "id_number_enc", "credit_code_enc", "phone_enc", "email_enc", "address_enc")

keys.register(keys.EncryptedTable(Customer, Customer.uid, Customer.key_version, PERSONAL_COLUMNS))
keys.register(keys.EncryptedTable(CustomerCard, CustomerCard.uid, CustomerCard.key_version, ("number_enc",)))
