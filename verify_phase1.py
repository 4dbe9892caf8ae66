#!/usr/bin/env python3
"""Prove that a checkout of ``backend.analytics`` works end to end: ``python verify_phase1.py``.

Runs nine checks in order and prints one line per check with what it
measured, then a summary; the exit status is 0 only if every check passed.

========== ==================================================================
imports    every module under ``backend.analytics`` imports in a fresh
           interpreter, loading nothing outside the standard library
contracts  bad inputs to the three data contracts are rejected with the right
           exception and message; valid ones round-trip through dicts
windows    sliding and time-based windows match the contract on known inputs
registry   ``EngineRegistry.default()``: every engine found (built-in and
           installed plugins) loads; broken plugins are listed and fail
conformance every registered engine, plugins included, passes the conformance
           kit (``backend.analytics.testing``) that plugin authors run
detection  the ``zscore`` engine finds each anomaly injected into generated
           series, with the right label, and few false alarms
aggregation node, cluster and tenant scores follow the strategy, and two
           tenants with equal names never mix
explanations the classifier labels known windows right; ``explain`` gives one
           sentence naming the series
store      series, results and aggregates round-trip through the SQLite store;
           retention rolls points up; reopening keeps everything
========== ==================================================================

Everything is generated from ``random.Random(SEED)``; the run takes a few
seconds. Options: ``--only NAME`` (repeatable) runs a subset.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # run from anywhere without installing
    sys.path.insert(0, str(ROOT))

from backend.analytics import (  # noqa: E402 - after the sys.path fix above
    AggregatedAnomalyScore,
    AggregationPipeline,
    AggregationStrategy,
    AnomalyDetectionEngine,
    AnomalyResult,
    AnomalyType,
    EngineRegistry,
    ExplanationClassifier,
    MetricSeries,
    SlidingWindowExtractor,
    TimeBasedWindowExtractor,
    TimeWindow,
)
from backend.analytics.cli._console import reader_gone, tolerant_output  # noqa: E402
from backend.analytics.store import RetentionPolicy, SQLiteMetricStore  # noqa: E402
from backend.analytics.testing import run_checks as run_engine_checks  # noqa: E402

SEED = 20240501
CORE_PACKAGE = "backend.analytics"
ENTRY_POINT_GROUP = "backend.analytics.engines"
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)
EARLY = datetime(1970, 1, 1, tzinfo=timezone.utc)
FAR = datetime(2100, 1, 1, tzinfo=timezone.utc)

# Detection scenario: 400 points a minute apart, N(50, 1) noise, 10-point windows.
N_POINTS = 400
LEVEL, NOISE_SD = 50.0, 1.0
ENGINE_CONFIG = {"window_size_points": 10, "stride_points": 10}
# Points after an injection's end in which alarms still belong to it (the engine's level, a
# median of the last 32 points, catches up with the return within that many points).
SETTLE_POINTS = 40
# With a 5-sd threshold a 10-point noise window alarms with probability ~1e-5, so over the
# ~200 clean windows well below one false alarm is expected; 2 is a generous bound.
MAX_FALSE_ALARMS = 2


class CheckFailedError(Exception):
    """A check measured something other than what the contract promises."""


def expect(condition: bool, message: str) -> None:
    """Fail the current check with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailedError(message)


# -- generated data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Injection:
    """An anomaly put into a series: ``kind`` over points ``[start, end)`` (end = len: persists)."""

    kind: AnomalyType
    start: int
    end: int


@dataclass(frozen=True)
class Scenario:
    """One generated series and what was injected into it."""

    series: MetricSeries
    injections: tuple[Injection, ...]


def make_series(
    ids: tuple[str, str, str, str], values: Sequence[float], step: timedelta = MINUTE
) -> MetricSeries:
    """A series of ``values`` from ``T0``, one point every ``step``."""
    t0_us = (T0 - EARLY) // timedelta(microseconds=1)
    step_us = step // timedelta(microseconds=1)
    return MetricSeries.from_arrays(*ids, [t0_us + i * step_us for i in range(len(values))], values)


