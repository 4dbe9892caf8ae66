"""Calendar-cycle tuning cases for the explanation classifier (``bench_explain.py --mode calendar``).

The classifier's rules for periodic backgrounds were chosen on these cases and
on :mod:`simulator.labeled` (seeds 0-9): never on ``_explain_holdout.py``,
whose figures stay the held-out verdict. Written apart from both, with its own
steps, shapes and seeds (default 7100-7104), to tune what
:mod:`simulator.labeled` does not draw: cycles read from timestamps (a day at
2 minutes is 720 points), spikes and shifts that stay inside the range the
cycle has seen, weekday/weekend days, long windows.

``generate_calendar_cases(seed, n_per_kind)`` returns, for each background
(``flat``, ``periodic``) and each kind allowed there (flat: SPIKE, TREND,
NORMAL; periodic: SPIKE, TREND, SEASONAL, NORMAL), ``n_per_kind`` cases,
shuffled, deterministic in ``seed``. A case is ``(series, window, kind,
background, variant)``; the window ends the series.

How a case is drawn (uniform unless said otherwise; "sd" is the noise sd):

- Step: 1, 2, 10, 30 or 60 minutes; the series starts at a random step of a
  random day of 2023.
- Level ``10**U(-2, 5)``, noise sd ``level * U(0.01, 0.08)``; in 1 of 4
  cases level 0 (a metric around zero). Noise AR(1), coefficient U(0, 0.6).
- Periodic shapes, by UTC time of day: ``double`` (two peaks, 10:00 and
  15:00 +- 1 h), ``night`` (low 00:00-06:00, high otherwise, 1-hour edges),
  ``saw`` (rises from a random hour through the day, drops back),
  ``harmonic`` (two sines); in 2 of 5 periodic cases Saturdays and Sundays
  have ``U(0.2, 0.7)`` of the weekday swing. Swing (peak to trough)
  ``U(8, 50)`` sd.
- History ``U(2.2, 8.5)`` days (SEASONAL: ``U(3, 8.5)``), ``U(8.2, 9.5)`` with weekends (so at 1 minute
  up to 13,680 points); one past outlier (5-10 sd) in 1 of 4 histories.
- Window: 6-80 points (log-uniform) in 2 of 3 cases, else ``U(0.3, 1)`` of a
  day (SEASONAL windows always the latter).
- SPIKE: 1-3 points at ``U(6, 14)`` sd off the cycle (up 2 times in 3), the
  last at least 3 points before the window's end.
- TREND: a shift or a ramp starting inside the window, with ``max(4, 25%)``
  of the window after it, reaching ``U(6, 14)`` sd at the end (up half the
  time).
- SEASONAL: ``phase`` (the day moved by 3-10 h), ``damped`` (swing to
  0-60%), ``missing`` (the part above the day's mean flattened), ``extra``
  (the day's shape 12 h later added where higher), ``swap`` (a weekday shaped
  like a weekend day or back, weekly cases only). Kept only if visible (peak
  at least 5 sd, rms at least 2.5 sd) and not a persisting one-sided change
  (it changes sign by at least 3 sd each way, or it ends under 1 sd): the
  contract calls that TREND.
- NORMAL: the background continues.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from backend.analytics import AnomalyType, MetricSeries, TimeWindow

__all__ = ["CALENDAR_SEEDS", "KINDS_BY_BACKGROUND", "CalendarCase", "generate_calendar_cases"]

DAY_S = 86_400
STEPS_MIN = (1, 2, 10, 30, 60)
SHAPES = ("double", "night", "saw", "harmonic")
KINDS_BY_BACKGROUND: dict[str, tuple[AnomalyType, ...]] = {
    "flat": (AnomalyType.SPIKE, AnomalyType.TREND, AnomalyType.NORMAL),
    "periodic": (AnomalyType.SPIKE, AnomalyType.TREND, AnomalyType.SEASONAL, AnomalyType.NORMAL),
}
CALENDAR_SEEDS = (7100, 7101, 7102, 7103, 7104)
_T0_S = 1_672_531_200  # 2023-01-01T00:00:00Z, a Sunday
_MONDAY_S = 4 * DAY_S  # 1970-01-05 was a Monday


@dataclass(frozen=True)
class CalendarCase:
    """One labelled window at the end of ``series``."""

    series: MetricSeries
    window: TimeWindow
    kind: AnomalyType
    background: str
    variant: str


def _day_shape(rng: random.Random, name: str) -> Callable[[float], float]:
    """A shape of the hour of day ``h`` in [0, 24), roughly in [0, 1]."""
    if name == "double":
        a, b = 10.0 + rng.uniform(-1, 1), 15.0 + rng.uniform(-1, 1)
        w = rng.uniform(1.0, 2.0)

        def f(h: float) -> float:
            return math.exp(-0.5 * ((h - a) / w) ** 2) + 0.8 * math.exp(-0.5 * ((h - b) / w) ** 2)

        return f
    if name == "night":
        return lambda h: 0.5 * (math.tanh((h - 6.0) / 0.7) - math.tanh((h - 23.0) / 0.7))
    if name == "saw":
        s = rng.uniform(0.0, 24.0)
        return lambda h: ((h - s) % 24.0) / 24.0
    p1, p2, a2 = rng.uniform(0, 24), rng.uniform(0, 12), rng.uniform(0.2, 0.6)
    return lambda h: math.cos(2 * math.pi * (h - p1) / 24) + a2 * math.cos(4 * math.pi * (h - p2) / 24)


def _cycle(rng: random.Random) -> tuple[Callable[[float], float], bool, str]:
    """The cycle of epoch seconds scaled to [0, 1], whether weekends differ, the shape's name."""
    name = rng.choice(SHAPES)
    day = _day_shape(rng, name)
    grid = [day(k / 60.0) for k in range(24 * 60)]
    lo, hi = min(grid), max(grid)
    weekly = rng.random() < 0.4
    weekend = rng.uniform(0.2, 0.7) if weekly else 1.0

    def at(t: float) -> float:
        h = (t % DAY_S) / 3600.0
        f = weekend if ((t - _MONDAY_S) % (7 * DAY_S)) >= 5 * DAY_S else 1.0
        return f * (day(h) - lo) / (hi - lo)

    return at, weekly, name + ("+weekend" if weekly else "")


