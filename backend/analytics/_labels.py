"""The one labelling rule of every engine, and the size of a window's move (private).

An engine decides *whether* a window is anomalous (its score reaches 0.5);
what kind of anomaly it is comes from two authorities only:

1. the :class:`~backend.analytics.explain.ExplanationClassifier`, which judges
   the window against the history before it (:func:`label_and_explain`);
2. where the classifier sees nothing unusual, or an engine runs with
   ``classify=False``, :func:`fallback_label`: TREND when the window's last
   two points are each at least half as far from the prior level as its peak
   (on the same side), else SPIKE.

:func:`window_magnitude` is the ``magnitude`` of an anomalous window, the same
for every engine: ``d / (d + s)`` with ``d`` the window's largest distance from
the median of the points before it and ``s`` the larger of that median's size
and the points' robust spread, so 0.5 means "moved by as much as the level
(or its spread, for a level near zero)".
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from ._kinds import AnomalyType
from ._validate import check_positive_int
from .explain import ABOVE, BELOW, ExplanationClassifier, _Memo
from .types import AnomalyResult, MetricSeries

__all__ = [
    "LABEL_CONTEXT",
    "fallback_label",
    "label_and_explain",
    "make_classifier",
    "new_memo",
    "still_out",
    "window_magnitude",
]

#: Points before a window that the fallback label and the magnitude compare against.
LABEL_CONTEXT = 32

#: Spreads from the level before an episode within which a window's points count as back: the
#: classifier's default ``trend_z`` (the distance a TREND's last points keep on average).
SETTLED_Z = 3.5

_MAD_TO_SD = 1.482602218505602  # 1 / Phi^-1(3/4): MAD of a normal sample -> its sd


def make_classifier(
    owner: str, classify: bool, history_points: int | None, *, utc_offset_minutes: int = 0
) -> ExplanationClassifier | None:
    """The classifier an engine labels with: ``None`` without ``classify``, else one reading
    ``history_points`` points (the classifier's default when ``None``), days of the week in
    UTC plus ``utc_offset_minutes``."""
    if history_points is not None:
        check_positive_int(owner, "classifier_history_points", history_points)
    if not classify:
        return None
    if history_points is None:
        return ExplanationClassifier(utc_offset_minutes=utc_offset_minutes)
    try:
        return ExplanationClassifier(history_points=history_points, utc_offset_minutes=utc_offset_minutes)
    except ValueError as exc:
        raise ValueError(f"{owner}: classifier_history_points: {exc}") from None


def _reference(before: Sequence[float], window: Sequence[float]) -> tuple[float, list[float], list[float]]:
    """``(median of before, before, window)``, all divided by the largest ``|value|`` of the two.

    Working in units of the largest value keeps every difference finite, from
    1e-300 to 1e308; the rules below are ratios, so the unit cancels.
    """
    scale = max(map(abs, itertools.chain(window, before)))
    if scale == 0.0:
        return 0.0, [0.0] * len(before), [0.0] * len(window)
    prior = [v / scale for v in before]
    win = [v / scale for v in window]
    if not prior:
        return win[0], prior, win
    return _median(prior), prior, win


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    m = len(ordered)
    return ordered[m // 2] if m % 2 else ordered[m // 2 - 1] / 2.0 + ordered[m // 2] / 2.0


def fallback_label(window: Sequence[float], before: Sequence[float]) -> AnomalyType:
    """TREND when the window's last two points are each at least half as far from the prior level as
    its peak, on the peak's side, else SPIKE.

    The prior level is the median of ``before`` (the points just before the
    window; without any, the window's first point). One point out at the
    window's end is a spike so far, not a level that "stayed there": if the
    level did move, the episode's next window has more anomalous points than
    a spike and is labelled TREND.
    """
    if len(window) < 2:
        return AnomalyType.SPIKE
    ref, _, win = _reference(before, window)
    peak = max(win, key=lambda v: abs(v - ref))
    if all((v - ref) * (peak - ref) > 0 and abs(v - ref) * 2 >= abs(peak - ref) for v in win[-2:]):
        return AnomalyType.TREND
    return AnomalyType.SPIKE


def _spread(ref: float, prior: Sequence[float]) -> float:
    """The robust spread of ``prior`` around ``ref``: its median absolute deviation as an sd (0 with fewer
    than 2 points)."""
    return _median([abs(v - ref) for v in prior]) * _MAD_TO_SD if len(prior) >= 2 else 0.0


def still_out(window: Sequence[float], before: Sequence[float]) -> bool:
    """Whether a point of the window is still at least ``SETTLED_Z`` spreads from the level before it.

    The level and spread are those of :func:`window_magnitude` (the median of
    ``before`` and the scaled median absolute deviation from it); with no
    spread, any departure counts. Without ``before``, the window's first
    point is the level.
    """
    if not window:
        return False
    ref, prior, win = _reference(before, window)
    d = max(abs(v - ref) for v in win)
    spread = _spread(ref, prior)
    return d > 0.0 if spread == 0.0 else d >= SETTLED_Z * spread


def window_magnitude(window: Sequence[float], before: Sequence[float]) -> float:
    """``d / (d + s)`` in [0, 1]: how far the window moved from the level before it (module docs)."""
    if not window:
        return 0.0
    ref, prior, win = _reference(before, window)
    d = max(abs(v - ref) for v in win)
    if d == 0.0:
        return 0.0
    spread = _spread(ref, prior)
    s = max(abs(ref), spread)
    return 1.0 if s == 0.0 else d / (d + s)


def new_memo(classifier: ExplanationClassifier | None) -> _Memo | None:
    """A fresh per-series memo of the classifier's models (``None`` without a classifier).

    A live stream and ``detect`` (which runs a stream over the whole series)
    each hold one: the cycle, profile and spread of the series are then
    found once per checkpoint (every ``classifier.recheck_points`` points),
    not once per labelled window, with the same verdicts as without.
    """
    return _Memo() if classifier is not None else None


def _side(classifier: ExplanationClassifier, z: Sequence[float]) -> int:
    """The side the window ends held off its expectation (``classifier._held``), unless a point of it is
    ``trend_z`` the other way (the end of a departure, not one of its own), else 0."""
    held = classifier._held(z)
    if held:
        sign = 1.0 if held == ABOVE else -1.0
        if min(v * sign for v in z) <= -classifier.trend_z:
            return 0
    return held


def label_and_explain(
    classifier: ExplanationClassifier,
    series: MetricSeries,
    start: int,
    end: int,
    result: AnomalyResult,
    fallback: AnomalyType,
    forced: AnomalyType | None = None,
    memo: _Memo | None = None,
    anchor: int | None = None,
    promoted: bool = False,
    sides: int = 0,
    gap: int = 0,
    earlier: int | None = None,
) -> tuple[AnomalyResult, int, int, bool]:
    """``result`` for the window ``[start, end)`` of ``series`` with the classifier's label and sentence;
    the sides its episode has held off its expectation so far; the side the window itself held (``0``
    for none, or when it is not counted); and whether an episode's first window took the sides of the
    earlier one (see ``sides`` below).

    The classifier sees only ``classifier.history_points`` points before the
    window (it is causal and bounded) and judges the window once, for both
    the label and the sentence (the same as ``classify`` then ``explain``);
    when it judges the window NORMAL, the engine's ``fallback`` label stands
    (the engine found it anomalous). ``forced``, when given, is the label (an
    episode's, decided earlier) and the classifier only writes the sentence.
    ``memo`` (from :func:`new_memo`, one per series) saves re-finding the
    series' cycle for every window; the result is the same without it.
    ``anchor`` (at most ``start``), when given, is where the history the
    window is judged against ends: a later window of an episode is judged
    against the history before the episode's first window, so that its
    sentence measures the departure from what was normal, not from the
    episode's own earlier points. ``promoted``: ``forced`` is TREND only because
    a SPIKE episode has more anomalous points than a spike; the window keeps
    SPIKE when every point of it is within the classifier's ``trend_z`` of
    what was expected before the episode (``anchor``).

    ``sides`` (bits :data:`~backend.analytics.explain.ABOVE` and ``BELOW``)
    are the sides the episode's earlier windows ended held off their
    expectation, as a TREND's points are (:func:`_side`); the window's own
    side is added. Sides are told against the history before the episode
    (a later window without ``anchor`` adds none), or, given ``earlier``,
    against the history before that point. For an episode's first window
    (``gap > 0``), ``sides`` are those of the latest episode that held a
    side, which ended ``gap`` points before the window and whose sides were
    told against the history before ``earlier``: they count while ``gap`` is
    at most a quarter of the window's cycle (a phase shift's departure
    crosses its expectation between its two sides, and the windows there are
    not anomalous), and the window's side is then told against that same
    history, as are its episode's later windows' (the scoring stream passes
    ``earlier`` on): told against the points just before it, the window's
    expectation carries the earlier departure in its lag, and the end of a
    step would read as a fall. A TREND on a seasonal history that has been
    held off its expectation on both sides did not move its level: the
    cycle's shape changed (a phase shift, a damped swing). The window is
    SEASONAL, and so the episode is from there on (the same rule as for a
    single window that departs both ways, over the episode).
    """
    judged = classifier._judge_span(series, start, end, memo, anchor)
    kind = fallback if judged.kind is AnomalyType.NORMAL else judged.kind  # (the engine found it anomalous)
    label = forced if forced is not None else kind
    carried = False
    if gap > 0:
        period = judged.period
        carried = bool(sides) and earlier is not None and period is not None and gap <= period // 4
        if not carried:
            sides = 0  # (the earlier departure was too long ago, or there is no cycle to have shifted)
    if earlier is not None and (gap == 0 or carried):
        held = _side(classifier, classifier._judge_span(series, start, end, memo, earlier).z)
    elif forced is None or anchor is not None:
        held = _side(classifier, judged.z)
    else:
        # (A later window told against the points just before it carries the episode's own departure in
        # its expectation: the end of a level shift would read as a departure the other way.)
        held = 0
    sides |= held
    if label is AnomalyType.TREND and judged.seasonal and sides == ABOVE | BELOW:
        label = AnomalyType.SEASONAL
    if label is AnomalyType.SEASONAL and sides == ABOVE | BELOW:
        # How far the cycle moved, read over the departure since its first side (the sentence says it
        # when a shifted cycle explains it).
        first = earlier if earlier is not None else anchor if anchor is not None else start
        judged.shift = classifier._shift(series, first, end, judged.sd, memo)
    if promoted and anchor is not None and judged.z and max(map(abs, judged.z)) < classifier.trend_z:
        # A SPIKE episode's count of anomalous points made it TREND, but every point of the window is
        # within a TREND's distance (trend_z) of what was expected before the episode: the scores held
        # on after the spike (an engine's held alarm), the values did not move with them, so it is
        # still the spike. (A noisy point or two past a spike is no level that moved.)
        label = AnomalyType.SPIKE
    labeled = AnomalyResult._trusted(
        series.ids,
        result.window_start,
        result.window_end,
        result.anomaly_score,
        label,
        result.magnitude,
        None,
    )
    explained = AnomalyResult._trusted(
        series.ids,
        labeled.window_start,
        labeled.window_end,
        labeled.anomaly_score,
        label,
        labeled.magnitude,
        classifier._sentence(series, labeled, start, judged),
    )
    return explained, sides, held, carried
