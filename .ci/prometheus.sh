#!/usr/bin/env bash
# The real thing: a Prometheus server, fed by `python -m simulator serve`, read back by PrometheusSource.
#
# 1. Install Debian's prometheus (2.42, with promtool) unless promtool is already there.
# 2. promtool check rules / test rules on docs/examples/alerts.yml (the shipped alerting example).
# 3. Start `simulator serve` on 127.0.0.1 with its first point 6d23h ago: it writes the history before now
#    as OpenMetrics (history.om) and serves the live points with their own timestamps.
# 4. Backfill: `promtool tsdb create-blocks-from openmetrics history.om DATA`.
# 5. Start Prometheus on 127.0.0.1 on DATA, scraping the simulator every 5 s (and the exporter of step 6).
# 6. .ci/prometheus_check.py: read everything back through PrometheusSource (in chunks), compare with the
#    simulation, detect with zscore, check the injected anomalies are found, export the scores and query
#    one back from Prometheus.
# Every step is bounded with `timeout`; the trap stops what this script started (by PID) and removes its files.
#
# Environment: PYTHON (default: python), PROMETHEUS_CHECK_TIMEOUT (seconds for the whole check, default 600).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
say() { printf '\n---- prometheus: %s ----\n' "$*"; }

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  say "installing Debian's prometheus"
  timeout 600 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
prometheus --version 2>&1 | head -1

say "promtool check rules / test rules docs/examples/alerts.yml"
timeout 60 promtool check rules docs/examples/alerts.yml
timeout 60 promtool test rules docs/examples/alerts_test.yml

WORK=$(mktemp -d /tmp/ci-prometheus.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Three free loopback ports: Prometheus, the simulator, the scores exporter.
read -r PROM_PORT SIM_PORT EXPORT_PORT < <("$PYTHON" - <<'PY'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
PY
)

say "simulator serve on 127.0.0.1:$SIM_PORT (history written to $WORK/serve/history.om)"
timeout 900 "$PYTHON" -m simulator serve --port "$SIM_PORT" --start-offset 6d23h --duration 14m \
  --out "$WORK/serve" --history >"$WORK/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  grep -q '^serving' "$WORK/serve.log" 2>/dev/null && break
  sleep 1
done
cat "$WORK/serve.log"
grep -q '^serving' "$WORK/serve.log" || { echo "ERROR: simulator serve did not start"; exit 1; }

say "backfill: promtool tsdb create-blocks-from openmetrics"
mkdir -p "$WORK/data"
timeout 300 promtool tsdb create-blocks-from openmetrics --max-block-duration=24h \
  "$WORK/serve/history.om" "$WORK/data" | tail -n 3

cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files:
  - $(pwd)/docs/examples/alerts.yml
scrape_configs:
  - job_name: simulator
    static_configs:
      - targets: ["127.0.0.1:$SIM_PORT"]
    # The backfilled history has no job/instance labels: drop them so live samples join the same series.
    metric_relabel_configs:
      - action: labeldrop
        regex: job|instance
  - job_name: analytics
    scrape_interval: 2s
    static_configs:
      - targets: ["127.0.0.1:$EXPORT_PORT"]
EOF
timeout 60 promtool check config "$WORK/prometheus.yml"

say "prometheus on 127.0.0.1:$PROM_PORT"
timeout 900 prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/data" \
  --storage.tsdb.retention.time=30d --web.listen-address="127.0.0.1:$PROM_PORT" \
  >"$WORK/prometheus.log" 2>&1 &
pids+=($!)
ready=0
for _ in $(seq 1 60); do
  if "$PYTHON" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
      "http://127.0.0.1:$PROM_PORT/-/ready" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 1
done
if [ "$ready" != 1 ]; then
  echo "ERROR: Prometheus did not become ready in 60 s; its log:"
  tail -n 30 "$WORK/prometheus.log"
  exit 1
fi

say "check: read back, detect, export, query"
if ! timeout "${PROMETHEUS_CHECK_TIMEOUT:-600}" "$PYTHON" .ci/prometheus_check.py \
    --prometheus "http://127.0.0.1:$PROM_PORT" --serve-dir "$WORK/serve" --exporter-port "$EXPORT_PORT"; then
  echo "ERROR: the Prometheus check failed; the end of Prometheus's log:"
  tail -n 30 "$WORK/prometheus.log"
  exit 1
fi
say "passed"
