"""Property tests of AggregationPipeline beyond test_core_props: combining rules, order, identity, counts."""

from __future__ import annotations

import json
import math
import random
import statistics
from datetime import timedelta

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from backend.analytics import (
    AggregatedAnomalyScore,
    AggregationPipeline,
    AggregationStrategy,
    AnomalyResult,
    AnomalyType,
)
from backend.analytics.aggregation import FleetScores, p95

from .strategies import T0

MAX, MEAN, P95, WEIGHTED = (
    AggregationStrategy.MAX,
    AggregationStrategy.MEAN,
    AggregationStrategy.P95,
    AggregationStrategy.WEIGHTED,
)
STRATEGIES = list(AggregationStrategy)
# The weights WEIGHTED runs with unless a test says otherwise: "io" weighs 0, so it is left out.
WEIGHTS = {"cpu": 2.0, "mem": 1.0, "disk": 0.5, "io": 0.0}

# Scores in [0, 1], with the edges floating point makes interesting: subnormals, an ulp either side of 0.5.
unit = st.one_of(
    st.floats(0, 1),
    st.sampled_from(
        [
            0.0,
            0.5,
            1.0,
            5e-324,
            2.2250738585072014e-308,
            0.49999999999999994,
            0.5000000000000001,
            0.9999999999999999,
            1e-300,
        ]
    ),
)
# Two characters each, so that a copy of a name is a distinct str object (one-character strs are cached).
names = st.sampled_from(["a1", "b2", "c3"])
tenants = st.sampled_from(["t1", "t2"])
anomaly_labels = st.sampled_from(["spike", "trend", "seasonal"])

Row = tuple[str, str, str, str, float, int, str]
metrics = st.sampled_from(["cpu", "mem", "disk", "io"])
window_ks = st.integers(0, 5)  # the window (minutes after T0) a result is for
rows = st.lists(st.tuples(tenants, names, names, metrics, unit, window_ks, anomaly_labels), max_size=60)
# Results of the weight-0 metric "io": on existing nodes or on new ones, any score and label.
ZeroRow = tuple[str, str, str, float, int, str]
zero_rows = st.lists(st.tuples(tenants, names, names, unit, window_ks, anomaly_labels), max_size=20)


def _res(
    tenant: str, cluster: str, node: str, metric: str, score: float, k: int = 0, label: str = "spike"
) -> AnomalyResult:
    """A result for window ``k`` (minutes after T0), labelled ``label`` when anomalous, NORMAL below 0.5."""
    return AnomalyResult(
        tenant,
        cluster,
        node,
        metric,
        T0 + timedelta(minutes=k),
        T0 + timedelta(minutes=k + 1),
        score,
        label if score >= 0.5 else "normal",
    )


def _build(rs: list[Row]) -> list[AnomalyResult]:
    return [_res(t, c, n, m, s, k, label) for t, c, n, m, s, k, label in rs]


def _one_node(xs: list[float]) -> list[AnomalyResult]:
    """One node whose metrics m0, m1, ... score ``xs``."""
    return [_res("t", "c", "n", f"m{i}", x) for i, x in enumerate(xs)]


def _pipe(strategy: AggregationStrategy) -> AggregationPipeline:
    return AggregationPipeline(strategy, WEIGHTS if strategy is WEIGHTED else None)


def _levels(out: FleetScores) -> list[AggregatedAnomalyScore]:
    return out.nodes + out.clusters + out.tenants


def _key(x: AggregatedAnomalyScore) -> tuple[str, str | None, str | None]:
    return (x.tenant_id, x.cluster_id, x.node_id)


def _fresh(name: str) -> str:
    """An equal str that is a different object (as a parser would make it)."""
    return "".join(list(name))


def _positive(x: float | None) -> bool:
    return x is None or math.copysign(1.0, x) == 1.0


# ---------------------------------------------------------------- combining rules


