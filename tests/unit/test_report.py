"""The HTML report: well-formed, self-contained, escaped, one plot per top anomaly, the band when offered."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.analytics import AnomalyResult, AnomalyType, MetricSeries
from backend.analytics.report import render_report, write_report

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "wbr", "source", "track", "param"}
SVG_SELF_CLOSING = {"rect", "path", "polygon", "line", "circle", "stop"}


class _Checker(HTMLParser):
    """Tracks element nesting (raising on a mismatch) and collects tags and attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise AssertionError(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _check(html: str) -> _Checker:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    assert checker.stack == [], f"unclosed: {checker.stack}"
    return checker


def _series(tenant: str, node: str, metric: str, *, jump_at: int | None = None, n: int = 300) -> MetricSeries:
    values = [10.0 + (i % 7) * 0.1 for i in range(n)]
    if jump_at is not None:
        values[jump_at] += 50.0
    return MetricSeries(
        tenant, "c-1", node, metric, [T0 + timedelta(minutes=5 * i) for i in range(n)], values
    )


def _result(
    s: MetricSeries, i0: int, i1: int, score: float, label: AnomalyType, text: str | None
) -> AnomalyResult:
    return AnomalyResult(*s.ids, s.timestamps[i0], s.timestamps[i1 - 1], score, label, explanation=text)


@pytest.fixture
def fleet() -> tuple[list[MetricSeries], list[AnomalyResult]]:
    evil = '<script>alert("x")</script>&'
    s1 = _series("acme", "n-1", "cpu", jump_at=200)
    s2 = _series("acme", "n-2", evil, jump_at=150)
    s3 = _series("acme", "n-3", "mem")
    s4 = _series("globex", "g-1", "cpu", jump_at=100)
    results = [
        _result(s1, 195, 201, 0.9, AnomalyType.SPIKE, "cpu spiked to 60 at 16:40."),
        _result(s1, 0, 6, 0.1, AnomalyType.NORMAL, None),
        _result(s2, 145, 151, 0.7, AnomalyType.TREND, f"{evil} rose"),
        _result(s3, 100, 106, 0.2, AnomalyType.NORMAL, None),
        _result(s4, 95, 101, 0.8, AnomalyType.SPIKE, None),
    ]
    return [s1, s2, s3, s4], results


def _lookup(series: Sequence[MetricSeries]):  # type: ignore[no-untyped-def]
    by_ids = {s.ids: s for s in series}
    return lambda r: by_ids.get((r.tenant_id, r.cluster_id, r.node_id, r.metric_name))


class FakeEngine:
    """An engine offering an expected band: baseline +- 1 for each requested point."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def expected_band(
        self, series: MetricSeries, start: int, end: int
    ) -> tuple[list[float], list[float]] | None:
        self.calls.append((start, end))
        if series.metric_name == "mem":
            return None
        return [9.0] * (end - start), [11.0] * (end - start)

    def explain(self, series: MetricSeries, result: AnomalyResult) -> str:
        return f"fake explanation for {series.metric_name}"


def test_report_is_well_formed_with_one_plot_per_top_anomaly(
    fleet: tuple[list[MetricSeries], list[AnomalyResult]],
) -> None:
    """One SVG plot per top node that has an anomalous window, plus one heat map; the HTML nests correctly."""
    series, results = fleet
    html = render_report(results, series_for=_lookup(series), top=3)
    checker = _check(html)
    classes = [a.get("class") for t, a in checker.tags if t == "svg"]
    assert classes.count("plot") == 3  # acme n-1, acme n-2 (n-3 has no anomaly), globex g-1
    assert classes.count("heatmap") == 1
    assert html.startswith("<!DOCTYPE html>")


def test_top_limits_the_plots(fleet: tuple[list[MetricSeries], list[AnomalyResult]]) -> None:
    """top=1 plots only each tenant's first node."""
    series, results = fleet
    html = render_report(results, series_for=_lookup(series), top=1)
    assert html.count('<svg class="plot"') == 2


def test_every_string_is_escaped(fleet: tuple[list[MetricSeries], list[AnomalyResult]]) -> None:
    """Ids and explanations with markup come out as text: no script element, the text intact."""
    series, results = fleet
    html = render_report(results, series_for=_lookup(series), title="<b>T</b>", notes=["a < b"])
    checker = _check(html)
    assert all(t not in ("script", "b", "iframe") for t, _ in checker.tags)
    text = "".join(checker.text)
    assert '<script>alert("x")</script>& rose' in text
    assert "<b>T</b>" in text and "a < b" in text


def test_self_contained_no_external_reference(fleet: tuple[list[MetricSeries], list[AnomalyResult]]) -> None:
    """No script, no URL, no external stylesheet or font; a CSP forbids fetching anything."""
    series, results = fleet
    html = render_report(results, series_for=_lookup(series))
    checker = _check(html)
    assert not re.search(r"https?://|//[a-z]|url\(|@import|@font-face", html, re.IGNORECASE)
    for tag, attrs in checker.tags:
        assert tag not in ("script", "link", "img", "iframe", "object", "embed")
        assert "src" not in attrs
        href = attrs.get("href")
        assert href is None or href.startswith("#"), href
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    csp = [a for t, a in checker.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0]["content"] or "")


