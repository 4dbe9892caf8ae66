"""A self-contained HTML report: fleet heat map, top nodes, and a plot of each top anomaly.

One HTML file with inline SVG and CSS, written with the standard library: no
script, no font or image from the network (a Content-Security-Policy forbids
any), so it opens offline and can be mailed or attached to a ticket.

* a heat map of the fleet: tenant -> cluster -> node, each node coloured by
  its aggregated score (a cell links to its plot);
* per tenant, the top nodes (``AggregationPipeline.top_nodes``) with their
  scores and counts;
* for each top node with an anomalous window, its strongest one: the series
  around the window, the window shaded inside its lighter run of anomalous
  windows of that series (the heading gives the run's start and end), the line
  broken where the data has a gap (a step over twice the usual), the engine's
  expected band where it has one, the label and the explanation sentence.
  Scores are shown to two decimals rounded down, so none below the alarm line
  reads 0.50.

The expected band: when the engine has a method
``expected_band(series, start_index, end_index)`` returning ``(lower, upper)``
(one float per point of ``series`` in ``[start_index, end_index)``, ``None`` or
NaN where it has no expectation) or ``None``, the band is drawn; otherwise the
plot has no band. It is asked in two parts, the points before the window and
the window with the points after it, so that the built-in engines read the
first from the history before the plot and the second from the history before
the window (what the sentence measures the window against). The band is asked
of the series ``series_for`` gives, which may reach further back than the plot
(``context`` limits what is plotted): an engine that reads the history before
the plot to draw its band (the built-in ones do) then has it.

Every string put into the page (ids, metric names, explanations) is escaped.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path
from typing import Any

from .._sequences import datetime_to_epoch_us
from .._validate import brief, check_ordered, check_positive_timedelta, check_text, fail_type
from ..aggregation import AggregationPipeline
from ..explain import AnomalyType
from ..types import AggregatedAnomalyScore, AnomalyResult, MetricSeries
from ._svg import HeatCell, heat_map_svg, median_step, plot_svg, score_colour, score_text

__all__ = ["render_report", "write_report"]

SeriesLookup = Callable[[AnomalyResult], "MetricSeries | None"]

# Nothing may be fetched: no script, font, image or frame; only the inline style.
_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1000px;
color:#1f2328;padding:0 16px;line-height:1.45}
h1{font-size:1.6em;margin-bottom:4px}h2{margin-top:32px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.meta{color:#57606a}table{border-collapse:collapse;margin:8px 0 16px}
td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;font-size:.92em}th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;border:1px solid #888}
section.anomaly{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;margin:14px 0}
.label{display:inline-block;padding:1px 8px;border-radius:10px;background:#eef;font-weight:600;font-size:.9em}
.label.spike{background:#ffe3e3}.label.trend{background:#fff1d6}.label.seasonal{background:#e3f2ff}
.explain{font-size:1.02em}.legend{font-size:.85em;color:#57606a}svg{max-width:100%;height:auto}
.scroll{overflow-x:auto;max-width:100%}section.anomaly{break-inside:avoid}
"""


@dataclass(frozen=True, slots=True)
class _Plotted:
    anchor: str
    result: AnomalyResult
    html: str


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str):
        fail_type("render_report", name, "a str", value)
    return check_text("render_report", name, value)


def _check_notes(notes: object) -> list[str]:
    expected = "a sequence of str (one per line)"
    if isinstance(notes, (str, bytes)):
        fail_type("render_report", "notes", f"{expected}, not a bare str", notes)
    check_ordered("render_report", "notes", notes, expected)
    if not isinstance(notes, Iterable):
        fail_type("render_report", "notes", expected, notes)
    return [_check_text(f"notes[{i}]", n) for i, n in enumerate(notes)]


def _check_positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"render_report: {name} must be a positive int, got {value!r}")
    return value


def _describe(result: AnomalyResult) -> str:
    """The result's ids and window, for an error message about it."""
    r = result
    return (
        f"{r.tenant_id}/{r.cluster_id}/{r.node_id}/{r.metric_name} "
        f"window {r.window_start.isoformat()} - {r.window_end.isoformat()}"
    )