def _interpolated(xs: list[float]) -> tuple[float, float]:
    """The two sorted scores the inclusive 95th percentile interpolates between."""
    data = sorted(xs)
    j = 95 * (len(data) - 1) // 100
    return data[j], data[min(j + 1, len(data) - 1)]


@settings(max_examples=60)
@given(st.lists(unit, min_size=1, max_size=60))
@example([0.01476609212320779] * 2)  # equal neighbours: the standard library lands 1 ulp below them
@example([0.0] * 50 + [0.9854838803307046] * 2 + [1.0] * 2)  # equal neighbours: 2 ulps below
@example([0.0] * 19 + [0.7657254516291417, 1.0])  # on a rank (delta 0): 1 ulp below the lower score
@example([0.7971469914312045, 0.7971469914312046])  # adjacent floats: 1 ulp above the upper score
def test_p95_is_stdlib_quantile_kept_between_its_neighbours(xs: list[float]) -> None:
    """P95 is quantiles(n=100, method='inclusive')[94] clamped to the scores it interpolates; 1 score: it."""
    got = p95(xs)
    assert _pipe(P95).aggregate_nodes(_one_node(xs))[0].aggregate_score == got
    if len(xs) == 1:
        assert got == xs[0]
        return
    lo, hi = _interpolated(xs)
    assert lo <= got <= hi
    expected = statistics.quantiles(xs, n=100, method="inclusive")[94]
    if lo <= expected <= hi:  # the usual case: the standard library's float itself
        assert got == expected
    else:  # its weighted sum rounded past a neighbour (mostly equal neighbours): kept at that neighbour
        assert got == (lo if expected < lo else hi)
        assert abs(expected - got) <= 2 * math.ulp(got)


@settings(max_examples=60)
@given(st.lists(unit, min_size=1, max_size=60))
def test_strategy_order_relations(xs: list[float]) -> None:
    """At node level MAX is the max; MEAN and P95 lie within [min, max]; P95 is not below the median."""
    sc = {s: _pipe(s).aggregate_nodes(_one_node(xs))[0].aggregate_score for s in (MAX, MEAN, P95)}
    assert sc[MAX] == max(xs)
    assert min(xs) <= sc[MEAN] <= max(xs)
    assert min(xs) <= sc[P95] <= max(xs)
    median = statistics.median(xs)
    assert median <= sc[P95] or math.isclose(median, sc[P95])


@settings(max_examples=60)
@given(
    st.lists(unit, min_size=1, max_size=60),
    st.sampled_from([1.0, 0.1, 3.0, 7.0, 1e-300, 1e300, 5e-324, 1e-320]),
)
def test_weighted_equal_weights_is_mean(xs: list[float], w: float) -> None:
    """WEIGHTED with every metric at the same positive weight gives the MEAN (weights are relative)."""
    rs = _one_node(xs)
    mean = _pipe(MEAN).aggregate_nodes(rs)[0].aggregate_score
    got = AggregationPipeline(WEIGHTED, {f"m{i}": w for i in range(len(xs))}).aggregate_nodes(rs)[0]
    assert got.aggregate_score == mean


@st.composite
def full_grids(draw: st.DrawFn) -> list[AnomalyResult]:
    """Results where every cluster has the same number of nodes and every node the same metrics."""
    n_clusters, n_nodes, n_metrics = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    out: list[AnomalyResult] = []
    for t in draw(st.lists(tenants, min_size=1, max_size=2, unique=True)):
        for c in range(n_clusters):
            for n in range(n_nodes):
                for m in range(n_metrics):
                    scores = draw(st.lists(unit, min_size=1, max_size=3))  # one per window
                    out.extend(_res(t, f"c{c}", f"n{n}", f"m{m}", s, k) for k, s in enumerate(scores))
    return out


