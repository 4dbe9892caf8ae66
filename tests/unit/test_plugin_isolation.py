"""Fault isolation: broken plugin distributions never break the registry or a batch run.

Fake distributions are written as ``*.dist-info`` folders (``METADATA`` plus
``entry_points.txt``) with their modules into ``tmp_path``, which is put on
``sys.path`` (as importlib_metadata's ``tests/fixtures.py`` does), so the real
``importlib.metadata.entry_points`` machinery finds them; nothing is installed.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from backend.analytics import EngineLoadError, EngineRegistry, MetricSeries, UnknownEngineError
from backend.analytics.engine import detect_batch
from backend.analytics.testing import make_test_series

_GOOD_ENGINE = '''
from typing import ClassVar

from backend.analytics import AnomalyDetectionEngine, AnomalyResult, AnomalyType, MetricSeries


class GoodEngine(AnomalyDetectionEngine):
    name: ClassVar[str] = "{name}"
    causal: ClassVar[bool] = True

    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        if {raise_for!r} and time_series.metric_name == {raise_for!r}:
            raise RuntimeError("cannot score " + time_series.metric_name)
        if len(time_series) == 0:
            return []
        ts = time_series.timestamps
        return [AnomalyResult(*time_series.ids, ts[0], ts[-1], 0.0, AnomalyType.NORMAL)]

    def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
        return "fine"
'''

# distribution name -> (version, {entry point name: value}, {module name: source})
_DISTS: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "fake-good": (
        "1.0",
        {"fake_good": "fake_good_mod:GoodEngine"},
        {"fake_good_mod": _GOOD_ENGINE.format(name="fake_good", raise_for="")},
    ),
    "fake-broken-import": (
        "0.3",
        {"fake_broken": "fake_broken_mod:Engine"},
        {"fake_broken_mod": "import fake_missing_dependency_xyz\n"},
    ),
    "fake-not-engine": (
        "2.1",
        {"fake_not_engine": "fake_not_engine_mod:Thing"},
        {"fake_not_engine_mod": "class Thing:\n    name = 'fake_not_engine'\n"},
    ),
    "fake-raises": (
        "0.9",
        {"fake_raises": "fake_raises_mod:GoodEngine"},
        {"fake_raises_mod": _GOOD_ENGINE.format(name="fake_raises", raise_for="bad_metric")},
    ),
}


@pytest.fixture
def fake_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write the fake distributions into tmp_path and put it on sys.path."""
    for dist, (version, eps, modules) in _DISTS.items():
        info = tmp_path / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = "".join(f"{name} = {value}\n" for name, value in eps.items())
        (info / "entry_points.txt").write_text(f"[backend.analytics.engines]\n{lines}")
        for module, source in modules.items():
            (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
            monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_registry_loads_the_good_plugins_next_to_the_broken_ones(fake_plugins: Path) -> None:
    """Broken plugins are recorded as failures; built-ins and working plugins still load."""
    registry = EngineRegistry.default()
    names = registry.names()
    assert {"zscore", "fake_good", "fake_raises"} <= set(names)
    assert "fake_broken" not in names
    assert "fake_not_engine" not in names
    assert {"fake_broken", "fake_not_engine"} <= set(registry.failures())


def test_plugin_that_fails_to_import_names_entry_point_distribution_and_cause(fake_plugins: Path) -> None:
    """Asking for a plugin whose module cannot import raises EngineLoadError chained from the cause."""
    registry = EngineRegistry.default()
    with pytest.raises(EngineLoadError) as info:
        registry.get("fake_broken")
    message = str(info.value)
    assert "fake_broken = fake_broken_mod:Engine" in message
    assert "fake-broken-import 0.3" in message
    assert "ModuleNotFoundError" in message
    assert "fake_missing_dependency_xyz" in message
    assert isinstance(info.value.__cause__, ModuleNotFoundError)
    with pytest.raises(EngineLoadError):
        registry.create("fake_broken")


def test_plugin_whose_entry_point_is_not_an_engine_is_rejected(fake_plugins: Path) -> None:
    """An entry point that names a class which is not an engine is reported, not registered."""
    registry = EngineRegistry.default()
    with pytest.raises(EngineLoadError) as info:
        registry.get("fake_not_engine")
    message = str(info.value)
    assert "fake_not_engine = fake_not_engine_mod:Thing" in message
    assert "fake-not-engine 2.1" in message
    assert "TypeError" in message
    assert "AnomalyDetectionEngine" in message
    assert isinstance(info.value.__cause__, TypeError)


def test_unknown_name_still_lists_the_known_engines(fake_plugins: Path) -> None:
    """A name nobody published raises UnknownEngineError (a KeyError) listing the known names."""
    registry = EngineRegistry.default()
    with pytest.raises(UnknownEngineError) as info:
        registry.get("no_such_engine")
    assert isinstance(info.value, KeyError)
    assert "fake_good" in str(info.value)
    assert "zscore" in str(info.value)


def _batch() -> list[MetricSeries]:
    base = make_test_series(40, seed=5)
    us, values = list(base.epoch_us), base.values.tolist()
    return [
        MetricSeries.from_arrays("t1", "c1", f"n{i}", metric, us, values)
        for i, metric in enumerate(["cpu", "bad_metric", "mem", "disk"])
    ]


def test_batch_reports_the_series_whose_detect_raises_and_completes_the_rest(fake_plugins: Path) -> None:
    """detect_batch isolates the failing series: its ids and error are reported, the others complete."""
    engine = EngineRegistry.default().create("fake_raises")
    report = detect_batch(engine, _batch())
    assert not report.ok
    assert report.series_ok == 3
    assert [r.metric_name for r in report.results] == ["cpu", "mem", "disk"]
    [failure] = report.failures
    assert failure.ids == ("t1", "c1", "n1", "bad_metric") and failure.position == 1
    assert isinstance(failure.error, RuntimeError)
    text = str(failure)
    assert "bad_metric" in text
    assert "n1" in text
    assert "RuntimeError: cannot score bad_metric" in text


def test_batch_with_a_working_plugin_completes_everything(fake_plugins: Path) -> None:
    """The same batch through a working plugin engine reports no failure."""
    report = detect_batch(EngineRegistry.default().create("fake_good"), _batch())
    assert report.ok
    assert report.series_ok == 4
    assert len(report.results) == 4


def test_batch_goes_on_past_an_item_that_is_not_a_series() -> None:
    """A None from a failed load is a failure at its position; the series after it are still detected."""
    from backend.analytics.engines import ZScoreEngine

    batch: list[Any] = [_batch()[0], None, _batch()[2]]
    report = detect_batch(ZScoreEngine(), batch)
    assert report.series_ok == 2 and {r.metric_name for r in report.results} <= {"cpu", "mem"}
    [failure] = report.failures
    assert failure.position == 1 and failure.ids == ("", "", "", "")
    assert isinstance(failure.error, TypeError) and str(failure).startswith("item 1 of the batch: TypeError")
