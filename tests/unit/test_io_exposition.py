"""The text exposition writer, checked by parsing its output back with prometheus-client's parsers."""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from backend.analytics import AggregatedAnomalyScore, AnomalyResult, AnomalyType
from backend.analytics.io.exposition import (
    OPENMETRICS_CONTENT_TYPE,
    PROMETHEUS_CONTENT_TYPE,
    ExpositionServer,
    MetricFamily,
    Sample,
    analytics_families,
    escape_label_value,
    render,
)

prom_parser = pytest.importorskip("prometheus_client.parser")
om_parser = pytest.importorskip("prometheus_client.openmetrics.parser")

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
NASTY = 'back\\slash "quoted"\nnew line ünï'


def _parse(text: str) -> dict[str, list[tuple[str, dict[str, str], float, float | None]]]:
    out: dict[str, list[tuple[str, dict[str, str], float, float | None]]] = {}
    for fam in prom_parser.text_string_to_metric_families(text):
        out[fam.name] = [(s.name, dict(s.labels), s.value, s.timestamp) for s in fam.samples]
    return out


def test_render_parses_back_with_escapes_and_special_values() -> None:
    """Label values with backslashes, quotes, newlines, non-ASCII, and +Inf/-Inf/NaN parse back exactly."""
    fam = MetricFamily(
        "demo_value",
        "gauge",
        "Help with a \\ and a\nnewline.",
        (
            Sample({"who": NASTY}, 0.1),
            Sample({"who": "big"}, 1e308),
            Sample({"who": "inf"}, math.inf),
            Sample({"who": "ninf"}, -math.inf),
            Sample({"who": "nan"}, math.nan),
        ),
    )
    parsed = _parse(render([fam]))["demo_value"]
    assert [p[1]["who"] for p in parsed] == [NASTY, "big", "inf", "ninf", "nan"]
    assert [p[2] for p in parsed[:4]] == [0.1, 1e308, math.inf, -math.inf]
    assert math.isnan(parsed[4][2])
    assert escape_label_value(NASTY) == 'back\\\\slash \\"quoted\\"\\nnew line ünï'


def test_prometheus_format_timestamps_are_milliseconds() -> None:
    """A sample's own timestamp is written in ms (Prometheus format) and parses back as seconds."""
    text = render([MetricFamily("m_total", "counter", "c", (Sample({}, 5, 1714557600123),))])
    assert "m_total 5.0 1714557600123\n" in text
    [(name, _, value, ts)] = _parse(text)["m"]
    assert (name, value) == ("m_total", 5.0)
    assert ts is not None and float(ts) == pytest.approx(1714557600.123)


def test_openmetrics_counter_family_and_eof() -> None:
    """OpenMetrics output names a counter's family without _total, uses seconds and ends with # EOF."""
    fams = [
        MetricFamily("req_total", "counter", "Requests.", (Sample({"n": "a"}, 3, 1714557600000),)),
        MetricFamily("temp", "gauge", "T.", (Sample({"n": "a"}, 1.5, 1714557600500),)),
    ]
    text = render(fams, openmetrics=True)
    assert text.endswith("# EOF\n")
    assert "# TYPE req counter\n" in text
    parsed = {f.name: f for f in om_parser.text_string_to_metric_families(text)}
    assert parsed["req"].type == "counter"
    assert parsed["req"].samples[0].name == "req_total"
    assert float(parsed["temp"].samples[0].timestamp) == 1714557600.5


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: MetricFamily("bad-name", "gauge", "h"), "name must match"),
        (lambda: MetricFamily("hits", "counter", "h"), "a counter's name must end in '_total'"),
        (lambda: MetricFamily("m", "histogram", "h"), "type must be 'gauge', 'counter' or 'untyped'"),  # type: ignore[arg-type]
        (lambda: Sample({"__name__": "x"}, 1.0), "not start with '__'"),
        (lambda: Sample({"a-b": "x"}, 1.0), "label name must match"),
        (lambda: Sample({"node": "a\ud800"}, 1.0), r"label 'node' must be Unicode text .*at index 1\)"),
        (lambda: MetricFamily("m", "gauge", "h\udc80"), r"help must be Unicode text .*at index 1\)"),
    ],
)
def test_invalid_names_are_refused(build: object, message: str) -> None:
    """Names the text format cannot carry are refused when the family or sample is built."""
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_family_given_twice_is_refused() -> None:
    """render refuses two families with the same name (the format has one block per name)."""
    fam = MetricFamily("m", "gauge", "h")
    with pytest.raises(ValueError, match="metric family 'm' given twice"):
        render([fam, fam])


def _result(node: str, metric: str, minute: int, score: float, label: AnomalyType) -> AnomalyResult:
    start = T0 + timedelta(minutes=minute)
    return AnomalyResult("acme", "c-1", node, metric, start, start + timedelta(minutes=4), score, label)