def fleet(seed: int = SEED) -> list[Scenario]:
    """Two tenants with equal cluster/node/metric names; only ``acme`` has anomalies.

    acme/c-1/n-1/cpu: a 2-point spike of +12 sd at 203; acme/c-1/n-1/mem: a
    +10 sd level shift from 305 on; acme/c-1/n-2/cpu: a ramp of +1 sd per point
    from 250 on; acme/c-2/n-1/cpu and all of zeta: noise only.
    """
    rng = random.Random(seed)

    def noise() -> list[float]:
        return [rng.gauss(LEVEL, NOISE_SD) for _ in range(N_POINTS)]

    spike, shift, ramp = noise(), noise(), noise()
    for i in (203, 204):
        spike[i] += 12 * NOISE_SD
    for i in range(305, N_POINTS):
        shift[i] += 10 * NOISE_SD
    for i in range(250, N_POINTS):
        ramp[i] += (i - 250) * NOISE_SD
    out = [
        Scenario(
            make_series(("acme", "c-1", "n-1", "cpu"), spike), (Injection(AnomalyType.SPIKE, 203, 205),)
        ),
        Scenario(
            make_series(("acme", "c-1", "n-1", "mem"), shift), (Injection(AnomalyType.TREND, 305, N_POINTS),)
        ),
        Scenario(
            make_series(("acme", "c-1", "n-2", "cpu"), ramp), (Injection(AnomalyType.TREND, 250, N_POINTS),)
        ),
        Scenario(make_series(("acme", "c-2", "n-1", "cpu"), noise()), ()),
    ]
    for _, cluster, node, metric in [s.series.ids for s in out[:3]]:
        out.append(Scenario(make_series(("zeta", cluster, node, metric), noise()), ()))
    return out


def detect_fleet(scenarios: Sequence[Scenario]) -> list[AnomalyResult]:
    """Run the registry's ``zscore`` engine on every scenario; all results, in scenario order."""
    engine = EngineRegistry.default().create("zscore", **ENGINE_CONFIG)
    return [r for s in scenarios for r in engine.detect(s.series)]


# -- the checks -------------------------------------------------------------------------------

_IMPORT_PROBE = r"""
import importlib, json, pkgutil, sys
root, package = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
stdlib, first = set(sys.stdlib_module_names), package.partition(".")[0]
seen = set(sys.modules)
found, errors, foreign = [], {}, {}

def load(name):
    try:
        module = importlib.import_module(name)
    except BaseException as exc:
        errors[name] = f"{type(exc).__name__}: {exc}"
        module = None
    new = {m.partition(".")[0] for m in set(sys.modules) - seen}
    seen.update(sys.modules)
    outside = sorted(m for m in new if m not in stdlib and m != first)
    if outside:
        foreign[name] = outside
    found.append(name)
    return module

top = load(package)
if top is not None:
    for info in pkgutil.walk_packages(top.__path__, package + ".", onerror=lambda name: None):
        if info.name not in found:
            load(info.name)
print(json.dumps({"modules": found, "errors": errors, "foreign": foreign}))
"""


