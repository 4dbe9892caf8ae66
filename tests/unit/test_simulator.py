"""Unit tests of the fleet simulator: determinism, shapes, anomalies, ground truth, configuration."""

from __future__ import annotations

import itertools
import logging
import os
import statistics
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from simulator import (
    CATALOGUE,
    EXPECTED_LABEL,
    MAX_POINTS,
    MAX_SERIES,
    AnomalyMix,
    Fleet,
    FleetConfig,
    TenantConfig,
    load_toml,
)
from simulator._rng import derive_seed, normals, uniforms
from simulator.anomalies import GroundTruth
from simulator.output import ground_truth_document

REPO = Path(__file__).resolve().parents[2]
SMALL = dict(points=576, step_seconds=600)  # four days at 10 minutes


def small(**kw: object) -> FleetConfig:
    """A small fleet: 2 tenants x 1 cluster x 2 nodes, four days at 10 minutes."""
    settings: dict[str, object] = {"tenants": 2, "clusters": 1, "nodes_per_cluster": 2, "seed": 11, **SMALL}
    settings.update(kw)
    return FleetConfig.uniform(**settings)  # type: ignore[arg-type]


def dump(fleet: Fleet) -> list[tuple[tuple[str, ...], list[int], list[float]]]:
    return [(s.ids, list(s.epoch_us), s.values.tolist()) for s in fleet.iter_series()]


# -- random streams -----------------------------------------------------------------------


def test_streams_are_pure_functions_of_seed_and_index() -> None:
    """Any sub-range of a stream equals the same slice of the whole stream."""
    whole = normals(7, 0, 9000)
    assert normals(7, 4000, 8200) == whole[4000:8200]
    assert uniforms(7, 10, 20) == uniforms(7, 0, 30)[10:20]
    assert normals(8, 0, 100) != whole[:100]


def test_derive_seed_is_stable_across_processes() -> None:
    """Seeds come from BLAKE2b over the parts, not from hash(): another process agrees."""
    assert derive_seed(1, "a") == derive_seed(1, "a") != derive_seed(1, "b")
    code = "from simulator._rng import derive_seed; print(derive_seed(1, 'a'))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, check=True
    )
    assert int(out.stdout) == derive_seed(1, "a")


def test_normal_table_is_a_standard_normal() -> None:
    """The discretised normal has mean 0 and sd 1 (to sampling precision)."""
    z = normals(3, 0, 200_000)
    assert abs(statistics.fmean(z)) < 0.01
    assert abs(statistics.pstdev(z) - 1.0) < 0.01


# -- determinism and streaming ------------------------------------------------------------


def test_same_seed_same_fleet_different_seed_different_fleet() -> None:
    """Same seed and configuration give identical series and ground truth; another seed does not."""
    cfg = small()
    a, b = Fleet(cfg), Fleet(cfg)
    assert dump(a) == dump(b)
    assert a.ground_truth == b.ground_truth and a.incidents == b.incidents
    c = Fleet(replace(cfg, seed=12))
    assert dump(c) != dump(a)


@pytest.mark.parametrize("chunk", [1, 7, 100, 575, 576, 5000])
def test_chunks_concatenate_to_the_whole_series(chunk: int) -> None:
    """iter_chunks slices, joined, equal iter_series exactly (missing points, jitter and counters too)."""
    cfg = small(
        missing_rate=0.05, jitter=0.4, metrics=("cpu", "latency_p99", "requests_total", "queue_depth")
    )
    fleet = Fleet(cfg)
    whole = dump(fleet)
    joined: list[tuple[list[int], list[float]]] = [([], []) for _ in whole]
    for piece in fleet.iter_chunks(chunk):
        assert len(piece) == len(whole)
        for k, s in enumerate(piece):
            joined[k][0].extend(s.epoch_us)
            joined[k][1].extend(s.values.tolist())
    assert [(us, v) for _, us, v in whole] == joined


