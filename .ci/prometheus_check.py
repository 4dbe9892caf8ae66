"""The real-Prometheus check that .ci/prometheus.sh runs once Prometheus is up (see that script).

1. Read what Prometheus stored of `python -m simulator serve` (backfilled history plus live scrapes)
   through PrometheusSource.query_range, in chunks, and check it equals the simulated fleet exactly.
2. Detect with zscore on what Prometheus returned; the results must equal detection on the simulated
   series, and the injected anomalies (all but the seasonal kinds, which zscore is not built to find)
   must be found: recall at least --min-recall.
3. Export the scores with ExpositionServer, let Prometheus scrape them, and query one back.

Every wait is bounded; exits non-zero with a reason on the first failure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from backend.analytics import AggregationPipeline, EngineRegistry
from backend.analytics.io.exposition import ExpositionServer, analytics_families, format_value, render
from backend.analytics.io.prometheus import LabelMapping, PrometheusError, PrometheusSource
from simulator import Fleet, FleetConfig
from simulator.anomalies import SEASONAL_KINDS
from simulator.evaluate import evaluate
from simulator.pipeline import default_engine_config, evaluation_slack


def fail(message: str) -> None:
    print(f"FAILED: {message}", flush=True)
    sys.exit(1)


def instant(url: str, query: str) -> list[dict[str, Any]]:
    body = urllib.parse.urlencode({"query": query}).encode()
    with urllib.request.urlopen(f"{url}/api/v1/query", data=body, timeout=10) as resp:
        doc = json.load(resp)
    if doc.get("status") != "success":
        fail(f"instant query {query!r}: {doc}")
    result: list[dict[str, Any]] = doc["data"]["result"]
    return result


def wait_for(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(1.0)


def promtool_check_metrics(text: str, what: str) -> None:
    out = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60, check=False
    )
    if out.returncode != 0:
        fail(f"promtool check metrics on {what}: {out.stdout}{out.stderr}")
    print(f"promtool check metrics: {what} passes", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prometheus", required=True)
    ap.add_argument("--serve-dir", type=Path, required=True)
    ap.add_argument("--exporter-port", type=int, required=True)
    ap.add_argument("--scrape-wait", type=float, default=15.0, help="seconds a new point needs to be scraped")
    ap.add_argument("--max-points", type=int, default=500, help="points per query_range request (chunking)")
    ap.add_argument("--min-recall", type=float, default=0.8)
    args = ap.parse_args()
    prom = args.prometheus.rstrip("/")
    serve = json.loads((args.serve_dir / "serve.json").read_text())
    truth_doc = json.loads((args.serve_dir / "ground_truth.json").read_text())
    cfg = FleetConfig.from_mapping(truth_doc["config"])
    fleet = Fleet(cfg)
    step = timedelta(seconds=cfg.step_seconds)
    start = cfg.start
    live_from = datetime.fromisoformat(serve["live_from"])
    prefix = serve["prefix"]

    # Prometheus must have scraped the first live point (it exists only through the scrape).
    def has_live() -> bool:
        rows = instant(prom, f'max(timestamp({prefix}cpu))')
        return bool(rows) and float(rows[0]["value"][1]) >= live_from.timestamp()

    wait_for(f"a live scrape at or after {live_from.isoformat()}", has_live, 120)
    now = datetime.now(timezone.utc) - timedelta(seconds=args.scrape_wait)
    # Every series comes from the same scrape, so the first live point, seen above, is in all of them;
    # later points may still be in flight (hence the scrape wait), the first one is not.
    end = max(start + ((now - start) // step) * step, live_from)
    print(f"reading {start.isoformat()} .. {end.isoformat()} every {step}; live from {live_from.isoformat()}")

    # 1. Read back through the source, in chunks, and compare with the simulation.
    source = PrometheusSource(prom, mapping=LabelMapping(strip_prefix=prefix), max_points=args.max_points)
    n_chunks = len(source.chunks(start, end, step))
    t0 = time.perf_counter()
    series, report = source.query_range(f'{{__name__=~"{prefix}.+"}}', start, end, step, strict=True)
    took = time.perf_counter() - t0
    print(f"{report.summary()} in {n_chunks} chunks of <= {args.max_points} points, {took:.1f} s")
    if n_chunks < 2:
        fail(f"expected the range to need several chunks, got {n_chunks}")
    if not report.clean:
        fail(f"the load report is not clean:\n{report}")
    end_us = int(end.timestamp() * 1_000_000)
    expected = {}
    for s in fleet.iter_series():
        n = sum(1 for us in s.epoch_us if us <= end_us)
        expected[s.ids] = s.slice(0, n)
    got = {s.ids: s for s in series}
    if set(got) != set(expected):
        missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
        fail(f"series differ: missing {missing[:3]}, extra {extra[:3]}")
    for ids, s in expected.items():
        g = got[ids]
        if list(g.epoch_us) != list(s.epoch_us) or g.values.tolist() != s.values.tolist():
            fail(f"{'/'.join(ids)}: Prometheus gave {len(g)} points, the simulation {len(s)}; they differ")
    live_points = sum(1 for s in series for us in s.epoch_us if us >= live_from.timestamp() * 1_000_000)
    if live_points == 0:
        fail("no point from the live scrapes came back")
    print(f"all {len(series)} series equal the simulation exactly ({live_points} points from live scrapes)")

    # 1b. The raw samples, each at its own time (range selectors in chunks): the same series here, where
    # every sample sits on the step grid with no gap.
    t0 = time.perf_counter()
    raw, raw_report = source.query_samples(
        f'{{__name__=~"{prefix}.+"}}', start, end, chunk=timedelta(hours=7), strict=True
    )
    if not raw_report.clean or {s.ids: (list(s.epoch_us), s.values.tolist()) for s in raw} != {
        ids: (list(s.epoch_us), s.values.tolist()) for ids, s in expected.items()
    }:
        fail(f"query_samples differs from the simulation:\n{raw_report}")
    took = time.perf_counter() - t0
    print(f"query_samples: {raw_report.summary()} in {took:.1f} s, equal to the simulation")

    # 2. Detection on what Prometheus stored finds the injected anomalies.
    engine_cfg = default_engine_config(cfg)
    engine = EngineRegistry.default().create("zscore", **engine_cfg)
    results = [r for s in series for r in engine.detect(s)]
    reference = [r for ids in got for r in engine.detect(expected[ids])]
    if results != reference:
        fail("detection on Prometheus' series differs from detection on the simulated series")
    truth = [g for g in fleet.ground_truth if g.start <= end and g.kind not in SEASONAL_KINDS]
    # The same slack and gap as the demo: two windows after an anomaly's end, windows one stride apart.
    stride = int(getattr(engine, "stride_points", 1))
    ev = evaluate(results, truth, slack=evaluation_slack(cfg, engine), gap=step * stride)
    print(
        f"zscore on Prometheus data: recall {ev.recall:.2f} ({ev.found_records}/{ev.records} injected "
        f"(series, anomaly) pairs, seasonal kinds left out), precision {ev.precision:.2f}, "
        f"{ev.found_incidents}/{ev.incidents} incidents"
    )
    for kind, ks in ev.by_kind.items():
        print(f"  {kind:<18} {ks.found:>4}/{ks.injected:<4} found")
    if ev.recall < args.min_recall:
        fail(f"recall {ev.recall:.2f} < {args.min_recall}")

    # 3. Export the scores; Prometheus scrapes them; query one back.
    fleet_scores = AggregationPipeline().run(results)
    aggregates = [*fleet_scores.nodes, *fleet_scores.clusters, *fleet_scores.tenants]
    text = render(analytics_families(results, aggregates, engine="zscore"))
    promtool_check_metrics(text, "the exported scores")
    sim_text = urllib.request.urlopen(serve["url"], timeout=10).read().decode()
    promtool_check_metrics(sim_text, "simulator serve's endpoint")
    top = max(fleet_scores.nodes, key=lambda a: (a.aggregate_score, a.tenant_id, a.cluster_id, a.node_id))
    query = (
        f'backend_analytics_node_score{{tenant="{top.tenant_id}",cluster="{top.cluster_id}",'
        f'node="{top.node_id}"}}'
    )
    with ExpositionServer(lambda: text, port=args.exporter_port) as exporter:
        print(f"exporting {len(text.splitlines())} lines at {exporter.url}")
        rows = wait_for(f"Prometheus to scrape {query}", lambda: instant(prom, query), 60)
        labels = instant(prom, 'count(backend_analytics_anomaly_label{engine="zscore"} == 1)')
    got_value = rows[0]["value"][1]
    if got_value != format_value(top.aggregate_score):
        fail(f"{query} came back as {got_value}, exported {format_value(top.aggregate_score)}")
    n_series = len({r.tenant_id + r.cluster_id + r.node_id + r.metric_name for r in results})
    if not labels or int(labels[0]["value"][1]) != n_series:
        fail(f"expected one label set to 1 for each of {n_series} series, got {labels}")
    print(f"Prometheus scraped the exported scores: {query} = {got_value} (as exported)")
    try:
        PrometheusSource(prom).query_range("sum(", start, end, step)
    except PrometheusError as exc:
        if exc.status != 400 or exc.error_type != "bad_data":
            fail(f"a bad query gave {exc.status} {exc.error_type}: {exc}")
        print(f"a bad query is reported: {exc}")
    else:
        fail("a bad query raised no PrometheusError")
    print("prometheus check passed")


if __name__ == "__main__":
    main()
