"""Unit tests of backend.analytics.aggregation."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.analytics import (
    AggregatedAnomalyScore,
    AggregationPipeline,
    AggregationStrategy,
    AnomalyResult,
)
from backend.analytics.aggregation import p95

T = datetime(2024, 5, 1, tzinfo=timezone.utc)


def res(tenant: str, cluster: str, node: str, metric: str, score: float, label: str = "") -> AnomalyResult:
    return AnomalyResult(
        tenant, cluster, node, metric, T, T, score, label or ("spike" if score >= 0.5 else "normal")
    )


def test_metric_is_max_over_windows_and_counts() -> None:
    """A metric's score is its max window score; counts are distinct metrics and non-NORMAL results."""
    results = [
        res("a", "c", "n", "cpu", 0.2),
        res("a", "c", "n", "cpu", 0.7),
        res("a", "c", "n", "cpu", 0.9),
        res("a", "c", "n", "mem", 0.4),
    ]
    (node,) = AggregationPipeline(AggregationStrategy.MEAN).aggregate_nodes(results)
    assert node.aggregate_score == pytest.approx((0.9 + 0.4) / 2)
    assert node.num_metrics_analyzed == 2 and node.num_anomalies_detected == 2


_IDS = [
    ("a", "c1", "n1", "cpu"),
    ("a", "c1", "n1", "mem"),
    ("a", "c1", "n2", "cpu"),
    ("b", "c1", "n1", "cpu"),
]


def _fresh(text: str) -> str:
    """An equal string that is not the same object (runs of results need not share id objects)."""
    return "".join(list(text))


@given(
    st.lists(
        st.tuples(
            st.integers(0, len(_IDS) - 1),
            st.floats(0.0, 1.0),
            st.sampled_from(["normal", "spike", "trend"]),
            st.booleans(),
        ),
        max_size=40,
    )
)
def test_node_scores_are_the_per_metric_max_whatever_the_order(
    rows: list[tuple[int, float, str, bool]],
) -> None:
    """Per node: each metric's max window score and the non-NORMAL count, in any order, ids shared or not.

    Runs of one series' results are folded at once (a fast path keyed on the ids' identity):
    interleaved series, and equal ids that are distinct objects, must give the same answer.
    """
    results = []
    for k, score, drawn, fresh in rows:
        t, c, n, m = (_fresh(x) for x in _IDS[k]) if fresh else _IDS[k]
        # The label is NORMAL exactly below the alarm line: the drawn kind where the score allows it.
        label = "normal" if score < 0.5 else ("spike" if drawn == "normal" else drawn)
        results.append(AnomalyResult(t, c, n, m, T, T, score, label))
    pipeline = AggregationPipeline(AggregationStrategy.MAX)
    got = pipeline.aggregate_nodes(results)
    expected: dict[tuple[str, str, str], tuple[dict[str, float], int]] = {}
    for r in results:
        key = (r.tenant_id, r.cluster_id, r.node_id)
        metrics, hits = expected.get(key, ({}, 0))
        metrics[r.metric_name] = max(metrics.get(r.metric_name, 0.0), r.anomaly_score)
        expected[key] = (metrics, hits + (r.anomaly_label.value != "normal"))
    assert [(g.tenant_id, g.cluster_id, g.node_id) for g in got] == sorted(expected)
    for node in got:
        assert node.cluster_id is not None and node.node_id is not None
        metrics, hits = expected[(node.tenant_id, node.cluster_id, node.node_id)]
        assert node.aggregate_score == max(metrics.values())
        assert node.num_metrics_analyzed == len(metrics)
        assert node.num_anomalies_detected == hits
    assert pipeline.aggregate_nodes(results[::-1]) == got


@pytest.mark.parametrize(
    "scores", [[0.3], [0.1, 0.9], [0.5, 0.2, 0.8, 0.99, 0.0, 0.33, 0.7], [i / 23 for i in range(23)]]
)
def test_p95_matches_statistics_quantiles(scores: list[float]) -> None:
    """p95 is statistics.quantiles(..., n=100, method='inclusive')[94]; one value gives itself."""
    expected = scores[0] if len(scores) == 1 else statistics.quantiles(scores, n=100, method="inclusive")[94]
    assert p95(scores) == expected


