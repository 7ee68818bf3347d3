"""`fincare serve`: the HTTP server processes.

With several workers the parent listens, accepts each connection and hands it to the workers in
turn, passing its file descriptor over a Unix socket (what Node's cluster module does on Linux).
Letting the kernel spread connections instead splits a handful of long-lived keep-alive
connections unevenly: with SO_REUSEPORT each connection is hashed to a process, and 16 connections
from a proxy or a load balancer often land 10 and 6, so every request on the busier process waits
behind more others; on one shared socket (what `uvicorn --workers` does) an idle event loop accepts
a whole burst at once and one process serves them all. A process gets connections only once it has
said its app is up (the parent starts accepting when all first processes have), so none waits on a
process that dies while starting; one that is stopping refuses them and the next takes them; when
no process can take one, it waits in the parent and new ones wait in the kernel's backlog. The
parent also supervises: it restarts a worker that dies and stops them all on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import collections
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
from typing import Any, cast

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from fincare.platform.config import get_settings

log = logging.getLogger("fincare.serve")
QUICK_DEATH_SECONDS = 10.0
MAX_QUICK_DEATHS = 3
ACCEPTS_PER_PASS = 256
READY = b"r"  # a server process to the parent: its app has started


class WorkerCrashed(RuntimeError):
    """The server processes cannot stay up."""


def _config(host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config("fincare.app:serve_app", factory=True, host=host, port=port, proxy_headers=True,
                          forwarded_allow_ips=get_settings().forwarded_allow_ips, log_config=None,
                          server_header=False, http=OneSendHttp)


class OneSend:
    """A connection's transport whose writes in one turn of the event loop go out in one send.

    uvicorn writes an answer's head and its body as they come, two sends and two packets for
    every answer, each a system call here and a wake-up for the client; held until the turn ends,
    they go together (on uvloop one `writev`, without copying). Once `MAX_HELD` bytes are held they
    go at once, so a streamed download is neither kept in memory nor kept from the transport's
    flow control. Everything else is the transport's own."""

    MAX_HELD = 64 * 1024

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)
        self._size += len(data)
        if self._size >= self.MAX_HELD:
            self.flush()

    def flush(self) -> None:
        """Send what is held now."""
        if self._held:
            held, self._held, self._size = self._held, [], 0
            if not self._transport.is_closing():  # the client left meanwhile: nobody to send it to
                self._transport.writelines(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneSendHttp(HttpToolsProtocol):
    """uvicorn's HTTP protocol (httptools), each answer in one send (`OneSend`)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.held = OneSend(cast(asyncio.Transport, transport), self.loop)  # a transport in all but its class
        super().connection_made(cast(asyncio.Transport, self.held))

    def eof_received(self) -> None:
        # the client sent its last request and closed its side: the transport closes once what it has
        # is sent, so an answer still held must be in it by then
        self.held.flush()
        super().eof_received()


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
        self._protocol: Callable[[], asyncio.Protocol] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # no listening socket of its own
        loop = asyncio.get_running_loop()
        config = self.config

        def protocol() -> asyncio.Protocol:  # what uvicorn makes for a connection it accepts itself
            made: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=loop)
            return made

        self._protocol = protocol
        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._receive)
        self.channel.send(READY)  # the app is up: the parent may hand this process connections now

    def _receive(self) -> bool:
        """Open the connection(s) of one message from the parent; False when none was waiting."""
        try:
            message, fds, _flags, _address = socket.recv_fds(self.channel, 1, 8)
        except BlockingIOError:
            return False
        if not message and not fds:  # the parent is gone: finish what is in flight and stop
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
            self.should_exit = True
            return False
        assert self._protocol is not None
        for fd in fds:
            connection = socket.socket(fileno=fd)
            connection.setblocking(False)
            task = asyncio.get_running_loop().create_task(
                asyncio.get_running_loop().connect_accepted_socket(self._protocol, connection))
            self._opening.add(task)
            task.add_done_callback(self._opened)
        return True

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
        while self._protocol is not None and self._receive():  # what was queued: served, never reset
            pass
        if self._opening:
            await asyncio.wait(set(self._opening))
        await super().shutdown(sockets)


def _worker(host: str, port: int, channel: socket.socket) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop; it sends SIGTERM
    HandedConnections(_config(host, port), channel).run()


@dataclass
class _Worker:
    """A server process, the parent's end of the socket its connections are sent over, and whether it
    has said it is ready for them."""

    process: BaseProcess
    channel: socket.socket
    started: float
    ready: bool = False


class _Dispatcher:
    """The parent's side: accept, hand each connection to the next ready process, supervise."""

    def __init__(self, host: str, port: int, workers: int) -> None:
        self.listener = _listen(host, port)  # fails here, with one clear error, if anyone listens there already
        self.listener.setblocking(False)
        self.host, self.port = host, port
        self.context = multiprocessing.get_context("spawn")
        self.selector = selectors.DefaultSelector()
        self.accepting = False
        self.opened = False  # every first process is ready: from then on, any ready process will do
        # accepted, but no process could take it yet (none ready, or all behind): it waits here
        self.waiting: collections.deque[socket.socket] = collections.deque()
        self.turn = 0
        self.running = [self._start() for _ in range(workers)]

    def _start(self) -> _Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)  # one message per connection
        try:
            process = self.context.Process(target=_worker, args=(self.host, self.port, theirs), name="fincare-http")
            process.start()
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)  # a worker that stops reading must not stall the others' connections
        worker = _Worker(process, ours, time.monotonic())
        self.selector.register(ours, selectors.EVENT_READ, worker)
        return worker

    def replace(self, n: int) -> None:
        """Start a process in place of `running[n]`, which has exited."""
        with contextlib.suppress(KeyError):  # unless its end was already heard
            self.selector.unregister(self.running[n].channel)
        self.running[n].channel.close()
        self.running[n] = self._start()

    def pass_once(self, stopping: Callable[[], bool]) -> None:
        """Wait up to half a second for connections and messages and deal with them."""
        # the first connections wait for every process, else they would all go to the first one up
        self.opened = self.opened or all(w.ready for w in self.running)
        self._watch_listener(self.opened and any(w.ready for w in self.running) and not self.waiting)
        for key, _events in self.selector.select(timeout=0.05 if self.waiting else 0.5):
            if key.fileobj is self.listener:
                self._accept(stopping)
            else:
                self._hear(key.data)
        while self.waiting and self._hand(self.waiting[0]):
            self.waiting.popleft().close()  # the process has its own copy now

    def _watch_listener(self, accepting: bool) -> None:
        # left unwatched, a pending connection waits in the kernel's backlog, not in a busy loop here
        if accepting and not self.accepting:
            self.selector.register(self.listener, selectors.EVENT_READ)
        elif self.accepting and not accepting:
            self.selector.unregister(self.listener)
        self.accepting = accepting

    def _accept(self, stopping: Callable[[], bool]) -> None:
        for _ in range(ACCEPTS_PER_PASS):  # then look after the processes, even under a flood
            if stopping() or self.waiting:
                return
            try:
                connection, _address = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors: the rest wait in the backlog
                log.warning("cannot accept a connection: %s", exc)
                time.sleep(0.1)  # the listener stays readable: do not spin on it
                return
            if self._hand(connection):
                connection.close()  # the process has its own copy now
            else:
                self.waiting.append(connection)

    def _hear(self, worker: _Worker) -> None:
        try:
            message = worker.channel.recv(16)
        except BlockingIOError:
            return
        except OSError:
            message = b""
        if message:
            worker.ready = worker.ready or READY in message
        else:  # the process has exited: no more connections for it until the supervisor replaces it
            worker.ready = False
            self.selector.unregister(worker.channel)

    def _hand(self, connection: socket.socket) -> bool:
        """Send `connection` to the next ready process that takes it; False if none does."""
        for _ in self.running:
            worker = self.running[self.turn % len(self.running)]
            self.turn += 1
            if not worker.ready:
                continue
            try:
                socket.send_fds(worker.channel, [b"c"], [connection.fileno()])
                return True
            except BlockingIOError:  # not keeping up: the next one
                continue
            except OSError:  # stopping or gone: no more connections for it
                worker.ready = False
        return False

    def close(self) -> None:
        """Stop accepting, let every process finish what it has, and wait for them."""
        self.selector.close()
        self.listener.close()
        for connection in self.waiting:
            connection.close()
        for worker in self.running:
            if worker.process.is_alive():
                worker.process.terminate()  # uvicorn finishes the requests in flight on SIGTERM
        for worker in self.running:
            worker.process.join(timeout=30)
            worker.channel.close()


def serve(*, host: str, port: int, workers: int) -> None:
    """Serve console and API on `host:port` with `workers` processes until stopped."""
    if workers <= 1:
        listening = _listen(host, port)  # a port in use is an OSError here, before the app starts, said in one line
        uvicorn.Server(_config(host, port)).run(sockets=[listening])
        return
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    dispatcher = _Dispatcher(host, port, workers)
    handlers = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    log.info("serving on http://%s:%s with %s processes", host, port, workers)
    quick_deaths = 0
    try:
        while not stopping:
            dispatcher.pass_once(lambda: stopping)
            for n, worker in enumerate(dispatcher.running):
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
                dispatcher.replace(n)
    finally:
        dispatcher.close()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
