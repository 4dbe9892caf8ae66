"""Detection on daily-cycle fleets: event recall, repeated spikes, false alarms, one alarm line.

Usage (from the repository root)::

    python benchmarks/bench_fleet.py                          # every built-in engine + the reference
    python benchmarks/bench_fleet.py --series 100 --json out.json
    python benchmarks/bench_fleet.py --engine zscore --config z_threshold=5 --split tune
    python benchmarks/bench_fleet.py --engine zscore --config transform=log --main-only --no-reference
    python benchmarks/bench_fleet.py --recommended combined   # PASS/FAIL for zscore and combined

Data: two fleets from :mod:`simulator.cycles` per split, ``--series N`` series
each: 1-minute steps over 3 days (:data:`~simulator.cycles.ONE_MINUTE_3_DAYS`)
and 5-minute steps over 7 days (:data:`~simulator.cycles.FIVE_MINUTES_7_DAYS`).
Series kinds come in turn (clean, spike, level shift, ramp, ten repeated
spikes), so ``N`` series hold ``N/5`` of each. Splits: ``tune`` (fleet seeds
1101 and 1102) is where engine rules and defaults may be chosen; ``holdout``
(seeds 2201 and 2202) is only reported, and the PASS/FAIL verdict reads it.
Both are printed side by side (``--split both``, the default).

Every engine runs with ``EngineRegistry.default().create(name, **config)`` on
each whole series (``detect``); "anomalous" means ``anomaly_label !=
NORMAL``. Definitions (indices are points of the series; spans are half-open):

- **event recall**: an event with onset ``o`` is found when an anomalous window
  holds a point in ``[o, o + 30]`` (both ends included; the window
  ``[s, e)`` has ``s <= o + 30`` and ``e > o``). Events counted: every spike,
  level shift and ramp, and the *first* spike of each repeated-spike train.
- **repeat recall**: the same rule over the 2nd .. last spike of every train.
- **false-alarm episodes on clean series, per series-day**: the anomalous
  windows of the clean series, from their first point, merged into episodes
  (a maximal run of anomalous windows, runs separated by fewer than 30 points
  without an alarm merged into one), divided by (clean series x days); the
  share of those episodes that start on the first day is printed under it
  (a fresh series' warm-up).
- **false alarms on event series, per series-day**: on every series with
  events, the anomalous points outside each event's zone ``[onset, end + 30)``
  (the event, its return to normal and the same 30-point tolerance), merged
  into episodes the same way, divided by (event series x days). An alarm
  that starts inside a zone and runs on past it counts once for the part outside.
  For an engine whose windows hold ``w`` points the zone starts ``w - 1``
  points before the onset: the window that holds the onset is the detection,
  not a false alarm before it (the reference scores points: ``w = 1``).
- **agreement**: over all results of all series, the fraction where
  ``anomaly_label != NORMAL`` equals ``anomaly_score >= 0.5`` (CONTRACT.md's
  one alarm line: 1.0 is required).
- **points/s**: series points / seconds in ``detect`` (informative only: the
  machine is shared).

The reference detector (``reference``, implemented here, not an engine):
for point ``i`` with ``P`` points a day, the expected value is the median of
``x[i - P], x[i - 2P], ...`` (up to 7 previous days) once a day of history
exists, and before that the median of the last 30 minutes of points; the
residual ``x[i] - expected`` is scaled by 1.4826 x the MAD of the previous
day's residuals (at most ``P`` of them, refreshed every half hour), and point
``i`` alarms when ``|residual| / scale >= 5.5``; no alarm in the first 30
minutes. Its settings were chosen on the tune split only. It scores each point
(windows of one point), so its agreement is 1 by construction.

**Weekly rhythm** (informative, not pooled into the figures above or the
targets): a third fleet per split (seeds 1103 and 2203), 5-minute steps over
21 days from a Monday whose weekends (UTC) run at 0.4-0.8 of the weekday
cycle (``CycleFleetConfig.weekend``), events from day 7 on (after one
weekend). Printed: event and repeat recall, clean false-alarm episodes per
series-day from the first point, and from day 7 on (once a weekend has been
seen: the first weekend is news to any detector that learns from history).

**Weekly rhythm from a Friday** (informative): the same fleet starting on a
Friday (seeds 1107 and 2207): its first weekend comes before the cycle has
had a weekday to learn from, as for any series first seen on a Friday.

**Weekly rhythm in local time** (informative): the same fleet with its
weekend in UTC-8 (``weekend_utc_offset_minutes=-480``; seeds 1106 and 2206),
run with each engine's defaults (weekends read in UTC) and, for engines that
take ``utc_offset_minutes``, again with ``-480``.

**After an incident** (informative, not pooled): two more fleets per split
(seeds 1104, 1105 and 2204, 2205), 1-minute over 3 days and 5-minute over 7
days, half ``incident_then_spike`` series (a 2-8 hour level shift of 8-12
sd, then a spike of 8-15 sd 12-30 hours after it ends: is the detector still
sensitive the day after an incident?) and half ``permanent_shift`` series (a
step of 8-12 sd to the end of the series). Printed: recall of the incident,
of the spike after it and of the permanent shift, and the mean hours of
anomalous points after a permanent shift's onset (how long a new normal
keeps alarming: lower is better once it has been reported).

Targets (issue 10), printed PASS/FAIL for ``zscore`` and for ``--recommended``
(default ``zscore``) on each split, the held-out verdict being the one that
counts: event recall >= 0.95, repeat recall >= 0.95, at most 0.2 false-alarm
episodes per series-day on clean series, agreement 1.0.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
for _path in (REPO_ROOT, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _cli import parse_config  # noqa: E402
from _perturb import jittered as jittered_series  # noqa: E402
from _timing import machine_description  # noqa: E402

from backend.analytics import AnomalyType, EngineRegistry, MetricSeries  # noqa: E402
from backend.analytics.evaluation import (  # noqa: E402
    anomalous_spans,
    detected_within,
    events_from_labels,
    merge_spans,
    spans_outside,
)
from simulator.cycles import (  # noqa: E402
    EXTRA_KINDS,
    FIVE_MINUTES_7_DAYS,
    ONE_MINUTE_3_DAYS,
    CycleFleet,
    CycleFleetConfig,
    generate_cycle_fleet,
)

TOLERANCE_POINTS = 30  # onset tolerance, and the tolerance after an event's end
GAP_POINTS = 30  # alarm runs closer than this are one episode
FLEETS: tuple[tuple[str, CycleFleetConfig], ...] = (
    ("1min-3d", ONE_MINUTE_3_DAYS),
    ("5min-7d", FIVE_MINUTES_7_DAYS),
)
SPLITS: dict[str, tuple[int, ...]] = {"tune": (1101, 1102), "holdout": (2201, 2202)}
WEEKLY_LABEL = "5min-21d-weekly"
WEEKLY = replace(FIVE_MINUTES_7_DAYS, days=21.0, weekend=(0.4, 0.8), event_start_days=7.0)
WEEKLY_SEEDS = {"tune": 1103, "holdout": 2203}
WEEKLY_SETTLED_DAYS = 7  # clean false alarms are also counted from here on (after one weekend)
LOCAL_LABEL = "5min-21d-weekly-utc-8"
LOCAL_OFFSET = -480  # the local fleet's weekend follows UTC-8
LOCAL = replace(WEEKLY, weekend_utc_offset_minutes=LOCAL_OFFSET)
LOCAL_SEEDS = {"tune": 1106, "holdout": 2206}
FRIDAY_LABEL = "5min-21d-weekly-from-friday"
FRIDAY = replace(WEEKLY, start=datetime(2024, 1, 5, tzinfo=timezone.utc))  # a Friday
FRIDAY_SEEDS = {"tune": 1107, "holdout": 2207}
AFTER_FLEETS: tuple[tuple[str, CycleFleetConfig], ...] = (
    ("1min-3d-after", replace(ONE_MINUTE_3_DAYS, kinds=EXTRA_KINDS)),
    ("5min-7d-after", replace(FIVE_MINUTES_7_DAYS, kinds=EXTRA_KINDS)),
)
AFTER_SEEDS = {"tune": (1104, 1105), "holdout": (2204, 2205)}
TARGETS = (
    ("event_recall", ">=", 0.95),
    ("repeat_recall", ">=", 0.95),
    ("clean_fa_per_series_day", "<=", 0.2),
    ("agreement", ">=", 1.0),
)
REFERENCE = "reference"


# -- the reference seasonal-residual detector ----------------------------------------------


@dataclass(frozen=True)
class ReferenceDetector:
    """Median of the same time of day on previous days, robust (MAD) residual scale; per point.

    Settings chosen on the tune split only (see the module docstring).
    """

    z_threshold: float = 5.5
    max_days: int = 7
    recent_minutes: float = 30.0

    def alarms(self, series: MetricSeries) -> list[bool]:
        """One alarm flag per point (causal: point ``i`` uses points before it only)."""
        x = series.values.tolist()
        n = len(x)
        if n < 2:
            return [False] * n
        us = series.epoch_us
        step_us = us[1] - us[0]
        per_day = max(1, round(86_400_000_000 / step_us))
        recent = max(3, round(self.recent_minutes * 60_000_000 / step_us))
        refresh = max(1, per_day // 48)
        residuals: list[float] = []
        scale = math.inf
        out = [False] * n
        for i in range(n):
            if i < recent:  # no alarm before 30 minutes of history
                continue
            if i >= per_day:
                past = sorted(x[i - k * per_day] for k in range(1, self.max_days + 1) if i - k * per_day >= 0)
            else:
                past = sorted(x[i - recent : i])
            m = len(past)
            expected = past[m // 2] if m % 2 else 0.5 * (past[m // 2 - 1] + past[m // 2])
            r = x[i] - expected
            if (i - recent) % refresh == 0 and len(residuals) >= recent:
                scale = _mad_scale(residuals[-per_day:], expected)
            out[i] = abs(r) >= self.z_threshold * scale
            residuals.append(r)
        return out


def _mad_scale(values: Sequence[float], level: float) -> float:
    """1.4826 x the median absolute deviation from the median, floored at 1e-12 x |level|."""
    ordered = sorted(values)
    m = len(ordered)
    med = ordered[m // 2] if m % 2 else 0.5 * (ordered[m // 2 - 1] + ordered[m // 2])
    dev = sorted(abs(v - med) for v in ordered)
    mad = dev[m // 2] if m % 2 else 0.5 * (dev[m // 2 - 1] + dev[m // 2])
    return max(1.4826 * mad, 1e-12 * abs(level), 1e-300)


def _alarm_spans(alarms: Sequence[bool]) -> list[tuple[int, int]]:
    """Runs of alarms as half-open ``[start, end)`` spans."""
    return [(first, last + 1) for first, last in events_from_labels(alarms)]


# -- scoring ------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Counts for one detector on one split (or one fleet)."""

    events: int = 0
    found: int = 0
    repeats: int = 0
    repeats_found: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [found, total]
    clean_episodes: int = 0
    clean_episodes_day0: int = 0
    clean_series_days: float = 0.0
    clean_episodes_settled: int = 0
    clean_series_days_settled: float = 0.0
    permanent_shifts: int = 0
    permanent_alarm_hours: float = 0.0
    permanent_runs: int = 0
    event_fa_episodes: int = 0
    event_series_days: float = 0.0
    results: int = 0
    agree: int = 0
    points: int = 0
    seconds: float = 0.0

    def add(self, other: Tally) -> None:
        for f in fields(self):
            if f.name == "by_kind":
                continue
            name = f.name
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for kind, (f, t) in other.by_kind.items():
            mine = self.by_kind.setdefault(kind, [0, 0])
            mine[0] += f
            mine[1] += t

    def figures(self) -> dict[str, Any]:
        def ratio(a: float, b: float) -> float | None:
            return a / b if b else None

        return {
            "event_recall": ratio(self.found, self.events),
            "events": self.events,
            "events_found": self.found,
            "repeat_recall": ratio(self.repeats_found, self.repeats),
            "repeats": self.repeats,
            "repeats_found": self.repeats_found,
            "recall_by_kind": {k: ratio(f, t) for k, (f, t) in sorted(self.by_kind.items())},
            "clean_fa_per_series_day": ratio(self.clean_episodes, self.clean_series_days),
            "clean_fa_episodes": self.clean_episodes,
            "clean_fa_share_day0": ratio(self.clean_episodes_day0, self.clean_episodes),
            "clean_fa_per_series_day_settled": ratio(
                self.clean_episodes_settled, self.clean_series_days_settled
            ),
            "event_series_fa_per_series_day": ratio(self.event_fa_episodes, self.event_series_days),
            "permanent_shift_alarm_hours": ratio(self.permanent_alarm_hours, self.permanent_shifts),
            "permanent_shift_alarm_runs": ratio(self.permanent_runs, self.permanent_shifts),
            "event_series_fa_episodes": self.event_fa_episodes,
            "agreement": ratio(self.agree, self.results),
            "results": self.results,
            "points_per_second": ratio(self.points, self.seconds),
        }


