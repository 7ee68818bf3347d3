"""`fincare serve` supervision: server processes that die are replaced, unless they cannot stay up."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fincare import serving


def exit_at_once(_host: str, _port: int) -> None:
    """A server process that cannot start (bad settings, a database that is gone)."""
    sys.exit(3)


def die_first_then_serve(_host: str, _port: int) -> None:
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
