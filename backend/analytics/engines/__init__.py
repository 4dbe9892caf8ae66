"""Built-in engines, stdlib only. Each module holds one engine.

- :mod:`backend.analytics.engines.zscore`: ``zscore``, each window against a
  trailing baseline in standard deviations; streaming, O(1) amortised per point.
- :mod:`backend.analytics.engines.novelty`: ``novelty``, multi-scale level
  novelty with rate normalisation and alarm suppression; a point scorer built
  for the NAB benchmark (see BENCHMARKS.md).
- :mod:`backend.analytics.engines.contextual`: ``contextual``, contexts of
  quantised levels and steps at several scales, learnt online (in the style of
  CAD OSE); a fast point scorer for the NAB benchmark.
- :mod:`backend.analytics.engines.combined`: ``combined``, the larger of the
  ``novelty`` and ``contextual`` point scores; our strongest engine on NAB.
"""

from ._contextual import ContextualScorer
from .combined import CombinedEngine, CombinedScorer, CombinedStream
from .contextual import ContextualEngine, ContextualStream
from .novelty import NoveltyEngine, NoveltyScorer, NoveltyStream
from .zscore import ZScoreEngine, ZScoreStream

__all__ = [
    "CombinedEngine",
    "CombinedScorer",
    "CombinedStream",
    "ContextualEngine",
    "ContextualScorer",
    "ContextualStream",
    "NoveltyEngine",
    "NoveltyScorer",
    "NoveltyStream",
    "ZScoreEngine",
    "ZScoreStream",
]
