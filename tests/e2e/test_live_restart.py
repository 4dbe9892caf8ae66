"""kill -9 a live-detection process mid-stream, restart it from its checkpoint: the same results.

The driver (tests/e2e/_live_driver.py) feeds simulated batches to a
checkpointed LiveDetector writing to a SQLite store. It is killed with
SIGKILL after at least two checkpoints and before the end, restarted, and the
results in the store must equal those of a detector that never stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from backend.analytics.live import LiveDetector
from backend.analytics.store import SQLiteMetricStore

from ._live_driver import batches

ROOT = Path(__file__).resolve().parents[2]
BATCH = 30

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


def start(db: Path, *extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e._live_driver", "--db", str(db), "--batch", str(BATCH), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(300, proc.kill)  # never hang the suite
    watchdog.daemon = True
    watchdog.start()
    return proc


def test_killed_and_restarted_detector_gives_the_uninterrupted_results(tmp_path: Path) -> None:
    inputs = batches(BATCH)
    reference = LiveDetector("zscore")
    expected = [r for rows in inputs for r in reference.ingest(rows)] + reference.flush()
    assert any(r.is_anomalous for r in expected)

    db = tmp_path / "live.db"
    first = start(db, "--delay", "0.05")
    assert first.stdout is not None
    assert first.stdout.readline().strip() == "resumed at None"
    killed_after = None
    previous = 0
    for line in first.stdout:
        _, index, _, count = line.split()
        # Kill after the second checkpoint, at a batch that did not checkpoint: its results are in the
        # store but not covered by the checkpoint, so the restart must replay it.
        if int(count) >= 2 and int(count) == previous:
            killed_after = int(index)
            os.kill(first.pid, signal.SIGKILL)
            break
        previous = int(count)
    assert first.wait(timeout=60) == -signal.SIGKILL
    assert killed_after is not None and killed_after < len(inputs) - 1, "the driver ended before the kill"

    second = start(db)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    lines = out.splitlines()
    resumed = lines[0].split()[-1]
    assert resumed != "None" and int(resumed) < killed_after  # from the checkpoint, not from zero
    assert lines[1] == f"batch {int(resumed) + 1} checkpoints {lines[1].split()[-1]}"
    assert lines[-1] == "done"

    with SQLiteMetricStore(db) as store:
        stored = [
            r for tenant in ("tenant-1", "tenant-2") for r in store.read_results(tenant, engine="zscore")
        ]
    assert sorted(stored, key=repr) == sorted(expected, key=repr)