def score_series(
    tally: Tally,
    fleet: CycleFleet,
    index: int,
    spans: list[tuple[int, int]],
    window_points: int = 1,
    settled_days: int | None = None,
) -> None:
    """Add one series' detections (its anomalous spans, from windows of ``window_points``) to ``tally``.

    With ``settled_days``, clean series' episodes that start on that day or
    later are also counted apart, over the days from there on.
    """
    item = fleet.series[index]
    days = fleet.days
    if not item.events:
        per_day = fleet.config.points_per_day
        episodes = merge_spans(spans, gap_points=GAP_POINTS)
        tally.clean_episodes += len(episodes)
        tally.clean_episodes_day0 += sum(1 for start, _ in episodes if start < per_day)
        tally.clean_series_days += days
        if settled_days is not None:
            tally.clean_episodes_settled += sum(1 for start, _ in episodes if start >= settled_days * per_day)
            tally.clean_series_days_settled += days - settled_days
        return
    for e in item.events:
        hit = detected_within(spans, onset=e.onset, tolerance_points=TOLERANCE_POINTS)
        if e.kind == "permanent_shift":  # how long the new normal keeps alarming
            alarmed = sum(max(0, min(b, e.end) - max(a, e.onset)) for a, b in spans)
            tally.permanent_shifts += 1
            tally.permanent_alarm_hours += alarmed * fleet.config.step_seconds / 3600
            # Separate alarms (runs of anomalous points, none merged): what an on-call person is paged.
            tally.permanent_runs += len(
                [1 for a, b in merge_spans(spans, gap_points=0) if b > e.onset and a < e.end]
            )
        if e.kind == "repeated_spike" and e.occurrence > 0:
            tally.repeats += 1
            tally.repeats_found += hit
            kind = "repeated_spike (2nd..)"
        else:
            tally.events += 1
            tally.found += hit
            kind = e.kind if e.kind != "repeated_spike" else "repeated_spike (1st)"
        counts = tally.by_kind.setdefault(kind, [0, 0])
        counts[0] += hit
        counts[1] += 1
    n = len(item.series)
    lead = window_points - 1
    zones = [(max(0, e.onset - lead), min(n, e.end + TOLERANCE_POINTS)) for e in item.events]
    outside = spans_outside(spans, zones)
    tally.event_fa_episodes += len(merge_spans(outside, gap_points=GAP_POINTS))
    tally.event_series_days += days