def test_chunk_points_is_validated() -> None:
    """A non-positive or non-int chunk size is refused with a message naming it."""
    fleet = Fleet(small())
    with pytest.raises(ValueError, match="chunk_points must be a positive int, got 0"):
        next(fleet.iter_chunks(0))
    with pytest.raises(TypeError, match="chunk_points"):
        next(fleet.iter_chunks(2.5))  # type: ignore[arg-type]


def test_tenant_data_does_not_depend_on_other_tenants() -> None:
    """A tenant's series and ground truth are the same alone, with others, and in any order."""
    a, noisy = TenantConfig("acme"), TenantConfig("noisy", noisy=True)
    base = FleetConfig(tenants=(a,), seed=5, **SMALL)  # type: ignore[arg-type]
    both = base.with_tenants((noisy, a))
    alone, together = Fleet(base), Fleet(both)
    assert dump(alone) == [x for x in dump(together) if x[0][0] == "acme"]
    assert alone.ground_truth == tuple(together.ground_truth_for("acme"))


def test_cluster_and_node_names_repeat_across_tenants_by_default() -> None:
    """Equal names across tenants by default; unique_names prefixes them with the tenant."""
    keys = Fleet(small()).keys
    per_tenant = {
        t: {(k.cluster_id, k.node_id) for k in keys if k.tenant_id == t} for t in ("tenant-1", "tenant-2")
    }
    assert (
        per_tenant["tenant-1"] == per_tenant["tenant-2"] == {("cluster-1", "node-1"), ("cluster-1", "node-2")}
    )
    unique = Fleet(small(unique_names=True)).keys
    assert {k.cluster_id for k in unique} == {"tenant-1-cluster-1", "tenant-2-cluster-1"}


# -- shapes -------------------------------------------------------------------------------


def clean(**kw: object) -> Fleet:
    return Fleet(small(anomalies=AnomalyMix.none(), **kw))


def test_bounded_integer_and_counter_metrics_respect_their_nature() -> None:
    """Percentages stay in [0, 100], queue depth is a non-negative integer, counters never decrease."""
    fleet = Fleet(small(noisy_tenants=1, metrics=tuple(CATALOGUE)))
    for s in fleet.iter_series():
        v = s.values.tolist()
        prof = CATALOGUE[s.metric_name]
        if prof.lower is not None:
            assert min(v) >= prof.lower
        if prof.upper is not None:
            assert max(v) <= prof.upper
        if prof.integer:
            assert all(x == int(x) for x in v)
        if prof.kind == "counter":
            assert all(b >= a for a, b in itertools.pairwise(v))
        assert s.metadata is not None and s.metadata["unit"] == prof.unit


def test_daily_and_weekly_seasonality() -> None:
    """CPU is higher mid-afternoon than at night, and the weekend swing is smaller than a weekday's."""
    cfg = FleetConfig.uniform(
        tenants=1,
        clusters=1,
        nodes_per_cluster=2,
        points=7 * 144,
        step_seconds=600,
        metrics=("cpu",),
        anomalies=AnomalyMix.none(),
    )
    for s in Fleet(cfg).iter_series():
        v = s.values.tolist()
        days = [v[d * 144 : (d + 1) * 144] for d in range(7)]  # Monday .. Sunday
        for day in days:
            assert statistics.fmean(day[13 * 6 : 16 * 6]) > statistics.fmean(day[1 * 6 : 5 * 6])
        swing = [max(d) - min(d) for d in days]
        assert statistics.fmean(swing[5:]) < statistics.fmean(swing[:5])


def test_latency_is_right_skewed_and_p99_above_p50() -> None:
    """Heavy-tailed latency: mean above median, and p99's level far above p50's."""
    fleet = clean(metrics=("latency_p50", "latency_p99"))
    for node in ("node-1", "node-2"):
        p50 = fleet.series(("tenant-1", "cluster-1", node, "latency_p50")).values.tolist()
        p99 = fleet.series(("tenant-1", "cluster-1", node, "latency_p99")).values.tolist()
        assert statistics.fmean(p99) > statistics.median(p99)
        assert statistics.median(p99) > 1.5 * statistics.median(p50)


