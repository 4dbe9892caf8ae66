#!/usr/bin/env bash
# Fleet runs on a real Dask cluster (issue 12).
#
# 1. Install the [dask] extra (distributed) into the current (CI) virtual environment.
# 2. tests/dask with DASK_REQUIRED=1: they start a LocalCluster (2 worker processes on 127.0.0.1)
#    and fail, rather than skip, if distributed is missing.
# 3. .ci/dask_check.py: a simulated multi-tenant fleet in a SQLite store, detected through a fresh
#    2-worker LocalCluster (workers open the store themselves), checked equal to the serial run.
# Every step is bounded with `timeout`; the cluster is started and stopped by the Python processes.
#
# Environment: PYTHON (default: python), DASK_CHECK_TIMEOUT (seconds for the check, default 600).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
say() { printf '\n---- dask: %s ----\n' "$*"; }

say "pip install -e '.[dask]'"
timeout 600 "$PYTHON" -m pip install -q -e '.[dask]'
"$PYTHON" -c "import distributed; print('distributed', distributed.__version__)"

say "tests/dask (DASK_REQUIRED=1: a skip is a failure)"
DASK_REQUIRED=1 timeout 600 "$PYTHON" -m pytest -q -p no:cacheprovider -rs tests/dask

say "simulated multi-tenant fleet through a 2-worker LocalCluster vs the serial run"
timeout "${DASK_CHECK_TIMEOUT:-600}" "$PYTHON" .ci/dask_check.py
say "passed"
