"""Per-series parameters and the placement of injected anomalies (internal).

Everything here is drawn from tenant-scoped RNGs (``derive_seed(seed, tenant,
...)``), so a tenant's parameters, anomalies and noise do not depend on which
other tenants exist or in what order they are listed.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction

from backend.analytics.types import datetime_to_epoch_us

from ._rng import derive_seed
from .anomalies import EXPECTED_LABEL, PLACEMENT_KEY, Effect, GroundTruth, Incident, Placement
from .config import FleetConfig, TenantConfig
from .metrics import CATALOGUE, DAY_S, MetricProfile

logger = logging.getLogger(__name__)

_HOUR = 3600


@dataclass(slots=True)
class SeriesPlan:
    """How to generate one series: its ids, parameters, random streams and effects."""

    tenant_id: str
    cluster_id: str
    node_id: str
    metric_name: str
    profile: MetricProfile
    base: float
    drift: float  # absolute units per point
    phase: int  # node phase offset, points
    noise: float  # absolute sd (additive) or log-sd (multiplicative)
    stream: int  # base seed of this series' random streams
    effects: list[Effect] = field(default_factory=list)
    noise_factor: float = 1.0  # > 1 for a noisy-neighbour tenant

    @property
    def ids(self) -> tuple[str, str, str, str]:
        """``(tenant_id, cluster_id, node_id, metric_name)``."""
        return (self.tenant_id, self.cluster_id, self.node_id, self.metric_name)

    @property
    def scale(self) -> float:
        """Typical standard deviation of the series in its units (see ``MetricProfile.spread``).

        Times ``noise_factor`` in a noisy-neighbour tenant, swing included: the anomalies sized
        from it stand as far clear of the tenant's noise as a quiet tenant's stand clear of its own.
        """
        return self.base * self.profile.spread * self.noise_factor


def names(config: FleetConfig, tenant: TenantConfig) -> tuple[list[str], list[str]]:
    """Cluster and node names of a tenant (equal across tenants unless ``unique_names``)."""
    prefix = f"{tenant.name}-" if config.unique_names else ""
    clusters = [f"{prefix}cluster-{c + 1}" for c in range(tenant.clusters)]
    nodes = [f"{prefix}node-{n + 1}" for n in range(tenant.nodes_per_cluster)]
    return clusters, nodes


def noise_factor(config: FleetConfig, tenant: TenantConfig) -> float:
    """How many times the catalogue's noise a tenant's series carry (a noisy neighbour: ``noisy_factor``)."""
    return config.noisy_factor if tenant.noisy else 1.0


def build_plans(config: FleetConfig, tenant: TenantConfig) -> list[SeriesPlan]:
    """The series of one tenant in (cluster, node, metric) order, with drawn parameters."""
    plans: list[SeriesPlan] = []
    clusters, nodes = names(config, tenant)
    per_day = DAY_S / config.step_seconds
    factor = noise_factor(config, tenant)
    for cluster in clusters:
        for node in nodes:
            node_rng = random.Random(derive_seed(config.seed, "node", tenant.name, cluster, node))
            phase = round(node_rng.uniform(-_HOUR, _HOUR) / config.step_seconds)
            for metric in config.metrics:
                profile = CATALOGUE[metric]
                stream = derive_seed(config.seed, "series", tenant.name, cluster, node, metric)
                rng = random.Random(stream)
                base = rng.uniform(*profile.base)
                drift = base * rng.uniform(*profile.drift) / per_day
                noise = profile.noise * factor if profile.multiplicative else base * profile.noise * factor
                plans.append(
                    SeriesPlan(
                        tenant.name,
                        cluster,
                        node,
                        metric,
                        profile,
                        base,
                        drift,
                        phase,
                        noise,
                        stream,
                        noise_factor=factor,
                    )
                )
    return plans


class _Placer:
    """Places anomalies on free stretches of series, with a guard gap around each."""

    def __init__(self, config: FleetConfig, tenant: TenantConfig, plans: list[SeriesPlan]) -> None:
        self.config = config
        self.tenant = tenant
        self.rng = random.Random(derive_seed(config.seed, "plan", tenant.name))
        self.by_key = {p.ids: p for p in plans}
        self.busy: dict[tuple[str, str, str, str], list[tuple[int, int]]] = {}
        self.lo = math.ceil(config.warmup_fraction * config.points)
        self.hi = config.points
        self.guard = max(3, round(2 * _HOUR / config.step_seconds))
        self.truth: list[GroundTruth] = []
        self.incidents: list[Incident] = []
        self.count = 0

    def points(self, seconds: float) -> int:
        return max(1, round(seconds / self.config.step_seconds))

    def free(self, keys: list[tuple[str, str, str, str]], start: int, end: int) -> bool:
        g = self.guard
        for key in keys:
            for s, e in self.busy.get(key, ()):
                if start < e + g and s < end + g:
                    return False
        return True

    def slot(
        self, keys: list[tuple[str, str, str, str]], length: int, align_day: float | None = None
    ) -> int | None:
        """A start index where ``length`` points fit on every key, or None after 40 tries."""
        per_day = DAY_S // self.config.step_seconds
        for _ in range(40):
            if align_day is None:
                if self.hi - length < self.lo:
                    return None
                start = self.rng.randrange(self.lo, self.hi - length + 1)
            else:
                # A day-aligned stretch: the day index d, then the offset within it.
                offset = self._day_offset()
                first = max(0, (self.lo - offset + per_day - 1) // per_day)
                last = (self.hi - length - offset) // per_day
                if last < first:
                    return None
                start = self.rng.randrange(first, last + 1) * per_day + offset + round(align_day * per_day)
                if start < self.lo or start + length > self.hi:
                    continue
            if self.free(keys, start, start + length):
                return start
        return None

    def _day_offset(self) -> int:
        """Points from the series start to the next UTC midnight."""
        s = datetime_to_epoch_us(self.config.start) // 1_000_000  # (floor: a start before 1970 too)
        return ((DAY_S - s % DAY_S) % DAY_S) // self.config.step_seconds

    def add(self, kind: str, cluster: str, items: list[tuple[str, str, float]], start: int, end: int) -> None:
        """Record one incident: ``items`` are (node, metric, value) effects over ``[start, end)``."""
        self.count += 1
        incident_id = f"{self.tenant.name}#{self.count}"
        t0, step = self.config.start, timedelta(seconds=self.config.step_seconds)
        for node, metric, value in items:
            key = (self.tenant.name, cluster, node, metric)
            self.busy.setdefault(key, []).append((start, end))
            plan = self.by_key[key]
            plan.effects.append(Effect(kind, start, end, value, incident_id))
            magnitude = value if kind not in ("phase_shift", "amplitude_change", "missing_peak") else 0.0
            if kind == "phase_shift":
                magnitude = value * self.config.step_seconds / _HOUR  # hours
            elif kind == "amplitude_change":
                magnitude = value
            self.truth.append(
                GroundTruth(
                    incident_id,
                    self.tenant.name,
                    cluster,
                    node,
                    metric,
                    kind,
                    t0 + start * step,
                    t0 + end * step,
                    EXPECTED_LABEL[kind],
                    magnitude,
                )
            )
        nodes = tuple(dict.fromkeys(n for n, _, _ in items))
        metrics = tuple(dict.fromkeys(m for _, m, _ in items))
        self.incidents.append(
            Incident(
                incident_id,
                kind,
                self.tenant.name,
                cluster,
                nodes,
                metrics,
                t0 + start * step,
                t0 + end * step,
            )
        )


def place_anomalies(
    config: FleetConfig, tenant: TenantConfig, plans: list[SeriesPlan]
) -> tuple[list[GroundTruth], list[Incident], list[Placement]]:
    """Draw and attach the tenant's anomalies to ``plans``; return its ground truth, incidents and placements.

    Anomalies that find no room are left out, and a WARNING log record names
    the asked and placed counts of each kind that fell short.
    """
    p = _Placer(config, tenant, plans)
    rng = p.rng
    mix = tenant.anomalies
    clusters, nodes = names(config, tenant)
    metrics = list(config.metrics)
    gauges = [m for m in metrics if CATALOGUE[m].kind == "gauge"]
    # Cycles that stand clear of this tenant's noise (a noisy neighbour's is several times the
    # profile's): a reshaped cycle that the noise hides is an anomaly nobody could see.
    seasonal = [m for m in gauges if CATALOGUE[m].seasonal_with(noise_factor(config, tenant))]
    failure_metrics = [m for m in gauges if CATALOGUE[m].failure]
    incident_metrics = [m for m in gauges if CATALOGUE[m].incident]
    incident_clusters = set(rng.sample(clusters, min(mix.cluster_incidents, len(clusters))))

    for cluster in clusters:
        if cluster in incident_clusters and incident_metrics:
            count = max(1, math.ceil(0.75 * len(nodes)))
            hit = sorted(rng.sample(nodes, count), key=nodes.index)
            length = p.points(rng.uniform(0.5, 3.0) * _HOUR)
            keys = [(tenant.name, cluster, n, m) for n in hit for m in incident_metrics]
            start = p.slot(keys, length)
            if start is not None:  # (else no room: left out, counted by _placements)
                severity = rng.uniform(0.8, 1.2)
                items = [
                    (n, m, p.by_key[(tenant.name, cluster, n, m)].base * CATALOGUE[m].incident * severity)
                    for n in hit
                    for m in incident_metrics
                ]
                p.add("cluster_incident", cluster, items, start, start + length)
        if failure_metrics:
            for node in rng.sample(nodes, min(mix.node_failures, len(nodes))):
                length = p.points(rng.uniform(1.0, 6.0) * _HOUR)
                keys = [(tenant.name, cluster, node, m) for m in failure_metrics]
                start = p.slot(keys, length)
                if start is None:  # (no room: left out, counted by _placements)
                    continue
                severity = rng.uniform(0.8, 1.2)
                items = [
                    (
                        node,
                        m,
                        p.by_key[(tenant.name, cluster, node, m)].base * CATALOGUE[m].failure * severity,
                    )
                    for m in failure_metrics
                ]
                p.add("node_failure", cluster, items, start, start + length)
        singles = (
            ["level_shift"] * mix.level_shifts
            + ["ramp"] * mix.ramps
            + ["seasonal"] * mix.seasonal
            + ["spike"] * mix.spikes
        )
        for kind in singles:
            _place_single(p, kind, cluster, nodes, gauges, seasonal)

    bursts = _bursts_per_node(config, tenant)
    if bursts and gauges:
        for k, (cluster, node) in enumerate((c, n) for c in clusters for n in nodes):
            for _ in range(math.floor((k + 1) * bursts) - math.floor(k * bursts)):
                    metric = rng.choice(gauges)
                    plan = p.by_key[(tenant.name, cluster, node, metric)]
                    length = rng.randint(1, 3)
                    start = p.slot([plan.ids], length)
                    if start is None:  # (no room: left out, counted by _placements)
                        continue
                    value = rng.uniform(4.0, 8.0) * plan.scale
                    p.add("noisy_neighbour", cluster, [(node, metric, value)], start, start + length)
    placements = _placements(config, tenant, p.incidents)
    if tenant.noisy and config.noisy_bursts_per_node_day > 0 and not any(
        x.anomalies == "noisy_bursts" for x in placements
    ):
        logger.warning(
            "tenant %s: noisy_bursts_per_node_day %s over %s days on %d nodes asks for fewer than one burst: "
            "none placed",
            tenant.name,
            config.noisy_bursts_per_node_day,
            f"{config.points * config.step_seconds / DAY_S:.3g}",
            tenant.clusters * tenant.nodes_per_cluster,
        )
    short = [f"{x.anomalies} {x.placed} of {x.asked}" for x in placements if x.placed < x.asked]
    if short:
        logger.warning(
            "tenant %s: placed fewer anomalies than asked: %s (no free stretch after the warm-up on a "
            "short or crowded series, or no metric the kind needs; the ground truth holds what was placed)",
            tenant.name,
            ", ".join(short),
        )
    return p.truth, p.incidents, placements


def _bursts_per_node(config: FleetConfig, tenant: TenantConfig) -> Fraction:
    """Noisy-neighbour bursts asked for on each node of ``tenant`` over the timeline (0 if not noisy).

    Not rounded per node: node ``k`` (counting the tenant's nodes cluster by cluster) gets
    ``floor((k + 1) * b) - floor(k * b)`` bursts for ``b`` per node, so the tenant's nodes get
    ``floor(nodes * b)`` in all (half a day at 1 a day on 100 nodes: 50, where rounding each node's
    0.5 gave 0). A whole ``b`` gives every node ``b``, as before.
    """
    if not tenant.noisy or config.noisy_bursts_per_node_day <= 0:
        return Fraction(0)
    days = Fraction(config.points * config.step_seconds, DAY_S)
    # (The rate as written, 0.07 not its binary neighbour: whole products stay whole.)
    return Fraction(repr(float(config.noisy_bursts_per_node_day))) * days


def _placements(config: FleetConfig, tenant: TenantConfig, incidents: list[Incident]) -> list[Placement]:
    """Asked and placed counts of each kind the tenant asks for (per-cluster counts times its clusters)."""
    mix, clusters = tenant.anomalies, tenant.clusters
    asked = {
        "cluster_incidents": mix.cluster_incidents,
        "node_failures": mix.node_failures * clusters,
        "level_shifts": mix.level_shifts * clusters,
        "ramps": mix.ramps * clusters,
        "seasonal": mix.seasonal * clusters,
        "spikes": mix.spikes * clusters,
        "noisy_bursts": math.floor(_bursts_per_node(config, tenant) * clusters * tenant.nodes_per_cluster),
    }
    placed = dict.fromkeys(asked, 0)
    for incident in incidents:
        placed[PLACEMENT_KEY[incident.kind]] += 1
    return [Placement(tenant.name, key, n, placed[key]) for key, n in asked.items() if n or placed[key]]


def _place_single(
    p: _Placer, kind: str, cluster: str, nodes: list[str], gauges: list[str], seasonal: list[str]
) -> None:
    rng = p.rng
    candidates = seasonal if kind == "seasonal" else gauges
    if not candidates:  # (no metric this kind needs: left out, counted by _placements)
        return
    node = rng.choice(nodes)
    metric = rng.choice(candidates)
    plan = p.by_key[(p.tenant.name, cluster, node, metric)]
    per_day = DAY_S // p.config.step_seconds
    if kind == "seasonal":
        kind = rng.choice(("phase_shift", "missing_peak", "amplitude_change"))
    value: float
    align: float | None = None
    if kind == "spike":
        length = rng.randint(1, 3)
        value = rng.uniform(6.0, 9.0) * plan.scale
    elif kind == "level_shift":
        length = p.points(rng.uniform(3.0, 12.0) * _HOUR)
        value = rng.uniform(4.0, 7.0) * plan.scale
    elif kind == "ramp":
        length = p.points(rng.uniform(2.0, 8.0) * _HOUR)
        value = rng.uniform(8.0, 12.0) * plan.scale
    elif kind == "phase_shift":
        length = per_day
        value = float(round(rng.uniform(4.0, 8.0) * _HOUR / p.config.step_seconds))
    elif kind == "missing_peak":
        # The peak's hours (10:00-20:00 of the profile) on this node's clock: its phase offset
        # moves them, and the label covers the flattened points, not the hours on the UTC clock.
        length, align = max(1, round(per_day * 10 / 24)), 10 / 24 - plan.phase / per_day
        value = 0.0
    else:  # amplitude_change
        length = per_day
        value = rng.uniform(0.2, 0.4)
    start = p.slot([plan.ids], length, align)
    if start is None:  # (no room: left out, counted by _placements)
        return
    p.add(kind, cluster, [(node, metric, value)], start, start + length)