def check_imports() -> str:
    """Every module of the core imports in a fresh interpreter and loads only stdlib modules."""
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, str(ROOT), CORE_PACKAGE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    expect(proc.returncode == 0, f"import probe exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    modules, errors, foreign = report["modules"], report["errors"], report["foreign"]
    expect(not errors, "failed to import: " + "; ".join(f"{k} ({v})" for k, v in errors.items()))
    expect(len(modules) > 1, f"found only {modules} under {CORE_PACKAGE}")
    expect(
        not foreign,
        "non-stdlib modules loaded: " + "; ".join(f"{k} loads {', '.join(v)}" for k, v in foreign.items()),
    )
    return (
        f"{len(modules)} modules under {CORE_PACKAGE} imported in a fresh interpreter; 0 non-stdlib modules"
    )


def _rejections() -> list[tuple[str, Callable[[], object], type[Exception], tuple[str, ...]]]:
    ids = ("acme", "c-1", "n-1", "cpu")
    ts = [T0 + i * MINUTE for i in range(3)]
    ok = AnomalyResult(*ids, T0, T0 + MINUTE, 0.9, AnomalyType.SPIKE).to_dict()
    return [
        (
            "nan value",
            lambda: MetricSeries(*ids, ts, [1.0, math.nan, 2.0]),
            ValueError,
            ("MetricSeries.values[1]", "nan"),
        ),
        (
            "infinite value",
            lambda: MetricSeries(*ids, ts, [math.inf, 1.0, 2.0]),
            ValueError,
            ("MetricSeries.values[0]", "inf"),
        ),
        (
            "int too large for a float",
            lambda: MetricSeries(*ids, ts, [1, 2, 10**400]),
            ValueError,
            ("MetricSeries.values[2]", "too large"),
        ),
        (
            "naive timestamp",
            lambda: MetricSeries(*ids, [t.replace(tzinfo=None) for t in ts], [1, 2, 3]),
            ValueError,
            ("MetricSeries.timestamps[0]", "timezone-aware"),
        ),
        (
            "timestamp as str",
            lambda: MetricSeries(*ids, [ts[0], "2024-05-01", ts[2]], [1, 2, 3]),  # type: ignore[list-item]
            TypeError,
            ("MetricSeries.timestamps[1]",),
        ),
        (
            "duplicate instant",
            lambda: MetricSeries(
                *ids, [ts[0], ts[1], ts[1].astimezone(timezone(timedelta(hours=3)))], [1, 2, 3]
            ),
            ValueError,
            ("MetricSeries.timestamps[2]", "strictly ascending"),
        ),
        ("length mismatch", lambda: MetricSeries(*ids, ts, [1.0, 2.0]), ValueError, ("same length",)),
        ("empty tenant_id", lambda: MetricSeries("", *ids[1:], ts, [1, 2, 3]), ValueError, ("tenant_id",)),
        (
            "score above 1",
            lambda: AnomalyResult(*ids, T0, T0, 1.5, AnomalyType.SPIKE),
            ValueError,
            ("anomaly_score", "[0, 1]", "1.5"),
        ),
        (
            "window backwards",
            lambda: AnomalyResult(*ids, T0 + MINUTE, T0, 0.5, AnomalyType.SPIKE),
            ValueError,
            ("window_start",),
        ),
        (
            "unknown label",
            lambda: AnomalyResult(*ids, T0, T0, 0.5, "weird"),
            ValueError,
            ("anomaly_label", "'weird'"),
        ),
        (
            "node without cluster",
            lambda: AggregatedAnomalyScore("acme", None, "n-1", AggregationStrategy.MAX, 0.5, 1, 0),
            ValueError,
            ("node_id",),
        ),
        (
            "unknown dict key",
            lambda: AnomalyResult.from_dict({**ok, "extra": 1}),
            ValueError,
            ("unknown key", "'extra'"),
        ),
    ]


def check_contracts() -> str:
    """Bad inputs raise the right exception naming field/index; valid objects round-trip."""
    cases = _rejections()
    for label, make, exc_type, needles in cases:
        try:
            make()
        except exc_type as exc:
            missing = [n for n in needles if n not in str(exc)]
            expect(not missing, f"{label}: message {str(exc)!r} lacks {missing}")
        except Exception as exc:
            raise CheckFailedError(
                f"{label}: raised {type(exc).__name__} ({exc}), expected {exc_type.__name__}"
            ) from exc
        else:
            raise CheckFailedError(f"{label}: accepted, expected {exc_type.__name__}")
    values = [1.0, 2.0, 3.0]
    series = make_series(("acme", "c-1", "n-1", "cpu"), values)
    values[0] = 99.0
    expect(series.values[0] == 1.0, "MetricSeries did not copy its input")
    result = AnomalyResult("acme", "c-1", "n-1", "cpu", T0, T0 + MINUTE, 0.75, AnomalyType.TREND, 0.5, "x")
    score = AggregatedAnomalyScore("acme", "c-1", None, AggregationStrategy.P95, 0.25, 3, 1)
    for obj in (series, result, score):
        data = json.loads(json.dumps(obj.to_dict()))
        expect(type(obj).from_dict(data) == obj, f"{type(obj).__name__} did not round-trip through JSON")
    return (
        f"{len(cases)} bad inputs rejected with the right type and message; 3 types round-trip through JSON"
    )


def check_windows() -> str:
    """Sliding and time-based windows on known inputs give exactly the contract's windows."""
    ten = make_series(("t", "c", "n", "m"), [0.0] * 10)
    got = [(w.start_index, w.end_index, w.is_partial) for w in SlidingWindowExtractor(4, 3).extract(ten)]
    expect(got == [(0, 4, False), (3, 7, False), (6, 10, False)], f"sliding(4, 3) gave {got}")
    ext = SlidingWindowExtractor(4, 4, include_partial=True)
    got = [(w.start_index, w.end_index, w.is_partial) for w in ext.extract(ten)]
    expect(got == [(0, 4, False), (4, 8, False), (8, 10, True)], f"sliding(4, 4, partial) gave {got}")
    first = SlidingWindowExtractor(4, 3).extract(ten)[0]
    expect((first.start_time, first.end_time) == (T0, T0 + 3 * MINUTE), f"window times {first}")
    minutes = [0, 1, 2, 3, 4, 10, 11]
    gap = MetricSeries("t", "c", "n", "m", [T0 + m * MINUTE for m in minutes], [0.0] * len(minutes))
    timed = TimeBasedWindowExtractor(3 * MINUTE, 3 * MINUTE)
    got = [(w.start_index, w.end_index, w.is_partial) for w in timed.extract(gap)]
    expect(got == [(0, 3, False), (3, 5, False)], f"time-based(3 min) gave {got}")
    timed_p = TimeBasedWindowExtractor(3 * MINUTE, 3 * MINUTE, include_partial=True)
    got = [(w.start_index, w.end_index, w.is_partial) for w in timed_p.extract(gap)]
    expect(got == [(0, 3, False), (3, 5, False), (5, 7, True)], f"time-based(3 min, partial) gave {got}")
    expect(timed_p.extract(gap) == timed_p.extract(gap), "same input gave different windows")
    try:
        SlidingWindowExtractor(4, 0)
    except ValueError as exc:
        expect("stride_points" in str(exc), f"bad stride message {exc}")
    else:
        raise CheckFailedError("stride_points=0 was accepted")
    return "sliding: 3 full + partial tail; time-based: empty span skipped, partial tail; deterministic"


def _plugin_sources() -> dict[str, str]:
    sources: dict[str, str] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        label = f"{dist.metadata['Name']} {dist.version}" if dist is not None else "unknown distribution"
        sources.setdefault(ep.name, label)
    return sources


def check_registry() -> str:
    """EngineRegistry.default() lists every engine found; each loads; broken plugins are reported."""
    registry = EngineRegistry.default()
    names, failures = registry.names(), registry.failures()
    expect("zscore" in names, f"built-in 'zscore' missing; names() = {names}")
    for name in names:
        cls = registry.get(name)
        expect(
            isinstance(cls, type) and issubclass(cls, AnomalyDetectionEngine) and cls.name == name,
            f"registry.get({name!r}) gave {cls!r}",
        )
    try:
        registry.get("no-such-engine")
    except KeyError as exc:
        expect("zscore" in str(exc), f"unknown-name error does not list known names: {exc}")
    else:
        raise CheckFailedError("an unknown engine name did not raise KeyError")
    sources = _plugin_sources()

    def origin(name: str) -> str:
        if registry.get(name).__module__.startswith(CORE_PACKAGE + "."):
            return "built-in"
        return sources.get(name, "registered in code")

    listed = ", ".join(f"{n} ({origin(n)})" for n in names)
    broken = "; ".join(str(err) for err in failures.values())
    expect(not failures, f"found {listed}; BROKEN: {broken}")
    return f"{len(names)} engine(s): {listed}; broken plugins: none"


def check_conformance() -> str:
    """Every registered engine, plugins included, passes the conformance kit (``backend.analytics.testing``).

    The kit is the one plugin authors run (``check_engine``): contract types, determinism,
    causality, validation, the 0.5 alarm line, a planted anomaly seen, stream equals detect.
    """
    registry = EngineRegistry.default()
    problems, counts = [], []
    for name in registry.names():
        outcomes = run_engine_checks(registry.get(name))
        failed = [o for o in outcomes if o.status == "failed"]
        problems += [f"{name}: {o.check}: {o.message}" for o in failed]
        counts.append(f"{name} {sum(o.status == 'passed' for o in outcomes)}/{len(outcomes)}")
    expect(not problems, "conformance kit failures: " + "; ".join(problems))
    return "checks passed per engine: " + ", ".join(counts)


def _overlaps(r: AnomalyResult, series: MetricSeries, start: int, end: int) -> bool:
    return r.window_start <= series.timestamps[end - 1] and r.window_end >= series.timestamps[start]


def check_detection() -> str:
    """zscore finds every injected anomaly, labels it right, and raises few false alarms."""
    scenarios = fleet()
    engine = EngineRegistry.default().create("zscore", **ENGINE_CONFIG)
    found, false_alarms, clean_windows = [], 0, 0
    for scenario in scenarios:
        series = scenario.series
        results = engine.detect(series)
        expect(bool(results), f"{'/'.join(series.ids)}: no results at all")
        for inj in scenario.injections:
            hits = [r for r in results if r.is_anomalous and _overlaps(r, series, inj.start, inj.end)]
            where = f"{'/'.join(series.ids)} {inj.kind.value} at {inj.start}"
            expect(bool(hits), f"{where}: not detected")
            expect(
                hits[0].anomaly_label is inj.kind,
                f"{where}: first detection labeled {hits[0].anomaly_label.value}, expected {inj.kind.value}",
            )
            found.append(inj.kind.value)
        for r in results:
            near = any(
                _overlaps(r, series, inj.start, min(len(series), inj.end + SETTLE_POINTS))
                for inj in scenario.injections
            )
            if not near:
                clean_windows += 1
                false_alarms += r.is_anomalous
    expect(
        false_alarms <= MAX_FALSE_ALARMS,
        f"{false_alarms} false alarms in {clean_windows} clean windows (at most {MAX_FALSE_ALARMS})",
    )
    return (
        f"{len(found)}/{len(found)} injected anomalies found and labeled right ({', '.join(found)}); "
        f"{false_alarms} false alarm(s) in {clean_windows} clean windows"
    )


def check_aggregation() -> str:
    """Node -> cluster -> tenant scores follow MAX and P95; tenants with equal names never mix."""
    results = detect_fleet(fleet())
    pipeline = AggregationPipeline(AggregationStrategy.MAX)
    scores = pipeline.run(results)
    tenants = {s.tenant_id: s for s in scores.tenants}
    expect(sorted(tenants) == ["acme", "zeta"], f"tenant-level scores for {sorted(tenants)}")
    for tenant, agg in tenants.items():
        own = [r for r in results if r.tenant_id == tenant]
        expect(agg.level == "tenant", f"{tenant}: level {agg.level}")
        expect(agg.aggregate_score == max(r.anomaly_score for r in own), f"{tenant}: MAX score {agg}")
        metrics = {(r.cluster_id, r.node_id, r.metric_name) for r in own}
        expect(agg.num_metrics_analyzed == len(metrics), f"{tenant}: {agg.num_metrics_analyzed} metrics")
        anomalies = sum(r.is_anomalous for r in own)
        expect(agg.num_anomalies_detected == anomalies, f"{tenant}: {agg.num_anomalies_detected} anomalies")
    # Equal names in both tenants; only acme has injected anomalies, so mixing would show here.
    expect(
        tenants["acme"].num_anomalies_detected > tenants["zeta"].num_anomalies_detected,
        f"acme {tenants['acme']} vs zeta {tenants['zeta']}",
    )
    top = pipeline.top_nodes(scores.nodes, 1, tenant_id="zeta")
    expect(len(top) == 1 and top[0].tenant_id == "zeta", f"top_nodes(zeta) gave {top}")
    p95_nodes = AggregationPipeline(AggregationStrategy.P95).aggregate_nodes(results)
    n1 = ("acme", "c-1", "n-1")
    node = next(s for s in p95_nodes if (s.tenant_id, s.cluster_id, s.node_id) == n1)
    per_metric = [
        max(
            r.anomaly_score
            for r in results
            if (r.tenant_id, r.cluster_id, r.node_id, r.metric_name) == (*n1, m)
        )
        for m in ("cpu", "mem")
    ]
    want = statistics.quantiles(per_metric, n=100, method="inclusive")[94]
    expect(math.isclose(node.aggregate_score, want, rel_tol=0, abs_tol=1e-15), f"P95 {node} != {want}")
    return (
        f"{len(scores.nodes)} nodes -> {len(scores.clusters)} clusters -> {len(scores.tenants)} tenants; "
        f"acme {tenants['acme'].aggregate_score:.3f} ({tenants['acme'].num_anomalies_detected} anomalous "
        f"windows), zeta {tenants['zeta'].aggregate_score:.3f}; P95 matches statistics.quantiles"
    )


def _explanation_cases(seed: int = SEED) -> list[tuple[str, MetricSeries, TimeWindow, AnomalyType]]:
    rng = random.Random(seed + 1)
    ids = ("acme", "c-1", "n-1", "cpu")

    def case(
        label: str, history: list[float], window: list[float], kind: AnomalyType
    ) -> tuple[str, MetricSeries, TimeWindow, AnomalyType]:
        series = make_series(ids, history + window)
        s, e = len(history), len(history) + len(window)
        win = TimeWindow(s, e, series.timestamps[s], series.timestamps[e - 1])
        return (label, series, win, kind)

    def flat(n: int) -> list[float]:
        return [rng.gauss(LEVEL, NOISE_SD) for _ in range(n)]

    def wave(n: int, phase: int = 0) -> list[float]:
        return [LEVEL + 10 * math.sin(2 * math.pi * (i + phase) / 24) + rng.gauss(0, 0.3) for i in range(n)]

    spike = flat(12)
    spike[5] += 15 * NOISE_SD
    spike[6] += 12 * NOISE_SD
    shift = flat(4) + [v + 10 * NOISE_SD for v in flat(8)]
    ramp = [v + 1.5 * i * NOISE_SD for i, v in enumerate(flat(12))]
    hist_wave = wave(24 * 8)
    return [
        case("spike", flat(200), spike, AnomalyType.SPIKE),
        case("level shift", flat(200), shift, AnomalyType.TREND),
        case("ramp", flat(200), ramp, AnomalyType.TREND),
        case("phase shift", hist_wave, wave(24, phase=24 * 8 + 12), AnomalyType.SEASONAL),
        case("normal", flat(200), flat(12), AnomalyType.NORMAL),
        case("seasonal normal", hist_wave, wave(24, phase=24 * 8), AnomalyType.NORMAL),
    ]


def check_explanations() -> str:
    """The classifier labels known windows right; explain() is one sentence naming the series."""
    clf = ExplanationClassifier()
    labels = []
    cases = _explanation_cases()
    for label, series, window, kind in cases:
        got = clf.classify(series, window)
        expect(got is kind, f"{label}: classified {got.value}, expected {kind.value}")
        labels.append(label)
    _, series, window, kind = cases[0]
    result = AnomalyResult(*series.ids, window.start_time, window.end_time, 0.9, kind, 0.5)
    text = clf.explain(series, result)
    expect(isinstance(text, str) and "\n" not in text and text.endswith("."), f"not one sentence: {text!r}")
    missing = [part for part in series.ids if part not in text]
    expect(not missing, f"explanation {text!r} does not name {missing}")
    expect(any(ch.isdigit() for ch in text), f"explanation {text!r} has no number (how far, when)")
    return f"{len(labels)}/{len(cases)} windows labeled right ({', '.join(labels)}); explain: {text!r}"


def check_store() -> str:
    """Series, results and aggregates round-trip through SQLite; retention rolls up; reopen keeps all."""
    scenarios = fleet()
    series = [s.series for s in scenarios]
    results = detect_fleet(scenarios)
    aggregates = AggregationPipeline().run(results)
    snapshot = aggregates.tenants + aggregates.clusters + aggregates.nodes
    policy = RetentionPolicy(hot_retention=timedelta(hours=2), rollup_interval=timedelta(minutes=10))
    with tempfile.TemporaryDirectory(prefix="verify-phase1-") as tmp:
        path = Path(tmp) / "verify.db"
        with SQLiteMetricStore(path, policy=policy) as store:
            points = store.write_batch(series)
            for s in series:
                back = store.get_metric_series(*s.ids, EARLY, FAR)
                expect(back == s, f"{'/'.join(s.ids)}: read back differs from what was written")
            store.write_results(results, engine="zscore")
            store.write_aggregates(snapshot, computed_at=T0, engine="zscore")
            for tenant in ("acme", "zeta"):
                want_results = store_results_sorted(results, tenant)
                expect(store.read_results(tenant) == want_results, f"{tenant}: results differ")
                want = [a for a in snapshot if a.tenant_id == tenant]
                got = store.read_aggregates(tenant)
                expect(sorted(got, key=repr) == sorted(want, key=repr), f"{tenant}: aggregates differ")
            report = store.apply_retention(T0 + timedelta(hours=2) + N_POINTS // 2 * MINUTE)
            first = series[0]
            mixed = store.get_metric_series(*first.ids, EARLY, FAR)
            buckets = store.get_rollup_buckets(*first.ids, EARLY, FAR)
            expect(report.points_rolled_up > 0 and bool(buckets), f"retention did nothing: {report}")
            bucket_points = first.values.tolist()[: buckets[0].count]
            expect(
                math.isclose(buckets[0].mean, statistics.fmean(bucket_points), rel_tol=1e-12),
                f"first bucket mean {buckets[0].mean} != {statistics.fmean(bucket_points)}",
            )
            expect(
                len(mixed) == len(buckets) + len(first) - sum(b.count for b in buckets),
                f"tiered read gave {len(mixed)} points",
            )
            counts = store.tier_counts()
        with SQLiteMetricStore(path) as again:
            expect(
                again.tier_counts() == counts, f"reopen changed tier counts {again.tier_counts()} != {counts}"
            )
            expect(
                again.read_results("acme") == store_results_sorted(results, "acme"), "results lost on reopen"
            )
    return (
        f"{len(series)} series / {points} points, {len(results)} results, {len(snapshot)} aggregates "
        f"round-tripped; retention rolled {report.points_rolled_up} points into {report.buckets_written} "
        f"buckets; reopen kept hot={counts['hot']} cold={counts['cold']}"
    )


def store_results_sorted(results: Sequence[AnomalyResult], tenant: str) -> list[AnomalyResult]:
    """``tenant``'s results in the store's read order."""
    own = [r for r in results if r.tenant_id == tenant]
    return sorted(own, key=lambda r: (r.cluster_id, r.node_id, r.metric_name, r.window_start, r.window_end))


CHECKS: list[Callable[[], str]] = [
    check_imports,
    check_contracts,
    check_windows,
    check_registry,
    check_conformance,
    check_detection,
    check_aggregation,
    check_explanations,
    check_store,
]


@dataclass(frozen=True)
class Outcome:
    """What one check did: its name, whether it passed, what it measured, how long it took."""

    name: str
    ok: bool
    detail: str
    seconds: float


def run_checks(checks: Sequence[Callable[[], str]] | None = None) -> list[Outcome]:
    """Run ``checks`` (default: all) in order; an exception in one fails only that one."""
    outcomes = []
    for check in CHECKS if checks is None else checks:
        name = check.__name__.removeprefix("check_")
        started = time.perf_counter()
        try:
            detail, ok = check(), True
        except CheckFailedError as exc:
            detail, ok = str(exc), False
        except Exception as exc:  # an unexpected crash is a failure of this check, not of the run
            detail, ok = f"crashed: {type(exc).__name__}: {exc}", False
        outcomes.append(Outcome(name, ok, detail, time.perf_counter() - started))
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checks, print the checklist; return 0 if all passed, 1 otherwise."""
    tolerant_output()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    names = [c.__name__.removeprefix("check_") for c in CHECKS]
    parser.add_argument("--only", action="append", choices=names, help="run only this check (repeatable)")
    args = parser.parse_args(argv)
    chosen = [c for c in CHECKS if not args.only or c.__name__.removeprefix("check_") in args.only]
    print(f"verify_phase1: backend.analytics at {ROOT} (Python {sys.version.split()[0]})")
    outcomes = run_checks(chosen)
    width = max(len(o.name) for o in outcomes)
    for o in outcomes:
        print(f"[{'PASS' if o.ok else 'FAIL'}] {o.name:<{width}} {o.seconds:5.2f}s  {o.detail}")
    failed = [o.name for o in outcomes if not o.ok]
    total = sum(o.seconds for o in outcomes)
    if failed:
        print(
            f"{len(outcomes) - len(failed)}/{len(outcomes)} checks passed in {total:.1f}s; "
            f"FAILED: {', '.join(failed)}"
        )
        return 1
    print(f"{len(outcomes)}/{len(outcomes)} checks passed in {total:.1f}s")
    return 0


if __name__ == "__main__":
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:  # (`python verify_phase1.py | head`: the reader went away)
        status = reader_gone()
    sys.exit(status)
