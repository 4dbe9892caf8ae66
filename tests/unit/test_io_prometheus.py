"""PrometheusSource against an in-process fake of Prometheus's query_range API (chunks, limit, errors)."""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from backend.analytics.io import LoadError
from backend.analytics.io.prometheus import MAX_POINTS, LabelMapping, PrometheusError, PrometheusSource

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
STEP = timedelta(seconds=60)


def _value(labels: dict[str, str], t: Decimal) -> str:
    return repr(float(t % 1000) + len(labels.get("node", "")))


class FakePrometheus:
    """Answers /api/v1/query_range like Prometheus 2.x: the 11,000-point limit, JSON errors, matrices."""

    def __init__(
        self, series: list[dict[str, str]], value: Callable[[dict[str, str], Decimal], str] = _value
    ):
        self.series = series
        self.value = value
        self.requests: list[dict[str, str]] = []
        self.answer: tuple[int, bytes] | None = None  # a canned answer instead of the matrix
        self.warnings: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                fake.requests.append(form)
                status, body = fake.handle(self.path, form)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def handle(self, path: str, form: dict[str, str]) -> tuple[int, bytes]:
        if self.answer is not None:
            return self.answer
        if path != "/api/v1/query_range":
            return 404, b"404 page not found"
        start, end, step = Decimal(form["start"]), Decimal(form["end"]), Decimal(form["step"])
        if (end - start) / step > 11_000:
            error = (
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
            return 400, json.dumps({"status": "error", "errorType": "bad_data", "error": error}).encode()
        result = []
        for labels in self.series:
            values = []
            t = start
            while t <= end:
                values.append([float(t) if t % 1 else int(t), self.value(labels, t)])
                t += step
            result.append({"metric": labels, "values": values})
        doc: dict[str, Any] = {"status": "success", "data": {"resultType": "matrix", "result": result}}
        if self.warnings:
            doc["warnings"] = self.warnings
        return 200, json.dumps(doc).encode()


@pytest.fixture
def fake() -> Iterator[FakePrometheus]:
    labels = [
        {"__name__": "sim_cpu", "tenant": "acme", "cluster": "c-1", "node": "n-1", "job": "sim"},
        {"__name__": "sim_cpu", "tenant": "acme", "cluster": "c-1", "node": "node-22", "job": "sim"},
    ]
    prom = FakePrometheus(labels)
    prom.thread.start()
    yield prom
    prom.server.shutdown()
    prom.server.server_close()


def test_reads_series_and_maps_labels(fake: FakePrometheus) -> None:
    """Each Prometheus series becomes a MetricSeries named by the default mapping, prefix stripped."""
    source = PrometheusSource(fake.url, mapping=LabelMapping(strip_prefix="sim_"))
    series, report = source.query_range("sim_cpu", T0, T0 + 4 * STEP, STEP)
    assert [s.ids for s in series] == [("acme", "c-1", "n-1", "cpu"), ("acme", "c-1", "node-22", "cpu")]
    assert list(series[0].timestamps) == [T0 + k * STEP for k in range(5)]
    assert series[0].values.tolist() == [
        float(_value(fake.series[0], Decimal(int((T0 + k * STEP).timestamp())))) for k in range(5)
    ]
    assert report.clean and report.rows == 10 and report.points == 10
    assert fake.requests[0]["query"] == "sim_cpu" and fake.requests[0]["step"] == "60"


def test_range_is_split_into_chunks_on_the_step_grid(fake: FakePrometheus) -> None:
    """A range of 25 instants with max_points=10 takes 3 requests, each on the grid, joined seamlessly."""
    source = PrometheusSource(fake.url, max_points=10, mapping=LabelMapping(strip_prefix="sim_"))
    series, _ = source.query_range("sim_cpu", T0, T0 + 24 * STEP, STEP)
    spans = [(int(r["start"]), int(r["end"])) for r in fake.requests]
    t0 = int(T0.timestamp())
    assert spans == [(t0, t0 + 9 * 60), (t0 + 600, t0 + 19 * 60), (t0 + 1200, t0 + 24 * 60)]
    assert list(series[1].timestamps) == [T0 + k * STEP for k in range(25)]


def test_default_chunks_respect_prometheus_limit(fake: FakePrometheus) -> None:
    """With the default max_points, a 25,000-instant range passes the fake's 11,000-point limit."""
    fake.series = fake.series[:1]
    source = PrometheusSource(fake.url, mapping=LabelMapping(strip_prefix="sim_"))
    series, _ = source.query_range("sim_cpu", T0, T0 + 24_999 * STEP, STEP)
    assert len(fake.requests) == 3
    assert len(series[0]) == 25_000
    sizes = [(int(r["end"]) - int(r["start"])) // 60 + 1 for r in fake.requests]
    assert sizes == [MAX_POINTS, MAX_POINTS, 25_000 - 2 * MAX_POINTS]


def test_limit_error_is_reported_with_prometheus_message(fake: FakePrometheus) -> None:
    """Asking the fake for more than 11,000 points (no chunking there) gives Prometheus's own message."""
    fake.answer = (
        400,
        json.dumps(
            {"status": "error", "errorType": "bad_data", "error": "exceeded maximum resolution"}
        ).encode(),
    )
    with pytest.raises(PrometheusError) as info:
        PrometheusSource(fake.url).query_range("up", T0, T0 + STEP, STEP)
    exc = info.value
    assert (exc.status, exc.error_type, exc.error, exc.query) == (
        400,
        "bad_data",
        "exceeded maximum resolution",
        "up",
    )
    assert str(exc) == (
        f"Prometheus at {fake.url}/api/v1/query_range answered HTTP 400 (bad_data) to query 'up': "
        "exceeded maximum resolution"
    )


def test_max_points_above_the_limit_is_refused() -> None:
    """max_points beyond Prometheus's 11,000 is a ValueError naming the limit."""
    with pytest.raises(
        ValueError, match=r"max_points must be an int in 1..11000 \(Prometheus's limit per series\)"
    ):
        PrometheusSource("http://127.0.0.1:9", max_points=11_001)


def test_not_json_answer(fake: FakePrometheus) -> None:
    """A non-JSON body (a proxy's error page) raises PrometheusError quoting the status and the body."""
    fake.answer = (503, b"<html>Service Unavailable</html>")
    with pytest.raises(
        PrometheusError,
        match=r"answered HTTP 503 to query 'up' with a body that is not JSON: "
        r"'<html>Service Unavailable</html>'",
    ):
        PrometheusSource(fake.url).query_range("up", T0, T0 + STEP, STEP)


def test_wrong_result_type(fake: FakePrometheus) -> None:
    """A success that is not a matrix is a PrometheusError naming the result type."""
    fake.answer = (
        200,
        json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}).encode(),
    )
    with pytest.raises(PrometheusError, match="with resultType 'vector', expected 'matrix'"):
        PrometheusSource(fake.url).query_range("up", T0, T0 + STEP, STEP)


