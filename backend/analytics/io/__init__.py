"""Metric sources and sinks: CSV files, pandas frames, Prometheus (in and out).

* :func:`read_csv` / :func:`write_csv`: long-format CSV files with any column
  names (stdlib).
* :func:`from_frame` / :func:`to_frame`: long-format pandas DataFrames (the
  optional ``[pandas]`` extra; pandas is imported inside the functions).
* Every loader returns ``Loaded(series, report)``; the :class:`LoadReport`
  names every row refused, merged or changed, with the reason and the row.

See ``docs/sources.md`` for a walk-through with an example file.
"""

from __future__ import annotations

from ._csv import read_csv, write_csv
from ._pandas import from_frame, to_frame
from ._report import Loaded, LoadError, LoadIssue, LoadReport

__all__ = [
    "LoadError",
    "LoadIssue",
    "LoadReport",
    "Loaded",
    "from_frame",
    "read_csv",
    "to_frame",
    "write_csv",
]
