"""NAB over a corpus: the threshold sweep, the corpus score and its normalisation.

NAB picks one detection threshold per profile for the whole corpus: the one that
maximises the corpus's raw score (NAB's ``optimizer.py`` over its
``Sweeper.calcScoreByThreshold``). The candidates are NAB's: ``1.1`` (nothing
fires) and then every distinct anomaly score of a scored row, in descending
order; a row fires at threshold ``T`` when its score is ``>= T``. Ties go to the
highest threshold, as in NAB. Each file is then scored at that threshold
(:func:`.nab.score_file`) and the raw scores are summed. The normalised score is
``100 * (S - S_null) / (S_perfect - S_null)`` with ``S_null = -fnWeight`` per
scored window (a detector that never fires) and ``S_perfect = tpWeight`` per
window (one detection on the first row of every window).

The sweep sorts all scored rows once (``O(n log n)``) and then updates the score
incrementally per row, so a corpus of ~365,000 rows sweeps in well under a
second per profile.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from .._validate import brief, check_real, fail_type
from .nab import (
    _MAX_TP,
    NAB_PROFILES,
    CostProfile,
    FileScore,
    NABFileLabels,
    _unit_weights,
    check_scores,
    score_file,
)

__all__ = [
    "NO_DETECTION_THRESHOLD",
    "GroupScore",
    "ProfileResult",
    "ThresholdChoice",
    "normalised_score",
    "optimize_threshold",
    "score_corpus",
    "sweep_thresholds",
]

#: NAB's first candidate threshold: above every score in [0, 1], so nothing fires.
#: (Should a score reach it, the first candidate becomes the next float above the
#: largest score instead, so that it still means "nothing fires".)
NO_DETECTION_THRESHOLD: Final[float] = 1.1

ScoredFiles = Sequence[tuple[NABFileLabels, Sequence[float]]]


def normalised_score(score: float, null_score: float, perfect_score: float) -> float:
    """NAB's normalisation ``100 * (score - null) / (perfect - null)``.

    100 is the perfect detector, 0 the detector that never fires; there is no
    lower bound. Raises ``ValueError`` when ``perfect == null`` (no windows).
    """
    if perfect_score == null_score:
        raise ValueError(
            f"normalised_score: perfect_score must differ from null_score, got {perfect_score!r} for both"
        )
    return 100.0 * (score - null_score) / (perfect_score - null_score)


@dataclass(frozen=True, slots=True)
class ThresholdChoice:
    """The threshold that maximises a profile's raw corpus score, and that score."""

    profile: str
    threshold: float
    score: float


