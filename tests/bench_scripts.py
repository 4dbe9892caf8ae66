"""Load a script of ``benchmarks/`` as a module, for the tests of the benchmarks' commands and generators.

The benchmarks are scripts, not a package, so they are loaded from their file.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def load_benchmark(name: str) -> Any:
    """``benchmarks/<name>.py`` as a module named ``name`` (registered in ``sys.modules``, so that its
    dataclasses resolve their annotations)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
