"""Read series from a Prometheus server through its HTTP API (``/api/v1/query_range``), stdlib only.

>>> mapping = LabelMapping(strip_prefix="sim_", defaults={"tenant": "acme"})
>>> mapping.ids({"__name__": "sim_cpu", "cluster": "c-1", "node": "n-1", "job": "sim"})
('acme', 'c-1', 'n-1', 'cpu')
>>> from datetime import timezone
>>> PrometheusSource("http://127.0.0.1:9090", max_points=3).chunks(
...     datetime(2024, 5, 1, tzinfo=timezone.utc), datetime(2024, 5, 1, 0, 10, tzinfo=timezone.utc),
...     timedelta(minutes=2))  # doctest: +NORMALIZE_WHITESPACE
[(datetime.datetime(2024, 5, 1, 0, 0, tzinfo=datetime.timezone.utc),
  datetime.datetime(2024, 5, 1, 0, 4, tzinfo=datetime.timezone.utc)),
 (datetime.datetime(2024, 5, 1, 0, 6, tzinfo=datetime.timezone.utc),
  datetime.datetime(2024, 5, 1, 0, 10, tzinfo=datetime.timezone.utc))]

How series are named (the *label mapping*): each of the four ids comes from
one label of the Prometheus series, by default ``tenant`` from ``tenant``,
``cluster`` from ``cluster``, ``node`` from ``node`` and the metric name from
``__name__`` (with ``strip_prefix`` removed when it starts the name). A label
the series lacks takes ``defaults[role]`` when given; otherwise the whole
series is refused and reported (``strict=True``: raised). Two Prometheus series
that map to the same four ids (say, equal but for ``instance``) are an error:
merging them would be a guess; narrow the query or map another label.

How points are read: ``query_range`` evaluates the query at ``start``,
``start + step``, ... up to ``end``, each value being the latest sample at or
before that instant within Prometheus's lookback (5 minutes by default). So
choose ``step`` equal to the scrape interval (or to the samples' own spacing)
to read each stored sample once, which holds for samples on that grid with
no gaps: otherwise each point is stamped with its grid instant, not the
sample's, and an instant with no new sample repeats the latest within the
lookback (docs/sources.md shows cases); :meth:`PrometheusSource.query_samples`
reads the raw samples of a series selector instead, each at its own time.
Prometheus refuses a request of more than
11,000 points per series; :meth:`PrometheusSource.query_range` splits the range
into chunks of at most ``max_points`` evaluation instants (default 11,000) and
joins them. NaN and infinite samples are refused and reported.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from .._sequences import datetime_to_epoch_us, epoch_us_to_datetime
from .._validate import brief, check_aware_datetime, check_positive_timedelta, fail_type, fail_value
from ._report import Loaded, LoadError, LoadIssue
from ._rows import ID_ROLES, RowCollector, RowError, parse_value

__all__ = ["MAX_POINTS", "LabelMapping", "PrometheusError", "PrometheusSource"]

_log = logging.getLogger(__name__)

MAX_POINTS = 11_000
"""Prometheus refuses a ``query_range`` whose ``(end - start) / step`` exceeds 11,000."""


class PrometheusError(RuntimeError):
    """Prometheus could not be reached, or answered with an error.

    ``status`` is the HTTP status (``None`` when no answer came),
    ``error_type`` and ``error`` are Prometheus's own (``bad_data``, the
    parser's message), ``query`` the PromQL sent and ``url`` the endpoint.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str,
        query: str,
        status: int | None = None,
        error_type: str | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.query = query
        self.status = status
        self.error_type = error_type
        self.error = error

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with its own arguments: an error raised in a worker process reaches the caller whole.
        fields = (self.url, self.query, self.status, self.error_type, self.error)
        return (_prometheus_error, (str(self), *fields))


