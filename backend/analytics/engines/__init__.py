"""Built-in engines, stdlib only. Each module holds one engine.

- :mod:`backend.analytics.engines.zscore`: ``zscore``, windows against a trailing baseline.
"""

from .zscore import ZScoreEngine, ZScoreStream

__all__ = ["ZScoreEngine", "ZScoreStream"]