class _Prepared:
    """Scored rows of a whole corpus, sorted once by descending anomaly score.

    ``sweep(..., skip=files)`` sweeps the corpus without the files whose
    indices (in the input order) are in ``files``, as if they had never been
    given: leave-one-group-out sorts once and sweeps once per group.
    """

    __slots__ = (
        "file_null_windows",
        "file_of",
        "n_windows",
        "null_windows",
        "order",
        "owner",
        "scores",
        "units",
        "weights",
    )

    def __init__(self, items: ScoredFiles) -> None:
        scores: list[float] = []
        units: list[float] = []
        owner: list[int] = []
        file_of: list[int] = []
        file_null_windows: list[int] = []
        n_windows = 0
        for f, (labels, file_scores) in enumerate(items):
            if not isinstance(labels, NABFileLabels):
                raise TypeError(f"NAB corpus: expected NABFileLabels, got {type(labels).__name__}")
            values = check_scores(f"NAB corpus[{labels.name!r}]", file_scores, labels.n_rows)
            unit, window = _unit_weights(labels)
            start = labels.probation
            scores.extend(values[start:])
            units.extend(unit[start:])
            owner.extend(k + n_windows if k >= 0 else -1 for k in window[start:])
            file_of.extend([f] * (labels.n_rows - start))
            n_windows += len(labels.windows)
            file_null_windows.append(labels.scored_windows)
        self.scores = scores
        self.units = units
        self.owner = owner
        self.file_of = file_of
        self.file_null_windows = file_null_windows
        self.n_windows = n_windows
        self.null_windows = sum(file_null_windows)
        # Python's sort is stable with reverse=True: equal scores keep file order.
        self.order = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)
        self.weights: dict[CostProfile, list[float]] = {}

    def _weights(self, profile: CostProfile) -> list[float]:
        """Each row's weight under ``profile`` (computed once per profile)."""
        if profile not in self.weights:
            tp, fp = profile.tp_weight, profile.fp_weight
            pairs = zip(self.units, self.owner, strict=True)
            self.weights[profile] = [u * tp / _MAX_TP if k >= 0 else u * fp for u, k in pairs]
        return self.weights[profile]

    def sweep(
        self, profile: CostProfile, *, keep_curve: bool, skip: frozenset[int] = frozenset()
    ) -> tuple[float, float, list[tuple[float, float]]]:
        """Return (best threshold, best score, curve) for ``profile``, without the files in ``skip``."""
        weights = self._weights(profile)
        order = self.order
        null_windows = self.null_windows
        if skip:
            file_of = self.file_of
            order = [i for i in order if file_of[i] not in skip]
            null_windows -= sum(self.file_null_windows[f] for f in skip)
        best_in_window = [-profile.fn_weight] * self.n_windows
        total = -profile.fn_weight * null_windows
        top = self.scores[order[0]] if order else 0.0
        threshold = NO_DETECTION_THRESHOLD if top < NO_DETECTION_THRESHOLD else math.nextafter(top, math.inf)
        best_threshold, best_score = threshold, total
        curve: list[tuple[float, float]] = []
        scores, owner = self.scores, self.owner
        for i in order:
            s = scores[i]
            if s != threshold:
                if keep_curve:
                    curve.append((threshold, total))
                if total > best_score:
                    best_threshold, best_score = threshold, total
                threshold = s
            k = owner[i]
            w = weights[i]
            if k < 0:
                total += w
            elif w > best_in_window[k]:
                total += w - best_in_window[k]
                best_in_window[k] = w
        if keep_curve:
            curve.append((threshold, total))
        if total > best_score:
            best_threshold, best_score = threshold, total
        return best_threshold, best_score, curve


def sweep_thresholds(items: ScoredFiles, profile: CostProfile) -> list[tuple[float, float]]:
    """Raw corpus score at every candidate threshold, highest threshold first.

    ``items`` pairs each file's labels with its anomaly scores (one per row,
    finite). The first entry is ``(1.1, S_null)``: nothing fires.
    """
    return _Prepared(items).sweep(profile, keep_curve=True)[2]


def optimize_threshold(items: ScoredFiles, profile: CostProfile) -> ThresholdChoice:
    """The threshold maximising the corpus's raw score under ``profile`` (NAB's optimiser)."""
    best_threshold, best_score, _ = _Prepared(items).sweep(profile, keep_curve=False)
    return ThresholdChoice(profile.name, best_threshold, best_score)


@dataclass(frozen=True, slots=True)
class GroupScore:
    """Summed NAB result of a group of files (a category, a subset)."""

    name: str
    files: int
    score: float
    null_score: float
    perfect_score: float
    windows_detected: int
    windows_missed: int
    fp: int

    @property
    def normalised(self) -> float | None:
        """Normalised score, or ``None`` for a group without label windows."""
        if self.perfect_score == self.null_score:
            return None
        return normalised_score(self.score, self.null_score, self.perfect_score)


def _group(name: str, files: Sequence[FileScore]) -> GroupScore:
    score = null = perfect = 0.0
    for f in files:
        score += f.score
        null += f.null_score
        perfect += f.perfect_score
    return GroupScore(
        name=name,
        files=len(files),
        score=score,
        null_score=null,
        perfect_score=perfect,
        windows_detected=sum(f.windows_detected for f in files),
        windows_missed=sum(f.windows_missed for f in files),
        fp=sum(f.fp for f in files),
    )


