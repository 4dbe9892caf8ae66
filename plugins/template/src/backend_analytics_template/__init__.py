"""Template engine plugin for ``backend.analytics``: one class, one entry-point line.

:class:`MedianMADEngine` scores sliding windows by the robust z-score (median
and MAD) of their most extreme point against the trailing history. It uses only
the standard library and is causal. Copy this folder to start a plugin of your
own; ``docs/plugins.md`` in the repository walks through it.
"""

from __future__ import annotations

from ._engine import MedianMADEngine

__all__ = ["MedianMADEngine"]
