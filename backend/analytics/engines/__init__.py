"""Built-in engines, stdlib only. Each module holds one engine.

- :mod:`backend.analytics.engines.zscore`: ``zscore``, each window against a
  trailing baseline in standard deviations; streaming, O(1) amortised per point.
- :mod:`backend.analytics.engines.novelty`: ``novelty``, multi-scale level
  novelty with rate normalisation and alarm suppression; a point scorer built
  for the NAB benchmark (see BENCHMARKS.md).
"""

from .novelty import NoveltyEngine, NoveltyScorer, NoveltyStream
from .zscore import ZScoreEngine, ZScoreStream

__all__ = ["NoveltyEngine", "NoveltyScorer", "NoveltyStream", "ZScoreEngine", "ZScoreStream"]
