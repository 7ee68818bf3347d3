"""Service-desk rules, by topic: `intake` (validate and open), `work` (access, replies, status,
assignment), `routing` (queues, skills, load, recusal), `deadline` (statutory extensions),
`resolution` (decision and reply), `review` (核查), `regulator` (reports), `duplicates`, `coding`
(JR/T 0169-2018), `board` (the supervisor's view) and `queries` (lists, queues, timelines) on the
shared `rules`.

Callers use this package as one module: ``from fincare.servicedesk import service``.
"""

from fincare.servicedesk.service.board import Board, board
from fincare.servicedesk.service.coding import CODE_VERSION, add_code, code_complaint, is_coded, list_codes
from fincare.servicedesk.service.deadline import (
    decide_extension,
    extend_deadline,
    may_extend,
    pending_extension,
    pending_extensions,
    request_extension,
)
from fincare.servicedesk.service.duplicates import link_duplicate
from fincare.servicedesk.service.intake import Intake, Opened, open_ticket, parse_intake
from fincare.servicedesk.service.queries import (
    clocks,
    clocks_by_ticket,
    list_events,
    list_tickets,
    my_queue,
    readable_tickets,
    unassigned_queue,
)
from fincare.servicedesk.service.regulator import (
    ReportRow,
    list_reports,
    report_row,
    submit_report,
    to_csv,
    to_xlsx,
)
from fincare.servicedesk.service.resolution import (
    approve_decision,
    decide,
    decisions_of,
    may_approve,
    pending_decision,
    reply_template,
)
from fincare.servicedesk.service.review import (
    assign_reviewer,
    conclude_review,
    request_review,
    reviews_of,
)
from fincare.servicedesk.service.routing import named_in, recused_from, route_waiting
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
    list_messages,
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
    "Board",
    "Intake",
    "Offered",
    "Opened",
    "ReportRow",
    "access_ticket",
    "add_code",
    "add_event",
    "add_message",
    "approve_decision",
    "assign",
    "assign_reviewer",
    "board",
    "clocks",
    "clocks_by_ticket",
    "code_complaint",
    "conclude_review",
    "decide",
    "decide_extension",
    "decisions_of",
    "extend_deadline",
    "is_coded",
    "link_duplicate",
    "list_codes",
    "list_events",
    "list_messages",
    "list_reports",
    "list_tickets",
    "may_approve",
    "may_extend",
    "may_hand_over",
    "may_take",
    "may_work",
    "my_queue",
    "named_in",
    "next_statuses",
    "offered",
    "open_ticket",
    "parse_intake",
    "pending_decision",
    "pending_extension",
    "pending_extensions",
    "raise_priority",
    "readable_tickets",
    "recused_from",
    "refresh_due",
    "reply_template",
    "report_row",
    "request_extension",
    "request_review",
    "reviews_of",
    "route_waiting",
    "submit_report",
    "to_csv",
    "to_xlsx",
    "transition",
    "unassigned_queue",
]
