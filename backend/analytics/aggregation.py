"""Roll window results up the fleet: metric -> node -> cluster -> tenant.

A metric's score is the maximum over its windows. A node's score combines its
metrics' scores, a cluster's its nodes', a tenant's its clusters', each by the
pipeline's :class:`AggregationStrategy`:

- ``MAX``: the largest child score.
- ``MEAN``: the arithmetic mean of the child scores, exact (in rationals) and
  rounded once, so never outside the children's range.
- ``WEIGHTED``: at node level, the mean of the metric scores weighted by
  ``weights[metric_name]`` (a metric not in ``weights`` gets
  ``default_weight``; with ``default_weight=None`` it is an error), computed
  exactly (in rationals, then rounded once: equal weights give the MEAN). A
  weight of 0 leaves a metric out: out of its node's score and out of its
  counts (``num_metrics_analyzed`` and ``num_anomalies_detected`` count the
  metrics that contributed), so it moves no score at any level. A node whose
  metrics all weigh 0 scores 0.0 with counts of 0 (it never fails the run).
  Above node level, each child is weighted by the number of metric series it
  aggregates (its ``num_metrics_analyzed``), so a cluster of 40 metrics
  counts four times as much in its tenant as one of 10; a group whose
  children all count 0 metrics likewise scores 0.0.
- ``P95``: the 95th percentile by linear interpolation between closest ranks,
  ``statistics.quantiles(scores, n=100, method="inclusive")[94]`` with the
  same arithmetic, kept between the two scores it interpolates (the standard
  library's result can land an ulp or two outside them); a single score gives
  itself.

Identity is hierarchical: a cluster is ``(tenant_id, cluster_id)`` and a node
``(tenant_id, cluster_id, node_id)``, so equal names in different tenants never
mix. Outputs are sorted by those keys, so they do not depend on input order.

>>> from datetime import datetime, timezone
>>> from backend.analytics import AnomalyResult
>>> t = datetime(2024, 5, 1, tzinfo=timezone.utc)
>>> results = [
...     AnomalyResult("acme", "c1", "n1", "cpu", t, t, 0.9, "spike"),
...     AnomalyResult("acme", "c1", "n1", "mem", t, t, 0.1, "normal"),
...     AnomalyResult("acme", "c1", "n2", "cpu", t, t, 0.2, "normal"),
... ]
>>> pipeline = AggregationPipeline(AggregationStrategy.MAX)
>>> nodes = pipeline.aggregate_nodes(results)
>>> [(s.node_id, s.aggregate_score, s.num_metrics_analyzed, s.num_anomalies_detected) for s in nodes]
[('n1', 0.9, 2, 1), ('n2', 0.2, 1, 0)]
>>> [s.node_id for s in pipeline.top_nodes(nodes, 1, tenant_id="acme")]
['n1']
>>> pipeline.aggregate_tenants(pipeline.aggregate_clusters(nodes))[0].aggregate_score
0.9
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from ._kinds import AggregationStrategy, AnomalyType
from ._validate import (
    brief,
    check_enum,
    check_id,
    check_optional_id,
    check_real,
    check_unit_interval,
    fail_type,
    fail_value,
)
from .types import AggregatedAnomalyScore, AnomalyResult

__all__ = ["AggregationPipeline", "AggregationStrategy", "FleetScores", "p95"]

_OWNER = "AggregationPipeline"


def _items(method: str, name: str, value: object, item: type) -> Iterable[object]:
    """``value`` if it is an iterable of the method's input; a ``TypeError`` naming it otherwise."""
    if isinstance(value, (item, str, bytes)) or not isinstance(value, Iterable):
        fail_type(f"{_OWNER}.{method}", name, f"an iterable of {item.__name__}", value)
    return value


