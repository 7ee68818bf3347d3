"""Service desk: consultations (咨询), complaints (投诉) and feedback (反馈) from every channel.

Owns Ticket, TicketMessage (a customer-visible reply or an internal note) and TicketEvent (the
timeline: every change is an event row plus an audit entry, in one transaction). Clocks belong to
`sla`: a ticket starts its clocks on intake, pauses them while waiting for the customer, meets the
first-response / feedback targets with its first public reply and the resolution and statutory
targets when it is resolved. `Ticket.next_due_at` caches the earliest unmet due time so queues sort
by time-to-breach through an index.

Lifecycle: new → open → pending_customer ⇄ open → resolved → closed; a resolved or closed ticket
may be reopened (status `reopened`, worked like `open`). Complaints carry a risk grade (low /
medium / high); those forwarded by the regulator (12378 hotline) arrive on the channel
`regulator_transfer` and are marked as such.

Glossary: 首问负责制 first-contact responsibility — the creator of a ticket owns it until it is
handed over; 12378 — the regulator's consumer hotline; 法定时限 — the statutory 15/30/60-day
decision deadline of a complaint.
"""
