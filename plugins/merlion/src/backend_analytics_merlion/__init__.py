"""Merlion anomaly detectors as ``backend.analytics`` engines (distribution ``backend-analytics-merlion``).

Two entry points: ``merlion`` (:class:`MerlionEngine`, trains on the series it
scores, not causal) and ``merlion_causal`` (:class:`MerlionCausalEngine`, trains
on a leading part and scores the rest, causal). ``model=`` picks ``"zms"``,
``"default"`` (Merlion's DefaultDetector ensemble) or ``"isolation_forest"``.
Details, calibration and cost: :mod:`backend_analytics_merlion._engine`.
"""

from __future__ import annotations

from ._engine import MODELS, MerlionCausalEngine, MerlionCausalScorer, MerlionEngine, MerlionInSampleScorer

__all__ = ["MODELS", "MerlionCausalEngine", "MerlionCausalScorer", "MerlionEngine", "MerlionInSampleScorer"]
