"""``report``: the self-contained HTML report of a tenant's stored results.

python -m backend.analytics report --store DB --tenant T --out PATH.html [--engine NAME] [--top N]
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from .._validate import MAX_UTC, MIN_UTC
from ..aggregation import AggregationStrategy
from ..engine import EngineRegistry
from ..report import write_report
from ..store import SeriesNotFoundError
from ..types import AggregatedAnomalyScore, AnomalyResult, MetricSeries
from ._common import add_store, open_store, parse_duration, parse_settings, pick_engine

__all__ = ["add_parser"]


def _shifted(t: datetime, by: timedelta) -> datetime:
    """``t + by``, or the calendar's first or last instant where that lies beyond it (--context 3000000d)."""
    try:
        return t + by
    except OverflowError:
        return MIN_UTC if by < timedelta(0) else MAX_UTC


def _one_strategy(
    aggregates: list[AggregatedAnomalyScore], chosen: str | None
) -> list[AggregatedAnomalyScore]:
    """The snapshot's scores of one aggregation strategy: ``chosen``, or the only one it holds."""
    held = sorted({str(a.aggregation_strategy.value) for a in aggregates})
    if chosen is None:
        if len(held) <= 1:
            return aggregates
        raise ValueError(
            f"the latest snapshot holds scores of strategies {', '.join(held)}; choose one with --strategy"
        )
    if chosen not in held:
        raise ValueError(f"--strategy {chosen}: the latest snapshot holds {', '.join(held) or 'no scores'}")
    return [a for a in aggregates if a.aggregation_strategy.value == chosen]


def _report(args: argparse.Namespace) -> int:
    store = open_store(args.store, create=False)
    try:
        name = pick_engine(store, args.tenant, args.engine)
        results = store.read_results(args.tenant, engine=name)
        aggregates = _one_strategy(store.read_aggregates(args.tenant, engine=name), args.strategy)
        registry = EngineRegistry.default()
        # The engine object gives the expected band (and explanations missing from the store).
        engine = registry.create(name, **parse_settings(args.set)) if name in registry else None
        before, after = parse_duration(args.context), parse_duration(args.after)

        # The points before the plot that the engine's band reads (its explanations' history).
        reach = getattr(engine, "context_points", 0) if engine is not None else 0

        def series_for(r: AnomalyResult) -> MetricSeries | None:
            ids = (r.tenant_id, r.cluster_id, r.node_id, r.metric_name)
            try:
                lo, hi = _shifted(r.window_start, -before), _shifted(r.window_end, after)
                shown = store.get_metric_series(*ids, lo, hi)
            except SeriesNotFoundError:
                return None
            if not isinstance(reach, int) or reach <= 0 or len(shown) < 2:
                return shown
            # That many points before the plot, at its median step, for the band (the report plots
            # only the last `before` of what it is given).
            us = shown.epoch_us
            step = sorted(b - a for a, b in pairwise(us))[(len(us) - 1) // 2]
            try:
                since = shown.timestamps[0] - timedelta(microseconds=step * reach)
            except OverflowError:  # (before the year 1: the plot's points alone)
                return shown
            return store.get_metric_series(*ids, since, hi)

        path = write_report(
            args.out,
            results,
            series_for=series_for,
            node_scores=aggregates or None,
            engine=engine,
            engine_name=name,
            title=args.title or f"Anomaly report: tenant {args.tenant}",
            top=args.top,
            context_points=args.context_points,
            context=before,
        )
    finally:
        store.close()
    print(f"wrote {path} ({len(results):,} results of engine {name})")
    return 0


def add_parser(sub: Any) -> None:
    """Register ``report``."""
    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a tenant's results",
        description="One HTML file (inline SVG, no script, works offline): the fleet heat map, the top "
        "nodes, and a plot of each top anomaly with its window, explanation and the engine's expected "
        "band (the built-in engines: what the explanation measures the window against, +-3 sd).",
    )
    add_store(p)
    p.add_argument("--tenant", required=True)
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.add_argument("--engine", help="whose results (default: the tenant's only engine)")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="settings of the engine that draws the band (its classifier's, e.g. utc_offset_minutes)",
    )
    p.add_argument(
        "--strategy",
        choices=[strategy.value for strategy in AggregationStrategy],
        help="whose node scores rank the nodes, where the snapshot holds several (default: its only one)",
    )
    p.add_argument("--top", type=int, default=5, help="top nodes (default 5)")
    p.add_argument("--context", default="1d", help="series shown before a window (default 1d)")
    p.add_argument("--after", default="3h", help="series shown after a window (default 3h)")
    p.add_argument(
        "--context-points", type=int, default=288, help="at most this many points before (default 288)"
    )
    p.add_argument("--title", help="page title")
    p.set_defaults(func=_report)
