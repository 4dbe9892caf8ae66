"""The Prometheus text exposition format, written with the standard library, and a scrape endpoint.

* :class:`MetricFamily` / :class:`Sample` and :func:`render`: any metrics as the
  Prometheus text format 0.0.4 (``openmetrics=False``) or OpenMetrics 1.0
  (``openmetrics=True``, what ``promtool tsdb create-blocks-from openmetrics``
  reads for backfilling), with names checked and label values escaped.
* :func:`analytics_families`: anomaly scores, labels and aggregates per tenant,
  cluster and node as metric families (names below).
* :class:`ExpositionServer`: a small HTTP server (``http.server``, a thread)
  that answers ``GET /metrics`` with whatever its ``render`` callable returns.

Metrics from :func:`analytics_families` (``prefix`` defaults to ``backend_analytics``):

* ``<prefix>_anomaly_score{tenant, cluster, node, metric[, engine]}``: the latest
  window's score, in [0, 1].
* ``<prefix>_anomaly_label{..., label}``: 1 for the latest window's label
  (spike, trend, seasonal, normal), 0 for the other three.
* ``<prefix>_anomaly_window_end_seconds{...}``: the end of that window, Unix seconds.
* ``<prefix>_{node,cluster,tenant}_score{tenant[, cluster[, node]], strategy}``:
  the aggregated score of each level, in [0, 1].
* ``<prefix>_{level}_metrics_analyzed`` and ``<prefix>_{level}_anomalies_detected``:
  the counts behind it.

>>> fam = MetricFamily("demo_temp", "gauge", "A temperature.", (Sample({"room": 'a"b'}, 21.5),))
>>> print(render([fam]), end="")
# HELP demo_temp A temperature.
# TYPE demo_temp gauge
demo_temp{room="a\\"b"} 21.5
"""

from __future__ import annotations

import logging
import math
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType
from typing import Any, Literal

from .._sequences import datetime_to_epoch_us
from .._validate import brief, check_text
from ..explain import AnomalyType
from ..types import AggregatedAnomalyScore, AnomalyResult

__all__ = [
    "OPENMETRICS_CONTENT_TYPE",
    "PROMETHEUS_CONTENT_TYPE",
    "ExpositionServer",
    "FamilyType",
    "MetricFamily",
    "Sample",
    "analytics_families",
    "escape_label_value",
    "format_value",
    "render",
    "timestamp_ms",
]

_log = logging.getLogger(__name__)

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
FamilyType = Literal["gauge", "counter", "untyped"]


def escape_label_value(value: str) -> str:
    r"""A label value escaped for the text formats: ``\`` -> ``\\``, ``"`` -> ``\"``, newline -> ``\n``."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    """A sample value as both formats write it: the shortest exact ``repr``, ``+Inf``/``-Inf``/``NaN``."""
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample: labels, a value and, optionally, its own timestamp (epoch milliseconds).

    Without a timestamp the scraper stamps the sample with the scrape time;
    with one, Prometheus stores it at that instant (``honor_timestamps``).
    ``value`` is any real number a float holds (NaN and +-inf included, written
    ``NaN``/``+Inf``/``-Inf``); an int beyond the float range is a ``ValueError`` here.
    """

    labels: Mapping[str, str]
    value: float
    timestamp_ms: int | None = None

    def __post_init__(self) -> None:
        labels = dict(self.labels)
        for name, val in labels.items():
            if not isinstance(name, str) or not _LABEL_NAME.match(name) or name.startswith("__"):
                raise ValueError(
                    "Sample: label name must match [a-zA-Z_][a-zA-Z0-9_]* and not start with '__', "
                    f"got {name!r}"
                )
            if not isinstance(val, str):
                raise TypeError(
                    f"Sample: label {name!r} must have a str value, got {val!r} ({type(val).__name__})"
                )
            check_text("Sample", f"label {name!r}", val)  # (the exposition is UTF-8)
        object.__setattr__(self, "labels", MappingProxyType(labels))
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise TypeError(
                f"Sample: value must be a real number, got {self.value!r} ({type(self.value).__name__})"
            )
        try:
            float(self.value)
        except OverflowError:
            raise ValueError(
                f"Sample: value must be a real number within the float range (|value| <= "
                f"{sys.float_info.max!r}), got {brief(self.value)}"
            ) from None
        if self.timestamp_ms is not None and (
            isinstance(self.timestamp_ms, bool) or not isinstance(self.timestamp_ms, int)
        ):
            raise TypeError(f"Sample: timestamp_ms must be an int or None, got {self.timestamp_ms!r}")


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """Samples of one metric name, with its type and help text.

    A ``counter``'s name must end in ``_total`` (OpenMetrics names the family
    without it and its samples with it; the Prometheus format uses the full
    name for both).
    """

    name: str
    type: FamilyType
    help: str
    samples: tuple[Sample, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _METRIC_NAME.match(self.name):
            raise ValueError(f"MetricFamily: name must match [a-zA-Z_:][a-zA-Z0-9_:]*, got {self.name!r}")
        if self.type not in ("gauge", "counter", "untyped"):
            raise ValueError(f"MetricFamily: type must be 'gauge', 'counter' or 'untyped', got {self.type!r}")
        if self.type == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"MetricFamily: a counter's name must end in '_total', got {self.name!r}")
        if not isinstance(self.help, str):
            raise TypeError(f"MetricFamily: help must be a str, got {brief(self.help)}")
        check_text("MetricFamily", "help", self.help)  # (the exposition is UTF-8)
        object.__setattr__(self, "samples", tuple(self.samples))