def _lookup(series_for: SeriesLookup, result: AnomalyResult) -> MetricSeries | None:
    """``series_for(result)``, checked: ``None`` or a ``MetricSeries`` of the result's own ids."""
    got: object = series_for(result)
    if got is None:
        return None
    if not isinstance(got, MetricSeries):
        raise TypeError(
            f"render_report: series_for must return a MetricSeries or None, got {brief(got)} "
            f"({type(got).__name__}) for the result {_describe(result)}"
        )
    want = (result.tenant_id, result.cluster_id, result.node_id, result.metric_name)
    if got.ids != want:
        raise ValueError(
            f"render_report: series_for returned the series {'/'.join(got.ids)} for the result "
            f"{_describe(result)}; expected that result's own series"
        )
    return got


def _window_indices(series: MetricSeries, result: AnomalyResult) -> tuple[int, int]:
    us = series.epoch_us
    start = bisect.bisect_left(us, datetime_to_epoch_us(result.window_start))
    end = bisect.bisect_right(us, datetime_to_epoch_us(result.window_end))
    return start, end


def _band(
    engine: object, series: MetricSeries, p0: int, p1: int
) -> tuple[list[float | None], list[float | None]] | None:
    fn = getattr(engine, "expected_band", None)
    if fn is None or not callable(fn):
        return None
    got = fn(series, p0, p1)
    if got is None:
        return None
    name = getattr(engine, "name", type(engine).__name__)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise TypeError(
            f"engine {name!r}: expected_band must return (lower, upper) or None, got {type(got).__name__}"
        )
    edges: list[list[float | None]] = []
    for which, seq in zip(("lower", "upper"), got, strict=True):
        vals = list(seq)
        if len(vals) != p1 - p0:
            raise ValueError(
                f"engine {name!r}: expected_band {which} must have {p1 - p0} values "
                f"(points {p0}..{p1 - 1}), got {len(vals)}"
            )
        edge: list[float | None] = []
        for v in vals:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                edge.append(None)
            elif isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"engine {name!r}: expected_band {which} values must be floats, got {v!r}")
            else:
                edge.append(float(v))
        edges.append(edge)
    return edges[0], edges[1]


def _explanation(engine: object, series: MetricSeries, result: AnomalyResult) -> str:
    if result.explanation:
        return result.explanation
    explain = getattr(engine, "explain", None)
    if callable(explain):
        text = explain(series, result)
        if isinstance(text, str) and text:
            return text
    return "No explanation was stored with this result."


def _episode(results: Sequence[AnomalyResult], best: AnomalyResult) -> list[AnomalyResult]:
    """The run of anomalous windows of ``best``'s series that holds ``best``, in time order.

    ``results``: the node's results. The series' windows in time order; a NORMAL window, or a
    gap of more than one and a half times the usual spacing of window starts, ends a run.
    """
    same = sorted(
        (r for r in results if r.metric_name == best.metric_name),
        key=lambda r: (r.window_start, r.window_end),
    )
    starts = [datetime_to_epoch_us(r.window_start) for r in same]
    spacing = median_step(starts)
    at = same.index(best)
    lo = hi = at
    while lo > 0 and same[lo - 1].is_anomalous and starts[lo] - starts[lo - 1] <= 1.5 * spacing:
        lo -= 1
    while hi + 1 < len(same) and same[hi + 1].is_anomalous and starts[hi + 1] - starts[hi] <= 1.5 * spacing:
        hi += 1
    return same[lo : hi + 1]


def _relabelled(run: Sequence[AnomalyResult]) -> str:
    """``"; labelled trend, then seasonal from <time>"`` when the run's label changed along it, else ``""``.

    An engine labels an episode as it unfolds: a SPIKE that lasts becomes a
    TREND, a TREND that then departs the other way from its cycle a SEASONAL.
    The heading names the highest window's label; this says what the run was
    called before and after.
    """
    parts: list[str] = []
    for k, r in enumerate(run):
        if k == 0:
            parts.append(escape(r.anomaly_label.value))
        elif r.anomaly_label is not run[k - 1].anomaly_label:
            parts.append(f"{escape(r.anomaly_label.value)} from {escape(r.window_start.isoformat())}")
    return "; labelled " + ", then ".join(parts) if len(parts) > 1 else ""