def test_strategies_at_node_level() -> None:
    """MAX, MEAN, P95 and WEIGHTED combine metric scores as documented."""
    results = [res("a", "c", "n", m, s) for m, s in [("cpu", 0.9), ("mem", 0.1), ("disk", 0.2)]]

    def score(p: AggregationPipeline) -> float:
        return p.aggregate_nodes(results)[0].aggregate_score

    assert score(AggregationPipeline(AggregationStrategy.MAX)) == 0.9
    assert score(AggregationPipeline("mean")) == pytest.approx(0.4)
    assert score(AggregationPipeline(AggregationStrategy.P95)) == p95([0.9, 0.1, 0.2])
    weighted = AggregationPipeline(
        AggregationStrategy.WEIGHTED, weights={"cpu": 3.0, "mem": 1.0, "disk": 0.0}
    )
    assert score(weighted) == pytest.approx((0.9 * 3 + 0.1) / 4)


def test_weighted_missing_metric() -> None:
    """A metric without a weight uses default_weight, or is an error when that is None."""
    results = [res("a", "c", "n", "cpu", 0.9), res("a", "c", "n", "mem", 0.1)]
    p = AggregationPipeline(AggregationStrategy.WEIGHTED, weights={"cpu": 3.0}, default_weight=1.0)
    assert p.aggregate_nodes(results)[0].aggregate_score == pytest.approx(0.7)
    strict = AggregationPipeline(AggregationStrategy.WEIGHTED, weights={"cpu": 3.0}, default_weight=None)
    with pytest.raises(ValueError, match="no weight for metric 'mem' of node 'n'"):
        strict.aggregate_nodes(results)


def test_weighted_above_node_level_weights_by_metric_count() -> None:
    """Above node level, WEIGHTED weights children by num_metrics_analyzed."""
    nodes = [
        AggregatedAnomalyScore("a", "c", "n1", "weighted", 1.0, 3, 1),
        AggregatedAnomalyScore("a", "c", "n2", "weighted", 0.0, 1, 0),
    ]
    p = AggregationPipeline(AggregationStrategy.WEIGHTED, weights={})
    (cluster,) = p.aggregate_clusters(nodes)
    assert cluster.aggregate_score == pytest.approx(0.75)
    assert cluster.num_metrics_analyzed == 4 and cluster.num_anomalies_detected == 1


def test_weighted_node_whose_metrics_all_weigh_zero_scores_zero() -> None:
    """WEIGHTED: a node whose metrics all weigh 0 scores 0.0 and the run goes on (issue 14)."""
    results = [
        res("a", "c", "n1", "disk", 0.9),
        res("a", "c", "n1", "swap", 0.8),
        res("a", "c", "n2", "cpu", 0.6),
    ]
    p = AggregationPipeline(AggregationStrategy.WEIGHTED, weights={"disk": 0.0, "swap": 0.0, "cpu": 1.0})
    fleet = p.run(results)
    assert [(s.node_id, s.aggregate_score, s.num_metrics_analyzed) for s in fleet.nodes] == [
        ("n1", 0.0, 0),
        ("n2", 0.6, 1),
    ]
    # Left out at every level: the node of zero-weight metrics counts none, so it weighs 0 above.
    assert fleet.clusters[0].aggregate_score == 0.6
    assert fleet.tenants[0].aggregate_score == 0.6
    assert fleet.tenants[0].num_anomalies_detected == 1  # (only cpu's result counts)


def test_weighted_metric_of_weight_zero_moves_no_score_at_any_level() -> None:
    """Adding a weight-0 metric, alarming or not, to any node changes no score and no count."""
    base = [res("a", "c", "n1", "cpu", 0.9), res("a", "c", "n3", "cpu", 0.1)]
    p = AggregationPipeline(AggregationStrategy.WEIGHTED, weights={"cpu": 1.0, "debug": 0.0})
    before = p.run(base)
    lone = [res("a", "c", "n2", f"debug-{k}", 0.95) for k in range(40)]  # a node of 40 such metrics
    for extra in ([res("a", "c", "n1", "debug", 0.2)], lone):
        if extra[0].metric_name != "debug":
            p = AggregationPipeline(AggregationStrategy.WEIGHTED, weights={"cpu": 1.0}, default_weight=0.0)
        after = p.run(base + extra)
        assert [c.aggregate_score for c in after.clusters] == [c.aggregate_score for c in before.clusters]
        assert after.tenants[0].to_dict() == before.tenants[0].to_dict()


