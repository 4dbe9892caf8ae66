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
The weights (1.1 and 0.85) and the alarm threshold (``threshold``, 0.37) were
chosen on the design two thirds of the NAB corpus only; see BENCHMARKS.md for
the figures on the held-out third and on all 41 files. At 0.85 the shape
channel raises an alarm on its own only for a new shape in a series whose
shapes rarely change, after a few thousand points of history (evidence above
0.44 at the default threshold), such as a daily cycle that skips its rise;
``shape_weight=0`` gives the two-scorer engine exactly.

Windows, magnitudes, labels, sentences and the incremental form are those of
the other point-scoring engines (:class:`~backend.analytics.engines._stream.ScorerStream`):
a window scores its highest point, is anomalous exactly when that reaches
``threshold``, and the :class:`~backend.analytics.explain.ExplanationClassifier`
labels and explains it. Cost: the three scorers' costs added, O(1) per point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import ClassVar

from .._validate import check_real, fail_type, fail_value
from ._contextual import ContextualScorer
from ._shape import ShapeScorer
from ._stream import ScorerEngine, ScorerStream
from .novelty import NoveltyScorer

__all__ = ["CombinedEngine", "CombinedScorer", "CombinedStream"]

_NOVELTY_LEVELS = 12
_CONTEXTUAL_LEVELS = 10


class CombinedScorer:
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

    __slots__ = ("_contextual", "_novelty", "_shape", "_shape_weight", "_weight")

    def __init__(self, *, contextual_weight: float = 1.1, shape_weight: float = 0.85) -> None:
        self._weight, self._shape_weight = _check_weights("CombinedScorer", contextual_weight, shape_weight)
        self._novelty = NoveltyScorer(levels=_NOVELTY_LEVELS)
        self._contextual = ContextualScorer(levels=_CONTEXTUAL_LEVELS)
        self._shape = ShapeScorer(levels=_CONTEXTUAL_LEVELS)

    def __repr__(self) -> str:
        return f"CombinedScorer(contextual_weight={self._weight}, shape_weight={self._shape_weight})"

    def update(self, value: float) -> float:
        """Take one value; return its score in [0, 1]."""
        return self._run([value], None)[0]

    def update_many(self, values: Iterable[float]) -> list[float]:
        """Take ``values`` in order; return their scores."""
        return self._run(values, None)

    def _run(self, values: Iterable[float], distances: list[int] | None) -> list[float]:
        batch = list(values)
        for i, v in enumerate(batch):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                fail_type("CombinedScorer", f"values[{i}]", "a finite real number", v)
            if not math.isfinite(v):
                fail_value("CombinedScorer", f"values[{i}]", "a finite real number", v)
        floats = [float(v) for v in batch]
        dist_a: list[int] = []
        dist_b: list[int] = []
        a = self._novelty._run(floats, dist_a)
        b = self._contextual._run(floats, dist_b)
        c = self._shape._run(floats)
        w, v = self._weight, self._shape_weight
        if distances is not None:
            # Distances in a common unit: bins of a grid with both grids' bin counts multiplied.
            # (A new shape is made of visited levels: the shape scorer adds no distance.)
            distances.extend(
                max(x * _CONTEXTUAL_LEVELS, y * _NOVELTY_LEVELS) for x, y in zip(dist_a, dist_b, strict=True)
            )
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


class CombinedEngine(ScorerEngine):
    """``max(novelty, 1.1 * contextual, 0.85 * shape)`` per point; causal, streaming, deterministic.

    Keyword-only settings (validated; unknown keywords raise ``TypeError``):
    ``window_size_points`` (default 1) and ``stride_points`` (default 1): the
    windows, each scored by its highest point; ``contextual_weight`` (default
    1.1, > 0); ``shape_weight`` (default 0.85, >= 0; 0 switches the shape
    channel off); ``threshold`` (default 0.37, in (0, 1]): a window is anomalous
    exactly when its score is at or above it (``score_threshold``);
    ``classify`` (default True): label and explain anomalous windows with the
    :class:`ExplanationClassifier`; ``classifier_history_points`` (default
    None: the classifier's 2048): the labelling history a live stream buffers.
    """

    name: ClassVar[str] = "combined"
    causal: ClassVar[bool] = True
    #: Grid bins behind ``magnitude``: both scorers' distances are expressed in this unit.
    levels: int = _NOVELTY_LEVELS * _CONTEXTUAL_LEVELS

    def __init__(
        self,
        *,
        window_size_points: int = 1,
        stride_points: int = 1,
        contextual_weight: float = 1.1,
        shape_weight: float = 0.85,
        threshold: float = 0.37,
        classify: bool = True,
        classifier_history_points: int | None = None,
    ) -> None:
        owner = "CombinedEngine"
        self._init_common(
            owner, window_size_points, stride_points, threshold, classify, classifier_history_points
        )
        self.contextual_weight, self.shape_weight = _check_weights(owner, contextual_weight, shape_weight)

    def __repr__(self) -> str:
        return (
            f"CombinedEngine(window_size_points={self.window_size_points}, "
            f"stride_points={self.stride_points}, contextual_weight={self.contextual_weight}, "
            f"shape_weight={self.shape_weight}, "
            f"threshold={self.threshold}, classify={self.classify})"
        )

    def scorer(self) -> CombinedScorer:
        """A fresh streaming core with this engine's settings."""
        return CombinedScorer(contextual_weight=self.contextual_weight, shape_weight=self.shape_weight)


class CombinedStream(ScorerStream):
    """Incremental ``combined`` detection: ``update(chunk)`` returns the windows the chunk completes.

    The concatenation of all returned lists equals ``engine.detect`` on the
    concatenated series, whatever the chunking.
    """

    _owner: ClassVar[str] = "CombinedStream"

    def __init__(
        self, engine: CombinedEngine, tenant_id: str, cluster_id: str, node_id: str, metric_name: str
    ) -> None:
        if not isinstance(engine, CombinedEngine):
            fail_type("CombinedStream", "engine", "a CombinedEngine", engine)
        super().__init__(engine, tenant_id, cluster_id, node_id, metric_name)


CombinedEngine._stream_class = CombinedStream
