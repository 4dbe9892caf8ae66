"""Detection quality: NAB scoring, event-level metrics, the NAB loader (stdlib only).

- :mod:`.nab`: NAB's per-file rules (profiles, probation, windows, weights).
- :mod:`.sweep`: NAB's corpus threshold sweep, corpus score and normalisation.
- :mod:`.loader`: :func:`load_nab_corpus` for the ``data/`` + ``labels/`` layout.
- :mod:`.mapping`: engine window results -> causal per-point scores.
- :mod:`.runner`: :func:`evaluate_engine` runs an engine over a corpus and scores it.
- :mod:`.events`: event-level precision/recall/F1, point-adjusted F1, time to detect.
- :mod:`.episodes`: alarm episodes and event detection with an onset tolerance, on index spans.
- :mod:`.loco`: leave-one-group-out NAB scoring (configuration and thresholds chosen without
  the group scored).

A whole NAB run in a few lines::

    corpus = load_nab_corpus("../shared/data/nab", on_bad_timestamps="repair")
    run = evaluate_engine(corpus, EngineRegistry.default().create("zscore"))
    run.results["standard"].normalised, run.results["standard"].threshold, run.points_per_second

which is, spelled out::

    items = []
    for f in corpus:
        points = point_scores_from_results(f.series, engine.detect(f.series))
        items.append((f.labels, f.to_original_rows(points)))
    results = score_corpus(items)          # {"standard": ProfileResult, ...}
"""

from .episodes import anomalous_spans, detected_within, merge_spans, spans_outside
from .events import (
    EventMetrics,
    PointAdjustedScores,
    alarms_from_scores,
    event_metrics,
    events_from_labels,
    point_adjusted_scores,
)
from .loader import BadTimestampPolicy, NABCorpus, NABFile, TimestampRepair, load_nab_corpus
from .loco import LocoChoice, LocoResult, leave_one_group_out
from .mapping import point_scores_from_results
from .nab import (
    NAB_PROBATION_PERCENT,
    NAB_PROFILES,
    CostProfile,
    FileScore,
    NABFileLabels,
    load_profiles,
    probationary_length,
    resolve_windows,
    scaled_sigmoid,
    score_file,
    sweep_weights,
)
from .runner import NABRun, evaluate_engine, evaluate_point_scorer
from .sweep import (
    NO_DETECTION_THRESHOLD,
    GroupScore,
    ProfileResult,
    ThresholdChoice,
    normalised_score,
    optimize_threshold,
    score_corpus,
    sweep_thresholds,
)

__all__ = [
    "NAB_PROBATION_PERCENT",
    "NAB_PROFILES",
    "NO_DETECTION_THRESHOLD",
    "BadTimestampPolicy",
    "CostProfile",
    "EventMetrics",
    "FileScore",
    "GroupScore",
    "LocoChoice",
    "LocoResult",
    "NABCorpus",
    "NABFile",
    "NABFileLabels",
    "NABRun",
    "PointAdjustedScores",
    "ProfileResult",
    "ThresholdChoice",
    "TimestampRepair",
    "alarms_from_scores",
    "anomalous_spans",
    "detected_within",
    "evaluate_engine",
    "evaluate_point_scorer",
    "event_metrics",
    "events_from_labels",
    "leave_one_group_out",
    "load_nab_corpus",
    "load_profiles",
    "merge_spans",
    "normalised_score",
    "optimize_threshold",
    "point_adjusted_scores",
    "point_scores_from_results",
    "probationary_length",
    "resolve_windows",
    "scaled_sigmoid",
    "score_corpus",
    "score_file",
    "spans_outside",
    "sweep_thresholds",
    "sweep_weights",
]