def test_band_drawn_when_the_engine_has_one(fleet: tuple[list[MetricSeries], list[AnomalyResult]]) -> None:
    """expected_band is asked for the plotted points; its band is drawn; a None band draws none."""
    series, results = fleet
    engine = FakeEngine()
    html = render_report(
        results, series_for=_lookup(series), engine=engine, context_points=40, after_points=10
    )
    assert html.count('class="band"') == 3
    # acme n-1: window 195..200, 40 points before, 10 after; asked before the window and from it on
    assert (155, 195) in engine.calls and (195, 211) in engine.calls
    assert "blue band: what the explanation measures against" in html
    without = render_report(results, series_for=_lookup(series))
    assert 'class="band"' not in without
    # context limits the plot in time (5-minute steps: 2 hours are 24 points), not the band's series.
    engine.calls.clear()
    render_report(
        results, series_for=_lookup(series), engine=engine, context_points=40, after_points=10,
        context=timedelta(hours=2),
    )  # fmt: skip
    assert (171, 195) in engine.calls and (195, 211) in engine.calls


def test_band_of_the_wrong_length_is_an_error(fleet: tuple[list[MetricSeries], list[AnomalyResult]]) -> None:
    """A band that does not match the points asked for is a ValueError naming the engine."""
    series, results = fleet

    class Broken(FakeEngine):
        def expected_band(
            self, series: MetricSeries, start: int, end: int
        ) -> tuple[list[float], list[float]]:
            return [1.0], [2.0]

    with pytest.raises(ValueError, match=r"engine 'fake': expected_band lower must have \d+ values"):
        render_report(results, series_for=_lookup(series), engine=Broken())


def test_explanation_from_the_result_or_the_engine(
    fleet: tuple[list[MetricSeries], list[AnomalyResult]],
) -> None:
    """A stored explanation is shown; without one the engine explains; without engine a note says so."""
    series, results = fleet
    html = render_report(results, series_for=_lookup(series), engine=FakeEngine())
    assert "cpu spiked to 60 at 16:40." in html and "fake explanation for cpu" in html
    plain = render_report(results, series_for=_lookup(series))
    assert "No explanation was stored with this result." in plain


def test_missing_series_is_said(fleet: tuple[list[MetricSeries], list[AnomalyResult]]) -> None:
    """When the series cannot be found the section says so instead of plotting."""
    _, results = fleet
    html = render_report(results, series_for=lambda r: None)
    assert html.count('<svg class="plot"') == 0
    assert html.count("The series is not available") == 3


def test_one_point_window_is_shaded(fleet: tuple[list[MetricSeries], list[AnomalyResult]]) -> None:
    """A window of a single point still gets a visible shaded rectangle."""
    series, _ = fleet
    r = _result(series[0], 200, 201, 0.95, AnomalyType.SPIKE, "x")
    html = render_report([r], series_for=_lookup(series))
    widths = [float(w) for w in re.findall(r'class="window" x="[\d.]+" y="\d+" width="([\d.]+)"', html)]
    assert len(widths) == 1 and widths[0] >= 1.0


