"""Shared fixtures: locate the NAB corpus and load a labelled slice of one file as a MetricSeries.

The corpus lives outside the repository, in ``../shared/data/nab`` relative to
the repository root. ``BACKEND_ANALYTICS_NAB`` overrides the location; otherwise
the folders above this file are searched for ``shared/data/nab``. When it is not
found the NAB tests are skipped, and the skip says why and where it looked.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from backend.analytics import MetricSeries


def _find_nab() -> tuple[Path | None, list[str]]:
    tried: list[str] = []
    env = os.environ.get("BACKEND_ANALYTICS_NAB")
    if env:
        tried.append(env)
        return (Path(env), tried) if (Path(env) / "labels").is_dir() else (None, tried)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data" / "nab"
        tried.append(str(candidate))
        if (candidate / "labels" / "combined_windows.json").is_file():
            return candidate, tried
    return None, tried


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class NabSlice:
    """A slice of one NAB file and the labelled anomaly windows that fall inside it."""

    series: MetricSeries
    windows: list[tuple[datetime, datetime]]

    def overlaps_label(self, start: datetime, end: datetime) -> bool:
        """True when ``[start, end]`` overlaps a labelled window."""
        return any(start <= hi and end >= lo for lo, hi in self.windows)


def load_nab(relative: str, start: int, stop: int) -> NabSlice:
    """Rows ``[start, stop)`` of NAB file ``relative`` (e.g. ``artificialWithAnomaly/x.csv``)."""
    root, tried = _find_nab()
    if root is None:
        pytest.skip(
            "NAB corpus not found (set BACKEND_ANALYTICS_NAB or keep ../shared/data/nab beside the "
            f"repository); looked in: {', '.join(tried)}"
        )
    with open(root / "data" / relative, newline="") as handle:
        rows = list(csv.reader(handle))[1:][start:stop]
    us = [int(_utc(r[0]).timestamp()) * 1_000_000 for r in rows]
    series = MetricSeries.from_arrays(
        "nab",
        relative.split("/", maxsplit=1)[0],
        "nab-node",
        Path(relative).stem,
        us,
        [float(r[1]) for r in rows],
    )
    with open(root / "labels" / "combined_windows.json") as handle:
        labelled = json.load(handle)[relative]
    first, last = series.timestamps[0], series.timestamps[-1]
    windows = [(_utc(a[:19]), _utc(b[:19])) for a, b in labelled]
    return NabSlice(series, [(lo, hi) for lo, hi in windows if lo <= last and hi >= first])
