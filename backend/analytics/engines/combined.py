"""The built-in ``combined`` engine: the largest of the ``novelty``, ``contextual`` and shape point scores.

Method
------
Three streaming scorers see every point: :class:`~backend.analytics.engines.novelty.NoveltyScorer`
(has the series ever been at this level, at four time scales?),
:class:`~backend.analytics.engines._contextual.ContextualScorer` (has this
context of quantised levels and steps been seen?) and
:class:`~backend.analytics.engines._shape.ShapeScorer` (has the series ever
traced this coarse shape: these 8 block means of 32 points, in this order?).
They fail differently, so the combined point score is the largest of the
three, each weighted::

    score = min(1, max(novelty, contextual_weight * contextual, shape_weight * shape))

Each scorer keeps its own warm-up and its own suppression of repeated alarms.
The weights (1.1 and 0.85) and the raw alarm threshold (``evidence_threshold``, 0.37) were
chosen on the design two thirds of the NAB corpus only; see BENCHMARKS.md for
the figures on the held-out third and on all 41 files. At 0.85 the shape
channel raises an alarm on its own only for a new shape in a series whose
shapes rarely change, after a few thousand points of history (evidence above
0.44 at the default threshold), such as a daily cycle that skips its rise;
``shape_weight=0`` gives the two-scorer engine exactly.

The engine re-scales the combined score so that ``evidence_threshold`` lands
on the alarm line 0.5 (:func:`~backend.analytics.scoring.raw_to_unit`).
Windows, magnitudes, labels, sentences and the incremental form are those of
every point-scoring engine (:class:`~backend.analytics.scoring.PointScoringEngine`):
a window scores its highest point, is anomalous exactly when that reaches
0.5, and the :class:`~backend.analytics.explain.ExplanationClassifier`
labels and explains it. Cost: the three scorers' costs added, O(1) per point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import ClassVar

from .._validate import check_real, fail_type, fail_value
from ..scoring import PointScorer, PointScoringEngine, RescaledScorer
from ._grid import check_evidence_threshold
from ._shape import ShapeScorer
from .contextual import ContextualScorer
from .novelty import NoveltyScorer

__all__ = ["CombinedEngine", "CombinedScorer"]

_NOVELTY_LEVELS = 12
_CONTEXTUAL_LEVELS = 10


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
    """``max(novelty, 1.1 * contextual, 0.85 * shape)`` per point; causal, streaming, deterministic.

    Keyword-only settings (validated; unknown keywords raise ``TypeError``):
    ``window_size_points`` (default 1) and ``stride_points`` (default 1): the
    windows, each scored by its highest point; ``contextual_weight`` (default
    1.1, > 0); ``shape_weight`` (default 0.85, >= 0; 0 switches the shape
    channel off); ``evidence_threshold`` (default 0.37, in (0, 1]): the raw
    combined score that lands on the alarm line 0.5;
    ``classify`` (default True): label and explain anomalous windows with the
    :class:`ExplanationClassifier`; ``classifier_history_points`` (default
    None: the classifier's 2048): the labelling history a live stream buffers.
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
        evidence_threshold: float = 0.37,
        classify: bool = True,
        classifier_history_points: int | None = None,
    ) -> None:
        owner = "CombinedEngine"
        self.contextual_weight, self.shape_weight = _check_weights(owner, contextual_weight, shape_weight)
        self.evidence_threshold = check_evidence_threshold(owner, evidence_threshold)
        super().__init__(
            window_size_points=window_size_points,
            stride_points=stride_points,
            classify=classify,
            classifier_history_points=classifier_history_points,
        )

    def scorer(self) -> RescaledScorer:
        """A fresh scorer for one series: :class:`CombinedScorer` re-scaled to the 0.5 alarm line."""
        raw = CombinedScorer(contextual_weight=self.contextual_weight, shape_weight=self.shape_weight)
        return RescaledScorer(raw, self.evidence_threshold)
