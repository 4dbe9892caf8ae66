"""Tests for verify_phase1.py: it passes on this checkout, and every check can fail.

Each breakage below damages one thing the operator relies on (a module pulling in a
third-party package, validation that lets nan through, a broken plugin, ...) and
asserts that exactly the matching check reports FAIL and the exit code becomes 1.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import verify_phase1 as vp
from backend.analytics import AnomalyType, ExplanationClassifier, SlidingWindowExtractor, types
from backend.analytics.aggregation import AggregationPipeline
from backend.analytics.engines.zscore import ZScoreEngine
from backend.analytics.store import sqlite as sqlite_module

ROOT = Path(__file__).resolve().parents[2]


def test_script_passes_on_this_checkout() -> None:
    """`python verify_phase1.py` exits 0 and prints one PASS line per check plus a summary."""
    proc = subprocess.run(
        [sys.executable, "verify_phase1.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    checks = [line for line in lines if line.startswith(("[PASS]", "[FAIL]"))]
    assert [line.split()[1] for line in checks] == [c.__name__.removeprefix("check_") for c in vp.CHECKS]
    assert all(line.startswith("[PASS]") for line in checks)
    assert lines[-1].startswith(f"{len(vp.CHECKS)}/{len(vp.CHECKS)} checks passed")


def test_only_runs_the_named_checks(capsys: pytest.CaptureFixture[str]) -> None:
    """--only limits the run to the named checks."""
    assert vp.main(["--only", "windows", "--only", "contracts"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("[")] == ["contracts", "windows"]


# -- breakages, one per check -----------------------------------------------------------------


def _third_party_import(mp: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A core module that imports a third-party package (pytest) at import time."""
    pkg = tmp_path / "fakecore"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""Fake core."""\n')
    (pkg / "sub" / "__init__.py").write_text('"""Sub."""\n')
    (pkg / "sub" / "heavy.py").write_text('"""Heavy."""\nimport pytest  # noqa: F401\n')
    mp.setenv("PYTHONPATH", str(tmp_path))
    mp.setattr(vp, "CORE_PACKAGE", "fakecore")


def _module_fails_to_import(mp: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A core module that raises when imported."""
    pkg = tmp_path / "fakecore2"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""Fake core."""\n')
    (pkg / "bad.py").write_text('raise RuntimeError("boom at import")\n')
    mp.setenv("PYTHONPATH", str(tmp_path))
    mp.setattr(vp, "CORE_PACKAGE", "fakecore2")


def _nan_accepted(mp: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Validation that no longer rejects non-finite values."""
    mp.setattr(types, "_check_finite", lambda owner, values: None)


def _last_window_dropped(mp: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A sliding extractor that loses its last window."""
    original = SlidingWindowExtractor.bounds
    mp.setattr(SlidingWindowExtractor, "bounds", lambda self, n: original(self, n)[:-1])


def _broken_plugin(mp: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An installed distribution whose engine entry point cannot be imported."""
    dist = tmp_path / "broken_engine_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-engine-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[backend.analytics.engines]\nbroken_one = no_such_module_for_verify:Engine\n"
    )
    mp.syspath_prepend(str(tmp_path))


