"""`fincare serve` supervision: server processes that die are replaced, unless they cannot stay up."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest

from fincare import serving


def exit_at_once(_host: str, _port: int, _channel: socket.socket) -> None:
    """A server process that cannot start (bad settings, a database that is gone)."""
    sys.exit(3)


def die_first_then_serve(_host: str, _port: int, _channel: socket.socket) -> None:
    """The first process dies at start; the second serves; the third (the first's replacement) stops the server."""
    marker = os.open(os.environ["FINCARE_TEST_SERVE_MARKER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(marker, b"x")  # one byte per start: the offset after it says which start this is
    start = os.lseek(marker, 0, os.SEEK_CUR)
    if start == 1:
        sys.exit(3)
    if start == 3:
        os.kill(os.getppid(), signal.SIGTERM)
    time.sleep(60)  # "serving" until the parent stops it


@contextmanager
def at_most(seconds: int) -> Iterator[None]:
    """Fail instead of hanging if the supervisor never returns."""

    def give_up(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"fincare serve still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_processes_that_keep_dying_at_start_stop_the_server_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "_worker", exit_at_once)
    with at_most(60), pytest.raises(serving.WorkerCrashed, match="exit code 3"):
        serving.serve(host="127.0.0.1", port=_free_port(), workers=2)


def test_a_process_that_dies_is_replaced_and_sigterm_stops_them_all(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    monkeypatch.setattr(serving, "_worker", die_first_then_serve)
    monkeypatch.setenv("FINCARE_TEST_SERVE_MARKER", str(tmp_path / "starts"))
    before = signal.getsignal(signal.SIGTERM)
    with at_most(60):
        serving.serve(host="127.0.0.1", port=_free_port(), workers=2)  # returns once stopped
    assert (tmp_path / "starts").read_bytes() == b"xxx"
    assert signal.getsignal(signal.SIGTERM) == before  # the caller's handlers are back


def answer_with_own_pid(_host: str, _port: int, channel: socket.socket) -> None:
    """A server process that answers each connection it is handed with its process id."""
    channel.send(serving.READY)
    while True:
        _message, fds, _flags, _address = socket.recv_fds(channel, 1, 8)
        if not fds:
            return  # the parent is gone
        for fd in fds:
            with socket.socket(fileno=fd) as connection, contextlib.suppress(OSError):  # a probe that left
                connection.sendall(str(os.getpid()).encode())


def _answers(port: int, connections: int, workers: int) -> list[str]:
    """What `connections` clients, one after another, are answered by a server of `workers` processes."""
    served: list[str] = []
    failures: list[BaseException] = []

    def clients() -> None:
        try:
            deadline = time.monotonic() + 30
            while True:  # until the parent listens
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "fincare serve did not listen"
                    time.sleep(0.1)
            for _ in range(connections):
                with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
                    served.append(connection.recv(32).decode())
        except BaseException as exc:  # reported by the test, not lost as a thread warning
            failures.append(exc)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    client = threading.Thread(target=clients)
    client.start()
    with at_most(60):
        serving.serve(host="127.0.0.1", port=port, workers=workers)
    client.join()
    if failures:
        raise failures[0]
    return served


def test_connections_are_handed_to_the_processes_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few long-lived connections (a proxy's keep-alive pool) split evenly, not as a hash falls."""
    monkeypatch.setattr(serving, "_worker", answer_with_own_pid)
    served = _answers(_free_port(), 12, workers=3)
    assert len(served) == 12 and len(set(served)) == 3
    assert sorted(served.count(pid) for pid in set(served)) == [4, 4, 4]


def die_at_first_start_else_answer(host: str, port: int, channel: socket.socket) -> None:
    """The first process exits before its app is up; the others answer with their process id."""
    marker = os.open(os.environ["FINCARE_TEST_SERVE_MARKER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(marker, b"x")
    if os.lseek(marker, 0, os.SEEK_CUR) == 1:
        time.sleep(0.5)  # long enough for the first connections to arrive while it still runs
        sys.exit(3)
    answer_with_own_pid(host, port, channel)


def test_a_process_that_dies_at_start_loses_no_connection(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Connections go only to processes that said they are ready: none waits on one that never will be."""
    monkeypatch.setattr(serving, "_worker", die_at_first_start_else_answer)
    monkeypatch.setenv("FINCARE_TEST_SERVE_MARKER", str(tmp_path / "starts"))
    served = _answers(_free_port(), 6, workers=2)
    assert len(served) == 6 and all(served)  # every connection answered: none was closed unserved
    assert len(set(served)) == 2


class _Transport:
    """What a connection's transport was asked to send, one entry per send."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def writelines(self, parts: list[bytes]) -> None:
        self.sent.append(b"".join(parts))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"the transport's {name}"


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    yield running
    running.close()


def _one_turn(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(asyncio.sleep(0))


def test_an_answer_s_head_and_body_go_out_in_one_send_when_the_turn_ends(loop: asyncio.AbstractEventLoop) -> None:
    transport = _Transport()
    held = serving.OneSend(cast(asyncio.Transport, transport), loop)
    held.write(b"HTTP/1.1 201 Created\r\n\r\n")
    held.write(b'{"id": 1}')
    assert transport.sent == []
    _one_turn(loop)
    assert transport.sent == [b'HTTP/1.1 201 Created\r\n\r\n{"id": 1}']
    held.write(b"next answer")
    held.close()  # nothing held is lost when the connection closes
    assert (transport.sent[-1], transport.closed) == (b"next answer", True)
    assert held.get_extra_info("peername") == "the transport's peername"  # the rest is the transport's
    _one_turn(loop)
    assert len(transport.sent) == 2


def test_a_large_answer_is_not_held_until_the_turn_ends(loop: asyncio.AbstractEventLoop) -> None:
    transport = _Transport()
    held = serving.OneSend(cast(asyncio.Transport, transport), loop)
    held.write(b"head")
    held.write(bytes(serving.OneSend.MAX_HELD))  # a streamed download's chunk: flow control must see it
    assert len(transport.sent) == 1 and len(transport.sent[0]) == 4 + serving.OneSend.MAX_HELD
    transport.closed = True  # the client left: what comes after is dropped, not sent
    held.write(b"tail")
    _one_turn(loop)
    assert len(transport.sent) == 1


async def _hello(scope: dict[str, Any], _receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def test_an_answer_reaches_a_client_that_closed_its_side_after_asking() -> None:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(_hello, host="127.0.0.1", port=port, http=serving.OneSendHttp,
                                           lifespan="off", log_config=None))
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
                connection.sendall(b"GET / HTTP/1.1\r\nHost: fincare\r\n\r\n")
                connection.shutdown(socket.SHUT_WR)  # asked, and nothing more to say
                answer = b""
                while chunk := connection.recv(4096):
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok"), answer
    finally:
        server.should_exit = True
        thread.join(timeout=30)