def test_weighted_is_the_exact_weighted_mean_rounded_once() -> None:
    """Equal weights of any size give the MEAN (0.022 and 0.978 at weight 0.1 is 0.5, on the alarm line)."""
    mean = AggregationPipeline(AggregationStrategy.MEAN)
    for w in (0.1, 1.0, 5e-324, 1e308):
        for scores in ((0.022, 0.978), (0.0, 0.5), (0.7, 0.2), (1.0, 0.5), (0.3, 0.3, 0.3)):
            results = [res("a", "c", "n", f"m{k}", x) for k, x in enumerate(scores)]
            weighted = AggregationPipeline(AggregationStrategy.WEIGHTED, weights={}, default_weight=w)
            (node,) = weighted.aggregate_nodes(results)
            (plain,) = mean.aggregate_nodes(results)
            assert node.aggregate_score == plain.aggregate_score, (w, scores, node, plain)
    (node,) = AggregationPipeline(AggregationStrategy.WEIGHTED, weights={"a": 0.1, "b": 0.1}).aggregate_nodes(
        [res("t", "c", "n", "a", 0.022), res("t", "c", "n", "b", 0.978)]
    )
    assert node.aggregate_score == 0.5 and AggregationPipeline().flagged([node]) == [node]


def test_mean_stays_within_its_children() -> None:
    """Three children at 0.845440548456345 average to it, not an ulp below (flagged like its nodes)."""
    x = 0.845440548456345
    nodes = [AggregatedAnomalyScore("a", "c", f"n{k}", "mean", x, 1, 1) for k in range(3)]
    p = AggregationPipeline(AggregationStrategy.MEAN, anomaly_threshold=x)
    (cluster,) = p.aggregate_clusters(nodes)
    assert cluster.aggregate_score == x and p.flagged([cluster]) == [cluster]


def test_weighted_group_of_children_without_metrics_scores_zero() -> None:
    """WEIGHTED above node level: children that all count 0 metrics give 0.0, not an error."""
    nodes = [AggregatedAnomalyScore("a", "c", "n1", "weighted", 0.7, 0, 0)]
    (cluster,) = AggregationPipeline(AggregationStrategy.WEIGHTED, weights={}).aggregate_clusters(nodes)
    assert cluster.aggregate_score == 0.0


def test_tenants_never_mix() -> None:
    """Equal cluster and node names in different tenants stay apart at every level."""
    results = [res("acme", "c1", "n1", "cpu", 0.9), res("globex", "c1", "n1", "cpu", 0.1)]
    p = AggregationPipeline()
    fleet = p.run(results)
    assert [(s.tenant_id, s.aggregate_score) for s in fleet.nodes] == [("acme", 0.9), ("globex", 0.1)]
    assert [(s.tenant_id, s.aggregate_score) for s in fleet.clusters] == [("acme", 0.9), ("globex", 0.1)]
    assert [(s.tenant_id, s.cluster_id, s.node_id) for s in fleet.tenants] == [
        ("acme", None, None),
        ("globex", None, None),
    ]
    assert [s.node_id for s in p.top_nodes(fleet.nodes, 5, tenant_id="globex")] == ["n1"]
    assert p.top_nodes(fleet.nodes, 5, tenant_id="globex")[0].aggregate_score == 0.1


def test_top_nodes_order_and_ties() -> None:
    """Highest first, ties by ascending (cluster_id, node_id), whatever the input order."""
    scores = [
        AggregatedAnomalyScore("a", c, n, "max", s, 1, 0)
        for c, n, s in [
            ("c2", "n1", 0.5),
            ("c1", "n9", 0.5),
            ("c1", "n2", 0.5),
            ("c1", "n1", 0.9),
            ("c3", "n1", 0.1),
        ]
    ]
    p = AggregationPipeline()
    expected = [("c1", "n1"), ("c1", "n2"), ("c1", "n9"), ("c2", "n1")]
    assert [(s.cluster_id, s.node_id) for s in p.top_nodes(scores, 4, tenant_id="a")] == expected
    assert [
        (s.cluster_id, s.node_id) for s in p.top_nodes(list(reversed(scores)), 4, tenant_id="a")
    ] == expected
    assert [
        (s.cluster_id, s.node_id) for s in p.top_nodes(scores, 10, tenant_id="a", cluster_id="c1")
    ] == expected[:3]
    assert p.top_nodes(scores, 0, tenant_id="a") == []