def _anomalies_missed(mp: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An engine that never flags anything."""
    original = ZScoreEngine.detect

    def blind(self: ZScoreEngine, series: object) -> object:
        return [
            dataclasses.replace(r, anomaly_score=0.0, anomaly_label=AnomalyType.NORMAL)
            for r in original(self, series)  # type: ignore[arg-type]
        ]

    mp.setattr(ZScoreEngine, "detect", blind)


def _everything_a_spike(mp: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An engine that flags the right windows but labels every anomaly SPIKE."""
    original = ZScoreEngine.detect

    def mislabel(self: ZScoreEngine, series: object) -> object:
        return [
            dataclasses.replace(r, anomaly_label=AnomalyType.SPIKE) if r.is_anomalous else r
            for r in original(self, series)  # type: ignore[arg-type]
        ]

    mp.setattr(ZScoreEngine, "detect", mislabel)


def _alarm_line_moved(mp: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An engine that declares an alarm line other than the contract's 0.5."""
    mp.setattr(ZScoreEngine, "score_threshold", 0.4)


def _tenants_mixed(mp: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tenant aggregation that leaks the highest score of any tenant into all of them."""
    original = AggregationPipeline.aggregate_tenants

    def mixed(self: AggregationPipeline, clusters: object) -> object:
        out = original(self, clusters)  # type: ignore[arg-type]
        top = max(s.aggregate_score for s in out)
        return [dataclasses.replace(s, aggregate_score=top) for s in out]

    mp.setattr(AggregationPipeline, "aggregate_tenants", mixed)


def _classifier_says_normal(mp: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A classifier that calls every window NORMAL."""
    mp.setattr(ExplanationClassifier, "classify", lambda self, series, window: AnomalyType.NORMAL)


def _rollup_takes_max(mp: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A rollup that stores the max where the mean belongs."""
    mp.setattr(sqlite_module, "robust_mean", max)


def _writes_lose_last_point(mp: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A store whose batch writes drop each series' last point."""
    original = sqlite_module.SQLiteMetricStore.write_batch
    mp.setattr(
        sqlite_module.SQLiteMetricStore,
        "write_batch",
        lambda self, batch: original(self, [s.slice(0, len(s) - 1) for s in batch]),
    )


Breakage = Callable[[pytest.MonkeyPatch, Path], None]
BREAKAGES: list[tuple[str, Breakage]] = [
    ("imports", _third_party_import),
    ("imports", _module_fails_to_import),
    ("contracts", _nan_accepted),
    ("windows", _last_window_dropped),
    ("registry", _broken_plugin),
    ("conformance", _alarm_line_moved),
    ("detection", _anomalies_missed),
    ("detection", _everything_a_spike),
    ("aggregation", _tenants_mixed),
    ("explanations", _classifier_says_normal),
    ("store", _rollup_takes_max),
    ("store", _writes_lose_last_point),
]


def test_every_check_has_a_breakage() -> None:
    """Each check of verify_phase1 is exercised by at least one breakage below."""
    assert {name for name, _ in BREAKAGES} == {c.__name__.removeprefix("check_") for c in vp.CHECKS}


@pytest.mark.parametrize(("check", "breakage"), BREAKAGES, ids=[b.__name__.strip("_") for _, b in BREAKAGES])
def test_breaking_something_fails_that_check(
    check: str,
    breakage: Breakage,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The damaged check prints FAIL with what it measured, and main() returns 1."""
    breakage(monkeypatch, tmp_path)
    assert vp.main(["--only", check]) == 1
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.startswith(("[PASS]", "[FAIL]"))]
    assert line.startswith(f"[FAIL] {check}"), out
    assert "FAILED: " + check in out.splitlines()[-1]


def test_broken_plugin_is_named_in_the_report(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The registry line lists the engines found and names the broken entry point and its distribution."""
    _broken_plugin(monkeypatch, tmp_path)
    vp.main(["--only", "registry"])
    out = capsys.readouterr().out
    assert "zscore" in out
    assert "broken_one = no_such_module_for_verify:Engine" in out
    assert "broken-engine-plugin 0.1" in out


def test_a_crashing_check_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception inside one check fails that check and the others still run."""

    def check_crashes() -> str:
        raise ZeroDivisionError("oops")

    outcomes = vp.run_checks([check_crashes, vp.check_windows])
    assert [(o.name, o.ok) for o in outcomes] == [("crashes", False), ("windows", True)]
    assert outcomes[0].detail == "crashed: ZeroDivisionError: oops"


def test_fleet_is_seeded() -> None:
    """The generated fleet depends only on the seed."""
    a, b = vp.fleet(7), vp.fleet(7)
    assert [s.series for s in a] == [s.series for s in b]
    assert [s.series for s in vp.fleet(8)] != [s.series for s in a]


def test_docstring_counts_and_lists_every_check() -> None:
    """The module docstring says how many checks run and has a table row for each, in order."""
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven"]
    doc = vp.__doc__ or ""
    assert f"Runs {words[len(vp.CHECKS)]} checks in order" in doc
    lines = doc.splitlines()
    top, bottom = [i for i, line in enumerate(lines) if line.startswith("==========")]
    rows = [line.split()[0] for line in lines[top + 1 : bottom] if not line.startswith(" ")]
    assert rows == [c.__name__.removeprefix("check_") for c in vp.CHECKS]


def test_a_reader_that_goes_away_stops_the_script_quietly() -> None:
    """``python verify_phase1.py | head -1``: the reader closes the pipe; the script exits 1 without a
    traceback (it printed ``BrokenPipeError`` from its checklist's print)."""
    proc = subprocess.Popen(
        [sys.executable, "verify_phase1.py", "--only", "imports"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait() == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