def test_missing_points_and_jitter() -> None:
    """Missing points drop about the configured share; jittered times stay in their step, ascending."""
    cfg = small(missing_rate=0.2, jitter=0.5, metrics=("cpu",))
    fleet = Fleet(cfg)
    t0 = int(cfg.start.timestamp()) * 1_000_000
    step = cfg.step_us
    kept = 0
    for s in fleet.iter_series():
        us = list(s.epoch_us)
        kept += len(us)
        for t in us:
            offset = (t - t0) % step
            assert offset < 0.5 * step
    total = cfg.nominal_points
    share = 1 - kept / total
    sd = (0.2 * 0.8 / total) ** 0.5
    assert abs(share - 0.2) < 5 * sd


def test_noisy_tenant_is_noisier() -> None:
    """A noisy neighbour's point-to-point noise is several times a clean tenant's."""
    fleet = Fleet(
        small(
            noisy_tenants=1, anomalies=AnomalyMix.none(), noisy_bursts_per_node_day=0.0, metrics=("memory",)
        )
    )

    def roughness(tenant: str) -> float:
        v = fleet.series((tenant, "cluster-1", "node-1", "memory")).values.tolist()
        return statistics.pstdev([b - a for a, b in itertools.pairwise(v)])

    assert roughness("tenant-2") > 2.0 * roughness("tenant-1")


# -- anomalies and ground truth -------------------------------------------------------------


def test_anomalies_change_only_their_labelled_intervals() -> None:
    """Outside its labelled intervals a series equals the same series without anomalies, exactly."""
    mix = AnomalyMix(spikes=2, level_shifts=1, ramps=1, seasonal=1, node_failures=1, cluster_incidents=1)
    cfg = small(anomalies=mix, nodes_per_cluster=3)
    with_a, without = (
        Fleet(cfg),
        Fleet(replace(cfg, tenants=tuple(replace(t, anomalies=AnomalyMix.none()) for t in cfg.tenants))),
    )
    step = timedelta(seconds=cfg.step_seconds)
    changed_series = 0
    for s in with_a.iter_series():
        ref = without.series(s.ids)
        truth = [g for g in with_a.ground_truth if g.series_key == s.ids]
        inside = set()
        for g in truth:
            k = int((g.start - cfg.start) / step)
            while cfg.start + k * step < g.end:
                inside.add(k)
                k += 1
        diff = {i for i, (a, b) in enumerate(zip(s.values, ref.values, strict=False)) if a != b}
        assert diff <= inside
        changed_series += bool(diff)
    assert changed_series > 0


def test_ground_truth_is_consistent() -> None:
    """Labels lie after the warm-up, inside the series, never overlap, and carry the expected label."""
    cfg = small(nodes_per_cluster=4, noisy_tenants=1, anomalies=AnomalyMix(2, 1, 1, 1, 1, 1))
    fleet = Fleet(cfg)
    end = cfg.start + timedelta(seconds=cfg.step_seconds * cfg.points)
    warm = cfg.start + timedelta(seconds=cfg.step_seconds * cfg.points * cfg.warmup_fraction)
    by_key: dict[tuple[str, str, str, str], list[GroundTruth]] = {}
    for g in fleet.ground_truth:
        assert warm - timedelta(seconds=cfg.step_seconds) <= g.start < g.end <= end
        assert g.expected_label == EXPECTED_LABEL[g.kind]
        by_key.setdefault(g.series_key, []).append(g)
        assert GroundTruth.from_dict(g.to_dict()) == g
    for labels in by_key.values():
        labels.sort(key=lambda g: g.start)
        assert all(a.end <= b.start for a, b in itertools.pairwise(labels))
    kinds = {g.kind for g in fleet.ground_truth}
    assert {"spike", "level_shift", "ramp", "node_failure", "cluster_incident", "noisy_neighbour"} <= kinds