@settings(max_examples=60)
@given(full_grids(), st.floats(min_value=0.0, exclude_min=True, allow_infinity=False), st.booleans())
def test_weighted_one_positive_weight_is_mean_at_every_level(
    results: list[AnomalyResult], w: float, as_default: bool
) -> None:
    """WEIGHTED with one positive weight gives MEAN's floats and counts at every level (equal group sizes)."""
    weighted = (
        AggregationPipeline(WEIGHTED, {}, default_weight=w)
        if as_default
        else AggregationPipeline(WEIGHTED, {m: w for m in {r.metric_name for r in results}})
    )

    def summary(out: list[AggregatedAnomalyScore]) -> list[tuple[object, ...]]:
        return [(*_key(x), x.aggregate_score, x.num_metrics_analyzed, x.num_anomalies_detected) for x in out]

    assert summary(_levels(weighted.run(results))) == summary(_levels(_pipe(MEAN).run(results)))


@settings(max_examples=60)
@given(
    st.lists(unit, min_size=1, max_size=20),
    st.lists(st.floats(0, 1e6), min_size=20, max_size=20),
    st.sampled_from([1.0, 1e-300, 1e-310, 1e300, 2.0**-1074 * 2**20]),
)
def test_weighted_scale_invariant(xs: list[float], ws: list[float], scale: float) -> None:
    """Multiplying every weight by the same factor does not change the score (beyond a few ulps)."""
    rs = _one_node(xs)
    base = {f"m{i}": ws[i] for i in range(len(xs))}
    scaled = {k: v * scale for k, v in base.items()}
    assume(all((v == 0) == (base[k] == 0) for k, v in scaled.items()))  # no weight underflows to 0
    assume(all(math.isfinite(v) for v in scaled.values()))
    a = AggregationPipeline(WEIGHTED, base).aggregate_nodes(rs)[0].aggregate_score
    b = AggregationPipeline(WEIGHTED, scaled).aggregate_nodes(rs)[0].aggregate_score
    assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (a, b)


@settings(max_examples=60)
@given(st.lists(unit, min_size=1, max_size=20), st.lists(st.floats(0, 100), min_size=20, max_size=20))
def test_weighted_within_included_range(xs: list[float], ws: list[float]) -> None:
    """WEIGHTED lies within [min, max] of the metrics of positive weight (weight 0 leaves a metric out)."""
    weights = {f"m{i}": ws[i] for i in range(len(xs))}
    got = AggregationPipeline(WEIGHTED, weights).aggregate_nodes(_one_node(xs))[0].aggregate_score
    included = [x for i, x in enumerate(xs) if ws[i] > 0]
    if not included:
        assert got == 0.0
    else:
        assert min(included) <= got <= max(included), (got, included)


# ---------------------------------------------------------------- order, identity, counts


@settings(max_examples=60)
@given(rows, st.sampled_from(STRATEGIES), st.randoms(use_true_random=False))
def test_permutation_invariance_bitwise(
    rs: list[Row], strategy: AggregationStrategy, rnd: random.Random
) -> None:
    """Results in another order give the same aggregates down to the JSON bytes, and the same top-N."""
    p = _pipe(strategy)
    a = _build(rs)
    b = a[:]
    rnd.shuffle(b)
    ra, rb = p.run(a), p.run(b)
    assert json.dumps([x.to_dict() for x in _levels(ra)]) == json.dumps([x.to_dict() for x in _levels(rb)])
    for t in ("t1", "t2"):
        for c in (None, "a1", "b2"):
            for n in (0, 1, 3, 100):
                shuffled = ra.nodes[:]
                rnd.shuffle(shuffled)
                top = p.top_nodes(ra.nodes, n, tenant_id=t, cluster_id=c)
                assert top == p.top_nodes(shuffled, n, tenant_id=t, cluster_id=c)


