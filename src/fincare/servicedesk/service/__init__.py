"""Service-desk rules, by topic: `intake` (validate and open), `work` (access, replies, status,
assignment, the statutory deadline), `queries` (lists, queues, timelines) on the shared `rules`.

Callers use this package as one module: ``from fincare.servicedesk import service``.
"""

from fincare.servicedesk.service.coding import CODE_VERSION, add_code, code_complaint, is_coded, list_codes
from fincare.servicedesk.service.intake import Intake, Opened, open_ticket, parse_intake
from fincare.servicedesk.service.queries import (
    clocks,
    clocks_by_ticket,
    list_events,
    list_tickets,
    my_queue,
    unassigned_queue,
)
from fincare.servicedesk.service.rules import (
    MAX_BODY,
    MAX_DESCRIPTION,
    MAX_REASON,
    MAX_SUBJECT,
    SUBJECT,
    add_event,
    may_work,
    refresh_due,
)
from fincare.servicedesk.service.work import (
    REPLY_TARGETS,
    TRANSITIONS,
    Offered,
    access_ticket,
    add_message,
    assign,
    extend_deadline,
    list_messages,
    may_extend,
    may_hand_over,
    may_take,
    next_statuses,
    offered,
    raise_priority,
    transition,
)

__all__ = [
    "CODE_VERSION",
    "MAX_BODY",
    "MAX_DESCRIPTION",
    "MAX_REASON",
    "MAX_SUBJECT",
    "REPLY_TARGETS",
    "SUBJECT",
    "TRANSITIONS",
    "Intake",
    "Offered",
    "Opened",
    "access_ticket",
    "add_code",
    "add_event",
    "add_message",
    "assign",
    "clocks",
    "clocks_by_ticket",
    "code_complaint",
    "extend_deadline",
    "is_coded",
    "list_codes",
    "list_events",
    "list_messages",
    "list_tickets",
    "may_extend",
    "may_hand_over",
    "may_take",
    "may_work",
    "my_queue",
    "next_statuses",
    "offered",
    "open_ticket",
    "parse_intake",
    "raise_priority",
    "refresh_due",
    "transition",
    "unassigned_queue",
]
