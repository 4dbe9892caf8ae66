"""Where a fleet run reads its series: the :class:`SeriesSource` protocol and three sources.

A source is a small, picklable *description* of where the series are (a
database path, a directory), never the points themselves: the run sends it to
every worker, and each worker loads only its own partition. Only results
travel back.

* :class:`StoreSource`: the series of a :class:`~backend.analytics.store.SQLiteMetricStore`
  file; each worker opens the file itself.
* :class:`CsvDirectorySource`: the ``*.csv`` files of a directory, read with
  :func:`backend.analytics.io.read_csv`.
* :class:`ListSource`: a list of :class:`~backend.analytics.MetricSeries`
  (for tests and small runs: the series themselves travel to the workers).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .._sequences import check_utc_datetime
from .._validate import MAX_UTC, MIN_UTC, fail_type, fail_value
from ..store import SeriesKey
from ..types import MetricSeries

__all__ = ["CsvDirectorySource", "ListSource", "SeriesSource", "StoreSource"]


@runtime_checkable
class SeriesSource(Protocol):
    """What :func:`~backend.analytics.fleet.detect_fleet` needs from a source of series.

    Rules for an implementation:

    * It is **picklable and small**: a path, a URL, a query; the run pickles
      it once per partition and sends it to a worker (another process, or
      another machine on Dask), which calls :meth:`load` there.
    * :meth:`keys` returns every series key once, in a deterministic order
      (the run's results follow it). It is called once, on the client.
    * :meth:`load` returns the series of the keys asked for (a partition),
      keyed by :class:`~backend.analytics.store.SeriesKey`. A key missing
      from the answer is reported as a failure of that series; an exception
      raised by :meth:`load` is reported as the failure of every key of the
      partition. Either way the rest of the run goes on.
    """

    def keys(self) -> list[SeriesKey]:
        """Every series key of the source, each once, in a deterministic order."""
        ...

    def load(self, keys: Sequence[SeriesKey]) -> Mapping[SeriesKey, MetricSeries]:
        """The series of ``keys`` (one partition), by key."""
        ...


def _check_range(owner: str, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    # In UTC: two times of one zone compare by wall clock, wrong across a DST fold.
    lo = MIN_UTC if start is None else check_utc_datetime(owner, "start", start)
    hi = MAX_UTC if end is None else check_utc_datetime(owner, "end", end)
    if lo > hi:
        raise ValueError(f"{owner}: start must be <= end, got start={lo} > end={hi}")
    return lo, hi


# Stores opened by StoreSource.load in this process, by (process id, path), with the identity
# (device, inode) of the file each opened: kept for the next partition while the path names that file.
# The last _KEEP paths used (a long-lived worker reading a new snapshot every day does not hold every
# old one open, deleted files included: a store dropped here closes once no thread reads it).
_STORES: dict[tuple[int, str], tuple[tuple[int, int], Any]] = {}
_KEEP = 4


def _worker_store(path: str) -> Any:
    """The store at ``path`` for this process: the one kept, unless the path now names another file.

    A file replaced under the same path (a new snapshot moved into place) is
    opened afresh: the kept store holds the old file open, so its inode is not
    reused, and the new file's differs. A path that names no file any more is
    a ``FileNotFoundError`` (opening it would create an empty store).
    """
    from ..store import SQLiteMetricStore  # noqa: PLC0415 - opened where the source is used

    try:
        stat = os.stat(path)
    except OSError as exc:
        raise FileNotFoundError(
            f"StoreSource: the store file {path!r} cannot be read in this process (host "
            f"{socket.gethostname()}, pid {os.getpid()}): {exc.strerror}; every process that loads "
            "partitions (each worker of a cluster) must see the file at that path"
        ) from exc
    ident = (stat.st_dev, stat.st_ino)
    key = (os.getpid(), path)
    kept = _STORES.pop(key, None)  # (put back last: the most recently used are kept)
    if kept is not None and kept[0] == ident:
        _STORES[key] = kept
        return kept[1]
    # (A replaced or evicted store is dropped, not closed: a thread may still be reading its partition.)
    store = SQLiteMetricStore(path)
    _STORES[key] = (ident, store)
    while len(_STORES) > _KEEP:
        del _STORES[next(iter(_STORES))]
    return store


@dataclass(frozen=True, slots=True)
class StoreSource:
    """The series of a SQLite store file: every tenant's, or those of ``tenants``.

    ``path``: the database file (it must exist). ``tenants``: the tenants to
    run (default: every tenant with a series). ``start``/``end``: the
    half-open time range of points read (default: everything). Keys come in
    ``(tenant, cluster, node, metric)`` order. :meth:`load` reads the file in
    the calling process, through a store kept open there for the next
    partitions while the path names the same file (a file replaced under the
    path is read afresh), so a worker process never shares a connection with
    the client.
    """

    path: str
    tenants: tuple[str, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        tenants: Iterable[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> None:
        owner = "StoreSource"
        if not isinstance(path, (str, os.PathLike)):
            fail_type(owner, "path", "a str or os.PathLike file path", path)
        # Absolute: the workers of a cluster resolve a relative path in their own directory.
        text = os.path.abspath(os.fspath(path))
        if not os.path.isfile(text):
            fail_value(owner, "path", "an existing SQLite store file", path)
        chosen: tuple[str, ...] | None = None
        if tenants is not None:
            if isinstance(tenants, str) or not isinstance(tenants, Iterable):
                fail_type(owner, "tenants", "an iterable of tenant ids or None", tenants)
            chosen = tuple(tenants)
            for i, tenant in enumerate(chosen):
                if not isinstance(tenant, str) or not tenant:
                    fail_type(owner, f"tenants[{i}]", "a non-empty str", tenant)
                if tenant in chosen[:i]:
                    fail_value(owner, f"tenants[{i}]", "a tenant not listed twice", tenant)
        _check_range(owner, start, end)
        setter = object.__setattr__
        setter(self, "path", text)
        setter(self, "tenants", chosen)
        setter(self, "start", start)
        setter(self, "end", end)

    def keys(self) -> list[SeriesKey]:
        """Every series key of the chosen tenants, sorted."""
        from ..store import SQLiteMetricStore  # noqa: PLC0415 - opened where the source is used

        with SQLiteMetricStore(self.path) as store:
            known = store.list_tenants()
            tenants = self.tenants if self.tenants is not None else tuple(known)
            unknown = sorted(set(tenants) - set(known))
            if unknown:
                raise ValueError(
                    f"StoreSource: the store {self.path!r} has no tenant {', '.join(map(repr, unknown))}; "
                    f"its tenants: {', '.join(map(repr, known)) or '(none)'}"
                )
            keys: list[SeriesKey] = []
            for tenant in tenants:
                keys.extend(store.list_series(tenant))
            return keys

    def load(self, keys: Sequence[SeriesKey]) -> dict[SeriesKey, MetricSeries]:
        """The points of ``keys`` in ``[start, end)``, read by this process.

        The store is opened once per process and kept open for the next
        partitions while ``path`` names the same file (opening reads the
        schema, and a file that is not current takes a short write
        transaction, which partitions of many workers would otherwise queue
        on); a file replaced under ``path`` is opened afresh.
        """
        store = _worker_store(self.path)
        if self.start is None and self.end is None:  # (the last instant of year 9999 included)
            return {SeriesKey(*key): store.get_whole_series(*key) for key in keys}
        lo, hi = _check_range("StoreSource", self.start, self.end)
        return {SeriesKey(*key): store.get_metric_series(*key, lo, hi) for key in keys}


@dataclass(frozen=True, slots=True)
class CsvDirectorySource:
    """The series in the CSV files of a directory (``pattern``, default ``*.csv``), one file or many.

    Each file is read with :func:`backend.analytics.io.read_csv`, given
    ``read_options`` (``columns``, ``ids``, ``timestamp_format``, ...). Rows
    are never dropped quietly: ``strict`` defaults to True here, so a bad row
    raises :class:`~backend.analytics.io.LoadError` naming the file and line
    (in :meth:`keys` on the client, or as the failure of the partition's
    series). A series split across two files is an error.

    :meth:`keys` reads the files one at a time (memory: one file) and
    remembers which file holds each key; that map (keys and file names, no
    points) travels with the source, so a worker reads only the files of its
    partition. Keys are sorted.
    """

    directory: str
    pattern: str = "*.csv"
    read_options: Mapping[str, Any] = field(default_factory=dict)
    _index: dict[SeriesKey, str] | None = None

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        pattern: str = "*.csv",
        read_options: Mapping[str, Any] | None = None,
    ) -> None:
        owner = "CsvDirectorySource"
        if not isinstance(directory, (str, os.PathLike)):
            fail_type(owner, "directory", "a str or os.PathLike directory path", directory)
        text = os.path.abspath(os.fspath(directory))  # (as StoreSource's path: workers have their own cwd)
        if not os.path.isdir(text):
            fail_value(owner, "directory", "an existing directory", directory)
        if not isinstance(pattern, str) or not pattern:
            fail_type(owner, "pattern", "a non-empty glob pattern str", pattern)
        if not isinstance(read_options, (Mapping, type(None))):
            fail_type(owner, "read_options", "a mapping of read_csv keywords or None", read_options)
        options = dict(read_options or {})
        options.setdefault("strict", True)
        setter = object.__setattr__
        setter(self, "directory", text)
        setter(self, "pattern", pattern)
        setter(self, "read_options", options)
        setter(self, "_index", None)

    def _files(self) -> list[Path]:
        return sorted(p for p in Path(self.directory).glob(self.pattern) if p.is_file())

    def _read(self, path: Path) -> list[MetricSeries]:
        from ..io import read_csv  # noqa: PLC0415 - only CSV runs need the reader

        return read_csv(path, **self.read_options).series

    def _build_index(self) -> dict[SeriesKey, str]:
        index: dict[SeriesKey, str] = {}
        for path in self._files():
            for series in self._read(path):
                key = SeriesKey(*series.ids)
                if key in index:
                    raise ValueError(
                        f"CsvDirectorySource: series {key!r} is in both {index[key]!r} and {str(path)!r}; "
                        "expected each series in one file"
                    )
                index[key] = str(path)
        object.__setattr__(self, "_index", index)
        return index

    def keys(self) -> list[SeriesKey]:
        """Every series key in the directory's files, sorted (reads each file once)."""
        index = self._build_index()
        if not index:
            raise ValueError(
                f"CsvDirectorySource: no series in {self.directory!r} (files matching {self.pattern!r})"
            )
        return sorted(index)

    def load(self, keys: Sequence[SeriesKey]) -> dict[SeriesKey, MetricSeries]:
        """The series of ``keys``, reading only the files that hold them."""
        index = self._index if self._index is not None else self._build_index()
        wanted = {SeriesKey(*k) for k in keys}
        files = sorted({index[k] for k in wanted if k in index})
        out: dict[SeriesKey, MetricSeries] = {}
        for name in files:
            for series in self._read(Path(name)):
                key = SeriesKey(*series.ids)
                if key in wanted:
                    out[key] = series
        return out


@dataclass(frozen=True, slots=True)
class ListSource:
    """A list of :class:`~backend.analytics.MetricSeries`, for tests and small runs.

    Keys come in the list's order; two series with the same ids are an error.
    Unlike the other sources, the points themselves travel to the workers.
    """

    series: tuple[MetricSeries, ...]

    def __init__(self, series: Iterable[MetricSeries]) -> None:
        owner = "ListSource"
        if isinstance(series, MetricSeries) or not isinstance(series, Iterable):
            fail_type(owner, "series", "an iterable of MetricSeries", series)
        items = tuple(series)
        seen: set[tuple[str, str, str, str]] = set()
        for i, item in enumerate(items):
            if not isinstance(item, MetricSeries):
                fail_type(owner, f"series[{i}]", "a MetricSeries", item)
            if item.ids in seen:
                fail_value(owner, f"series[{i}]", "a series whose ids no earlier series has", item.ids)
            seen.add(item.ids)
        object.__setattr__(self, "series", items)

    def keys(self) -> list[SeriesKey]:
        """The series' keys in list order."""
        return [SeriesKey(*s.ids) for s in self.series]

    def load(self, keys: Sequence[SeriesKey]) -> dict[SeriesKey, MetricSeries]:
        """The series of ``keys``."""
        wanted = {tuple(k) for k in keys}
        return {SeriesKey(*s.ids): s for s in self.series if s.ids in wanted}