def test_validation() -> None:
    """Bad configuration and bad inputs raise naming what was wrong."""
    with pytest.raises(
        ValueError, match="weights must be a mapping of metric name to weight for strategy 'weighted'"
    ):
        AggregationPipeline(AggregationStrategy.WEIGHTED)
    with pytest.raises(ValueError, match="weights must be None with strategy 'max'"):
        AggregationPipeline(AggregationStrategy.MAX, weights={"cpu": 1.0})
    with pytest.raises(ValueError, match=r"weights\['cpu'\] must be a non-negative number"):
        AggregationPipeline(AggregationStrategy.WEIGHTED, weights={"cpu": -1.0})
    with pytest.raises(ValueError, match="strategy must be one of"):
        AggregationPipeline("median")
    with pytest.raises(ValueError, match=r"anomaly_threshold must be in \[0, 1\], got 2"):
        AggregationPipeline(anomaly_threshold=2)
    p = AggregationPipeline()
    with pytest.raises(TypeError, match=r"results\[0\] must be an AnomalyResult, got dict"):
        p.aggregate_nodes([{}])  # type: ignore[list-item]
    cluster = AggregatedAnomalyScore("a", "c", None, "max", 0.1, 1, 0)
    with pytest.raises(ValueError, match=r"scores\[0\] must be a node-level score, got a cluster-level one"):
        p.aggregate_clusters([cluster])
    node = AggregatedAnomalyScore("a", "c", "n", "max", 0.1, 1, 0)
    with pytest.raises(ValueError, match=r"scores\[1\] repeats node"):
        p.aggregate_clusters([node, node])
    with pytest.raises(ValueError, match="n must be a non-negative int, got -1"):
        p.top_nodes([node], -1, tenant_id="a")


def test_top_nodes_refuses_a_repeated_node_as_the_roll_ups_do() -> None:
    """A node given twice is refused (naming the index and the node), not ranked twice."""
    p = AggregationPipeline()
    node = AggregatedAnomalyScore("a", "c", "n", "max", 0.9, 1, 1)
    other = AggregatedAnomalyScore("a", "c", "m", "max", 0.2, 1, 0)
    again = AggregatedAnomalyScore("a", "c", "n", "mean", 0.4, 1, 0)  # same node, another strategy
    for scores in ([node, other, node], [node, other, again]):
        with pytest.raises(ValueError) as caught:
            p.top_nodes(scores, 5, tenant_id="a")
        assert str(caught.value) == (
            "AggregationPipeline.top_nodes: node_scores[2] repeats node ('a', 'c', 'n')"
        )
        with pytest.raises(ValueError, match=r"scores\[2\] repeats node \('a', 'c', 'n'\)"):
            p.aggregate_clusters(scores)
    # The same names in another tenant or cluster are other nodes.
    elsewhere = [
        node,
        AggregatedAnomalyScore("b", "c", "n", "max", 0.5, 1, 1),
        AggregatedAnomalyScore("a", "d", "n", "max", 0.3, 1, 0),
    ]
    ranked = p.top_nodes(elsewhere, 5, tenant_id="a")
    assert [(s.cluster_id, s.node_id) for s in ranked] == [("c", "n"), ("d", "n")]


def test_roll_ups_refuse_children_of_mixed_strategies() -> None:
    """Node (or cluster) scores of two strategies in one roll-up are refused, naming both."""
    p = AggregationPipeline()
    a = AggregatedAnomalyScore("t", "c", "n1", "max", 0.9, 2, 1)
    b = AggregatedAnomalyScore("t", "c", "n2", "mean", 0.2, 2, 0)
    with pytest.raises(ValueError) as caught:
        p.aggregate_clusters([a, b])
    assert str(caught.value) == (
        "AggregationPipeline.aggregate_clusters: node_scores[1] was aggregated with strategy 'mean' "
        "(node ('t', 'c', 'n2')), node_scores[0] with 'max': give the scores of one strategy"
    )
    # Across tenants too: one call makes one kind of number.
    elsewhere = AggregatedAnomalyScore("u", "c", "n1", "p95", 0.2, 2, 0)
    with pytest.raises(ValueError, match=r"scores\[1\] was aggregated with strategy 'p95'"):
        p.aggregate_clusters([a, elsewhere])
    c1 = AggregatedAnomalyScore("t", "c1", None, "max", 0.9, 2, 1)
    c2 = AggregatedAnomalyScore("t", "c2", None, "weighted", 0.9, 2, 1)
    with pytest.raises(ValueError, match=r"tenants: cluster_scores\[1\] was aggregated with strategy 'w"):
        p.aggregate_tenants([c1, c2])
    # One strategy, other than the pipeline's, is combined with the pipeline's.
    other = AggregatedAnomalyScore("t", "c", "n2", "max", 0.3, 2, 0)
    (cluster,) = AggregationPipeline(AggregationStrategy.MEAN).aggregate_clusters([a, other])
    assert cluster.aggregation_strategy is AggregationStrategy.MEAN
    assert cluster.aggregate_score == pytest.approx(0.6)


