"""``export``: a tenant's stored scores as Prometheus metrics, printed or served for scraping.

python -m backend.analytics export --store DB --tenant T [--engine NAME] [--serve --port 9109]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..io.exposition import ExpositionServer, analytics_families, render
from ._common import add_store, open_store, pick_engine

__all__ = ["add_parser"]


def _text(args: argparse.Namespace) -> str:
    store = open_store(args.store, create=False)
    try:
        name = pick_engine(store, args.tenant, args.engine)
        results = store.read_latest_results(args.tenant, engine=name)  # (what the families show)
        aggregates = store.read_aggregates(args.tenant, engine=name)
    finally:
        store.close()
    return render(analytics_families(results, aggregates, engine=name))


def _export(args: argparse.Namespace) -> int:
    if not args.serve:
        sys.stdout.write(_text(args))
        return 0
    _text(args)  # fail now, not at the first scrape, if the store or tenant is wrong
    server = ExpositionServer(lambda: _text(args), host=args.host, port=args.port)
    print(
        f"serving the scores of tenant {args.tenant} at {server.url} (re-read at each scrape); Ctrl-C stops"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def add_parser(sub: Any) -> None:
    """Register ``export``."""
    p = sub.add_parser(
        "export",
        help="the stored scores as Prometheus metrics",
        description="Print (or serve at http://HOST:PORT/metrics) the latest window's score and label per "
        "series and the node, cluster and tenant aggregates (backend.analytics.io.exposition).",
    )
    add_store(p)
    p.add_argument("--tenant", required=True)
    p.add_argument("--engine", help="whose results (default: the tenant's only engine)")
    p.add_argument("--serve", action="store_true", help="serve for scraping instead of printing")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9109)
    p.set_defaults(func=_export)
