"""Command line: ``python -m simulator {generate,demo,serve}``; see ``python -m simulator --help``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import FrameType

from backend.analytics.cli._console import ProgressLine, reader_gone, tolerant_output
from backend.analytics.errors import UnknownEngineError

from .config import FleetConfig, load_toml
from .demo import format_report, run_demo, write_html_report
from .fleet import Fleet
from .output import write_fleet, write_ground_truth, write_to_store
from .pipeline import DEFAULT_ENGINE

__all__ = ["main"]


def _progress(label: str, enabled: bool) -> Callable[[int, int], None] | None:
    """A progress callback writing ``label: done/total (pct)`` to stderr (:class:`ProgressLine`: twice a
    second on a terminal, a line every 10 s in a pipe or a log)."""
    if not enabled:
        return None
    line = ProgressLine(every=0.5)

    def report(done: int, total: int) -> None:
        line.show(f"{label}: {done}/{total} ({done / max(total, 1):.0%})", final=done == total)

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
    if args.chunk_points is not None and not args.store:
        # (The files are written series by series anyway: the option would do nothing, silently.)
        raise ValueError("--chunk-points slices the writes to --store; give --store too, or leave it out")
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


def _check_report_path(path: Path) -> None:
    """Refuse, before the demo runs for seconds, a report path that cannot be written."""
    if path.is_dir():
        raise ValueError(f"--report {path}: is a directory; give the HTML file to write")
    parent = path.parent
    if not parent.is_dir():
        raise ValueError(f"--report {path}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"--report {path}: the directory {parent} is not writable")


def _demo(args: argparse.Namespace) -> int:
    if args.report:
        _check_report_path(args.report)
    cfg = _config(args)
    unit = "series" if args.chunk_points is None else "time slices"
    progress = _progress(f"detecting ({unit})", not args.quiet)
    report = run_demo(
        cfg, top=args.top, chunk_points=args.chunk_points, progress=progress, engine=args.engine
    )
    format_report(report, sys.stdout)
    if args.report:
        path = write_html_report(report, args.report)
        print(f"\nwrote the HTML report {path}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    # Imported here: only `serve` needs the HTTP server and the exposition writer.
    from backend.analytics.io.exposition import ExpositionServer  # noqa: PLC0415

    from .serve import LiveFleet, anchored_config, live_from, parse_duration, write_history  # noqa: PLC0415

    now = datetime.now(timezone.utc)
    cfg = anchored_config(_config(args), now, parse_duration(args.start_offset))
    duration = parse_duration(args.duration) if args.duration else None
    fleet = Fleet(cfg)
    live = LiveFleet(fleet, prefix=args.prefix)
    step = cfg.step_seconds
    first_live = live_from(cfg, now)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        write_ground_truth(fleet, args.out)
        print(f"wrote {args.out / 'ground_truth.json'} and ground_truth.csv (times are absolute)")
        if args.history:
            path = args.out / "history.om"
            with open(path, "w", encoding="utf-8", newline="\n") as fh:
                n = write_history(live, first_live, fh)
            print(f"wrote {n:,} samples before {first_live.isoformat()} to {path} (OpenMetrics)")
    elif args.history:
        raise ValueError("--history needs --out DIR")
    server = ExpositionServer(
        lambda: live.render_at(datetime.now(timezone.utc)), host=args.host, port=args.port
    )
    if args.out:
        info = {
            "url": server.url,
            "prefix": args.prefix,
            "start": live.start.isoformat(),
            "end": live.end.isoformat(),
            "live_from": first_live.isoformat(),
            "step_seconds": step,
        }
        (args.out / "serve.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # SIGTERM (kill, timeout) stops the server cleanly; only the main thread may set a handler.
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_signal) if in_main else None
    deadline = live.end if duration is None else min(live.end, now + timedelta(seconds=duration))
    server.start()
    try:
        print(
            f"serving {len(fleet)} series of {len(cfg.tenants)} tenants at {server.url}; timeline "
            f"{live.start.isoformat()} .. {live.end.isoformat()} every {step} s; "
            f"stops at {deadline.isoformat()}",
            flush=True,
        )
        while not stop.is_set():
            left = (deadline - datetime.now(timezone.utc)).total_seconds()
            if left <= 0:
                break
            stop.wait(min(left, 1.0))
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    print("stopped", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m simulator``."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Seeded multi-tenant fleet simulator with labelled anomalies (stdlib only).",
        epilog="Same seed and configuration give byte-identical output. "
        "Configuration: a TOML file (see simulator/config.py); without one, the default fleet.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{generate,demo,serve}")
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
        help="simulate, detect, aggregate, and print an incident summary",
        description="Simulate a fleet, run a registered engine (default: zscore) and the "
        "aggregation pipeline, and print the top nodes per tenant with explanations next to "
        "the ground truth, plus precision and recall.",
    )
    demo.add_argument(
        "--engine",
        default=DEFAULT_ENGINE,
        help=f"registered engine to run, with its defaults (default: {DEFAULT_ENGINE})",
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
    demo.add_argument(
        "--report", type=Path, help="also write a self-contained HTML report (heat map, top anomalies) here"
    )
    demo.set_defaults(func=_demo)
    serve = sub.add_parser(
        "serve",
        help="expose the fleet as a Prometheus scrape endpoint, in real time",
        description="Serve the fleet's current points at http://HOST:PORT/metrics (Prometheus text format), "
        "each with its own timestamp, advancing with the wall clock. The fleet's first point lies "
        "--start-offset before now; --history writes every earlier point as OpenMetrics for "
        "`promtool tsdb create-blocks-from openmetrics` (see simulator/serve.py).",
    )
    serve.add_argument("--config", type=Path, help="TOML configuration file (default: the built-in fleet)")
    serve.add_argument("--seed", type=int, help="override the configuration's seed")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=9108, help="port (default 9108; 0 picks a free one)")
    serve.add_argument(
        "--start-offset",
        default="0",
        help="how long before now the fleet's first point lies, e.g. 6d23h (default 0: it starts now)",
    )
    serve.add_argument("--duration", help="stop after this long, e.g. 10m (default: at the timeline's end)")
    serve.add_argument("--prefix", default="sim_", help="metric name prefix (default sim_)")
    serve.add_argument(
        "--out", type=Path, help="write ground_truth.json/.csv (absolute times) and serve.json here"
    )
    serve.add_argument(
        "--history", action="store_true", help="also write OUT/history.om: every earlier point (OpenMetrics)"
    )
    serve.set_defaults(func=_serve)
    return parser


class _Prefixed(logging.Formatter):
    """``PROG: warning: message``: the library's log records read like the command's own messages."""

    def __init__(self, prog: str) -> None:
        super().__init__()
        self.prog = prog

    def format(self, record: logging.LogRecord) -> str:
        return f"{self.prog}: {record.levelname.lower()}: {record.getMessage()}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    tolerant_output()
    parser = build_parser()
    args = parser.parse_args(argv)
    # The library's warnings (a broken engine plugin, say) and the simulator's (anomalies that found
    # no room) go to stderr once, as this command's own.
    for name in ("backend.analytics", "simulator"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(_Prefixed(parser.prog))
            logger.addHandler(handler)
    try:
        status: int = args.func(args)
        sys.stdout.flush()  # (in here: a reader gone before the last buffered output is a broken pipe too)
    except BrokenPipeError:  # (the reader went away: `... | head`)
        return reader_gone()
    except (ValueError, TypeError, RuntimeError, OSError, UnknownEngineError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