def test_analytics_families_export_the_latest_window_and_aggregates() -> None:
    """Per series the latest window's score and label are exported; aggregates go to their level's family."""
    results = [
        _result("n-1", "cpu", 10, 0.9, AnomalyType.SPIKE),
        _result("n-1", "cpu", 0, 0.1, AnomalyType.NORMAL),  # older: not exported
        _result("n-2", "mem", 0, 0.6, AnomalyType.TREND),
    ]
    aggs = [
        AggregatedAnomalyScore("acme", None, None, "max", 0.9, 2, 2),
        AggregatedAnomalyScore("acme", "c-1", None, "max", 0.9, 2, 2),
        AggregatedAnomalyScore("acme", "c-1", "n-1", "max", 0.9, 1, 1),
        AggregatedAnomalyScore("acme", "c-1", "n-2", "max", 0.6, 1, 1),
    ]
    parsed = _parse(render(analytics_families(results, aggs, engine="zscore")))
    scores = {(s[1]["node"], s[1]["metric"]): s[2] for s in parsed["backend_analytics_anomaly_score"]}
    assert scores == {("n-1", "cpu"): 0.9, ("n-2", "mem"): 0.6}
    assert all(s[1]["engine"] == "zscore" for s in parsed["backend_analytics_anomaly_score"])
    on = {(s[1]["node"], s[1]["label"]) for s in parsed["backend_analytics_anomaly_label"] if s[2] == 1.0}
    assert on == {("n-1", "spike"), ("n-2", "trend")}
    assert len(parsed["backend_analytics_anomaly_label"]) == 2 * len(AnomalyType)
    ends = {s[1]["node"]: s[2] for s in parsed["backend_analytics_anomaly_window_end_seconds"]}
    assert ends["n-1"] == (T0 + timedelta(minutes=14)).timestamp()
    node = {s[1]["node"]: s[2] for s in parsed["backend_analytics_node_score"]}
    assert node == {"n-1": 0.9, "n-2": 0.6}
    assert parsed["backend_analytics_tenant_score"] == [
        ("backend_analytics_tenant_score", {"tenant": "acme", "strategy": "max"}, 0.9, None)
    ]
    assert parsed["backend_analytics_cluster_anomalies_detected"][0][2] == 2.0


def test_analytics_families_reject_wrong_items() -> None:
    """Items of the wrong type are a TypeError naming their position."""
    with pytest.raises(TypeError, match=r"results\[0\] must be an AnomalyResult"):
        analytics_families(["x"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="prefix must be a metric name"):
        analytics_families(prefix="bad prefix")


def test_server_serves_the_text_and_404_and_500() -> None:
    """GET /metrics answers the text with its content type; other paths 404; a failing render 500."""
    calls = []

    def body() -> str:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("boom")
        return "up 1\n"

    with ExpositionServer(body) as srv:
        assert srv.port > 0 and srv.url == f"http://127.0.0.1:{srv.port}/metrics"
        with urllib.request.urlopen(srv.url, timeout=5) as resp:
            assert resp.read() == b"up 1\n"
            assert resp.headers["Content-Type"] == PROMETHEUS_CONTENT_TYPE
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(srv.url.replace("/metrics", "/other"), timeout=5)
        assert info.value.code == 404
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(srv.url, timeout=5)
        assert info.value.code == 500 and b"boom" in info.value.read()


def test_server_openmetrics_content_type() -> None:
    """openmetrics=True announces the OpenMetrics content type."""
    server = ExpositionServer(lambda: "# EOF\n", openmetrics=True)
    with server as srv, urllib.request.urlopen(srv.url) as resp:
        assert resp.headers["Content-Type"] == OPENMETRICS_CONTENT_TYPE


def test_server_rejects_bad_port() -> None:
    """A port outside 0..65535 is a ValueError."""
    with pytest.raises(ValueError, match=r"port must be an int in 0\.\.65535, got 70000"):
        ExpositionServer(lambda: "", port=70000)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (-1500, "-1.500"),
        (-1, "-0.001"),
        (-1000, "-1"),
        (-999, "-0.999"),
        (0, "0"),
        (1, "0.001"),
        (1500, "1.500"),
        (1714557600123, "1714557600.123"),
    ],
)
def test_openmetrics_timestamps_round_trip_before_and_after_1970(ms: int, text: str) -> None:
    """A millisecond timestamp is written as signed seconds (before 1970 too) and parses back exactly."""
    out = render([MetricFamily("x", "gauge", "h", (Sample({}, 1.0, ms),))], openmetrics=True)
    assert f"x 1.0 {text}\n" in out
    assert Decimal(text) * 1000 == ms
    [fam] = om_parser.text_string_to_metric_families(out)
    ts = fam.samples[0].timestamp
    assert ts is not None
    # prometheus-client reads "-0.001" as +0.001 (its int("-0") drops the sign), so its value is
    # compared only where the whole seconds are not zero.
    if not -1000 < ms < 0:
        assert round(float(ts) * 1000) == ms


def test_sample_value_outside_the_float_range_is_refused_when_built() -> None:
    """An int too large for a float is refused by Sample itself, not by render later."""
    with pytest.raises(ValueError, match=r"Sample: value must be a real number within the float range"):
        Sample({"a": "b"}, 10**400)
    assert render([MetricFamily("m", "gauge", "h", (Sample({}, 10**300),))]).endswith("m 1e+300\n")
