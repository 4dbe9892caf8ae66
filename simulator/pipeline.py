"""Run detection and aggregation over a simulated fleet (used by the demo and the e2e tests).

>>> from simulator import Fleet, FleetConfig
>>> from simulator.pipeline import default_engine_config, detect_fleet
>>> fleet = Fleet(FleetConfig.uniform(tenants=1, clusters=1, nodes_per_cluster=1, points=600,
...                                   metrics=("cpu",), seed=2))
>>> cfg = default_engine_config(fleet.config)
>>> detect_fleet(fleet, cfg) == detect_fleet(fleet, cfg, chunk_points=97)
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from backend.analytics import AnomalyResult, EngineRegistry

from .config import FleetConfig, _check_int
from .fleet import Fleet
from .metrics import DAY_S

__all__ = ["default_engine_config", "detect_fleet", "evaluation_slack"]


def default_engine_config(config: FleetConfig) -> dict[str, Any]:
    """The ``zscore`` settings the demo uses: 6-point windows, stride 3, a one-day baseline, threshold 5.

    The baseline spans one day of points (at most 2016, at least 30) so its
    spread includes the daily cycle; threshold 5 keeps heavy-tailed latency
    from flooding the summary with false alarms.
    """
    per_day = DAY_S // config.step_seconds
    baseline = max(30, min(per_day, 2016))
    return {
        "window_size_points": 6,
        "stride_points": 3,
        "baseline_points": baseline,
        "min_baseline_points": min(30, baseline),
        "threshold": 5.0,
    }


def evaluation_slack(config: FleetConfig, engine_config: Mapping[str, Any]) -> timedelta:
    """How long after an anomaly's end a detection still counts as finding it: two windows."""
    return timedelta(seconds=2 * int(engine_config["window_size_points"]) * config.step_seconds)


def detect_fleet(
    fleet: Fleet,
    engine_config: Mapping[str, Any],
    *,
    engine: str = "zscore",
    chunk_points: int | None = None,
    tenant_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[AnomalyResult]:
    """Every result of ``engine`` over the fleet (or one tenant), in series order then time.

    Without ``chunk_points`` each whole series goes to ``engine.detect``. With
    it, the fleet is generated in time slices and fed to one incremental
    stream per series (``engine.stream(...)``, as the ``zscore`` engine
    offers), so memory stays bounded by a slice; the results are the same.
    ``progress(done, total)`` is called after each series (or slice).
    """
    if chunk_points is not None:
        _check_int("detect_fleet", "chunk_points", chunk_points, 1)
    det = EngineRegistry.default().create(engine, **dict(engine_config))
    out: list[AnomalyResult] = []
    if chunk_points is None:
        total = len(fleet) if tenant_id is None else sum(1 for k in fleet.keys if k.tenant_id == tenant_id)
        for done, series in enumerate(fleet.iter_series(tenant_id=tenant_id), 1):
            out.extend(det.detect(series))
            if progress is not None:
                progress(done, total)
        return out
    make_stream = getattr(det, "stream", None)
    if make_stream is None:
        raise TypeError(f"detect_fleet: engine {engine!r} has no stream() method; chunk_points needs one")
    streams = None
    per_series: list[list[AnomalyResult]] = []
    n_chunks = -(-fleet.config.points // chunk_points)
    for done, chunk in enumerate(fleet.iter_chunks(chunk_points, tenant_id=tenant_id), 1):
        if streams is None:
            streams = [make_stream(*s.ids) for s in chunk]
            per_series = [[] for _ in chunk]
        for k, piece in enumerate(chunk):
            if len(piece):
                per_series[k].extend(streams[k].update(piece))
        if progress is not None:
            progress(done, n_chunks)
    for rs in per_series:
        out.extend(rs)
    return out
