"""Tests of the Merlion plugin: conformance kit on every model and mode, and a real NAB fit-and-detect."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from backend_analytics_merlion import MODELS, MerlionCausalEngine, MerlionEngine
from backend_analytics_merlion._engine import _make_model
from conftest import load_nab
from merlion.models.ensemble.combine import Mean
from merlion.utils import TimeSeries, UnivariateTimeSeries

from backend.analytics import AnomalyDetectionEngine, EngineRegistry, MetricSeries
from backend.analytics.testing import check_engine, make_test_series, run_checks

ENGINES = [MerlionEngine, MerlionCausalEngine]

# art_daily_jumpsup: a daily pattern whose level jumps up; NAB labels one window around 2014-04-11 09:00.
# Rows 2304..3312 cover 2014-04-09 00:00 .. 2014-04-12 11:55 (5-minute steps); the first 576 rows
# (two days) train the causal engine.
NAB_FILE = "artificialWithAnomaly/art_daily_jumpsup.csv"
NAB_ROWS = (2304, 3312)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("engine", ENGINES, ids=lambda c: c.name)
def test_passes_the_conformance_kit(engine: type[AnomalyDetectionEngine], model: str) -> None:
    """Every model in both modes passes check_engine.

    The in-sample engine is a batch model: the kit skips its causality and stream checks, saying so.
    The causal engine passes everything, the stream included (the kit series fed in uneven pieces
    gives exactly detect's results).
    """
    bad: list[tuple[dict[str, Any], str]] = [
        ({"model": "arima"}, "model"),
        ({"model": 3}, "model"),
        ({"z_threshold": -1.0}, "z_threshold"),
        ({"threshold": 3.0}, "threshold"),  # renamed z_threshold in 0.2.0: rejected, not ignored
        ({"seed": 1.5}, "seed"),
    ]
    if engine is MerlionCausalEngine:
        bad += [({"train_points": 8}, "train_points"), ({"chunk_points": 0}, "chunk_points")]
    else:
        bad.append(({"min_train_points": 0}, "min_train_points"))
    if engine is MerlionCausalEngine and model == "default":
        # Merlion's ensemble does not load its own pickled state: the kit's checkpoint check says so.
        outcomes = run_checks(engine, config={"model": model}, bad_configs=bad)
        failed = {o.check: o.message for o in outcomes if o.status == "failed"}
        assert list(failed) == ["checkpoint"], failed
        assert "does not pickle (KeyError: 'ElementwiseMean')" in failed["checkpoint"]
    else:
        outcomes = check_engine(engine, config={"model": model}, bad_configs=bad)
    skipped = {o.check: o.message for o in outcomes if o.status == "skipped"}
    if engine.causal:
        assert skipped == {}
    else:
        assert skipped == {
            "stream": "MerlionEngine has no stream() (or is not causal)",
            "update_many": (
                "MerlionEngine declares causal = False (its update_many may read the whole series)"
            ),
            "checkpoint": "MerlionEngine has no stream() (or is not causal)",
            "causality": "MerlionEngine declares causal = False",
        }


def test_only_the_causal_engine_streams() -> None:
    """The in-sample engine and its scorer refuse to score piecewise, with errors that say why."""
    with pytest.raises(TypeError, match="not causal"):
        MerlionEngine().stream("t", "c", "n", "m")
    scorer = MerlionEngine().scorer()
    with pytest.raises(TypeError, match="whole series"):
        scorer.update(1.0, 0)
    series = make_test_series(60)
    scorer.update_many(series.values.tolist(), list(series.epoch_us))
    with pytest.raises(RuntimeError, match="already scored a series"):
        scorer.update_many(series.values.tolist(), list(series.epoch_us))


@pytest.mark.parametrize("model", MODELS)
def test_stream_point_by_point_equals_detect(model: str) -> None:
    """Fed one point at a time (its chunk re-scored at each point), the stream gives detect's results."""
    engine = MerlionCausalEngine(model=model, train_points=40, chunk_points=16, window_size_points=6)
    series = make_test_series(80, seed=2, warmup_points=40)
    stream = engine.stream(*series.ids)
    live = [r for i in range(len(series)) for r in stream.update(series.slice(i, i + 1))]
    assert live == engine.detect(series)


def test_the_ensemble_average_is_merlions_to_rounding() -> None:
    """The elementwise mean that lets the ensemble stream equals Merlion's own Mean within 1e-12."""

    rng = np.random.default_rng(0)
    stamps = [1_704_067_200 + 60 * i for i in range(500)]
    members = [UnivariateTimeSeries(stamps, rng.normal(size=500), "anom_score") for _ in range(3)]
    ensemble = _make_model("default", 0)
    ensemble.train(make_merlion_series())
    ours = ensemble.model.combiner
    assert type(ours) is not Mean and isinstance(ours, Mean)
    theirs = Mean(abs_score=True)
    theirs.n_models = ours.n_models
    got = ours._combine_univariates(members).np_values
    want = theirs._combine_univariates(members).np_values
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)
    assert not np.allclose(got, 0.0)


