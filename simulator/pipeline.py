"""Run detection and aggregation over a simulated fleet (used by the demo and the e2e tests).

>>> from simulator import Fleet, FleetConfig
>>> from simulator.pipeline import detect_fleet
>>> fleet = Fleet(FleetConfig.uniform(tenants=1, clusters=1, nodes_per_cluster=1, points=600,
...                                   metrics=("cpu",), seed=2))
>>> detect_fleet(fleet, {}) == detect_fleet(fleet, {}, chunk_points=97)
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from backend.analytics import AnomalyDetectionEngine, AnomalyResult, EngineRegistry

from .config import FleetConfig, _check_int
from .fleet import Fleet

__all__ = ["DEFAULT_ENGINE", "default_engine_config", "detect_fleet", "evaluation_slack"]

#: The engine the demo runs unless told otherwise: the one README.md recommends for fleet metrics.
DEFAULT_ENGINE = "zscore"


def default_engine_config(config: FleetConfig) -> dict[str, Any]:
    """The settings the demo passes to its engine: none, so every engine runs with its own defaults.

    The engines read the daily cycle from the timestamps, so nothing depends
    on the fleet's step. Kept as a function so callers can pass their own.
    """
    return {}


def evaluation_slack(config: FleetConfig, engine: AnomalyDetectionEngine | str = DEFAULT_ENGINE) -> timedelta:
    """How long after an anomaly's end a detection still counts as finding it: two of ``engine``'s windows.

    ``engine`` is an engine, or the name of a registered one (built with its defaults).
    """
    if isinstance(engine, str):
        engine = EngineRegistry.default().create(engine)
    window = int(getattr(engine, "window_size_points", 1))
    return timedelta(seconds=2 * window * config.step_seconds)


def detect_fleet(
    fleet: Fleet,
    engine_config: Mapping[str, Any],
    *,
    engine: str = DEFAULT_ENGINE,
    chunk_points: int | None = None,
    tenant_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[AnomalyResult]:
    """Every result of ``engine`` over the fleet (or one tenant), in series order then time.

    Without ``chunk_points`` each whole series goes to ``engine.detect``. With
    it, the fleet is generated in time slices and fed to one incremental
    stream per series (``engine.stream(...)``, which every causal built-in
    engine offers), so memory stays bounded by a slice; the results are the same.
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
