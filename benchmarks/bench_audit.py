"""Audits of an engine on series bench_fleet does not draw: starts, drift, growth, counts, DST, jobs, ...

``bench_fleet.py``'s fleets start at midnight on a Monday and every series has a
daily cycle. Real fleets have neither guarantee. This script measures an engine
(its defaults, ``classify=False``) on:

- **random-start** clean series: per seed set, 60 series over 8 days from a
  random weekday and hour, at 1- or 5-minute steps, a sine or a business-day
  plateau (30% up 09:00-18:00 UTC, 15% down outside: sharp edges), weekends at
  0.3-1.0 of the weekdays' swing, noise 0.5-6% of the level. It prints the
  false-alarm episodes (runs of anomalous windows) per series-day, and where
  they start: on the series' first day, or later; on a weekday or a weekend;
  within an hour after a business-day edge or not.
- **drift**: 20 series over 14 days at 5-minute steps with no daily cycle,
  level 50 drifting up by 0.2-2% a day (times ``--drift``), noise sd
  0.05-0.25 (a disk filling up). It prints the false-alarm episodes of the
  clean series, then adds six single-point spikes of ``--spike-sd`` noise sd
  (alternately down and up, one a day on days 7-12) and counts those found
  (a window holding the spike is anomalous), up and down apart.
- **growth**: 20 series over 14 days from a Monday with a daily sine (+-30%)
  on a level growing by ``--growth`` percent a day (times 0.5-1.5 per
  series, compounded), noise 1-3% of the level (traffic after a launch). It
  prints the clean series' false-alarm episodes and the spikes found, as for
  the drift. ``--growth-set tune`` (seeds 500-519, 5-minute steps) is the
  set the drift model was built on; ``holdout`` (seeds 600-619, 5-minute
  steps) and ``holdout-1min`` (the same seeds at 1-minute steps) were read
  once, after it was fixed.
- **counts**: sparse event counts (errors a minute): 20 series over 7 days
  per rate (``--rates``, events a minute: 0.02, 0.2, 1), at 1-minute steps,
  Poisson with a daily cycle (+-50%). It prints the false-alarm episodes per
  series-day, with how many series had a silent warm-up (64 zeros), and a
  3-minute burst of ``--burst`` extra events a minute on day 4: how many
  are found. Seeds 0-19 (those the resolution rule was checked on).
- **dst**: a fleet in New York across the change to daylight saving time
  (Sunday 2024-03-10): 10 series x 28 days from Monday 2024-02-26 local, a
  sine or a business-day plateau following the local clock, weekends at
  60%, noise 2%, 1- and 5-minute steps. It prints the false-alarm episodes
  per series-day in the week before the change (days 7-12) and in the week
  after (days 13-18), for the engine with no zone, with the fixed offset
  ``utc_offset_minutes=-300``, and with ``timezone="America/New_York"``.
- **jobs**: periodic jobs whose runs start a few minutes late and last a
  varying time (cron jobs, backups, compactions): 10 series per kind over 7
  days at 1-minute steps (a job every hour: 0-3 minutes late, 3-7 minutes
  long; every 15 minutes: 0-2 late, 1-3 long) or 10 days at 5-minute steps
  (every hour: 0-10 late, 10-20 long; every day at 02:00: 0-45 late, 20-60
  long), on a daily sine, the job 10-30 noise sd high (down on one series in
  five). It prints the false-alarm episodes per series-day on days 0-2 and
  from day 3 (episodes holding one of the spikes are not counted), and how
  many of six 10-sd spikes per series, placed clear of the runs from day 3,
  are found. ``--job-set tune`` is seeds 700-709, ``holdout`` 800-809.
- **flaps**: metrics that sit at one of two levels (a worker busy or idle, a
  queue empty or not, a leader flag): 10 series per kind over 5 days at
  1-minute steps, on a daily sine (+-10% of the low level), the high level
  5-50 noise sd above the low one, noise 1-3% of the level. ``iid``: each
  point high with probability 0.1-0.5, independently; ``runs``: the level
  switches with probability 1/3-1/10 a minute (runs of a few minutes);
  ``heavy`` (no flapping, for comparison): a daily sine times log-normal
  noise (sigma 0.3-0.6, a latency), two levels of nothing. It prints the
  false-alarm episodes per series-day on days 0-2 and from day 3 (episodes
  holding a spike not counted) and how many of four spikes per series on
  days 3-4 are found: on ``iid`` and ``runs`` the high level plus half the
  gap (and at least 10 noise sd); on ``heavy`` 4 times the largest value of
  the days before. ``--flap-set tune`` is seeds 900-909, ``holdout``
  1000-1009; ``--flap-days N`` draws N days instead of 5 (the spikes fall on
  days 3 and later), and the false alarms are also printed day by day.
- **steps**: the same daily sine (+-20%, noise 2% of the level) at steps
  from 1 second to 1 hour (1 s over 3 days, 10 s over 5, 1 minute over 7,
  15 minutes over 20, 1 hour over 60), 4 series each (seeds 0-3), with one
  spike of 15 noise sd on the last day. It prints the false-alarm episodes
  per series-day on the first day and after it, and the spikes found: an
  engine's warm-up and first day should not depend on the step.
- **gaps**: the same daily sine at 1-minute steps over 7 days, 10 series per
  way of sampling it: regular; scrape times off by up to 3 s (*jitter*); 2%
  of scrapes missed at random (*missed*); runs of 1-10 missed scrapes a few
  times a day (*missed-runs*); a node down for 6 hours on day 3 (*gap-6h*)
  or for two days (*gap-2d*). It prints the false-alarm episodes per
  series-day (not merged) and how many of two spikes of 15 noise sd per
  series (days 5 and 6) are found. Seeds 0-9; nothing was chosen on them.
- **shapes**: more kinds of fleet metric, 10 series each (seeds 0-9, nothing
  chosen on them), 1-minute steps over 7 days unless said: a GC heap's
  sawtooth (rises over 5-30 minutes, drops to its floor); CPU between 40% and
  80% pinned at exactly 100 for 1-4 hours on day 2 (*saturated*); a replica
  count, 12 give or take one about three times a day (*replicas*); a daily
  sine with a deploy's lasting shift of 10 noise sd on day 3
  (*deploy-shift*); at 5-minute steps over 21 days with weekends at 60%,
  noise three times as large from day 15 (*noisier*), and a Monday that
  looks like a Sunday on day 14 (*holiday*); the daily sine with an incident
  of 10 noise sd for 2-8 hours on the series' first day, its only day of
  history for the next (*first-day-incident*); a metric busy from 07:00 to
  20:00 (a half sine up to 100, noise 3) and exactly 0 the rest of the day,
  from midnight (*zero-nights*: its warm-up does not move either); a
  latency percentile, noisier at night when it sees fewer requests (level
  50-200, 20% higher at noon, noise sd 2% of that level over the square root
  of the day's traffic, a cosine from 0.1 at midnight to 1 at noon: about 3
  times as loud at midnight as at noon; its spikes 15 times the local noise,
  at 11:00-13:00, *night-noise*). It
  prints the false-alarm
  episodes per series-day (not merged) away from the event's first day, the
  alarm runs on that day (per series), and how many of two spikes on the
  last two days, 15 noise sd each (10 on the replica count), are found (none
  on the sawtooth).
- **traffic**: request rates with a deep night trough, 10 series per kind
  and step (1-minute steps over 7 days, 5-minute over 14, from a Monday):
  a daily cosine from ``trough`` of the peak at midnight UTC to the peak
  (10 to 10,000) at noon, weekends at 60% of the weekdays' swing, and noise
  that grows with the level: 2-5% of it (*mult*) or its square root (a
  Poisson count, *poisson*, the level at least 20). It prints the
  false-alarm episodes per series-day on days 0-2 and from day 3 (episodes
  holding a spike not counted) and how many spikes of 15 times the noise
  there are found, at 03:00-04:00 (low, quiet noise) and at 12:00-13:00 (the
  peak, loud noise), on the last two days (a weekend). ``--traffic-set
  tune`` is seeds 0-9 (where a spike's echo on the first Sunday was found,
  BENCHMARKS.md, "A first Saturday's spike"), ``holdout`` 10-19.
- **traffic-labels**: the same spikes, with labels (the one part run with
  ``classify=True``): each found spike's label and the distance in sd its
  sentence states, per step and hour (BENCHMARKS.md, "The classifier's spread
  by hour").
- **shapes-labels**: the ``shapes`` part's spikes, with labels, per kind
  (``--shape-seed N``: seeds N to N + 9; 0 by default, the part's own).

Usage::

    python benchmarks/bench_audit.py          # every part: zscore, sets 7-9, drift, ..., shapes, traffic
    python benchmarks/bench_audit.py --engine combined --part drift --spike-sd 15
    python benchmarks/bench_audit.py --part growth --growth-set holdout
    python benchmarks/bench_audit.py --part counts --rates 0.02,0.2,1 --burst 10
    python benchmarks/bench_audit.py --part dst
    python benchmarks/bench_audit.py --part jobs --job-set holdout --engine contextual
    python benchmarks/bench_audit.py --part flaps --flap-set holdout
    python benchmarks/bench_audit.py --part steps --engine combined
    python benchmarks/bench_audit.py --part flaps --config transform=log   # any engine setting
    python benchmarks/bench_audit.py --part traffic --traffic-set holdout
    python benchmarks/bench_audit.py --part traffic-labels --traffic-set holdout   # with labels
    python benchmarks/bench_audit.py --part shapes-labels --shape-seed 10

The seed sets 7 (random start) and the drift set with ``--drift 1 --spike-sd
10`` are the ones the rules for sharp daily edges and for drift were chosen
on (BENCHMARKS.md, "Sharp daily edges"); the other seed sets are checks.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, Path(__file__).resolve().parent):  # the repository, and benchmarks/ (for _cli)
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _cli import parse_config  # noqa: E402

from backend.analytics import AnomalyDetectionEngine, AnomalyResult, EngineRegistry, MetricSeries  # noqa: E402
from backend.analytics.evaluation import events_from_labels  # noqa: E402

MONDAY = datetime(2024, 1, 1, tzinfo=timezone.utc)
EDGES = (540, 1080)  # the business-day plateau's edges, in minutes of the UTC day


ENGINE_CONFIG: dict[str, Any] = {}  # --config key=value: every engine of the run gets these too


def make_engine(name: str, **config: Any) -> AnomalyDetectionEngine:
    """The registered engine ``name`` with ``classify=False``, ``--config``'s settings and ``config``."""
    return EngineRegistry.default().create(name, classify=False, **{**ENGINE_CONFIG, **config})


