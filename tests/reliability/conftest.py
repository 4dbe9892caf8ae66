"""The reliability suite's end-of-run summary: what each test measured (kills, batches, queries).

``RELIABILITY_REPORT=path.json`` also writes the figures, with the date, the
machine and the size (short or long), as JSON: RELIABILITY.md quotes them.
"""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import datetime, timezone

import pytest

from tests.reliability import scale

_STARTED = time.monotonic()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not scale.FIGURES:
        return
    terminalreporter.section(f"reliability figures ({'long' if scale.LONG else 'short'} run)")
    for test, figures in sorted(scale.FIGURES.items()):
        shown = ", ".join(f"{k}={v}" for k, v in figures.items())
        terminalreporter.write_line(f"{test}: {shown}")
    path = os.environ.get("RELIABILITY_REPORT")
    if path:
        report = {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "size": "long" if scale.LONG else "short",
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}",
            "session_seconds": round(time.monotonic() - _STARTED, 1),
            "figures": scale.FIGURES,
        }
        with open(path, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2, sort_keys=True, default=str)