def test_a_missing_peak_is_labelled_where_its_nodes_peak_is_flattened() -> None:
    """The label spans the points the flattening changed, on the node's own clock (phase offset)."""
    checked = 0
    for seed in range(3):
        fleet = Fleet(FleetConfig(seed=seed))
        for g in fleet.ground_truth:
            if g.kind != "missing_peak":
                continue
            plan = fleet._plans[fleet._index[g.series_key]]
            effects = list(plan.effects)
            [peak] = [e for e in effects if e.kind == "missing_peak"]
            flattened = fleet.series(g.series_key)
            plan.effects = [e for e in effects if e is not peak]
            try:
                clean = fleet.series(g.series_key)
            finally:
                plan.effects = effects
            pairs = zip(flattened.values.tolist(), clean.values.tolist(), strict=True)
            changed = [t for t, (a, b) in zip(flattened.timestamps, pairs, strict=True) if a != b]
            step = timedelta(seconds=fleet.config.step_seconds)
            assert (changed[0], changed[-1]) == (g.start, g.end - step), (seed, g, plan.phase)
            checked += 1
    assert checked >= 3


def test_seasonal_anomalies_go_only_to_cycles_clear_of_the_tenants_noise() -> None:
    """A noisy neighbour's cycles count its noise: seasonal changes go only where the swing is >= 4 noise sd.

    With the default noise factor (3) only ``request_rate`` (swing 0.5, noise
    0.04 x 3) stands clear in a noisy tenant; ``cpu`` (2.3 noise sd there) and
    ``latency_p50`` (1.7) would be reshaped where the noise hides them.
    """
    cfg = small(nodes_per_cluster=4, clusters=3, noisy_tenants=1, anomalies=AnomalyMix(0, 0, 0, 4, 0, 0))
    fleet = Fleet(cfg)
    placed: dict[str, set[str]] = {"tenant-1": set(), "tenant-2": set()}
    for g in fleet.ground_truth:
        if g.expected_label == "seasonal":
            placed[g.tenant_id].add(g.metric_name)
    assert placed["tenant-2"] == {"request_rate"}
    assert placed["tenant-1"] == {m for m in cfg.metrics if CATALOGUE[m].seasonal}
    assert [m for m in cfg.metrics if CATALOGUE[m].seasonal_with(cfg.noisy_factor)] == ["request_rate"]


def test_node_failure_and_cluster_incident_are_correlated() -> None:
    """A node failure moves several metrics of one node at once; a cluster incident >= 75 % of nodes."""
    cfg = small(nodes_per_cluster=4, anomalies=AnomalyMix(0, 0, 0, 0, 1, 1))
    fleet = Fleet(cfg)
    kinds = {i.kind for i in fleet.incidents}
    assert kinds == {"node_failure", "cluster_incident"}
    for inc in fleet.incidents:
        records = [g for g in fleet.ground_truth if g.incident_id == inc.incident_id]
        assert {(g.start, g.end) for g in records} == {(inc.start, inc.end)}
        if inc.kind == "node_failure":
            assert len(inc.node_ids) == 1 and len(inc.metrics) >= 3
        else:
            assert len(inc.node_ids) >= 0.75 * cfg.tenants[0].nodes_per_cluster


# -- configuration ----------------------------------------------------------------------------


