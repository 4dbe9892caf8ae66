"""``detect``: run an engine over a tenant's stored series; store its results and the aggregates.

python -m backend.analytics detect --store DB --tenant T [--engine zscore] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import Any

from ..aggregation import AggregationPipeline
from ..engine import EngineRegistry
from ._common import add_store, open_store, parse_settings

__all__ = ["add_parser"]



def _detect(args: argparse.Namespace) -> int:
    engine = EngineRegistry.default().create(args.engine, **parse_settings(args.set))
    store = open_store(args.store, create=False)
    try:
        keys = store.list_series(args.tenant)
        if not keys:
            raise ValueError(f"tenant {args.tenant!r} has no series in {args.store}")
        results = []
        for key in keys:
            results.extend(engine.detect(store.get_whole_series(*key)))
        store.write_results(results, engine=args.engine)
        fleet = AggregationPipeline().run(results)
        store.write_aggregates(fleet, computed_at=datetime.now(timezone.utc), engine=args.engine)
    finally:
        store.close()
    anomalous = sum(1 for r in results if r.is_anomalous)
    print(
        f"{args.engine} on {len(keys)} series of tenant {args.tenant}: {len(results):,} results, "
        f"{anomalous:,} anomalous; stored in {args.store}"
    )
    for ns in AggregationPipeline().top_nodes(fleet.nodes, 5, tenant_id=args.tenant):
        print(
            f"  {ns.cluster_id}/{ns.node_id}: score {ns.aggregate_score:.2f}, "
            f"{ns.num_anomalies_detected} anomalous window{'' if ns.num_anomalies_detected == 1 else 's'}"
        )
    return 0


def add_parser(sub: Any) -> None:
    """Register ``detect``."""
    p = sub.add_parser(
        "detect",
        help="run an engine over a tenant's stored series",
        description="Run an engine (default zscore) over every stored series of the tenant, then store the "
        "results and the node, cluster and tenant aggregates under the engine's name.",
    )
    add_store(p)
    p.add_argument("--tenant", required=True)
    p.add_argument("--engine", default="zscore", help="a registered engine name (default zscore)")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="engine setting, e.g. window_size_points=6"
    )
    p.set_defaults(func=_detect)
