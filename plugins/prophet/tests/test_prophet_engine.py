"""Tests of the Prophet plugin: conformance kit and a real NAB fit-and-detect."""

from __future__ import annotations

from typing import Any

import pytest
from backend_analytics_prophet import ProphetEngine
from conftest import load_nab

from backend.analytics import EngineRegistry
from backend.analytics.testing import check_engine

# art_daily_jumpsup: a daily pattern whose level jumps up; NAB labels one window around 2014-04-11 09:00.
# Rows 2304..3312 cover 2014-04-09 00:00 .. 2014-04-12 11:55 (5-minute steps); the first 576 rows
# (two days) are the history Prophet is fitted on.
NAB_FILE = "artificialWithAnomaly/art_daily_jumpsup.csv"
NAB_ROWS = (2304, 3312)


def test_passes_the_conformance_kit() -> None:
    """ProphetEngine passes every check, nothing skipped (causal, exposes score_threshold)."""
    bad: list[tuple[dict[str, Any], str]] = [
        ({"train_points": 8}, "train_points"),
        ({"seasonality_mode": "cubic"}, "seasonality_mode"),
        ({"daily_seasonality": "yes"}, "daily_seasonality"),
        ({"weekly_seasonality": 0}, "weekly_seasonality"),
        ({"threshold": 0}, "threshold"),
        ({"changepoint_prior_scale": float("nan")}, "changepoint_prior_scale"),
    ]
    outcomes = check_engine(ProphetEngine, bad_configs=bad)
    assert [o for o in outcomes if o.status != "passed"] == []


def test_passes_the_kit_with_seasonality_settings() -> None:
    """Seasonality keywords pass through to Prophet and the engine still conforms."""
    config = {"daily_seasonality": False, "weekly_seasonality": False, "seasonality_mode": "multiplicative"}
    check_engine(ProphetEngine, config=config, checks=["results", "determinism", "causality", "scores"])


@pytest.mark.parametrize("seasonality", ["auto", 4])
def test_finds_the_labelled_jump_in_nab(seasonality: str | int) -> None:
    """On real NAB data the top-scoring window overlaps the labelled anomaly and is flagged."""
    nab = load_nab(NAB_FILE, *NAB_ROWS)
    assert nab.windows, "the slice must contain the labelled window"
    engine = ProphetEngine(
        window_size_points=12, stride_points=6, train_points=576, daily_seasonality=seasonality
    )
    results = engine.detect(nab.series)
    assert results
    best = max(results, key=lambda r: r.anomaly_score)
    assert best.is_anomalous
    assert nab.overlaps_label(best.window_start, best.window_end), best
    assert "Prophet's forecast" in engine.explain(nab.series, best)


def test_registered_through_its_entry_point() -> None:
    """Installed with pip, the engine appears in EngineRegistry.default() with no core change."""
    registry = EngineRegistry.default()
    assert "prophet" in registry.names(), registry.failures()
    assert registry.get("prophet") is ProphetEngine