def make_calendar_case(rng: random.Random, background: str, kind: AnomalyType) -> CalendarCase:
    """Draw one case (module docstring)."""
    step_s = 60 * rng.choice(STEPS_MIN)
    per_day = DAY_S // step_s
    level = 10.0 ** rng.uniform(-2.0, 5.0)
    sd = level * rng.uniform(0.01, 0.08)
    if rng.random() < 0.25:
        level = 0.0
    if background == "periodic":
        cyc, weekly, name = _cycle(rng)
        swing = sd * rng.uniform(8.0, 50.0)
    else:
        cyc, weekly, name, swing = (lambda t: 0.0), False, "flat", 0.0
    least = 3.0 if kind is AnomalyType.SEASONAL else 2.2  # (SEASONAL needs 3 cycles of history)
    hist = max(40, round(rng.uniform(8.2, 9.5) * per_day if weekly else rng.uniform(least, 8.5) * per_day))
    if kind is AnomalyType.SEASONAL or rng.random() < 1 / 3:
        win = max(8, round(rng.uniform(0.3, 1.0) * per_day))
    else:
        win = max(6, round(math.exp(rng.uniform(math.log(6), math.log(80)))))
    n = hist + win
    t0 = _T0_S + rng.randrange(365) * DAY_S + rng.randrange(per_day) * step_s
    offset = 0.5 * swing if level == 0.0 else 0.0  # a metric around zero: the cycle crosses it

    def clean_of(t0: int) -> list[float]:
        return [level - offset + swing * cyc(t0 + i * step_s) for i in range(n)]

    clean = clean_of(t0)
    phi = rng.uniform(0.0, 0.6)
    e = rng.gauss(0.0, sd)
    noise = []
    for _ in range(n):
        noise.append(e)
        e = phi * e + rng.gauss(0.0, sd * math.sqrt(1 - phi * phi))
    if rng.random() < 0.25:
        noise[rng.randrange(hist - 4)] += rng.choice((-1, 1)) * rng.uniform(5.0, 10.0) * sd
    extra = [0.0] * n
    variant = "normal"
    if kind is AnomalyType.SPIKE:
        width = rng.choice((1, 1, 2, 3))
        at = hist + rng.randrange(win - width - 2)
        h = rng.uniform(6.0, 14.0) * sd * (1 if rng.random() < 2 / 3 else -1)
        for j in range(width):
            extra[at + j] = h
        variant = f"spike{width}"
    elif kind is AnomalyType.TREND:
        after = max(4, math.ceil(0.25 * win))
        change = hist + rng.randrange(win - after + 1)
        total = rng.uniform(6.0, 14.0) * sd * (1 if rng.random() < 0.5 else -1)
        ramp = rng.random() < 0.5
        for t in range(change, n):
            extra[t] = total * ((t - change + 1) / (n - change) if ramp else 1.0)
        variant = "ramp" if ramp else "shift"
    elif kind is AnomalyType.SEASONAL:
        hows = ["phase", "damped", "missing", "extra"] + (["swap"] if weekly else [])
        variant = rng.choice(hows)
        for _ in range(300):
            times = [t0 + i * step_s for i in range(hist, n)]
            base = clean[hist:]
            mean = level - offset + swing * 0.5
            if variant == "phase":
                d = rng.uniform(3.0, 10.0) * 3600 * rng.choice((-1, 1))
                new = [level - offset + swing * cyc(t + d) for t in times]
            elif variant == "damped":
                f = rng.uniform(0.0, 0.6)
                new = [mean + f * (c - mean) for c in base]
            elif variant == "missing":
                new = [min(c, mean) for c in base]
            elif variant == "extra":
                new = [
                    max(c, level - offset + swing * cyc(t + DAY_S / 2))
                    for c, t in zip(base, times, strict=True)
                ]
            else:
                new = []
                for t in times:
                    wd = int(((t - _MONDAY_S) % (7 * DAY_S)) // DAY_S)
                    new.append(level - offset + swing * cyc(t + ((1 if wd >= 5 else 5) - wd) * DAY_S))
            dep = [a - b for a, b in zip(new, base, strict=True)]
            rms = math.sqrt(math.fsum(x * x for x in dep) / len(dep))
            visible = max(map(abs, dep)) >= 5 * sd and rms >= 2.5 * sd
            two = max(dep) >= 3 * sd and min(dep) <= -3 * sd
            ends = all(abs(x) < sd for x in dep[-3:])
            if visible and (two or ends):
                break
            t0 += rng.randrange(per_day) * step_s
            clean = clean_of(t0)
        else:
            return make_calendar_case(rng, background, kind)
        for j, x in enumerate(dep):
            extra[hist + j] = x
    values = [c + z + x for c, z, x in zip(clean, noise, extra, strict=True)]
    us = [(t0 + i * step_s) * 1_000_000 for i in range(n)]
    series = MetricSeries.from_arrays("tune", "c", f"n-{rng.randrange(9)}", "m", us, values)
    window = TimeWindow(hist, n, series.timestamps[hist], series.timestamps[n - 1], False)
    return CalendarCase(series, window, kind, background, f"{name}/{variant}/{step_s // 60}min")


def generate_calendar_cases(seed: int, n_per_kind: int) -> list[CalendarCase]:
    """``n_per_kind`` cases of each (background, kind) pair, shuffled; deterministic in ``seed``."""
    rng = random.Random(seed)
    cases = [
        make_calendar_case(rng, background, kind)
        for background, kinds in KINDS_BY_BACKGROUND.items()
        for kind in kinds
        for _ in range(n_per_kind)
    ]
    rng.shuffle(cases)
    return cases
