"""NAB smoke test: a few small real NAB files through the whole path, in seconds.

load (with the repair policy) -> zscore engine -> causal point scores -> original
rows -> NAB score. The corpus is read from ``$NAB_DATA`` or ``../shared/data/nab``
next to the repository; the real-data tests are skipped when neither exists
(and fail instead when ``NAB_REQUIRED=1``, for CI). A generated corpus in NAB's
layout runs the same path everywhere.
"""

from __future__ import annotations

import json
import math
import os
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from backend.analytics import EngineRegistry
from backend.analytics.evaluation import (
    NAB_PROFILES,
    NO_DETECTION_THRESHOLD,
    evaluate_engine,
    load_nab_corpus,
    point_scores_from_results,
    score_corpus,
)
from tests.bench_scripts import load_benchmark

REPO = Path(__file__).resolve().parents[2]
NAB_ROOT = Path(os.environ.get("NAB_DATA", REPO.parent / "shared" / "data" / "nab"))
# Small files (1,127 to 1,624 rows); exchange-2_cpc holds a duplicated timestamp at row 1304.
FILES = [
    "realTraffic/speed_7578.csv",
    "realAdExchange/exchange-2_cpc_results.csv",
    "realAdExchange/exchange-3_cpc_results.csv",
]

HAVE_NAB = (NAB_ROOT / "data").is_dir()
if not HAVE_NAB and os.environ.get("NAB_REQUIRED") == "1":
    raise RuntimeError(f"NAB_REQUIRED=1 but there is no NAB corpus at {NAB_ROOT} (set NAB_DATA)")
needs_nab = pytest.mark.skipif(not HAVE_NAB, reason=f"no NAB corpus at {NAB_ROOT}")


def test_generated_corpus_end_to_end(tmp_path: Path) -> None:
    """A generated file in NAB's layout: a 12-sigma spike inside its label window is found.

    Noise N(0, 1) around 10 for 600 points, one spike of +12 at point 450, label window
    points 430..470. Whatever the threshold, the optimiser can fire on the spike alone,
    which at worst costs nothing and earns a true positive: the window must be found and
    the normalised score be positive.
    """
    rng = random.Random(7)
    t0 = datetime(2020, 1, 1)
    stamps = [t0 + timedelta(minutes=5 * i) for i in range(600)]
    values = [10.0 + rng.gauss(0.0, 1.0) for _ in stamps]
    values[450] += 12.0
    folder = tmp_path / "data" / "synthetic"
    folder.mkdir(parents=True)
    rows = "\n".join(f"{t:%Y-%m-%d %H:%M:%S},{v!r}" for t, v in zip(stamps, values, strict=True))
    (folder / "spike.csv").write_text("timestamp,value\n" + rows + "\n")
    window = [f"{stamps[430]:%Y-%m-%d %H:%M:%S}.000000", f"{stamps[470]:%Y-%m-%d %H:%M:%S}.000000"]
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps({"synthetic/spike.csv": [window]}))

    corpus = load_nab_corpus(tmp_path, on_bad_timestamps="reject")
    run = evaluate_engine(corpus, EngineRegistry.default().create("zscore"))
    standard = run.results["standard"]
    assert standard.total.windows_detected == 1
    assert standard.normalised > 0.0


@needs_nab
def test_reject_policy_names_the_duplicate_row() -> None:
    """The real duplicate in exchange-2_cpc is reported with file, row and line."""
    with pytest.raises(ValueError, match=r"exchange-2_cpc_results.csv row 1304 \(line 1306\)"):
        load_nab_corpus(NAB_ROOT, on_bad_timestamps="reject", files=FILES)


