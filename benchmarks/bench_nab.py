"""NAB benchmark: run a registered engine over a NAB corpus and score it NAB style.

Usage (from the repository root)::

    python benchmarks/bench_nab.py --engine zscore
    python benchmarks/bench_nab.py --engine zscore --config window_size_points=30 --config stride_points=1
    python benchmarks/bench_nab.py --engine zscore --subset design        # tune on these ...
    python benchmarks/bench_nab.py --engine zscore --subset holdout       # ... report these too
    python benchmarks/bench_nab.py --engine zscore --files 'realKnownCause/*' --files 'realTweets/*'
    python benchmarks/bench_nab.py --published-results /path/to/NAB/results --detector numenta

Each file is loaded with ``on_bad_timestamps="repair"`` (the repairs are
listed), the engine's window results become causal per-point scores
(:func:`backend.analytics.evaluation.point_scores_from_results`), mapped back to
NAB's original rows and scored with NAB's rules; the threshold of each profile
is optimised over the files scored. Printed: the three profile scores, the
chosen thresholds, per-category scores, wall time and points per second of the
engine (``detect`` only; loading and scoring are timed apart).

``--subset design|holdout`` scores the fixed, category-stratified split of
:meth:`NABCorpus.split` (every third file of each category, in name order, is
held out). When the whole corpus is run, the split is also reported, including
the held-out files scored at the threshold chosen on the design files.

``--published-results DIR --detector NAME`` scores NAB's own result files
(``DIR/NAME/<category>/NAME_<file>.csv``, column ``anomaly_score``) instead of
running an engine: it reproduces the published figures in ANCHORS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from backend.analytics import EngineRegistry  # noqa: E402
from backend.analytics.evaluation import (  # noqa: E402
    NABCorpus,
    NABFileLabels,
    ProfileResult,
    evaluate_engine,
    load_nab_corpus,
    score_corpus,
)

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "nab"
PROFILE_ORDER = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")


def parse_config(pairs: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs; values parsed as JSON when they can be (3, 0.5, true), else strings."""
    config: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--config expects key=value, got {pair!r}")
        try:
            config[key] = json.loads(raw)
        except json.JSONDecodeError:
            config[key] = raw
    return config


def published_scores(
    corpus: NABCorpus, results_dir: Path, detector: str
) -> list[tuple[NABFileLabels, Sequence[float]]]:
    """Read NAB's own result files for ``detector`` (one anomaly_score per original row)."""
    items: list[tuple[NABFileLabels, Sequence[float]]] = []
    for f in corpus:
        category, file_name = f.name.split("/", 1)
        path = results_dir / detector / category / f"{detector}_{file_name}"
        with open(path, newline="", encoding="utf-8") as handle:
            scores = [float(row["anomaly_score"]) for row in csv.DictReader(handle)]
        items.append((f.labels, scores))
    return items


def machine_description() -> str:
    """CPU model (from /proc/cpuinfo where available), architecture and core count."""
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model or 'unknown CPU'} ({platform.machine()}, {os.cpu_count()} cpus, {platform.system()})"


def reference_rate(corpus: NABCorpus) -> float:
    """Points/s of a minimal pure-Python streaming loop (an EWMA) over the same points.

    Measured in the same run as the engine, it calibrates points/s figures
    across machines and load: an engine's rate divided by this one is roughly
    machine independent.
    """
    start = time.perf_counter()
    points = 0
    for f in corpus:
        mean = 0.0
        for x in f.series.values.tolist():
            mean += 0.01 * (x - mean)
        points += len(f.series)
    seconds = time.perf_counter() - start
    return points / seconds if seconds > 0 else float("inf")


def fmt(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:7.2f}"