def _plot_section(
    k: int,
    result: AnomalyResult,
    series: MetricSeries | None,
    engine: object,
    context_points: int,
    after_points: int,
    context: timedelta | None = None,
    node_results: Sequence[AnomalyResult] = (),
) -> _Plotted:
    anchor = f"anomaly-{k}"
    r = result
    run = _episode(node_results or [r], r)
    first, last, count = run[0], run[-1], len(run)
    episode = ""
    if count > 1:
        episode = (
            f"; anomalous from {escape(first.window_start.isoformat())} to "
            f"{escape(last.window_end.isoformat())} ({count} windows in a row{_relabelled(run)})"
        )
    head = (
        f'<section class="anomaly" id="{anchor}"><h3>{k}. {escape(r.tenant_id)} / {escape(r.cluster_id)} / '
        f"{escape(r.node_id)} — {escape(r.metric_name)}</h3>"
        f'<p><span class="label {escape(r.anomaly_label.value)}">{escape(r.anomaly_label.value)}</span> '
        f"score {score_text(r.anomaly_score)}, highest window {escape(r.window_start.isoformat())} – "
        f"{escape(r.window_end.isoformat())}{episode}</p>"
    )
    if series is None or len(series) == 0:
        body = '<p class="legend">The series is not available (no stored points around this window).</p>'
        return _Plotted(anchor, r, head + body + "</section>")
    w0, w1 = _window_indices(series, r)
    e0, e1 = _window_indices(series, first)[0], _window_indices(series, last)[1]
    if w0 >= w1:
        held0, held1 = series.timestamps[0], series.timestamps[len(series) - 1]
        body = (
            '<p class="legend">The series is not available in this window (the series given has no '
            f"point in it; its points span {escape(held0.isoformat())} – {escape(held1.isoformat())}).</p>"
        )
        return _Plotted(anchor, r, head + body + "</section>")
    p0 = max(0, min(w0, e0) - context_points)
    if context is not None:  # (the points before it are the band's history, not the plot's)
        since = datetime_to_epoch_us(first.window_start) - context // timedelta(microseconds=1)
        p0 = max(p0, bisect.bisect_left(series.epoch_us, since))
    p1 = min(len(series), max(w1, e1, w0 + 1) + after_points)
    # The band in two parts: the points before the window from the history before the plot, the
    # window and after it from the history before the window (what the sentence measures the
    # window against: a plot that starts early in a series or after a gap has a short history).
    band: tuple[list[float | None], list[float | None]] | None = None
    if engine is not None:
        parts = [(a, b, _band(engine, series, a, b)) for a, b in ((p0, w0), (w0, p1)) if a < b]
        if any(got is not None for _, _, got in parts):
            band = ([], [])
            for a, b, got in parts:
                lower, upper = got if got is not None else ([None] * (b - a), [None] * (b - a))
                band[0].extend(lower)
                band[1].extend(upper)
    svg = plot_svg(
        list(series.epoch_us[p0:p1]),
        series.values.tolist()[p0:p1],
        window=(w0 - p0, w1 - p0),
        episode=(max(e0, p0) - p0, e1 - p0) if count > 1 and e0 < e1 else None,
        band=band,
        title=f"{r.metric_name} on {r.node_id} ({r.cluster_id}, {r.tenant_id}); window shaded",
    )
    legend = "Shaded: the window scored highest"
    if count > 1:
        legend += f", in the lighter run of {count} anomalous windows"
    legend += "; line: the series; a break in it: no data"
    legend += (
        "; blue band: what the explanation measures against (the expected value, give or take 3 of its "
        "spreads), from the history before the window." if band is not None else "."
    )
    text = _explanation(engine, series, r)
    body = f'{svg}<p class="legend">{escape(legend)}</p><p class="explain">{escape(text)}</p></section>'
    return _Plotted(anchor, r, head + body)


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _strongest(results: Sequence[AnomalyResult]) -> AnomalyResult | None:
    anomalous = [r for r in results if r.anomaly_label is not AnomalyType.NORMAL]
    if not anomalous:
        return None
    return min(anomalous, key=lambda r: (-r.anomaly_score, r.window_start, r.metric_name))