def _labels_text(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels.items()) + "}"


def _timestamp_text(ms: int | None, openmetrics: bool) -> str:
    if ms is None:
        return ""
    if not openmetrics:
        return f" {ms}"
    # Split the magnitude, not the signed value: divmod(-1500, 1000) is (-2, 500), not -1.500.
    sign = "-" if ms < 0 else ""
    seconds, rest = divmod(abs(ms), 1000)
    return f" {sign}{seconds}" if rest == 0 else f" {sign}{seconds}.{rest:03d}"


def render(families: Iterable[MetricFamily], *, openmetrics: bool = False) -> str:
    """The families as exposition text (Prometheus 0.0.4, or OpenMetrics 1.0 ending in ``# EOF``).

    Family names must be distinct. Within a family, samples are written in
    the order given (a series' samples with timestamps must ascend).
    """
    out: list[str] = []
    seen: set[str] = set()
    for fam in families:
        if not isinstance(fam, MetricFamily):
            raise TypeError(f"render: expected MetricFamily items, got {fam!r} ({type(fam).__name__})")
        if fam.name in seen:
            raise ValueError(f"render: metric family {fam.name!r} given twice")
        seen.add(fam.name)
        family_name = fam.name
        kind = fam.type
        if openmetrics:
            if kind == "counter":
                family_name = fam.name[: -len("_total")]
            elif kind == "untyped":
                kind = "unknown"  # type: ignore[assignment]  # OpenMetrics' word for it
        out.append(f"# HELP {family_name} {_escape_help(fam.help)}\n")
        out.append(f"# TYPE {family_name} {kind}\n")
        for s in fam.samples:
            out.append(
                f"{fam.name}{_labels_text(s.labels)} {format_value(s.value)}"
                f"{_timestamp_text(s.timestamp_ms, openmetrics)}\n"
            )
    if openmetrics:
        out.append("# EOF\n")
    return "".join(out)


_LEVELS = {"node": ("tenant", "cluster", "node"), "cluster": ("tenant", "cluster"), "tenant": ("tenant",)}


def _check_prefix(prefix: object) -> str:
    if not isinstance(prefix, str) or not _METRIC_NAME.match(prefix):
        raise ValueError(f"analytics_families: prefix must be a metric name, got {prefix!r}")
    return prefix


