"""Job outbox and worker (任务队列).

`enqueue(session, event, **payload)` stores one job per subscribed handler in the caller's
transaction, so work that must follow a change is committed with it or not at all. `@on(event)`
subscribes a handler, `@scheduled(every=...)` declares periodic work; both are found through the
registry. Workers claim due jobs with ``FOR UPDATE SKIP LOCKED`` and a lease: a job whose worker
died is taken up again when its lease expires. A handler runs in the same transaction that marks
its job done, with the row locked by its lease holder, so its effects are committed exactly once. Failures are
retried with exponential backoff and parked after `max_attempts`, their error kept for admins.
Handlers take ids, not objects, and must be idempotent.
"""

from fincare.platform.jobs.registry import on, scheduled
from fincare.platform.jobs.service import enqueue, enqueue_many, list_jobs, retry_job
from fincare.platform.jobs.worker import Worker

__all__ = ["Worker", "enqueue", "enqueue_many", "list_jobs", "on", "retry_job", "scheduled"]
