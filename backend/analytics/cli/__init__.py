"""The command line of ``backend.analytics``: ``python -m backend.analytics COMMAND ...``.

Each subcommand lives in its own module of this package and exposes
``add_parser(subparsers)``, which adds its parser and sets ``func`` (called
with the parsed arguments, returning the exit status). To add a command,
write the module and add its name to :data:`COMMANDS`.

* ``load``: read a CSV file or a Prometheus server into a SQLite store.
* ``detect``: run an engine over a tenant's stored series; store results and aggregates.
* ``fleet``: run an engine over every stored series, in parallel (local processes or Dask).
* ``report``: write the self-contained HTML report of a tenant's stored results.
* ``export``: the stored scores as Prometheus metrics (printed, or served for scraping).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from ._console import reader_gone, tolerant_output

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: tuple[str, ...] = ("load", "detect", "fleet", "report", "export")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m backend.analytics`` with every command of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="python -m backend.analytics",
        description="Anomaly detection for fleet metrics: load your data, detect, report, export.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 with a one-line message on bad input)."""
    tolerant_output()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    else:
        # The commands print what matters (a load report, say); keep the library's log records quiet.
        logging.getLogger("backend.analytics").addHandler(logging.NullHandler())
    try:
        status: int = args.func(args)
        sys.stdout.flush()  # (in here: a reader gone before the last buffered output is a broken pipe too)
    except KeyboardInterrupt:  # (Ctrl-C: the run stopped; its tasks were cancelled on the way out)
        sys.stderr.write(f"\n{parser.prog} {args.command}: interrupted\n")
        return 130
    except BrokenPipeError:
        return reader_gone()
    except (ValueError, TypeError, KeyError, RuntimeError, OSError, ImportError) as exc:
        # (ImportError: an optional extra the command needs is not installed; its message names it.)
        parser.exit(2, f"{parser.prog} {args.command}: error: {exc}\n")
    return status
