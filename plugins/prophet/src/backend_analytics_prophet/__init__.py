"""Prophet as a ``backend.analytics`` engine (distribution ``backend-analytics-prophet``).

One entry point, ``prophet`` (:class:`ProphetEngine`): fit Prophet on a
series' leading history, score each later point by its standardised forecast
residual; causal, with a live ``.stream()``. Method, calibration and cost:
:mod:`backend_analytics_prophet._engine`.
"""

from __future__ import annotations

from ._engine import ProphetEngine, ProphetForecast, ProphetScorer

__all__ = ["ProphetEngine", "ProphetForecast", "ProphetScorer"]
