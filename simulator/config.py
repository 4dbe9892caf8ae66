"""Fleet configuration: dataclasses for code, and a small TOML loader.

From code::

    from simulator import FleetConfig, TenantConfig, AnomalyMix
    config = FleetConfig(seed=7, tenants=(TenantConfig("acme"), TenantConfig("globex", noisy=True)))
    config = FleetConfig.uniform(tenants=3, clusters=2, nodes_per_cluster=4, seed=7)

From TOML (``FleetConfig.from_toml(path)``), every key optional::

    seed = 7
    start = "2024-01-01T00:00:00Z"   # or a TOML offset datetime
    step_seconds = 300               # must divide one day
    points = 2016                    # points per series (7 days at 5 min)
    metrics = ["cpu", "memory", "latency_p50", "latency_p99",
               "request_rate", "error_rate", "disk", "queue_depth"]
    missing_rate = 0.0               # probability that a point is absent: 0 or 1/65536 .. 65535/65536
    jitter = 0.0                     # each point is late by up to this fraction of a step, [0, 1)
    warmup_fraction = 0.3            # no anomaly starts in the first 30 % of the series
    unique_names = false             # true: prefix cluster/node names with the tenant
    noisy_factor = 3.0               # noise multiplier of a noisy-neighbour tenant
    noisy_bursts_per_node_day = 2.0  # bursts per node per day in a noisy tenant

    [tenant_defaults]                # applies to every tenant unless overridden
    clusters = 2
    nodes_per_cluster = 4
    [tenant_defaults.anomalies]      # counts per cluster (cluster_incidents: per tenant)
    spikes = 2                       # the values shown are the built-in defaults
    level_shifts = 1
    ramps = 1
    seasonal = 1
    node_failures = 1
    cluster_incidents = 1

    [[tenants]]
    name = "acme"
    [[tenants]]
    name = "globex"
    noisy = true

``tenants`` may also be an integer (``tenants = 3`` gives ``tenant-1`` ..
``tenant-3``). Unknown keys are rejected with a ``ValueError`` naming them;
a bad value is a ``ValueError``/``TypeError`` that names the file and the table
it is in (``small.toml.tenants[1]: TenantConfig.clusters: ...``).

**Limits.** The timeline ``start + points * step_seconds`` must end within
``datetime``'s range (by 9999-12-31), a series has at most :data:`MAX_POINTS`
points and the fleet at most :data:`MAX_SERIES` series in all;
``cluster_incidents`` can be at most a tenant's ``clusters`` and
``node_failures`` at most its ``nodes_per_cluster`` (one each); a cluster's
spikes, level shifts, ramps and seasonal anomalies together, and a noisy
node's bursts over the timeline, at most one per point of their series. Other anomalies
are placed on free stretches of the series after the warm-up; those that find
no room (a short or crowded series) are left out with a warning naming the
asked and placed counts, which the ground truth records too
(``Fleet.placement``). With ``missing_rate`` > 0, a record whose every point
is missing is left out of the ground truth with a warning (no detector could
see it) and listed in ``Fleet.unobservable``.

**Anomaly kinds merge with the defaults.** An ``anomalies`` table changes only
the kinds it lists; every kind it does not list keeps the value it had: the
built-in default above for ``[tenant_defaults.anomalies]``, and the
``tenant_defaults`` value for a tenant's own ``[tenants.anomalies]``. So
``spikes = 3`` alone still injects level shifts, ramps, seasonal changes,
node failures and cluster incidents. To inject only some kinds, set the
others to 0 (``AnomalyMix.none()`` from code)::

    [tenant_defaults.anomalies]      # spikes only
    spikes = 3
    level_shifts = 0
    ramps = 0
    seasonal = 0
    node_failures = 0
    cluster_incidents = 0

Python 3.11+ reads TOML with the standard ``tomllib``. On Python 3.10 the
loader uses the ``tomli`` package when it is installed (``pip install tomli``,
part of the ``dev`` extra) and otherwise raises an error saying so.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn, TypeVar

from backend.analytics._iso import parse_iso

from .metrics import CATALOGUE, DAY_S, DEFAULT_METRICS

_toml_lib: ModuleType | None = None
if sys.version_info >= (3, 11):
    import tomllib

    _toml_lib = tomllib
else:  # pragma: no cover - Python 3.10: the tomli backport, when installed
    try:
        import tomli  # type: ignore[import-not-found, unused-ignore]

        _toml_lib = tomli
    except ModuleNotFoundError:
        pass

__all__ = ["MAX_POINTS", "MAX_SERIES", "AnomalyMix", "FleetConfig", "TenantConfig", "load_toml"]

_DEFAULT_START = datetime(2024, 1, 1, tzinfo=timezone.utc)  # a Monday
_MAX_UTC = datetime.max.replace(tzinfo=timezone.utc)

#: The most series a fleet may have in all (the sum over tenants of ``clusters *
#: nodes_per_cluster``, times the number of metrics). Building a fleet draws every
#: series' parameters up front: about 50 s and 500 MB at this bound.
MAX_SERIES = 1_000_000
#: The most points a series may have (``points``): a whole series is generated in memory,
#: about 50 bytes a point while it is built (10 million: 116 days at one second).
MAX_POINTS = 10_000_000

_T = TypeVar("_T")


def _fail(owner: str, name: str, expected: str, got: object) -> NoReturn:
    raise ValueError(f"{owner}.{name}: expected {expected}, got {got!r}")


def _check_int(owner: str, name: str, value: object, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}.{name}: expected an int >= {lo}, got {value!r} ({type(value).__name__})")
    if value < lo:
        _fail(owner, name, f"an int >= {lo}", value)


#: The finest ``missing_rate`` the generator honours (it draws one 16-bit uniform per point).
MISSING_STEP = 1.0 / 65536


def _check_float(owner: str, name: str, value: object, lo: float, hi: float, hi_open: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner}.{name}: expected a number, got {value!r} ({type(value).__name__})")
    ok = math.isfinite(value) and lo <= value and (value < hi if hi_open else value <= hi)
    if not ok:
        _fail(owner, name, f"a number in [{lo}, {hi}{')' if hi_open else ']'}", value)


def _check_name(owner: str, name: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{owner}.{name}: expected a non-empty str, got {value!r} ({type(value).__name__})")
    if not value or value.strip() != value:
        _fail(owner, name, "a non-empty str without surrounding spaces", value)


@dataclass(frozen=True, slots=True)
class AnomalyMix:
    """How many anomalies of each kind to inject.

    Counts are per cluster, except ``cluster_incidents``: the number of
    clusters of the tenant that get one cluster-wide incident (at most the
    tenant's ``clusters``; ``node_failures`` is at most its ``nodes_per_cluster``). ``spikes``,
    ``level_shifts``, ``ramps`` and ``seasonal`` (one of phase shift, missing
    peak, amplitude change) each hit one metric of a random node;
    ``node_failures`` move several metrics of one node together.
    """

    spikes: int = 2
    level_shifts: int = 1
    ramps: int = 1
    seasonal: int = 1
    node_failures: int = 1
    cluster_incidents: int = 1

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_int("AnomalyMix", f.name, getattr(self, f.name), 0)

    @classmethod
    def none(cls) -> AnomalyMix:
        """No injected anomalies at all."""
        return cls(0, 0, 0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class TenantConfig:
    """One tenant: its name, shape, and anomaly mix.

    ``noisy=True`` makes it a noisy neighbour: ``FleetConfig.noisy_factor``
    times the noise and frequent labelled bursts on every node. Its data never
    influences any other tenant's data (each tenant has its own random streams).
    """

    name: str
    clusters: int = 2
    nodes_per_cluster: int = 4
    noisy: bool = False
    anomalies: AnomalyMix = field(default_factory=AnomalyMix)

    def __post_init__(self) -> None:
        owner = "TenantConfig"
        _check_name(owner, "name", self.name)
        _check_int(owner, "clusters", self.clusters, 1)
        _check_int(owner, "nodes_per_cluster", self.nodes_per_cluster, 1)
        if not isinstance(self.noisy, bool):
            raise TypeError(f"{owner}.noisy: expected a bool, got {self.noisy!r}")
        if not isinstance(self.anomalies, AnomalyMix):
            raise TypeError(f"{owner}.anomalies: expected an AnomalyMix, got {self.anomalies!r}")
        # One incident per cluster and one failure per node: more cannot be placed, so asking for
        # more is refused here rather than silently cut.
        mix = self.anomalies
        if mix.cluster_incidents > self.clusters:
            _fail(
                owner,
                "anomalies.cluster_incidents",
                f"at most clusters = {self.clusters} (one incident per cluster)",
                mix.cluster_incidents,
            )
        if mix.node_failures > self.nodes_per_cluster:
            _fail(
                owner,
                "anomalies.node_failures",
                f"at most nodes_per_cluster = {self.nodes_per_cluster} (one failure per node and cluster)",
                mix.node_failures,
            )


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """The whole simulated fleet; see the module docstring for every field's meaning."""

    seed: int = 0
    tenants: tuple[TenantConfig, ...] = (
        TenantConfig("tenant-a"),
        TenantConfig("tenant-b"),
        TenantConfig("tenant-c", noisy=True),
    )
    start: datetime = _DEFAULT_START
    step_seconds: int = 300
    points: int = 2016
    metrics: tuple[str, ...] = DEFAULT_METRICS
    missing_rate: float = 0.0
    jitter: float = 0.0
    warmup_fraction: float = 0.3
    unique_names: bool = False
    noisy_factor: float = 3.0
    noisy_bursts_per_node_day: float = 2.0

    def __post_init__(self) -> None:
        owner = "FleetConfig"
        _check_int(owner, "seed", self.seed, -(2**63))
        # Accept any iterable (a list from code or TOML) and store a tuple.
        object.__setattr__(self, "tenants", tuple(self.tenants))
        if not self.tenants:
            _fail(owner, "tenants", "at least one tenant", self.tenants)
        seen: set[str] = set()
        items: tuple[object, ...] = self.tenants
        for i, t in enumerate(items):
            if not isinstance(t, TenantConfig):
                raise TypeError(f"{owner}.tenants[{i}]: expected a TenantConfig, got {t!r}")
            if t.name in seen:
                _fail(owner, f"tenants[{i}].name", "a name not used by another tenant", t.name)
            seen.add(t.name)
        start: object = self.start
        if not isinstance(start, datetime) or start.utcoffset() is None:
            raise TypeError(f"{owner}.start: expected a timezone-aware datetime, got {start!r}")
        try:
            utc_start = self.start.astimezone(timezone.utc)
        except OverflowError:
            raise ValueError(
                f"{owner}.start: expected an instant within years 1..9999 once converted to UTC, "
                f"got {self.start.isoformat()}"
            ) from None
        object.__setattr__(self, "start", utc_start)
        _check_int(owner, "step_seconds", self.step_seconds, 1)
        if DAY_S % self.step_seconds:
            _fail(owner, "step_seconds", "a divisor of 86400 (one day)", self.step_seconds)
        _check_int(owner, "points", self.points, 1)
        if self.points > MAX_POINTS:
            _fail(owner, "points", f"at most {MAX_POINTS:,} points per series (MAX_POINTS)", self.points)
        # The timeline [start, start + points * step_seconds) must end within datetime's range.
        room = (_MAX_UTC - utc_start) // timedelta(seconds=self.step_seconds)
        if self.points > room:
            raise ValueError(
                f"{owner}.points: expected at most {room:,} points of step_seconds = {self.step_seconds} "
                f"from start = {utc_start.isoformat()} (the timeline must end by "
                f"{_MAX_UTC.isoformat()}), got {self.points!r}"
            )
        # Accept any iterable (a list from code or TOML) and store a tuple.
        object.__setattr__(self, "metrics", tuple(self.metrics))
        if not self.metrics:
            _fail(owner, "metrics", "at least one metric", self.metrics)
        for i, m in enumerate(self.metrics):
            if m not in CATALOGUE:
                _fail(owner, f"metrics[{i}]", f"one of {', '.join(sorted(CATALOGUE))}", m)
            if m in self.metrics[:i]:
                _fail(owner, f"metrics[{i}]", "a metric not listed twice", m)
        _check_float(owner, "missing_rate", self.missing_rate, 0.0, 1.0, True)
        if self.missing_rate and not MISSING_STEP <= self.missing_rate <= 1.0 - MISSING_STEP:
            # (Each point's draw is a 16-bit uniform: a rate finer than 1/65536 would be rounded to it,
            # and one above 1 - 1/65536 would drop every point.)
            _fail(
                owner,
                "missing_rate",
                f"0, or a number in [1/65536, 65535/65536] (the generator's resolution, {MISSING_STEP:.3g})",
                self.missing_rate,
            )
        _check_float(owner, "jitter", self.jitter, 0.0, 1.0, True)
        _check_float(owner, "warmup_fraction", self.warmup_fraction, 0.0, 0.9, False)
        if not isinstance(self.unique_names, bool):
            raise TypeError(f"{owner}.unique_names: expected a bool, got {self.unique_names!r}")
        _check_float(owner, "noisy_factor", self.noisy_factor, 1.0, 100.0, False)
        _check_float(owner, "noisy_bursts_per_node_day", self.noisy_bursts_per_node_day, 0.0, 1000.0, False)
        if self.num_series > MAX_SERIES:
            nodes = sum(t.clusters * t.nodes_per_cluster for t in self.tenants)
            raise ValueError(
                f"{owner}.tenants: expected at most {MAX_SERIES:,} series in all (MAX_SERIES: the sum over "
                f"tenants of clusters x nodes_per_cluster, times the number of metrics), got "
                f"{self.num_series:,} ({len(self.tenants):,} tenants with {nodes:,} nodes, "
                f"{len(self.metrics)} metrics)"
            )
        # Every anomaly takes one point of one series at least: a tenant asking for more than its
        # series could hold is refused here, not left to a placement loop as long as the ask.
        for i, t in enumerate(self.tenants):
            mix = t.anomalies
            singles = mix.level_shifts + mix.ramps + mix.seasonal + mix.spikes
            room = t.nodes_per_cluster * len(self.metrics) * self.points
            if singles > room:
                _fail(
                    owner,
                    f"tenants[{i}].anomalies",
                    f"at most {room:,} level_shifts + ramps + seasonal + spikes per cluster (one point "
                    f"of one of tenant {t.name!r}'s {t.nodes_per_cluster * len(self.metrics):,} series "
                    f"of a cluster each, {self.points:,} points a series)",
                    singles,
                )
            bursts = self.noisy_bursts_per_node_day * self.points * self.step_seconds / DAY_S
            if t.noisy and round(bursts) > len(self.metrics) * self.points:
                raise ValueError(
                    f"{owner}.noisy_bursts_per_node_day: expected at most one burst per point of a node's "
                    f"{len(self.metrics)} series ({len(self.metrics) * self.points:,} over the timeline), "
                    f"got {self.noisy_bursts_per_node_day!r} a day: {round(bursts):,} bursts a node on "
                    f"noisy tenant {t.name!r}"
                )

    @classmethod
    def uniform(
        cls,
        *,
        tenants: int = 3,
        clusters: int = 2,
        nodes_per_cluster: int = 4,
        noisy_tenants: int = 0,
        anomalies: AnomalyMix | None = None,
        **settings: Any,
    ) -> FleetConfig:
        """``tenants`` equal tenants ``tenant-1`` ..; the last ``noisy_tenants`` of them are noisy."""
        _check_int("FleetConfig.uniform", "tenants", tenants, 1)
        if tenants > MAX_SERIES:  # (each tenant has a series at least; refused before building them)
            _fail("FleetConfig.uniform", "tenants", f"at most {MAX_SERIES:,} (MAX_SERIES)", tenants)
        _check_int("FleetConfig.uniform", "noisy_tenants", noisy_tenants, 0)
        mix = anomalies if anomalies is not None else AnomalyMix()
        specs = tuple(
            TenantConfig(f"tenant-{k + 1}", clusters, nodes_per_cluster, k >= tenants - noisy_tenants, mix)
            for k in range(tenants)
        )
        return cls(tenants=specs, **settings)

    @property
    def step_us(self) -> int:
        """The sampling step in microseconds."""
        return self.step_seconds * 1_000_000

    @property
    def num_series(self) -> int:
        """How many metric series the fleet has."""
        nodes = sum(t.clusters * t.nodes_per_cluster for t in self.tenants)
        return nodes * len(self.metrics)

    @property
    def nominal_points(self) -> int:
        """Points in the fleet before missing points are dropped (``num_series * points``)."""
        return self.num_series * self.points

    def with_tenants(self, tenants: tuple[TenantConfig, ...]) -> FleetConfig:
        """The same fleet with other tenants (for with/without comparisons)."""
        return replace(self, tenants=tenants)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the configuration (``start`` as ISO 8601)."""
        return {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "step_seconds": self.step_seconds,
            "points": self.points,
            "metrics": list(self.metrics),
            "missing_rate": self.missing_rate,
            "jitter": self.jitter,
            "warmup_fraction": self.warmup_fraction,
            "unique_names": self.unique_names,
            "noisy_factor": self.noisy_factor,
            "noisy_bursts_per_node_day": self.noisy_bursts_per_node_day,
            "tenants": [
                {
                    "name": t.name,
                    "clusters": t.clusters,
                    "nodes_per_cluster": t.nodes_per_cluster,
                    "noisy": t.noisy,
                    "anomalies": {f.name: getattr(t.anomalies, f.name) for f in fields(AnomalyMix)},
                }
                for t in self.tenants
            ],
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, where: str = "config") -> FleetConfig:
        """Build from a parsed TOML/JSON mapping (the layout in the module docstring)."""
        return _from_mapping(data, where)

    @classmethod
    def from_toml(cls, path: str | Path) -> FleetConfig:
        """Read a TOML file (see the module docstring); unknown keys raise ``ValueError``."""
        return load_toml(path)


_TOP_KEYS = {
    "seed",
    "start",
    "step_seconds",
    "points",
    "metrics",
    "missing_rate",
    "jitter",
    "warmup_fraction",
    "unique_names",
    "noisy_factor",
    "noisy_bursts_per_node_day",
    "tenants",
    "tenant_defaults",
}
_TENANT_KEYS = {"name", "clusters", "nodes_per_cluster", "noisy", "anomalies"}
_MIX_KEYS = {f.name for f in fields(AnomalyMix)}


def _check_keys(where: str, data: object, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise TypeError(f"{where}: expected a table, got {data!r}")
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise ValueError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"expected only {', '.join(sorted(allowed))}"
        )
    return data


def _at(where: str, build: Callable[[], _T]) -> _T:
    """``build()``, with a ``ValueError``/``TypeError`` it raises prefixed by ``where`` (file and table)."""
    try:
        return build()
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{where}: {exc}") from None


def _mix(where: str, data: object, base: AnomalyMix) -> AnomalyMix:
    table = _check_keys(where, data, _MIX_KEYS)
    return _at(where, lambda: replace(base, **table))


def _tenant(where: str, data: object, defaults: Mapping[str, Any], name: str | None) -> TenantConfig:
    table = dict(_check_keys(where, data, _TENANT_KEYS))
    merged = {k: v for k, v in defaults.items() if k != "anomalies"}
    mix = _mix(f"{where}.anomalies", defaults.get("anomalies", {}), AnomalyMix())
    if "anomalies" in table:
        mix = _mix(f"{where}.anomalies", table.pop("anomalies"), mix)
    merged.update(table)
    if name is not None:
        merged.setdefault("name", name)
    if "name" not in merged:
        raise ValueError(f"{where}: missing key 'name'")
    return _at(where, lambda: TenantConfig(anomalies=mix, **merged))


def _from_mapping(data: Mapping[str, Any], where: str) -> FleetConfig:
    table = dict(_check_keys(where, data, _TOP_KEYS))
    defaults = dict(
        _check_keys(f"{where}.tenant_defaults", table.pop("tenant_defaults", {}), _TENANT_KEYS - {"name"})
    )
    # Checked here first, so that a bad key or value there is reported where it is written.
    _mix(f"{where}.tenant_defaults.anomalies", defaults.get("anomalies", {}), AnomalyMix())
    scalars = {k: v for k, v in defaults.items() if k != "anomalies"}
    _at(f"{where}.tenant_defaults", lambda: TenantConfig("tenant_defaults", **scalars))
    raw_tenants = table.pop("tenants", None)
    tenants: tuple[TenantConfig, ...]
    if raw_tenants is None:
        tenants = tuple(
            _tenant(f"{where}.tenants[{k}]", {}, defaults, f"tenant-{c}") for k, c in enumerate("abc")
        )
    elif isinstance(raw_tenants, int) and not isinstance(raw_tenants, bool):
        _check_int(where, "tenants", raw_tenants, 1)
        if raw_tenants > MAX_SERIES:  # (each tenant has a series at least; refused before building them)
            _fail(where, "tenants", f"at most {MAX_SERIES:,} (MAX_SERIES)", raw_tenants)
        tenants = tuple(
            _tenant(f"{where}.tenants[{k}]", {}, defaults, f"tenant-{k + 1}") for k in range(raw_tenants)
        )
    elif isinstance(raw_tenants, list):
        tenants = tuple(
            _tenant(f"{where}.tenants[{k}]", t, defaults, None) for k, t in enumerate(raw_tenants)
        )
    else:
        raise TypeError(f"{where}.tenants: expected an int or an array of tables, got {raw_tenants!r}")
    if "start" in table:
        start = table["start"]
        if isinstance(start, str):
            try:
                start = parse_iso(start)
            except ValueError:
                _fail(where, "start", "an ISO 8601 datetime with a UTC offset", table["start"])
        if not isinstance(start, datetime) or start.utcoffset() is None:
            _fail(where, "start", "an ISO 8601 datetime with a UTC offset", table["start"])
        table["start"] = start
    if "metrics" in table:
        if not isinstance(table["metrics"], list):
            raise TypeError(f"{where}.metrics: expected an array of metric names, got {table['metrics']!r}")
        table["metrics"] = tuple(table["metrics"])
    return _at(where, lambda: FleetConfig(tenants=tenants, **table))


def _toml_module() -> ModuleType:
    """``tomllib`` (Python 3.11+) or the ``tomli`` backport; a clear error if neither exists."""
    if _toml_lib is None:  # pragma: no cover - Python 3.10 without tomli
        raise RuntimeError(
            "reading a TOML configuration on Python 3.10 needs the 'tomli' package: "
            "run `pip install tomli` (or install the 'dev' extra), or pass the configuration from code"
        )
    return _toml_lib


def load_toml(path: str | Path) -> FleetConfig:
    """Read a :class:`FleetConfig` from the TOML file at ``path``.

    A TOML syntax error is a ``ValueError`` that names the file and the
    parser's line and column.
    """
    toml = _toml_module()
    with open(path, "rb") as fh:
        try:
            data = toml.load(fh)
        except toml.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from exc
    return _from_mapping(data, str(path))