Outcome = tuple[list[tuple[int, int]], int, int]  # anomalous spans, results, results on the alarm line


def run_detector(
    outcome: Callable[[MetricSeries], Outcome],
    fleet: CycleFleet,
    window_points: int = 1,
    settled_days: int | None = None,
) -> Tally:
    """Run ``outcome`` (one detector, windows of ``window_points``) on every series of ``fleet``."""
    tally = Tally()
    for index, item in enumerate(fleet.series):
        start = time.perf_counter()
        spans, results, agree = outcome(item.series)
        tally.seconds += time.perf_counter() - start
        tally.points += len(item.series)
        tally.results += results
        tally.agree += agree
        score_series(tally, fleet, index, spans, window_points, settled_days)
    return tally


def engine_outcome(engine: Any) -> Callable[[MetricSeries], Outcome]:
    """An engine's ``detect``: anomalous spans, and how many results agree with ``score >= 0.5``."""

    def outcome(series: MetricSeries) -> Outcome:
        results = engine.detect(series)
        agree = sum(
            1 for r in results if (r.anomaly_label is not AnomalyType.NORMAL) == (r.anomaly_score >= 0.5)
        )
        return anomalous_spans(series, results), len(results), agree

    return outcome


def reference_outcome(detector: ReferenceDetector) -> Callable[[MetricSeries], Outcome]:
    """The reference detector: one result per point, each on the alarm line by construction."""

    def outcome(series: MetricSeries) -> Outcome:
        alarms = detector.alarms(series)
        return _alarm_spans(alarms), len(alarms), len(alarms)

    return outcome


