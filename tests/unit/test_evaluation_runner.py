"""Unit tests for running a detector over a NAB corpus and scoring it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.analytics import MetricSeries
from backend.analytics.evaluation import evaluate_point_scorer, load_nab_corpus

ROWS = [f"2020-01-01 {h:02d}:{m:02d}:00,{h * 60 + m}" for h in range(2) for m in range(0, 60, 5)]  # 24 rows


@pytest.fixture
def corpus_root(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "c" / "x.csv"
    path.parent.mkdir(parents=True)
    # Row 10 duplicates row 9's timestamp: the repair drops it, scoring keeps all 25 rows.
    rows = [*ROWS[:10], ROWS[9].replace(",45", ",99"), *ROWS[10:]]
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    (tmp_path / "labels").mkdir()
    windows = {"c/x.csv": [["2020-01-01 01:00:00.000000", "2020-01-01 01:15:00.000000"]]}
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    return tmp_path


def test_point_scorer_is_scored_on_original_rows(corpus_root: Path) -> None:
    """A scorer firing only on the window's first point reaches the perfect score, 100."""
    corpus = load_nab_corpus(corpus_root, on_bad_timestamps="repair")
    (f,) = corpus.files
    assert (f.n_rows, len(f.series)) == (25, 24)
    first_row = f.labels.windows[0][0]
    assert first_row == 13  # 01:00 is the 14th row once the duplicate is counted

    def scorer(series: MetricSeries) -> list[float]:
        return [1.0 if v == 60.0 else 0.0 for v in series.values]

    run = evaluate_point_scorer(corpus, scorer)
    (_, scores) = run.items[0]
    assert scores.index(1.0) == first_row and sum(scores) == 1.0
    assert run.points == 24
    assert run.points_per_second > 0
    for result in run.results.values():
        assert result.normalised == pytest.approx(100.0)
        assert result.threshold == 1.0