@needs_nab
def test_zscore_on_small_nab_files_end_to_end() -> None:
    """Scores cover NAB's original rows, lie in [0, 1], and every profile gets a valid result."""
    corpus = load_nab_corpus(NAB_ROOT, on_bad_timestamps="repair", files=FILES)
    assert [f.name for f in corpus] == sorted(FILES)
    assert [(r.file, r.row) for r in corpus.repairs] == [("realAdExchange/exchange-2_cpc_results.csv", 1304)]

    run = evaluate_engine(corpus, EngineRegistry.default().create("zscore"))
    assert run.points == sum(len(f.series) for f in corpus) == corpus.n_rows - 1
    windows = sum(len(f.labels.windows) for f in corpus)
    for (labels, scores), f in zip(run.items, corpus, strict=True):
        assert labels is f.labels and len(scores) == f.n_rows
        assert all(0.0 <= s <= 1.0 for s in scores)
    for name, profile in NAB_PROFILES.items():
        result = run.results[name]
        all_scores = {s for _, scores in run.items for s in scores}
        assert result.threshold == NO_DETECTION_THRESHOLD or result.threshold in all_scores
        assert math.isfinite(result.normalised) and result.normalised <= 100.0
        # The optimised threshold is at least as good as never firing (normalised 0).
        assert result.normalised >= 0.0
        assert result.total.null_score == -profile.fn_weight * windows


@needs_nab
def test_null_and_perfect_on_real_labels() -> None:
    """On real label windows, never firing scores 0 and firing at each window's start 100."""
    corpus = load_nab_corpus(NAB_ROOT, on_bad_timestamps="repair", files=FILES)
    null = score_corpus([(f.labels, [0.0] * f.n_rows) for f in corpus])
    perfect_items = []
    for f in corpus:
        scores = [0.0] * f.n_rows
        for first, _ in f.labels.windows:
            scores[first] = 1.0
        perfect_items.append((f.labels, scores))
    perfect = score_corpus(perfect_items)
    for name in NAB_PROFILES:
        assert null[name].normalised == 0.0
        assert perfect[name].normalised == pytest.approx(100.0)


@needs_nab
def test_point_scores_are_causal_on_real_data() -> None:
    """Cutting a real series after point k leaves the point scores up to k unchanged."""
    (f,) = load_nab_corpus(NAB_ROOT, on_bad_timestamps="repair", files=[FILES[0]]).files
    engine = EngineRegistry.default().create("zscore")
    full = point_scores_from_results(f.series, engine.detect(f.series))
    k = len(f.series) // 2
    prefix = f.series.slice(0, k + 1)
    cut = point_scores_from_results(prefix, engine.detect(prefix))
    assert cut == full[: k + 1]


@needs_nab
def test_bench_nab_command_runs_and_writes_its_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``bench_nab.py --engine combined`` on two small files prints the profiles and writes matching JSON."""
    out = tmp_path / "nab.json"
    argv = ["--engine", "combined", "--config", "classify=false", "--data", str(NAB_ROOT), "--json", str(out)]
    for name in FILES[:2]:
        argv += ["--files", name]
    assert load_benchmark("bench_nab").main(argv) == 0
    printed = capsys.readouterr().out
    assert 'NAB benchmark: engine combined {"classify": false}' in printed
    assert "NOT causal" not in printed
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert summary["files"] == sorted(FILES[:2])
    standard = summary["results"]["standard"]
    assert f"{standard['normalised']:.2f}" in printed
    assert summary["points_per_second"] > 0


@needs_nab
def test_bench_nab_marks_an_engine_that_is_not_causal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An in-sample engine (``causal = False``) is scored, and the report says NAB's premise fails for it."""
    from backend.analytics.engines.zscore import ZScoreEngine

    class InSample(ZScoreEngine):
        causal = False

    registry = EngineRegistry.default()
    monkeypatch.setattr(registry, "create", lambda name, **config: InSample(**config))
    bench = load_benchmark("bench_nab")
    monkeypatch.setattr(bench.EngineRegistry, "default", staticmethod(lambda: registry))
    argv = ["--engine", "insample", "--data", str(NAB_ROOT), "--files", FILES[0]]
    assert bench.main(argv) == 0
    assert "NOT causal" in capsys.readouterr().out
