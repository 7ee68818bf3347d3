"""`fincare serve`: the HTTP server processes.

With several workers each process binds its own listening socket to the same address with
SO_REUSEPORT, so the kernel spreads incoming connections across them. On one shared socket (what
`uvicorn --workers` does) an idle event loop accepts a whole burst of keep-alive connections at
once: one process ends up serving them all while the others wait. The parent only supervises:
it restarts a worker that dies and stops them all on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

from fincare.platform.config import get_settings

log = logging.getLogger("fincare.serve")
QUICK_DEATH_SECONDS = 10.0
MAX_QUICK_DEATHS = 3


class WorkerCrashed(RuntimeError):
    """The server processes cannot stay up."""


def _config(host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config("fincare.app:serve_app", factory=True, host=host, port=port, proxy_headers=True,
                          forwarded_allow_ips=get_settings().forwarded_allow_ips, log_config=None,
                          server_header=False)


def _listen(host: str, port: int, *, shared: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop; it sends SIGTERM
    sock = _listen(host, port)
    uvicorn.Server(_config(host, port)).run(sockets=[sock])


def serve(*, host: str, port: int, workers: int) -> None:
    """Serve console and API on `host:port` with `workers` processes until stopped."""
    if workers <= 1:
        uvicorn.Server(_config(host, port)).run()
        return
    # without SO_REUSEPORT this bind fails if anyone listens there already, even another FinCare:
    # fail here with one clear error rather than silently share the port
    _listen(host, port, shared=False).close()
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> BaseProcess:
        process = context.Process(target=_worker, args=(host, port), name="fincare-http")
        process.start()
        return process

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    handlers = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    processes = [(start(), time.monotonic()) for _ in range(workers)]
    log.info("serving on http://%s:%s with %s processes", host, port, workers)
    quick_deaths = 0
    try:
        while not stopping:
            time.sleep(0.5)
            for n, (process, started) in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                # a worker that cannot even start (bad settings, database gone) would be restarted
                # forever: after a few deaths within seconds of starting, give up and say so
                quick_deaths = quick_deaths + 1 if time.monotonic() - started < QUICK_DEATH_SECONDS else 0
                if quick_deaths >= MAX_QUICK_DEATHS:
                    raise WorkerCrashed(f"server processes keep exiting at start (last exit code {process.exitcode})")
                log.warning("server process %s exited with %s; starting another", process.pid, process.exitcode)
                processes[n] = (start(), time.monotonic())
    finally:
        for process, _ in processes:
            if process.is_alive():
                process.terminate()  # uvicorn finishes the requests in flight on SIGTERM
        for process, _ in processes:
            process.join(timeout=30)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
