"""Score detections against the simulator's ground truth: precision, recall, label agreement.

A *detection* is a run of anomalous windows on one series, merged while each
window starts no later than ``gap`` after the previous one ends. A detection
*matches* a ground-truth record of the same series when its time span meets
``[start, end + slack)``: ``slack`` allows for detectors that notice the end of
an anomaly (the return to normal) a little after it.

- precision: matched detections / all detections;
- recall: ground-truth records (one per injected anomaly and series) that at
  least one detection matches / all records; per kind as well;
- incident recall: incidents (a node failure spans several series) with at
  least one matched record;
- label agreement: among matched records, how often the label of the
  highest-scoring anomalous window that starts inside the record's span (or,
  if none does, that overlaps it) equals the record's ``expected_label``.

What these figures do not see: precision counts detections, not time, so a
detection that runs through several records counts once, and a detector that
flags every window of a series scores recall 1 there with one detection per
series (on the default demo fleet: precision 0.55, recall 1.0). Read them with
the number of anomalous windows (``DemoReport`` prints both per node).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from backend.analytics import AnomalyResult

from .anomalies import KINDS, GroundTruth

__all__ = ["Detection", "Evaluation", "KindScore", "detections", "evaluate"]

_Key = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class Detection:
    """A run of anomalous windows on one series; ``best`` is its highest-scoring window."""

    tenant_id: str
    cluster_id: str
    node_id: str
    metric_name: str
    start: datetime
    end: datetime
    best: AnomalyResult
    windows: int


@dataclass(frozen=True, slots=True)
class KindScore:
    """Recall and label agreement for one injected kind."""

    kind: str
    injected: int
    found: int
    label_agree: int

    @property
    def recall(self) -> float:
        """``found / injected`` (1.0 when nothing was injected)."""
        return self.found / self.injected if self.injected else 1.0


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Detections scored against ground truth; see the module docstring for the definitions."""

    detections: int
    matched_detections: int
    records: int
    found_records: int
    incidents: int
    found_incidents: int
    label_checked: int
    label_agree: int
    by_kind: dict[str, KindScore] = field(default_factory=dict)
    matches: dict[int, list[Detection]] = field(default_factory=dict)  # record index -> detections
    unmatched: tuple[Detection, ...] = ()

    @property
    def precision(self) -> float:
        """Matched detections / detections (1.0 when nothing was detected)."""
        return self.matched_detections / self.detections if self.detections else 1.0

    @property
    def recall(self) -> float:
        """Found records / records (1.0 when nothing was injected)."""
        return self.found_records / self.records if self.records else 1.0

    @property
    def incident_recall(self) -> float:
        """Found incidents / incidents (1.0 when nothing was injected)."""
        return self.found_incidents / self.incidents if self.incidents else 1.0

    @property
    def label_rate(self) -> float:
        """Agreeing labels / checked labels (1.0 when none was checked)."""
        return self.label_agree / self.label_checked if self.label_checked else 1.0


def detections(results: Iterable[AnomalyResult], *, gap: timedelta = timedelta(0)) -> list[Detection]:
    """Merge the anomalous results into detections, sorted by (series ids, start)."""
    per: dict[_Key, list[AnomalyResult]] = defaultdict(list)
    for r in results:
        if r.is_anomalous:
            per[(r.tenant_id, r.cluster_id, r.node_id, r.metric_name)].append(r)
    out: list[Detection] = []
    for key in sorted(per):
        rs = sorted(per[key], key=lambda r: (r.window_start, r.window_end))
        run = [rs[0]]
        run_end = rs[0].window_end
        for r in rs[1:]:
            if r.window_start <= run_end + gap:
                run.append(r)
                run_end = max(run_end, r.window_end)
            else:
                out.append(_detection(key, run))
                run, run_end = [r], r.window_end
        out.append(_detection(key, run))
    return out


def _detection(key: _Key, run: Sequence[AnomalyResult]) -> Detection:
    best = max(run, key=lambda r: (r.anomaly_score, -r.window_start.timestamp()))
    return Detection(*key, run[0].window_start, max(r.window_end for r in run), best, len(run))


def evaluate(
    results: Iterable[AnomalyResult],
    ground_truth: Sequence[GroundTruth],
    *,
    slack: timedelta,
    gap: timedelta = timedelta(0),
) -> Evaluation:
    """Precision, recall and label agreement of ``results`` against ``ground_truth``."""
    results = list(results)
    dets = detections(results, gap=gap)
    truth_by_key: dict[_Key, list[int]] = defaultdict(list)
    for k, g in enumerate(ground_truth):
        truth_by_key[g.series_key].append(k)
    anomalous_by_key: dict[_Key, list[AnomalyResult]] = defaultdict(list)
    for r in results:
        if r.is_anomalous:
            anomalous_by_key[(r.tenant_id, r.cluster_id, r.node_id, r.metric_name)].append(r)
    matches: dict[int, list[Detection]] = defaultdict(list)
    unmatched: list[Detection] = []
    matched = 0
    for d in dets:
        hit = False
        for k in truth_by_key.get((d.tenant_id, d.cluster_id, d.node_id, d.metric_name), ()):
            g = ground_truth[k]
            if d.start < g.end + slack and g.start <= d.end:
                matches[k].append(d)
                hit = True
        if hit:
            matched += 1
        else:
            unmatched.append(d)
    injected: dict[str, int] = defaultdict(int)
    found: dict[str, int] = defaultdict(int)
    agree: dict[str, int] = defaultdict(int)
    incidents: dict[str, bool] = {}
    checked = agreed = 0
    for k, g in enumerate(ground_truth):
        injected[g.kind] += 1
        incidents.setdefault(g.incident_id, False)
        if k not in matches:
            continue
        found[g.kind] += 1
        incidents[g.incident_id] = True
        inside = [
            r
            for r in anomalous_by_key[g.series_key]
            if r.window_start < g.end + slack and g.start <= r.window_end
        ]
        # Judge the label on windows that start inside the anomaly when there are any: a window
        # that only catches the onset in its last point honestly looks like a spike.
        within = [r for r in inside if g.start <= r.window_start < g.end] or inside
        best = max(within, key=lambda r: (r.anomaly_score, -r.window_start.timestamp()))
        checked += 1
        if best.anomaly_label.value == g.expected_label:
            agreed += 1
            agree[g.kind] += 1
    by_kind = {
        kind: KindScore(kind, injected[kind], found[kind], agree[kind]) for kind in KINDS if injected[kind]
    }
    return Evaluation(
        detections=len(dets),
        matched_detections=matched,
        records=len(ground_truth),
        found_records=sum(found.values()),
        incidents=len(incidents),
        found_incidents=sum(incidents.values()),
        label_checked=checked,
        label_agree=agreed,
        by_kind=by_kind,
        matches=dict(matches),
        unmatched=tuple(unmatched),
    )
