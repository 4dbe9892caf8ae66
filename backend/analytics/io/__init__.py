"""Metric sources and sinks: CSV files, pandas frames, Prometheus (in and out).

* :func:`read_csv` / :func:`write_csv`: long-format CSV files with any column
  names (stdlib).
* :func:`from_frame` / :func:`to_frame`: long-format pandas DataFrames (the
  optional ``[pandas]`` extra; pandas is imported inside the functions).
* :mod:`backend.analytics.io.prometheus`: :class:`PrometheusSource` reads series
  from a Prometheus server (``query_range`` in chunks under its 11,000-point
  limit) with a configurable :class:`LabelMapping`.
* :mod:`backend.analytics.io.exposition`: the Prometheus/OpenMetrics text format
  (stdlib), :func:`~backend.analytics.io.exposition.analytics_families` for
  scores, labels and aggregates, and an HTTP scrape endpoint.
* Every loader returns ``Loaded(series, report)``; the :class:`LoadReport`
  names every row refused, merged or changed, with the reason and the row.

See ``docs/sources.md`` for a walk-through with an example file.
"""

from __future__ import annotations

from ._csv import read_csv, write_csv
from ._pandas import from_frame, to_frame
from ._report import Loaded, LoadError, LoadIssue, LoadReport
from .prometheus import LabelMapping, PrometheusError, PrometheusSource

__all__ = [
    "LabelMapping",
    "LoadError",
    "LoadIssue",
    "LoadReport",
    "Loaded",
    "PrometheusError",
    "PrometheusSource",
    "from_frame",
    "read_csv",
    "to_frame",
    "write_csv",
]
