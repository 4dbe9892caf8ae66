"""The built-in ``contextual`` engine: learnt contexts over five channels, graded novelty, alarm suppression.

Method
------
The detector keeps, per channel, the set of *contexts* it has seen, and asks
of every point how many of its contexts are new, how rare new contexts are in
that channel, and how far beyond the learnt range a new level lies.

1. **Warm-up and grid.** The first ``warmup_points`` points (default 250)
   score 0. Their range ``[lo, hi]`` fixes a grid of bins of width
   ``(hi - lo) / levels`` centred on the range (a flat start gets bins of
   ``1e-9`` of its level, or the smallest normal float at 0). A value's
   position is ``z = (x - centre) / width`` bins; beyond ``c = 0.75 * levels``
   bins from the centre the grid widens logarithmically,
   ``z -> c * (1 + ln(z / c))``, so that any finite value (1e-300 or 1e308)
   maps to a bounded position and a heavy tail does not open a new bin with
   every slightly higher peak. A level is the position rounded to the
   nearest whole bin, so the warm-up's extremes (``+-levels / 2``) lie
   mid-bin, with half a bin of margin on either side. Positions are kept in
   exact fixed-point integers (1/64 bin), so moving sums never drift.
2. **Learning the warm-up.** Once the grid is fixed, the warm-up points are
   run through the channels in learning mode: their contexts are known
   before the first point is scored (the probationary learning of CAD OSE
   and ARTime, done with a fixed length because a stream has no known end).
3. **Channels (contexts).** For each point: the level (bin) of the value;
   the level of the moving average over the last 16, 64 and 256 points; and
   the *transition* (previous level, level), which CAD OSE would call a
   context of two facts. A channel's context is new when its set has never
   held it; it is then learnt.
4. **Evidence.** A new context in channel ``c`` weighs
   ``1 / (1 + r_c / 0.05)``, with ``r_c = k_c / (n + 1000)`` the channel's
   rate of new contexts so far (``k_c`` of ``n`` points, a prior of one per
   1000): a channel that keeps finding new contexts (noise, drift, a heavy
   tail) is trusted less when it does it again, while a channel that has been
   quiet for long speaks loudly. A new level ``d`` bins beyond the channel's
   learnt range weighs ``1 + 0.5 * min(d, 4)`` times more. The raw score
   ``e`` is the summed evidence divided by the five channels.
5. **Alarm suppression.** A point with evidence ``e > 0`` scores
   ``e / (1 + e)``; after a point scores, the next ``rest_points`` points
   (default 150, CAD OSE's "probationary period / 5") score 0 unless their
   evidence exceeds it (an escalation, which starts a new rest period). One
   anomaly raises one alarm, whatever threshold the caller applies, and the
   earliest evidence is the one reported.

The point score is in [0, 1). A window's score is the largest point score
inside it; the window is anomalous (label not NORMAL) exactly when that score
is at or above ``threshold`` (the engine's ``score_threshold``). The default
0.2268 is the threshold the Numenta Anomaly Benchmark's corpus-wide
optimisation picks (standard profile) for the default settings on the design
files (see BENCHMARKS.md).

References: M. Smirnov, "CAD: Contextual Anomaly Detector" (CAD OSE, 2016,
NAB ``nab/detectors/context_ose``); M. Hampton, "ARTimeNAB" (2021);
S. Ahmad, A. Lavin, S. Purdy, Z. Agha, "Unsupervised real-time anomaly
detection for streaming data", Neurocomputing 262 (2017).

Cost
----
O(1) work and memory per point, amortised: a 256-value ring, five
set look-ups, and sets bounded by the logarithmic grid. The warm-up is
learnt once (O(``warmup_points``)). The core, :class:`ContextualScorer`,
takes plain floats; :class:`ContextualStream` takes :class:`MetricSeries`
chunks and returns the same results as :meth:`ContextualEngine.detect` on the
whole series, whatever the chunking.
"""

from __future__ import annotations

from typing import ClassVar

from .._validate import fail_type
from ._contextual import ContextualScorer, check_settings
from ._stream import ScorerEngine, ScorerStream

__all__ = ["DEFAULT_THRESHOLD", "ContextualEngine", "ContextualScorer", "ContextualStream"]