@dataclass(frozen=True, slots=True)
class ProfileResult:
    """A corpus scored under one profile at one threshold."""

    profile: CostProfile
    threshold: float
    files: tuple[FileScore, ...]

    @property
    def total(self) -> GroupScore:
        """All files together."""
        return _group("total", self.files)

    @property
    def score(self) -> float:
        """Raw corpus score (sum of the files' raw scores)."""
        return self.total.score

    @property
    def normalised(self) -> float:
        """NAB's normalised score: 100 perfect, 0 never firing."""
        value = self.total.normalised
        if value is None:
            raise ValueError("ProfileResult.normalised: the corpus has no label windows")
        return value

    def by_group(self, key: Callable[[str], str]) -> dict[str, GroupScore]:
        """Group the files by ``key(file name)`` (e.g. the category), sorted by group name."""
        groups: dict[str, list[FileScore]] = {}
        for f in self.files:
            groups.setdefault(key(f.name), []).append(f)
        return {name: _group(name, groups[name]) for name in sorted(groups)}

    def subset(self, names: Iterable[str], *, label: str = "subset") -> GroupScore:
        """Summed result of the named files (at this result's threshold)."""
        wanted = set(names)
        known = {f.name for f in self.files}
        missing = sorted(wanted - known)
        if missing:
            raise ValueError(f"ProfileResult.subset: unknown file names {missing!r}")
        return _group(label, [f for f in self.files if f.name in wanted])


def _check_thresholds(
    thresholds: Mapping[str, float] | None, profiles: Mapping[str, CostProfile]
) -> dict[str, float]:
    """``thresholds`` as ``{profile name: finite float}``; unknown names and bad values raise."""
    owner = "score_corpus"
    if thresholds is None:
        return {}
    if not isinstance(thresholds, Mapping):
        fail_type(owner, "thresholds", "a mapping of profile name -> threshold, or None", thresholds)
    known = ", ".join(repr(name) for name in profiles)
    fixed: dict[str, float] = {}
    for name, value in thresholds.items():
        if name not in profiles:
            raise ValueError(
                f"{owner}: thresholds keys must be profile names (one of {known}), got {brief(name)}"
            )
        fixed[name] = check_real(owner, f"thresholds[{name!r}]", value)
    return fixed


def score_corpus(
    items: ScoredFiles,
    profiles: Mapping[str, CostProfile] = NAB_PROFILES,
    *,
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, ProfileResult]:
    """Score a corpus under each profile, NAB style.

    ``items`` pairs each file's :class:`NABFileLabels` with its anomaly scores
    (one per original row, finite; engines give [0, 1]). For each profile the threshold is
    optimised over the whole corpus (:func:`optimize_threshold`) unless
    ``thresholds`` fixes it (e.g. to score a held-out set at the threshold
    chosen on a design set). Returns one :class:`ProfileResult` per profile.

    Every key of ``thresholds`` must name one of ``profiles`` (a misspelt key
    raises ``ValueError`` rather than letting that profile be optimised on the
    scored files), and every value must be a finite real number (not a bool or
    a str; any finite value, as NAB accepts any finite score).
    """
    fixed = _check_thresholds(thresholds, profiles)
    prepared: _Prepared | None = None  # built once, only if some threshold must be optimised
    results: dict[str, ProfileResult] = {}
    for name, profile in profiles.items():
        if name in fixed:
            threshold = fixed[name]
        else:
            if prepared is None:
                prepared = _Prepared(items)
            threshold = prepared.sweep(profile, keep_curve=False)[0]
        files = tuple(score_file(labels, scores, threshold, profile) for labels, scores in items)
        results[name] = ProfileResult(profile, threshold, files)
    return results
