"""How big the reliability suite runs, and the figures it measured (read by its conftest).

The default size keeps ``tests/reliability`` to a few seconds a test, so it
runs in every ``pytest`` (and so in CI). ``pytest --long`` or
``RELIABILITY_LONG=1`` sets :data:`LONG` before the test modules are
imported, so ``size(short, long)`` picks the long figure everywhere.
"""

from __future__ import annotations

LONG = False

# test name -> {figure: value}, printed at the end of the run (and in RELIABILITY.md).
FIGURES: dict[str, dict[str, object]] = {}


def size(short: int, long: int) -> int:
    """``long`` under ``--long``/``RELIABILITY_LONG=1``, else ``short``."""
    return long if LONG else short


def seconds(short: float, long: float) -> float:
    """A duration budget: ``long`` under ``--long``, else ``short``."""
    return long if LONG else short


def record(test: str, **figures: object) -> None:
    """Keep ``figures`` of ``test`` for the end-of-run summary."""
    FIGURES.setdefault(test, {}).update(figures)