def test_config_errors_name_the_field() -> None:
    """Bad values raise ValueError/TypeError naming the object and field and echoing the value."""
    with pytest.raises(
        ValueError, match=r"FleetConfig.step_seconds: expected a divisor of 86400 \(one day\), got 7"
    ):
        FleetConfig(step_seconds=7)
    with pytest.raises(ValueError, match=r"FleetConfig.metrics\[1\]: expected one of .*got 'gpu'"):
        FleetConfig(metrics=("cpu", "gpu"))
    with pytest.raises(
        ValueError, match=r"FleetConfig.missing_rate: expected a number in \[0.0, 1.0\), got 1.0"
    ):
        FleetConfig(missing_rate=1.0)
    with pytest.raises(TypeError, match=r"TenantConfig.clusters: expected an int >= 1, got '2'"):
        TenantConfig("a", clusters="2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"AnomalyMix.spikes: expected an int >= 0, got -1"):
        AnomalyMix(spikes=-1)
    with pytest.raises(ValueError, match=r"FleetConfig.tenants\[1\].name: expected a name not used"):
        FleetConfig(tenants=(TenantConfig("a"), TenantConfig("a")))
    with pytest.raises(TypeError, match=r"FleetConfig.start: expected a timezone-aware datetime"):
        FleetConfig(start=datetime(2024, 1, 1))


def test_toml_configuration(tmp_path: Path) -> None:
    """A TOML file sets every field; tenant defaults apply unless a tenant overrides them."""
    path = tmp_path / "fleet.toml"
    path.write_text(
        """
seed = 9
start = "2024-03-04T00:00:00Z"
step_seconds = 600
points = 288
metrics = ["cpu", "error_rate"]
missing_rate = 0.01
[tenant_defaults]
clusters = 3
nodes_per_cluster = 2
[tenant_defaults.anomalies]
spikes = 4
[[tenants]]
name = "acme"
[[tenants]]
name = "globex"
noisy = true
clusters = 1
[tenants.anomalies]
spikes = 0
""",
        encoding="utf-8",
    )
    cfg = load_toml(path)
    assert (cfg.seed, cfg.step_seconds, cfg.points, cfg.metrics) == (9, 600, 288, ("cpu", "error_rate"))
    assert cfg.start == datetime(2024, 3, 4, tzinfo=timezone.utc)
    acme, globex = cfg.tenants
    assert (acme.clusters, acme.nodes_per_cluster, acme.noisy, acme.anomalies.spikes) == (3, 2, False, 4)
    assert (globex.clusters, globex.noisy, globex.anomalies.spikes, globex.anomalies.ramps) == (1, True, 0, 1)
    assert FleetConfig.from_toml(path) == cfg


def test_toml_rejects_unknown_keys_and_accepts_a_tenant_count(tmp_path: Path) -> None:
    """Unknown keys are named in the error; ``tenants = N`` makes tenant-1 .. tenant-N."""
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = 1\nsede = 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"unknown key\(s\) 'sede'"):
        load_toml(bad)
    # A typo in the tenants' defaults is reported there, not in the first tenant that inherits it.
    bad.write_text("seed = 1\n[tenant_defaults.anomalies]\nspike = 0\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.toml\.tenant_defaults\.anomalies: unknown key\(s\) 'spike'"):
        load_toml(bad)
    good = tmp_path / "good.toml"
    good.write_text("tenants = 4\n", encoding="utf-8")
    assert [t.name for t in load_toml(good).tenants] == ["tenant-1", "tenant-2", "tenant-3", "tenant-4"]


def test_config_to_dict_round_trips_through_from_mapping() -> None:
    """to_dict() is JSON-safe and from_mapping() rebuilds the same configuration."""
    cfg = small(noisy_tenants=1, missing_rate=0.1)
    data = cfg.to_dict()
    data["tenants"] = [dict(t) for t in data["tenants"]]
    assert FleetConfig.from_mapping(data) == cfg


def test_example_configuration_loads() -> None:
    """The example TOML shipped with the simulator is valid."""
    cfg = load_toml(REPO / "simulator" / "examples" / "small.toml")
    assert [t.name for t in cfg.tenants] == ["acme", "globex", "initech"]
    assert [t.noisy for t in cfg.tenants] == [False, False, True]


def test_toml_value_errors_name_the_file_and_table(tmp_path: Path) -> None:
    """A bad value in a tenant, the tenant defaults or an anomalies table says where it is written."""
    bad = tmp_path / "bad.toml"
    cases = [
        ('[[tenants]]\nname = "a"\n[[tenants]]\nname = "b"\nclusters = -1\n', ValueError,
         r"bad\.toml\.tenants\[1\]: TenantConfig\.clusters: expected an int >= 1, got -1"),
        ("[tenant_defaults]\nnodes_per_cluster = 0\n", ValueError,
         r"bad\.toml\.tenant_defaults: TenantConfig\.nodes_per_cluster: expected an int >= 1, got 0"),
        ('[tenant_defaults.anomalies]\nspikes = "2"\n', TypeError,
         r"bad\.toml\.tenant_defaults\.anomalies: AnomalyMix\.spikes: expected an int >= 0, got '2'"),
        ('[[tenants]]\nname = "a"\n[tenants.anomalies]\nramps = -1\n', ValueError,
         r"bad\.toml\.tenants\[0\]\.anomalies: AnomalyMix\.ramps: expected an int >= 0, got -1"),
        ("jitter = 2.0\n", ValueError, r"bad\.toml: FleetConfig\.jitter: expected a number in \[0.0, 1.0\)"),
    ]
    for text, error, message in cases:
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(error, match=message):
            load_toml(bad)


