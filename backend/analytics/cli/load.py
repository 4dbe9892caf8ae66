"""``load``: read a CSV file or a Prometheus server into a SQLite store, printing the load report.

python -m backend.analytics load csv FILE --store DB [--column ROLE=NAME ...] [--id ROLE=VALUE ...]
    [--timestamp-format FMT] [--timezone ZONE] [--duplicates error|first|last|mean] [--strict]
python -m backend.analytics load prometheus --url URL --query PROMQL --start T --end T (--step 5m | --samples)
    --store DB [--label ROLE=LABEL ...] [--default ROLE=VALUE ...] [--strip-prefix P]
"""

from __future__ import annotations

import argparse
from typing import Any

from ..io import LabelMapping, Loaded, PrometheusSource, read_csv
from ..io._rows import DUPLICATE_POLICIES, ID_ROLES, ROLES
from ._common import add_store, open_store, parse_duration, parse_pairs, parse_time

__all__ = ["add_parser"]


def _store(loaded: Loaded, args: argparse.Namespace) -> int:
    print(loaded.report.format(limit=args.show))
    if not loaded.series:
        # Nothing to write: say so with a failing status (a script must not carry on with an empty store).
        rows = loaded.report.rows
        raise ValueError(f"nothing to load: {rows:,} rows read, none accepted (the report above says why)")
    if args.dry_run:
        return 0
    store = open_store(args.store, create=True)
    try:
        n = store.write_batch(loaded.series)
    finally:
        store.close()
    print(f"wrote {n:,} points of {len(loaded.series):,} series to {args.store}")
    return 0


def _csv(args: argparse.Namespace) -> int:
    loaded = read_csv(
        args.file,
        columns=parse_pairs("--column", args.column) or None,
        ids=parse_pairs("--id", args.id) or None,
        timestamp_format=args.timestamp_format,
        timezone=args.timezone,
        duplicates=args.duplicates,
        strict=args.strict,
        delimiter=args.delimiter,
        encoding=args.encoding,
    )
    return _store(loaded, args)


def _prometheus(args: argparse.Namespace) -> int:
    labels = parse_pairs("--label", args.label)
    unknown = sorted(set(labels) - set(ID_ROLES))
    if unknown:
        raise ValueError(f"--label takes roles among {', '.join(ID_ROLES)}, got {', '.join(unknown)}")
    mapping_args: dict[str, Any] = dict(labels)
    mapping = LabelMapping(
        **mapping_args, defaults=parse_pairs("--default", args.default), strip_prefix=args.strip_prefix
    )
    source = PrometheusSource(args.url, mapping=mapping, max_points=args.max_points, timeout=args.timeout)
    start, end = parse_time("--start", args.start), parse_time("--end", args.end)
    if args.samples:
        if args.step is not None:
            raise ValueError("--samples reads each sample at its own time: give no --step")
        loaded = source.query_samples(args.query, start, end, strict=args.strict)
    elif args.step is None:
        raise ValueError("give --step (the scrape interval), or --samples to read the raw samples")
    else:
        loaded = source.query_range(args.query, start, end, parse_duration(args.step), strict=args.strict)
    return _store(loaded, args)


def _common(p: argparse.ArgumentParser) -> None:
    add_store(p)
    p.add_argument(
        "--strict", action="store_true", help="stop at the first refused row instead of reporting it"
    )
    p.add_argument("--show", type=int, default=20, help="issues listed in the report (default 20)")
    p.add_argument("--dry-run", action="store_true", help="read and report, but write nothing")


def add_parser(sub: Any) -> None:
    """Register ``load csv`` and ``load prometheus``."""
    load = sub.add_parser("load", help="read a CSV file or a Prometheus server into a store")
    kinds = load.add_subparsers(dest="source", required=True, metavar="{csv,prometheus}")
    c = kinds.add_parser(
        "csv",
        help="a long-format CSV file (one point per row)",
        description="Read a long-format CSV file with backend.analytics.io.read_csv. Roles: "
        f"{', '.join(ROLES)}; default columns tenant_id, cluster_id, node_id, metric_name, timestamp, value.",
    )
    c.add_argument("file", help="the CSV file")
    c.add_argument("--column", action="append", metavar="ROLE=NAME", help="the column of a role (repeatable)")
    c.add_argument(
        "--id", action="append", metavar="ROLE=VALUE", help="a constant id for a role (repeatable)"
    )
    c.add_argument(
        "--timestamp-format", help="iso (default), epoch_s, epoch_ms, epoch_us or a strptime format"
    )
    c.add_argument(
        "--timezone", help="zone of timestamps without an offset, e.g. Europe/Paris (else refused)"
    )
    c.add_argument(
        "--duplicates", choices=DUPLICATE_POLICIES, default="error", help="rows repeating an instant"
    )
    c.add_argument("--delimiter", default=",", help="field separator (default ,)")
    c.add_argument(
        "--encoding",
        default="utf-8-sig",
        help="the file's text encoding, e.g. latin-1 or utf-16 (default UTF-8, with or without a BOM)",
    )
    _common(c)
    c.set_defaults(func=_csv)
    p = kinds.add_parser(
        "prometheus",
        help="series from a Prometheus server (query_range, or the raw samples with --samples)",
        description="Read series with backend.analytics.io.prometheus.PrometheusSource: tenant, cluster and "
        "node from the labels tenant, cluster and node, the metric from __name__, unless --label says "
        "otherwise.",
    )
    p.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:9090")
    p.add_argument("--query", required=True, help='PromQL, e.g. {job="node"}')
    p.add_argument("--start", required=True, help="ISO 8601 time with offset")
    p.add_argument("--end", default="now", help="ISO 8601 time with offset, or now (default)")
    p.add_argument("--step", help="evaluation step, e.g. 15s or 5m (use the scrape interval)")
    p.add_argument(
        "--samples",
        action="store_true",
        help="read the raw samples, each at its own time (a series selector as --query; no --step)",
    )
    p.add_argument("--label", action="append", metavar="ROLE=LABEL", help="the label of a role (repeatable)")
    p.add_argument("--default", action="append", metavar="ROLE=VALUE", help="id when the label is missing")
    p.add_argument("--strip-prefix", default="", help="removed from the start of metric names")
    p.add_argument("--max-points", type=int, default=11_000, help="points per request (default 11000)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    _common(p)
    p.set_defaults(func=_prometheus)