#: The default ``threshold``: NAB's standard-profile optimum for the defaults on the design files.
DEFAULT_THRESHOLD = 0.2268

_LABEL_CONTEXT = 32  # points before a window that the fallback SPIKE/TREND label compares against


class ContextualEngine(ScorerEngine):
    """Contextual novelty over five channels with alarm suppression; causal, streaming, deterministic.

    Keyword-only settings (all validated; unknown keywords raise ``TypeError``):

    - ``window_size_points`` (default 1), ``stride_points`` (default 1): the
      windows; a window's score is the largest point score inside it.
    - ``warmup_points`` (default 250, >= 2): these points score 0; they fix
      the grid and are learnt.
    - ``levels`` (default 10, at most 1,000,000): bins across the range of
      the warm-up points.
    - ``rest_points`` (default 150, >= 0): points after an alarm during which
      only a higher score is reported.
    - ``threshold`` (default 0.2268, in (0, 1]): a window is anomalous exactly
      when its score is at or above it (exposed as ``score_threshold``).
    - ``classify`` (default True): label and explain anomalous windows with the
      :class:`ExplanationClassifier` (else SPIKE/TREND from the window's shape).
    - ``classifier_history_points`` (default None: the classifier's default,
      2048): points before a window the classifier reads; a live stream
      buffers that many, so lower it to save memory per stream.

    >>> from datetime import datetime, timedelta, timezone
    >>> from backend.analytics import MetricSeries
    >>> t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> vals = [10.0 + (i % 7) * 0.5 for i in range(600)]
    >>> vals[500] = 60.0
    >>> s = MetricSeries("acme", "c-1", "n-1", "cpu", [t0 + timedelta(minutes=i) for i in range(600)], vals)
    >>> [r.window_start - t0 for r in ContextualEngine().detect(s) if r.is_anomalous]
    [datetime.timedelta(seconds=30000)]
    """

    name: ClassVar[str] = "contextual"
    causal: ClassVar[bool] = True
    #: The default of ``score_threshold``; an instance's value is its ``threshold`` setting.
    default_score_threshold: ClassVar[float] = DEFAULT_THRESHOLD

    def __init__(
        self,
        *,
        window_size_points: int = 1,
        stride_points: int = 1,
        warmup_points: int = 250,
        levels: int = 10,
        rest_points: int = 150,
        threshold: float = DEFAULT_THRESHOLD,
        classify: bool = True,
        classifier_history_points: int | None = None,
    ) -> None:
        owner = "ContextualEngine"
        self._init_common(
            owner, window_size_points, stride_points, threshold, classify, classifier_history_points
        )
        self.warmup_points, self.levels, self.rest_points = check_settings(
            owner, warmup_points, levels, rest_points
        )

    def __repr__(self) -> str:
        return (
            f"ContextualEngine(window_size_points={self.window_size_points}, "
            f"stride_points={self.stride_points}, warmup_points={self.warmup_points}, "
            f"levels={self.levels}, rest_points={self.rest_points}, "
            f"threshold={self.threshold}, classify={self.classify})"
        )

    def scorer(self) -> ContextualScorer:
        """A fresh streaming core with this engine's settings (plain floats in, point scores out)."""
        return ContextualScorer(
            warmup_points=self.warmup_points, levels=self.levels, rest_points=self.rest_points
        )


class ContextualStream(ScorerStream):
    """Incremental ``contextual`` detection for one series: feed points, get completed windows.

    ``update(chunk)`` takes a :class:`MetricSeries` chunk with the stream's ids
    whose first timestamp is later than every point seen so far and returns the
    results of the windows the chunk completes; ``push(timestamp, value)`` takes
    one point. The concatenation of all returned lists equals ``engine.detect``
    on the concatenated series, whatever the chunking. Memory is bounded by the
    engine's ``history_points + window_size_points`` buffered points (at least
    32) plus the scorer's O(1) state.
    """

    _owner: ClassVar[str] = "ContextualStream"

    def __init__(
        self, engine: ContextualEngine, tenant_id: str, cluster_id: str, node_id: str, metric_name: str
    ) -> None:
        if not isinstance(engine, ContextualEngine):
            fail_type("ContextualStream", "engine", "a ContextualEngine", engine)
        super().__init__(engine, tenant_id, cluster_id, node_id, metric_name)


ContextualEngine._stream_class = ContextualStream
