"""Detection quality: NAB scoring, event-level metrics, the NAB loader (stdlib only).

- :mod:`.nab`: NAB's per-file rules (profiles, probation, windows, weights).
- :mod:`.sweep`: NAB's corpus threshold sweep, corpus score and normalisation.
- :mod:`.loader`: :func:`load_nab_corpus` for the ``data/`` + ``labels/`` layout.

"""

from .loader import BadTimestampPolicy, NABCorpus, NABFile, TimestampRepair, load_nab_corpus
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
    "FileScore",
    "GroupScore",
    "NABCorpus",
    "NABFile",
    "NABFileLabels",
    "ProfileResult",
    "ThresholdChoice",
    "TimestampRepair",
    "load_nab_corpus",
    "load_profiles",
    "normalised_score",
    "optimize_threshold",
    "probationary_length",
    "resolve_windows",
    "scaled_sigmoid",
    "score_corpus",
    "score_file",
    "sweep_thresholds",
    "sweep_weights",
]