@settings(max_examples=60)
@given(rows, st.sampled_from(STRATEGIES))
def test_identity_vs_equal_strings(rs: list[Row], strategy: AggregationStrategy) -> None:
    """Equal ids that are distinct str objects (as from a parser) aggregate like the originals."""
    p = _pipe(strategy)
    a = _build(rs)
    b = [
        AnomalyResult(
            _fresh(r.tenant_id),
            _fresh(r.cluster_id),
            _fresh(r.node_id),
            _fresh(r.metric_name),
            r.window_start,
            r.window_end,
            r.anomaly_score,
            r.anomaly_label,
        )
        for r in a
    ]
    assert all(x.metric_name is not y.metric_name for x, y in zip(a, b, strict=True))  # really other objects
    assert p.run(a) == p.run(b)


@settings(max_examples=60)
@given(rows)
def test_counts(rs: list[Row]) -> None:
    """MAX, every level: counts are the distinct series and the non-NORMAL results; the score is their max."""
    a = _build(rs)
    out = AggregationPipeline().run(a)
    for x in out.nodes:
        mine = [r for r in a if (r.tenant_id, r.cluster_id, r.node_id) == _key(x)]
        assert x.num_metrics_analyzed == len({r.metric_name for r in mine})
        assert x.num_anomalies_detected == sum(r.is_anomalous for r in mine)
        assert x.aggregate_score == max(r.anomaly_score for r in mine)
    for x in out.clusters:
        mine = [r for r in a if (r.tenant_id, r.cluster_id) == (x.tenant_id, x.cluster_id)]
        assert x.num_metrics_analyzed == len({(r.node_id, r.metric_name) for r in mine})
        assert x.num_anomalies_detected == sum(r.is_anomalous for r in mine)
        assert x.aggregate_score == max(r.anomaly_score for r in mine)
    for x in out.tenants:
        mine = [r for r in a if r.tenant_id == x.tenant_id]
        assert x.num_metrics_analyzed == len({(r.cluster_id, r.node_id, r.metric_name) for r in mine})
        assert x.num_anomalies_detected == sum(r.is_anomalous for r in mine)
        assert x.aggregate_score == max(r.anomaly_score for r in mine)


@settings(max_examples=60)
@given(rows, rows, st.sampled_from(STRATEGIES))
def test_cluster_isolation(mine: list[Row], other: list[Row], strategy: AggregationStrategy) -> None:
    """Results of another cluster of the same tenant change no node of this cluster, nor its cluster score."""
    p = _pipe(strategy)
    m = [r for r in _build(mine) if r.cluster_id == "a1"]
    o = [_res(t, "zz", n, metric, s, k, label) for t, _, n, metric, s, k, label in other]
    alone, mixed = p.run(m), p.run(o + m)

    def of_a1(xs: list[AggregatedAnomalyScore]) -> list[AggregatedAnomalyScore]:
        return [x for x in xs if x.cluster_id == "a1"]

    assert of_a1(alone.nodes) == of_a1(mixed.nodes)
    assert of_a1(alone.clusters) == of_a1(mixed.clusters)
    for t in ("t1", "t2"):
        top = p.top_nodes(alone.nodes, 5, tenant_id=t, cluster_id="a1")
        assert top == p.top_nodes(mixed.nodes, 5, tenant_id=t, cluster_id="a1")


@settings(max_examples=60)
@given(rows, st.sampled_from(STRATEGIES))
def test_metric_score_is_max_over_windows(rs: list[Row], strategy: AggregationStrategy) -> None:
    """Only each series' best window sets the node score: duplicates or lower windows change no score."""
    p = _pipe(strategy)
    a = _build(rs)
    whole = p.aggregate_nodes(a)
    dup = p.aggregate_nodes(a + a)
    assert [x.aggregate_score for x in whole] == [x.aggregate_score for x in dup]
    assert [x.num_metrics_analyzed for x in whole] == [x.num_metrics_analyzed for x in dup]
    assert [2 * x.num_anomalies_detected for x in whole] == [x.num_anomalies_detected for x in dup]
    best: dict[tuple[str, str, str, str], AnomalyResult] = {}
    for r in a:
        ids = (r.tenant_id, r.cluster_id, r.node_id, r.metric_name)
        if ids not in best or r.anomaly_score > best[ids].anomaly_score:
            best[ids] = r
    tops = p.aggregate_nodes(best.values())
    assert [(_key(x), x.aggregate_score, x.num_metrics_analyzed) for x in whole] == [
        (_key(x), x.aggregate_score, x.num_metrics_analyzed) for x in tops
    ]


