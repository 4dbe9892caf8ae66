"""Test-suite configuration shared by every folder.

Hypothesis profiles: timing is never asserted in this suite (speed lives in
``benchmarks/``), so per-example deadlines and the too-slow health check are
off; on a loaded 2-core CI machine they would only measure the neighbours.
Under CI (``CI`` set) the examples are derandomized, so a run is reproducible;
locally they are random, to keep exploring.
"""

from __future__ import annotations

import os

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