def _each_score(method: str, name: str, value: object) -> Iterator[tuple[int, AggregatedAnomalyScore]]:
    """``(i, score)`` for each item of the argument ``name``; a ``TypeError`` naming the first that is
    not an :class:`AggregatedAnomalyScore` (or the argument, if it is no iterable of them)."""
    for i, score in enumerate(_items(method, name, value, AggregatedAnomalyScore)):
        if not isinstance(score, AggregatedAnomalyScore):
            raise TypeError(
                f"{_OWNER}.{method}: {name}[{i}] must be an AggregatedAnomalyScore, "
                f"got {brief(score)} ({type(score).__name__})"
            )
        yield i, score


def p95(scores: Sequence[float]) -> float:
    """95th percentile, ``statistics.quantiles(scores, n=100, method="inclusive")[94]``.

    The standard library's arithmetic, then kept between the two scores it
    interpolates: its weighted sum can land an ulp or two outside them (0.9 and
    0.9 giving 0.9000000000000001), and this gives the nearer score instead.
    Whenever the standard library's result lies between them, the same float.
    A single score gives itself. ``scores`` must not be empty.
    """
    data = sorted(scores)
    if not data:
        raise ValueError("p95: scores must not be empty")
    n, m = 100, len(data) - 1
    if m == 0:
        return data[0]
    j, delta = divmod(95 * m, n)
    if j >= m:
        return data[m]
    value = (data[j] * (n - delta) + data[j + 1] * delta) / n
    # Interpolation cannot leave [data[j], data[j + 1]] mathematically; guard the last ulp.
    return min(max(value, data[j]), data[j + 1])


def _one_strategy(
    method: str,
    arg: str,
    i: int,
    score: AggregatedAnomalyScore,
    first: tuple[int, AggregatedAnomalyScore] | None,
    which: str,
) -> tuple[int, AggregatedAnomalyScore]:
    """The first score of ``arg`` (``first``, or this one at ``i``); a ``ValueError`` naming both if
    ``score`` was aggregated with another strategy than it. ``which`` names ``score``'s group."""
    if first is None:
        return (i, score)
    if score.aggregation_strategy is not first[1].aggregation_strategy:
        raise ValueError(
            f"{_OWNER}.{method}: {arg}[{i}] was aggregated with strategy "
            f"{score.aggregation_strategy.value!r}{which}, {arg}[{first[0]}] "
            f"with {first[1].aggregation_strategy.value!r}: give the scores of one strategy"
        )
    return first


def _fold_series(
    nodes: dict[tuple[str, str, str], dict[str, float]],
    anomalies: dict[tuple[str, str, str], dict[str, int]],
    ids: tuple[str, str, str, str],
    top: float,
    hits: int,
) -> None:
    """Fold a run of one series' results (their max score, their anomalous count) into its node."""
    key = (ids[0], ids[1], ids[2])
    metrics = nodes.setdefault(key, {})
    previous = metrics.get(ids[3])
    if previous is None or top > previous:
        metrics[ids[3]] = top
    counts = anomalies.setdefault(key, {})
    counts[ids[3]] = counts.get(ids[3], 0) + hits


@dataclass(frozen=True, slots=True)
class FleetScores:
    """All three levels at once, as :meth:`AggregationPipeline.run` returns them."""

    nodes: list[AggregatedAnomalyScore]
    clusters: list[AggregatedAnomalyScore]
    tenants: list[AggregatedAnomalyScore]


