"""The simulated fleet: tenants -> clusters -> nodes -> metric series, with ground truth.

>>> from simulator import Fleet, FleetConfig
>>> fleet = Fleet(FleetConfig.uniform(tenants=2, clusters=1, nodes_per_cluster=2, points=600, seed=3))
>>> len(fleet), fleet.config.nominal_points
(32, 19200)
>>> s = fleet.series(0)
>>> s.ids, len(s)
(('tenant-1', 'cluster-1', 'node-1', 'cpu'), 600)
>>> again = Fleet(fleet.config)
>>> [x.values.tolist() for x in fleet.iter_series()] == [x.values.tolist() for x in again.iter_series()]
True

Generation is a pure function of the configuration: every random number
comes from a stream keyed by the seed and the series' ids (see
:mod:`simulator._rng`), so the same seed and configuration give identical
series, a tenant's series do not change when other tenants are added, and
any time range can be produced on its own. :meth:`Fleet.iter_series` yields
one whole series at a time; :meth:`Fleet.iter_chunks` yields the fleet in
time slices of ``chunk_points`` nominal points (memory bounded by one slice),
and the concatenated slices equal the whole series, whatever the chunk size.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from backend.analytics import MetricSeries
from backend.analytics.types import datetime_to_epoch_us

from ._plan import SeriesPlan, build_plans, place_anomalies
from ._rng import derive_seed, lognormal_factors, normals, pareto_factors, uniforms
from .anomalies import SEASONAL_KINDS, GroundTruth, Incident, Placement
from .config import FleetConfig
from .metrics import season_table, week_offset

logger = logging.getLogger(__name__)

__all__ = ["Fleet", "SeriesKey"]

_EPOCH_US_PER_S = 1_000_000


class SeriesKey(NamedTuple):
    """The four ids of one simulated series."""

    tenant_id: str
    cluster_id: str
    node_id: str
    metric_name: str


class Fleet:
    """A simulated fleet built from a :class:`FleetConfig`: series plans and ground truth.

    Building a ``Fleet`` draws every series' parameters and places the
    anomalies (cheap); the points themselves are generated on demand.
    """

    def __init__(self, config: FleetConfig) -> None:
        if not isinstance(config, FleetConfig):
            raise TypeError(f"Fleet.config: expected a FleetConfig, got {config!r}")
        self.config = config
        plans: list[SeriesPlan] = []
        truth: list[GroundTruth] = []
        incidents: list[Incident] = []
        placements: list[Placement] = []
        for tenant in config.tenants:
            tenant_plans = build_plans(config, tenant)
            t, i, placed = place_anomalies(config, tenant, tenant_plans)
            plans.extend(tenant_plans)
            truth.extend(t)
            incidents.extend(i)
            placements.extend(placed)
        self._plans = plans
        self._index = {p.ids: k for k, p in enumerate(plans)}
        self._t0_us = datetime_to_epoch_us(config.start)
        self._offset = week_offset(self._t0_us // _EPOCH_US_PER_S, config.step_seconds)
        #: Records whose every point is missing (``missing_rate``): no detector could see them, so
        #: they are not in :attr:`ground_truth` (a warning counts them when the fleet is built).
        self.unobservable: tuple[GroundTruth, ...] = tuple(g for g in truth if not self._observable(g))
        if self.unobservable:
            left = set(self.unobservable)
            truth = [g for g in truth if g not in left]
            logger.warning(
                "%d of %d ground-truth records fall wholly on missing points (missing_rate %s) and are "
                "left out of the ground truth (Fleet.unobservable lists them)",
                len(self.unobservable),
                len(truth) + len(self.unobservable),
                config.missing_rate,
            )
        self.ground_truth: tuple[GroundTruth, ...] = tuple(truth)
        # An incident every record of which is unobservable is none a detector could find: it goes with
        # its records (a tester counting incidents found would count it missed).
        seen = {g.incident_id for g in truth}
        self.incidents: tuple[Incident, ...] = tuple(
            i for i in incidents if i.incident_id in seen or not self.unobservable
        )
        #: Per tenant and kind, how many anomalies were asked for and how many were placed
        #: (fewer when a series had no room: a warning says so when the fleet is built).
        self.placement: tuple[Placement, ...] = tuple(placements)

    def _observable(self, g: GroundTruth) -> bool:
        """Whether a point of ``g``'s series is kept (not missing) in ``[g.start, g.end)``."""
        cfg = self.config
        if not cfg.missing_rate:
            return True
        plan = self._plans[self._index[g.series_key]]
        step = cfg.step_us
        i0 = max(0, -(-(datetime_to_epoch_us(g.start) - self._t0_us) // step))
        i1 = min(cfg.points, -(-(datetime_to_epoch_us(g.end) - self._t0_us) // step))
        return any(_kept(plan, i0, i1, cfg.missing_rate))

    def __len__(self) -> int:
        return len(self._plans)

    @property
    def keys(self) -> list[SeriesKey]:
        """Every series' ids, in generation order (tenant, cluster, node, metric)."""
        return [SeriesKey(*p.ids) for p in self._plans]

    def series(self, which: int | Sequence[str]) -> MetricSeries:
        """One whole series, by position in :attr:`keys` or by its four ids."""
        plan = self._plans[self._position(which)]
        us, vals, _ = self._generate(plan, 0, self.config.points, 0.0)
        return self._make(plan, us, vals)

    def _check_tenant(self, method: str, tenant_id: str | None) -> None:
        """A tenant the fleet does not have is an error (a typo would read as an empty tenant)."""
        names = [t.name for t in self.config.tenants]
        if tenant_id is not None and tenant_id not in names:
            raise KeyError(f"Fleet.{method}: no tenant {tenant_id!r}; the fleet's: {', '.join(names)}")

    def iter_series(self, *, tenant_id: str | None = None) -> Iterator[MetricSeries]:
        """Every series (or one tenant's), whole, one at a time (memory: one series)."""
        self._check_tenant("iter_series", tenant_id)
        n = self.config.points
        for plan in self._plans:
            if tenant_id is None or plan.tenant_id == tenant_id:
                us, vals, _ = self._generate(plan, 0, n, 0.0)
                yield self._make(plan, us, vals)

    def iter_chunks(self, chunk_points: int, *, tenant_id: str | None = None) -> Iterator[list[MetricSeries]]:
        """The fleet in time slices of ``chunk_points`` nominal points, every series in each slice.

        A slice of a series may be empty (all its points missing). Concatenating
        a series' slices gives exactly :meth:`series`, whatever ``chunk_points``.
        """
        if isinstance(chunk_points, bool) or not isinstance(chunk_points, int):
            raise TypeError(f"Fleet.iter_chunks: chunk_points must be a positive int, got {chunk_points!r}")
        if chunk_points < 1:
            raise ValueError(f"Fleet.iter_chunks: chunk_points must be a positive int, got {chunk_points!r}")
        self._check_tenant("iter_chunks", tenant_id)
        plans = [p for p in self._plans if tenant_id is None or p.tenant_id == tenant_id]
        carry = [0.0] * len(plans)
        n = self.config.points
        for i0 in range(0, n, chunk_points):
            i1 = min(n, i0 + chunk_points)
            out = []
            for k, plan in enumerate(plans):
                us, vals, carry[k] = self._generate(plan, i0, i1, carry[k])
                out.append(self._make(plan, us, vals))
            yield out

    def ground_truth_for(self, tenant_id: str) -> list[GroundTruth]:
        """The labelled anomalies of one tenant (``KeyError`` for a tenant the fleet does not have)."""
        self._check_tenant("ground_truth_for", tenant_id)
        return [g for g in self.ground_truth if g.tenant_id == tenant_id]

    # -- internals ---------------------------------------------------------------------

    def _position(self, which: int | Sequence[str]) -> int:
        if isinstance(which, int) and not isinstance(which, bool):
            if not -len(self._plans) <= which < len(self._plans):
                raise IndexError(f"Fleet.series: index {which} out of range for {len(self._plans)} series")
            return which % len(self._plans)
        key = tuple(str(x) for x in which) if not isinstance(which, int) else ()
        if key not in self._index:
            raise KeyError(f"Fleet.series: no series {key!r}")
        return self._index[key]

    def _make(self, plan: SeriesPlan, us: array[int], vals: array[float]) -> MetricSeries:
        meta = {"unit": plan.profile.unit, "kind": plan.profile.kind, "source": "simulator"}
        return MetricSeries.from_arrays(
            plan.tenant_id, plan.cluster_id, plan.node_id, plan.metric_name, us, vals, meta
        )

    def _generate(
        self, plan: SeriesPlan, i0: int, i1: int, carry: float
    ) -> tuple[array[int], array[float], float]:
        """Points ``[i0, i1)`` of a series: epoch microseconds, values, and the counter carry."""
        cfg = self.config
        prof = plan.profile
        n = i1 - i0
        if n <= 0:
            return array("q"), array("d"), carry
        table = season_table(cfg.step_seconds, prof.daily, prof.weekly)
        w = len(table)
        shift0 = self._offset + plan.phase
        r = (shift0 + i0) % w
        reps = (r + n) // w + 1
        seq = list((table * reps)[r : r + n]) if reps > 1 else list(table[r : r + n])
        additive = []
        for eff in plan.effects:
            a, b = max(eff.start, i0), min(eff.end, i1)
            if a >= b:
                continue
            if eff.kind in SEASONAL_KINDS:
                if eff.kind == "phase_shift":
                    sh = shift0 + int(eff.value)
                    for i in range(a, b):
                        seq[i - i0] = table[(sh + i) % w]
                elif eff.kind == "missing_peak":
                    for i in range(a - i0, b - i0):
                        seq[i] = min(seq[i], 1.0)
                else:
                    f = eff.value
                    for i in range(a - i0, b - i0):
                        seq[i] = 1.0 + (seq[i] - 1.0) * f
            else:
                additive.append((eff, a, b))
        base, drift = plan.base, plan.drift
        noise_stream = derive_seed(plan.stream, "noise")
        idx = range(i0, i1)
        # Comprehensions specialised by case: the per-point work is the hot path.
        if prof.multiplicative:
            # The noise factors are exp(noise * z) for the same z as the additive case, by table.
            m = lognormal_factors(noise_stream, i0, i1, plan.noise)
            if drift:
                vals = [(base * s + drift * i) * f for i, s, f in zip(idx, seq, m, strict=True)]
            else:
                vals = [base * s * f for s, f in zip(seq, m, strict=True)]
            if prof.tail_alpha:
                tail = pareto_factors(derive_seed(plan.stream, "tail"), i0, i1, prof.tail_alpha)
                vals = [v * x for v, x in zip(vals, tail, strict=True)]
        else:
            z = normals(noise_stream, i0, i1)
            sd = plan.noise
            if drift:
                vals = [base * s + drift * i + sd * e for i, s, e in zip(idx, seq, z, strict=True)]
            else:
                vals = [base * s + sd * e for s, e in zip(seq, z, strict=True)]
        for eff, a, b in additive:
            for i in range(a, b):
                vals[i - i0] += eff.delta(i)
        lo, hi = prof.lower, prof.upper
        if lo is not None and hi is not None:
            vals = [hi if v > hi else (lo if v < lo else v) for v in vals]
        elif lo is not None:
            vals = [lo if v < lo else v for v in vals]
        if prof.integer:
            vals = [float(round(v)) for v in vals]
        if prof.kind == "counter":
            step = float(cfg.step_seconds)
            total = carry
            acc = []
            for v in vals:
                total += v * step
                acc.append(total)
            vals, carry = acc, total
        step_us = cfg.step_us
        t0 = self._t0_us
        if cfg.jitter:
            # Each point is late by a fraction of a step in [0, jitter): times stay ascending.
            span = cfg.jitter * step_us
            ju = uniforms(derive_seed(plan.stream, "jitter"), i0, i1)
            us_list = [t0 + i * step_us + int(x * span) for i, x in zip(idx, ju, strict=True)]
        else:
            us_list = None
        if cfg.missing_rate:
            keep = _kept(plan, i0, i1, cfg.missing_rate)
            if us_list is None:
                us_list = list(range(t0 + i0 * step_us, t0 + i1 * step_us, step_us))
            us_list = [t for t, k in zip(us_list, keep, strict=False) if k]
            vals = [v for v, k in zip(vals, keep, strict=False) if k]
        if us_list is None:
            us = array("q", range(t0 + i0 * step_us, t0 + i1 * step_us, step_us))
        else:
            us = array("q", us_list)
        return us, array("d", vals), carry


def _kept(plan: SeriesPlan, i0: int, i1: int, missing_rate: float) -> list[bool]:
    """Whether each point ``i0 .. i1 - 1`` of the series is kept (not missing): one draw per point."""
    return [k >= missing_rate for k in uniforms(derive_seed(plan.stream, "missing"), i0, i1)]