def test_a_sample_without_its_value_is_a_prometheus_error(fake: FakePrometheus) -> None:
    """A matrix sample that is not [timestamp, value] is refused as a bad answer, naming the series."""
    labels = {"__name__": "sim_cpu", "tenant": "acme", "cluster": "c-1", "node": "n-1"}
    result = [{"metric": labels, "values": [[T0.timestamp(), "1"], [2]]}]
    doc = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    fake.answer = (200, json.dumps(doc).encode())
    with pytest.raises(PrometheusError, match=r"with a sample \[2\] in series .*expected \[timestamp"):
        PrometheusSource(fake.url).query_range("up", T0, T0 + STEP, STEP)


def test_unreachable_server() -> None:
    """A refused connection is a PrometheusError saying where and for which query."""
    fake = FakePrometheus([])
    url = fake.url
    fake.server.server_close()  # nothing listens there now
    with pytest.raises(
        PrometheusError, match=rf"could not reach Prometheus at {url}/api/v1/query_range for query 'up'"
    ):
        PrometheusSource(url, timeout=5).query_range("up", T0, T0 + STEP, STEP)


def test_missing_label_refuses_the_series_unless_defaulted(fake: FakePrometheus) -> None:
    """A series without a mapped label is refused and reported; defaults= fills it; strict raises."""
    fake.series = [{"__name__": "cpu", "cluster": "c-1", "node": "n-1"}]
    series, report = PrometheusSource(fake.url).query_range("cpu", T0, T0 + STEP, STEP)
    assert series == []
    [issue] = report.refused
    assert issue.where == 'series cpu{cluster="c-1",node="n-1"}'
    assert "no label 'tenant' for the tenant" in issue.reason and issue.reason.startswith("2 samples")
    with pytest.raises(LoadError, match="no label 'tenant'"):
        PrometheusSource(fake.url).query_range("cpu", T0, T0 + STEP, STEP, strict=True)
    mapped = PrometheusSource(fake.url, mapping=LabelMapping(defaults={"tenant": "acme"}))
    series, report = mapped.query_range("cpu", T0, T0 + STEP, STEP)
    assert series[0].ids == ("acme", "c-1", "n-1", "cpu") and report.clean