class AggregationPipeline:
    """Combine window results into node, cluster and tenant scores.

    ``weights`` (metric name -> non-negative finite weight) is required for
    ``WEIGHTED`` and rejected for the other strategies (it would be ignored).
    ``anomaly_threshold`` in [0, 1] is the score at or above which
    :meth:`flagged` reports an aggregate as anomalous.
    """

    __slots__ = ("anomaly_threshold", "default_weight", "strategy", "weights")

    def __init__(
        self,
        strategy: AggregationStrategy | str = AggregationStrategy.MAX,
        weights: Mapping[str, float] | None = None,
        anomaly_threshold: float = 0.5,
        *,
        default_weight: float | None = 1.0,
    ) -> None:
        self.strategy = strategy = check_enum(_OWNER, "strategy", AggregationStrategy, strategy)
        if weights is not None and strategy is not AggregationStrategy.WEIGHTED:
            fail_value(
                _OWNER, "weights", f"None with strategy {strategy.value!r} (only WEIGHTED uses it)", weights
            )
        if strategy is AggregationStrategy.WEIGHTED and weights is None:
            fail_value(_OWNER, "weights", "a mapping of metric name to weight for strategy 'weighted'", None)
        self.weights: dict[str, float] | None = None
        if weights is not None:
            if not isinstance(weights, Mapping):
                fail_type(_OWNER, "weights", "a mapping of metric name to weight", weights)
            checked: dict[str, float] = {}
            for key, value in weights.items():
                check_id(_OWNER, "weights key (a metric name)", key)
                weight = check_real(_OWNER, f"weights[{key!r}]", value)
                if weight < 0.0:
                    fail_value(_OWNER, f"weights[{key!r}]", "a non-negative number", value)
                checked[key] = weight
            self.weights = checked
        if default_weight is not None:
            default_weight = check_real(_OWNER, "default_weight", default_weight)
            if default_weight < 0.0:
                fail_value(_OWNER, "default_weight", "a non-negative number or None", default_weight)
        self.default_weight = default_weight
        self.anomaly_threshold = check_unit_interval(_OWNER, "anomaly_threshold", anomaly_threshold)

    def __repr__(self) -> str:
        return (
            f"AggregationPipeline(strategy={self.strategy!s}, weights={self.weights!r}, "
            f"anomaly_threshold={self.anomaly_threshold}, default_weight={self.default_weight})"
        )

    # -- combining -------------------------------------------------------------------

    def _combine(self, scores: list[float], weights: list[float], where: str) -> float:
        strategy = self.strategy
        if strategy is AggregationStrategy.MAX:
            return max(scores)
        if strategy is AggregationStrategy.MEAN:
            # In rationals, rounded once: fsum(scores) / n rounds twice, and three children at x could
            # average an ulp below x (a cluster not flagged at the threshold its nodes are flagged at).
            return float(sum(map(Fraction, scores)) / len(scores))
        if strategy is AggregationStrategy.P95:
            return p95(scores)
        # WEIGHTED, in rationals and rounded once: equal weights give the mean, weights of 1e-320 or
        # 1e308 are no different from weights of 1 (no product underflows, no sum overflows).
        kept = [(Fraction(s), Fraction(w)) for s, w in zip(scores, weights, strict=True) if w > 0.0]
        if not kept:
            # Every child weighs 0: all are left out, so nothing raises the score (see the module doc).
            return 0.0
        return float(sum(s * w for s, w in kept) / sum(w for _, w in kept))

    def _metric_weight(self, metric: str, where: str) -> float:
        if self.weights is not None and metric in self.weights:
            return self.weights[metric]
        if self.default_weight is None:
            raise ValueError(
                f"{_OWNER}: no weight for metric {metric!r} of {where}, and default_weight is None"
            )
        return self.default_weight

    # -- levels ----------------------------------------------------------------------

    def aggregate_nodes(self, results: Iterable[AnomalyResult]) -> list[AggregatedAnomalyScore]:
        """One score per node ``(tenant_id, cluster_id, node_id)``, sorted by that key.

        A metric's score is the max over its windows; ``num_metrics_analyzed``
        counts distinct metric names, ``num_anomalies_detected`` the results
        whose label is not NORMAL.
        """
        _items("aggregate_nodes", "results", results, AnomalyResult)
        nodes: dict[tuple[str, str, str], dict[str, float]] = {}
        anomalies: dict[tuple[str, str, str], dict[str, int]] = {}
        normal = AnomalyType.NORMAL
        # An engine's results come series by series: while the ids are the very same objects as
        # the previous result's, its series' running max and count are kept in locals (folded in
        # when the series changes), which halves the cost per result of a long run of windows.
        last: tuple[str, str, str, str] | None = None
        top, hits = -1.0, 0
        for i, result in enumerate(results):
            if not isinstance(result, AnomalyResult):
                raise TypeError(
                    f"{_OWNER}.aggregate_nodes: results[{i}] must be an AnomalyResult, "
                    f"got {type(result).__name__}"
                )
            if (
                last is not None
                and result.metric_name is last[3]
                and result.node_id is last[2]
                and result.cluster_id is last[1]
                and result.tenant_id is last[0]
            ):
                score = result.anomaly_score
                if score > top:  # noqa: PLR1730 - a max() call costs more here
                    top = score
                if result.anomaly_label is not normal:
                    hits += 1
                continue
            if last is not None:
                _fold_series(nodes, anomalies, last, top, hits)
            last = (result.tenant_id, result.cluster_id, result.node_id, result.metric_name)
            top = result.anomaly_score
            hits = 0 if result.anomaly_label is normal else 1
        if last is not None:
            _fold_series(nodes, anomalies, last, top, hits)
        out = []
        for key in sorted(nodes):
            metrics = nodes[key]
            names = sorted(metrics)
            where = f"node {key[2]!r} (cluster {key[1]!r}, tenant {key[0]!r})"
            weights: list[float] = []
            if self.strategy is AggregationStrategy.WEIGHTED:
                weights = [self._metric_weight(m, where) for m in names]
                # A metric of weight 0 is left out of the counts too: it moves no score higher up.
                counted = [m for m, w in zip(names, weights, strict=True) if w > 0.0]
            else:
                counted = names
            score = self._combine([metrics[m] for m in names], weights, where)
            found = anomalies[key]
            out.append(
                AggregatedAnomalyScore(
                    key[0], key[1], key[2], self.strategy, score, len(counted), sum(found[m] for m in counted)
                )
            )
        return out

    def _roll_up(
        self, children: Iterable[AggregatedAnomalyScore], level: str, child_level: str
    ) -> list[AggregatedAnomalyScore]:
        arg = f"{child_level}_scores"  # (the argument's name: node_scores, cluster_scores)
        groups: dict[tuple[str, str | None], list[AggregatedAnomalyScore]] = {}
        seen: set[tuple[str, str | None, str | None]] = set()
        first: tuple[int, AggregatedAnomalyScore] | None = None
        for i, child in _each_score(f"aggregate_{level}s", arg, children):
            if child.level != child_level:
                raise ValueError(
                    f"{_OWNER}.aggregate_{level}s: {arg}[{i}] must be a {child_level}-level score, "
                    f"got a {child.level}-level one ({child.tenant_id!r}, {child.cluster_id!r}, "
                    f"{child.node_id!r})"
                )
            ident = (child.tenant_id, child.cluster_id, child.node_id)
            if ident in seen:
                raise ValueError(f"{_OWNER}.aggregate_{level}s: {arg}[{i}] repeats {child_level} {ident!r}")
            seen.add(ident)
            # Children scored with different strategies make a number that means neither: a MAX node
            # beside a MEAN node in one cluster is refused, naming both.
            first = _one_strategy(f"aggregate_{level}s", arg, i, child, first, f" ({child_level} {ident!r})")
            key = (child.tenant_id, child.cluster_id if level == "cluster" else None)
            groups.setdefault(key, []).append(child)
        out = []
        for key in sorted(groups, key=lambda k: (k[0], k[1] or "")):
            members = sorted(groups[key], key=lambda c: (c.cluster_id or "", c.node_id or ""))
            where = f"{level} {key[1]!r} of tenant {key[0]!r}" if key[1] else f"tenant {key[0]!r}"
            weights = [float(c.num_metrics_analyzed) for c in members]
            score = self._combine([c.aggregate_score for c in members], weights, where)
            out.append(
                AggregatedAnomalyScore(
                    key[0],
                    key[1],
                    None,
                    self.strategy,
                    score,
                    sum(c.num_metrics_analyzed for c in members),
                    sum(c.num_anomalies_detected for c in members),
                )
            )
        return out

    def aggregate_clusters(
        self, node_scores: Iterable[AggregatedAnomalyScore]
    ) -> list[AggregatedAnomalyScore]:
        """One score per cluster ``(tenant_id, cluster_id)`` from node-level scores, sorted.

        The nodes' scores must come from one strategy (a mix is a ``ValueError`` naming two of
        them); the clusters' scores are combined with this pipeline's.
        """
        return self._roll_up(node_scores, "cluster", "node")

    def aggregate_tenants(
        self, cluster_scores: Iterable[AggregatedAnomalyScore]
    ) -> list[AggregatedAnomalyScore]:
        """One score per tenant from cluster-level scores (of one strategy), sorted by tenant."""
        return self._roll_up(cluster_scores, "tenant", "cluster")

    def run(self, results: Iterable[AnomalyResult]) -> FleetScores:
        """All three levels from window results in one call."""
        nodes = self.aggregate_nodes(results)
        clusters = self.aggregate_clusters(nodes)
        return FleetScores(nodes, clusters, self.aggregate_tenants(clusters))

    def top_nodes(
        self,
        node_scores: Iterable[AggregatedAnomalyScore],
        n: int,
        *,
        tenant_id: str,
        cluster_id: str | None = None,
    ) -> list[AggregatedAnomalyScore]:
        """The ``n`` highest-scoring nodes of one tenant (optionally one cluster).

        Highest first; ties broken by ascending ``(cluster_id, node_id)``, so the
        answer does not depend on the input order. ``n`` may be 0. A node given
        twice is a ``ValueError``, as in :meth:`aggregate_clusters`.
        """
        if isinstance(n, bool) or not isinstance(n, int):
            fail_type(_OWNER, "n", "a non-negative int", n)
        if n < 0:
            fail_value(_OWNER, "n", "a non-negative int", n)
        check_id(f"{_OWNER}.top_nodes", "tenant_id", tenant_id)
        check_optional_id(f"{_OWNER}.top_nodes", "cluster_id", cluster_id)
        chosen = []
        seen: set[tuple[str, str | None, str | None]] = set()
        first: tuple[int, AggregatedAnomalyScore] | None = None
        for i, score in _each_score("top_nodes", "node_scores", node_scores):
            if score.level != "node":
                raise ValueError(
                    f"{_OWNER}.top_nodes: node_scores[{i}] must be a node-level score, got a "
                    f"{score.level}-level one ({score.tenant_id!r}, {score.cluster_id!r}, {score.node_id!r})"
                )
            ident = (score.tenant_id, score.cluster_id, score.node_id)
            if ident in seen:
                raise ValueError(f"{_OWNER}.top_nodes: node_scores[{i}] repeats node {ident!r}")
            seen.add(ident)
            # Nodes scored by different strategies do not rank on one scale (a MAX node's 0.9 above a
            # MEAN node's 0.8 says nothing): refused, as the roll-ups refuse them.
            first = _one_strategy("top_nodes", "node_scores", i, score, first, "")
            if score.tenant_id == tenant_id and (cluster_id is None or score.cluster_id == cluster_id):
                chosen.append(score)
        chosen.sort(key=lambda s: (-s.aggregate_score, s.cluster_id or "", s.node_id or ""))
        return chosen[:n]

    def flagged(self, scores: Iterable[AggregatedAnomalyScore]) -> list[AggregatedAnomalyScore]:
        """The scores at or above ``anomaly_threshold``, in input order."""
        line = self.anomaly_threshold
        return [s for _, s in _each_score("flagged", "scores", scores) if s.aggregate_score >= line]