def analytics_families(
    results: Iterable[AnomalyResult] = (),
    aggregates: Iterable[AggregatedAnomalyScore] = (),
    *,
    engine: str | None = None,
    prefix: str = "backend_analytics",
) -> list[MetricFamily]:
    """Scores, labels and aggregates as metric families (see the module docstring for the names).

    For each series the *latest* result (the largest ``window_end``, then
    ``window_start``) gives its score, label and window end. ``engine``, when
    given, becomes an ``engine`` label on the series' samples. Aggregates go
    to the node, cluster or tenant families by their level; samples are in a
    stable order (sorted by labels).
    """
    prefix = _check_prefix(prefix)
    latest: dict[tuple[str, str, str, str], AnomalyResult] = {}
    for i, r in enumerate(results):
        if not isinstance(r, AnomalyResult):
            raise TypeError(
                f"analytics_families: results[{i}] must be an AnomalyResult, got {type(r).__name__}"
            )
        key = (r.tenant_id, r.cluster_id, r.node_id, r.metric_name)
        have = latest.get(key)
        if have is None or (r.window_end, r.window_start) >= (have.window_end, have.window_start):
            latest[key] = r
    extra = {} if engine is None else {"engine": engine}
    scores: list[Sample] = []
    labels: list[Sample] = []
    ends: list[Sample] = []
    for key in sorted(latest):
        r = latest[key]
        base = {"tenant": key[0], "cluster": key[1], "node": key[2], "metric": key[3], **extra}
        scores.append(Sample(base, r.anomaly_score))
        ends.append(Sample(base, datetime_to_epoch_us(r.window_end) / 1e6))
        labels.extend(
            Sample({**base, "label": t.value}, 1.0 if r.anomaly_label is t else 0.0) for t in AnomalyType
        )
    families = [
        MetricFamily(
            f"{prefix}_anomaly_score", "gauge", "Anomaly score of the latest window, 0..1.", tuple(scores)
        ),
        MetricFamily(
            f"{prefix}_anomaly_label",
            "gauge",
            "1 for the label of the latest window (spike, trend, seasonal, normal), 0 for the others.",
            tuple(labels),
        ),
        MetricFamily(
            f"{prefix}_anomaly_window_end_seconds",
            "gauge",
            "End of the latest scored window, Unix seconds.",
            tuple(ends),
        ),
    ]
    per_level: dict[str, list[AggregatedAnomalyScore]] = {level: [] for level in _LEVELS}
    for i, a in enumerate(aggregates):
        if not isinstance(a, AggregatedAnomalyScore):
            raise TypeError(
                f"analytics_families: aggregates[{i}] must be an AggregatedAnomalyScore, "
                f"got {type(a).__name__}"
            )
        per_level[a.level].append(a)
    for level, names in _LEVELS.items():
        rows = []
        for a in per_level[level]:
            ids = {"tenant": a.tenant_id, "cluster": a.cluster_id or "", "node": a.node_id or ""}
            labels_ = {n: ids[n] for n in names} | {"strategy": a.aggregation_strategy.value}
            rows.append((tuple(labels_.items()), labels_, a))
        rows.sort(key=lambda row: row[0])
        families += [
            MetricFamily(
                f"{prefix}_{level}_score",
                "gauge",
                f"Aggregated anomaly score of the {level}, 0..1.",
                tuple(Sample(lab, a.aggregate_score) for _, lab, a in rows),
            ),
            MetricFamily(
                f"{prefix}_{level}_metrics_analyzed",
                "gauge",
                f"Metric series that contributed to the {level}'s score.",
                tuple(Sample(lab, float(a.num_metrics_analyzed)) for _, lab, a in rows),
            ),
            MetricFamily(
                f"{prefix}_{level}_anomalies_detected",
                "gauge",
                f"Results whose label is not normal, over the {level}.",
                tuple(Sample(lab, float(a.num_anomalies_detected)) for _, lab, a in rows),
            ),
        ]
    return families


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        srv = self.server
        if self.path.split("?", 1)[0] != srv.metrics_path:
            self._send(404, "text/plain; charset=utf-8", f"not found; metrics are at {srv.metrics_path}\n")
            return
        try:
            body = srv.render_text()
        except Exception as exc:  # a failing render must answer 500, not kill the server thread
            _log.exception("rendering the metrics failed")
            self._send(500, "text/plain; charset=utf-8", f"rendering the metrics failed: {exc}\n")
            return
        self._send(200, srv.content_type, body)

    def _send(self, status: int, content_type: str, text: str) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    metrics_path = "/metrics"
    content_type = PROMETHEUS_CONTENT_TYPE
    render_text: Callable[[], str]


class ExpositionServer:
    """Serve ``render()``'s text at ``http://host:port/metrics`` for Prometheus to scrape.

    ``port=0`` picks a free port (see :attr:`port`). Binds to ``127.0.0.1`` by
    default. Use as a context manager, or call :meth:`start` and :meth:`close`;
    :meth:`serve_forever` blocks the calling thread instead.

    >>> with ExpositionServer(lambda: "up 1\\n") as srv:
    ...     import urllib.request
    ...     urllib.request.urlopen(srv.url, timeout=5).read()
    b'up 1\\n'
    """

    def __init__(
        self,
        render: Callable[[], str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        openmetrics: bool = False,
        path: str = "/metrics",
    ) -> None:
        if not callable(render):
            raise TypeError(f"ExpositionServer: render must be callable, got {render!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"ExpositionServer: port must be an int in 0..65535, got {port!r}")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"ExpositionServer: path must start with '/', got {path!r}")
        self._server = _Server((host, port), _Handler)
        self._server.render_text = render
        self._server.metrics_path = path
        self._server.content_type = OPENMETRICS_CONTENT_TYPE if openmetrics else PROMETHEUS_CONTENT_TYPE
        self._thread: threading.Thread | None = None
        self.host = host
        self.path = path

    @property
    def port(self) -> int:
        """The port the server listens on (the chosen one when created with ``port=0``)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port/metrics``."""
        return f"http://{self.host}:{self.port}{self.path}"

    def start(self) -> ExpositionServer:
        """Serve in a daemon thread; return ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.1,), name="exposition", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve in the calling thread until :meth:`close` is called from another thread."""
        self._server.serve_forever(poll_interval)

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ExpositionServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def timestamp_ms(value: datetime) -> int:
    """Epoch milliseconds of an aware datetime (floored), for :class:`Sample`'s ``timestamp_ms``."""
    return datetime_to_epoch_us(value) // 1000
