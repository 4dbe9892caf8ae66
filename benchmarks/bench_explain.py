"""Accuracy and speed of the explanation classifier on generated labeled series.

Accuracy: the confusion matrix of ``ExplanationClassifier.classify`` on a
balanced set from :mod:`simulator.labeled` (default seeds 5000-5004, which the
classifier was never tuned on; it was tuned on seeds 0-9), with overall
accuracy, per-class recall, and the accuracy per period group (none, up to
168 points, 169-335, and the 288-point daily cycle at 5 minutes and 336).

Speed: the CPU time of one ``classify`` call on the full default history
(2048 points) and a 32-point window, on histories with a cycle of 24, 168,
288 and 336 points and on flat noise, next to a reference measured in the same
run: one ``statistics.fmean`` + ``statistics.pstdev`` over the same points
(the cost of the simplest possible z-score baseline). Then the scaling of
period detection with the history length (512 .. 8192 points, period 288,
``history_points`` set to the length): the ratio to the same reference stays
about flat when the cost is linear in the length (a quadratic ACF over every
lag would double the ratio with every doubling).

Run from the repository root::

    python benchmarks/bench_explain.py                  # seeds 5000-5004, 200 cases per kind each
    python benchmarks/bench_explain.py --seeds 0-9 --per-kind 100 --errors 20
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.analytics import AnomalyType, ExplanationClassifier, MetricSeries, TimeWindow
from simulator.labeled import KINDS, generate_cases


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def _group(period: int | None) -> str:
    if period is None:
        return "no period"
    if period in (288, 336):
        return f"period {period}"
    return "period <= 168" if period <= 168 else "period 169-335"


def accuracy(seeds: list[int], per_kind: int, show_errors: int) -> tuple[float, dict[AnomalyType, float]]:
    """Print the confusion matrix; return overall accuracy and recall per class."""
    clf = ExplanationClassifier()
    confusion: Counter[tuple[AnomalyType, AnomalyType]] = Counter()
    groups: Counter[tuple[str, bool]] = Counter()
    errors: list[str] = []
    for seed in seeds:
        for case in generate_cases(seed, per_kind):
            got = clf.classify(case.series, case.window)
            confusion[case.kind, got] += 1
            groups[_group(case.period), got is case.kind] += 1
            if got is not case.kind and len(errors) < show_errors:
                errors.append(
                    f"  seed {seed}: true {case.kind.value:8} got {got.value:8} variant={case.variant} "
                    f"period={case.period} hist={case.window.start_index} win={len(case.window)}"
                )
    total = sum(confusion.values())
    correct = sum(confusion[k, k] for k in KINDS)
    names = [k.value for k in KINDS]
    print(f"confusion matrix (rows: true kind, columns: classified as), seeds {seeds[0]}..{seeds[-1]}:")
    print("  " + f"{'':10}" + "".join(f"{n:>10}" for n in names) + f"{'recall':>10}")
    recall: dict[AnomalyType, float] = {}
    for k in KINDS:
        row = [confusion[k, g] for g in KINDS]
        recall[k] = confusion[k, k] / max(1, sum(row))
        print("  " + f"{k.value:10}" + "".join(f"{c:>10}" for c in row) + f"{recall[k]:>10.1%}")
    overall = correct / max(1, total)
    print(f"overall accuracy: {overall:.2%} ({correct}/{total})")
    for name in ("no period", "period <= 168", "period 169-335", "period 288", "period 336"):
        ok, bad = groups[name, True], groups[name, False]
        if ok + bad:
            print(f"  {name:15}: {ok / (ok + bad):.2%} of {ok + bad} cases")
    if errors:
        print("first misclassified cases:")
        print("\n".join(errors))
    return overall, recall


def _series(values: list[float]) -> MetricSeries:
    us = [1_704_067_200_000_000 + i * 3_600_000_000 for i in range(len(values))]
    return MetricSeries.from_arrays("t", "c", "n", "m", us, values)


def _cpu_ms(call: Callable[[], object], repeats: int) -> float:
    """Median CPU time of one call in ms (CPU time: robust to other processes on a shared machine)."""
    samples = []
    for _ in range(repeats):
        t = time.process_time()
        for _ in range(5):
            call()
        samples.append((time.process_time() - t) / 5)
    return statistics.median(samples) * 1e3


def _reference(hist: list[float]) -> tuple[float, float]:
    return statistics.fmean(hist), statistics.pstdev(hist)


def speed(repeats: int) -> None:
    """Print the median CPU time of one classify call (2048 + 32 points) next to the reference."""
    rng = random.Random(7)
    clf = ExplanationClassifier()
    n, w = clf.history_points, 32
    shapes = {
        "cycle of 24": [50 + 20 * math.sin(2 * math.pi * i / 24) + rng.gauss(0, 2) for i in range(n + w)],
        "cycle of 168": [50 + 20 * math.sin(2 * math.pi * i / 168) + rng.gauss(0, 2) for i in range(n + w)],
        "cycle of 288": [50 + 20 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 2) for i in range(n + w)],
        "cycle of 336": [50 + 20 * math.sin(2 * math.pi * i / 336) + rng.gauss(0, 2) for i in range(n + w)],
        "flat noise": [50 + rng.gauss(0, 2) for _ in range(n + w)],
    }
    for name, values in shapes.items():
        s = _series(values)
        win = TimeWindow(n, n + w, s.timestamps[n], s.timestamps[n + w - 1])
        hist = values[:n]
        ours = _cpu_ms(partial(clf.classify, s, win), repeats)
        ref = _cpu_ms(partial(_reference, hist), repeats)
        print(
            f"classify, {name:12}, history {n}, window {w}: {ours:.2f} ms CPU per call "
            f"(reference, statistics.fmean + pstdev of the {n} points: {ref:.2f} ms; "
            f"ratio {ours / ref:.1f})"
        )
    print("scaling with the history length (period 288, history_points = length):")
    for length in (512, 1024, 2048, 4096, 8192):
        values = [50 + 20 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 2) for i in range(length + w)]
        s = _series(values)
        win = TimeWindow(length, length + w, s.timestamps[length], s.timestamps[length + w - 1])
        big = ExplanationClassifier(history_points=length)
        ours = _cpu_ms(partial(big.classify, s, win), max(5, repeats // 4))
        ref = _cpu_ms(partial(_reference, values[:length]), max(5, repeats // 4))
        print(
            f"  history {length:5}: {ours:6.2f} ms CPU per call, reference {ref:5.2f} ms, "
            f"ratio {ours / ref:.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="5000-5004", help="seeds, e.g. 5000-5004 or 0,3,5")
    parser.add_argument("--per-kind", type=int, default=200, help="cases per kind per seed")
    parser.add_argument("--errors", type=int, default=0, help="list this many misclassified cases")
    parser.add_argument("--repeats", type=int, default=60, help="timing samples (5 calls each)")
    parser.add_argument("--no-speed", action="store_true")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; "
        f"date {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
    )
    t = time.perf_counter()
    accuracy(_seeds(args.seeds), args.per_kind, args.errors)
    print(f"(accuracy run took {time.perf_counter() - t:.1f} s)")
    if not args.no_speed:
        speed(args.repeats)


if __name__ == "__main__":
    main()
