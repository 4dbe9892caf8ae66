"""Daily-cycle fleets with labelled events: the data behind ``benchmarks/bench_fleet.py``.

A *cycle fleet* is a list of independent series at a fixed step (1 minute over
3 days and 5 minutes over 7 days are the presets :data:`ONE_MINUTE_3_DAYS`
and :data:`FIVE_MINUTES_7_DAYS`; step, length and start are parameters), each
a daily cycle plus Gaussian noise, and each carrying at most one kind of
labelled event. Everything is drawn from ``random.Random(seed)`` and float
arithmetic only, so the same seed and configuration give the same fleet on
every platform. Standard library only.

One series, point ``i`` at time ``t_i`` (the cycle is read from the
timestamp's UTC time of day, so it follows ``start``)::

    value[i] = week(t_i) * (level + (swing / 2) * shape(time of day of t_i)) + noise_sd * z_i + event[i]

with ``week(t) = 1``, except on Saturdays and Sundays (UTC, or UTC plus
``weekend_utc_offset_minutes``: a fleet whose week follows another time zone)
when ``CycleFleetConfig.weekend`` is not ``(1, 1)``: then a factor drawn per
series from that range (a weekly rhythm; it is drawn after everything else, so
a fleet without one is the same as before the option existed). ``z_i`` is
standard normal, ``noise_sd = level * U(noise_fraction)`` and
``swing = noise_sd * U(swing_sd)`` (the peak-to-trough daily swing, about 20
noise sd by default). ``level`` is log-uniform in ``level``. ``shape`` is one
of :data:`SHAPES`, each scaled to [-1, 1]:

- ``sine``: one sine a day, its peak at a random hour;
- ``business``: the simulator's business-day curve
  (:func:`simulator.metrics.daily_curve`: trough near 03:00, peak near 14:00);
- ``two_peaks``: a morning peak (about 09:00) and a higher evening peak
  (about 20:00), as user-facing traffic has;
- ``night_batch``: flat by day with a plateau from about 01:00 to 04:00
  (a nightly batch job), smooth 20-minute edges.

Series kinds (:data:`SERIES_KINDS`, assigned in turn by series index from
``CycleFleetConfig.kinds``, so a fleet of ``len(kinds) * k`` series holds ``k``
of each) and the events they carry (sizes in noise sd, drawn uniformly from the
configured ranges; the sign is upward with probability ``up_probability``):

- ``clean``: no event at all;
- ``spike``: ``spike_points`` consecutive points, each moved by the same
  ``spike_sd`` (one :class:`CycleEvent`);
- ``level_shift``: a step of ``shift_sd`` lasting ``shift_hours``, then back;
- ``ramp``: a linear rise to ``ramp_sd`` over ``ramp_points`` points, held for
  ``ramp_hold_hours``, then back;
- ``repeated_spikes``: ``repeats`` spikes of one width and one size (the same
  spike every time), one in the middle half of each of ``repeats`` equal
  slices of the eligible span (so at different times of day, on several days,
  at least half a slice apart); each is a
  :class:`CycleEvent` with ``occurrence`` 0, 1, ...

Two more kinds are not in the default ``kinds`` (:data:`EXTRA_KINDS`; the
fleets drawn with the defaults do not change):

- ``incident_then_spike``: a ``level_shift`` (an incident of ``shift_sd``
  lasting ``shift_hours``), then, 12 to 30 hours after it ends, a
  ``spike_after_incident`` of ``spike_sd``: is a detector still sensitive the
  day after an incident?
- ``permanent_shift``: a step of ``shift_sd`` that lasts to the end of the
  series (the event ends at the last point; no ``tail_points`` after it): how
  long does a detector keep alarming on a new normal?

No event starts before ``event_start_days`` (a day of history by default, so
that a detector comparing with yesterday can be judged on every event), and
every event ends at least ``tail_points`` points before the series does (so
``onset + tail_points`` is always inside the series). Indices are half-open:
an event moves the points ``onset <= i < end``.

>>> fleet = generate_cycle_fleet(7, ONE_MINUTE_3_DAYS, n_series=5)
>>> [s.kind for s in fleet.series]
['clean', 'spike', 'level_shift', 'ramp', 'repeated_spikes']
>>> len(fleet.series[0].series), fleet.days
(4320, 3.0)
>>> [e.occurrence for e in fleet.series[4].events]
[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Final, NoReturn

from backend.analytics import MetricSeries

from .metrics import DAY_S, daily_curve

__all__ = [
    "EVENT_KINDS",
    "EXTRA_KINDS",
    "FIVE_MINUTES_7_DAYS",
    "ONE_MINUTE_3_DAYS",
    "SERIES_KINDS",
    "SHAPES",
    "CycleEvent",
    "CycleFleet",
    "CycleFleetConfig",
    "CycleSeries",
    "generate_cycle_fleet",
]

#: Cycle shapes, each a function of the second of the day scaled to [-1, 1].
SHAPES: Final[tuple[str, ...]] = ("sine", "business", "two_peaks", "night_batch")
#: Kinds of series in a fleet.
SERIES_KINDS: Final[tuple[str, ...]] = ("clean", "spike", "level_shift", "ramp", "repeated_spikes")
#: Kinds of series that ``CycleFleetConfig.kinds`` may also name (not in its default).
EXTRA_KINDS: Final[tuple[str, ...]] = ("incident_then_spike", "permanent_shift")
_AFTER_INCIDENT_HOURS = (12.0, 30.0)  # the spike of incident_then_spike: this long after the incident
#: Kinds of :class:`CycleEvent`, with the label an explanation should give each.
EVENT_KINDS: Final[dict[str, str]] = {
    "spike": "spike",
    "level_shift": "trend",
    "ramp": "trend",
    "repeated_spike": "spike",
    "spike_after_incident": "spike",
    "permanent_shift": "trend",
}
_START: Final[datetime] = datetime(2024, 1, 1, tzinfo=timezone.utc)  # a Monday
_US: Final[int] = 1_000_000


def _fail(owner: str, name: str, expected: str, got: object) -> NoReturn:
    raise ValueError(f"{owner}.{name}: expected {expected}, got {got!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_range(owner: str, name: str, value: object, *, lo: float, integer: bool = False) -> None:
    """``value`` must be a pair ``(a, b)`` with ``lo <= a <= b``, both finite (ints if ``integer``)."""
    kind = "ints" if integer else "numbers"
    if not isinstance(value, tuple) or len(value) != 2:
        raise TypeError(f"{owner}.{name}: expected a pair (low, high) of {kind}, got {value!r}")
    for v in value:
        if integer and (isinstance(v, bool) or not isinstance(v, int)):
            raise TypeError(f"{owner}.{name}: expected a pair (low, high) of ints, got {value!r}")
        if not _is_number(v):
            raise TypeError(f"{owner}.{name}: expected a pair (low, high) of numbers, got {value!r}")
    a, b = value
    if not (math.isfinite(a) and math.isfinite(b) and lo <= a <= b):
        _fail(owner, name, f"finite low <= high, both >= {lo}", value)


@dataclass(frozen=True, slots=True)
class CycleFleetConfig:
    """How a cycle fleet is drawn (see the module docstring for the model).

    Pairs ``(low, high)`` are uniform ranges (``level``: log-uniform). Sizes
    ending in ``_sd`` are in units of the series' noise standard deviation.
    ``step_seconds`` must divide one day; ``days * 86400`` must be a whole
    number of steps.
    """

    step_seconds: int = 60
    days: float = 3.0
    start: datetime = _START
    kinds: tuple[str, ...] = SERIES_KINDS
    shapes: tuple[str, ...] = SHAPES
    level: tuple[float, float] = (1.0, 1000.0)
    noise_fraction: tuple[float, float] = (0.01, 0.03)
    swing_sd: tuple[float, float] = (16.0, 24.0)
    up_probability: float = 0.7
    spike_sd: tuple[float, float] = (8.0, 15.0)
    spike_points: tuple[int, int] = (1, 3)
    shift_sd: tuple[float, float] = (8.0, 12.0)
    shift_hours: tuple[float, float] = (2.0, 8.0)
    ramp_sd: tuple[float, float] = (10.0, 15.0)
    ramp_points: tuple[int, int] = (10, 30)
    ramp_hold_hours: tuple[float, float] = (1.0, 4.0)
    repeats: int = 10
    event_start_days: float = 1.0
    tail_points: int = 60
    weekend: tuple[float, float] = (1.0, 1.0)
    weekend_utc_offset_minutes: int = 0

    def __post_init__(self) -> None:
        owner = "CycleFleetConfig"
        step = self.step_seconds
        if isinstance(step, bool) or not isinstance(step, int):
            raise TypeError(f"{owner}.step_seconds: expected an int, got {step!r} ({type(step).__name__})")
        if step <= 0 or DAY_S % step:
            _fail(owner, "step_seconds", "a positive int that divides 86400", step)
        if not _is_number(self.days):
            raise TypeError(f"{owner}.days: expected a number, got {self.days!r}")
        if not (math.isfinite(self.days) and self.days > 0) or (self.days * DAY_S) % step:
            _fail(owner, "days", "a positive number of days that is a whole number of steps", self.days)
        if not isinstance(self.start, datetime) or self.start.tzinfo is None:
            raise TypeError(f"{owner}.start: expected a timezone-aware datetime, got {self.start!r}")
        for name, known in (("kinds", SERIES_KINDS + EXTRA_KINDS), ("shapes", SHAPES)):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not value:
                raise TypeError(f"{owner}.{name}: expected a non-empty tuple of str, got {value!r}")
            for i, item in enumerate(value):
                if item not in known:
                    _fail(owner, f"{name}[{i}]", f"one of {', '.join(known)}", item)
        _check_range(owner, "level", self.level, lo=1e-300)
        _check_range(owner, "noise_fraction", self.noise_fraction, lo=1e-12)
        for name in ("swing_sd", "spike_sd", "shift_sd", "ramp_sd", "shift_hours", "ramp_hold_hours"):
            _check_range(owner, name, getattr(self, name), lo=0.0)
        _check_range(owner, "weekend", self.weekend, lo=1e-3)
        off = self.weekend_utc_offset_minutes
        if isinstance(off, bool) or not isinstance(off, int):
            raise TypeError(
                f"{owner}.weekend_utc_offset_minutes: expected an int, got {off!r} ({type(off).__name__})"
            )
        if not -840 <= off <= 840:
            _fail(owner, "weekend_utc_offset_minutes", "an int number of minutes in [-840, 840]", off)
        _check_range(owner, "spike_points", self.spike_points, lo=1, integer=True)
        _check_range(owner, "ramp_points", self.ramp_points, lo=1, integer=True)
        if not _is_number(self.up_probability) or not 0.0 <= self.up_probability <= 1.0:
            _fail(owner, "up_probability", "a number in [0, 1]", self.up_probability)
        for name in ("repeats", "tail_points"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{owner}.{name}: expected an int, got {value!r} ({type(value).__name__})")
            if value < 1:
                _fail(owner, name, "an int >= 1", value)
        if not _is_number(self.event_start_days) or not (
            math.isfinite(self.event_start_days) and self.event_start_days >= 0
        ):
            _fail(owner, "event_start_days", "a finite number of days >= 0", self.event_start_days)
        # The longest event must fit between event_start_days and the tail.
        longest = max(
            self._points(self.shift_hours[1] * 3600),
            self.ramp_points[1] + self._points(self.ramp_hold_hours[1] * 3600),
            2 * self.repeats * (self.spike_points[1] + 1),
            self._points((self.shift_hours[1] + _AFTER_INCIDENT_HOURS[1]) * 3600) + self.spike_points[1]
            if "incident_then_spike" in self.kinds
            else 0,
        )
        room = self.n_points - self._points(self.event_start_days * DAY_S) - self.tail_points
        if room <= longest:
            raise ValueError(
                f"{owner}: events need {longest} points between event_start_days and the last "
                f"tail_points, but the series has only {max(room, 0)} there "
                f"(days={self.days!r}, step_seconds={step}, event_start_days={self.event_start_days!r})"
            )

    def _points(self, seconds: float) -> int:
        return max(1, round(seconds / self.step_seconds))

    @property
    def n_points(self) -> int:
        """Points per series."""
        return round(self.days * DAY_S / self.step_seconds)

    @property
    def points_per_day(self) -> int:
        """Points per day (one period of the cycle)."""
        return DAY_S // self.step_seconds


#: One-minute steps over three days (4,320 points a series).
ONE_MINUTE_3_DAYS: Final[CycleFleetConfig] = CycleFleetConfig(step_seconds=60, days=3.0)
#: Five-minute steps over seven days (2,016 points a series).
FIVE_MINUTES_7_DAYS: Final[CycleFleetConfig] = CycleFleetConfig(step_seconds=300, days=7.0)


@dataclass(frozen=True, slots=True)
class CycleEvent:
    """One labelled event: series ``series_index`` moved at points ``onset <= i < end``.

    ``size_sd`` is the size in noise sd (the height of a spike, the step of a
    shift, the top of a ramp), ``size`` the same in the metric's units, signed.
    ``occurrence`` numbers the spikes of a ``repeated_spike`` train (0 first);
    it is 0 for the other kinds. ``expected_label`` is what an explanation
    should say (:data:`EVENT_KINDS`).
    """

    series_index: int
    kind: str
    onset: int
    end: int
    size_sd: float
    size: float
    occurrence: int = 0

    @property
    def expected_label(self) -> str:
        """The explanation label this event should get (``spike`` or ``trend``)."""
        return EVENT_KINDS[self.kind]


@dataclass(frozen=True, slots=True)
class CycleSeries:
    """One series of a cycle fleet, its events and how it was drawn.

    ``expected`` is the noiseless cycle without events (``week * (level +
    swing/2 * shape)``), one value per point: ``series.values[i] - expected[i]`` is the
    noise plus the events.
    """

    series: MetricSeries
    kind: str
    shape: str
    level: float
    noise_sd: float
    swing: float
    events: tuple[CycleEvent, ...]
    expected: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class CycleFleet:
    """A generated fleet: its series (with their events), the seed and the configuration."""

    seed: int
    config: CycleFleetConfig
    series: tuple[CycleSeries, ...]

    @property
    def events(self) -> tuple[CycleEvent, ...]:
        """Every event of the fleet, by series then onset."""
        return tuple(e for s in self.series for e in s.events)

    @property
    def days(self) -> float:
        """Days per series."""
        return self.config.days


def _bump(x: float, centre: float, width: float) -> float:
    """A Gaussian bump on the circle of one day (``x``, ``centre`` in seconds)."""
    d = (x - centre + DAY_S / 2) % DAY_S - DAY_S / 2
    return math.exp(-0.5 * (d / width) ** 2)


def _shape_function(name: str, rng: random.Random) -> Callable[[float], float]:
    """The shape ``name`` as a function of the second of the day, scaled to [-1, 1]."""
    if name == "sine":
        peak = rng.uniform(0.0, DAY_S)
        return lambda x: math.cos(2.0 * math.pi * (x - peak) / DAY_S)
    if name == "business":
        raw: Callable[[float], float] = daily_curve  # scaled by its largest |value|, not its range
    elif name == "two_peaks":
        morning = (9.0 + rng.uniform(-1.0, 1.0)) * 3600
        evening = (20.0 + rng.uniform(-1.0, 1.0)) * 3600
        ratio = rng.uniform(0.5, 0.8)

        def peaks(x: float) -> float:
            return ratio * _bump(x, morning, 5400.0) + _bump(x, evening, 7200.0)

        raw = peaks
    else:  # night_batch
        begin = (1.0 + rng.uniform(-0.5, 0.5)) * 3600
        length = rng.uniform(2.5, 3.5) * 3600
        edge = 1200.0 / 4.0  # tanh edges: about 20 minutes from 2% to 98%

        def plateau(x: float) -> float:
            d = (x - begin) % DAY_S
            return 0.5 * (math.tanh(d / edge) - math.tanh((d - length) / edge))

        raw = plateau

    # Scale to [-1, 1] over a fine grid of the day (the shapes are smooth).
    grid = [raw(k * 60.0) for k in range(DAY_S // 60)]
    lo, hi = min(grid), max(grid)
    return lambda x: 2.0 * (raw(x) - lo) / (hi - lo) - 1.0


def _signed(rng: random.Random, config: CycleFleetConfig, lo_hi: tuple[float, float]) -> float:
    size = rng.uniform(*lo_hi)
    return size if rng.random() < config.up_probability else -size


def _events(
    rng: random.Random, index: int, kind: str, config: CycleFleetConfig
) -> list[tuple[CycleEvent, list[float]]]:
    """The events of one series, each with its per-point offsets (in noise sd) from its onset."""
    first = config._points(config.event_start_days * DAY_S) if config.event_start_days > 0 else 0
    last = config.n_points - config.tail_points  # every event ends at or before this index
    out: list[tuple[CycleEvent, list[float]]] = []
    if kind == "spike":
        width = rng.randint(*config.spike_points)
        size = _signed(rng, config, config.spike_sd)
        onset = rng.randrange(first, last - width + 1)
        out.append((CycleEvent(index, "spike", onset, onset + width, abs(size), size), [size] * width))
    elif kind == "level_shift":
        length = config._points(rng.uniform(*config.shift_hours) * 3600)
        size = _signed(rng, config, config.shift_sd)
        onset = rng.randrange(first, last - length + 1)
        event = CycleEvent(index, "level_shift", onset, onset + length, abs(size), size)
        out.append((event, [size] * length))
    elif kind == "ramp":
        rise = rng.randint(*config.ramp_points)
        hold = config._points(rng.uniform(*config.ramp_hold_hours) * 3600)
        size = _signed(rng, config, config.ramp_sd)
        onset = rng.randrange(first, last - rise - hold + 1)
        offsets = [size * (k + 1) / rise for k in range(rise)] + [size] * hold
        out.append((CycleEvent(index, "ramp", onset, onset + rise + hold, abs(size), size), offsets))
    elif kind == "incident_then_spike":
        length = config._points(rng.uniform(*config.shift_hours) * 3600)
        size = _signed(rng, config, config.shift_sd)
        width = rng.randint(*config.spike_points)
        spike = _signed(rng, config, config.spike_sd)
        gap = config._points(rng.uniform(*_AFTER_INCIDENT_HOURS) * 3600)
        onset = rng.randrange(first, last - length - gap - width + 1)
        incident = CycleEvent(index, "level_shift", onset, onset + length, abs(size), size)
        out.append((incident, [size] * length))
        at = onset + length + gap
        after = CycleEvent(index, "spike_after_incident", at, at + width, abs(spike), spike)
        out.append((after, [spike] * width))
    elif kind == "permanent_shift":
        size = _signed(rng, config, config.shift_sd)
        onset = rng.randrange(first, last)
        event = CycleEvent(index, "permanent_shift", onset, config.n_points, abs(size), size)
        out.append((event, [size] * (config.n_points - onset)))
    elif kind == "repeated_spikes":
        width = rng.randint(*config.spike_points)
        size = _signed(rng, config, config.spike_sd)
        span = (last - first) / config.repeats
        for k in range(config.repeats):
            # The middle half of slice k: neighbours are at least half a slice apart.
            lo = first + math.ceil((k + 0.25) * span)
            hi = first + math.floor((k + 0.75) * span) - width
            onset = rng.randint(lo, max(lo, hi))
            event = CycleEvent(index, "repeated_spike", onset, onset + width, abs(size), size, k)
            out.append((event, [size] * width))
    return out


def _one_series(rng: random.Random, fleet_seed: int, index: int, config: CycleFleetConfig) -> CycleSeries:
    kind = config.kinds[index % len(config.kinds)]
    shape_name = rng.choice(config.shapes)
    shape = _shape_function(shape_name, rng)
    lo, hi = config.level
    level = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    noise_sd = level * rng.uniform(*config.noise_fraction)
    swing = noise_sd * rng.uniform(*config.swing_sd)
    n, step = config.n_points, config.step_seconds
    start_us = round(config.start.timestamp() * _US)
    us = [start_us + i * step * _US for i in range(n)]
    day0 = (start_us // _US) % DAY_S
    expected = tuple(level + 0.5 * swing * shape(float((day0 + i * step) % DAY_S)) for i in range(n))
    gauss = rng.gauss
    values = [e + noise_sd * gauss(0.0, 1.0) for e in expected]
    drawn = _events(rng, index, kind, config)
    events: list[CycleEvent] = []
    if config.weekend != (1.0, 1.0):
        # A weekly rhythm: on Saturdays and Sundays (UTC) the cycle (level and swing) runs at
        # `factor` of the weekdays'. Drawn last, so a fleet without one draws exactly as before.
        factor = rng.uniform(*config.weekend)
        shift = config.weekend_utc_offset_minutes * 60
        weekend = [((t // _US + shift) // DAY_S + 3) % 7 >= 5 for t in us]
        lift = factor - 1.0
        values = [v + lift * e if w else v for v, e, w in zip(values, expected, weekend, strict=True)]
        expected = tuple(e * factor if w else e for e, w in zip(expected, weekend, strict=True))
    for event, offsets in drawn:
        scaled = CycleEvent(
            event.series_index,
            event.kind,
            event.onset,
            event.end,
            event.size_sd,
            event.size * noise_sd,
            event.occurrence,
        )
        events.append(scaled)
        for k, off in enumerate(offsets):
            values[event.onset + k] += off * noise_sd
    series = MetricSeries.from_arrays(
        "cycles", f"seed-{fleet_seed}", f"node-{index:04d}", f"{shape_name}_{kind}", us, values
    )
    return CycleSeries(series, kind, shape_name, level, noise_sd, swing, tuple(events), expected)


def generate_cycle_fleet(seed: int, config: CycleFleetConfig, *, n_series: int) -> CycleFleet:
    """Draw ``n_series`` series from ``config`` with ``random.Random(seed)``.

    Series ``i`` is drawn from its own generator, seeded by the ``i``-th draw of
    ``random.Random(seed)``: a fleet of ``n`` series is the first ``n`` series
    of any larger fleet with the same seed and configuration.
    """
    owner = "generate_cycle_fleet"
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"{owner}: seed must be an int, got {seed!r} ({type(seed).__name__})")
    if not isinstance(config, CycleFleetConfig):
        raise TypeError(f"{owner}: config must be a CycleFleetConfig, got {type(config).__name__}")
    if isinstance(n_series, bool) or not isinstance(n_series, int):
        raise TypeError(f"{owner}: n_series must be an int, got {n_series!r} ({type(n_series).__name__})")
    if n_series < 0:
        raise ValueError(f"{owner}: n_series must be an int >= 0, got {n_series!r}")
    master = random.Random(seed)
    seeds = [master.getrandbits(64) for _ in range(n_series)]
    series = tuple(_one_series(random.Random(s), seed, i, config) for i, s in enumerate(seeds))
    return CycleFleet(seed, config, series)
