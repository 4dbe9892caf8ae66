"""Labeled series for the explanation classifier: (series, window, true kind) cases.

``generate_cases(seed, n_per_kind)`` returns a balanced, shuffled list of
:class:`LabeledCase`: the same number of ``spike``, ``trend``, ``seasonal`` and
``normal`` windows, each at the end of its own series (history, then the window;
nothing after it). Same seed, same cases, on every platform (only
``random.Random(seed)`` and float arithmetic are used). Standard library only.

How a case is drawn (all ranges uniform unless said otherwise):

- Scale: the level is ``10**U(-3, 6)`` so values span 1e-3 .. 1e6.
- Base: periodic (always for ``seasonal``, half of the time for the other
  kinds) or flat. Periods are log-uniform in 4 .. ``max_period`` (default 336)
  points with extra weight on 24 (a day of hourly data), 168 (a week of hourly
  data), 288 (a day at 5 minutes, the usual fleet sampling) and 336 (a week at
  30 minutes). Shapes: sine, sine with a second harmonic, a daily bump (peak
  width 8-20% of the period), a rounded square wave; for 168 and 336 also a
  weekly shape (a daily bump, weekends at 40-70%); for 288 also the fleet's
  business-day curve (the simulator's ``daily_curve``: trough near 03:00, peak
  near 14:00). Amplitude 10-50% of the level.
- Weekly modulation (period 288 only, half of those cases): the daily swing of
  Saturdays and Sundays is damped to 75-95% of the weekday swing, as the
  simulator's fleets do. The weekday of the first point is random, so a
  history may or may not hold a weekend. A normal window on a weekend day is
  still ``normal``; a ``seasonal`` departure is measured from the modulated
  cycle.
- Noise: AR(1) with coefficient 0..0.5 and marginal sd 3-20% of the amplitude
  (periodic) or 0.5-10% of the level (flat). A mild linear drift of at most one
  noise sd over the whole series in a third of the cases, and one past spike in
  the history in a fifth of the cases (histories are not spotless).
- History: log-uniform 32 .. ``max_history`` (default 2048) points, at least
  2 periods for a periodic base and at least 3 periods for ``seasonal`` cases. Window: log-uniform
  8 .. 64 points; ``seasonal`` windows cover at least 3/4 of a period.
- ``spike``: 1-3 consecutive points, ending at least 3 points before the
  window's end, at ``max(6..15 sd, the distance to the edge of the clean
  historical range + 3..8 sd)`` from the clean value, upward 70% of the time.
- ``trend``: a ramp or a level shift starting inside the window with at least
  ``max(4, 30%)`` of the window after its start, reaching at the window's end
  ``max(5..12 sd, distance to the edge of the clean range + 3..8 sd)``.
- ``seasonal``: the periodic part of the window is phase shifted (20-50% of a
  period), damped (to 0-50% of its amplitude), loses its peaks (flattened to
  the mid level) or gains extra ones (a copy half a period away). Such a
  window stays inside the historical range by construction. A draw is kept
  only if the departure is visible (its largest point is at least 4 noise sd
  and its root mean square at least 2 noise sd) and is not a one-sided change
  persisting to the window's end, which CONTRACT.md calls TREND (it changes
  sign, by at least 3 sd each way, or it is under 1 sd on the window's last 3
  points); else the phase is redrawn.
- ``normal``: the base process simply continues.

"sd" above is the noise sd. The ``period`` and ``variant`` fields of a case say
what was drawn, for reporting. Sampling steps are 1 minute, 5 minutes or an
hour (5 minutes for period 288, 30 minutes for 336, an hour for 168), which
only matters to the sentences of ``explain``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from backend.analytics import AnomalyType, MetricSeries, TimeWindow

from .metrics import DAY_S, daily_curve

__all__ = ["KINDS", "LabeledCase", "generate_cases", "make_case"]

KINDS: tuple[AnomalyType, ...] = (
    AnomalyType.SPIKE,
    AnomalyType.TREND,
    AnomalyType.SEASONAL,
    AnomalyType.NORMAL,
)
_T0_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
_STEPS_US = (60_000_000, 300_000_000, 3_600_000_000)  # 1 min, 5 min, 1 h
_STEP_OF_PERIOD = {168: 3_600_000_000, 288: 300_000_000, 336: 1_800_000_000}  # week, day, week
_MAX_PERIOD = 336
_MAX_HISTORY = 2048


@dataclass(frozen=True)
class LabeledCase:
    """One labeled window: ``series`` ends with ``window``; ``kind`` is the truth."""

    series: MetricSeries
    window: TimeWindow
    kind: AnomalyType
    period: int | None
    variant: str


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _shape(rng: random.Random, period: int) -> tuple[str, list[float]]:
    """One period of a periodic shape, scaled to the range [-1, 1]."""
    names = ["sine", "harmonic", "bump", "square"]
    if period in (168, 336):
        names += ["weekly", "weekly"]
    if period == 288:
        names += ["business", "business"]
    name = rng.choice(names)
    tau = 2.0 * math.pi
    if name == "sine":
        raw = [math.sin(tau * p / period) for p in range(period)]
    elif name == "harmonic":
        a2, ph = rng.uniform(0.3, 0.7), rng.uniform(0.0, tau)
        raw = [math.sin(tau * p / period) + a2 * math.sin(2 * tau * p / period + ph) for p in range(period)]
    elif name == "bump":
        width = max(1.0, period * rng.uniform(0.08, 0.2))
        c = period / 2.0
        raw = [math.exp(-0.5 * ((p - c) / width) ** 2) for p in range(period)]
    elif name == "square":
        raw = [math.tanh(3.0 * math.sin(tau * p / period)) for p in range(period)]
    elif name == "business":  # the simulator's daily curve, one point every 5 minutes
        raw = [daily_curve(p * DAY_S / period) for p in range(period)]
    else:  # weekly: a daily bump, weekends lower
        per_day = period // 7
        weekend = rng.uniform(0.4, 0.7)
        width = per_day * rng.uniform(0.1, 0.2)
        raw = []
        for p in range(period):
            day, slot = divmod(p, per_day)
            bump = math.exp(-0.5 * ((slot - 0.54 * per_day) / width) ** 2)
            raw.append((weekend if day >= 5 else 1.0) * bump)
    lo, hi = min(raw), max(raw)
    return name, [2.0 * (v - lo) / (hi - lo) - 1.0 for v in raw]


def _period(rng: random.Random, max_period: int) -> int:
    u = rng.random()
    for at, period in ((0.12, 24), (0.22, 168), (0.37, 288), (0.42, 336)):
        if u < at and period <= max_period:
            return period
    return round(_log_uniform(rng, 4, max_period))


def make_case(
    rng: random.Random,
    kind: AnomalyType,
    *,
    max_period: int = _MAX_PERIOD,
    max_history: int = _MAX_HISTORY,
) -> LabeledCase:
    """Draw one case of ``kind`` from ``rng`` (see the module docstring).

    ``max_period`` (4 .. 336 points is the default range) and ``max_history``
    (points of history at most, unless 3 periods need more) bound what is drawn.
    """
    level = math.pow(10.0, rng.uniform(-3.0, 6.0))
    periodic = kind is AnomalyType.SEASONAL or rng.random() < 0.5
    win = round(_log_uniform(rng, 8, 64))
    period: int | None = None
    shape: list[float] = [0.0]
    amp = 0.0
    variant = "flat"
    weekend = 1.0  # daily swing on Saturdays and Sundays, relative to weekdays
    if periodic:
        period = _period(rng, max_period)
        variant, shape = _shape(rng, period)
        amp = level * rng.uniform(0.1, 0.5)
        sd = amp * rng.uniform(0.03, 0.2)
        min_hist = (3 if kind is AnomalyType.SEASONAL else 2) * period
        if kind is AnomalyType.SEASONAL:
            win = max(win, math.ceil(0.75 * period))
        if period == 288 and rng.random() < 0.5:
            weekend = rng.uniform(0.75, 0.95)
            variant += "+weekend"
    else:
        sd = level * rng.uniform(0.005, 0.1)
        min_hist = 32
    hist = max(min_hist, round(_log_uniform(rng, 32, max_history)))
    hist = min(hist, max(max_history, min_hist))
    n = hist + win
    phase0 = rng.randrange(period) if period else 0
    day0 = rng.randrange(7)  # weekday of the first cycle (0 = Monday)

    def cycle_at(phase0: int) -> Callable[[int], float]:
        def at(t: int) -> float:
            day, p = divmod(phase0 + t, len(shape))
            return amp * shape[p] * (weekend if (day0 + day) % 7 >= 5 else 1.0)

        return at

    cyc = cycle_at(phase0)
    drift = rng.uniform(-1.0, 1.0) * sd / n if rng.random() < 1 / 3 else 0.0
    clean_periodic = [cyc(t) for t in range(n)]
    clean = [level + c + drift * t for t, c in enumerate(clean_periodic)]
    # AR(1) noise with marginal sd ``sd``.
    phi = rng.uniform(0.0, 0.5)
    innov = sd * math.sqrt(1.0 - phi * phi)
    noise = [0.0] * n
    e = rng.gauss(0.0, sd)
    for t in range(n):
        noise[t] = e
        e = phi * e + rng.gauss(0.0, innov)
    outlier = [0.0] * n  # one past spike in some histories
    if rng.random() < 0.2 and hist > 10:
        at = rng.randrange(hist - 5)
        outlier[at] = rng.choice((-1.0, 1.0)) * rng.uniform(6.0, 12.0) * sd
    values = [c + z + o for c, z, o in zip(clean, noise, outlier, strict=True)]
    hist_lo = min(clean[:hist])
    hist_hi = max(clean[:hist])
    start = hist

    def beyond(t: int, sign: float, lo_k: float, hi_k: float, min_sd: tuple[float, float]) -> float:
        gap = hist_hi - clean[t] if sign > 0 else clean[t] - hist_lo
        return max(rng.uniform(min_sd[0], min_sd[1]) * sd, gap + rng.uniform(lo_k, hi_k) * sd)

    if kind is AnomalyType.SPIKE:
        width = rng.choices((1, 2, 3), (0.5, 0.3, 0.2))[0]
        at = start + rng.randrange(0, win - width - 3 + 1)
        sign = 1.0 if rng.random() < 0.7 else -1.0
        profile = {
            1: (1.0,),
            2: (rng.uniform(0.5, 1.0), 1.0),
            3: (rng.uniform(0.4, 0.8), 1.0, rng.uniform(0.4, 0.8)),
        }
        peak_t = at + (0 if width == 1 else 1)
        height = beyond(peak_t, sign, 3.0, 8.0, (6.0, 15.0))
        for j, f in enumerate(profile[width]):
            values[at + j] += sign * f * height
        variant += f"/spike{width}"
    elif kind is AnomalyType.TREND:
        after = max(4, math.ceil(0.3 * win))
        change = start + rng.randrange(0, win - after + 1)
        sign = 1.0 if rng.random() < 0.6 else -1.0
        total = beyond(n - 1, sign, 3.0, 8.0, (5.0, 12.0))
        ramp = rng.random() < 0.5
        span = n - change
        for t in range(change, n):
            frac = (t - change + 1) / span if ramp else 1.0
            values[t] += sign * total * frac
        variant += "/ramp" if ramp else "/shift"
    elif kind is AnomalyType.SEASONAL and period is not None:  # (always periodic)
        how = rng.choice(("phase", "damped", "missing", "extra"))
        variant += "/" + how
        for _attempt in range(50):
            if how == "phase":
                shift = round(period * rng.uniform(0.2, 0.5)) * rng.choice((-1, 1))
                new = [cyc(t + shift) for t in range(start, n)]
            elif how == "damped":
                f = rng.uniform(0.0, 0.5)
                new = [f * clean_periodic[t] for t in range(start, n)]
            elif how == "missing":
                f = rng.uniform(0.0, 0.3)
                new = [c if c <= 0.0 else f * c for c in clean_periodic[start:n]]
            else:
                new = [max(clean_periodic[t], cyc(t + period // 2)) for t in range(start, n)]
            dep = [a - b for a, b in zip(new, clean_periodic[start:n], strict=True)]
            rms = math.sqrt(math.fsum(d * d for d in dep) / len(dep))
            # Not a sustained one-sided change either (CONTRACT.md calls one that
            # persists to the window's end TREND): it changes sign, or it is over.
            both_signs = max(dep) >= 3.0 * sd and min(dep) <= -3.0 * sd
            over = all(abs(d) < sd for d in dep[-3:])
            if max(map(abs, dep)) >= 4.0 * sd and rms >= 2.0 * sd and (both_signs or over):
                break
            # Not visible at this phase: move the window to another phase.
            phase0 = rng.randrange(period)
            cyc = cycle_at(phase0)
            clean_periodic = [cyc(t) for t in range(n)]
            clean = [level + c + drift * t for t, c in enumerate(clean_periodic)]
            values = [c + z + o for c, z, o in zip(clean, noise, outlier, strict=True)]
        else:
            return make_case(rng, kind, max_period=max_period, max_history=max_history)
        for j, d in enumerate(dep):
            values[start + j] += d
    step = rng.choice(_STEPS_US)
    if period in _STEP_OF_PERIOD:
        step = _STEP_OF_PERIOD[period]
    t0 = _T0_US + rng.randrange(0, 365) * 86_400_000_000
    us = [t0 + i * step for i in range(n)]
    series = MetricSeries.from_arrays(
        f"tenant-{rng.randrange(5)}",
        f"c-{rng.randrange(9)}",
        f"n-{rng.randrange(99)}",
        "cpu_util" if level < 1e3 else "bytes_in",
        us,
        values,
    )
    window = TimeWindow(start, n, series.timestamps[start], series.timestamps[n - 1], False)
    return LabeledCase(series, window, kind, period, variant)


def generate_cases(
    seed: int, n_per_kind: int, *, max_period: int = _MAX_PERIOD, max_history: int = _MAX_HISTORY
) -> list[LabeledCase]:
    """``4 * n_per_kind`` cases, ``n_per_kind`` of each kind, shuffled; deterministic in ``seed``."""
    rng = random.Random(seed)
    cases = [
        make_case(rng, kind, max_period=max_period, max_history=max_history)
        for kind in KINDS
        for _ in range(n_per_kind)
    ]
    rng.shuffle(cases)
    return cases
