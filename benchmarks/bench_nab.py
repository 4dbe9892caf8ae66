"""NAB benchmark: run a registered engine over a NAB corpus and score it NAB style.

Usage (from the repository root)::

    python benchmarks/bench_nab.py --engine zscore
    python benchmarks/bench_nab.py --engine zscore --config window_size_points=30 --config stride_points=1
    python benchmarks/bench_nab.py --engine zscore --subset design        # tune on these ...
    python benchmarks/bench_nab.py --engine zscore --subset holdout       # ... report these too
    python benchmarks/bench_nab.py --engine zscore --files 'realKnownCause/*' --files 'realTweets/*'
    python benchmarks/bench_nab.py --published-results /path/to/NAB/results --detector numenta
    python benchmarks/bench_nab.py --loco --engine combined --config classify=false \
        --grid contextual_weight=0.9,1.1,1.3 --grid shape_weight=0.6,0.85 --preset nov:engine=novelty
    python benchmarks/bench_nab.py --make-published-table /work/nab-results/results   # -> nab_published.json

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

``--loco`` scores leave-one-category-out (issue 10): the candidates are the
engine's defaults (with any ``--config``), the cartesian product of every
``--grid key=v1,v2,...`` and every ``--preset NAME:key=v,key=v`` (the key
``engine`` switches the engine). For each of NAB's six categories ``c`` and
each profile, the candidate AND the profile's threshold are chosen on the
other five categories (NAB's threshold optimisation over their files, the
candidate with the highest raw score there; ties to the earlier candidate,
``defaults`` first), then ``c``'s files are scored with them
(:func:`backend.analytics.evaluation.leave_one_group_out`). The held-out total
sums the raw, null and perfect scores of all 41 files, each file scored by its
category's held-out choice, and normalises the sum NAB style:
``100 * (S - S_null) / (S_perfect - S_null)``. Printed beside it: the
defaults with thresholds chosen the same way (held out), the defaults with the
threshold optimised on all 41 files (the usual, in-sample figure), and the
published detectors per category (from ``benchmarks/nab_published.json``).
Per-file scores are cached per (engine, configuration) under ``--cache-dir``
(see ``benchmarks/_nab_loco.py``), so a grid costs one engine run per new
configuration. Targets printed PASS/FAIL: held-out total standard >= 76.73
(ARTime), held-out low-FP total above every published detector's, defaults
standard >= 78 on the 41 files.

``--make-published-table DIR`` scores every detector of NAB's ``results/``
folder (``DIR``) per category, in-sample and leave-one-category-out, checks
the totals against ANCHORS.md, and writes ``--write-published``
(default ``benchmarks/nab_published.json``).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
for _path in (REPO_ROOT, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _cli import parse_config  # noqa: E402
from _nab_loco import (  # noqa: E402
    PROFILE_ORDER,
    ScoreCache,
    build_candidates,
    candidate_items,
    category,
    compact_json,
    in_sample_table,
    loco_table,
    published_scores,
    published_table,
    read_anchors,
    rounded,
)
from _timing import machine_description  # noqa: E402

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
DEFAULT_CACHE = REPO_ROOT / ".cache" / "nab-scores"
PUBLISHED_TABLE = REPO_ROOT / "benchmarks" / "nab_published.json"
TARGET_LOCO_STANDARD = 76.73  # ARTime on these 41 files (ANCHORS.md)
TARGET_DEFAULT_STANDARD = 78.0
SHORT = {"standard": "std", "reward_low_FP_rate": "lowFP", "reward_low_FN_rate": "lowFN"}


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
        groups = {name: results[name].by_group(category) for name in PROFILE_ORDER}
        out["categories"] = {}
        for cat, g in groups["standard"].items():
            row = [groups[p][cat].normalised for p in PROFILE_ORDER]
            print(f"{cat:<40} {fmt(row[0])} {fmt(row[1])} {fmt(row[2])} {g.fp:5d}")
            out["categories"][cat] = dict(zip(PROFILE_ORDER, row, strict=True))
    return out


def _cell(group: dict[str, Any]) -> str:
    """A category's normalised score, or its raw score and false positives where it has no window."""
    if group["normalised"] is not None:
        return f"{group['normalised']:7.2f}"
    return f"raw {group['raw']:.2f}, FP {group['fp']}"


