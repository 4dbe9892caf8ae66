"""Built-in engines, stdlib only. Each module holds one engine and its scorer.

Every built-in engine is a :class:`~backend.analytics.scoring.PointScoringEngine`
over a :class:`~backend.analytics.scoring.PointScorer`: windows, the 0.5
alarm line, labels, magnitudes, sentences and ``.stream()`` come from there.

- :mod:`backend.analytics.engines.zscore`: ``zscore``, each point against
  what its time of day (the previous days) and its recent level expect, in
  robust standard deviations; the engine for fleet metrics.
- :mod:`backend.analytics.engines.novelty`: ``novelty``, multi-scale level
  novelty with rate normalisation and alarm suppression.
- :mod:`backend.analytics.engines.contextual`: ``contextual``, contexts of
  quantised levels and steps at several scales, learnt online (in the style of
  CAD OSE).
- :mod:`backend.analytics.engines.combined`: ``combined``, the novelty,
  contextual and shape channels together; our strongest engine on NAB.
"""

from .combined import CombinedEngine, CombinedScorer
from .contextual import ContextualEngine, ContextualScorer
from .novelty import NoveltyEngine, NoveltyScorer
from .zscore import ZScoreEngine, ZScoreScorer

__all__ = [
    "CombinedEngine",
    "CombinedScorer",
    "ContextualEngine",
    "ContextualScorer",
    "NoveltyEngine",
    "NoveltyScorer",
    "ZScoreEngine",
    "ZScoreScorer",
]
