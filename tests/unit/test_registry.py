"""Unit tests of EngineRegistry: built-ins, entry points, fault isolation, configuration."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from backend.analytics import (
    AnomalyDetectionEngine,
    AnomalyResult,
    EngineLoadError,
    EngineRegistry,
    MetricSeries,
    UnknownEngineError,
)
from backend.analytics.engine import detect_batch
from backend.analytics.engines import ZScoreEngine


class EchoEngine(AnomalyDetectionEngine):
    name: ClassVar[str] = "echo"
    causal: ClassVar[bool] = True

    def __init__(self, *, window_size_points: int = 1, stride_points: int = 1) -> None:
        self.window_size_points = window_size_points

    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        return []

    def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
        return "nothing"


@pytest.fixture
def fake_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Install fake distributions (dist-info + modules) on sys.path, as importlib_metadata's tests do."""
    (tmp_path / "good_plugin.py").write_text(
        textwrap.dedent("""
        from typing import ClassVar
        from backend.analytics import AnomalyDetectionEngine
        class GoodEngine(AnomalyDetectionEngine):
            name: ClassVar[str] = "good"
            causal: ClassVar[bool] = True
            def __init__(self, *, window_size_points=1, stride_points=1, level=1.0):
                self.level = level
            def detect(self, time_series):
                return []
            def explain(self, time_series, result):
                return "fine"
        NotAnEngine = 42
    """)
    )
    (tmp_path / "broken_plugin.py").write_text("import module_that_does_not_exist_xyz\n")
    dists = {
        "good_plugin-1.0": "good = good_plugin:GoodEngine\n",
        "broken_plugin-0.3": "broken = broken_plugin:Engine\n",
        "weird_plugin-2.0": "weird = good_plugin:NotAnEngine\nmisnamed = good_plugin:GoodEngine\n",
    }
    for dist, eps in dists.items():
        info = tmp_path / f"{dist}.dist-info"
        info.mkdir()
        name, version = dist.split("-")
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n"
        )
        (info / "entry_points.txt").write_text(f"[backend.analytics.engines]\n{eps}")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for mod in ("good_plugin", "broken_plugin"):
        sys.modules.pop(mod, None)


def test_builtins_without_installation() -> None:
    """default() knows zscore without any entry point."""
    reg = EngineRegistry.default()
    assert "zscore" in reg.names()
    assert reg.get("zscore") is ZScoreEngine


def test_unknown_name_lists_known() -> None:
    """An unknown name raises a KeyError subclass listing the known names, unquoted."""
    reg = EngineRegistry()
    reg.register("echo", EchoEngine)
    with pytest.raises(KeyError) as info:
        reg.get("zscor")
    assert isinstance(info.value, UnknownEngineError)
    assert str(info.value) == "unknown engine 'zscor'; known engines: echo"


def test_plugins_load_and_broken_ones_are_isolated(fake_plugins: Path) -> None:
    """Good plugins load; broken ones are recorded with entry point, distribution and cause."""
    reg = EngineRegistry.default()
    assert "good" in reg.names() and "zscore" in reg.names()
    failures = reg.failures()
    assert set(failures) >= {"broken", "weird", "misnamed"}
    assert "good" not in failures
    msg = str(failures["broken"])
    assert "entry point broken = broken_plugin:Engine" in msg
    assert "distribution broken-plugin 0.3" in msg
    assert "ModuleNotFoundError: No module named 'module_that_does_not_exist_xyz'" in msg
    assert "expected a subclass of backend.analytics.AnomalyDetectionEngine, got 42" in str(failures["weird"])
    assert "entry-point name must equal the engine's name" in str(failures["misnamed"])


def test_asking_for_broken_engine_raises_chained(fake_plugins: Path) -> None:
    """get() of a broken plugin raises EngineLoadError chained from the original cause."""
    reg = EngineRegistry.default()
    with pytest.raises(EngineLoadError) as info:
        reg.get("broken")
    assert isinstance(info.value.__cause__, ModuleNotFoundError)
    with pytest.raises(EngineLoadError):
        reg.create("broken")


def test_create_rejects_unknown_keywords(fake_plugins: Path) -> None:
    """Unknown configuration keywords are a TypeError naming them and the accepted ones."""
    reg = EngineRegistry.default()
    assert reg.create("good", level=2.0).level == 2.0  # type: ignore[attr-defined]
    with pytest.raises(
        TypeError,
        match=(
            r"engine 'good': unknown configuration keyword\(s\) 'levl'; "
            r"accepted: level, stride_points, window_size_points"
        ),
    ):
        reg.create("good", levl=2.0)


def test_zscore_bad_config_names_argument() -> None:
    """The built-in rejects bad values naming the argument."""
    reg = EngineRegistry.default()
    with pytest.raises(ValueError, match="ZScoreEngine: window_size_points must be a positive int, got 0"):
        reg.create("zscore", window_size_points=0)
    with pytest.raises(TypeError, match="unknown configuration keyword\\(s\\) 'windowsize'"):
        reg.create("zscore", windowsize=3)


def test_register_validates() -> None:
    """register() refuses non-engines, abstract classes, name mismatches and silent replacement."""
    reg = EngineRegistry()
    with pytest.raises(TypeError, match="expected a subclass"):
        reg.register("x", int)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="is abstract"):
        reg.register("x", AnomalyDetectionEngine)  # type: ignore[type-abstract]
    with pytest.raises(TypeError, match="registered as 'other'"):
        reg.register("other", EchoEngine)
    reg.register("echo", EchoEngine)
    reg.register("echo", EchoEngine)  # same class again is fine

    class Echo2(EchoEngine):
        pass

    with pytest.raises(ValueError, match="already registered"):
        reg.register("echo", Echo2)
    reg.register("echo", Echo2, replace=True)
    assert reg.get("echo") is Echo2


def test_detect_batch_isolates_failing_series() -> None:
    """A series that makes the engine raise is reported; the others complete."""
    from datetime import datetime, timedelta, timezone

    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)

    class Picky(EchoEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            if time_series.node_id == "bad":
                raise RuntimeError("cannot handle this node")
            return [AnomalyResult(*time_series.ids, t0, t0, 0.0, "normal")]

    series = [
        MetricSeries("t", "c", node, "m", [t0 + timedelta(minutes=1)], [1.0]) for node in ("a", "bad", "b")
    ]
    report = detect_batch(Picky(), series)
    assert [r.node_id for r in report.results] == ["a", "b"]
    assert report.series_ok == 2 and not report.ok
    assert len(report.failures) == 1
    assert (
        str(report.failures[0])
        == "m on node bad (cluster c, tenant t): RuntimeError: cannot handle this node"
    )