def load_published(path: Path) -> dict[str, Any] | None:
    """The committed per-category table of the published detectors, or ``None`` if absent."""
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def print_published(published: dict[str, Any], profile: str, categories: list[str]) -> None:
    """One profile's published per-category table: threshold over the 41 files, and held out."""
    detectors = published["detectors"]
    order = sorted(detectors, key=lambda d: -detectors[d]["in_sample"][profile]["total"]["normalised"])
    print(f"\npublished detectors, {profile} (per category; total with the 41-file threshold | total with")
    print("  thresholds chosen leave-one-category-out); from " + published["source"])
    short = [c.replace("artificial", "art").replace("real", "") for c in categories]
    print(f"  {'detector':<18}" + "".join(f"{c[:15]:>17}" for c in short) + f"{'total':>9}{'LOCO thr':>10}")
    for det in order:
        table = detectors[det]["in_sample"][profile]
        cells = "".join(f"{_cell(table['categories'][c]):>17}" for c in categories)
        loco_total = detectors[det]["loco_threshold"][profile]["total"]["normalised"]
        print(f"  {det:<18}{cells}{table['total']['normalised']:9.2f}{loco_total:10.2f}")


def run_loco(args: argparse.Namespace, corpus: NABCorpus, config: dict[str, Any]) -> int:
    """``--loco``: leave-one-category-out choice of configuration and thresholds (module docstring)."""
    wall = time.perf_counter()
    registry = EngineRegistry.default()
    candidates = build_candidates(args.engine, config, args.grid, args.preset)
    cache = ScoreCache(None if args.no_cache else args.cache_dir, args.data, corpus, args.between)
    print(f"NAB leave-one-category-out: engine {args.engine}, {len(candidates)} candidates")
    print(f"corpus {args.data} files={len(corpus)} rows={corpus.n_rows}")
    print(
        f"date {datetime.now(timezone.utc).isoformat(timespec='seconds')}"
        f"  python {platform.python_version()}  machine {machine_description()}"
    )
    print(f"cache {'off' if args.no_cache else args.cache_dir}")
    scored: dict[str, list[tuple[NABFileLabels, Sequence[float]]]] = {}
    ran: dict[str, float | None] = {}
    for c in candidates:
        items, seconds = candidate_items(c, registry, cache)
        scored[c.name] = items
        ran[c.name] = seconds
        how = "cached" if seconds is None else f"ran, detect {seconds:.1f} s"
        print(f"  {c.name:<44} {c.describe()}  ({how})", flush=True)
    loco, result = loco_table(scored)
    defaults_loco, _ = loco_table({"defaults": scored["defaults"]})
    defaults_all = in_sample_table(scored["defaults"])
    published = load_published(args.published_table)
    categories = list(result.groups)
    describe = {c.name: c.describe() for c in candidates}

    for p in PROFILE_ORDER:
        print(f"\n== {p}: each category scored with the candidate and threshold chosen on the other five")
        print(
            f"  {'held-out category':<24}{'held-out':>18}  {'defaults, LOCO thr':>20}{'defaults, 41 thr':>20}"
            f"  {'best published (41 thr)':<28} chosen on the other five (their score), threshold"
        )
        for cat in categories:
            choice = loco[p]["choices"][cat]
            best = ""
            if published is not None:
                dets = published["detectors"]
                ranked = [
                    (dets[d]["in_sample"][p]["categories"][cat], d)
                    for d in dets
                    if dets[d]["in_sample"][p]["categories"][cat]["normalised"] is not None
                ]
                if ranked:
                    top, name = max(ranked, key=lambda t: t[0]["normalised"])
                    best = f"{name} {top['normalised']:.2f}"
            train = choice["train_normalised"]
            chosen = f"{choice['candidate']} ({'n/a' if train is None else f'{train:.2f}'})"
            print(
                f"  {cat:<24}{_cell(loco[p]['categories'][cat]):>18}"
                f"  {_cell(defaults_loco[p]['categories'][cat]):>20}"
                f"{_cell(defaults_all[p]['categories'][cat]):>20}  {best:<28}"
                f" {chosen}, {choice['threshold']:.4g}"
            )
        top = ""
        if published is not None:
            dets = published["detectors"]
            name = max(dets, key=lambda d: dets[d]["in_sample"][p]["total"]["normalised"])
            top = f"{name} {dets[name]['in_sample'][p]['total']['normalised']:.2f}"
        totals = [loco[p]["total"], defaults_loco[p]["total"], defaults_all[p]["total"]]
        print(
            f"  {'TOTAL (41 files)':<24}{totals[0]['normalised']:>18.2f}"
            f"  {totals[1]['normalised']:>20.2f}{totals[2]['normalised']:>20.2f}"
            f"  {top:<28} defaults' 41-file threshold {defaults_all[p]['threshold']:.4g}"
        )
        counts = [f"found {t['found']}, FP {t['fp']}" for t in totals]
        print(f"  {'':<24}{counts[0]:>18}  {counts[1]:>20}{counts[2]:>20}")

    if published is not None:
        for p in PROFILE_ORDER:
            print_published(published, p, categories)
        best_low_fp = max(
            d["in_sample"]["reward_low_FP_rate"]["total"]["normalised"]
            for d in published["detectors"].values()
        )
    else:
        print(f"\n(no published table at {args.published_table}: make it with --make-published-table)")
        best_low_fp = 67.67  # ARTime, ANCHORS.md
    targets = [
        (
            f"held-out total standard {loco['standard']['total']['normalised']:.2f} "
            f">= {TARGET_LOCO_STANDARD}",
            loco["standard"]["total"]["normalised"] >= TARGET_LOCO_STANDARD,
        ),
        (
            f"held-out total low-FP {loco['reward_low_FP_rate']['total']['normalised']:.2f} > "
            f"{best_low_fp:.2f} (best published)",
            loco["reward_low_FP_rate"]["total"]["normalised"] > best_low_fp,
        ),
        (
            f"defaults standard on the 41 files {defaults_all['standard']['total']['normalised']:.2f} "
            f">= {TARGET_DEFAULT_STANDARD}",
            defaults_all["standard"]["total"]["normalised"] >= TARGET_DEFAULT_STANDARD,
        ),
    ]
    print("\ntargets (issue 10):")
    for text, ok in targets:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    seconds = time.perf_counter() - wall
    print(f"\nwall {seconds:.1f} s")
    if args.json is not None:
        summary = {
            "engine": args.engine,
            "candidates": describe,
            "detect_seconds": ran,
            "loco": loco,
            "defaults_loco_threshold": defaults_loco,
            "defaults_in_sample": defaults_all,
            "targets": {text: ok for text, ok in targets},
            "wall_seconds": seconds,
        }
        args.json.write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
    return 0