def day_shape(shape: str, t: datetime) -> float:
    """The daily cycle at ``t``'s time of day, in [-1, 1]: ``"sin"`` (lowest at midnight, highest
    at noon) or a business-day plateau (1 from 09:00 to 18:00, -0.5 outside: sharp edges)."""
    phase = (t.hour * 60 + t.minute) / 1440
    if shape == "sin":
        return math.sin(2 * math.pi * phase - math.pi / 2)
    return 1.0 if 0.375 <= phase < 0.75 else -0.5


def random_start_series(seed: int, n: int = 60) -> list[tuple[datetime, str, MetricSeries]]:
    """Seed set ``seed``: ``n`` clean series (start, shape, series), as the module docstring says."""
    draw = random.Random(seed)
    out = []
    for case in range(n):
        weekend = draw.uniform(0.3, 1.0)
        amp = draw.uniform(0.05, 0.6)
        noise = draw.uniform(0.5, 6.0)
        shape = draw.choice(["sin", "biz"])
        start_day, hour, step = draw.randrange(7), draw.randrange(24), draw.choice([1, 5])
        rng = random.Random(case + 1000 * seed)
        t0 = MONDAY + timedelta(days=start_day, hours=hour)
        stamps, values = [], []
        for i in range(8 * 1440 // step):
            t = t0 + timedelta(minutes=step * i)
            f = weekend if t.weekday() >= 5 else 1.0
            c = day_shape(shape, t)
            stamps.append(t)
            values.append(100 * (1 + amp * f * c) * (0.9 + 0.1 * f) + rng.gauss(0, noise))
        out.append((t0, f"{shape}{step}", MetricSeries("audit", "c", f"n-{case}", "m", stamps, values)))
    return out


def episodes(results: Sequence[AnomalyResult]) -> list[AnomalyResult]:
    """The first window of each run of consecutive anomalous windows."""
    return [results[first] for first, _ in events_from_labels([r.is_anomalous for r in results])]


def covered(results: Sequence[AnomalyResult], *times: datetime) -> bool:
    """Whether one of ``results`` holds one of ``times`` (a window's ends included)."""
    return any(r.window_start <= t <= r.window_end for r in results for t in times)


def false_alarms(results: Sequence[AnomalyResult], *times: datetime) -> list[AnomalyResult]:
    """The first window of each episode that holds none of ``times`` (the injected events)."""
    return [r for r in episodes(results) if not covered([r], *times)]


def random_start(engine_name: str, seed: int) -> None:
    engine = make_engine(engine_name)
    where: Counter[tuple[str, str, str, str]] = Counter()
    total = 0
    for t0, shape, series in random_start_series(seed):
        for r in episodes(engine.detect(series)):
            total += 1
            minute = r.window_start.hour * 60 + r.window_start.minute
            edge = shape.startswith("biz") and any(0 <= minute - e < 60 for e in EDGES)
            where[
                (
                    "day 0" if (r.window_start - t0).days == 0 else "later",
                    "edge" if edge else "-",
                    shape,
                    "weekend" if r.window_start.weekday() >= 5 else "weekday",
                )
            ] += 1
    print(f"random-start set {seed}: {total} episodes, {total / (60 * 8):.3f} per series-day")
    for key, count in where.most_common(6):
        print(f"    {count:4d}  {' / '.join(key)}")


def drift(engine_name: str, scale: float, spike_sd: float) -> None:
    engine = make_engine(engine_name)
    found: Counter[str] = Counter()
    spikes: Counter[str] = Counter()
    clean_episodes = 0
    for seed in range(20):
        rng = random.Random(seed)
        rate = rng.uniform(0.2, 2.0) * scale  # % of the level per day
        sd = rng.uniform(0.1, 0.5) * 0.5
        stamps = [MONDAY + timedelta(minutes=5 * i) for i in range(14 * 288)]
        values = [50.0 * (1 + rate / 100 * i / 288) + rng.gauss(0, sd) for i in range(len(stamps))]
        clean = MetricSeries("audit", "c", "n", "disk", stamps, values)
        clean_episodes += len(episodes(engine.detect(clean)))
        placed = []
        for k in range(6):
            at = (7 + k) * 288 + rng.randrange(288)
            values[at] += (1 if k % 2 else -1) * spike_sd * sd
            placed.append((at, "up" if k % 2 else "down"))
        spiky = MetricSeries("audit", "c", "n", "disk", stamps, values)
        hits = [r for r in engine.detect(spiky) if r.is_anomalous]
        for at, way in placed:
            spikes[way] += 1
            found[way] += covered(hits, stamps[at])
    print(
        f"drift x{scale:g}, spikes of {spike_sd:g} sd: found {found['up'] + found['down']} of "
        f"{spikes['up'] + spikes['down']} (up {found['up']}, down {found['down']}); "
        f"clean false-alarm episodes {clean_episodes} on 20 series x 14 days"
    )


GROWTH_SETS = {"tune": (500, 5), "holdout": (600, 5), "holdout-1min": (600, 1)}  # first seed, step (minutes)


def growing_series(seed: int, percent: float, step: int) -> tuple[MetricSeries, float, float]:
    """A growing daily cycle as the module docstring says; its daily growth rate and its noise (a
    fraction of the level)."""
    rng = random.Random(seed)
    rate = percent * rng.uniform(0.5, 1.5) / 100
    noise = rng.uniform(0.01, 0.03)
    per_day = 1440 // step
    stamps = [MONDAY + timedelta(minutes=step * i) for i in range(14 * per_day)]
    values = []
    for i in range(len(stamps)):
        level = 100 * (1 + rate) ** (i / per_day)
        cycle = 1 + 0.3 * math.sin(2 * math.pi * i / per_day - math.pi / 2)
        values.append(level * cycle + rng.gauss(0, noise * level))
    return MetricSeries("audit", "c", "n", "requests", stamps, values), rate, noise


def growth(engine_name: str, percent: float, spike_sd: float, which: str) -> None:
    engine = make_engine(engine_name)
    first, step = GROWTH_SETS[which]
    per_day = 1440 // step
    found: Counter[str] = Counter()
    spikes: Counter[str] = Counter()
    clean_episodes = 0
    for seed in range(first, first + 20):
        clean, rate, noise = growing_series(seed, percent, step)
        clean_episodes += len(episodes(engine.detect(clean)))
        rng = random.Random(seed + 10_000)
        values = list(clean.values)
        placed = []
        for k in range(6):
            at = (7 + k) * per_day + rng.randrange(per_day)
            values[at] += (1 if k % 2 else -1) * spike_sd * noise * 100 * (1 + rate) ** (at / per_day)
            placed.append((at, "up" if k % 2 else "down"))
        spiky = MetricSeries("audit", "c", "n", "requests", clean.timestamps, values)
        hits = [r for r in engine.detect(spiky) if r.is_anomalous]
        for at, way in placed:
            spikes[way] += 1
            found[way] += covered(hits, clean.timestamps[at])
    print(
        f"growth {percent:g}%/day ({which}), spikes of {spike_sd:g} sd: found "
        f"{found['up'] + found['down']} of {spikes['up'] + spikes['down']} "
        f"(up {found['up']}, down {found['down']}); "
        f"clean false-alarm episodes {clean_episodes} on 20 series x 14 days"
    )


def poisson_counts(rng: random.Random, rates: Sequence[float]) -> list[float]:
    """One Poisson count per rate (Knuth's method: fine for the small rates of these audits)."""
    out = []
    for rate in rates:
        k, p, limit = 0, rng.random(), math.exp(-rate)
        while p > limit:
            k += 1
            p *= rng.random()
        out.append(float(k))
    return out


def counts(engine_name: str, rate: float, burst: float) -> None:
    engine = make_engine(engine_name)
    clean_episodes = silent = found = 0
    per_day = 1440
    stamps = [MONDAY + timedelta(minutes=i) for i in range(7 * per_day)]
    cycle = [rate * (1 + 0.5 * math.sin(2 * math.pi * i / per_day)) for i in range(len(stamps))]
    for seed in range(20):
        rng = random.Random(seed)
        values = poisson_counts(rng, cycle)
        silent += not any(values[:64])
        clean = MetricSeries("audit", "c", "n", "errors", stamps, values)
        clean_episodes += len(episodes(engine.detect(clean)))
        at = 4 * per_day + rng.randrange(per_day)
        for i in range(at, at + 3):
            values[i] += burst
        spiky = MetricSeries("audit", "c", "n", "errors", stamps, values)
        hits = [r for r in engine.detect(spiky) if r.is_anomalous]
        found += covered(hits, stamps[at])
    print(
        f"counts at {rate:g} a minute: {clean_episodes / (20 * 7):.3f} false-alarm episodes per series-day "
        f"({silent} of 20 series with a silent warm-up); 3-minute bursts of +{burst:g} found {found} of 20"
    )


def new_york_series(seed: int, shape: str, step: int) -> MetricSeries:
    """28 days from Monday 2024-02-26 00:00 in New York, a ``shape`` ("sin" or "biz") on its clock."""
    zone = ZoneInfo("America/New_York")
    start = datetime(2024, 2, 26, 5, tzinfo=timezone.utc)
    rng = random.Random(seed)
    stamps, values = [], []
    for i in range(28 * 1440 // step):
        t = start + timedelta(minutes=step * i)
        local = t.astimezone(zone)
        c = day_shape(shape, local)
        week = 0.6 if local.weekday() >= 5 else 1.0
        stamps.append(t)
        values.append(100 * (1 + 0.3 * week * c) + rng.gauss(0, 2))
    return MetricSeries("audit", "c", "n", "requests", stamps, values)


def dst(engine_name: str) -> None:
    start = datetime(2024, 2, 26, 5, tzinfo=timezone.utc)
    configs: dict[str, dict[str, object]] = {
        "no zone": {},
        "utc_offset_minutes=-300": {"utc_offset_minutes": -300},
        "timezone='America/New_York'": {"timezone": "America/New_York"},
    }
    for label, config in configs.items():
        engine = make_engine(engine_name, **config)
        cells = []
        for shape in ("sin", "biz"):
            for step in (1, 5):
                before = after = 0
                for seed in range(10):
                    for r in episodes(engine.detect(new_york_series(seed, shape, step))):
                        day = (r.window_start - start).days
                        before += 7 <= day < 13
                        after += 13 <= day < 19
                cells.append(f"{shape}{step} {before / 60:.3f} / {after / 60:.3f}")
        print(f"DST, {label}: FA episodes per series-day, week before / week after: {'; '.join(cells)}")


JOB_SETS = {"tune": 700, "holdout": 800}  # first seed of 10 series per kind of job
# kind: (step in minutes, days, period in minutes, latest start after the period's start, duration range)
JOB_KINDS = {
    "hourly-1min": (1, 7, 60, 3, (3, 7)),
    "quarter-hourly-1min": (1, 7, 15, 2, (1, 3)),
    "hourly-5min": (5, 10, 60, 10, (10, 20)),
    "daily-5min": (5, 10, 1440, 45, (20, 60)),
}


def job_series(seed: int, kind: str) -> tuple[MetricSeries, list[int], list[tuple[int, int]]]:
    """A daily sine (+-20%) with a periodic job on top (as ``JOB_KINDS[kind]`` says: each run starts
    up to a few minutes late and lasts a varying time; 10-30 noise sd up, or on one series in five
    5-15 down) and 1-3% noise, with six 10-sd spikes at random points at least two steps clear of any
    run, on days 3 and later. Returns the series, the spikes' indices and the runs (their first and
    end minute from the start)."""
    step, days, period, late, (shortest, longest) = JOB_KINDS[kind]
    rng = random.Random(seed)
    noise = rng.uniform(1.0, 3.0)
    height = rng.uniform(10, 30) * noise * (1 if rng.random() < 0.8 else -0.5)
    busy: set[int] = set()
    runs = []
    for k in range(days * 1440 // period):
        begin = k * period + (120 if period == 1440 else 0) + rng.randint(0, late)
        runs.append((begin, begin + rng.randint(shortest, longest)))
    stamps, values = [], []
    for i in range(days * 1440 // step):
        minute = i * step
        t = MONDAY + timedelta(minutes=minute)
        on = any(b <= minute < e for b, e in runs[max(0, minute // period - 1) : minute // period + 1])
        if on:
            busy.update(range(i - 2, i + 3))
        stamps.append(t)
        values.append(100 * (1 + 0.2 * day_shape("sin", t)) + (height if on else 0.0) + rng.gauss(0, noise))
    per_day = 1440 // step
    spots = [i for i in range(3 * per_day, len(values)) if i not in busy]
    spikes = sorted(rng.sample(spots, 6))
    for i in spikes:
        values[i] += 10 * noise
    return MetricSeries("audit", "c", f"n-{seed}", "cpu", stamps, values), spikes, runs


def jobs(engine_name: str, which: str) -> None:
    engine = make_engine(engine_name)
    first = JOB_SETS[which]
    for kind, (_, days, *_) in JOB_KINDS.items():
        early = late = found = 0
        for seed in range(first, first + 10):
            series, spikes, _ = job_series(seed, kind)
            results = engine.detect(series)
            hits = [r for r in results if r.is_anomalous]
            stamps = series.timestamps
            found += sum(covered(hits, stamps[i]) for i in spikes)
            for r in false_alarms(results, *(stamps[i] for i in spikes)):
                if (r.window_start - MONDAY).days < 3:
                    early += 1
                else:
                    late += 1
        print(
            f"jobs {kind} ({which}): false-alarm episodes per series-day, days 0-2 {early / 30:.3f}, "
            f"days 3-{days - 1} {late / (10 * (days - 3)):.3f}; "
            f"10-sd spikes clear of the job found {found} of 60"
        )


FLAP_SETS = {"tune": 900, "holdout": 1000}  # first seed of 10 series per kind
FLAP_KINDS = ("iid", "runs", "heavy")
FLAP_DAYS = 5


def flap_series(seed: int, kind: str, days: int = FLAP_DAYS) -> tuple[MetricSeries, list[int], list[bool]]:
    """A two-level (``iid``, ``runs``) or log-normal (``heavy``) series on a daily sine, 5 days at
    1-minute steps (or ``days``), with four spikes from day 3 (as the module's docstring says). Returns the
    series, the spikes' indices and which points sit on the high level (none on ``heavy``)."""
    rng = random.Random(seed * 10 + FLAP_KINDS.index(kind))
    n = days * 1440
    low = rng.uniform(20.0, 200.0)
    noise = low * rng.uniform(0.01, 0.03)
    gap = noise * rng.uniform(5.0, 50.0)
    share = rng.uniform(0.1, 0.5)  # iid: the chance of the high level
    switch = 1.0 / rng.uniform(3.0, 10.0)  # runs: the chance of switching a minute
    sigma = rng.uniform(0.3, 0.6)  # heavy: the log-normal noise
    stamps, values, highs = [], [], []
    high = rng.random() < share
    for i in range(n):
        t = MONDAY + timedelta(minutes=i)
        base = low * (1 + 0.1 * day_shape("sin", t))
        if kind == "heavy":
            values.append(base * rng.lognormvariate(0.0, sigma))
        else:
            if kind == "iid":
                high = rng.random() < share
            elif rng.random() < switch:
                high = not high
            values.append(base + (gap if high else 0.0) + rng.gauss(0.0, noise))
            highs.append(high)
        stamps.append(t)
    spikes = sorted(rng.sample(range(3 * 1440, n), 4))
    for i in spikes:
        if kind == "heavy":
            values[i] = 4.0 * max(values[:i])
        else:
            values[i] = low * (1 + 0.1 * day_shape("sin", stamps[i])) + gap + max(0.5 * gap, 10.0 * noise)
    return MetricSeries("audit", "c", f"n-{seed}", kind, stamps, values), spikes, highs


def flaps(engine_name: str, which: str, days: int = FLAP_DAYS) -> None:
    engine = make_engine(engine_name)
    first = FLAP_SETS[which]
    for kind in FLAP_KINDS:
        per_day = [0] * days
        found = 0
        for seed in range(first, first + 10):
            series, spikes, _ = flap_series(seed, kind, days)
            results = engine.detect(series)
            stamps = series.timestamps
            found += sum(covered([r for r in results if r.is_anomalous], stamps[i]) for i in spikes)
            for r in false_alarms(results, *(stamps[i] for i in spikes)):
                per_day[(r.window_start - MONDAY).days] += 1
        by_day = " ".join(f"{n / 10:.1f}" for n in per_day)
        early, late = sum(per_day[:3]) / 30, sum(per_day[3:]) / (10 * (days - 3))
        print(
            f"flaps {kind} ({which}): false-alarm episodes per series-day, days 0-2 {early:.3f}, "
            f"days 3-{days - 1} {late:.3f} (by day: {by_day}); spikes found {found} of 40"
        )


STEPS = ((1, 3), (10, 5), (60, 7), (900, 20), (3600, 60))  # (step in seconds, days)


def step_series(seed: int, step: int, days: int) -> tuple[MetricSeries, int]:
    """A daily sine (+-20% of 100) with 2% noise, one point every ``step`` seconds over ``days`` days,
    and a spike of 15 noise sd at a random point of the last day. Returns the series and the spike."""
    rng = random.Random(seed * 100_003 + step)
    n = days * 86_400 // step
    stamps = [MONDAY + timedelta(seconds=step * i) for i in range(n)]
    phase = [(step * i % 86_400) / 86_400 for i in range(n)]  # (to the second: smooth at 1-second steps)
    values = [100.0 * (1 - 0.2 * math.cos(2 * math.pi * p)) + rng.gauss(0.0, 2.0) for p in phase]
    spike = rng.randrange(n - 86_400 // step, n)
    values[spike] += 30.0
    return MetricSeries("audit", "c", f"n-{seed}", "requests", stamps, values), spike


def steps(engine_name: str) -> None:
    engine = make_engine(engine_name)
    for step, days in STEPS:
        first = later = found = 0
        for seed in range(4):
            series, spike = step_series(seed, step, days)
            results = engine.detect(series)
            at = series.timestamps[spike]
            found += covered([r for r in results if r.is_anomalous], at)
            for r in false_alarms(results, at):
                if r.window_start - MONDAY < timedelta(days=1):
                    first += 1
                else:
                    later += 1
        print(
            f"steps of {step} s over {days} days: false-alarm episodes per series-day, first day "
            f"{first / 4:.3f}, later {later / (4 * (days - 1)):.3f}; spikes found {found} of 4"
        )


GAPS = ("regular", "jitter", "missed", "missed-runs", "gap-6h", "gap-2d")


def gap_series(seed: int, kind: str) -> tuple[MetricSeries, list[datetime]]:
    """A daily sine (+-20% of 100, noise 2) over 7 days at 1-minute steps, sampled as ``kind`` says,
    with a spike of 15 noise sd on days 5 and 6. Returns the series and the spikes' times."""
    rng = random.Random(seed * 7919 + GAPS.index(kind))
    n = 7 * 1440
    at = [60.0 * i for i in range(n)]  # seconds from Monday
    if kind == "jitter":  # a scrape's time moves by up to 3 s either way
        at = [s + rng.uniform(-3.0, 3.0) for s in at]
    keep = [True] * n
    if kind == "missed":  # 2% of scrapes fail, independently
        keep = [rng.random() > 0.02 for _ in range(n)]
    elif kind == "missed-runs":  # a few times a day, 1-10 scrapes in a row fail
        i = 0
        while i < n:
            if rng.random() < 0.003:
                run = rng.randint(1, 10)
                keep[i : i + run] = [False] * len(keep[i : i + run])
                i += run
            i += 1
    elif kind == "gap-6h":  # the node is down for 6 hours on day 3
        start = 3 * 1440 + rng.randrange(1440)
        keep[start : start + 360] = [False] * 360
    elif kind == "gap-2d":  # ... or for two days, from day 2 10:00
        keep[2 * 1440 + 600 : 4 * 1440 + 600] = [False] * 2880
    values = [
        100.0 * (1 - 0.2 * math.cos(2 * math.pi * (s % 86_400) / 86_400)) + rng.gauss(0.0, 2.0)
        for s in at
    ]
    spikes = []
    for day in (5, 6):
        k = day * 1440 + rng.randrange(1440)
        while not keep[k]:  # (a missed scrape: the one before it)
            k -= 1
        values[k] += 30.0
        spikes.append(k)
    kept = [i for i in range(n) if keep[i]]
    stamps = [MONDAY + timedelta(seconds=at[i]) for i in kept]
    series = MetricSeries("audit", "c", f"n-{seed}", "m", stamps, [values[i] for i in kept])
    return series, [MONDAY + timedelta(seconds=at[k]) for k in spikes]


def gaps(engine_name: str) -> None:
    engine = make_engine(engine_name)
    for kind in GAPS:
        alarms = found = 0
        for seed in range(10):
            series, spikes = gap_series(seed, kind)
            results = engine.detect(series)
            found += sum(covered([r for r in results if r.is_anomalous], t) for t in spikes)
            alarms += len(false_alarms(results, *spikes))
        print(
            f"gaps, {kind}: false-alarm episodes per series-day {alarms / 70:.3f}; spikes found {found} of 20"
        )


SHAPES = (
    "sawtooth", "saturated", "replicas", "deploy-shift", "noisier", "holiday",
    "first-day-incident", "zero-nights", "night-noise",
)


def shape_series(seed: int, kind: str) -> tuple[MetricSeries, list[int], int | None]:
    """A metric of kind ``kind`` (module docstring, ``shapes``), 10 series per kind. Returns the
    series, its spikes' indices and the index of its event (None: no event)."""
    rng = random.Random(seed * 7919 + SHAPES.index(kind))
    step, days = (5, 21) if kind in ("noisier", "holiday") else (1, 7)
    per_day = 1440 // step
    n = days * per_day
    event: int | None = None
    local: list[float] | None = None  # (night-noise: each point's noise sd, which sizes its spikes)
    if kind == "sawtooth":  # a GC heap: rises over 5-30 minutes from its floor, drops back
        values: list[float] = []
        while len(values) < n:
            length, low = rng.randint(5, 30), 200.0 + rng.gauss(0.0, 5.0)
            high = low + rng.uniform(300.0, 500.0)
            values += [low + (high - low) * j / length + rng.gauss(0.0, 3.0) for j in range(length)]
        values, spike = values[:n], 0.0
    elif kind == "saturated":  # CPU between 40% and 80%, pinned at exactly 100 for 1-4 hours on day 2
        values = [min(100.0, 60 + 20 * math.sin(2 * math.pi * i / 1440) + rng.gauss(0.0, 2.0))
                  for i in range(n)]
        event, pinned = 2 * 1440 + rng.randrange(1440), rng.randint(60, 240)
        values[event : event + pinned] = [100.0] * pinned
        spike = 30.0
    elif kind == "zero-nights":  # busy 07:00-20:00 (a half sine up to 100, noise 3), exactly 0 outside
        values = []
        for i in range(n):
            minute = i % 1440
            busy = 100.0 * math.sin(math.pi * (minute - 420) / 780) + rng.gauss(0.0, 3.0)
            values.append(max(0.0, busy) if 420 <= minute < 1200 else 0.0)
        spike = 45.0
    elif kind == "night-noise":  # a latency percentile: noisier at night, when it sees fewer requests
        base, values, local = rng.uniform(50.0, 200.0), [], []
        for i in range(n):
            # (the day's traffic: 0.1 at midnight, 1 at noon)
            traffic = 0.1 + 0.45 * (1.0 - math.cos(2 * math.pi * (i % 1440) / 1440))
            sd = 0.02 * base / math.sqrt(traffic)
            values.append(base * (1.0 + 0.2 * traffic) + rng.gauss(0.0, sd))
            local.append(sd)
        spike = 15.0  # (times the local noise sd)
    elif kind == "replicas":  # a replica count: 12, up or down by one about three times a day
        level, values = 12, []
        for _ in range(n):
            if rng.random() < 3 / 1440:
                level = max(1, level + rng.choice((-1, 1)))
            values.append(float(level))
        spike = 10.0
    else:
        # A daily sine (+-20% of 100, at 5-minute steps +-30% with weekends at 60%), noise 2, and:
        # a deploy's lasting shift of +20 on day 3; noise three times as large from day 15 10:00;
        # a holiday on day 14 (a Monday that looks like a Sunday); an incident of +20 for 2-8 hours
        # from 06:00-14:00 on the series' first day.
        noise, values = 2.0, []
        starts = {"deploy-shift": 3 * 1440 + rng.randrange(1440), "noisier": 15 * per_day + 120}
        event, end = starts.get(kind, 14 * per_day), n
        if kind == "first-day-incident":
            event = rng.randrange(6 * 60, 14 * 60)
            end = event + rng.randrange(2 * 60, 8 * 60)
        for i in range(n):
            day, minute = divmod(i * step, 1440)
            phase = 2 * math.pi * minute / 1440 - math.pi / 2
            if step == 1:
                shift = 20.0 if event <= i < end else 0.0
                values.append(100.0 * (1 + 0.2 * math.sin(phase)) + rng.gauss(0.0, noise) + shift)
                continue
            f = 0.6 if day % 7 >= 5 or (kind == "holiday" and day == 14) else 1.0
            sd = noise * (3.0 if kind == "noisier" and i >= event else 1.0)
            values.append(100.0 * (1 + 0.3 * f * math.sin(phase)) * (0.8 + 0.2 * f) + rng.gauss(0.0, sd))
        spike = 90.0 if kind == "noisier" else 30.0  # (15 noise sd)
    spikes = []
    if spike:  # two spikes in the last two days, clear of the event's day (zero-nights: busy hours;
        # night-noise: 11:00-13:00, its quietest hours)
        for day in (days - 2, days - 1):
            if kind in ("zero-nights", "night-noise"):
                at = rng.randrange(540, 1080) if kind == "zero-nights" else rng.randrange(660, 780)
            else:
                at = rng.randrange(per_day)
            k = day * per_day + at
            values[k] += spike * (local[k] if local is not None else 1.0)
            spikes.append(k)
    stamps = [MONDAY + timedelta(minutes=step * i) for i in range(n)]
    return MetricSeries("audit", "c", f"n-{seed}", "m", stamps, values), spikes, event


def shapes(engine_name: str) -> None:
    engine = make_engine(engine_name)
    for kind in SHAPES:
        other = on_event = found = spikes = echoes = first = 0
        series_days = 0.0
        for seed in range(10):
            series, at, event = shape_series(seed, kind)
            results = engine.detect(series)
            stamps = series.timestamps
            found += sum(covered([r for r in results if r.is_anomalous], stamps[i]) for i in at)
            spikes += len(at)
            day = timedelta(days=1)
            begin = stamps[event] if event is not None else None
            # An incident's echo: an alarm the day after it, from 30 minutes before its time of day to
            # 30 minutes after the longest incident's end.
            again = begin + day - timedelta(minutes=30) if begin is not None else None
            for r in false_alarms(results, *(stamps[i] for i in at)):
                if kind == "first-day-incident" and again is not None and (
                    r.window_end >= again and r.window_start < again + timedelta(hours=9)
                ):
                    echoes += 1
                elif begin is not None and r.window_end >= begin and r.window_start < begin + day:
                    on_event += 1
                else:
                    other += 1
                    first += r.window_start < stamps[0] + day
            series_days += (stamps[-1] - stamps[0]) / day - (event is not None)
        print(
            f"shapes, {kind}: false-alarm episodes per series-day {other / series_days:.3f}"
            + (f"; alarm runs on the event's first day, per series {on_event / 10:.1f}" if kind not in (
                "sawtooth", "replicas", "zero-nights", "night-noise") else "")
            + (f" ({first / 10:.1f} per series on the first day)" if kind == "zero-nights" else "")
            + (f"; alarm runs the day after at its time of day, per series {echoes / 10:.1f}"
               if kind == "first-day-incident" else "")
            + (f"; spikes found {found} of {spikes}" if spikes else "")
        )


TRAFFIC = (("mult", 0.1), ("mult", 0.4), ("poisson", 0.1), ("poisson", 0.4))
TRAFFIC_SETS = {"tune": 0, "holdout": 10}  # first seed of 10 series per kind and step


def traffic_series(seed: int, noise: str, trough: float, step: int) -> tuple[MetricSeries, list[int]]:
    """A request rate (module docstring, ``traffic``). Returns the series and its spikes' indices, at
    03:00-04:00 (the trough's side) and 12:00-13:00 (the peak) of its last two days."""
    rng = random.Random(seed * 7919 + 17)
    days = 7 if step == 1 else 14
    per_day = 1440 // step
    peak = 10 ** rng.uniform(1.0, 4.0)
    fraction = rng.uniform(0.02, 0.05)
    values, sds = [], []
    for i in range(days * per_day):
        day, minute = divmod(i * step, 1440)
        weekend = 0.6 if day % 7 >= 5 else 1.0
        cycle = 0.5 * (1.0 - math.cos(2 * math.pi * minute / 1440))  # 0 at midnight, 1 at noon
        mean = peak * (trough + (1.0 - trough) * weekend * cycle)
        if noise == "poisson":
            mean = max(mean, 20.0)
        sd = fraction * mean if noise == "mult" else math.sqrt(mean)
        values.append(mean + rng.gauss(0.0, sd))
        sds.append(sd)
    spikes = []
    for day in (days - 2, days - 1):
        for hour in (3, 12):
            k = day * per_day + (hour * 60 + rng.randrange(60)) // step
            values[k] += 15.0 * sds[k]
            spikes.append(k)
    stamps = [MONDAY + timedelta(minutes=step * i) for i in range(len(values))]
    return MetricSeries("audit", "c", f"n-{seed}", "m", stamps, values), spikes


def traffic(engine_name: str, which: str) -> None:
    engine = make_engine(engine_name)
    first = TRAFFIC_SETS[which]
    for noise, trough in TRAFFIC:
        for step in (1, 5):
            early = later = 0
            found = [0, 0]  # the trough's side, the peak
            later_days = 0
            for seed in range(first, first + 10):
                series, at = traffic_series(seed, noise, trough, step)
                results = engine.detect(series)
                stamps = series.timestamps
                hits = [r for r in results if r.is_anomalous]
                for j, i in enumerate(at):
                    found[j % 2] += covered(hits, stamps[i])
                settled = stamps[0] + timedelta(days=3)
                for r in false_alarms(results, *(stamps[i] for i in at)):
                    if r.window_start < settled:
                        early += 1
                    else:
                        later += 1
                later_days += (len(stamps) * step) // 1440 - 3
            print(
                f"traffic, {noise} noise, trough {trough:.0%} of the peak, {step}-minute steps: false-alarm "
                f"episodes per series-day, days 0-2 {early / 30:.3f}, from day 3 {later / later_days:.3f}; "
                f"spikes found at 03:00-04:00 {found[0]} of 20, at 12:00-13:00 {found[1]} of 20"
            )


_STATED = re.compile(r"(\d+(?:\.\d+)?(?:e[+-]?\d+)?) sd (?:above|below)")


def labelled_spikes(
    engine_name: str, cases: Iterable[tuple[MetricSeries, Sequence[tuple[str, Sequence[int]]]]]
) -> None:
    """Each case's spikes, detected with labels (``classify=True``; a case is a series, detected
    once, and its spikes' indices grouped by key): how each found spike's first anomalous window is
    labelled, and how many sd its sentence says the window is from its expectation, per key
    (printed in the order the keys first come)."""
    engine = EngineRegistry.default().create(engine_name, **ENGINE_CONFIG)
    labels: dict[str, Counter[str]] = {}
    stated: dict[str, list[float]] = defaultdict(list)
    for series, groups in cases:
        hits = [r for r in engine.detect(series) if r.is_anomalous]
        for key, at in groups:
            labels.setdefault(key, Counter())  # (a key whose spikes were all missed is printed too)
            for i in at:
                t = series.timestamps[i]
                found = next((r for r in hits if r.window_start <= t <= r.window_end), None)
                if found is None:
                    continue
                labels[key][found.anomaly_label.value] += 1
                m = _STATED.search(engine.explain(series, found))
                if m:
                    stated[key].append(float(m.group(1)))
    for key, kinds in labels.items():
        v = sorted(stated[key])
        spread = (
            f"sd stated: median {statistics.median(v):.1f}, 10% {v[len(v) // 10]:.1f}, least {v[0]:.1f}"
            if v
            else "no sd stated"
        )
        counts = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none found"
        print(f"{key}: {counts}; {spread}")


def traffic_labels(engine_name: str, which: str) -> None:
    """The ``traffic`` part's spikes with labels (:func:`labelled_spikes`; a spike is 15 of its local
    noise sd, and the expectation's own noise makes about 11-13 of them), at 03:00-04:00 and at
    12:00-13:00, per step."""
    first = TRAFFIC_SETS[which]

    def cases() -> Iterator[tuple[MetricSeries, list[tuple[str, Sequence[int]]]]]:
        for step in (1, 5):
            for noise, trough in TRAFFIC:
                for seed in range(first, first + 10):
                    series, at = traffic_series(seed, noise, trough, step)
                    # (the series' spikes alternate: the night's, then the noon's)
                    yield series, [
                        (f"traffic labels, {step}-minute steps, spikes at {hours}", at[j::2])
                        for j, hours in enumerate(("03:00-04:00", "12:00-13:00"))
                    ]

    labelled_spikes(engine_name, cases())


def shapes_labels(engine_name: str, first: int) -> None:
    """The ``shapes`` part's spikes with labels (:func:`labelled_spikes`), per kind, seeds ``first``
    to ``first + 9`` (0: the part's own seeds)."""

    def cases() -> Iterator[tuple[MetricSeries, list[tuple[str, Sequence[int]]]]]:
        for kind in SHAPES:
            for seed in range(first, first + 10):
                series, at, _ = shape_series(seed, kind)
                yield series, [(f"shapes labels, {kind}", at)]

    labelled_spikes(engine_name, cases())


PARTS = (
    "all", "random-start", "drift", "growth", "counts", "dst", "jobs", "flaps", "steps", "gaps",
    "shapes", "traffic", "traffic-labels", "shapes-labels",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="zscore")
    parser.add_argument(
        "--part",
        choices=PARTS,
        default="all",
    )
    parser.add_argument("--sets", default="7,8,9", help="random-start seed sets (comma-separated)")
    parser.add_argument("--drift", default="1,0.3", help="drift multipliers (comma-separated)")
    parser.add_argument("--spike-sd", type=float, default=10.0)
    parser.add_argument("--growth", default="1,3,6", help="daily growth in percent (comma-separated)")
    parser.add_argument("--growth-set", choices=sorted(GROWTH_SETS), default="tune")
    parser.add_argument("--job-set", choices=sorted(JOB_SETS), default="tune")
    parser.add_argument("--flap-set", choices=sorted(FLAP_SETS), default="tune")
    parser.add_argument("--traffic-set", choices=sorted(TRAFFIC_SETS), default="tune")
    parser.add_argument("--shape-seed", type=int, default=0, help="first of the 10 seeds of shapes-labels")
    parser.add_argument("--flap-days", type=int, default=FLAP_DAYS, help="days per flap series (at least 4)")
    parser.add_argument("--rates", default="0.02,0.2,1", help="count rates a minute (comma-separated)")
    parser.add_argument("--burst", type=float, default=10.0, help="extra events a minute in the burst")
    parser.add_argument("--config", action="append", default=[], help="engine keyword, key=value (repeat)")
    args = parser.parse_args(argv)
    ENGINE_CONFIG.clear()
    ENGINE_CONFIG.update(parse_config(args.config))
    make_engine(args.engine)  # a bad name or setting fails here, before any audit runs
    settings = "".join(f", {k}={v!r}" for k, v in ENGINE_CONFIG.items())
    print(f"engine {args.engine} (defaults{settings}, classify=False; the parts *-labels with labels)")
    if args.part in ("all", "random-start"):
        for seed in (int(s) for s in args.sets.split(",")):
            random_start(args.engine, seed)
    if args.part in ("all", "drift"):
        for scale in (float(s) for s in args.drift.split(",")):
            drift(args.engine, scale, args.spike_sd)
    if args.part in ("all", "growth"):
        for percent in (float(s) for s in args.growth.split(",")):
            growth(args.engine, percent, args.spike_sd, args.growth_set)
    if args.part in ("all", "counts"):
        for rate in (float(s) for s in args.rates.split(",")):
            counts(args.engine, rate, args.burst)
    if args.part in ("all", "dst"):
        dst(args.engine)
    if args.part in ("all", "jobs"):
        jobs(args.engine, args.job_set)
    if args.part in ("all", "flaps"):
        flaps(args.engine, args.flap_set, args.flap_days)
    if args.part in ("all", "steps"):
        steps(args.engine)
    if args.part in ("all", "gaps"):
        gaps(args.engine)
    if args.part in ("all", "shapes"):
        shapes(args.engine)
    if args.part in ("all", "traffic"):
        traffic(args.engine, args.traffic_set)
    if args.part in ("all", "traffic-labels"):
        traffic_labels(args.engine, args.traffic_set)
    if args.part in ("all", "shapes-labels"):
        shapes_labels(args.engine, args.shape_seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