def test_flagged_uses_threshold() -> None:
    """flagged() keeps aggregates at or above anomaly_threshold."""
    scores = [
        AggregatedAnomalyScore("a", "c", n, "max", s, 1, 0)
        for n, s in [("x", 0.3), ("y", 0.3001), ("z", 0.9)]
    ]
    assert [s.node_id for s in AggregationPipeline(anomaly_threshold=0.3001).flagged(scores)] == ["y", "z"]


def test_weighted_with_weights_whose_sum_overflows_a_float() -> None:
    """Two weights of 1e308 (their sum is beyond a float): the weighted mean, not an OverflowError."""
    t = datetime(2024, 5, 1, tzinfo=timezone.utc)
    results = [
        AnomalyResult("t", "c", "n", "cpu", t, t, 0.2, "normal"),
        AnomalyResult("t", "c", "n", "mem", t, t, 0.8, "spike"),
    ]
    pipeline = AggregationPipeline("weighted", {"cpu": 1e308, "mem": 1e308})
    [node] = pipeline.aggregate_nodes(results)
    assert node.aggregate_score == 0.5


def test_wrong_input_names_the_method_the_argument_and_the_kind_of_fault() -> None:
    """A wrong type is a TypeError, a bad value a ValueError, each naming the method and argument; no
    bare "'NoneType' object is not iterable", no AttributeError from flagged, no 5,000-character repr."""
    p: Any = AggregationPipeline()  # (called with wrong types on purpose)
    r = res("t", "c", "n", "m", 0.9)
    calls: tuple[tuple[Callable[[], object], str], ...] = (
        (lambda: p.aggregate_nodes(None), r"aggregate_nodes: results must be an iterable of AnomalyResult"),
        (lambda: p.aggregate_nodes(r), r"aggregate_nodes: results must be an iterable of AnomalyResult"),
        (lambda: p.aggregate_clusters(None), r"aggregate_clusters: node_scores must be an iterable"),
        (lambda: p.aggregate_clusters([r]), r"aggregate_clusters: node_scores\[0\] must be an Aggregated"),
        (lambda: p.top_nodes(None, 1, tenant_id="t"), r"top_nodes: node_scores must be an iterable"),
        (lambda: p.top_nodes([r], 1, tenant_id="t"), r"top_nodes: node_scores\[0\] must be an Aggregated"),
        (lambda: p.flagged(None), r"flagged: scores must be an iterable of AggregatedAnomalyScore"),
        (lambda: p.flagged([r]), r"flagged: scores\[0\] must be an AggregatedAnomalyScore, got"),
    )
    for call, message in calls:
        with pytest.raises(TypeError, match=message) as info:
            call()
        assert len(str(info.value)) < 300, info.value
    (node,) = p.aggregate_nodes([r])
    bad_values: tuple[tuple[Callable[[], object], str], ...] = (
        (lambda: p.top_nodes([node], 1, tenant_id=""), "top_nodes: tenant_id must be a non-empty str"),
        (lambda: p.top_nodes([node], 1, tenant_id="t", cluster_id=""), "cluster_id must be a non-empty str"),
        (lambda: AggregationPipeline("weighted", {"": 1.0}), "weights key .* must be a non-empty str"),
    )
    for call, message in bad_values:
        with pytest.raises(ValueError, match=message):
            call()


def test_top_nodes_refuses_nodes_of_two_strategies() -> None:
    """A MAX node's 0.9 above a MEAN node's 0.8 ranks nothing: refused, as the roll-ups refuse it."""
    nodes = [
        AggregatedAnomalyScore("t", "c", "n1", "max", 0.9, 1, 1),
        AggregatedAnomalyScore("t", "c", "n2", "mean", 0.8, 1, 1),
    ]
    with pytest.raises(ValueError, match=r"node_scores\[1\] was aggregated with strategy 'mean'"):
        AggregationPipeline().top_nodes(nodes, 2, tenant_id="t")
