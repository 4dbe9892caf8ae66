"""The built-in ``combined`` engine: the novelty, contextual and shape channels, and a zscore channel.

Method
------
Three streaming novelty scorers see every point:
:class:`~backend.analytics.engines.novelty.NoveltyScorer` (has the series
ever been at this level, at four time scales?),
:class:`~backend.analytics.engines.contextual.ContextualScorer` (has this
context of quantised levels and steps been seen?) and
:class:`~backend.analytics.engines._shape.ShapeScorer` (has the series ever
traced this coarse shape: these 8 block means of 32 points, in this order?).
They fail differently, so their raw score is the largest of the three, each
weighted::

    raw = min(1, max(novelty, contextual_weight * contextual, shape_weight * shape))

re-scaled so that ``evidence_threshold`` lands on the alarm line 0.5
(:func:`~backend.analytics.scoring.raw_to_unit`), and held at 0 on the
series' first day (until a day has passed, at any step): a novelty
detector meets every level of a daily cycle for the first time then.

Novelty alone forgets nothing: a level seen once is never news again, so
yesterday's spike would hide today's. A fourth channel, the ``zscore``
engine's scorer (each point against its time of day and recent level),
answers that, read as the ``zscore`` engine reads it, in windows of 10
points scored by their highest: where one of the last 10 points alarmed
(score >= 0.5) the combined score is at least 0.5, pressed into
``[0.5, 0.5 + 0.002 * zscore_weight]`` so that it ranks below the novelty
channels' alarms; below the line its scores are halved. (Read point by
point, a fading level shift came back above the line every few minutes,
each time a new alarm.) ``zscore_weight=0`` gives the novelty channels
alone.

Defaults: the weights (1.1 and 0.85) were chosen on the design two thirds of
the NAB corpus; ``evidence_threshold`` is 0.36, just below NAB's optimum for
the novelty channels (0.37 raw), so that on NAB the optimised threshold lies
above the zscore channel's band and NAB scores the novelty channels exactly
(see BENCHMARKS.md for the figures, and for those at the 0.5 line).

Windows, magnitudes, labels, sentences and the incremental form are those of
every point-scoring engine (:class:`~backend.analytics.scoring.PointScoringEngine`).
Cost: the four scorers' costs added, O(1) per point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import ClassVar

from .._validate import check_real, fail_type, fail_value
from ..scoring import PointScorer, PointScoringEngine, RescaledScorer
from ._grid import QuietStart, check_evidence_threshold
from ._shape import ShapeScorer
from .contextual import ContextualScorer
from .novelty import NoveltyScorer
from .zscore import ZScoreScorer, check_zone, standard_offset_minutes

__all__ = ["CombinedEngine", "CombinedScorer"]

_NOVELTY_LEVELS = 12
_CONTEXTUAL_LEVELS = 10
_ZSCORE_WINDOW = 10  # the zscore engine's default window, in points


class CombinedScorer(PointScorer):
    """The streaming core of ``combined``: floats in, ``max(novelty, w * contextual, v * shape)`` out.

    ``update(x)`` returns the score of ``x`` in [0, 1]; ``update_many(xs)``
    equals ``[update(x) for x in xs]``. Values must be finite real numbers
    (checked before any scorer sees them, so a bad value changes no state).

    >>> scorer = CombinedScorer()
    >>> max(scorer.update_many([10.0 + (i % 5) for i in range(400)]))
    0.0
    >>> scorer.update(100.0) > 0.5
    True
    """

    __slots__ = ("_contextual", "_novelty", "_shape", "_shape_weight", "_weight", "warmup_points")

    def __init__(self, *, contextual_weight: float = 1.1, shape_weight: float = 0.85) -> None:
        self._weight, self._shape_weight = _check_weights("CombinedScorer", contextual_weight, shape_weight)
        self._novelty = NoveltyScorer(levels=_NOVELTY_LEVELS)
        self._contextual = ContextualScorer(levels=_CONTEXTUAL_LEVELS)
        self._shape = ShapeScorer(levels=_CONTEXTUAL_LEVELS)
        self.warmup_points = min(
            self._novelty.warmup_points, self._contextual.warmup_points, self._shape.warmup_points
        )

    def __repr__(self) -> str:
        return f"CombinedScorer(contextual_weight={self._weight}, shape_weight={self._shape_weight})"

    def update(self, x: float, t: int = 0) -> float:
        """Take one value; return its score in [0, 1]."""
        return self._run([x])[0]

    def update_many(self, values: Iterable[float], stamps: Sequence[int] | None = None) -> list[float]:
        """Take ``values`` in order; return their scores (timestamps are not read)."""
        return self._run(values)

    def _run(self, values: Iterable[float]) -> list[float]:
        batch = list(values)
        for i, v in enumerate(batch):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                fail_type("CombinedScorer", f"values[{i}]", "a finite real number", v)
            if not math.isfinite(v):
                fail_value("CombinedScorer", f"values[{i}]", "a finite real number", v)
        floats = [float(v) for v in batch]
        a = self._novelty._run(floats)
        b = self._contextual._run(floats)
        c = self._shape._run(floats)
        w, v = self._weight, self._shape_weight
        # The weights can push a score past 1: cap it.
        return [min(1.0, max(x, w * y, v * z)) for x, y, z in zip(a, b, c, strict=True)]


def _check_weights(owner: str, contextual_weight: object, shape_weight: object) -> tuple[float, float]:
    """Validate the two channel weights: ``contextual_weight > 0``, ``shape_weight >= 0``."""
    weight = check_real(owner, "contextual_weight", contextual_weight)
    if weight <= 0.0:
        fail_value(owner, "contextual_weight", "a positive number", contextual_weight)
    shape = check_real(owner, "shape_weight", shape_weight)
    if shape < 0.0:
        fail_value(owner, "shape_weight", "a non-negative number", shape_weight)
    return weight, shape


class CombinedEngine(PointScoringEngine):
    """Novelty, contextual and shape channels, and a zscore channel; causal, streaming, deterministic.

    Keyword-only settings (validated; unknown keywords raise ``TypeError``):
    ``window_size_points`` (default 1) and ``stride_points`` (default 1): the
    windows, each scored by its highest point; ``contextual_weight`` (default
    1.1, > 0); ``shape_weight`` (default 0.85, >= 0; 0 switches the shape
    channel off); ``zscore_weight`` (default 1.0, >= 0; 0 switches the zscore
    channel off); ``evidence_threshold`` (default 0.36, in (0, 1]): the raw
    novelty score that lands on the alarm line 0.5; ``utc_offset_minutes``
    (default 0, -840..840): the local time in which the zscore channel and the
    explanations read Saturdays and Sundays (see ``zscore``); ``timezone``
    (default None): instead, an IANA zone whose clock, daylight saving
    included, the zscore channel follows (see ``zscore``);
    ``classify`` (default True): label and explain anomalous windows with the
    :class:`ExplanationClassifier`; ``classifier_history_points`` (default
    None: the classifier's 12288): the labelling history a live stream buffers.
    """

    name: ClassVar[str] = "combined"
    causal: ClassVar[bool] = True

    def __init__(
        self,
        *,
        window_size_points: int = 1,
        stride_points: int = 1,
        contextual_weight: float = 1.1,
        shape_weight: float = 0.85,
        zscore_weight: float = 1.0,
        evidence_threshold: float = 0.36,
        utc_offset_minutes: int = 0,
        timezone: str | None = None,
        classify: bool = True,
        classifier_history_points: int | None = None,
    ) -> None:
        owner = "CombinedEngine"
        zone = check_zone(owner, timezone, utc_offset_minutes)
        self.timezone = timezone
        self.contextual_weight, self.shape_weight = _check_weights(owner, contextual_weight, shape_weight)
        self.zscore_weight = check_real(owner, "zscore_weight", zscore_weight)
        if self.zscore_weight < 0.0:
            fail_value(owner, "zscore_weight", "a non-negative number", zscore_weight)
        self.evidence_threshold = check_evidence_threshold(owner, evidence_threshold)
        self.utc_offset_minutes = (
            utc_offset_minutes  # checked by PointScoringEngine, before the scorer is built
        )
        super().__init__(
            window_size_points=window_size_points,
            stride_points=stride_points,
            classify=classify,
            classifier_history_points=classifier_history_points,
            utc_offset_minutes=standard_offset_minutes(zone, self.utc_offset_minutes),
        )

    def scorer(self) -> PointScorer:
        """A fresh scorer for one series: the novelty channels (quiet on day 0) and the zscore channel."""
        raw = CombinedScorer(contextual_weight=self.contextual_weight, shape_weight=self.shape_weight)
        novelty = QuietStart(RescaledScorer(raw, self.evidence_threshold))
        if not self.zscore_weight:
            return novelty
        zscore = ZScoreScorer(utc_offset_minutes=self.utc_offset_minutes, timezone=self.timezone)
        return _WithZScore(novelty, zscore, self.zscore_weight)


class _WithZScore(PointScorer):
    """``max(novelty, zscore_weight * zscore)`` per point, capped at 1: both channels calibrated to 0.5.

    The zscore channel is read as the ``zscore`` engine reads its scorer, in
    windows of ``_ZSCORE_WINDOW`` points scored by their highest point: a
    point alarms on that channel when one of the last ``_ZSCORE_WINDOW``
    points did. As the end of an incident or a level shift comes and goes
    around the line point by point, ``combined``'s one-point windows would
    otherwise raise a new alarm at each return (a deploy's shift: a dozen).
    """

    __slots__ = ("_recent", "novelty", "warmup_points", "weight", "zscore")

    def __init__(self, novelty: PointScorer, zscore: PointScorer, weight: float) -> None:
        self.novelty, self.zscore, self.weight = novelty, zscore, weight
        self.warmup_points = min(novelty.warmup_points, zscore.warmup_points)
        # The zscore channel's alarms among the latest _ZSCORE_WINDOW points: (points ago, score).
        self._recent: list[tuple[int, float]] = []

    def __setstate__(self, state: tuple[None, dict[str, object]]) -> None:
        """Restore a pickled scorer; one from before the channel's windows starts with no alarms held."""
        slots = dict(state[1])
        slots.setdefault("_recent", [])
        slots.pop("_held", None)  # (a constant, _ZSCORE_WINDOW - 1, kept per scorer for a while)
        for name, value in slots.items():
            object.__setattr__(self, name, value)

    @property
    def warmup_us(self) -> int:  # type: ignore[override]  # (a class attribute on PointScorer)
        """0 (none): the zscore channel may alarm on the first day."""
        return min(self.novelty.warmup_us, self.zscore.warmup_us)

    def update(self, x: float, t: int) -> float:
        """The combined score of ``x`` at ``t``."""
        return self.update_many((x,), (t,))[0]

    def update_many(self, values: Sequence[float], stamps: Sequence[int]) -> list[float]:
        """The combined scores of ``values``."""
        a = self.novelty.update_many(values, stamps)
        b = self.zscore.update_many(values, stamps)
        w = self.weight
        keep, recent = _ZSCORE_WINDOW - 1, self._recent
        out: list[float] = []
        for x, y in zip(a, b, strict=True):
            if recent:  # (the held alarms age by a point; those out of the window go)
                recent = [(age + 1, s) for age, s in recent if age < keep]
            if y >= 0.5:
                recent.append((0, y))
            # The zscore channel alarms where it alarms (0.5), but ranks below the novelty channels:
            # its scores are pressed into [0.5, 0.5 + 0.002 w] above the line, [0, 0.25) below it.
            z = 0.5 + w * 0.002 * (max(s for _, s in recent) - 0.5) if recent else 0.5 * y
            out.append(x if x > z else z)
        self._recent = recent
        return out
