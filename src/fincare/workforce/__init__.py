"""Workforce: who may be routed what, and when — product skills, weekly shifts and availability.

Owns StaffSkill, ShiftPattern (a weekly working window in the institution's time zone) and
Availability (present or away, as an agent sets it or a supervisor overrides it). The service desk
asks `on_duty` and `skills_of` when it routes a ticket; it never reads these tables itself.

A staff member with no shift pattern works whenever available (a 24×7 centre need not enter
one); with patterns, only inside them.
"""