def test_the_timeline_must_end_within_the_datetime_range() -> None:
    """A start whose UTC instant is before year 1, or a timeline past 9999-12-31, is a clear ValueError."""
    with pytest.raises(ValueError, match=r"FleetConfig.start: expected an instant within years 1..9999"):
        FleetConfig(start=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
    late = datetime(9999, 12, 30, tzinfo=timezone.utc)
    with pytest.raises(
        ValueError,
        match=r"FleetConfig.points: expected at most 575 points of step_seconds = 300 from start = "
        r"9999-12-30T00:00:00\+00:00 .*got 2016",
    ):
        FleetConfig(start=late)
    fleet = Fleet(small(start=late, points=575, step_seconds=300))
    assert fleet.series(0).timestamps[-1] < datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)
    early = Fleet(small(start=datetime(1, 1, 1, tzinfo=timezone.utc)))
    assert early.series(0).timestamps[0] == datetime(1, 1, 1, tzinfo=timezone.utc)


def test_fleet_size_is_bounded() -> None:
    """Points per series and series in all have documented bounds, checked before anything is built."""
    with pytest.raises(ValueError, match=rf"FleetConfig.points: expected at most {MAX_POINTS:,} points"):
        FleetConfig(points=MAX_POINTS + 1)
    with pytest.raises(
        ValueError,
        match=rf"FleetConfig.tenants: expected at most {MAX_SERIES:,} series in all .*got 8,000,000,000",
    ):
        FleetConfig(tenants=(TenantConfig("a", nodes_per_cluster=500_000_000),))
    with pytest.raises(ValueError, match=rf"FleetConfig.uniform.tenants: expected at most {MAX_SERIES:,}"):
        FleetConfig.uniform(tenants=10_000_000)


def test_more_anomalies_than_the_series_have_points_are_refused_before_placing() -> None:
    """An ask no fleet could hold (a billion spikes, a burst a second for years) fails at once, naming it."""
    with pytest.raises(ValueError) as caught:
        FleetConfig(points=10, tenants=(TenantConfig("a", anomalies=AnomalyMix(spikes=10**9)),))
    assert str(caught.value) == (
        "FleetConfig.tenants[0].anomalies: expected at most 320 level_shifts + ramps + seasonal + spikes "
        "per cluster (one point of one of tenant 'a''s 32 series of a cluster each, 10 points a series), "
        "got 1000000003"
    )
    hourly = {"points": 10, "step_seconds": 3600, "noisy_bursts_per_node_day": 1000.0}
    with pytest.raises(ValueError, match=r"noisy_bursts_per_node_day: .*got 1000\.0 a day: 417 bursts"):
        FleetConfig(**hourly, tenants=(TenantConfig("a", noisy=True),))  # type: ignore[arg-type]
    # The same rate on a tenant that is not noisy asks for no burst; a full ask is still taken.
    FleetConfig(**hourly, tenants=(TenantConfig("a"),))  # type: ignore[arg-type]
    FleetConfig(points=10, tenants=(TenantConfig("a", anomalies=AnomalyMix(0, 0, 0, 320, 0, 0)),))