@settings(max_examples=60)
@given(rows, st.sampled_from(STRATEGIES))
def test_generator_equals_list(rs: list[Row], strategy: AggregationStrategy) -> None:
    """run() gives the same scores for an iterator, a list and a tuple of the same results."""
    p = _pipe(strategy)
    a = _build(rs)
    assert p.run(iter(a)) == p.run(a) == p.run(tuple(a))


@settings(max_examples=60)
@given(
    st.lists(st.tuples(names, names, unit), max_size=30, unique_by=lambda r: (r[0], r[1])),
    st.randoms(use_true_random=False),
)
def test_top_nodes_ties(nodes: list[tuple[str, str, float]], rnd: random.Random) -> None:
    """top_nodes: highest first, ties by ascending (cluster_id, node_id), in any input order, for any n."""
    scores = [AggregatedAnomalyScore("t", c, n, "max", s, 1, 0) for c, n, s in nodes]
    p = AggregationPipeline()
    expected = sorted(scores, key=lambda x: (-x.aggregate_score, x.cluster_id, x.node_id))
    for k in (0, 1, 3, len(scores), len(scores) + 5):
        shuffled = scores[:]
        rnd.shuffle(shuffled)
        got = p.top_nodes(shuffled, k, tenant_id="t")
        assert got == expected[:k]
        assert [json.dumps(x.to_dict()) for x in got] == [json.dumps(x.to_dict()) for x in expected[:k]]


def _contributing(children: list[AggregatedAnomalyScore], strategy: AggregationStrategy) -> list[float]:
    """The children's scores that count: under WEIGHTED, those of children with metrics of positive weight."""
    return [c.aggregate_score for c in children if strategy is not WEIGHTED or c.num_metrics_analyzed > 0]


@settings(max_examples=60)
@given(rows, st.sampled_from(STRATEGIES))
def test_hierarchy_within_children(rs: list[Row], strategy: AggregationStrategy) -> None:
    """A cluster or tenant scores within [min, max] of its contributing children's scores (MAX: their max)."""
    out = _pipe(strategy).run(_build(rs))
    groups = [
        (c, [n for n in out.nodes if (n.tenant_id, n.cluster_id) == (c.tenant_id, c.cluster_id)])
        for c in out.clusters
    ]
    groups += [(t, [c for c in out.clusters if c.tenant_id == t.tenant_id]) for t in out.tenants]
    for parent, children in groups:
        assert children
        kids = _contributing(children, strategy)
        if not kids:  # WEIGHTED, every child of weight 0
            assert parent.aggregate_score == 0.0
            continue
        assert min(kids) <= parent.aggregate_score <= max(kids)
        if strategy is MAX:
            assert parent.aggregate_score == max(kids)


@settings(max_examples=60)
@given(rows)
def test_weight_zero_metric_leaves_no_trace(rs: list[Row]) -> None:
    """WEIGHTED: results of a weight-0 metric ('io') added to existing nodes change no score at any level."""
    p = _pipe(WEIGHTED)
    base = [r for r in _build(rs) if r.metric_name != "io"]
    extra = [_res(r.tenant_id, r.cluster_id, r.node_id, "io", 0.99) for r in base]
    a, b = p.run(base), p.run(base + extra)
    assert [x.aggregate_score for x in a.nodes] == [x.aggregate_score for x in b.nodes]
    assert [x.aggregate_score for x in a.clusters] == [x.aggregate_score for x in b.clusters]
    assert [x.aggregate_score for x in a.tenants] == [x.aggregate_score for x in b.tenants]


