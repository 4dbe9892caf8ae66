"""Inline SVG for the HTML report: a series plot with its window and band, and the fleet heat map.

Everything is drawn with plain SVG elements and escaped text; no script, no
external reference. Colours come from :func:`score_colour` (green at 0,
amber at the 0.5 alarm line, red at 1).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html import escape
from itertools import pairwise

__all__ = ["HeatCell", "heat_map_svg", "plot_svg", "score_colour"]

_PLOT_W, _PLOT_H = 760, 230
_MARGIN_L, _MARGIN_R, _MARGIN_T, _MARGIN_B = 64, 12, 14, 38


def score_colour(score: float) -> str:
    """``hsl(...)`` for a score in [0, 1]: green (0), amber (0.5), red (1)."""
    s = min(1.0, max(0.0, score))
    hue = 120.0 * (1.0 - s)
    light = 88.0 - 40.0 * s
    return f"hsl({hue:.0f},70%,{light:.0f}%)"


def score_text(score: float) -> str:
    """A score to two decimals, rounded down: 0.4956 reads 0.49, below the alarm line it is under."""
    return f"{math.floor(round(score * 100, 6)) / 100:.2f}"  # (round first: 0.29 * 100 is 28.999...)


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if 1e-3 <= a < 1e6:
        return f"{v:.4g}"
    return f"{v:.3e}"


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _time_label(us: int) -> str:
    # Whole microseconds: us / 1e6 rounds the last microseconds of 9999-12-31 up into year 10000.
    t = _EPOCH + timedelta(microseconds=us)
    return t.strftime("%d %b %H:%M")


_SECOND = 1_000_000
_DAY = 86_400 * _SECOND
# Steps between the time axis' ticks, in microseconds: each a whole number of the unit above it,
# so ticks fall on round times of UTC (:00, :15, 00:00, ...).
_TICK_STEPS = tuple(
    k * _SECOND
    for k in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)
) + tuple(k * _DAY for k in (1, 2, 7, 14, 28, 91, 182, 364))
_MAX_TICKS = 6


def value_ticks(low: float, high: float) -> list[tuple[float, str]] | None:
    """Round values in ``[low, high]`` for a y axis, each with its label; ``None`` when fewer than 2 fit.

    The step is 1, 2 or 5 times a power of ten: the largest that leaves 3 to 6
    ticks, else the largest that leaves 2. Labels give the step's digits, in
    fixed notation from a step of 0.001 up to values of ten million, otherwise
    in scientific (8.0002e+09 where the values differ in their fifth digit).
    """
    quarter = high / 4 - low / 4  # (a quarter of the range, in two steps: no overflow near 1.8e308)
    if not (math.isfinite(quarter) and quarter > 0):
        return None
    e = math.floor(math.log10(quarter))
    candidates = [(m, x) for m, x in ((1, e + 1), (5, e), (2, e), (1, e)) if 0.0 < m * 10.0**x < math.inf]
    counts = [math.floor(high / (m * 10.0**x)) - math.ceil(low / (m * 10.0**x)) + 1 for m, x in candidates]
    pick = next((i for i, c in enumerate(counts) if 3 <= c <= 6), None)
    if pick is None:
        pick = next((i for i, c in enumerate(counts) if 2 <= c <= 8), None)
    if pick is None:
        return None
    m, e = candidates[pick]
    step = m * 10.0**e
    values = [k * step for k in range(math.ceil(low / step), math.floor(high / step) + 1)]
    largest = max(abs(v) for v in values)
    if step >= 1e-3 and largest < 1e7:
        labels = [f"{v:.{max(0, -e)}f}" for v in values]
    else:
        digits = max(0, math.floor(math.log10(largest)) - e) if largest > 0 else 0
        labels = [f"{v:.{digits}e}" for v in values]
    labels = ["0" if float(label) == 0.0 else label for label in labels]  # (no "-0.0")
    if len(set(labels)) != len(labels):
        return None
    return list(zip(values, labels, strict=True))


def time_ticks(t_min: int, t_max: int) -> list[tuple[int, str]]:
    """Round instants of UTC strictly inside ``(t_min, t_max)``, at most 6, each with its label.

    The step is the smallest of 1 s, 2 s, 5 s, ... 1 h, 2 h, 3 h, 6 h, 12 h,
    1 d, 2 d, 7 d, ... that leaves at most 6 ticks (weeks from Mondays); a
    tick reads its time of day (with seconds below a minute's step), and its
    date at midnight or for steps of a day or more.
    """
    span = t_max - t_min
    if span <= 0:
        return []
    step = next((s for s in _TICK_STEPS if span // s <= _MAX_TICKS), None)
    if step is None:
        return []
    # Steps of whole weeks start on Mondays (1970-01-05; the epoch was a Thursday).
    origin = 4 * _DAY if step % (7 * _DAY) == 0 else 0
    first = ((t_min - origin) // step + 1) * step + origin
    ticks: list[tuple[int, str]] = []
    for us in range(first, t_max, step):
        t = _EPOCH + timedelta(microseconds=us)
        if step >= _DAY or us % _DAY == 0:
            label = t.strftime("%d %b")
        elif step < 60 * _SECOND:
            label = t.strftime("%H:%M:%S")
        else:
            label = t.strftime("%H:%M")
        ticks.append((us, label))
    return ticks


def median_step(stamps: Sequence[int]) -> int:
    """The (lower) median of the positive steps between consecutive ``stamps``; 0 with none."""
    steps = sorted(b - a for a, b in pairwise(stamps) if b > a)
    return steps[(len(steps) - 1) // 2] if steps else 0


def _gaps(epoch_us: Sequence[int]) -> set[int]:
    """Indices ``i`` whose point follows a gap: more than twice the median step after point ``i - 1``."""
    usual = median_step(epoch_us)
    return {i for i in range(1, len(epoch_us)) if epoch_us[i] - epoch_us[i - 1] > 2 * usual}


def _path(xs: Sequence[float], ys: Sequence[float | None], gaps: set[int] | None = None) -> str:
    """An SVG path through the points, broken where a y is missing and before each index in ``gaps``."""
    parts: list[str] = []
    pen_down = False
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if gaps and i in gaps:
            pen_down = False
        if y is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
        pen_down = True
    return "".join(parts)


def _band_polygons(xs: Sequence[float], lo: Sequence[float | None], hi: Sequence[float | None]) -> list[str]:
    """One polygon per run of points where both band edges are known."""
    polys: list[str] = []
    run: list[int] = []
    for i in [*range(len(xs)), -1]:
        if i >= 0 and lo[i] is not None and hi[i] is not None:
            run.append(i)
            continue
        if len(run) >= 2:
            top = " ".join(f"{xs[k]:.1f},{hi[k]:.1f}" for k in run)
            bottom = " ".join(f"{xs[k]:.1f},{lo[k]:.1f}" for k in reversed(run))
            polys.append(f"{top} {bottom}")
        run = []
    return polys


def plot_svg(
    epoch_us: Sequence[int],
    values: Sequence[float],
    *,
    window: tuple[int, int],
    band: tuple[Sequence[float | None], Sequence[float | None]] | None,
    title: str,
    unit_label: str = "",
    episode: tuple[int, int] | None = None,
) -> str:
    """A line plot of one series with the window ``[start_index, end_index)`` shaded and the band filled.

    ``band`` gives lower and upper values per point (``None``/NaN where the
    engine has none). The y range covers the values and the band. ``episode``
    (indices, like ``window``): the run of anomalous windows around it, shaded
    lighter. The line breaks where the series has no data: a step more than
    twice the usual one.
    """
    n = len(values)
    w0, w1 = window
    lo_band: list[float | None] = []
    hi_band: list[float | None] = []
    if band is not None:
        lo_band = [None if v is None or not math.isfinite(v) else v for v in band[0]]
        hi_band = [None if v is None or not math.isfinite(v) else v for v in band[1]]
    pool = [*values, *(v for v in lo_band if v is not None), *(v for v in hi_band if v is not None)]
    top = sys.float_info.max
    y_min, y_max = (min(pool), max(pool)) if pool else (0.0, 1.0)
    # Ranges are taken in halves: a series reaching both ends of the float range (about +-1.8e308)
    # has a range that is not a float. A range whose half is 0 (equal values, or values a
    # subnormal apart such as 0 and 5e-324) cannot scale a plot: it is widened around its middle.
    if not y_max / 2 - y_min / 2 > 0:
        middle = y_min / 2 + y_max / 2
        pad = abs(middle) * 0.05 or 1.0
        y_min, y_max = max(-top, middle - pad), min(top, middle + pad)
    # 5% of the range on each side, within the float range; not below 0 for a plot of values and a
    # band that never are (an error rate's axis does not start at -0.19).
    pad = 0.1 * (y_max / 2 - y_min / 2)
    floor = 0.0 if y_min >= 0.0 else -top
    y_min, y_max = max(floor, y_min - pad), min(top, y_max + pad)
    t_min, t_max = (epoch_us[0], epoch_us[-1]) if n else (0, 1)
    t_span = (t_max - t_min) or 1
    # The y axis' labels: round values (value_ticks); else the bottom, middle and top, distinct
    # (more digits where the range is narrow next to its level, 8.0001e9 to 8.0009e9). The
    # left margin fits the longest.
    y_ticks = value_ticks(y_min, y_max)
    if y_ticks is None:
        ends = [y_min * (1.0 - frac) + y_max * frac for frac in (0.0, 0.5, 1.0)]
        end_labels = [_fmt(v) for v in ends]
        for digits in (6, 9, 12, 17):
            if len(set(end_labels)) == len(end_labels):
                break
            end_labels = [f"{v:.{digits}g}" for v in ends]
        y_ticks = list(zip(ends, end_labels, strict=True))
    labels = [label for _, label in y_ticks]
    left_m = max(_MARGIN_L, 12 + round(6.5 * max(len(t) for t in labels)))
    inner_w = _PLOT_W - left_m - _MARGIN_R
    inner_h = _PLOT_H - _MARGIN_T - _MARGIN_B

    def x_of(us: int) -> float:
        return left_m + inner_w * (us - t_min) / t_span

    def y_of(v: float) -> float:
        # Scale in two steps so values near 1e308 never overflow a float.
        frac = (v / 2 - y_min / 2) / (y_max / 2 - y_min / 2)
        return _MARGIN_T + inner_h * (1.0 - frac)

    xs = [x_of(us) for us in epoch_us]
    out = [
        f'<svg class="plot" viewBox="0 0 {_PLOT_W} {_PLOT_H}" '
        f'width="{_PLOT_W}" height="{_PLOT_H}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{left_m}" y="{_MARGIN_T}" width="{inner_w}" height="{inner_h}" fill="#fbfbfd" '
        'stroke="#c9ccd3"/>',
    ]
    # A thin line across the plot at each value tick and up it at each round time, under the rest.
    for v, _ in y_ticks:
        y = y_of(v)
        if _MARGIN_T < y < _MARGIN_T + inner_h:
            out.append(
                f'<line class="tick value" x1="{left_m}" y1="{y:.1f}" x2="{left_m + inner_w}" y2="{y:.1f}" '
                'stroke="#e3e5ea" stroke-width="1"/>'
            )
    axis_ticks = time_ticks(t_min, t_max) if n else []
    for us, _ in axis_ticks:
        x = x_of(us)
        out.append(
            f'<line class="tick time" x1="{x:.1f}" y1="{_MARGIN_T}" x2="{x:.1f}" y2="{_MARGIN_T + inner_h}" '
            'stroke="#e3e5ea" stroke-width="1"/>'
        )

    def shade(a: int, b: int, css: str, opacity: float) -> None:
        # Widen by half a step on each side, and to 6 px at least, so a one-point window is visible.
        half = (inner_w / max(n - 1, 1)) / 2
        x0 = max(left_m, xs[a] - half)
        x1 = min(left_m + inner_w, xs[b - 1] + half)
        if x1 - x0 < 6.0:
            middle = (x0 + x1) / 2
            x0, x1 = max(left_m, middle - 3.0), min(left_m + inner_w, middle + 3.0)
        out.append(
            f'<rect class="{css}" x="{x0:.1f}" y="{_MARGIN_T}" width="{max(x1 - x0, 1.0):.1f}" '
            f'height="{inner_h}" fill="#f4a261" fill-opacity="{opacity}"/>'
        )

    if n and episode is not None and 0 <= episode[0] < episode[1] <= n:
        shade(episode[0], episode[1], "episode", 0.16)
    if n and 0 <= w0 < w1 <= n:
        shade(w0, w1, "window", 0.4)
    if band is not None and len(lo_band) == n:
        lo_y = [None if v is None else y_of(v) for v in lo_band]
        hi_y = [None if v is None else y_of(v) for v in hi_band]
        for poly in _band_polygons(xs, lo_y, hi_y):
            out.append(f'<polygon class="band" points="{poly}" fill="#4c78a8" fill-opacity="0.18"/>')
    ys: list[float | None] = [y_of(v) for v in values]
    path = _path(xs, ys, _gaps(epoch_us))
    out.append(f'<path class="series" d="{path}" fill="none" stroke="#1d3557" stroke-width="1.3"/>')
    for v, label in y_ticks:
        y = y_of(v)
        out.append(
            f'<text x="{left_m - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{escape(label)}</text>"
        )
    if n:
        base = _MARGIN_T + inner_h + 16
        # Each tick's label, unless it would run into an end's (about 100 px wide: "30 Apr 22:00"
        # and "... UTC").
        for us, label in axis_ticks:
            x = x_of(us)
            if left_m + 100 <= x <= left_m + inner_w - 125:
                out.append(
                    f'<text class="tick" x="{x:.1f}" y="{base}" font-size="11" text-anchor="middle" '
                    f'fill="#57606a">{escape(label)}</text>'
                )
        out.append(f'<text x="{left_m}" y="{base}" font-size="11">{escape(_time_label(t_min))}</text>')
        out.append(
            f'<text x="{left_m + inner_w}" y="{base}" font-size="11" text-anchor="end">'
            f"{escape(_time_label(t_max))} UTC</text>"
        )
    if unit_label:
        out.append(f'<text x="{left_m}" y="{_PLOT_H - 4}" font-size="11">{escape(unit_label)}</text>')
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class HeatCell:
    """One node of the heat map: its ids, score, and the page anchor of its plot (if any)."""

    tenant_id: str
    cluster_id: str
    node_id: str
    score: float
    anchor: str | None = None


_CELL_W, _CELL_H, _GAP = 54, 26, 3
_ALARMED_EDGE, _QUIET_EDGE = 'stroke="#1f2328" stroke-width="2"', 'stroke="#6c757d" stroke-width="0.5"'
_LABEL_W = 190
_PER_LINE = 14  # cells on one line of a cluster's row: a wider cluster wraps onto more lines


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that orders the numbers in ``text`` by value: node-2 before node-10."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


def _cell_label(node_id: str) -> str:
    """The node's name, or its last 6 characters after an ellipsis (ids often share their start)."""
    return node_id if len(node_id) <= 7 else "…" + node_id[-6:]


def heat_map_svg(cells: Sequence[HeatCell]) -> str:
    """Tenants as bands of rows, one row per cluster, one cell per node coloured by its score.

    A cell with a plot links to it; every cell has a tooltip (``<title>``) with
    its ids and score. Node names are shown in the cells when they fit (else
    their end). Nodes are in natural order (node-2 before node-10); a cluster
    of more than 14 nodes wraps onto several lines. A cell at or above the
    alarm line, 0.5, is outlined.
    """
    rows: dict[tuple[str, str], list[HeatCell]] = {}
    for c in sorted(cells, key=lambda c: (c.tenant_id, _natural(c.cluster_id), _natural(c.node_id))):
        rows.setdefault((c.tenant_id, c.cluster_id), []).append(c)
    widest = min(_PER_LINE, max((len(r) for r in rows.values()), default=1))
    width = _LABEL_W + max(widest * (_CELL_W + _GAP), 5 * 64) + 10  # room for the legend too
    out: list[str] = []
    y = 6
    last_tenant = None
    for (tenant, cluster), nodes in rows.items():
        if tenant != last_tenant:
            if last_tenant is not None:
                y += 8
            out.append(f'<text x="4" y="{y + 12}" font-size="12" font-weight="bold">{escape(tenant)}</text>')
            y += 18
            last_tenant = tenant
        shown = cluster if len(cluster) <= 24 else cluster[:23] + "…"
        out.append(
            f'<text x="16" y="{y + 17}" font-size="12"><title>{escape(cluster)}</title>{escape(shown)}</text>'
        )
        for k, c in enumerate(nodes):
            if k and k % _PER_LINE == 0:
                y += _CELL_H + _GAP
            x = _LABEL_W + (k % _PER_LINE) * (_CELL_W + _GAP)
            tip = f"{c.tenant_id} / {c.cluster_id} / {c.node_id}: score {score_text(c.score)}"
            # An alarmed node (0.5 or above) is outlined: the colours alone do not break at the line.
            edge = _ALARMED_EDGE if c.score >= 0.5 else _QUIET_EDGE
            rect = (
                f'<rect x="{x}" y="{y}" width="{_CELL_W}" height="{_CELL_H}" rx="3" '
                f'fill="{score_colour(c.score)}" {edge}><title>{escape(tip)}</title></rect>'
            )
            label = _cell_label(c.node_id)
            text = (
                f'<text x="{x + _CELL_W / 2}" y="{y + 17}" font-size="10" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
            if c.anchor is not None:
                out.append(f'<a href="#{escape(c.anchor)}">{rect}{text}</a>')
            else:
                out.append(rect + text)
        y += _CELL_H + _GAP
    y += 10
    for k, s in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):
        x = _LABEL_W + k * 64
        out.append(
            f'<rect x="{x}" y="{y}" width="14" height="12" fill="{score_colour(s)}" '
            'stroke="#6c757d" stroke-width="0.5"/>'
        )
        out.append(f'<text x="{x + 18}" y="{y + 10}" font-size="10">{s:.2f}</text>')
    out.append(f'<text x="4" y="{y + 10}" font-size="10">score (alarm at 0.50)</text>')
    # The height once every row is laid out: tenant headings and gaps included, the legend last.
    height = y + 18
    head = (
        f'<svg class="heatmap" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="fleet heat map">'
        "<title>Fleet heat map: one cell per node, coloured by its anomaly score</title>"
    )
    return head + "".join(out) + "</svg>"