def test_toml_tenant_count_is_bounded_before_tenants_are_built(tmp_path: Path) -> None:
    """``tenants = 10000000`` is refused at once, not after building ten million tenants."""
    path = tmp_path / "many.toml"
    path.write_text("tenants = 10000000\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"many\.toml\.tenants: expected at most {MAX_SERIES:,}"):
        load_toml(path)


def test_more_incidents_or_failures_than_clusters_or_nodes_are_refused(tmp_path: Path) -> None:
    """One incident per cluster and one failure per node: more is refused, naming the key and the bound."""
    with pytest.raises(
        ValueError,
        match=r"TenantConfig.anomalies.cluster_incidents: expected at most clusters = 2 .*got 5",
    ):
        TenantConfig("a", clusters=2, anomalies=AnomalyMix(cluster_incidents=5))
    with pytest.raises(
        ValueError,
        match=r"TenantConfig.anomalies.node_failures: expected at most nodes_per_cluster = 4 .*got 5",
    ):
        TenantConfig("a", nodes_per_cluster=4, anomalies=AnomalyMix(node_failures=5))
    path = tmp_path / "f.toml"
    path.write_text(
        '[tenant_defaults.anomalies]\ncluster_incidents = 3\n[[tenants]]\nname = "a"\nclusters = 3\n'
        '[[tenants]]\nname = "b"\n',
        encoding="utf-8",
    )
    where = r"f\.toml\.tenants\[1\]: TenantConfig\.anomalies\.cluster_incidents: expected at most clusters"
    with pytest.raises(ValueError, match=where):
        load_toml(path)


@pytest.mark.parametrize("jitter", [0.0, 0.5])
def test_a_record_whose_points_are_all_missing_leaves_the_ground_truth(
    jitter: float, caplog: pytest.LogCaptureFixture
) -> None:
    """With missing points, every label holds a point of its series; the others are listed and warned."""
    with caplog.at_level(logging.WARNING, logger="simulator"):
        fleet = Fleet(FleetConfig(seed=0, missing_rate=0.2, jitter=jitter))
    assert fleet.unobservable  # (seed 0 at this rate leaves some noisy-neighbour bursts unseen)
    for records, seen in ((fleet.ground_truth, True), (fleet.unobservable, False)):
        for g in records:
            stamps = fleet.series(g.series_key).timestamps
            assert any(g.start <= t < g.end for t in stamps) is seen, g
    total = len(fleet.ground_truth) + len(fleet.unobservable)
    assert total == len(Fleet(FleetConfig(seed=0)).ground_truth)
    warned = f"{len(fleet.unobservable)} of {total} ground-truth records fall wholly on missing points"
    assert any(warned in r.getMessage() for r in caplog.records)
    doc = ground_truth_document(fleet)
    assert doc["unobservable"] == [g.to_dict() for g in fleet.unobservable]


def test_a_start_before_1970_with_a_fraction_of_a_second_is_kept() -> None:
    """The first point is at the configured start, before the epoch too (it was a second late)."""
    start = datetime(1969, 12, 31, 23, 0, 0, 500000, tzinfo=timezone.utc)
    fleet = Fleet(small(start=start))
    assert fleet.series(0).timestamps[0] == start


def test_anomalies_that_find_no_room_are_warned_and_recorded(caplog: pytest.LogCaptureFixture) -> None:
    """Anomalies left out are a WARNING (asked vs placed); Fleet.placement and the ground truth hold both."""
    cfg = small(tenants=1, anomalies=AnomalyMix(spikes=5000))
    with caplog.at_level(logging.WARNING, logger="simulator"):
        fleet = Fleet(cfg)
    placed = {p.anomalies: (p.asked, p.placed) for p in fleet.placement}
    spikes = sum(1 for i in fleet.incidents if i.kind == "spike")
    assert placed["spikes"] == (5000, spikes) and 0 < spikes < 5000
    assert placed["ramps"] == (1, 1) and placed["cluster_incidents"] == (1, 1)
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    warned = f"tenant tenant-1: placed fewer anomalies than asked: spikes {spikes} of 5000"
    assert warned in record.getMessage()
    doc = ground_truth_document(fleet)
    row = {"tenant_id": "tenant-1", "anomalies": "spikes", "asked": 5000, "placed": spikes}
    assert row in doc["placement"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="simulator"):
        normal = Fleet(small(noisy_tenants=1))
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert all(p.asked == p.placed for p in normal.placement)
    assert {p.anomalies for p in normal.placement} >= {"spikes", "seasonal", "noisy_bursts"}


def test_noisy_bursts_are_spread_over_nodes_not_rounded_per_node(caplog: pytest.LogCaptureFixture) -> None:
    """1 burst a node-day for half a day on 100 nodes asks for 50 (each node's 0.5 rounded to 0 gave
    none, silently); 2.5 a node on 100 nodes asks for 250 (round-half-to-even gave 200); fewer than one
    over the tenant is said."""

    def asked(points: int, rate: float) -> list[tuple[str, int, int]]:
        cfg = FleetConfig.uniform(
            tenants=1,
            clusters=4,
            nodes_per_cluster=25,
            noisy_tenants=1,
            points=points,
            noisy_bursts_per_node_day=rate,
            anomalies=AnomalyMix.none(),
        )
        fleet = Fleet(cfg)
        bursts = [g for g in fleet.ground_truth if g.kind == "noisy_neighbour"]
        per_node = {(g.cluster_id, g.node_id) for g in bursts}
        assert len(per_node) == len(bursts) or rate > 1  # (at most one each where fewer than 1 a node)
        return [(p.anomalies, p.asked, p.placed) for p in fleet.placement]

    assert asked(144, 1.0) == [("noisy_bursts", 50, 50)]
    assert asked(288, 2.5) == [("noisy_bursts", 250, 250)]
    assert asked(288, 2.0) == [("noisy_bursts", 200, 200)]  # a whole number a node: that many each
    with caplog.at_level(logging.WARNING, logger="simulator"):
        assert asked(1, 0.01) == []
    assert "asks for fewer than one burst" in caplog.text


@pytest.mark.parametrize("rate", [1e-7, 1.0 - 1e-6])
def test_a_missing_rate_finer_than_the_generator_can_draw_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match=r"missing_rate.*1/65536"):
        small(missing_rate=rate)
    small(missing_rate=1 / 65536)  # the finest it honours
    small(missing_rate=65535 / 65536)


