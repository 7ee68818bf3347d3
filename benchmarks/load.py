"""HTTP load with wrk: requests/s, p50/p99 latency and errors for one endpoint under N keep-alive connections.

wrk (C, epoll) rather than a Python client, so on this 2-core machine the driver costs little next to the
server it measures. The Lua script (load.lua) sets method, headers and body, makes every `{{n}}` in the
body a number unique across the run (no server can answer a repeated request from a cache or a dedupe),
counts non-2xx answers and prints its summary as one JSON line, so nothing depends on wrk's text layout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("load.lua")
MARKER = "WRK_JSON "


def _wrk(method: str, url: str, headers: dict[str, str], body: str, connections: int, duration_s: int,
         threads: int, timeout_s: int) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: run `make bench-tools`")
    threads = max(1, min(threads, connections))
    header_args = [part for name, value in headers.items() for part in (name, value)]
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", f"--timeout={timeout_s}s", "--latency",
               "-s", str(SCRIPT), url, "--", str(threads), method, body, *header_args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + timeout_s + 30, check=False)
    line = next((line for line in result.stdout.splitlines() if line.startswith(MARKER)), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    raw: dict[str, Any] = json.loads(line[len(MARKER):])
    socket_errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    seconds = raw["duration_us"] / 1e6
    return {"requests_per_s": round(raw["requests"] / seconds, 1) if seconds else 0.0,
            "p50_ms": round(raw["p50_us"] / 1000, 2), "p99_ms": round(raw["p99_us"] / 1000, 2),
            "max_ms": round(raw["max_us"] / 1000, 2),
            "errors": raw["non_2xx"] + socket_errors, "requests": raw["requests"],
            "non_2xx": raw["non_2xx"], "socket_errors": socket_errors, "connections": connections,
            "duration_s": round(seconds, 2)}


def post_load(url: str, *, headers: dict[str, str], body: str, connections: int = 16, duration_s: int = 20,
              threads: int = 2, timeout_s: int = 10) -> dict[str, Any]:
    """POSTs `body` (a static JSON string; each `{{n}}` becomes a per-request unique number) for `duration_s`.

    Returns requests_per_s, p50_ms, p99_ms, max_ms, errors (non-2xx + socket errors incl. timeouts),
    requests, and the errors split out. Latency percentiles cover completed requests; a timed-out one
    counts as an error.
    """
    return _wrk("POST", url, headers, body, connections, duration_s, threads, timeout_s)


def get_load(url: str, *, headers: dict[str, str] | None = None, connections: int = 16, duration_s: int = 20,
             threads: int = 2, timeout_s: int = 10) -> dict[str, Any]:
    """GETs `url` for `duration_s`; same figures as `post_load`."""
    return _wrk("GET", url, headers or {}, "", connections, duration_s, threads, timeout_s)
