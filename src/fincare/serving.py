"""`fincare serve`: the HTTP server processes.

With several workers the parent listens, accepts each connection and hands it to the workers in
turn, passing its file descriptor over a Unix socket (what Node's cluster module does on Linux).
Letting the kernel spread connections instead splits a handful of long-lived keep-alive
connections unevenly: with SO_REUSEPORT each connection is hashed to a process, and 16 connections
from a proxy or a load balancer often land 10 and 6, so every request on the busier process waits
behind more others; on one shared socket (what `uvicorn --workers` does) an idle event loop accepts
a whole burst at once and one process serves them all. The parent also supervises: it restarts a
worker that dies and stops them all on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import selectors
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

from fincare.platform.config import get_settings

log = logging.getLogger("fincare.serve")
QUICK_DEATH_SECONDS = 10.0
MAX_QUICK_DEATHS = 3
ACCEPTS_PER_PASS = 256


class WorkerCrashed(RuntimeError):
    """The server processes cannot stay up."""


def _config(host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config("fincare.app:serve_app", factory=True, host=host, port=port, proxy_headers=True,
                          forwarded_allow_ips=get_settings().forwarded_allow_ips, log_config=None,
                          server_header=False)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


class HandedConnections(uvicorn.Server):
    """A uvicorn server that does not listen: it serves the connections the parent sends over `channel`."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel
        self._opening: set[asyncio.Task[object]] = set()
        self._take: Callable[[], None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # no listening socket of its own
        loop = asyncio.get_running_loop()
        config = self.config

        def protocol() -> asyncio.Protocol:  # what uvicorn makes for a connection it accepts itself
            made: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=loop)
            return made

        def take() -> None:
            try:
                message, fds, _flags, _address = socket.recv_fds(self.channel, 1, 8)
            except BlockingIOError:
                return
            if not message and not fds:  # the parent is gone: finish what is in flight and stop
                loop.remove_reader(self.channel.fileno())
                self.should_exit = True
                return
            for fd in fds:
                self._open(loop, protocol, fd)

        self._take = take
        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), take)

    def _open(self, loop: asyncio.AbstractEventLoop, protocol: Callable[[], asyncio.Protocol], fd: int) -> None:
        connection = socket.socket(fileno=fd)
        connection.setblocking(False)
        task = loop.create_task(loop.connect_accepted_socket(protocol, connection))
        self._opening.add(task)
        task.add_done_callback(self._opened)

    def _opened(self, task: asyncio.Task[object]) -> None:
        self._opening.discard(task)
        if not task.cancelled() and task.exception() is not None:  # the client left before it was served
            log.info("a handed connection could not be opened: %s", task.exception())

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop taking connections (the parent then hands them to the other processes), open the ones
        already sent, and let uvicorn finish them all, as it does for connections it accepted itself."""
        with contextlib.suppress(ValueError, OSError):  # already removed when the parent went away
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
        with contextlib.suppress(OSError):
            self.channel.shutdown(socket.SHUT_RD)  # the parent's next send to this process fails at once
        if self._take is not None:
            while True:  # what was queued before the shutdown: served, never reset
                before = len(self._opening)
                self._take()
                if len(self._opening) == before:
                    break
        if self._opening:
            await asyncio.wait(set(self._opening))
        await super().shutdown(sockets)


def _worker(host: str, port: int, channel: socket.socket) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop; it sends SIGTERM
    HandedConnections(_config(host, port), channel).run()


@dataclass
class _Worker:
    """A server process and the parent's end of the socket its connections are sent over."""

    process: BaseProcess
    channel: socket.socket
    started: float


def serve(*, host: str, port: int, workers: int) -> None:
    """Serve console and API on `host:port` with `workers` processes until stopped."""
    if workers <= 1:
        uvicorn.Server(_config(host, port)).run()
        return
    listener = _listen(host, port)  # fails here, with one clear error, if anyone listens there already
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> _Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)  # one message per connection
        try:
            process = context.Process(target=_worker, args=(host, port, theirs), name="fincare-http")
            process.start()
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)  # a worker that stops reading must not stall the others' connections
        return _Worker(process, ours, time.monotonic())

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    handlers = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    running = [start() for _ in range(workers)]
    log.info("serving on http://%s:%s with %s processes", host, port, workers)
    turn = 0

    def hand(connection: socket.socket) -> None:
        nonlocal turn
        for _ in running:
            worker = running[turn % len(running)]
            turn += 1
            try:
                socket.send_fds(worker.channel, [b"c"], [connection.fileno()])
                return
            except OSError:  # that process is gone or not keeping up: the next one
                continue
        log.warning("no server process could take a connection; it was closed")

    selector = selectors.DefaultSelector()
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ)
    quick_deaths = 0
    try:
        while not stopping:
            if selector.select(timeout=0.5):
                for _ in range(ACCEPTS_PER_PASS):  # then look after the processes, even under a flood
                    if stopping:
                        break
                    try:
                        connection, _address = listener.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as exc:  # out of file descriptors: the rest wait in the backlog
                        log.warning("cannot accept a connection: %s", exc)
                        time.sleep(0.1)  # the listener stays readable: do not spin on it
                        break
                    with connection:  # the worker has its own copy now
                        hand(connection)
            for n, worker in enumerate(running):
                if worker.process.is_alive() or stopping:
                    continue
                # a worker that cannot even start (bad settings, database gone) would be restarted
                # forever: after a few deaths within seconds of starting, give up and say so
                quick_deaths = quick_deaths + 1 if time.monotonic() - worker.started < QUICK_DEATH_SECONDS else 0
                if quick_deaths >= MAX_QUICK_DEATHS:
                    raise WorkerCrashed("server processes keep exiting at start "
                                        f"(last exit code {worker.process.exitcode})")
                log.warning("server process %s exited with %s; starting another", worker.process.pid,
                            worker.process.exitcode)
                worker.channel.close()
                running[n] = start()
    finally:
        selector.close()
        listener.close()
        for worker in running:
            if worker.process.is_alive():
                worker.process.terminate()  # uvicorn finishes the requests in flight on SIGTERM
        for worker in running:
            worker.process.join(timeout=30)
            worker.channel.close()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
