"""Customers (客户信息): records with protected personal data, consent, and the PIPL rights desk.

Owns Customer, CustomerCard, Consent, RightsRequest and the per-staff view counters. Personal
fields are encrypted per field (`platform.keys`), found through keyed blind indexes and shown
masked (`138****5678`); a permitted role reveals one field with a stated reason, and every view
and reveal is an audited read. Investor risk tolerance (C1–C5, 适当性) is kept apart from the
JR/T 0171-2020 sensitivity grade (C1–C3) of each personal field.
"""
