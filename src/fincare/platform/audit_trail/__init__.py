"""Tamper-evident audit trail (审计留痕).

Every change made through a service, and every read of personal data, appends an `AuditEntry` in
the caller's transaction. Entries are then *sealed* into one hash chain, in commit order, by the
sealer (a worker job; `verify` seals first too): each entry gets the next sequence number and
``hash = HMAC-SHA256(previous hash ‖ canonical entry)`` under a key derived from the master key
(so a database-only attacker cannot forge a consistent chain). Appending never waits for other
writers, so the chain stays valid and fast with many concurrent writers; database triggers refuse to update a
sealed entry or delete any entry, and `verify` names the first entry that was edited, deleted,
inserted or reordered behind the application's back.
"""

from fincare.platform.audit_trail.service import (
    VerifyResult,
    list_entries,
    new_entry,
    record,
    seal_pending,
    verify,
)

__all__ = ["VerifyResult", "list_entries", "new_entry", "record", "seal_pending", "verify"]
