"""Held-out labelled windows for the explanation classifier (``bench_explain.py --holdout``).

Written apart from :mod:`simulator.labeled` (the classifier's tuning data) and
from :mod:`simulator.cycles` (the fleet benchmark's data), with its own seeds,
shapes and steps, and used by no test of the classifier and for no tuning:
its figures are the held-out verdict of issue 10. (Its own unit tests check
only what it generates, never what the classifier says.)

``generate_holdout(seed, n_per_kind)`` returns, for each background (``flat``,
``periodic``) and each true kind allowed there (flat: SPIKE, TREND, NORMAL;
periodic: SPIKE, TREND, SEASONAL, NORMAL), ``n_per_kind`` cases, shuffled.
A case is a :class:`~backend.analytics.MetricSeries` made of a history and
then the window (the window ends the series), the window, and the true label
as ``../shared/CONTRACT.md`` (section Explanation) defines it. Same seed, same
cases (``random.Random(seed)`` and float arithmetic only).

How a case is drawn (uniform unless said otherwise; "sd" is the noise sd):

- Step: 1, 5, 15 or 60 minutes. The series starts on a random day of 2025 at a
  random step of the day, so windows fall at any time of day and week.
- Level: ``S = 10**U(-3, 6)``; sd is ``S * U(0.005, 0.05)``. In 4 of 5
  cases the metric sits at level ``S``; in 1 of 5 it is a metric around zero
  (a net flow): level 0, so its values cross zero.
- Noise: AR(1), coefficient U(0, 0.5), marginal sd as above.
- Periodic backgrounds: one of four cycle shapes read from each point's UTC
  timestamp, with a peak-to-trough swing of ``U(10, 40)`` sd:
  ``sine`` (peak at a random hour); ``plateau`` (a business day: high from
  about 08:00 to 18:00, 45-minute edges); ``evening`` (flat, with a peak of
  1-2 h width around 19:00-22:00); ``weekly`` (a daily plateau or sine on
  weekdays, its swing damped to 20-60% on Saturdays and Sundays).
- History: ``history_cycles`` (default 3) of the longest cycle in the case:
  days for daily shapes and flat backgrounds, weeks for the weekly shape
  (``history_weeks``, default 3), whatever the step (3 weeks at 1 minute is
  30,240 points). In 1 of 5 cases one past outlier (6-12 sd) sits somewhere in
  the history.
- Window: SEASONAL windows cover ``U(0.5, 1)`` of a day (weekly: one whole
  day); other kinds use a short window (8-64 points, log-uniform) in 3 of 4
  cases and a long one (the SEASONAL rule, at least 65 points) in 1 of 4.
- SPIKE: 1-3 consecutive points at ``U(8, 15)`` sd from the expected point of
  the cycle (upward 7 times in 10), ending at least 3 points before the
  window's end. Nothing keeps it outside the range the history has seen.
- TREND: a level shift (half the cases) or a ramp starting inside the window,
  with at least ``max(4, 30%)`` of the window after its start, reaching
  ``U(8, 15)`` sd at the window's end (up 6 times in 10).
- SEASONAL (periodic only): ``phase`` (the cycle shifted by 20-50% of a day),
  ``amplitude`` (the swing damped to 0-50%), ``missing`` (the part above the
  day's middle flattened to 0-30% of itself), ``extra`` (a second peak: the
  cycle half a day later, where higher); for the weekly shape also
  ``weekend`` (a weekday shaped like a weekend day, or a weekend day like a
  weekday). The window never leaves the range the clean history spans; a
  draw is kept only if the departure is visible (its largest point at least
  5 sd, its root mean square at least 2.5 sd) and cannot be read as a level
  shift persisting to the window's end, which CONTRACT.md calls TREND (it
  changes sign, by at least 3 sd each way, or it is under 1 sd on the
  window's last 3 points); else the case is moved along the cycle and redrawn.
- NORMAL: the background continues.

>>> cases = generate_holdout(1, 2)
>>> len(cases), sorted({c.background for c in cases})
(14, ['flat', 'periodic'])
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from backend.analytics import AnomalyType, MetricSeries, TimeWindow

__all__ = ["HOLDOUT_SEEDS", "KINDS_BY_BACKGROUND", "HoldoutCase", "generate_holdout", "make_case"]

DAY_S = 86_400
WEEK_S = 7 * DAY_S
STEPS_MIN = (1, 5, 15, 60)
SHAPES = ("sine", "plateau", "evening", "weekly")
KINDS_BY_BACKGROUND: dict[str, tuple[AnomalyType, ...]] = {
    "flat": (AnomalyType.SPIKE, AnomalyType.TREND, AnomalyType.NORMAL),
    "periodic": (AnomalyType.SPIKE, AnomalyType.TREND, AnomalyType.SEASONAL, AnomalyType.NORMAL),
}
#: The held-out seeds ``bench_explain.py`` reads by default (never used for tuning).
HOLDOUT_SEEDS = (91001, 91002, 91003)
_T0_US = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z, a Wednesday
_EPOCH_MONDAY_S = 4 * DAY_S  # 1970-01-05 was a Monday


@dataclass(frozen=True)
class HoldoutCase:
    """One labelled window: ``series`` ends with ``window``; ``kind`` is the truth."""

    series: MetricSeries
    window: TimeWindow
    kind: AnomalyType
    background: str  # "flat" or "periodic"
    shape: str  # "flat" or one of SHAPES
    step_minutes: int
    variant: str  # e.g. "shift", "ramp", "spike2", "phase", "normal"
    around_zero: bool
    long_window: bool
    noise_sd: float
    clean_window: tuple[float, ...]  # the background (cycle, no noise) over the window
    event_window: tuple[float, ...]  # what the case adds to it over the window (0.0 for NORMAL)
    history_range: tuple[float, float]  # min and max of the clean background over the history


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _bump(x: float, centre: float, width: float) -> float:
    d = (x - centre + DAY_S / 2) % DAY_S - DAY_S / 2
    return math.exp(-0.5 * (d / width) ** 2)


def _daily(rng: random.Random, name: str) -> Callable[[float], float]:
    """A daily shape in seconds of the day (raw, not yet scaled)."""
    if name == "sine":
        peak = rng.uniform(0, DAY_S)
        return lambda x: math.cos(2 * math.pi * (x - peak) / DAY_S)
    if name == "plateau":
        up = (8.0 + rng.uniform(-1.0, 1.0)) * 3600
        down = (18.0 + rng.uniform(-1.0, 1.0)) * 3600
        edge = 45 * 60 / 4.0
        return lambda x: 0.5 * (math.tanh((x - up) / edge) - math.tanh((x - down) / edge))
    # evening
    centre = rng.uniform(19.0, 22.0) * 3600
    width = rng.uniform(1.0, 2.0) * 3600 / 2.0
    return lambda x: _bump(x, centre, width)


def _cycle(rng: random.Random, shape: str) -> tuple[Callable[[float], float], int]:
    """The cycle as a function of seconds since the epoch scaled to [-1, 1], and its length in seconds."""
    if shape != "weekly":
        raw = _daily(rng, shape)
        grid = [raw(k * 60.0) for k in range(DAY_S // 60)]
        lo, hi = min(grid), max(grid)
        return (lambda t: 2.0 * (raw(t % DAY_S) - lo) / (hi - lo) - 1.0), DAY_S
    day = _daily(rng, rng.choice(("plateau", "sine")))
    weekend = rng.uniform(0.2, 0.6)

    def week(t: float) -> float:
        since_monday = (t - _EPOCH_MONDAY_S) % WEEK_S
        factor = weekend if since_monday >= 5 * DAY_S else 1.0
        return factor * day(t % DAY_S)

    grid = [week(_EPOCH_MONDAY_S + k * 600.0) for k in range(WEEK_S // 600)]
    lo, hi = min(grid), max(grid)
    return (lambda t: 2.0 * (week(t) - lo) / (hi - lo) - 1.0), WEEK_S


def _window_points(rng: random.Random, kind: AnomalyType, per_day: int, shape: str) -> tuple[int, bool]:
    """Window length in points and whether it is a long one."""
    if kind is AnomalyType.SEASONAL:
        if shape == "weekly":
            return per_day, True
        return max(8, round(per_day * rng.uniform(0.5, 1.0))), True
    if rng.random() < 0.25:
        return max(65, round(per_day * rng.uniform(0.5, 1.0))), True
    return round(_log_uniform(rng, 8, 64)), False


def make_case(
    rng: random.Random,
    background: str,
    kind: AnomalyType,
    *,
    history_cycles: float = 3.0,
    history_weeks: float = 3.0,
) -> HoldoutCase:
    """Draw one case (see the module docstring); ``SEASONAL`` needs ``background='periodic'``."""
    if kind not in KINDS_BY_BACKGROUND[background]:
        raise ValueError(f"make_case: kind {kind.value!r} is not drawn on a {background!r} background")
    step_min = rng.choice(STEPS_MIN)
    step_s = 60 * step_min
    per_day = DAY_S // step_s
    scale = math.pow(10.0, rng.uniform(-3.0, 6.0))
    sd = scale * rng.uniform(0.005, 0.05)
    around_zero = rng.random() < 0.2
    level = 0.0 if around_zero else scale
    shape = rng.choice(SHAPES) if background == "periodic" else "flat"
    if shape == "flat":
        cycle: Callable[[float], float] = lambda t: 0.0  # noqa: E731
        cycle_s = DAY_S
        swing = 0.0
    else:
        cycle, cycle_s = _cycle(rng, shape)
        swing = sd * rng.uniform(10.0, 40.0)
    cycles = history_weeks if cycle_s == WEEK_S else history_cycles
    hist = max(32, math.ceil(cycles * cycle_s / step_s))
    win, long_window = _window_points(rng, kind, per_day, shape)
    n = hist + win
    # Start on a random day of 2025 at a random step of the day.
    start_s = _T0_US // 1_000_000 + rng.randrange(365) * DAY_S + rng.randrange(per_day) * step_s
    times = [float(start_s + i * step_s) for i in range(n)]

    def clean_at() -> list[float]:
        return [level + 0.5 * swing * cycle(t) for t in times]

    clean = clean_at()
    phi = rng.uniform(0.0, 0.5)
    innov = sd * math.sqrt(1.0 - phi * phi)
    e = rng.gauss(0.0, sd)
    noise = [0.0] * n
    for i in range(n):
        noise[i] = e
        e = phi * e + rng.gauss(0.0, innov)
    if rng.random() < 0.2:
        noise[rng.randrange(hist - 5)] += rng.choice((-1.0, 1.0)) * rng.uniform(6.0, 12.0) * sd
    start = hist
    extra = [0.0] * n
    variant = "normal"
    if kind is AnomalyType.SPIKE:
        width = rng.choice((1, 1, 2, 3))
        at = start + rng.randrange(0, win - width - 3 + 1)
        height = rng.uniform(8.0, 15.0) * sd * (1.0 if rng.random() < 0.7 else -1.0)
        for j in range(width):
            extra[at + j] = height
        variant = f"spike{width}"
    elif kind is AnomalyType.TREND:
        after = max(4, math.ceil(0.3 * win))
        change = start + rng.randrange(0, win - after + 1)
        total = rng.uniform(8.0, 15.0) * sd * (1.0 if rng.random() < 0.6 else -1.0)
        ramp = rng.random() < 0.5
        span = n - change
        for t in range(change, n):
            extra[t] = total * ((t - change + 1) / span if ramp else 1.0)
        variant = "ramp" if ramp else "shift"
    elif kind is AnomalyType.SEASONAL:
        lo, hi = min(clean[:hist]), max(clean[:hist])
        hows = ["phase", "amplitude", "missing", "extra"] + (["weekend"] if shape == "weekly" else [])
        variant = rng.choice(hows)
        for _attempt in range(200):
            new = _seasonal_window(rng, variant, times[start:], clean[start:], level, swing, cycle)
            dep = [a - b for a, b in zip(new, clean[start:], strict=True)]
            rms = math.sqrt(math.fsum(d * d for d in dep) / len(dep))
            inside = all(lo - 1e-9 * abs(lo) <= v <= hi + 1e-9 * abs(hi) for v in new)
            visible = max(map(abs, dep)) >= 5.0 * sd and rms >= 2.5 * sd
            # Not a level shift in disguise: the departure changes sign, or it is over by the end.
            both_signs = max(dep) >= 3.0 * sd and min(dep) <= -3.0 * sd
            over = all(abs(d) < sd for d in dep[-3:])
            if inside and visible and (both_signs or over):
                break
            # Not visible (or it left the range) here: move the whole case along the cycle.
            offset = rng.randrange(per_day) * step_s + (rng.randrange(7) * DAY_S if shape == "weekly" else 0)
            times = [t + offset for t in times]
            clean = clean_at()
            lo, hi = min(clean[:hist]), max(clean[:hist])
        else:  # pragma: no cover - 200 failed draws: draw another case of the same kind
            return make_case(
                rng, background, kind, history_cycles=history_cycles, history_weeks=history_weeks
            )
        for j, d in enumerate(dep):
            extra[start + j] = d
    values = [c + z + x for c, z, x in zip(clean, noise, extra, strict=True)]
    us = [round(t * 1_000_000) for t in times]
    series = MetricSeries.from_arrays(
        f"holdout-{rng.randrange(3)}",
        f"c-{rng.randrange(5)}",
        f"n-{rng.randrange(50)}",
        "net_flow" if around_zero else ("requests" if scale >= 1 else "ratio"),
        us,
        values,
    )
    window = TimeWindow(start, n, series.timestamps[start], series.timestamps[n - 1], False)
    return HoldoutCase(
        series,
        window,
        kind,
        background,
        shape,
        step_min,
        variant,
        around_zero,
        long_window,
        sd,
        tuple(clean[start:]),
        tuple(extra[start:]),
        (min(clean[:hist]), max(clean[:hist])),
    )


def _seasonal_window(
    rng: random.Random,
    how: str,
    times: list[float],
    clean: list[float],
    level: float,
    swing: float,
    cycle: Callable[[float], float],
) -> list[float]:
    """The window's clean values after a seasonal departure of kind ``how``."""
    half = 0.5 * swing
    if how == "phase":
        shift = rng.uniform(0.2, 0.5) * DAY_S * rng.choice((-1, 1))
        return [level + half * cycle(t + shift) for t in times]
    if how == "amplitude":
        f = rng.uniform(0.0, 0.5)
        return [level + f * (c - level) for c in clean]
    if how == "missing":
        f = rng.uniform(0.0, 0.3)
        return [c if c <= level else level + f * (c - level) for c in clean]
    if how == "extra":
        return [max(c, level + half * cycle(t + DAY_S / 2)) for c, t in zip(clean, times, strict=True)]
    # weekend (weekly shape only): each point takes the same time of day of a day of the
    # other kind, a weekday from Wednesday, a weekend day from Sunday.
    out = []
    for t in times:
        day = int(((t - _EPOCH_MONDAY_S) % WEEK_S) // DAY_S)
        target = 2 if day >= 5 else 6
        out.append(level + half * cycle(t + (target - day) * DAY_S))
    return out


def generate_holdout(
    seed: int, n_per_kind: int, *, history_cycles: float = 3.0, history_weeks: float = 3.0
) -> list[HoldoutCase]:
    """``n_per_kind`` cases of each (background, kind) pair, shuffled; deterministic in ``seed``."""
    rng = random.Random(seed)
    cases = [
        make_case(rng, background, kind, history_cycles=history_cycles, history_weeks=history_weeks)
        for background, kinds in KINDS_BY_BACKGROUND.items()
        for kind in kinds
        for _ in range(n_per_kind)
    ]
    rng.shuffle(cases)
    return cases
