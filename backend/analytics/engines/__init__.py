"""Built-in engines, stdlib only. Each module holds one engine.

- :mod:`backend.analytics.engines.zscore`: ``zscore``, each window against a
  trailing baseline in standard deviations; streaming, O(1) amortised per point.
- :mod:`backend.analytics.engines.novelty`: ``novelty``, multi-scale level
  novelty with rate normalisation and alarm suppression; a point scorer built
  for the NAB benchmark (see BENCHMARKS.md).
- :mod:`backend.analytics.engines.contextual`: ``contextual``, contexts of
  quantised levels and steps at several scales, learnt online (in the style of
  CAD OSE); a fast point scorer for the NAB benchmark.
"""

from ._contextual import ContextualScorer
from .contextual import ContextualEngine, ContextualStream
from .novelty import NoveltyEngine, NoveltyScorer, NoveltyStream
from .zscore import ZScoreEngine, ZScoreStream

__all__ = [
    "ContextualEngine",
    "ContextualScorer",
    "ContextualStream",
    "NoveltyEngine",
    "NoveltyScorer",
    "NoveltyStream",
    "ZScoreEngine",
    "ZScoreStream",
]
