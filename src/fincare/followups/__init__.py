"""Follow-up commitments (回访) and satisfaction surveys.

Owns FollowUp (a call-back task with its own `sla` clock), FollowUpAttempt (each call and its
result), FollowUpRule (which customers get periodic follow-ups: key customers quarterly, customers
flagged for high-risk sales monthly), and the survey tables.

A complaint resolved on the service desk (event `servicedesk.ticket_resolved`) gets exactly one
follow-up per resolution, due in 3 business days (policy `followup`, editable like any SLA policy),
routed to the follow-up agent on duty with the fewest open follow-ups. Outcomes: reached and
satisfied; reached and dissatisfied (the reason is recorded and the complaint reopened or sent for
review, 核查); unreachable (three attempts on three different days, then closed as unreachable);
refused.

Glossary: 回访 follow-up call; 回访满意率 follow-up satisfaction — satisfied ÷ reached.
"""
