"""Test-suite configuration shared by every folder.

Hypothesis profiles: timing is never asserted in this suite (speed lives in
``benchmarks/``), so per-example deadlines and the too-slow health check are
off; on a loaded 2-core CI machine they would only measure the neighbours.
Under CI (``CI`` set) the examples are derandomized, so a run is reproducible;
locally they are random, to keep exploring.

``--long`` (or ``RELIABILITY_LONG=1``) runs the reliability suite in
``tests/reliability`` at its long size; see ``RELIABILITY.md``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--long``: run tests/reliability at its long size (also ``RELIABILITY_LONG=1``)."""
    parser.addoption(
        "--long",
        action="store_true",
        default=False,
        help="run the reliability suite (tests/reliability) long: more examples, kills, batches, queries",
    )


def pytest_configure(config: pytest.Config) -> None:
    from tests.reliability import scale

    if config.getoption("--long") or os.environ.get("RELIABILITY_LONG") == "1":
        scale.LONG = True