def test_write_report(tmp_path: Path, fleet: tuple[list[MetricSeries], list[AnomalyResult]]) -> None:
    """write_report writes the same page as UTF-8."""
    series, results = fleet
    path = write_report(tmp_path / "r.html", results, series_for=_lookup(series), generated_at=T0)
    assert path.read_text(encoding="utf-8") == render_report(
        results, series_for=_lookup(series), generated_at=T0
    )


def test_bad_options() -> None:
    """top and context sizes must be positive ints; series_for must be callable."""
    with pytest.raises(ValueError, match="top must be a positive int, got 0"):
        render_report([], series_for=lambda r: None, top=0)
    with pytest.raises(TypeError, match="series_for must be callable"):
        render_report([], series_for=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"context must be a positive datetime.timedelta, got 5 \(int\)"):
        render_report([], series_for=lambda r: None, context=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"context must be a positive datetime.timedelta"):
        render_report([], series_for=lambda r: None, context=timedelta(0))


def test_a_series_across_the_whole_float_range_plots_with_finite_coordinates() -> None:
    """Values near both ends of the float range (their range is not a float) and a band edge past it."""
    from backend.analytics.report._svg import plot_svg

    big = 1.79e308
    values = [big * (0.5 + 0.5 * (i % 7) / 7) for i in range(50)] + [-big]
    stamps = [int((T0 + timedelta(minutes=i)).timestamp() * 1e6) for i in range(len(values))]
    lower = [v * 0.9 for v in values]
    upper = [math.inf] * 10 + [v * 1.01 for v in values[10:]]  # (an edge past the range: no band there)
    svg = plot_svg(stamps, values, window=(50, 51), band=(lower, upper), title="t")
    numbers = re.findall(r"[-+0-9.e]+|nan|inf", re.sub(r"<title>.*?</title>", "", svg))
    assert "nan" not in numbers and "inf" not in numbers
    assert svg.count('class="band"') == 1  # drawn where both edges are known
    labels = [float(v) for v in _axis_labels(svg)]
    assert min(labels) < -1e307 and max(labels) > 1e307, labels  # round values, spanning the range


def _axis_labels(svg: str) -> list[str]:
    return re.findall(r'text-anchor="end" font-size="11">([^<]+)<', svg)


def test_values_a_subnormal_apart_plot_with_finite_coordinates() -> None:
    """0 and 5e-324 (a range whose half underflows to 0) plot instead of dividing by zero."""
    from backend.analytics.report._svg import plot_svg

    values = [0.0, 5e-324] * 3
    stamps = [int((T0 + timedelta(minutes=i)).timestamp()) * 1_000_000 for i in range(len(values))]
    svg = plot_svg(stamps, values, window=(1, 2), band=None, title="t")
    numbers = re.findall(r"[-+0-9.e]+|nan|inf", re.sub(r"<title>.*?</title>", "", svg))
    assert "nan" not in numbers and "inf" not in numbers
    assert _axis_labels(svg) == ["-1", "0", "1"]  # (widened to about +-1.1 around 0)


def test_a_constant_series_near_the_float_maximum_keeps_a_narrow_axis() -> None:
    """A constant 1.79e308 is plotted on an axis around it, not on one spanning the whole float range."""
    from backend.analytics.report._svg import plot_svg

    svg = plot_svg([0, 60_000_000], [1.79e308, 1.79e308], window=(0, 1), band=None, title="t")
    labels = [float(v) for v in _axis_labels(svg)]
    assert all(1.6e308 < v <= 1.8e308 for v in labels), labels


def test_timestamps_at_the_end_of_year_9999_are_labelled() -> None:
    """The last microseconds before year 10000 are labelled with integer arithmetic (no year 10000)."""
    from backend.analytics.report._svg import plot_svg

    last = int((datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)).timestamp()) * 1_000_000 + 999_999
    svg = plot_svg([last - 10, last], [1.0, 2.0], window=(0, 2), band=None, title="t")
    assert "31 Dec 23:59 UTC" in svg
    first = int(datetime(1, 1, 1, tzinfo=timezone.utc).timestamp()) * 1_000_000
    assert ">01 Jan 00:00<" in plot_svg([first, first + 1], [1.0, 2.0], window=(0, 1), band=None, title="t")


