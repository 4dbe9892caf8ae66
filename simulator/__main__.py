"""Command line: ``python -m simulator {generate,demo}``; see ``python -m simulator --help``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from .config import FleetConfig, load_toml
from .demo import format_report, run_demo
from .fleet import Fleet
from .output import write_fleet, write_to_store

__all__ = ["main"]


def _progress(label: str, enabled: bool) -> Callable[[int, int], None] | None:
    """A progress callback writing ``label done/total (pct)`` to stderr at most twice a second."""
    if not enabled:
        return None
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= 0.5:
            last[0] = now
            end = "\n" if done == total else ""
            sys.stderr.write(f"\r{label}: {done}/{total} ({done / max(total, 1):.0%})" + end)
            sys.stderr.flush()

    return report


def _int_at_least(lo: int) -> Callable[[str], int]:
    """An argparse ``type`` for ints >= ``lo``: a bad value is a usage error before any work."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int >= {lo}, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"expected an int >= {lo}, got {value}")
        return value

    parse.__name__ = f"int >= {lo}"  # argparse names the type in its messages
    return parse


def _config(args: argparse.Namespace) -> FleetConfig:
    cfg = load_toml(args.config) if args.config else FleetConfig()
    if getattr(args, "seed", None) is not None:
        cfg = replace(cfg, seed=args.seed)
    return cfg


def _generate(args: argparse.Namespace) -> int:
    cfg = _config(args)
    fleet = Fleet(cfg)
    progress = _progress("writing series", not args.quiet)
    written = write_fleet(fleet, args.out, fmt=args.format, progress=progress)
    if args.store:
        # Imported only when asked for, so `generate` works without the store module.
        from backend.analytics.store import SQLiteMetricStore  # noqa: PLC0415

        store = SQLiteMetricStore(args.store)
        try:
            n = write_to_store(
                fleet, store, chunk_points=args.chunk_points, progress=_progress("storing", not args.quiet)
            )
        finally:
            close = getattr(store, "close", None)
            if close is not None:
                close()
        print(f"wrote {n:,} points to the SQLite store {args.store}")
    for _name, path in written.items():
        print(f"wrote {path}")
    n_gt, n_inc = len(fleet.ground_truth), len(fleet.incidents)
    print(f"{len(fleet)} series, {n_gt} labelled anomalies in {n_inc} incidents")
    return 0


def _demo(args: argparse.Namespace) -> int:
    cfg = _config(args)
    unit = "series" if args.chunk_points is None else "time slices"
    progress = _progress(f"detecting ({unit})", not args.quiet)
    report = run_demo(cfg, top=args.top, chunk_points=args.chunk_points, progress=progress)
    format_report(report, sys.stdout)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m simulator``."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Seeded multi-tenant fleet simulator with labelled anomalies (stdlib only).",
        epilog="Same seed and configuration give byte-identical output. "
        "Configuration: a TOML file (see simulator/config.py); without one, the default fleet.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{generate,demo}")
    gen = sub.add_parser(
        "generate",
        help="write a fleet's series and ground truth to files (and a store)",
        description="Write series.csv / series.jsonl, ground_truth.json and ground_truth.csv.",
    )
    gen.add_argument("--config", type=Path, help="TOML configuration file (default: the built-in fleet)")
    gen.add_argument("--out", type=Path, required=True, help="output directory (created if needed)")
    gen.add_argument(
        "--format",
        choices=("csv", "jsonl", "both", "none"),
        default="csv",
        help="series file format (default: csv; 'none' writes only the ground truth)",
    )
    gen.add_argument("--seed", type=int, help="override the configuration's seed")
    gen.add_argument("--store", type=Path, help="also write into this SQLite reference store file")
    gen.add_argument(
        "--chunk-points",
        type=_int_at_least(1),
        default=None,
        help="write to the store in time slices of this many points (bounded memory)",
    )
    gen.add_argument("--quiet", action="store_true", help="no progress on stderr")
    gen.set_defaults(func=_generate)
    demo = sub.add_parser(
        "demo",
        help="simulate, detect with zscore, aggregate, and print an incident summary",
        description="Simulate a fleet, run the stdlib zscore engine and the aggregation "
        "pipeline, and print the top nodes per tenant with explanations next to the "
        "ground truth, plus precision and recall.",
    )
    demo.add_argument("--config", type=Path, help="TOML configuration file (default: the built-in fleet)")
    demo.add_argument("--seed", type=int, help="override the configuration's seed")
    demo.add_argument(
        "--top", type=_int_at_least(0), default=3, help="top nodes shown per tenant (default 3)"
    )
    demo.add_argument(
        "--chunk-points",
        type=_int_at_least(1),
        default=None,
        help="generate and detect in time slices of this many points (streaming; same results)",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress on stderr")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (ValueError, TypeError, RuntimeError, OSError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