@settings(max_examples=60)
@given(rows, zero_rows, st.booleans())
def test_weight_zero_metric_moves_no_score_and_no_count(
    rs: list[Row], zs: list[ZeroRow], as_default: bool
) -> None:
    """A weight-0 metric changes no aggregate's score or counts; a group of only such metrics is 0.0, 0, 0."""
    weights = {"cpu": 2.0, "mem": 1.0, "disk": 0.5}
    # The weight 0 given by name, or as the default weight of every metric not named.
    p = AggregationPipeline(WEIGHTED, weights, default_weight=0.0) if as_default else _pipe(WEIGHTED)
    base = [r for r in _build(rs) if r.metric_name != "io"]
    extra = [_res(t, c, n, "io", s, k, label) for t, c, n, s, k, label in zs]
    without, with_zero = p.run(base), p.run(extra + base)
    before = {_key(x): x for x in _levels(without)}
    after = {_key(x): x for x in _levels(with_zero)}
    assert before.keys() <= after.keys()
    for key, x in after.items():
        if key in before:
            assert x == before[key]
        else:
            assert (x.aggregate_score, x.num_metrics_analyzed, x.num_anomalies_detected) == (0.0, 0, 0)
    for x in with_zero.nodes:  # the counts are of the weighted metrics' results only
        mine = [r for r in base if (r.tenant_id, r.cluster_id, r.node_id) == _key(x)]
        assert x.num_metrics_analyzed == len({r.metric_name for r in mine})
        assert x.num_anomalies_detected == sum(r.is_anomalous for r in mine)


@settings(max_examples=60)
@given(rows, st.sampled_from(STRATEGIES))
def test_aggregates_round_trip_json(rs: list[Row], strategy: AggregationStrategy) -> None:
    """Every aggregate round-trips through JSON (to_dict / from_dict)."""
    for x in _levels(_pipe(strategy).run(_build(rs))):
        assert AggregatedAnomalyScore.from_dict(json.loads(json.dumps(x.to_dict()))) == x


@settings(max_examples=60)
@given(st.lists(st.sampled_from([0.0, -0.0]), min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_signed_zero_scores_order_independent(zs: list[float], rnd: random.Random) -> None:
    """Scores of -0.0 (== 0, accepted as in [0, 1]) do not make serialised aggregates depend on the order."""
    a = [_res("t", "c", "n", "m", z, k) for k, z in enumerate(zs)]
    b = a[:]
    rnd.shuffle(b)
    p = AggregationPipeline()
    da = [json.dumps(x.to_dict()) for x in p.run(a).tenants]
    assert da == [json.dumps(x.to_dict()) for x in p.run(b).tenants]


@settings(max_examples=60)
@given(
    st.lists(st.one_of(st.sampled_from([0.0, -0.0]), unit), min_size=1, max_size=8),
    st.sampled_from(STRATEGIES),
    st.sampled_from(["normal", AnomalyType.NORMAL]),
)
def test_negative_zero_score_stored_as_zero(
    scores: list[float], strategy: AggregationStrategy, normal: AnomalyType | str
) -> None:
    """A score (or magnitude) of -0.0 is stored as 0.0: built, parsed, in JSON and in every aggregate."""
    built = [
        AnomalyResult("t", "c", "n", f"m{i}", T0, T0, s, normal if s < 0.5 else "spike", s)
        for i, s in enumerate(scores)
    ]
    parsed = [
        AnomalyResult.from_dict({**r.to_dict(), "anomaly_score": s, "magnitude": s})
        for r, s in zip(built, scores, strict=True)
    ]
    assert parsed == built
    for r in built + parsed:
        assert _positive(r.anomaly_score) and _positive(r.magnitude)
        assert "-0.0" not in json.dumps(r.to_dict())
    direct = AggregatedAnomalyScore("t", "c", "n", strategy, -0.0, 1, 0)
    for x in [direct, *_levels(_pipe(strategy).run(built))]:
        assert _positive(x.aggregate_score)
        assert "-0.0" not in json.dumps(x.to_dict())
