"""The public surface of backend.analytics.fleet and .live is exactly what docs/fleet.md lists."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

PUBLISHED = {
    "backend.analytics.fleet": {
        "CsvDirectorySource",
        "DaskExecutor",
        "FleetProgress",
        "FleetRun",
        "InlineExecutor",
        "ListSource",
        "SeriesSource",
        "StoreSource",
        "dask_executor",
        "detect_fleet",
        "local_dask_cluster",
        "local_executor",
    },
    "backend.analytics.live": {
        "CHECKPOINT_VERSION",
        "REJECT_REASONS",
        "UNCHECKED",
        "CheckpointFile",
        "EngineFailure",
        "GapSplit",
        "LiveDetector",
        "LivePoint",
        "LiveStats",
        "Rejection",
    },
}
DOC = (Path(__file__).resolve().parents[2] / "docs" / "fleet.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("module_name", sorted(PUBLISHED))
def test_all_is_the_published_surface_and_documented(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert len(module.__all__) == len(set(module.__all__))
    assert set(module.__all__) == PUBLISHED[module_name]
    for name in module.__all__:
        assert hasattr(module, name)
        assert f"`{name}`" in DOC, f"docs/fleet.md does not list {module_name}.{name}"