class _SurrogateExplainer:
    name = "bad"

    def explain(self, series: MetricSeries, result: AnomalyResult) -> str:
        return "broken \ud800 text"


def test_a_failed_write_report_leaves_the_old_file(
    tmp_path: Path, fleet: tuple[list[MetricSeries], list[AnomalyResult]]
) -> None:
    """Text that cannot be encoded is a clear error, and the report already at the path is kept."""
    series, results = fleet
    path = tmp_path / "r.html"
    path.write_text("the previous report", encoding="utf-8")
    with pytest.raises(ValueError, match=r"render_report: title must be Unicode text that encodes as UTF-8"):
        write_report(path, results, series_for=_lookup(series), title="x\ud800")
    plain = [r for r in results if not r.explanation]  # so the engine's explain() is asked
    with pytest.raises(ValueError, match=r"write_report: the page holds text that cannot be encoded"):
        write_report(path, plain, series_for=_lookup(series), engine=_SurrogateExplainer())
    assert path.read_text(encoding="utf-8") == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]  # no temporary file left
    write_report(path, results, series_for=_lookup(series), generated_at=T0)
    assert path.read_text(encoding="utf-8") == render_report(
        results, series_for=_lookup(series), generated_at=T0
    )


def test_title_and_notes_are_checked(fleet: tuple[list[MetricSeries], list[AnomalyResult]]) -> None:
    """A bare str as notes is refused (not split into characters); title must be a str."""
    series, results = fleet
    lookup = _lookup(series)
    with pytest.raises(TypeError, match=r"render_report: notes must be a sequence of str .*not a bare str"):
        render_report(results, series_for=lookup, notes="abc")
    with pytest.raises(TypeError, match=r"render_report: notes\[1\] must be a str, got 3 \(int\)"):
        render_report(results, series_for=lookup, notes=["a", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"render_report: title must be a str, got None \(NoneType\)"):
        render_report(results, series_for=lookup, title=None)  # type: ignore[arg-type]
    html = render_report(results, series_for=lookup, notes=["one note"])
    assert html.count('<p class="meta">one note</p>') == 1


def test_series_for_must_return_the_results_own_series(
    fleet: tuple[list[MetricSeries], list[AnomalyResult]],
) -> None:
    """Something that is not a series, or another node's series, is an error naming the result."""
    series, results = fleet
    wrong_type = r"series_for must return a MetricSeries or None, got \[1, 2\] \(list\) for the result acme/"
    with pytest.raises(TypeError, match=wrong_type):
        render_report(results, series_for=lambda r: [1, 2])  # type: ignore[arg-type,return-value]
    wrong_ids = r"series_for returned the series acme/c-1/n-3/mem for the result acme/c-1/n-1/cpu window"
    with pytest.raises(ValueError, match=wrong_ids):
        render_report(results, series_for=lambda r: series[2])


def test_a_series_without_a_point_in_the_window_is_said(
    fleet: tuple[list[MetricSeries], list[AnomalyResult]],
) -> None:
    """A series that does not reach the window gets the not-available note, not an unshaded plot."""
    series, results = fleet
    s1 = series[0]
    early = MetricSeries(*s1.ids, list(s1.timestamps)[:100], s1.values.tolist()[:100])
    html = render_report([results[0]], series_for=lambda r: early)
    assert html.count('<svg class="plot"') == 0
    assert "The series is not available in this window" in html


def test_node_scores_must_be_aggregates_of_one_strategy(
    fleet: tuple[list[MetricSeries], list[AnomalyResult]],
) -> None:
    """A snapshot of two strategies is refused by name (not as a repeated node); one strategy is ranked."""
    from backend.analytics import AggregationPipeline, AggregationStrategy

    series, results = fleet
    by_max = AggregationPipeline().aggregate_nodes(results)
    by_mean = AggregationPipeline(AggregationStrategy.MEAN).aggregate_nodes(results)
    with pytest.raises(ValueError) as caught:
        render_report(results, series_for=_lookup(series), node_scores=by_max + by_mean)
    assert str(caught.value) == (
        f"render_report: node_scores hold scores of strategies 'max' and 'mean' "
        f"(node_scores[{len(by_max)}]); give the scores of one strategy"
    )
    with pytest.raises(TypeError, match=r"node_scores\[1\] must be an AggregatedAnomalyScore, got dict"):
        render_report(results, series_for=_lookup(series), node_scores=[by_max[0], {}])  # type: ignore[list-item]
    # Cluster and tenant scores beside them are ignored, whatever their strategy.
    clusters = AggregationPipeline(AggregationStrategy.P95).aggregate_clusters(by_mean)
    html = render_report(results, series_for=_lookup(series), node_scores=by_mean + clusters, top=3)
    assert html == render_report(results, series_for=_lookup(series), node_scores=by_mean, top=3)


def test_the_heat_map_holds_every_row_and_its_legend_whatever_the_tenants() -> None:
    """With several tenants, every cell and the legend lie inside the SVG's height."""
    from backend.analytics.report._svg import HeatCell, heat_map_svg

    for tenants in (1, 3, 5):
        cells = [
            HeatCell(f"t{t}", f"c{c}", f"n{k}", (t + c + k) / 20)
            for t in range(tenants)
            for c in range(2)
            for k in range(4)
        ]
        svg = heat_map_svg(cells)
        box = re.search(r'class="heatmap" viewBox="0 0 [\d.]+ ([\d.]+)"', svg)
        assert box is not None
        height = float(box.group(1))
        rects = re.findall(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', svg)
        bottoms = [float(y) + float(h) for y, h in rects]
        assert len(bottoms) == tenants * 8 + 5 and max(bottoms) <= height, (tenants, max(bottoms), height)
        texts = [float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)"', svg)]
        assert max(texts) <= height


def test_a_run_of_anomalous_windows_is_shown_whole_around_the_highest() -> None:
    """The highest window is shaded darker inside its lighter run; the heading says when the run began."""
    s = _series("acme", "n-1", "cpu", n=300)
    scores = (0.1, 0.2, 0.8, 0.9, 0.95, 0.9, 0.2, 0.96, 0.3, 0.1)
    results = [
        _result(s, i, i + 10, score, AnomalyType.TREND if score >= 0.5 else AnomalyType.NORMAL, None)
        for i, score in zip(range(100, 200, 10), scores, strict=True)
    ]
    html = render_report(results, series_for=_lookup([s]), top=1)
    # The 0.96 window stands alone (a normal window before it); the run of three before is not shown.
    assert "highest window " + s.timestamps[170].isoformat() in html and "windows in a row" not in html
    results[7] = _result(s, 170, 180, 0.5, AnomalyType.TREND, None)  # now the 0.95 window is highest
    html = render_report(results, series_for=_lookup([s]), top=1)
    run = f"anomalous from {s.timestamps[120].isoformat()} to {s.timestamps[159].isoformat()}"
    assert run + " (4 windows in a row)" in html
    assert html.count('class="episode"') == 1 and html.count('class="window"') == 1
    assert "in the lighter run of 4 anomalous windows" in html
    # A run whose label changed along it says so: what it was called, and from when.
    results[2] = _result(s, 120, 130, 0.8, AnomalyType.SPIKE, None)
    results[5] = _result(s, 150, 160, 0.9, AnomalyType.SEASONAL, None)
    html = render_report(results, series_for=_lookup([s]), top=1)
    trend, seasonal = s.timestamps[130].isoformat(), s.timestamps[150].isoformat()
    changes = f"spike, then trend from {trend}, then seasonal from {seasonal}"
    assert run + " (4 windows in a row; labelled " + changes + ")" in html


def test_a_gap_in_the_data_breaks_the_line() -> None:
    """Points more than twice the usual step apart are not joined: no trend is drawn across a gap."""
    from backend.analytics.report._svg import plot_svg

    minute = 60_000_000
    stamps = [i * minute for i in range(50)] + [(i + 250) * minute for i in range(50)]
    svg = plot_svg(stamps, [float(i) for i in range(100)], window=(60, 62), band=None, title="t")
    path = re.search(r'<path class="series" d="([^"]+)"', svg)
    assert path is not None and path.group(1).count("M") == 2
    even = plot_svg(stamps[:50], [1.0] * 50, window=(0, 1), band=None, title="t")
    assert re.search(r'<path class="series" d="([^"]+)"', even).group(1).count("M") == 1  # type: ignore[union-attr]


def test_scores_are_rounded_down_so_none_reads_as_the_alarm_line() -> None:
    """0.4956 reads 0.49 (below the alarm line, as it is); 0.9956 reads 0.99."""
    from backend.analytics.report._svg import score_text

    assert [score_text(x) for x in (0.4956, 0.5, 0.9956, 1.0)] == ["0.49", "0.50", "0.99", "1.00"]
    assert [score_text(k / 100) for k in range(101)] == [f"{k / 100:.2f}" for k in range(101)]


def test_the_y_axis_labels_are_distinct_and_fit_the_margin() -> None:
    """A narrow range at a high level gets enough digits; a long label widens the margin, sign included."""
    from backend.analytics.report._svg import plot_svg

    minute = 60_000_000
    stamps = [i * minute for i in range(60)]

    def labels(values: list[float]) -> list[tuple[float, str]]:
        svg = plot_svg(stamps, values, window=(10, 12), band=None, title="t")
        found = re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="end" font-size="11">([^<]+)<', svg)
        return [(float(x), t) for x, t in found]

    high = labels([8.0e9 + (i % 7) * 1e5 for i in range(60)])
    assert len({t for _, t in high}) == len(high) >= 2, high
    wide = labels([-1.578e9 + i * 1e7 for i in range(60)])
    assert any(t.startswith("-") for _, t in wide)
    assert all(x - 6.5 * len(t) >= 0 for x, t in wide), wide  # (about 6.5 px a character at 11 px)


def test_the_heading_states_the_span_and_alarmed_cells_are_outlined(
    fleet: tuple[list[MetricSeries], list[AnomalyResult]],
) -> None:
    """The meta line says which windows the report covers; cells at or above 0.5 carry a dark outline."""
    series, results = fleet
    html = render_report(results, series_for=_lookup(series), top=3)
    first = min(r.window_start for r in results)
    last = max(r.window_end for r in results)
    assert f"windows from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC" in html
    assert "2 tenants, 4 nodes, 4 series" in html
    one = render_report(results[:1], series_for=_lookup(series), top=3)
    assert "1 tenant, 1 node, 1 series" in one
    outlined = re.findall(r'<rect [^>]*stroke="#1f2328" stroke-width="2"><title>([^<]+)</title>', html)
    alarmed = {(r.node_id) for r in results if r.anomaly_score >= 0.5}
    assert {t.split(" / ")[2].split(":")[0] for t in outlined} == alarmed


def test_a_wide_cluster_wraps_in_natural_order_with_the_ends_of_long_names() -> None:
    """30 nodes wrap onto 3 lines of at most 14, node-2 before node-10; a long id shows its end."""
    from backend.analytics.report._svg import HeatCell, heat_map_svg

    cells = [HeatCell("t", "c", f"bigco-node-{k}", 0.2) for k in range(30, 0, -1)]
    svg = heat_map_svg(cells)
    tips = re.findall(r"<title>t / c / ([^:]+): score", svg)
    assert tips == [f"bigco-node-{k}" for k in range(1, 31)]
    rows = sorted({float(y) for y in re.findall(r'<rect x="[\d.]+" y="([\d.]+)" width="54"', svg)})
    assert len(rows) == 3
    xs = [float(x) for x in re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="54"', svg)]
    assert max(xs) == xs[13] and xs[14] == xs[0]  # (the 15th cell starts the second line)
    assert "…node-1<" in svg and "…ode-10<" in svg
    width = float(re.search(r'viewBox="0 0 ([\d.]+)', svg).group(1))  # type: ignore[union-attr]
    assert width < 1000


def test_the_y_axis_of_values_never_below_zero_starts_at_zero() -> None:
    """An error rate's axis is not padded below 0; a series with negative values keeps its padding."""
    from backend.analytics.report._svg import plot_svg

    stamps = [i * 60_000_000 for i in range(30)]

    def bottom(values: list[float]) -> float:
        """The value at the axis' bottom edge, read from the round values' labels and their heights."""
        svg = plot_svg(stamps, values, window=(10, 12), band=None, title="t")
        frame = re.search(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', svg)
        assert frame is not None
        edge = float(frame.group(1)) + float(frame.group(2))
        found = re.findall(r'y="([\d.]+)" text-anchor="end" font-size="11">([^<]+)<', svg)
        (y1, v1), (y2, v2) = [(float(y) - 4, float(v)) for y, v in found[:2]]  # (labels sit 4 px low)
        return v1 - (edge - y1) * (v2 - v1) / (y1 - y2)

    assert bottom([0.0] * 20 + [5.0] * 10) == pytest.approx(0.0, abs=1e-9)
    assert bottom([0.5 + i % 3 for i in range(30)]) == pytest.approx(0.4, abs=0.01)  # (5% of 0.5..2.5)
    assert bottom([-1.0] * 20 + [5.0] * 10) == pytest.approx(-1.3, abs=0.01)  # (5% of -1..5 below it)


def test_the_time_axis_has_round_ticks_between_its_ends() -> None:
    """Up to 6 ticks at round UTC times strictly inside the span; dates at midnight and for day steps."""
    from backend.analytics.report._svg import plot_svg, time_ticks

    second, minute, hour, day = 1_000_000, 60_000_000, 3_600_000_000, 86_400_000_000
    start = 19_843 * day + 22 * hour  # 30 Apr 2024 22:00 UTC
    ticks = time_ticks(start, start + 18 * hour + 40 * minute)
    assert [label for _, label in ticks] == ["01 May", "03:00", "06:00", "09:00", "12:00", "15:00"]
    assert all(us % (3 * hour) == 0 for us, _ in ticks)
    for span in (3 * second, 50 * second, 7 * minute, 5 * hour, 9 * day, 3 * 365 * day):
        for offset in (0, 1, 17 * minute + 3 * second):
            t0 = start + offset
            found = time_ticks(t0, t0 + span)
            assert 1 <= len(found) <= 6, (span, offset, found)
            assert all(t0 < us < t0 + span for us, _ in found)
            steps = {b - a for (a, _), (b, _) in pairwise(found)}
            assert len(steps) <= 1, steps
    assert [label for _, label in time_ticks(start, start + 20 * second)] == [
        f"22:00:{s:02d}" for s in (5, 10, 15)
    ]
    assert [label for _, label in time_ticks(start, start + 20 * day)][:2] == ["06 May", "13 May"]  # Mondays
    assert time_ticks(start, start) == []
    stamps = [start + i * 5 * minute for i in range(225)]
    svg = plot_svg(stamps, [float(i % 7) for i in range(225)], window=(150, 160), band=None, title="t")
    assert svg.count('<line class="tick time"') == 6
    shown = re.findall(r'<text class="tick" x="[\d.]+" y="[\d.]+" [^>]*>([^<]+)<', svg)
    assert shown and set(shown) <= {"01 May", "03:00", "06:00", "09:00", "12:00", "15:00"}


@given(
    st.floats(-1e300, 1e300, allow_nan=False),
    st.floats(1e-300, 1e300, allow_nan=False),
)
def test_value_ticks_are_round_distinct_and_inside_the_range(low: float, width: float) -> None:
    """2 to 8 (mostly 3 to 6) values at a step of 1, 2 or 5 times a power of ten, inside the range."""
    from backend.analytics.report._svg import value_ticks

    high = low + width
    ticks = value_ticks(low, high)
    if ticks is None:  # (only when fewer than two round values fit: a range at its floats' resolution)
        assert high - low <= 1e-12 * max(abs(low), abs(high))
        return
    values = [v for v, _ in ticks]
    labels = [label for _, label in ticks]
    assert 2 <= len(values) <= 8 and len(set(labels)) == len(labels)
    step = values[1] - values[0]
    slack = 1e-9 * max(abs(low), abs(high), step)  # (k * step rounds)
    assert all(low - slack <= v <= high + slack for v in values), (values, low, high)
    if step > 1e-9 * max(abs(low), abs(high)):  # (not at the floats' resolution, where steps round)
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-6, (step, mantissa)
    assert all(float(label) == pytest.approx(v, rel=1e-6, abs=step * 1e-6) for v, label in ticks)