def test_an_incident_whose_every_record_is_unobservable_is_left_out_with_them() -> None:
    cfg = small(points=60, missing_rate=65535 / 65536, anomalies=AnomalyMix(0, 0, 1, 0, 0, 0))
    fleet = Fleet(cfg)
    assert fleet.unobservable and not fleet.ground_truth
    assert fleet.incidents == ()


def test_a_tenant_the_fleet_does_not_have_is_an_error() -> None:
    fleet = Fleet(small())
    for call in (
        lambda: list(fleet.iter_series(tenant_id="tenant-z")),
        lambda: list(fleet.iter_chunks(10, tenant_id="tenant-z")),
        lambda: fleet.ground_truth_for("tenant-z"),
    ):
        with pytest.raises(KeyError, match="no tenant 'tenant-z'"):
            call()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "meteor"}, "kind must be one of"),
        ({"expected_label": "trend"}, "expected_label of a spike is 'spike'"),
        ({"start": "2024-01-01T10:00:00"}, "start must be an ISO 8601 time with a UTC offset"),
        ({"end": "2024-01-01T09:00:00+00:00"}, "end .* must be after start"),
        ({"magnitude": "big"}, "magnitude must be a finite number"),
        ({"magnitude": float("nan")}, "magnitude must be a finite number"),
        ({"tenant_id": 5}, "tenant_id must be a non-empty str"),
    ],
)
def test_ground_truth_from_dict_checks_every_value(change: dict[str, object], message: str) -> None:
    good = GroundTruth(
        "i1",
        "t",
        "c",
        "n",
        "cpu",
        "spike",
        datetime(2024, 1, 1, 10, tzinfo=timezone.utc),
        datetime(2024, 1, 1, 10, 15, tzinfo=timezone.utc),
        "spike",
        12.5,
    )
    assert GroundTruth.from_dict(good.to_dict()) == good
    with pytest.raises((TypeError, ValueError), match=message):
        GroundTruth.from_dict({**good.to_dict(), **change})