def report(title: str, results: dict[str, ProfileResult], *, categories: bool) -> dict[str, Any]:
    """Print one block of results; return it as a JSON-safe dict."""
    print(f"\n== {title} ({len(results['standard'].files)} files)")
    print(f"{'profile':<20} {'score':>7} {'raw':>9} {'threshold':>12} {'found':>6} {'missed':>6} {'FP':>5}")
    out: dict[str, Any] = {}
    for name in PROFILE_ORDER:
        r = results[name]
        total = r.total
        print(
            f"{name:<20} {fmt(total.normalised)} {total.score:9.3f} {r.threshold:12.6g} "
            f"{total.windows_detected:6d} {total.windows_missed:6d} {total.fp:5d}"
        )
        out[name] = {"normalised": total.normalised, "raw": total.score, "threshold": r.threshold}
    if categories:
        print(f"{'category (standard / low_FP / low_FN)':<40} {'std':>7} {'lowFP':>7} {'lowFN':>7} {'FP':>5}")
        groups = {name: results[name].by_group(lambda n: n.split("/")[0]) for name in PROFILE_ORDER}
        out["categories"] = {}
        for category, g in groups["standard"].items():
            row = [groups[p][category].normalised for p in PROFILE_ORDER]
            print(f"{category:<40} {fmt(row[0])} {fmt(row[1])} {fmt(row[2])} {g.fp:5d}")
            out["categories"][category] = dict(zip(PROFILE_ORDER, row, strict=True))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--engine", help="registered engine name (EngineRegistry.default())")
    source.add_argument("--published-results", type=Path, help="NAB results/ folder (with --detector)")
    parser.add_argument("--detector", help="detector folder under --published-results")
    parser.add_argument("--config", action="append", default=[], help="engine keyword, key=value (repeat)")
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help=f"NAB corpus root (default {DEFAULT_DATA})"
    )
    parser.add_argument(
        "--files", action="append", default=None, help="fnmatch pattern over category/file.csv"
    )
    parser.add_argument("--files-from", type=Path, help="text file with one pattern per line")
    parser.add_argument("--subset", choices=("all", "design", "holdout"), default="all")
    parser.add_argument("--between", choices=("zero", "hold"), default="zero", help="window-to-point rule")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--verbose", action="store_true", help="list every repaired row")
    parser.add_argument("--per-file", action="store_true", help="print each file's standard-profile result")
    args = parser.parse_args(argv)
    if args.published_results is not None and not args.detector:
        parser.error("--published-results needs --detector")

    logging.basicConfig(level=logging.ERROR)  # repairs are listed below, not logged twice
    patterns = list(args.files or [])
    if args.files_from is not None:
        lines = args.files_from.read_text(encoding="utf-8").splitlines()
        patterns += [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]

    wall_start = time.perf_counter()
    load_start = time.perf_counter()
    corpus = load_nab_corpus(args.data, on_bad_timestamps="repair", files=patterns or None)
    design, holdout = corpus.split()
    if args.subset == "design":
        corpus = design
    elif args.subset == "holdout":
        corpus = holdout
    load_seconds = time.perf_counter() - load_start

    detect_seconds = None
    config = parse_config(args.config)
    if args.engine is not None:
        engine = EngineRegistry.default().create(args.engine, **config)
        run = evaluate_engine(corpus, engine, between=args.between, profiles={})
        items: list[tuple[NABFileLabels, Sequence[float]]] = list(run.items)
        detect_seconds = run.detect_seconds
        label = f"engine {args.engine} {json.dumps(config, sort_keys=True)}"
        if not engine.causal:
            # NAB assumes online detection; an in-sample engine's scores have seen later points.
            label += " (NOT causal: scores see later points, so NAB's online premise does not hold)"
    else:
        items = published_scores(corpus, args.published_results, args.detector)
        label = f"published NAB results of {args.detector}"

    score_start = time.perf_counter()
    results = score_corpus(items)
    score_seconds = time.perf_counter() - score_start

    points = sum(len(f.series) for f in corpus)
    print(f"NAB benchmark: {label}")
    print(f"corpus {args.data} subset={args.subset} files={len(corpus)} rows={corpus.n_rows} points={points}")
    print(
        f"date {datetime.now(timezone.utc).isoformat(timespec='seconds')}"
        f"  python {platform.python_version()}"
        f"  machine {machine_description()}"
    )
    for f in corpus:
        if f.repairs:
            rows = [r.row for r in f.repairs]
            kinds = sorted({r.action for r in f.repairs})
            print(f"  repaired {f.name}: {len(rows)} rows ({', '.join(kinds)}), rows {rows[0]}..{rows[-1]}")
    if args.verbose:
        for repair in corpus.repairs:
            print(f"    {repair}")
    summary: dict[str, Any] = {"label": label, "subset": args.subset, "files": [f.name for f in corpus]}
    summary["results"] = report("NAB scores, threshold optimised over these files", results, categories=True)

    if args.subset == "all" and not patterns:
        names = {f.name for f in design}
        design_items = [it for it in items if it[0].name in names]
        hold_items = [it for it in items if it[0].name not in names]
        design_res = score_corpus(design_items)
        hold_res = score_corpus(hold_items)
        fixed = {p: design_res[p].threshold for p in PROFILE_ORDER}
        hold_fixed = score_corpus(hold_items, thresholds=fixed)
        summary["design"] = report("design files, own threshold", design_res, categories=False)
        summary["holdout"] = report("held-out files, own threshold", hold_res, categories=False)
        summary["holdout_at_design_threshold"] = report(
            "held-out files at the design files' threshold", hold_fixed, categories=False
        )
        print("held out: " + ", ".join(f.name for f in holdout))

    if args.per_file:
        print("\nper file (standard):")
        for fs in results["standard"].files:
            windows = fs.windows_detected + fs.windows_missed
            print(f"  {fs.name:<60} raw {fs.score:8.3f} found {fs.windows_detected}/{windows} FP {fs.fp}")

    wall = time.perf_counter() - wall_start
    print(f"\nload {load_seconds:.2f} s, scoring {score_seconds:.2f} s, wall {wall:.2f} s")
    if detect_seconds is not None:
        rate = points / detect_seconds if detect_seconds > 0 else float("inf")
        print(f"engine detect {detect_seconds:.2f} s for {points} points: {rate:,.0f} points/s")
        reference = reference_rate(corpus)
        print(
            f"reference: pure-Python EWMA loop {reference:,.0f} points/s "
            f"(engine = {rate / reference:.3f} x reference)"
        )
        summary["detect_seconds"] = detect_seconds
        summary["points_per_second"] = rate
        summary["reference_points_per_second"] = reference
    summary["wall_seconds"] = wall
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
