"""`python -m simulator serve`: the fleet pinned to the wall clock, its scrape body and its history."""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from simulator import Fleet, FleetConfig
from simulator.__main__ import main
from simulator.serve import LiveFleet, anchored_config, live_from, parse_duration, write_history

prom_parser = pytest.importorskip("prometheus_client.parser")
om_parser = pytest.importorskip("prometheus_client.openmetrics.parser")

NOW = datetime(2024, 5, 1, 10, 7, 30, 500_000, tzinfo=timezone.utc)


def _config() -> FleetConfig:
    return FleetConfig.uniform(
        tenants=1, clusters=1, nodes_per_cluster=2, points=400, metrics=("cpu", "requests_total"), seed=5
    )


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("6d23h", 601_200)])
def test_parse_duration(text: str, seconds: int) -> None:
    """Durations are seconds, or sums of w/d/h/m/s parts."""
    assert parse_duration(text) == seconds


def test_parse_duration_rejects_garbage() -> None:
    """Anything else is a ValueError showing the accepted shapes."""
    with pytest.raises(ValueError, match=r"duration must look like 90, 90s, 15m, .* got '1\.5h'"):
        parse_duration("1.5h")


def test_anchored_config_puts_a_point_at_now() -> None:
    """The fleet starts start_offset (whole steps) before now, so a grid point falls at now's second."""
    cfg = anchored_config(_config(), NOW, 3600 + 100)
    assert cfg.start == datetime(2024, 5, 1, 9, 7, 30, tzinfo=timezone.utc)
    assert live_from(cfg, NOW) == datetime(2024, 5, 1, 10, 7, 30, tzinfo=timezone.utc)
    assert live_from(cfg, NOW + timedelta(seconds=299)) == live_from(cfg, NOW)


def test_scrape_body_is_each_series_latest_point_with_its_timestamp() -> None:
    """At time t every series exposes its latest point at or before t, stamped with its own instant."""
    cfg = anchored_config(_config(), NOW, 3600)
    fleet = Fleet(cfg)
    live = LiveFleet(fleet)
    at = NOW + timedelta(seconds=400)  # one step and a bit after the point at NOW
    parsed = {f.name: f for f in prom_parser.text_string_to_metric_families(live.render_at(at))}
    assert set(parsed) == {"sim_cpu", "sim_requests"}
    assert parsed["sim_requests"].type == "counter"
    want_us = int((live_from(cfg, at)).timestamp() * 1_000_000)
    for s in fleet.iter_series():
        i = list(s.epoch_us).index(want_us)
        family = parsed["sim_cpu" if s.metric_name == "cpu" else "sim_requests"]
        [sample] = [x for x in family.samples if x.labels["node"] == s.node_id]
        assert sample.value == s.values[i]
        assert sample.labels == {"tenant": s.tenant_id, "cluster": s.cluster_id, "node": s.node_id}
        assert float(sample.timestamp) == want_us / 1e6
    before_start = live.render_at(cfg.start - timedelta(seconds=1))
    assert before_start == ""


def test_history_is_every_earlier_point_as_openmetrics() -> None:
    """write_history writes exactly the points before the given instant, per series in time order."""
    cfg = anchored_config(_config(), NOW, 3600)
    fleet = Fleet(cfg)
    buf = io.StringIO()
    before = live_from(cfg, NOW)  # the point at NOW's second is the first live one, not history
    n = write_history(LiveFleet(fleet), before, buf)
    text = buf.getvalue()
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    got: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for fam in om_parser.text_string_to_metric_families(text):
        for x in fam.samples:
            got.setdefault((fam.name, x.labels["node"]), []).append((float(x.timestamp), x.value))
    now_us = int(before.timestamp() * 1_000_000)
    total = 0
    for s in fleet.iter_series():
        want = [(us / 1e6, v) for us, v in zip(s.epoch_us, s.values, strict=True) if us < now_us]
        name = "sim_cpu" if s.metric_name == "cpu" else "sim_requests"
        assert got[(name, s.node_id)] == want
        total += len(want)
    assert n == total == 4 * 12  # an hour of 5-minute points before now, four series


def test_serve_command_serves_and_stops(tmp_path: Path) -> None:
    """`serve --port 0 --duration 2 --out DIR --history` writes its files, answers scrapes, then stops."""
    config = tmp_path / "fleet.toml"
    config.write_text(
        'seed = 5\npoints = 400\nmetrics = ["cpu"]\n[tenant_defaults]\nclusters = 1\nnodes_per_cluster = 2\n'
        '[[tenants]]\nname = "acme"\n'
    )
    out = tmp_path / "out"
    status: list[int] = []
    args = ["serve", "--config", str(config), "--port", "0", "--start-offset", "1h", "--duration", "2"]
    thread = threading.Thread(target=lambda: status.append(main([*args, "--out", str(out), "--history"])))
    thread.start()
    deadline = time.monotonic() + 20
    while not (out / "serve.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    info = json.loads((out / "serve.json").read_text())
    body = b""
    while time.monotonic() < deadline:
        try:
            body = urllib.request.urlopen(info["url"], timeout=5).read()
            break
        except OSError:
            time.sleep(0.05)
    thread.join(30)
    assert status == [0]
    assert body.count(b'sim_cpu{tenant="acme"') == 2
    assert (out / "ground_truth.json").exists()
    history = (out / "history.om").read_text()
    assert history.count("\nsim_cpu{") == 2 * 12  # the hour before the start, two series
    assert info["step_seconds"] == 300 and info["prefix"] == "sim_"
