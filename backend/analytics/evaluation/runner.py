"""Run a detector over a loaded NAB corpus and score it: the glue behind ``bench_nab.py``.

:func:`evaluate_engine` runs an engine's ``detect`` on every file, maps the
window results to causal per-point scores (:mod:`.mapping`), maps those back to
NAB's original rows (:meth:`.loader.NABFile.to_original_rows`) and scores the
corpus (:func:`.sweep.score_corpus`). :func:`evaluate_point_scorer` does the
same for any function that gives one score per point directly (useful while
designing an engine). Only the detector is timed (for an engine: ``detect``
plus the cheap window-to-point mapping), not loading or scoring.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..engine import AnomalyDetectionEngine
from ..types import MetricSeries
from .loader import NABCorpus
from .mapping import point_scores_from_results
from .nab import NAB_PROFILES, CostProfile, NABFileLabels
from .sweep import ProfileResult, score_corpus

__all__ = ["NABRun", "evaluate_engine", "evaluate_point_scorer"]


@dataclass(frozen=True, slots=True)
class NABRun:
    """A detector's per-row scores on a corpus, their NAB results, and the time spent.

    ``items`` pairs each file's labels with its scores on NAB's original rows
    (re-score a subset with :func:`.sweep.score_corpus`); ``detect_seconds``
    covers the detector only (see the module docstring); ``points`` is the number of series points it saw.
    """

    items: tuple[tuple[NABFileLabels, tuple[float, ...]], ...]
    results: Mapping[str, ProfileResult]
    detect_seconds: float
    points: int

    @property
    def points_per_second(self) -> float:
        """Detector throughput over the whole corpus (``inf`` if it took no measurable time)."""
        return self.points / self.detect_seconds if self.detect_seconds > 0 else float("inf")


def evaluate_point_scorer(
    corpus: NABCorpus,
    point_scores: Callable[[MetricSeries], Sequence[float]],
    *,
    profiles: Mapping[str, CostProfile] = NAB_PROFILES,
) -> NABRun:
    """Score ``point_scores(series)`` (one score per point, finite) on every file of ``corpus``."""
    items: list[tuple[NABFileLabels, tuple[float, ...]]] = []
    seconds = 0.0
    points = 0
    for f in corpus:
        start = time.perf_counter()
        scores = point_scores(f.series)
        seconds += time.perf_counter() - start
        points += len(f.series)
        items.append((f.labels, tuple(f.to_original_rows(scores))))
    return NABRun(tuple(items), score_corpus(items, profiles), seconds, points)


def evaluate_engine(
    corpus: NABCorpus,
    engine: AnomalyDetectionEngine,
    *,
    between: Literal["zero", "hold"] = "zero",
    profiles: Mapping[str, CostProfile] = NAB_PROFILES,
) -> NABRun:
    """Run ``engine.detect`` on every file and score it NAB style (see the module docstring)."""

    def scorer(series: MetricSeries) -> list[float]:
        return point_scores_from_results(series, engine.detect(series), between=between)

    return evaluate_point_scorer(corpus, scorer, profiles=profiles)