def _prometheus_error(
    message: str, url: str, query: str, status: int | None, error_type: str | None, error: str | None
) -> PrometheusError:
    """Rebuild a pickled :class:`PrometheusError` (its arguments after the message are keyword-only)."""
    return PrometheusError(message, url=url, query=query, status=status, error_type=error_type, error=error)


@dataclass(frozen=True, slots=True)
class LabelMapping:
    """Which Prometheus label gives each of the four ids (see the module docstring for the rule).

    ``tenant``, ``cluster``, ``node``, ``metric``: label names (``__name__`` is
    the metric name). ``defaults``: role -> id used when the series lacks the
    label. ``strip_prefix``: removed from the start of the metric id.
    """

    tenant: str = "tenant"
    cluster: str = "cluster"
    node: str = "node"
    metric: str = "__name__"
    defaults: Mapping[str, str] = field(default_factory=dict)
    strip_prefix: str = ""

    def __post_init__(self) -> None:
        owner = "LabelMapping"
        for role in ID_ROLES:
            name = getattr(self, role)
            if not isinstance(name, str) or not name:
                fail_type(owner, role, "a label name (non-empty str)", name)
        if not isinstance(self.defaults, Mapping):
            fail_type(owner, "defaults", "a mapping of role to id", self.defaults)
        for role, ident in self.defaults.items():
            if role not in ID_ROLES:
                fail_value(owner, "defaults", f"keys among {', '.join(ID_ROLES)}", role)
            if not isinstance(ident, str) or not ident:
                fail_type(owner, f"defaults[{role!r}]", "a non-empty str", ident)
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))
        if not isinstance(self.strip_prefix, str):
            fail_type(owner, "strip_prefix", "a str", self.strip_prefix)

    def ids(self, labels: Mapping[str, str]) -> tuple[str, str, str, str]:
        """The four ids of a series with these labels; ``ValueError`` naming a missing label."""
        out = []
        for role in ID_ROLES:
            label = getattr(self, role)
            value = labels.get(label)
            if role == "metric" and value and self.strip_prefix and value.startswith(self.strip_prefix):
                value = value[len(self.strip_prefix) :]
            if not value:
                value = self.defaults.get(role)
            if not value:
                raise ValueError(
                    f"no label {label!r} for the {role} (LabelMapping.{role}={label!r}); "
                    f"set LabelMapping(defaults={{{role!r}: ...}}) or map another label"
                )
            out.append(value)
        return (out[0], out[1], out[2], out[3])


def _seconds(us: int) -> str:
    """Epoch microseconds as exact decimal seconds for the API."""
    sec, frac = divmod(us, 1_000_000)
    return f"{sec}.{frac:06d}" if frac else str(sec)


def _labels_text(labels: Mapping[str, str]) -> str:
    name = labels.get("__name__", "")
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}"


