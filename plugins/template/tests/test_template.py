"""Tests of the template plugin: the conformance kit, detection, and registration by entry point."""

from __future__ import annotations

from importlib import metadata

import pytest
from backend_analytics_template import MedianMADEngine

from backend.analytics import AnomalyType, EngineRegistry
from backend.analytics.testing import check_engine, make_test_series


def test_passes_the_conformance_kit() -> None:
    """MedianMADEngine passes every check; nothing is skipped (it is causal and streams)."""
    outcomes = check_engine(MedianMADEngine)
    assert [o for o in outcomes if o.status != "passed"] == []


def test_passes_the_kit_with_other_settings() -> None:
    """Other window and history sizes conform too, and bad settings are rejected by name."""
    check_engine(
        MedianMADEngine,
        config={"window_size_points": 20, "stride_points": 20, "history_points": 40},
        bad_configs=[({"history_points": 5}, "history_points"), ({"z_threshold": 0.0}, "z_threshold")],
    )


def test_repr_shows_the_settings() -> None:
    """The engine's repr lists its settings (the base class writes it)."""
    assert repr(MedianMADEngine(z_threshold=3.5)) == (
        "MedianMADEngine(window_size_points=10, stride_points=5, history_points=120, z_threshold=3.5)"
    )


def test_finds_the_spike_of_the_kit_series() -> None:
    """The window holding the kit series' spike (+8 at 70 %) is the anomalous one with the top score."""
    series = make_test_series(240, seed=1)
    engine = MedianMADEngine(z_threshold=3.0)  # the sine (amplitude 2) widens the MAD; +8 is ~3.8 of it
    results = engine.detect(series)
    spike_time = series.timestamps[int(240 * 0.7)]
    best = max(results, key=lambda r: r.anomaly_score)
    assert best.window_start <= spike_time <= best.window_end
    assert best.anomaly_label is AnomalyType.SPIKE
    assert "spiked" in engine.explain(series, best)


def test_registered_through_its_entry_point() -> None:
    """Installed with pip, the engine appears in EngineRegistry.default() without any core change."""
    try:
        metadata.distribution("backend-analytics-template")
    except metadata.PackageNotFoundError:
        pytest.skip("backend-analytics-template is not installed: run `pip install -e plugins/template`")
    registry = EngineRegistry.default()
    assert "median_mad" in registry.names()
    assert registry.get("median_mad") is MedianMADEngine
    assert isinstance(registry.create("median_mad", window_size_points=8), MedianMADEngine)
