#!/usr/bin/env bash
# Install and test the optional engine plugins, each in its own virtual environment.
#
# Each plugin in plugins/<name>/ is its own distribution with its own pins
# (merlion needs numpy<2 and pandas<2.2, which the dev environment does not
# have), so each gets a venv under ${PLUGIN_VENV_ROOT:-.venvs}/plugin-<name>
# holding the core (editable), the plugin (editable, with its pinned
# dependencies) and pytest. Then the plugin's own tests run from its folder
# (its pyproject.toml configures pytest: warnings are errors, -ra prints every
# skip with its reason). Existing venvs are reused; pip then only checks them.
#
# Environment: PLUGINS (default "template merlion prophet"), PLUGIN_VENV_ROOT,
# BACKEND_ANALYTICS_NAB (the NAB corpus; default ../shared/data/nab).
# Exits non-zero when an install or a test fails; says why whenever it skips.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV_ROOT=${PLUGIN_VENV_ROOT:-.venvs}
case "$VENV_ROOT" in /*) ;; *) VENV_ROOT="$ROOT/$VENV_ROOT" ;; esac
PLUGINS=${PLUGINS:-"template merlion prophet"}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

say() { printf '\n---- plugins: %s ----\n' "$*"; }

# The real fit-and-detect tests read the NAB corpus beside the repository.
if [ -z "${BACKEND_ANALYTICS_NAB:-}" ] && [ -d "$ROOT/../shared/data/nab/labels" ]; then
  BACKEND_ANALYTICS_NAB=$(cd "$ROOT/../shared/data/nab" && pwd)
fi
if [ -n "${BACKEND_ANALYTICS_NAB:-}" ] && [ -d "$BACKEND_ANALYTICS_NAB/labels" ]; then
  export BACKEND_ANALYTICS_NAB
  echo "NAB corpus: $BACKEND_ANALYTICS_NAB"
else
  unset BACKEND_ANALYTICS_NAB
  echo "WARNING: NAB corpus not found (looked for \$BACKEND_ANALYTICS_NAB and $ROOT/../shared/data/nab):"
  echo "         the plugins' NAB fit-and-detect tests will be SKIPPED, each printing this reason."
fi

failed=()
for name in $PLUGINS; do
  dir="plugins/$name"
  if [ ! -f "$dir/pyproject.toml" ]; then
    echo "ERROR: $dir/pyproject.toml not found (PLUGINS=$PLUGINS)"
    failed+=("$name (missing)")
    continue
  fi
  if [ "$name" = merlion ] && ! command -v java >/dev/null 2>&1; then
    # model="default" runs Merlion's random cut forest in a JVM; its tests need java.
    say "merlion needs java; installing default-jre-headless"
    if ! { apt-get update -qq && apt-get install -y -qq default-jre-headless >/dev/null; }; then
      echo "ERROR: no java on PATH and it could not be installed: merlion's model='default' tests would fail"
      failed+=("$name (java)")
      continue
    fi
  fi
  venv="$VENV_ROOT/plugin-$name"
  say "$name: venv $venv"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
  fi
  say "$name: pip install -e . -e $dir pytest"
  if ! nice -n 5 "$venv/bin/python" -m pip install -q -e . -e "$dir" "pytest>=7.4"; then
    echo "ERROR: installing $dir failed"
    failed+=("$name (install)")
    continue
  fi
  "$venv/bin/python" - "$name" <<'PY'
import sys
from importlib import metadata
from backend.analytics import EngineRegistry

dist = f"backend-analytics-{sys.argv[1]}"
print(f"{dist} {metadata.version(dist)}; engines: {', '.join(EngineRegistry.default().names())}")
for pkg in ("salesforce-merlion", "prophet", "numpy", "pandas"):
    try:
        print(f"  {pkg} {metadata.version(pkg)}")
    except metadata.PackageNotFoundError:
        pass
PY
  say "$name: pytest ($dir/tests)"
  if ! (cd "$dir" && "$venv/bin/python" -m pytest -ra -p no:cacheprovider); then
    echo "ERROR: $name plugin tests failed"
    failed+=("$name (tests)")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  say "FAILED: ${failed[*]}"
  exit 1
fi
say "all plugins passed: $PLUGINS"
