"""`make bench`: run every scenario, print its figures, keep them in bench-results/latest.json.

`python -m benchmarks audit_trail` runs one scenario.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

SCENARIOS = ("audit_trail", "job_outbox", "customer_import", "ticket_intake", "servicedesk_scale", "scorecard",
             "demo_generator")


def machine() -> dict[str, object]:
    memory = ""
    with contextlib.suppress(OSError, StopIteration):
        memory = next(line.split(":")[1].strip() for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
    return {"cpus": os.cpu_count(), "memory": memory, "python": platform.python_version(),
            "system": platform.platform(), "date": datetime.now(UTC).isoformat(timespec="seconds")}


def main(argv: list[str]) -> int:
    chosen = argv or list(SCENARIOS)
    results = {"machine": machine(), "results": []}
    print(json.dumps(results["machine"]))
    for name in chosen:
        result = importlib.import_module(f"benchmarks.{name}").run()
        results["results"].append(result)  # type: ignore[attr-defined]
        print(json.dumps(result, ensure_ascii=False))
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
