"""Fake installed distributions for registry tests: no install, only files on ``sys.path``.

As importlib_metadata's ``tests/fixtures.py`` does, a distribution is a
``<name>-<version>.dist-info`` folder (``METADATA`` plus ``entry_points.txt``)
next to its modules in a directory put on ``sys.path``; the real
``importlib.metadata.entry_points`` machinery then finds it.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

from backend.analytics.engine import ENTRY_POINT_GROUP

# An engine module template: ``{name}`` is the engine name, ``{init}`` the body of __init__.
ENGINE_MODULE = """
from typing import ClassVar

from backend.analytics import AnomalyDetectionEngine, AnomalyResult, AnomalyType, MetricSeries


class Engine(AnomalyDetectionEngine):
    name: ClassVar[str] = "{name}"
    causal: ClassVar[bool] = True

    def __init__(self, *, window_size_points: int = 1, stride_points: int = 1) -> None:
        {init}

    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        if len(time_series) == 0:
            return []
        ts = time_series.timestamps
        return [AnomalyResult(*time_series.ids, ts[0], ts[-1], 0.0, AnomalyType.NORMAL)]

    def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
        return "fine"
"""


def engine_module(name: str, init: str = "pass") -> str:
    """Source of a module whose ``Engine`` class is a working engine named ``name``."""
    return ENGINE_MODULE.format(name=name, init=init)


def write_distribution(
    root: Path,
    dist: str,
    version: str,
    entry_points: Mapping[str, str],
    modules: Mapping[str, str],
) -> None:
    """Write distribution ``dist`` (``entry_points``: name -> ``module:attr``) and ``modules`` into ``root``.

    Modules of the same names are dropped from ``sys.modules`` so that the
    next import reads these files.
    """
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
        sys.modules.pop(module, None)
