"""JR/T 0169-2018 coding: every complaint carries a channel, a business-type and a cause code from the
versioned code table before it may close; admins and compliance extend the table with finer codes."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fincare.platform import audit_trail, clock
from fincare.platform.errors import Conflict, Forbidden, Invalid, Label, Message, one_of
from fincare.platform.permissions import Permission, Principal
from fincare.servicedesk.models import CodeDimension, ComplaintCode, Ticket, TicketKind
from fincare.servicedesk.service.rules import add_event, clean_text

CODE_VERSION = "JR/T 0169-2018"  # the table new coding uses
PREFIX = {CodeDimension.CHANNEL: "A", CodeDimension.BUSINESS_TYPE: "B", CodeDimension.CAUSE: "C"}
_CODE = re.compile(r"^[ABC][0-9]{2,8}$")


def list_codes(session: Session, *, dimension: str | None = None,
               include_inactive: bool = False) -> Sequence[ComplaintCode]:
    """The current table, by dimension and code."""
    query = select(ComplaintCode).where(ComplaintCode.version == CODE_VERSION)
    if dimension is not None:
        query = query.where(ComplaintCode.dimension == one_of(CodeDimension, dimension, "dimension"))
    if not include_inactive:
        query = query.where(ComplaintCode.active)
    return session.execute(query.order_by(ComplaintCode.dimension, ComplaintCode.code)).scalars().all()


def add_code(session: Session, *, actor: Principal, dimension: str, code: str, name_zh: str, name_en: str,
             parent_code: str | None = None) -> ComplaintCode:
    """An institution's finer code (e.g. C0301 under C03), marked custom; audited."""
    if not actor.can(Permission.COMPLAINT_CODES_MANAGE):
        raise Forbidden("your role may not change the complaint code table")
    axis = one_of(CodeDimension, dimension, "dimension")
    code = clean_text(code, "code", 10).upper()
    if not _CODE.match(code) or not code.startswith(PREFIX[axis]):
        raise Invalid(Message("a code of this dimension is {prefix} followed by 2 to 8 digits",
                              prefix=PREFIX[axis]), field="code")
    if parent_code is not None and _find(session, axis, parent_code) is None:
        raise Invalid("no such parent code in this dimension", field="parent_code")
    row = ComplaintCode(version=CODE_VERSION, dimension=axis, code=code, name_zh=clean_text(name_zh, "name_zh", 80),
                        name_en=clean_text(name_en, "name_en", 120), parent_code=parent_code, custom=True,
                        active=True)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict("this code exists already", field="code") from None
    audit_trail.record(session, actor=actor, action="complaint_code.added", subject=row,
                       after={"dimension": axis, "code": code, "parent_code": parent_code})
    return row


def _find(session: Session, dimension: CodeDimension, code: str) -> ComplaintCode | None:
    return session.execute(select(ComplaintCode).where(
        ComplaintCode.version == CODE_VERSION, ComplaintCode.dimension == dimension, ComplaintCode.code == code,
        ComplaintCode.active)).scalar_one_or_none()


def code_complaint(session: Session, *, actor: Principal, ticket: Ticket, channel_code: str,
                   business_type_code: str, cause_code: str) -> Ticket:
    """Record (or correct) a complaint's three codes; each must be an active code of its dimension."""
    if ticket.kind != TicketKind.COMPLAINT:
        raise Invalid("only complaints are coded under JR/T 0169-2018", field="ticket_id")
    chosen: dict[str, object] = {}
    for field, dimension, value in (("channel_code", CodeDimension.CHANNEL, channel_code),
                                    ("business_type_code", CodeDimension.BUSINESS_TYPE, business_type_code),
                                    ("cause_code", CodeDimension.CAUSE, cause_code)):
        value = clean_text(value, field, 12).upper()
        if _find(session, dimension, value) is None:
            raise Invalid(Message("not an active {dimension} code of {version}",
                                  dimension=Label("code_dimension", dimension),
                                  version=CODE_VERSION), field=field)
        chosen[field] = value
    before = {"code_version": ticket.code_version, "channel_code": ticket.channel_code,
              "business_type_code": ticket.business_type_code, "cause_code": ticket.cause_code}
    ticket.code_version = CODE_VERSION
    ticket.channel_code = str(chosen["channel_code"])
    ticket.business_type_code = str(chosen["business_type_code"])
    ticket.cause_code = str(chosen["cause_code"])
    ticket.updated_at = clock.now()
    add_event(session, ticket, "coded", actor, version=CODE_VERSION, channel_code=ticket.channel_code,
              business_type_code=ticket.business_type_code, cause_code=ticket.cause_code)
    audit_trail.record(session, actor=actor, action="complaint.coded", subject=ticket, before=before,
                       after={"code_version": CODE_VERSION, **chosen})
    return ticket


def is_coded(ticket: Ticket) -> bool:
    return bool(ticket.channel_code and ticket.business_type_code and ticket.cause_code)
