"""`fincare worker`: the background process (SLA sweeps, follow-ups, outbox, publications).

Several may run against one PostgreSQL database; each claims its own jobs.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

from fincare.platform.jobs import Worker
from fincare.registry import load_jobs


def run_worker(stop: threading.Event | None = None, *, name: str | None = None) -> None:
    """Run until SIGTERM/SIGINT (or `stop` is set)."""
    load_jobs()
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    Worker(name=name).run(stop)


def start_in_thread(name: str = "in-process") -> tuple[threading.Thread, threading.Event]:
    """A worker beside the web server (used by `fincare demo`)."""
    load_jobs()
    stop = threading.Event()
    thread = threading.Thread(target=Worker(name=name).run, args=(stop,), name="fincare-worker", daemon=True)
    thread.start()
    return thread, stop
