"""Write a simulated fleet out: CSV / JSON Lines files, ground truth, or a metric store.

Files written by :func:`write_fleet` into a directory:

- ``series.csv``: one row per point, ``tenant_id,cluster_id,node_id,metric_name,timestamp,value``
  (timestamp ISO 8601 UTC with offset, value as the shortest exact float repr);
  rows grouped by series in generation order, ascending time within a series.
- ``series.jsonl`` (``fmt="jsonl"`` or ``"both"``): one ``MetricSeries.to_dict()`` per line.
- ``ground_truth.json``: ``{"config": ..., "labels": [...], "incidents": [...], "placement": [...],
  "unobservable": [...]}`` (``placement``: per tenant and kind, the anomalies asked for and placed; see
  ``Fleet.placement``; ``unobservable``: records left out of ``labels`` because every point of their span
  is missing, see ``Fleet.unobservable``).
- ``ground_truth.csv``: the labels, one row each.

Everything is streamed (one series or one time slice in memory at a time)
and byte-identical for the same configuration.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol, TextIO

from backend.analytics import MetricSeries
from backend.analytics.io import read_csv
from backend.analytics.types import epoch_us_to_datetime

from .config import _check_int
from .fleet import Fleet

__all__ = [
    "SERIES_COLUMNS",
    "BatchWriter",
    "read_series_csv",
    "write_fleet",
    "write_ground_truth",
    "write_series_csv",
    "write_series_jsonl",
    "write_to_store",
]

SERIES_COLUMNS = ("tenant_id", "cluster_id", "node_id", "metric_name", "timestamp", "value")
_GT_COLUMNS = (
    "incident_id",
    "tenant_id",
    "cluster_id",
    "node_id",
    "metric_name",
    "kind",
    "start",
    "end",
    "expected_label",
    "magnitude",
)


class BatchWriter(Protocol):
    """Anything with ``write_batch(series) -> int``, such as the SQLite reference store."""

    def write_batch(self, batch: Iterable[MetricSeries]) -> int:
        """Write several series atomically; return the number of points written."""
        ...


def _source(fleet: Fleet, chunk_points: int | None) -> Iterator[MetricSeries]:
    if chunk_points is None:
        yield from fleet.iter_series()
    else:
        for chunk in fleet.iter_chunks(chunk_points):
            yield from chunk


def _iso(us: int, cache: dict[int, str]) -> str:
    text = cache.get(us)
    if text is None:
        text = epoch_us_to_datetime(us).isoformat()
        if len(cache) > 100_000:
            cache.clear()
        cache[us] = text
    return text


def write_series_csv(fleet: Fleet, fh: TextIO, *, progress: Callable[[int, int], None] | None = None) -> int:
    """Write every point as a CSV row (see the module docstring); return the number of points."""
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(SERIES_COLUMNS)
    cache: dict[int, str] = {}
    total = 0
    for done, series in enumerate(fleet.iter_series(), 1):
        t, c, n, m = series.ids
        writer.writerows(
            (t, c, n, m, _iso(us, cache), repr(v))
            for us, v in zip(series.epoch_us, series.values, strict=True)
        )
        total += len(series)
        if progress is not None:
            progress(done, len(fleet))
    return total


def write_series_jsonl(fleet: Fleet, fh: TextIO) -> int:
    """Write one ``MetricSeries.to_dict()`` JSON object per line; return the number of points."""
    total = 0
    for series in fleet.iter_series():
        fh.write(json.dumps(series.to_dict(), separators=(",", ":")))
        fh.write("\n")
        total += len(series)
    return total


def ground_truth_document(fleet: Fleet) -> dict[str, Any]:
    """The ground truth as a JSON-safe dict (configuration, labels, incidents)."""
    return {
        "config": fleet.config.to_dict(),
        "labels": [g.to_dict() for g in fleet.ground_truth],
        "incidents": [i.to_dict() for i in fleet.incidents],
        "placement": [p.to_dict() for p in fleet.placement],
        "unobservable": [g.to_dict() for g in fleet.unobservable],
    }


def write_ground_truth(fleet: Fleet, directory: Path) -> None:
    """Write ``ground_truth.json`` and ``ground_truth.csv`` into ``directory``."""
    with open(directory / "ground_truth.json", "w", encoding="utf-8", newline="\n") as fh:
        json.dump(ground_truth_document(fleet), fh, indent=1)
        fh.write("\n")
    with open(directory / "ground_truth.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(_GT_COLUMNS)
        for g in fleet.ground_truth:
            d = g.to_dict()
            writer.writerow([d[c] if c != "magnitude" else repr(d[c]) for c in _GT_COLUMNS])


def write_fleet(
    fleet: Fleet,
    directory: str | Path,
    *,
    fmt: str = "csv",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Path]:
    """Write the series (``fmt``: ``"csv"``, ``"jsonl"``, ``"both"`` or ``"none"``) and the ground truth.

    Returns the paths written, by name. The directory is created if needed.
    ``progress(done, total)`` is called after each series of the CSV file.
    """
    if fmt not in ("csv", "jsonl", "both", "none"):
        raise ValueError(f"write_fleet: fmt must be one of 'csv', 'jsonl', 'both', 'none', got {fmt!r}")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if fmt in ("csv", "both"):
        path = out / "series.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            write_series_csv(fleet, fh, progress=progress)
        written["series.csv"] = path
    if fmt in ("jsonl", "both"):
        path = out / "series.jsonl"
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            write_series_jsonl(fleet, fh)
        written["series.jsonl"] = path
    write_ground_truth(fleet, out)
    written["ground_truth.json"] = out / "ground_truth.json"
    written["ground_truth.csv"] = out / "ground_truth.csv"
    return written


def write_to_store(
    fleet: Fleet,
    store: BatchWriter,
    *,
    chunk_points: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the fleet into ``store`` with ``write_batch``; return the number of points written.

    Without ``chunk_points``, one batch (one transaction) per series; with it,
    one batch per time slice holding every series' points of that slice, so
    memory stays bounded by one slice whatever the fleet's length.
    ``progress(done, total)`` is called after each batch.
    """
    if chunk_points is not None:
        _check_int("write_to_store", "chunk_points", chunk_points, 1)
    total = 0
    if chunk_points is None:
        for done, series in enumerate(fleet.iter_series(), 1):
            total += store.write_batch([series])
            if progress is not None:
                progress(done, len(fleet))
    else:
        n_chunks = -(-fleet.config.points // chunk_points)
        for done, chunk in enumerate(fleet.iter_chunks(chunk_points), 1):
            total += store.write_batch([s for s in chunk if len(s)])
            if progress is not None:
                progress(done, n_chunks)
    return total


def read_series_csv(path: str | Path) -> list[MetricSeries]:
    """Read a ``series.csv`` written by :func:`write_series_csv` back into series (file order).

    A thin wrapper over :func:`backend.analytics.io.read_csv` with its default
    columns, ``duplicates="error"`` and ``strict=True``: any row that cannot
    be used raises :class:`~backend.analytics.io.LoadError` (a ``ValueError``)
    naming its line. Use ``read_csv`` itself to choose a duplicate policy or
    to get a report of refused rows instead.

    .. versionchanged:: 0.1.0
       Columns are found by name (extra columns are ignored), and a row that
       cannot be used raises ``LoadError`` naming its line.
    """
    return read_csv(path, duplicates="error", strict=True).series