def test_other_label_names(fake: FakePrometheus) -> None:
    """The mapping can take any label for any id, e.g. the node from `instance`."""
    fake.series = [{"__name__": "up", "team": "t", "region": "eu", "instance": "10.0.0.1:9100"}]
    mapping = LabelMapping(tenant="team", cluster="region", node="instance")
    series, _ = PrometheusSource(fake.url, mapping=mapping).query_range("up", T0, T0, STEP)
    assert series[0].ids == ("t", "eu", "10.0.0.1:9100", "up")


def test_two_series_mapping_to_the_same_ids_is_an_error(fake: FakePrometheus) -> None:
    """Series equal but for a label the mapping ignores would be merged by guess: a ValueError names both."""
    fake.series = [
        {"__name__": "cpu", "tenant": "a", "cluster": "c", "node": "n", "instance": "x"},
        {"__name__": "cpu", "tenant": "a", "cluster": "c", "node": "n", "instance": "y"},
    ]
    with pytest.raises(
        ValueError, match=r'instance="x".*instance="y".* both map to a/c/n/cpu; narrow the query'
    ):
        PrometheusSource(fake.url).query_range("cpu", T0, T0 + STEP, STEP)


def test_nan_and_inf_samples_are_refused_and_reported(fake: FakePrometheus) -> None:
    """NaN and +Inf samples are refused, each reported with the series' labels and the instant."""
    fake.series = fake.series[:1]
    t_nan, t_inf = Decimal(int((T0 + STEP).timestamp())), Decimal(int((T0 + 2 * STEP).timestamp()))
    fake.value = lambda labels, t: "NaN" if t == t_nan else "+Inf" if t == t_inf else "1"
    series, report = PrometheusSource(fake.url).query_range("cpu", T0, T0 + 3 * STEP, STEP)
    assert series[0].values.tolist() == [1.0, 1.0]
    assert [i.reason for i in report.refused] == [
        "value 'NaN' is not a finite number",
        "value '+Inf' is not a finite number",
    ]
    assert report.refused[0].where.endswith(f"at {(T0 + STEP).isoformat()}")


def test_warnings_are_logged(fake: FakePrometheus, caplog: pytest.LogCaptureFixture) -> None:
    """Prometheus's warnings are logged with the query."""
    fake.warnings = ["results may be partial"]
    with caplog.at_level(logging.WARNING, logger="backend.analytics.io.prometheus"):
        PrometheusSource(fake.url).query_range("sim_cpu", T0, T0, STEP)
    assert "warned about query 'sim_cpu': results may be partial" in caplog.text


def test_argument_checks() -> None:
    """Bad URLs, timeouts, mappings and ranges are refused with the uniform messages."""
    with pytest.raises(ValueError, match="url must be an http"):
        PrometheusSource("localhost:9090")
    with pytest.raises(ValueError, match="timeout must be a positive finite number of seconds"):
        PrometheusSource("http://h:1", timeout=0)
    with pytest.raises(ValueError, match="end must not be before start"):
        PrometheusSource("http://h:1").chunks(T0, T0 - STEP, STEP)
    with pytest.raises(ValueError, match=r"step must be a positive datetime\.timedelta"):
        PrometheusSource("http://h:1").chunks(T0, T0, timedelta(0))
    with pytest.raises(ValueError, match="defaults must be keys among tenant, cluster, node, metric"):
        LabelMapping(defaults={"host": "x"})


