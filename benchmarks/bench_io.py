"""Benchmark the CSV loader and writer against a bare ``csv.reader`` loop on the same file.

Usage::

    nice -n 10 python benchmarks/bench_io.py [--points 2016] [--repeat 3]

Writes the default simulated fleet (192 series of ``--points`` points) with
``write_csv`` into a temporary file, then times, best of ``--repeat``:

* ``reference``: ``csv.reader`` + ``datetime.fromisoformat`` + ``float`` per row,
  grouped by series into lists, nothing checked or reported (what
  ``simulator.output.read_series_csv`` did before it used ``read_csv``);
* ``read_csv``: the same file into validated series with the full report;
* ``read_csv (shuffled)``: the rows in random order (every series sorted, one
  *changed* issue per row that came after a later one);
* ``write_csv``.

Prints a Markdown table with the machine, Python and date.
"""

from __future__ import annotations

import argparse
import csv
import platform
import random
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _timing import best_of  # noqa: E402

from backend.analytics.io import read_csv, write_csv  # noqa: E402
from simulator import Fleet, FleetConfig  # noqa: E402


def reference(path: Path) -> int:
    groups: dict[tuple[str, ...], tuple[list[datetime], list[float]]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row in reader:
            ts, vs = groups.setdefault(tuple(row[:4]), ([], []))
            ts.append(datetime.fromisoformat(row[4]))
            vs.append(float(row[5]))
    return sum(len(v) for _, v in groups.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=2016)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    series = list(Fleet(FleetConfig(points=args.points)).iter_series())
    rows = sum(len(s) for s in series)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "series.csv"
        t_write = best_of(lambda: write_csv(series, path), args.repeat)
        shuffled = Path(tmp) / "shuffled.csv"
        header, *lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        random.Random(1).shuffle(lines)
        shuffled.write_text(header + "".join(lines), encoding="utf-8")
        t_ref = best_of(lambda: reference(path), args.repeat)
        t_read = best_of(lambda: read_csv(path), args.repeat)
        t_shuf = best_of(lambda: read_csv(shuffled), args.repeat)
        changed = len(read_csv(shuffled).report.changed)
    print(f"Machine: {platform.platform()}, {platform.machine()}; Python {platform.python_version()}; "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"{len(series)} series, {rows:,} rows, best of {args.repeat}\n")
    print("| run | seconds | rows/s | vs reference |")
    print("|---|---:|---:|---:|")
    for name, t in (
        ("reference: csv.reader + fromisoformat + float", t_ref),
        ("read_csv", t_read),
        (f"read_csv, rows shuffled ({changed:,} reported changed)", t_shuf),
        ("write_csv", t_write),
    ):
        print(f"| {name} | {t:.2f} | {rows / t:,.0f} | {t / t_ref:.2f}x |")


if __name__ == "__main__":
    main()
