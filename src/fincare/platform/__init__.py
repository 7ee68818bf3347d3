"""Platform layer: what every domain stands on and which knows no domain.

Settings, database and unit of work, clock, crypto, staff accounts and permissions, the
tamper-evident audit trail, the job outbox, notifications, errors, i18n and the web shell.
"""