def make_published(args: argparse.Namespace, corpus: NABCorpus) -> int:
    """``--make-published-table DIR``: score NAB's published detectors per category; write the JSON."""
    results_dir: Path = args.make_published_table
    if not results_dir.is_dir():
        print(f"no NAB results folder at {results_dir}: fetch numenta/NAB and pass its results/ folder")
        return 1
    anchors = read_anchors(args.data / "ANCHORS.md")
    detectors = published_table(corpus, results_dir, anchors)
    commit = (results_dir / ".." / "COMMIT").resolve()
    source = "numenta/NAB results/<detector>/<category>/<detector>_<file>.csv (column anomaly_score)"
    if commit.exists():
        source += ", commit " + commit.read_text(encoding="utf-8").strip()
    table = {
        "command": "python benchmarks/bench_nab.py --make-published-table <NAB checkout>/results",
        "source": source,
        "made": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "corpus": f"{len(corpus)} files of ../shared/data/nab (NAB without realAWSCloudwatch)",
        "rules": (
            "in_sample: NAB's scoring, each profile's threshold optimised over the 41 files (as ANCHORS.md); "
            "loco_threshold: each category scored at the threshold optimised over the other five "
            "categories; totals sum raw, null and perfect scores over the 41 files and normalise "
            "100*(S-S_null)/(S_perfect-S_null); a category without windows (artificialNoAnomaly) has "
            "normalised null and is shown by its raw score and false positives"
        ),
        "detectors": rounded(detectors, 6),
    }
    args.write_published.write_text(compact_json(table) + "\n", encoding="utf-8")
    print(f"wrote {args.write_published} ({len(detectors)} detectors)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--engine", help="registered engine name (EngineRegistry.default())")
    source.add_argument("--published-results", type=Path, help="NAB results/ folder (with --detector)")
    source.add_argument(
        "--make-published-table",
        type=Path,
        metavar="DIR",
        help="NAB results/ folder: write the per-category table",
    )
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
    parser.add_argument("--loco", action="store_true", help="leave-one-category-out (with --engine)")
    parser.add_argument("--grid", action="append", default=[], help="--loco: key=v1,v2,... (repeat)")
    parser.add_argument("--preset", action="append", default=[], help="--loco: NAME:key=v,key=v (repeat)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="--loco: per-file score cache")
    parser.add_argument("--no-cache", action="store_true", help="--loco: neither read nor write the cache")
    parser.add_argument(
        "--published-table", type=Path, default=PUBLISHED_TABLE, help="--loco: published per-category table"
    )
    parser.add_argument(
        "--write-published", type=Path, default=PUBLISHED_TABLE, help="--make-published-table: output"
    )
    args = parser.parse_args(argv)
    if args.published_results is not None and not args.detector:
        parser.error("--published-results needs --detector")
    if args.loco and args.engine is None:
        parser.error("--loco needs --engine")
    if (args.grid or args.preset) and not args.loco:
        parser.error("--grid and --preset need --loco")
    whole = args.loco or args.make_published_table is not None
    if whole and (args.files or args.files_from or args.subset != "all"):
        parser.error("--loco and --make-published-table score the whole corpus: no --files or --subset")

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
    if args.loco:
        return run_loco(args, corpus, config)
    if args.make_published_table is not None:
        return make_published(args, corpus)
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