def make_merlion_series() -> Any:
    """The kit's series as a Merlion TimeSeries (to train the ensemble once)."""

    series = make_test_series(200)
    index = pd.to_datetime(pd.Series(list(series.epoch_us), dtype="int64"), unit="us")
    return TimeSeries.from_pd(pd.DataFrame({"value": series.values.tolist()}, index=pd.DatetimeIndex(index)))


def test_causal_flags() -> None:
    """The in-sample engine says it is not causal; the leading-part engine says it is."""
    assert MerlionEngine.causal is False
    assert MerlionCausalEngine.causal is True


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("engine", ENGINES, ids=lambda c: c.name)
def test_finds_the_labelled_jump_in_nab(engine: type[AnomalyDetectionEngine], model: str) -> None:
    """On real NAB data a flagged window overlaps the labelled anomaly (for zms and the forest, the top one).

    The ensemble in causal mode also flags the raised level after NAB's labelled window ends (its
    AutoETS member forecasts the old level), so for it only "found inside the label" is asserted.
    """
    nab = load_nab(NAB_FILE, *NAB_ROWS)
    assert nab.windows, "the slice must contain the labelled window"
    config: dict[str, Any] = {"model": model, "window_size_points": 12, "stride_points": 6}
    if engine is MerlionCausalEngine:
        config.update(train_points=576, chunk_points=72)
    results = engine(**config).detect(nab.series)
    assert results
    found = [r for r in results if r.is_anomalous and nab.overlaps_label(r.window_start, r.window_end)]
    assert found, max(results, key=lambda r: r.anomaly_score)
    if not (model == "default" and engine.causal):
        best = max(results, key=lambda r: r.anomaly_score)
        assert best.is_anomalous
        assert nab.overlaps_label(best.window_start, best.window_end), best


@pytest.mark.parametrize("engine", ENGINES, ids=lambda c: c.name)
def test_irregular_sampling_is_scored(engine: type[AnomalyDetectionEngine]) -> None:
    """Gaps in the sampling (as real exports have, and 17 of the 41 NAB files) are scored, not a crash.

    Merlion infers the granularity of irregular timestamps with ``scipy.stats.mode`` on timedeltas,
    which scipy 1.16 and later reject; the plugin pins ``scipy<1.16`` for that reason.
    """
    t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    steps = [5 * i + (3 if i % 97 == 0 else 0) + (60 if i > 300 else 0) for i in range(600)]
    values = [10.0 + (i % 12) * 0.5 for i in range(600)]
    values[450] = 80.0
    series = MetricSeries("acme", "c-1", "n-1", "cpu", [t0 + timedelta(minutes=m) for m in steps], values)
    config: dict[str, Any] = {"model": "zms"}
    if engine is MerlionCausalEngine:
        config.update(train_points=200)
    results = engine(**config).detect(series)
    assert results
    flagged = [r for r in results if r.is_anomalous]
    assert any(r.window_start <= series.timestamps[450] <= r.window_end for r in flagged), flagged


def test_registered_through_entry_points() -> None:
    """Installed with pip, both engines appear in EngineRegistry.default() with no core change."""
    registry = EngineRegistry.default()
    assert {"merlion", "merlion_causal"} <= set(registry.names()), registry.failures()
    assert registry.get("merlion") is MerlionEngine
    engine = registry.create("merlion_causal", model="isolation_forest", train_points=64)
    assert isinstance(engine, MerlionCausalEngine)


def test_the_forests_jvm_does_not_outlive_the_process() -> None:
    """``model="default"`` runs Merlion's random cut forest in a JVM (py4j, launched without
    ``die_on_exit``); the plugin shuts it down when the Python process exits, so no JVM is left
    running after a process that used the ensemble (one was, after every CI run)."""
    child = textwrap.dedent(
        """
        from backend.analytics.testing import make_test_series
        from backend_analytics_merlion import MerlionEngine
        from merlion.models.anomaly.random_cut_forest import JVMSingleton

        MerlionEngine(model="default").detect(make_test_series(200))
        print(JVMSingleton._gateway.java_process.pid)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=300, check=True
    )
    pid = int(done.stdout.split()[-1])
    deadline = time.monotonic() + 20.0
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists(), f"the JVM (pid {pid}) outlived the process that started it"