class PrometheusSource:
    """Series from a Prometheus server: ``query_range`` in chunks, labels mapped to ids.

    ``url``: the server's base URL (``http://127.0.0.1:9090``). ``mapping``:
    a :class:`LabelMapping`. ``timeout``: seconds per HTTP request.
    ``max_points``: evaluation instants per request, 1..11,000.
    ``headers``: extra HTTP headers (an ``Authorization`` header, say).
    """

    def __init__(
        self,
        url: str,
        *,
        mapping: LabelMapping | None = None,
        timeout: float = 30.0,
        max_points: int = MAX_POINTS,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        owner = "PrometheusSource"
        if not isinstance(url, str):
            fail_type(owner, "url", "an http(s) URL str", url)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            fail_value(owner, "url", "an http(s) URL such as 'http://127.0.0.1:9090'", url)
        if mapping is not None and not isinstance(mapping, LabelMapping):
            fail_type(owner, "mapping", "a LabelMapping", mapping)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not 0 < timeout < float("inf")
        ):
            fail_value(owner, "timeout", "a positive finite number of seconds", timeout)
        if isinstance(max_points, bool) or not isinstance(max_points, int):
            fail_type(owner, "max_points", f"an int in 1..{MAX_POINTS}", max_points)
        if not 1 <= max_points <= MAX_POINTS:
            fail_value(
                owner, "max_points", f"an int in 1..{MAX_POINTS} (Prometheus's limit per series)", max_points
            )
        self.url = url.rstrip("/")
        self.mapping = mapping if mapping is not None else LabelMapping()
        self.timeout = float(timeout)
        self.max_points = max_points
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"PrometheusSource({self.url!r}, max_points={self.max_points})"

    def chunks(self, start: datetime, end: datetime, step: timedelta) -> list[tuple[datetime, datetime]]:
        """The ``(start, end)`` of each request: at most ``max_points`` instants each, on ``start``'s grid."""
        owner = "PrometheusSource.chunks"
        start_us = datetime_to_epoch_us(check_aware_datetime(owner, "start", start))
        end_us = datetime_to_epoch_us(check_aware_datetime(owner, "end", end))
        step_us = check_positive_timedelta(owner, "step", step) // timedelta(microseconds=1)
        if step_us <= 0:
            fail_value(owner, "step", "at least one microsecond", step)
        if end_us < start_us:
            raise ValueError(
                f"{owner}: end must not be before start, got {end.isoformat()} < {start.isoformat()}"
            )
        n = (end_us - start_us) // step_us + 1
        out = []
        for i0 in range(0, n, self.max_points):
            i1 = min(n, i0 + self.max_points) - 1
            out.append(
                (epoch_us_to_datetime(start_us + i0 * step_us), epoch_us_to_datetime(start_us + i1 * step_us))
            )
        return out

    def _request(self, path: str, params: Mapping[str, str], query: str) -> Any:
        url = f"{self.url}{path}"
        body = urllib.parse.urlencode(params).encode("ascii")
        req = urllib.request.Request(url, data=body, method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        req.add_header("Accept", "application/json")
        for k, v in self.headers.items():
            req.add_header(k, v)
        status: int | None = None
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status = int(resp.status)
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            raw = exc.read()
        except http.client.HTTPException as exc:  # (IncompleteRead: the answer was cut short)
            raise PrometheusError(
                f"Prometheus at {url} sent an incomplete answer to query {query!r} "
                f"({type(exc).__name__}: {exc})",
                url=url,
                query=query,
                status=status,
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError) or isinstance(exc, TimeoutError):
                what = f"did not answer query {query!r} within {self.timeout} s"
                raise PrometheusError(f"Prometheus at {url} {what}", url=url, query=query) from exc
            raise PrometheusError(
                f"could not reach Prometheus at {url} for query {query!r}: {reason}", url=url, query=query
            ) from exc
        try:
            doc = json.loads(raw, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            snippet = raw[:200].decode("utf-8", "replace")
            raise PrometheusError(
                f"Prometheus at {url} answered HTTP {status} to query {query!r} with a body that is not "
                f"JSON: {snippet!r}",
                url=url,
                query=query,
                status=status,
            ) from None
        if not isinstance(doc, dict) or doc.get("status") != "success" or status != 200:
            error_type = doc.get("errorType") if isinstance(doc, dict) else None
            error = doc.get("error") if isinstance(doc, dict) else None
            raise PrometheusError(
                f"Prometheus at {url} answered HTTP {status} ({error_type or 'no error type'}) to query "
                f"{query!r}: {error or raw[:200].decode('utf-8', 'replace')}",
                url=url,
                query=query,
                status=status,
                error_type=error_type,
                error=error,
            )
        for warning in doc.get("warnings") or ():
            _log.warning("Prometheus at %s warned about query %r: %s", url, query, warning)
        return doc.get("data")

    def query_range(
        self, query: str, start: datetime, end: datetime, step: timedelta, *, strict: bool = False
    ) -> Loaded:
        """Evaluate ``query`` from ``start`` to ``end`` every ``step``; return the series and a report.

        One request per chunk (see :meth:`chunks`). Each Prometheus series
        becomes a :class:`~backend.analytics.MetricSeries` named by the
        mapping; a series the mapping cannot name, and every NaN or infinite
        sample, is refused and reported (``strict=True``: raised as
        :class:`~backend.analytics.io.LoadError`). HTTP and API failures raise
        :class:`PrometheusError` with the status, Prometheus's message and the
        query.
        """
        owner = "PrometheusSource.query_range"
        if not isinstance(query, str) or not query.strip():
            fail_type(owner, "query", "a non-empty PromQL str", query)
        if not isinstance(strict, bool):
            fail_type(owner, "strict", "a bool", strict)
        step_s = _seconds(step // timedelta(microseconds=1)) if isinstance(step, timedelta) else ""
        chunks = self.chunks(start, end, step)
        matrix = _Matrix(self, "query_range", query, strict)
        for c_start, c_end in chunks:
            params = {
                "query": query,
                "start": _seconds(datetime_to_epoch_us(c_start)),
                "end": _seconds(datetime_to_epoch_us(c_end)),
                "step": step_s,
            }
            matrix.take(self._request("/api/v1/query_range", params, query))
        out = matrix.out
        loaded = out.finish()
        _log.info("%s", loaded.report.summary())
        return loaded

    def query_samples(
        self,
        selector: str,
        start: datetime,
        end: datetime,
        *,
        chunk: timedelta = timedelta(hours=6),
        strict: bool = False,
    ) -> Loaded:
        """The raw samples of ``selector`` with ``start <= t <= end``, each at its own timestamp.

        ``selector``: a plain series selector (``sim_cpu{tenant="acme"}``), read
        with a range selector at the end of each ``chunk`` of time (one
        request per chunk, ``/api/v1/query``): unlike :meth:`query_range`,
        nothing is re-stamped onto a grid or carried over a gap. A selector
        Prometheus cannot take a range of (an expression) is its error, as a
        :class:`PrometheusError`. Mapping, refusals and report as in
        :meth:`query_range`.
        """
        owner = "PrometheusSource.query_samples"
        if not isinstance(selector, str) or not selector.strip():
            fail_type(owner, "selector", "a non-empty series selector str", selector)
        if not isinstance(strict, bool):
            fail_type(owner, "strict", "a bool", strict)
        start_us = datetime_to_epoch_us(check_aware_datetime(owner, "start", start))
        end_us = datetime_to_epoch_us(check_aware_datetime(owner, "end", end))
        if end_us < start_us:
            raise ValueError(
                f"{owner}: end must not be before start, got {end.isoformat()} < {start.isoformat()}"
            )
        chunk_ms = check_positive_timedelta(owner, "chunk", chunk) // timedelta(milliseconds=1)
        if chunk_ms <= 0:
            fail_value(owner, "chunk", "at least one millisecond", chunk)
        matrix = _Matrix(self, "query_samples", selector, strict)
        # Chunks [start, hi], then (lo, hi] end to end; each asks a millisecond more than its span
        # (Prometheus 3 leaves a range's start out, 2 keeps it) and keeps only its own samples, so a
        # sample on a boundary is read once.
        lo, first = start_us, True
        while first or lo < end_us:
            hi = min(end_us, lo + chunk_ms * 1000)
            query = f"{selector}[{(hi - lo + 999) // 1000 + 1}ms]"
            matrix.keep = (lambda us, lo=lo, hi=hi: lo <= us <= hi) if first else (
                lambda us, lo=lo, hi=hi: lo < us <= hi
            )
            matrix.take(self._request("/api/v1/query", {"query": query, "time": _seconds(hi)}, query))
            lo, first = hi, False
        loaded = matrix.out.finish()
        _log.info("%s", loaded.report.summary())
        return loaded


class _Matrix:
    """The series of one read (``query_range`` or ``query_samples``), filled from matrix answers."""

    def __init__(self, source: PrometheusSource, what: str, query: str, strict: bool) -> None:
        self.source, self.what, self.query, self.strict = source, what, query, strict
        self.name = f"Prometheus {source.url} query {query!r}"
        self.out = RowCollector(self.name, duplicates="error", strict=strict)
        self.labels_of: dict[tuple[tuple[str, str], ...], tuple[str, str, str, str] | None] = {}
        self.owners: dict[tuple[str, str, str, str], tuple[tuple[str, str], ...]] = {}
        self.keep: Callable[[int], bool] | None = None  # (which instants, in microseconds, to keep)

    def _bad_answer(self, what: str) -> PrometheusError:
        """The error for an answer that is not what the API documents (``what`` says which part)."""
        return PrometheusError(
            f"Prometheus at {self.source.url} answered {self.what} {self.query!r} with {what}",
            url=self.source.url,
            query=self.query,
            status=200,
        )

    def _refuse_series(self, where: str, reason: str) -> None:
        """Refuse a series' samples as a whole: reported, or under ``strict`` a :class:`LoadError`."""
        issue = LoadIssue(None, where, "refused", reason)
        if self.strict:
            raise LoadError(self.name, issue)
        self.out.record(issue)

    def take(self, data: Any) -> None:
        """Add one answer's samples: its series mapped to ids, bad samples refused and reported."""
        out = self.out
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            got = data.get("resultType") if isinstance(data, dict) else type(data).__name__
            raise self._bad_answer(f"resultType {got!r}, expected 'matrix'")
        for item in data.get("result") or ():
            if not isinstance(item, dict) or not isinstance(item.get("metric") or {}, dict):
                expected = '{"metric": {...}, "values": [...]}'
                raise self._bad_answer(f"a series {brief(item)}, expected {expected}")
            labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
            key = tuple(sorted(labels.items()))
            where = f"series {_labels_text(labels)}"
            samples = item.get("values") or ()
            out.rows += len(samples)
            histograms = item.get("histograms") or ()
            if histograms:
                # A native histogram's sample is a distribution, not one number: counted and refused
                # (silently dropped before), with what to ask for instead.
                out.rows += len(histograms)
                self._refuse_series(
                    where,
                    f"{len(histograms)} native histogram samples: a histogram is not one number; query "
                    "a number from it (histogram_quantile, histogram_count, histogram_sum)",
                )
            if key not in self.labels_of:
                try:
                    ids = self.source.mapping.ids(labels)
                except ValueError as exc:
                    self.labels_of[key] = None
                    self._refuse_series(where, f"{len(samples)} samples: {exc}")
                    continue
                other = self.owners.get(ids)
                if other is not None:
                    raise ValueError(
                        f"PrometheusSource.{self.what}: series {_labels_text(dict(other))} and "
                        f"{_labels_text(labels)} both map to {'/'.join(ids)}; narrow the query (for "
                        "example by job or instance) or change the LabelMapping"
                    )
                self.owners[ids] = key
                self.labels_of[key] = ids
            ids_or_none = self.labels_of[key]
            if ids_or_none is None:
                more = f"{len(samples)} more samples: series refused above"
                out.record(LoadIssue(None, where, "refused", more))
                continue
            for sample in samples:
                if not isinstance(sample, (list, tuple)) or len(sample) != 2:
                    raise self._bad_answer(f'a sample {sample!r} in {where}, expected [timestamp, "value"]')
                ts, text = sample
                try:
                    us = int((Decimal(str(ts)) * 1_000_000).to_integral_value())
                except (InvalidOperation, ValueError):
                    out.refuse(None, f"timestamp {ts!r} is not a number", ids_or_none, where=where)
                    continue
                if self.keep is not None and not self.keep(us):  # (another chunk's sample: read there)
                    out.rows -= 1
                    continue
                try:
                    value = parse_value(text)
                except RowError as exc:
                    at = f"{where} at {epoch_us_to_datetime(us).isoformat()}"
                    out.refuse(None, str(exc), ids_or_none, us, where=at)
                    continue
                out.add(None, ids_or_none, us, value)