def _node_level(node_scores: Iterable[AggregatedAnomalyScore]) -> list[AggregatedAnomalyScore]:
    """The node-level scores of ``node_scores``, checked: aggregates, of one strategy."""
    nodes: list[AggregatedAnomalyScore] = []
    for i, score in enumerate(node_scores):
        if not isinstance(score, AggregatedAnomalyScore):
            raise TypeError(
                f"render_report: node_scores[{i}] must be an AggregatedAnomalyScore, "
                f"got {type(score).__name__}"
            )
        if score.level != "node":
            continue
        if nodes and score.aggregation_strategy is not nodes[0].aggregation_strategy:
            raise ValueError(
                "render_report: node_scores hold scores of strategies "
                f"{nodes[0].aggregation_strategy.value!r} and {score.aggregation_strategy.value!r} "
                f"(node_scores[{i}]); give the scores of one strategy"
            )
        nodes.append(score)
    return nodes


def render_report(
    results: Iterable[AnomalyResult],
    *,
    series_for: SeriesLookup,
    node_scores: Iterable[AggregatedAnomalyScore] | None = None,
    engine: Any = None,
    engine_name: str | None = None,
    title: str = "Anomaly report",
    top: int = 5,
    context_points: int = 144,
    after_points: int = 36,
    notes: Sequence[str] = (),
    generated_at: datetime | None = None,
    context: timedelta | None = None,
) -> str:
    """The report as one HTML document (a ``str``); see the module docstring for what it shows.

    ``results``: every result to consider (all tenants in it are shown).
    ``series_for(result)``: the series to plot for a result (its whole
    series, or a part that holds the window), or ``None``. ``node_scores``:
    node-level aggregates of one strategy (other levels are ignored; a mix of
    strategies is a ``ValueError``); default: computed from
    ``results`` with ``AggregationPipeline()`` (MAX). ``engine``: the engine
    object, for ``expected_band`` and, when a result has no stored
    explanation, ``explain``. ``top``: top nodes per tenant.
    ``context_points``/``after_points``: points shown before and after a window;
    ``context`` (a positive ``timedelta``), when given: and at most this long
    before it (a series that reaches further back serves the band alone).
    ``notes``: lines shown under the title (a sequence of str; a bare str is
    refused). ``series_for`` must return ``None`` or a ``MetricSeries`` with
    the result's own ids (anything else is an error naming the result); a
    series with no point in the window is reported as not available there.
    """
    top = _check_positive("top", top)
    if context is not None:
        context = check_positive_timedelta("render_report", "context", context)
    context_points = _check_positive("context_points", context_points)
    after_points = _check_positive("after_points", after_points)
    if not callable(series_for):
        raise TypeError(f"render_report: series_for must be callable, got {series_for!r}")
    title = _check_text("title", title)
    if engine_name is not None:
        engine_name = _check_text("engine_name", engine_name)
    notes = _check_notes(notes)
    results = list(results)
    pipeline = AggregationPipeline()
    nodes = pipeline.aggregate_nodes(results) if node_scores is None else _node_level(node_scores)
    tenants = sorted({a.tenant_id for a in nodes} | {r.tenant_id for r in results})
    by_node: dict[tuple[str, str, str], list[AnomalyResult]] = {}
    for r in results:
        by_node.setdefault((r.tenant_id, r.cluster_id, r.node_id), []).append(r)
    plotted: list[_Plotted] = []
    anchors: dict[tuple[str, str, str], str] = {}
    tables: list[str] = []
    for tenant in tenants:
        ranked = pipeline.top_nodes(nodes, top, tenant_id=tenant)
        rows = []
        for rank, ns in enumerate(ranked, 1):
            key = (tenant, ns.cluster_id or "", ns.node_id or "")
            best = _strongest(by_node.get(key, []))
            where = "no anomalous window"
            if best is not None:
                series = _lookup(series_for, best)
                item = _plot_section(
                    len(plotted) + 1,
                    best,
                    series,
                    engine,
                    context_points,
                    after_points,
                    context,
                    by_node.get(key, []),
                )
                plotted.append(item)
                anchors[key] = item.anchor
                what = f"{best.metric_name}: {best.anomaly_label.value}"
                where = f'<a href="#{item.anchor}">{escape(what)}</a>'
            rows.append(
                f'<tr><td class="num">{rank}</td><td>{escape(key[1])}</td><td>{escape(key[2])}</td>'
                f'<td class="num"><span class="swatch" style="background:{score_colour(ns.aggregate_score)}">'
                f"</span>{score_text(ns.aggregate_score)}</td>"
                f'<td class="num">{ns.num_anomalies_detected}</td>'
                f'<td class="num">{ns.num_metrics_analyzed}</td>'
                f"<td>{where}</td></tr>"
            )
        tables.append(
            f'<h3>{escape(tenant)}</h3><div class="scroll"><table><tr><th>#</th><th>cluster</th><th>node</th>'
            "<th>score</th><th>anomalous windows</th><th>metrics</th><th>strongest</th></tr>"
            + ("".join(rows) or '<tr><td colspan="7">no scored node</td></tr>')
            + "</table></div>"
        )
    cells = [
        HeatCell(
            a.tenant_id,
            a.cluster_id or "",
            a.node_id or "",
            a.aggregate_score,
            anchors.get((a.tenant_id, a.cluster_id or "", a.node_id or "")),
        )
        for a in nodes
    ]
    when = (generated_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    n_anom = sum(1 for r in results if r.anomaly_label is not AnomalyType.NORMAL)
    n_series = len({(r.tenant_id, r.cluster_id, r.node_id, r.metric_name) for r in results})
    span = ""
    if results:
        since = min(r.window_start for r in results).astimezone(timezone.utc)
        until = max(r.window_end for r in results).astimezone(timezone.utc)
        span = f", windows from {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC"
    meta = (
        f"{_count(len(tenants), 'tenant')}, {_count(len(nodes), 'node')}, "
        f"{n_series} series, {len(results):,} results of which {n_anom:,} anomalous{span}"
        + (f"; engine {engine_name}" if engine_name else "")
        + f". Generated {when:%Y-%m-%d %H:%M} UTC."
    )
    note_html = "".join(f'<p class="meta">{escape(n)}</p>' for n in notes)
    anomalies = "".join(p.html for p in plotted) or "<p>No anomalous window on the top nodes.</p>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="meta">{escape(meta)}</p>{note_html}'
        '<h2>Fleet</h2><p class="legend">One cell per node, coloured by its aggregated anomaly score; '
        "a cell with a plot below links to it.</p>"
        f"{heat_map_svg(cells)}"
        f"<h2>Top nodes</h2>{''.join(tables)}"
        f"<h2>Top anomalies</h2>{anomalies}"
        "</body></html>\n"
    )


def write_report(path: str | Path, results: Iterable[AnomalyResult], **options: Any) -> Path:
    """Write :func:`render_report`'s page to ``path`` (UTF-8); return the path.

    The page is written to a temporary file in the same directory and then
    moved over ``path``: a report that fails (bad text, a full disk) leaves an
    existing file at ``path`` as it was.
    """
    out = Path(path)
    html = render_report(results, **options)
    try:
        data = html.encode("utf-8")
    except UnicodeEncodeError as exc:  # text from an engine's explain(), say
        raise ValueError(
            f"write_report: the page holds text that cannot be encoded as UTF-8 (a lone surrogate "
            f"{html[exc.start]!r} in {brief(html[max(0, exc.start - 60) : exc.start + 20])})"
        ) from None
    # Created as open() would create the file (mode 0o666 less the umask), or with the mode of
    # the file it replaces.
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(out).st_mode))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
