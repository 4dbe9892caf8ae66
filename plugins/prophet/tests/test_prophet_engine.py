"""Tests of the Prophet plugin: the kit, the forecast against Prophet's own, a real NAB fit-and-detect."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pandas as pd
import pytest
from backend_analytics_prophet import ProphetEngine, ProphetForecast
from conftest import load_nab

from backend.analytics import EngineRegistry
from backend.analytics.testing import check_engine, make_test_series

# art_daily_jumpsup: a daily pattern whose level jumps up; NAB labels one window around 2014-04-11 09:00.
# Rows 2304..3312 cover 2014-04-09 00:00 .. 2014-04-12 11:55 (5-minute steps); the first 576 rows
# (two days) are the history Prophet is fitted on.
NAB_FILE = "artificialWithAnomaly/art_daily_jumpsup.csv"
NAB_ROWS = (2304, 3312)


def test_passes_the_conformance_kit() -> None:
    """ProphetEngine passes every check, nothing skipped (causal, streams, alarms at 0.5)."""
    bad: list[tuple[dict[str, Any], str]] = [
        ({"train_points": 8}, "train_points"),
        ({"seasonality_mode": "cubic"}, "seasonality_mode"),
        ({"daily_seasonality": "yes"}, "daily_seasonality"),
        ({"weekly_seasonality": 0}, "weekly_seasonality"),
        ({"z_threshold": 0}, "z_threshold"),
        ({"threshold": 3.0}, "threshold"),  # renamed z_threshold in 0.2.0: rejected, not ignored
        ({"changepoint_prior_scale": float("nan")}, "changepoint_prior_scale"),
        ({"refit_points": 0}, "refit_points"),
        ({"refit_points": 2.5}, "refit_points"),
    ]
    outcomes = check_engine(ProphetEngine, bad_configs=bad)
    assert [o for o in outcomes if o.status != "passed"] == []


def test_passes_the_kit_with_seasonality_settings() -> None:
    """Seasonality keywords pass through to Prophet and the engine still conforms."""
    config = {"daily_seasonality": False, "weekly_seasonality": False, "seasonality_mode": "multiplicative"}
    check_engine(
        ProphetEngine,
        config=config,
        checks=["results", "detects", "stream", "determinism", "causality", "scores"],
    )


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"seasonality_mode": "multiplicative", "daily_seasonality": 4},
        {"daily_seasonality": False, "weekly_seasonality": False, "yearly_seasonality": False},
    ],
)
def test_the_forecast_is_prophets_own(config: dict[str, Any]) -> None:
    """ProphetForecast.yhat, point by point, equals Prophet.predict's yhat on the same fit (to 1e-9)."""
    series = make_test_series(2000, seed=3, step_seconds=300)  # 7 days of 5-minute points
    stamps, values = list(series.epoch_us), series.values.tolist()
    model = ProphetEngine(**config).fit(stamps[:1500], values[:1500])
    forecast = ProphetForecast.from_model(model)
    future = pd.DataFrame({"ds": pd.to_datetime(pd.Series(stamps, dtype="int64"), unit="us")})
    with warnings.catch_warnings():  # Prophet's predict uses pandas APIs that pandas 3 deprecates
        warnings.simplefilter("ignore")
        theirs = model.predict(future)["yhat"].tolist()
    ours = [forecast.yhat(t) for t in stamps]
    assert all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) for a, b in zip(ours, theirs, strict=True))
    assert forecast.sigma > 0.0


@pytest.mark.parametrize("seasonality", ["auto", 4])
def test_finds_the_labelled_jump_in_nab(seasonality: str | int) -> None:
    """On real NAB data the top-scoring window overlaps the labelled anomaly, is flagged and explained."""
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
    assert best.window_start >= nab.series.timestamps[576]  # the history itself scores 0
    assert engine.explain(nab.series, best).strip()


def test_passes_the_kit_when_refitting() -> None:
    """With refit_points the engine still conforms: causal, deterministic, every contract check."""
    outcomes = check_engine(ProphetEngine, config={"train_points": 48, "refit_points": 16})
    assert [o for o in outcomes if o.status != "passed"] == []


def test_refitting_follows_a_long_series_that_one_fit_does_not() -> None:
    """On a long real series one fit drifts away; refitting every day keeps normal weeks normal.

    nyc_taxi rows 0..4000 (half-hourly taxi demand, July to September 2014, no labelled anomaly):
    fitted once on the first 576 points (12 days), nearly every later window scores as anomalous;
    refitted every 288 points on the 576 before, most windows are normal again.
    """
    nab = load_nab("realKnownCause/nyc_taxi.csv", 0, 4000)
    assert not nab.windows
    once = ProphetEngine(window_size_points=12, stride_points=6, train_points=576).detect(nab.series)
    refit = ProphetEngine(window_size_points=12, stride_points=6, train_points=576, refit_points=288)
    results = refit.detect(nab.series)
    assert [(r.window_start, r.window_end) for r in results] == [(r.window_start, r.window_end) for r in once]
    scored_from = nab.series.timestamps[576]  # windows of the first history score 0
    assert all(r.anomaly_score == 0.0 for r in results + once if r.window_end < scored_from)
    once = [r for r in once if r.window_start >= scored_from]
    results = [r for r in results if r.window_start >= scored_from]
    share_once = sum(r.is_anomalous for r in once) / len(once)
    share_refit = sum(r.is_anomalous for r in results) / len(results)
    assert share_refit < 0.25 and share_once > 0.75, (share_refit, share_once)


def test_registered_through_its_entry_point() -> None:
    """Installed with pip, the engine appears in EngineRegistry.default() with no core change."""
    registry = EngineRegistry.default()
    assert "prophet" in registry.names(), registry.failures()
    assert registry.get("prophet") is ProphetEngine