class RawPrometheus(FakePrometheus):
    """Answers /api/v1/query for ``selector[Nms]`` at ``time`` with the raw samples in [time - N, time]
    (both ends, as Prometheus 2 does), or a bad_data error for anything else."""

    def __init__(self, samples: dict[str, list[tuple[Decimal, str]]]) -> None:
        super().__init__([])
        self.samples = samples  # node -> [(seconds, value)]
        self.queries: list[str] = []
        self.thread.start()

    def handle(self, path: str, form: dict[str, str]) -> tuple[int, bytes]:
        self.queries.append(form["query"])
        found = re.fullmatch(r'sim_cpu\{tenant="acme"\}\[(\d+)ms\]', form["query"])
        if path != "/api/v1/query" or found is None:
            error = "ranges only allowed for vector selectors"
            return 400, json.dumps({"status": "error", "errorType": "bad_data", "error": error}).encode()
        t, span = Decimal(form["time"]), Decimal(found.group(1)) / 1000
        labels: dict[str, str] = {"__name__": "sim_cpu", "tenant": "acme", "cluster": "c-1"}
        result: list[dict[str, Any]] = [
            {
                "metric": {**labels, "node": node},
                "values": [[float(ts), v] for ts, v in rows if t - span <= ts <= t],
            }
            for node, rows in self.samples.items()
        ]
        doc = {"status": "success", "data": {"resultType": "matrix", "result": result}}
        return 200, json.dumps(doc).encode()


def test_query_samples_reads_each_raw_sample_once_at_its_own_time() -> None:
    """Off-grid times stay as scraped, a gap stays a gap, and samples on chunk edges are read once."""
    t0 = Decimal(int(T0.timestamp()))
    # Off the minute, on chunk edges (600, 1800, 3600) and around a 20-minute gap.
    times = [t0 + 5, t0 + Decimal("318.5"), t0 + 600, t0 + 1800, t0 + 1860, t0 + 3600]
    prom = RawPrometheus({"n-1": [(t, f"{k}.5") for k, t in enumerate(times)]})
    try:
        loaded = PrometheusSource(prom.url).query_samples(
            'sim_cpu{tenant="acme"}', T0, T0 + timedelta(hours=1), chunk=timedelta(minutes=10)
        )
        (series,) = loaded.series
        assert [int(t.timestamp() * 1000) for t in series.timestamps] == [int(t * 1000) for t in times]
        assert series.values.tolist() == [k + 0.5 for k in range(len(times))]
        assert loaded.report.points == len(times) and not loaded.report.issues
        assert len(prom.queries) == 6 and all(q.endswith("[600001ms]") for q in prom.queries)
        with pytest.raises(PrometheusError, match="ranges only allowed for vector selectors"):
            PrometheusSource(prom.url).query_samples("rate(sim_cpu[5m])", T0, T0 + timedelta(minutes=5))
    finally:
        prom.server.shutdown()
        prom.server.server_close()


def test_malformed_or_truncated_answers_are_prometheus_errors(fake: FakePrometheus) -> None:
    """A series that is not an object, and a body cut short, are PrometheusErrors (they escaped as an
    AttributeError and an http.client.IncompleteRead: a traceback from the CLI)."""
    doc = {"status": "success", "data": {"resultType": "matrix", "result": ["oops"]}}
    fake.answer = (200, json.dumps(doc).encode())
    with pytest.raises(PrometheusError, match=r"with a series 'oops', expected \{\"metric\""):
        PrometheusSource(fake.url).query_range("up", T0, T0 + STEP, STEP)
    body = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": []}}).encode()

    class Short(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) * 2))  # promises more than it sends
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Short)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(PrometheusError, match="sent an incomplete answer to query 'up'"):
            PrometheusSource(url, timeout=5).query_range("up", T0, T0 + STEP, STEP)
    finally:
        server.shutdown()
        server.server_close()


def test_native_histogram_samples_are_counted_and_refused(fake: FakePrometheus) -> None:
    """A series of native histograms ("histograms", not "values") vanished from a clean report."""
    labels = {"__name__": "lat", "tenant": "acme", "cluster": "c-1", "node": "n-1"}
    histogram = [T0.timestamp(), {"count": "3", "sum": "1.5", "buckets": []}]
    result = [{"metric": labels, "histograms": [histogram, histogram]}]
    doc = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    fake.answer = (200, json.dumps(doc).encode())
    series, report = PrometheusSource(fake.url).query_range("lat", T0, T0 + STEP, STEP)
    assert series == [] and report.rows == 2 and not report.clean
    [issue] = report.refused
    assert "2 native histogram samples" in issue.reason and "histogram_quantile" in issue.reason
    with pytest.raises(LoadError, match="native histogram"):
        PrometheusSource(fake.url).query_range("lat", T0, T0 + STEP, STEP, strict=True)
