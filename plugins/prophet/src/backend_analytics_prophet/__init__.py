"""Prophet as a ``backend.analytics`` engine (distribution ``backend-analytics-prophet``).

One entry point, ``prophet`` (:class:`ProphetEngine`): fit Prophet on a
series' leading history, score later windows by standardised forecast
residuals; causal. Method, calibration and cost:
:mod:`backend_analytics_prophet._engine`.
"""

from __future__ import annotations

from ._engine import ProphetEngine

__all__ = ["ProphetEngine"]