# -- command line -------------------------------------------------------------------------------


def builtin_engines(registry: EngineRegistry) -> list[str]:
    """Registered engines whose class lives in ``backend.analytics`` (the built-ins)."""
    return [n for n in registry.names() if registry.get(n).__module__.startswith("backend.analytics.")]


def verdict(figures: dict[str, Any]) -> tuple[bool, list[str]]:
    """PASS/FAIL of each target on one split's figures."""
    ok = True
    lines = []
    for key, op, bound in TARGETS:
        value = figures[key]
        passed = value is not None and (value >= bound if op == ">=" else value <= bound)
        ok &= passed
        shown = "n/a" if value is None else f"{value:.4f}"
        lines.append(f"{key} {shown} {op} {bound}: {'PASS' if passed else 'FAIL'}")
    return ok, lines


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def jittered(fleet: CycleFleet, fraction: float) -> CycleFleet:
    """``fleet`` with each timestamp moved by up to ``fraction`` of its step either way (uniform,
    seeded by the fleet's seed); the values, events and indices are the same."""
    if not fraction:
        return fleet
    rng = random.Random(fleet.seed)
    return replace(
        fleet,
        series=tuple(replace(cs, series=jittered_series(cs.series, fraction, rng)) for cs in fleet.series),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--series", type=int, default=100, help="series per fleet per split (default 100)")
    parser.add_argument("--split", choices=("tune", "holdout", "both"), default="both")
    parser.add_argument("--engine", help="run only this registered engine (with --config)")
    parser.add_argument("--config", action="append", default=[], help="engine keyword, key=value (repeat)")
    parser.add_argument(
        "--recommended", default="zscore", help="engine whose targets are judged besides zscore"
    )
    parser.add_argument("--no-reference", action="store_true", help="skip the reference detector")
    parser.add_argument(
        "--main-only",
        action="store_true",
        help="only the two main fleets (not the weekly and after-incident ones, which hold metrics below 0)",
    )
    parser.add_argument(
        "--jitter",
        type=float,
        default=0.0,
        help="move each timestamp by up to this fraction of a step either way, as agents stamp points "
        "(seeded; default 0: exact steps)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.series < 1:
        parser.error(f"--series must be >= 1, got {args.series}")
    if not 0.0 <= args.jitter < 0.5:
        parser.error(f"--jitter must be in [0, 0.5) (a fraction of a step), got {args.jitter}")
    config = parse_config(args.config)
    if config and not args.engine:
        parser.error("--config needs --engine")

    registry = EngineRegistry.default()
    names = [args.engine] if args.engine else builtin_engines(registry)
    for name in names:
        registry.create(name, **(config if args.engine else {}))  # fail early on a bad name or config
    splits = ["tune", "holdout"] if args.split == "both" else [args.split]
    wall = time.perf_counter()
    print("fleet benchmark: daily-cycle fleets from simulator.cycles")
    print(
        f"date {datetime.now(timezone.utc).isoformat(timespec='seconds')}  python {platform.python_version()}"
        f"  machine {machine_description()}"
    )
    print(
        f"series per fleet per split {args.series}; fleets "
        + ", ".join(f"{label} ({c.n_points} points)" for label, c in FLEETS)
        + "; seeds "
        + ", ".join(f"{s} {SPLITS[s]}" for s in splits)
        + f"; informative: {WEEKLY_LABEL} ({WEEKLY.n_points} points, weekend at {WEEKLY.weekend} of weekdays)"
        + ", seeds "
        + ", ".join(f"{s} {WEEKLY_SEEDS[s]}" for s in splits)
        + f"; informative: {LOCAL_LABEL} (the same, its weekend in UTC-8), seeds "
        + ", ".join(f"{s} {LOCAL_SEEDS[s]}" for s in splits)
        + f"; informative: {FRIDAY_LABEL} (the same, from a Friday), seeds "
        + ", ".join(f"{s} {FRIDAY_SEEDS[s]}" for s in splits)
        + "; informative: "
        + ", ".join(f"{label} ({c.n_points} points, {'/'.join(c.kinds)})" for label, c in AFTER_FLEETS)
        + ", seeds "
        + ", ".join(f"{s} {AFTER_SEEDS[s]}" for s in splits)
    )
    detectors = list(names) + ([] if args.no_reference else [REFERENCE])
    out: dict[str, Any] = {
        "series_per_fleet": args.series,
        "splits": {s: list(SPLITS[s]) for s in splits},
        "tolerance_points": TOLERANCE_POINTS,
        "gap_points": GAP_POINTS,
        "config": config,
        "results": {},
    }
    table: dict[str, dict[str, dict[str, Any]]] = {d: {} for d in detectors}
    if args.jitter:
        print(f"timestamps jittered by up to {args.jitter} of a step either way (uniform, seeded)")
    for split in splits:
        fleets = [
            (label, jittered(generate_cycle_fleet(seed, cfg, n_series=args.series), args.jitter))
            for (label, cfg), seed in zip(FLEETS, SPLITS[split], strict=True)
        ]
        # The informative fleets (weekly, its UTC-8 and from-Friday forms, after an incident): not
        # drawn at all with --main-only.
        informative = (
            None
            if args.main_only
            else (
                generate_cycle_fleet(WEEKLY_SEEDS[split], WEEKLY, n_series=args.series),
                generate_cycle_fleet(LOCAL_SEEDS[split], LOCAL, n_series=args.series),
                generate_cycle_fleet(FRIDAY_SEEDS[split], FRIDAY, n_series=args.series),
                [
                    (label, generate_cycle_fleet(seed, cfg, n_series=args.series))
                    for (label, cfg), seed in zip(AFTER_FLEETS, AFTER_SEEDS[split], strict=True)
                ],
            )
        )
        for det in detectors:

            def run(
                fleet: CycleFleet,
                settled: int | None = None,
                det: str = det,
                extra: dict[str, Any] | None = None,
            ) -> Tally:
                if det == REFERENCE:
                    return run_detector(reference_outcome(ReferenceDetector()), fleet, 1, settled)
                engine = registry.create(det, **(config if args.engine else {}), **(extra or {}))
                window = int(getattr(engine, "window_size_points", 1))
                return run_detector(engine_outcome(engine), fleet, window, settled)

            total = Tally()
            per_fleet: dict[str, Any] = {}
            for label, fleet in fleets:
                tally = run(fleet)
                per_fleet[label] = tally.figures()
                total.add(tally)
            figures = total.figures()
            figures["fleets"] = per_fleet
            if informative is None:
                table[det][split] = figures
                print(f"  done {det:<12} {split:<8} ({total.seconds:.1f} s detecting)", flush=True)
                continue
            weekly, local, friday, after = informative
            weekly_tally = run(weekly, WEEKLY_SETTLED_DAYS)
            figures["weekly"] = weekly_tally.figures()
            total.seconds += weekly_tally.seconds
            friday_tally = run(friday, WEEKLY_SETTLED_DAYS)
            figures["weekly_friday"] = friday_tally.figures()
            total.seconds += friday_tally.seconds
            local_tally = run(local, WEEKLY_SETTLED_DAYS)
            figures["weekly_local"] = local_tally.figures()
            total.seconds += local_tally.seconds
            if det != REFERENCE and "utc_offset_minutes" in inspect.signature(registry.get(det)).parameters:
                told = run(local, WEEKLY_SETTLED_DAYS, extra={"utc_offset_minutes": LOCAL_OFFSET})
                figures["weekly_local_told"] = told.figures()
                total.seconds += told.seconds
            after_total = Tally()
            for _label, fleet in after:
                after_total.add(run(fleet))
            figures["after_incident"] = after_total.figures()
            total.seconds += after_total.seconds
            table[det][split] = figures
            print(f"  done {det:<12} {split:<8} ({total.seconds:.1f} s detecting)", flush=True)
    out["results"] = table

    rows = (
        ("event recall", "event_recall", 3),
        ("repeat recall", "repeat_recall", 3),
        ("FA episodes / series-day, clean", "clean_fa_per_series_day", 3),
        ("  share of them starting on day 0", "clean_fa_share_day0", 3),
        ("FA episodes / series-day, event series", "event_series_fa_per_series_day", 3),
        ("agreement label vs score>=0.5", "agreement", 4),
        ("points/s (informative)", "points_per_second", 0),
    )
    for det in detectors:
        shown = json.dumps(config, sort_keys=True) if args.engine and det != REFERENCE else "(defaults)"
        print(f"\n== {det} {shown}")
        print(f"  {'':40}" + "".join(f"{s:>12}" for s in splits))
        for title, key, digits in rows:
            print(f"  {title:40}" + "".join(f"{_fmt(table[det][s][key], digits):>12}" for s in splits))
        kinds = sorted({k for s in splits for k in table[det][s]["recall_by_kind"]})
        for kind in kinds:
            cells = "".join(f"{_fmt(table[det][s]['recall_by_kind'].get(kind)):>12}" for s in splits)
            print(f"  {'  recall ' + kind:40}" + cells)
        for label, _ in FLEETS:
            for title, key, _digits in rows[:3]:
                cells = "".join(f"{_fmt(table[det][s]['fleets'][label][key]):>12}" for s in splits)
                print(f"  {'  ' + label + ': ' + title:40}" + cells)
        if args.main_only:
            continue
        weekly_rows = (
            *rows[:3],
            (
                f"FA episodes / series-day, clean, day {WEEKLY_SETTLED_DAYS}+",
                "clean_fa_per_series_day_settled",
                3,
            ),
        )
        for name, label in (("weekly", WEEKLY_LABEL), ("weekly_friday", FRIDAY_LABEL)):
            for title, key, _digits in weekly_rows:
                cells = "".join(f"{_fmt(table[det][s][name][key]):>12}" for s in splits)
                print(f"  {'  ' + label + ': ' + title:40}" + cells)
        for key, label in (
            ("weekly_local", f"{LOCAL_LABEL}, read in UTC"),
            ("weekly_local_told", f"{LOCAL_LABEL}, utc_offset_minutes={LOCAL_OFFSET}"),
        ):
            if all(key in table[det][s] for s in splits):
                for title, field_name, _digits in (rows[0], rows[1], weekly_rows[-1]):
                    cells = "".join(f"{_fmt(table[det][s][key][field_name]):>12}" for s in splits)
                    print(f"  {'  ' + label + ': ' + title:40}" + cells)
        for title, kind in (
            ("incident (level shift) recall", "level_shift"),
            ("spike 12-30 h after it: recall", "spike_after_incident"),
            ("permanent shift: recall", "permanent_shift"),
        ):
            cells = "".join(
                f"{_fmt(table[det][s]['after_incident']['recall_by_kind'].get(kind)):>12}" for s in splits
            )
            print(f"  {'  after-incident: ' + title:40}" + cells)
        cells = "".join(
            f"{_fmt(table[det][s]['after_incident']['permanent_shift_alarm_hours'], 1):>12}" for s in splits
        )
        print(f"  {'  after-incident: permanent shift, alarm h':40}" + cells)
        cells = "".join(
            f"{_fmt(table[det][s]['after_incident']['permanent_shift_alarm_runs'], 1):>12}" for s in splits
        )
        print(f"  {'  after-incident: permanent shift, alarm runs':40}" + cells)

    judged = [d for d in dict.fromkeys(["zscore", args.recommended]) if d in table]
    out["verdicts"] = {}
    print("\nTargets (issue 10): the held-out split is the verdict; the tune split is shown for reference")
    for det in judged:
        for split in splits:
            ok, lines = verdict(table[det][split])
            out["verdicts"].setdefault(det, {})[split] = ok
            print(f"  {det} [{split}]: {'PASS' if ok else 'FAIL'}  (" + "; ".join(lines) + ")")
    seconds = time.perf_counter() - wall
    out["wall_seconds"] = seconds
    print(f"\nwall {seconds:.1f} s")
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
