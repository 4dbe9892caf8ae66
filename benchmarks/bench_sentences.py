"""How far from their baseline the sentences of anomalous windows say they are, on the demo's fleet.

A sentence of an anomalous window states the departure in standard deviations
("rose to 13.38 and stayed there, 212 sd above its baseline of 0.5405"). A
window the engine found anomalous but whose sentence says it is within a
couple of sd of its baseline reads to a person on call as a contradiction.
This script runs ``python -m simulator demo``'s pipeline (default fleet, the
engine's defaults) for each seed, and counts the anomalous windows' sentences
by the distance they state (below 3 sd, at least 3 sd, or none stated),
separately for the first window of an episode (a run of consecutive anomalous
windows) and for its later windows, whose history already holds the anomaly.
It also counts the labels of every anomalous window over an injected anomaly
(from its start to an hour after its end, where an engine's alarm may still
hold), by the label the anomaly should get: an episode's later windows keep
or change its label, and the demo's own label figure reads one window each;
and the SEASONAL windows whose sentence names a shift of the cycle ("running
about 6 hours early"), by whether they are over an injected phase shift and
name it within 1.5 hours.

Usage::

    python benchmarks/bench_sentences.py                 # seeds 0-3, zscore
    python benchmarks/bench_sentences.py --seeds 4-11 --engine combined
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, Path(__file__).resolve().parent):  # the repository, and benchmarks/ when imported
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _cli import parse_seeds  # noqa: E402 - benchmarks/ is on sys.path (above)

from backend.analytics import AnomalyResult  # noqa: E402
from simulator.anomalies import GroundTruth  # noqa: E402
from simulator.config import FleetConfig  # noqa: E402
from simulator.demo import run_demo  # noqa: E402

_SD = re.compile(r"(\d+(?:\.\d+)?(?:e[+-]?\d+)?) sd (?:above|below)")
NEAR = 3.0  # a stated distance below this many sd counts as "near"
TAIL = timedelta(hours=1)  # after an injected anomaly's end, windows still counted as its own


def sentence_tally(results: Iterable[AnomalyResult]) -> Counter[tuple[str, str]]:
    """``(first|later, near|far|none)`` counts over the anomalous windows of ``results``.

    A window is *later* when the previous window of its series (in time) is
    anomalous and ends before it starts (windows do not overlap here) within
    one window length (one step between window starts, for one-point
    windows); *near* when its sentence states fewer than :data:`NEAR` sd,
    *far* when at least that, *none* when it states no sd.
    """
    tally: Counter[tuple[str, str]] = Counter()
    by_series: dict[tuple[str, str, str, str], list[AnomalyResult]] = {}
    for r in results:
        by_series.setdefault((r.tenant_id, r.cluster_id, r.node_id, r.metric_name), []).append(r)
    for rows in by_series.values():
        rows.sort(key=lambda r: r.window_start)
        # (One-point windows have no width: the step between window starts tells adjacent ones.)
        steps = [b.window_start - a.window_start for a, b in pairwise(rows)]
        step = min((d for d in steps if d), default=timedelta(0))
        previous: AnomalyResult | None = None
        for r in rows:
            if r.is_anomalous:
                width = max(r.window_end - r.window_start, step)
                later = (
                    previous is not None
                    and previous.is_anomalous
                    and r.window_start - previous.window_end <= width
                )
                found = _SD.search(r.explanation or "")
                distance = "none" if found is None else "near" if float(found.group(1)) < NEAR else "far"
                tally["later" if later else "first", distance] += 1
            previous = r
    return tally


def _over(r: AnomalyResult, g: GroundTruth) -> bool:
    """Whether window ``r`` counts for anomaly ``g`` of its series: it ends at or after ``g``'s start
    and starts before :data:`TAIL` after its end."""
    return r.window_end >= g.start and r.window_start < g.end + TAIL


def label_tally(results: Iterable[AnomalyResult], truth: Iterable[GroundTruth]) -> Counter[tuple[str, str]]:
    """``(expected label, given label)`` counts over the anomalous windows over each injected anomaly.

    A window counts for an anomaly of its series as :func:`_over` says (once
    per anomaly it overlaps).
    """
    by_series: dict[tuple[str, str, str, str], list[AnomalyResult]] = {}
    for r in results:
        if r.is_anomalous:
            by_series.setdefault((r.tenant_id, r.cluster_id, r.node_id, r.metric_name), []).append(r)
    tally: Counter[tuple[str, str]] = Counter()
    for g in truth:
        for r in by_series.get(g.series_key, ()):
            if _over(r, g):
                tally[g.expected_label, r.anomaly_label.value] += 1
    return tally


_SHIFT = re.compile(r"running about (?:(\d+(?:\.\d+)?) hours?)? ?(?:(\d+) minutes)? (early|late)")
RIGHT_HOURS = 1.5  # a named shift within this many hours of the injected one counts as right


def shift_tally(results: Iterable[AnomalyResult], truth: Iterable[GroundTruth]) -> Counter[str]:
    """How the SEASONAL windows whose sentence names a shift of the cycle ("running about 6 hours
    early") match the injected anomalies they overlap (as :func:`label_tally` matches them).

    Keys: ``"seasonal windows"`` (all anomalous SEASONAL windows), ``"named"``
    (those naming a shift), ``"phase_shift right"`` / ``"phase_shift wrong"``
    (over an injected phase shift, the simulator's day running *early* by its
    ``magnitude`` hours: named early and within :data:`RIGHT_HOURS` of it, or
    not), and ``"on <kind>"`` for a name over any other kind or over none.
    """
    by_series: dict[tuple[str, str, str, str], list[GroundTruth]] = {}
    for g in truth:
        by_series.setdefault(g.series_key, []).append(g)
    tally: Counter[str] = Counter()
    for r in results:
        if not r.is_anomalous or r.anomaly_label.value != "seasonal":
            continue
        tally["seasonal windows"] += 1
        named = _SHIFT.search(r.explanation or "")
        if named is None:
            continue
        tally["named"] += 1
        hours = float(named.group(1) or 0.0) + float(named.group(2) or 0.0) / 60.0
        said = hours if named.group(3) == "late" else -hours
        near = by_series.get((r.tenant_id, r.cluster_id, r.node_id, r.metric_name), [])
        over = [g for g in near if _over(r, g)]
        if over and over[0].kind == "phase_shift":
            right = abs(said + over[0].magnitude) <= RIGHT_HOURS
            tally["phase_shift right" if right else "phase_shift wrong"] += 1
        else:
            tally["on " + (over[0].kind if over else "no injected anomaly")] += 1
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-3", help="seeds, e.g. 4-11 or 0,3,5 (default 0-3)")
    parser.add_argument("--engine", default="zscore", help="a registered engine (default zscore)")
    args = parser.parse_args(argv)
    total: Counter[tuple[str, str]] = Counter()
    labels: Counter[tuple[str, str]] = Counter()
    shifts: Counter[str] = Counter()
    for seed in parse_seeds(args.seeds):
        demo = run_demo(FleetConfig(seed=seed), engine=args.engine)
        tally = sentence_tally(demo.results)
        total.update(tally)
        labels.update(label_tally(demo.results, demo.fleet.ground_truth))
        shifts.update(shift_tally(demo.results, demo.fleet.ground_truth))
        print(f"seed {seed}: " + ", ".join(f"{a} {b} {n}" for (a, b), n in sorted(tally.items())))
    for part in ("first", "later"):
        n = sum(v for (a, _), v in total.items() if a == part)
        near = total[part, "near"]
        print(f"{part} windows of an episode: {n}, stating < {NEAR:g} sd: {near} ({near / max(n, 1):.1%})")
    n = sum(total.values())
    near = total["first", "near"] + total["later", "near"]
    print(f"all anomalous windows: {n}, stating < {NEAR:g} sd: {near} ({near / max(n, 1):.1%})")
    for expected in sorted({e for e, _ in labels}):
        got = {g: v for (e, g), v in sorted(labels.items()) if e == expected}
        print(
            f"windows over injected {expected} anomalies (to {TAIL} after): {sum(got.values())}, labelled "
            + ", ".join(f"{g} {v}" for g, v in got.items())
        )
    others = {k: v for k, v in sorted(shifts.items()) if k.startswith("on ")}
    print(
        f"seasonal windows: {shifts['seasonal windows']}, naming a shift of the cycle: {shifts['named']}; "
        f"over injected phase shifts {shifts['phase_shift right'] + shifts['phase_shift wrong']} (within "
        f"{RIGHT_HOURS:g} h and the right way: {shifts['phase_shift right']}), over anything else "
        + (", ".join(f"{k[3:]} {v}" for k, v in others.items()) or "none")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
