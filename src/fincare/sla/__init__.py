"""SLA clocks (服务时限) for any subject: tickets now, incidents and follow-ups later.

Owns SlaPolicy (versioned targets selected by kind × priority × risk grade × channel), Clock and
ClockEvent, and the statutory complaint clock of 《银行业保险业消费投诉处理管理办法》: 15 calendar
days from receipt, extendable to 30 and then 60 days, each extension approved by a supervisor-level
role, recorded with its reason and announced to the complainant (an enqueued notice). Clocks run on
24×7 or business calendars (`calendar.py`), pause while waiting for the customer, warn at 80 % and
are marked breached, once, by the sweep.
"""
