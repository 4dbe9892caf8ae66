"""NAB scoring rules for one data file: profiles, label windows and per-row weights.

This module implements the scoring rules of the Numenta Anomaly Benchmark (NAB,
Lavin & Ahmad 2015, "Evaluating Real-time Anomaly Detection Algorithms - the
Numenta Anomaly Benchmark", arXiv:1510.03336) as NAB v1.1 applies them in its
``Sweeper`` (``nab/sweeper.py``). It was written from those rules; the corpus
level threshold sweep and normalisation live in :mod:`.sweep`.

Contents
--------
- :class:`CostProfile`, :data:`NAB_PROFILES`, :func:`load_profiles`: the three
  application profiles (``standard``, ``reward_low_FP_rate``,
  ``reward_low_FN_rate``) and their weights.
- :func:`scaled_sigmoid`: NAB's reward curve.
- :func:`probationary_length`: rows at the start of a file that are never scored.
- :class:`NABFileLabels`, :func:`resolve_windows`: a file's label windows as row
  indices.
- :func:`sweep_weights`: the weight NAB gives a detection at each row (NAB's
  ``S(t)_<profile>`` result columns).
- :class:`FileScore`, :func:`score_file`: one file's raw score at a threshold.

The rules, for a file of ``n`` rows with label windows ``[l, r]`` (row indices,
inclusive, width ``w = r - l + 1``):

- Rows ``0 .. p-1`` with ``p = min(floor(0.15 n), 0.15 * 5000)`` are a
  probationary period: never scored, neither as detection nor as miss.
- A row ``i`` inside a window weighs ``tpWeight * S(-(r - i + 1) / w) / S(-1)``,
  with ``S(x) = 2 / (1 + exp(5 x)) - 1`` (:func:`scaled_sigmoid`): the first row
  of a window weighs exactly ``tpWeight``, later rows less.
- A row outside every window weighs ``fpWeight * S((i - r') / (w' - 1))`` where
  ``[l', r']`` is the closest window that ended before it, or ``-fpWeight``
  when no window precedes it.
- At threshold ``T`` a row is a detection when its anomaly score is ``>= T``.
  A window scores the largest weight among its detected rows (its earliest
  detection), or ``-fnWeight`` when none is detected; every detected row
  outside windows adds its (negative) weight. The file's raw score is the sum.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from .._validate import check_real

__all__ = [
    "NAB_PROBATION_PERCENT",
    "NAB_PROFILES",
    "CostProfile",
    "FileScore",
    "NABFileLabels",
    "load_profiles",
    "probationary_length",
    "resolve_windows",
    "scaled_sigmoid",
    "score_file",
    "sweep_weights",
]

#: Share of each file's rows that NAB treats as probationary (not scored).
NAB_PROBATION_PERCENT: Final[float] = 0.15


def _check_weight(owner: str, field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner}: {field} must be a finite number >= 0, got {value!r}")
    result = float(value)
    if not math.isfinite(result) or result < 0.0:
        raise ValueError(f"{owner}: {field} must be a finite number >= 0, got {value!r}")
    return result


@dataclass(frozen=True, slots=True)
class CostProfile:
    """One NAB application profile: the weights of TP, FP and FN detections.

    ``tp_weight`` must be > 0 (it scales the perfect score); the others >= 0.
    NAB's ``tnWeight`` is not used by its scoring and is not stored.
    """

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"CostProfile: name must be a non-empty str, got {self.name!r}")
        for field in ("tp_weight", "fp_weight", "fn_weight"):
            object.__setattr__(self, field, _check_weight("CostProfile", field, getattr(self, field)))
        if self.tp_weight == 0.0:
            raise ValueError(f"CostProfile: tp_weight must be > 0, got {self.tp_weight!r}")


#: NAB's three profiles, as in NAB's ``config/profiles.json``.
NAB_PROFILES: Final[Mapping[str, CostProfile]] = MappingProxyType(
    {
        "standard": CostProfile("standard", 1.0, 0.11, 1.0),
        "reward_low_FP_rate": CostProfile("reward_low_FP_rate", 1.0, 0.22, 1.0),
        "reward_low_FN_rate": CostProfile("reward_low_FN_rate", 1.0, 0.11, 2.0),
    }
)


def load_profiles(path: str | os.PathLike[str]) -> dict[str, CostProfile]:
    """Read a NAB ``profiles.json`` (``{name: {"CostMatrix": {"tpWeight": ...}}}``).

    Raises ``ValueError`` naming the profile and key when an entry is malformed.
    """
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"profiles file {os.fspath(path)!r}: expected a non-empty JSON object")
    profiles: dict[str, CostProfile] = {}
    for name, entry in raw.items():
        matrix = entry.get("CostMatrix") if isinstance(entry, dict) else None
        if not isinstance(matrix, dict):
            raise ValueError(f"profiles file {os.fspath(path)!r}: profile {name!r} has no CostMatrix object")
        weights = []
        for key in ("tpWeight", "fpWeight", "fnWeight"):
            if key not in matrix:
                raise ValueError(f"profiles file {os.fspath(path)!r}: profile {name!r} lacks {key}")
            weights.append(matrix[key])
        profiles[name] = CostProfile(name, *weights)
    return profiles


def scaled_sigmoid(x: float) -> float:
    """NAB's reward curve ``2 / (1 + exp(5 x)) - 1``, and ``-1.0`` for ``x >= 3``.

    ``x`` is a relative position: -1 is the left edge of a window (0.98661),
    0 its right edge (0.0), positive values lie after the window (down to -1).
    ``x = +inf`` gives -1.0.
    """
    if x >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


_MAX_TP: Final[float] = scaled_sigmoid(-1.0)


def probationary_length(n_rows: int, probation_percent: float = NAB_PROBATION_PERCENT) -> int:
    """Index of the first scored row: ``min(floor(p * n), p * 5000)`` rounded up.

    With NAB's ``p = 0.15`` that is 15% of the file, at most 750 rows.
    """
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 0:
        raise ValueError(f"probationary_length: n_rows must be an int >= 0, got {n_rows!r}")
    if not 0.0 <= probation_percent < 1.0:
        raise ValueError(
            f"probationary_length: probation_percent must be in [0, 1), got {probation_percent!r}"
        )
    # NAB compares ``i >= min(floor(p*n), p*5000)`` with a float bound.
    return math.ceil(min(math.floor(probation_percent * n_rows), probation_percent * 5000))


@dataclass(frozen=True, slots=True)
class NABFileLabels:
    """A data file's label windows as row indices, ready for scoring.

    ``windows`` holds ``(first_row, last_row)`` pairs, inclusive, ascending and
    disjoint; ``probation`` is the first scored row (:func:`probationary_length`).
    """

    name: str
    n_rows: int
    probation: int
    windows: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        owner = f"NABFileLabels({self.name!r})"
        if self.n_rows < 0 or not 0 <= self.probation <= self.n_rows:
            raise ValueError(
                f"{owner}: expected 0 <= probation <= n_rows, got {self.probation!r}, {self.n_rows!r}"
            )
        windows = tuple((int(a), int(b)) for a, b in self.windows)
        previous_end = -1
        for k, (first, last) in enumerate(windows):
            if not previous_end < first <= last < self.n_rows:
                raise ValueError(
                    f"{owner}.windows[{k}]: expected ascending disjoint rows in [0, {self.n_rows}), "
                    f"got {(first, last)!r} after a window ending at row {previous_end}"
                )
            previous_end = last
        object.__setattr__(self, "windows", windows)

    @property
    def scored_windows(self) -> int:
        """Windows with at least one row after the probationary period."""
        return sum(1 for _, last in self.windows if last >= self.probation)


def resolve_windows(
    name: str,
    epoch_us: Sequence[int],
    windows_us: Sequence[tuple[int, int]],
    *,
    probation_percent: float = NAB_PROBATION_PERCENT,
) -> NABFileLabels:
    """Turn label windows given as timestamps into row indices, as NAB does.

    ``epoch_us`` are the file's row timestamps (microseconds since the epoch, in
    file order, duplicates and disorder allowed); each window's start and end
    must equal some row's timestamp exactly (NAB's labeler requires it). As in
    NAB, a window runs from the first row carrying its start timestamp to the
    first row carrying its end timestamp. Raises ``ValueError`` naming the file
    and window when a bound matches no row.
    """
    first_row: dict[int, int] = {}
    for i, t in enumerate(epoch_us):
        first_row.setdefault(t, i)
    rows: list[tuple[int, int]] = []
    for k, (start, end) in enumerate(windows_us):
        for label, t in (("start", start), ("end", end)):
            if t not in first_row:
                raise ValueError(
                    f"NAB labels for {name!r}: window[{k}] {label} {t!r} (epoch us) matches no row timestamp"
                )
        rows.append((first_row[start], first_row[end]))
    n_rows = len(epoch_us)
    return NABFileLabels(name, n_rows, probationary_length(n_rows, probation_percent), tuple(rows))


def _window_of_rows(labels: NABFileLabels) -> list[int]:
    """Per row: the index of the window holding it, or -1."""
    owner = [-1] * labels.n_rows
    for k, (first, last) in enumerate(labels.windows):
        owner[first : last + 1] = [k] * (last - first + 1)
    return owner


def _unit_weights(labels: NABFileLabels) -> tuple[list[float], list[int]]:
    """Per row: the profile-free sigmoid value and the window index (or -1)."""
    values = [-1.0] * labels.n_rows  # rows before any window: a full false positive
    owner = _window_of_rows(labels)
    for k, (first, last) in enumerate(labels.windows):
        width = last - first + 1
        for i in range(first, last + 1):
            values[i] = scaled_sigmoid(-(last - i + 1) / width)
        stop = labels.windows[k + 1][0] if k + 1 < len(labels.windows) else labels.n_rows
        # A one-row window has width - 1 == 0: the limit of the distance is +inf,
        # which the curve maps to a full false positive (NAB itself divides by 0).
        for i in range(last + 1, stop):
            values[i] = scaled_sigmoid((i - last) / (width - 1) if width > 1 else math.inf)
    return values, owner


def sweep_weights(labels: NABFileLabels, profile: CostProfile) -> list[float]:
    """The weight of a detection at each row under ``profile`` (NAB's ``S(t)``).

    Rows in windows weigh ``tp_weight * S(pos) / S(-1)`` in (0, tp_weight];
    rows outside weigh ``fp_weight * S(dist)`` in [-fp_weight, 0). Probationary
    rows get a weight too (as in NAB's result files) but are never scored.
    """
    values, owner = _unit_weights(labels)
    tp, fp = profile.tp_weight, profile.fp_weight
    return [v * tp / _MAX_TP if k >= 0 else v * fp for v, k in zip(values, owner, strict=True)]


@dataclass(frozen=True, slots=True)
class FileScore:
    """One file's NAB result at one threshold.

    ``score`` is the raw (unnormalised) score; ``null_score`` what a detector
    that never fires gets (``-fn_weight`` per scored window) and
    ``perfect_score`` what NAB's perfect detector gets (``tp_weight`` per
    window). ``tp``/``fp``/``fn``/``tn`` count scored rows, as NAB does;
    ``windows_detected``/``windows_missed`` count scored windows.
    """

    name: str
    threshold: float
    score: float
    null_score: float
    perfect_score: float
    tp: int
    fp: int
    fn: int
    tn: int
    windows_detected: int
    windows_missed: int


def check_scores(owner: str, scores: Sequence[float], n_rows: int) -> list[float]:
    """Return ``scores`` as a list of finite floats, one per row, or raise ``ValueError``.

    Engines give scores in [0, 1]; NAB accepts any finite score (some published
    detectors emit slightly negative ones), and so does this scorer.
    """
    if len(scores) != n_rows:
        raise ValueError(f"{owner}: expected {n_rows} anomaly scores (one per row), got {len(scores)}")
    values = []
    for i, score in enumerate(scores):
        value = score
        if type(value) is not float:  # (a bool or a str is no score: check_real refuses it, naming it)
            value = float(value) if isinstance(value, float) else check_real(owner, f"scores[{i}]", value)
        if not math.isfinite(value):
            raise ValueError(f"{owner}.scores[{i}]: expected a finite number, got {value!r}")
        values.append(value)
    return values


def score_file(
    labels: NABFileLabels, scores: Sequence[float], threshold: float, profile: CostProfile
) -> FileScore:
    """Score one file: rows at or after the probation with ``score >= threshold`` fire.

    ``scores`` are the detector's anomaly scores (finite; engines give [0, 1]),
    one per row of the file (NAB's original rows). Sums are accumulated in
    NAB's order (detections by descending score, then the FP total followed by
    each window); on NAB's published result files the scores equal NAB's
    per-file tables to the 12 digits those tables print.

    ``threshold`` must be a finite real number (any value, as NAB accepts any
    finite score; not a bool or a str): ``TypeError``/``ValueError`` otherwise.
    """
    threshold = check_real(f"score_file({labels.name!r})", "threshold", threshold)
    values = check_scores(f"score_file({labels.name!r})", scores, labels.n_rows)
    weights = sweep_weights(labels, profile)
    owner = _window_of_rows(labels)
    start = labels.probation
    order = sorted(range(start, labels.n_rows), key=values.__getitem__, reverse=True)
    parts = [-profile.fn_weight if last >= start else 0.0 for _, last in labels.windows]
    detected = [False] * len(labels.windows)
    fp_total = 0.0
    tp = fp = 0
    for i in order:
        if values[i] < threshold:
            break
        k = owner[i]
        if k < 0:
            fp += 1
            fp_total += weights[i]
        else:
            tp += 1
            detected[k] = True
            parts[k] = max(parts[k], weights[i])
    in_windows = sum(max(0, last - max(first, start) + 1) for first, last in labels.windows)
    total = 0.0 + fp_total
    for part in parts:
        total += part
    scored = labels.scored_windows
    hits = sum(detected)
    return FileScore(
        name=labels.name,
        threshold=threshold,
        score=total,
        null_score=-profile.fn_weight * scored,
        perfect_score=profile.tp_weight * len(labels.windows),
        tp=tp,
        fp=fp,
        fn=in_windows - tp,
        tn=(labels.n_rows - start - in_windows) - fp,
        windows_detected=hits,
        windows_missed=scored - hits,
    )
