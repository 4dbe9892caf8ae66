"""``python -m simulator serve``: a simulated fleet as a Prometheus scrape endpoint, in real time.

The fleet's timeline is pinned to the wall clock: its first point lies
``start_offset`` (rounded down to whole steps) before the moment the server
starts, so a point falls exactly at that moment, and each scrape exposes, for every series, its latest point
at or before *now*, **with that point's own timestamp**. Prometheus
(``honor_timestamps``, its default) stores each point once, at its simulated
instant, however often it scrapes, so what it stores is exactly the
simulated series, injected anomalies included; a missing point stays missing.

Prometheus only stores what it scrapes, so a fleet started a week in the past
has no history in it. :func:`write_history` writes every point before the
start as OpenMetrics text, which ``promtool tsdb create-blocks-from
openmetrics`` turns into blocks Prometheus loads at start-up (backfilling);
the live endpoint then carries on from there. ``.ci/prometheus.sh`` does
exactly this, then reads the series back through
:class:`backend.analytics.io.prometheus.PrometheusSource`.

Metric names are ``<prefix><metric>`` (default prefix ``sim_``: ``sim_cpu``,
``sim_latency_p99``, ...) with labels ``tenant``, ``cluster`` and ``node``,
which :class:`~backend.analytics.io.prometheus.LabelMapping` maps back with
``strip_prefix="sim_"``.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TextIO

from backend.analytics.io.exposition import FamilyType, MetricFamily, Sample, render

from .config import FleetConfig
from .fleet import Fleet

__all__ = ["LiveFleet", "anchored_config", "live_from", "parse_duration", "write_history"]

_log = logging.getLogger(__name__)
_DURATION = re.compile(r"(\d+)([smhdw]?)")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str) -> int:
    """Seconds in ``"90"``, ``"90s"``, ``"15m"``, ``"36h"``, ``"7d"``, ``"1w"`` or sums like ``"6d23h"``."""
    if not isinstance(text, str) or not text or _DURATION.sub("", text):
        raise ValueError(f"duration must look like 90, 90s, 15m, 36h, 7d or 6d23h, got {text!r}")
    return sum(int(n) * _UNIT_S[u] for n, u in _DURATION.findall(text))


def anchored_config(config: FleetConfig, now: datetime, start_offset_s: int) -> FleetConfig:
    """``config`` with its start at ``now`` (whole seconds) minus ``start_offset_s`` rounded down to steps.

    The fleet's grid is pinned to ``now`` rather than to round clock times, so
    a point falls exactly at ``now``: the server's first point is fresh and a
    scraper has a whole step to pick it up before the next one replaces it.
    """
    step = config.step_seconds
    start_s = int(now.timestamp()) - (start_offset_s // step) * step
    return replace(config, start=datetime.fromtimestamp(start_s, tz=timezone.utc))


def live_from(config: FleetConfig, now: datetime) -> datetime:
    """The instant of the fleet's latest grid point at or before ``now``."""
    step = config.step_seconds
    start_s = int(config.start.timestamp())
    k = max(0, (int(now.timestamp()) - start_s) // step)
    return datetime.fromtimestamp(start_s + k * step, tz=timezone.utc)


class LiveFleet:
    """The fleet's points as metric families: the latest point at a time, or the whole history."""

    def __init__(self, fleet: Fleet, *, prefix: str = "sim_") -> None:
        self.fleet = fleet
        self.prefix = prefix
        self._series = list(fleet.iter_series())
        self._us = [s.epoch_us.tolist() for s in self._series]
        self._values = [s.values.tolist() for s in self._series]
        self._kinds = {s.metric_name: str((s.metadata or {}).get("kind", "gauge")) for s in self._series}
        cfg = fleet.config
        self.start = cfg.start
        self.end = cfg.start + timedelta(seconds=cfg.points * cfg.step_seconds)

    def _family(self, metric: str, samples: list[Sample]) -> MetricFamily:
        name = f"{self.prefix}{metric}"
        kind: FamilyType = "counter" if self._kinds[metric] == "counter" else "gauge"
        return MetricFamily(name, kind, f"Simulated {metric} (simulator serve).", tuple(samples))

    def _labels(self, k: int) -> dict[str, str]:
        s = self._series[k]
        return {"tenant": s.tenant_id, "cluster": s.cluster_id, "node": s.node_id}

    def families_at(self, now: datetime) -> list[MetricFamily]:
        """Every series' latest point at or before ``now``, with its own timestamp."""
        now_us = int(now.timestamp() * 1_000_000)
        by_metric: dict[str, list[Sample]] = {}
        for k, s in enumerate(self._series):
            i = bisect.bisect_right(self._us[k], now_us) - 1
            if i < 0:
                continue
            sample = Sample(self._labels(k), self._values[k][i], self._us[k][i] // 1000)
            by_metric.setdefault(s.metric_name, []).append(sample)
        return [self._family(m, samples) for m, samples in by_metric.items()]

    def render_at(self, now: datetime) -> str:
        """The scrape body at ``now`` (Prometheus text format)."""
        return render(self.families_at(now))

    def history_families(self, before: datetime) -> Iterator[MetricFamily]:
        """Per metric, every point strictly before ``before`` (each series contiguous, ascending)."""
        before_us = int(before.timestamp() * 1_000_000)
        metrics: dict[str, list[int]] = {}
        for k, s in enumerate(self._series):
            metrics.setdefault(s.metric_name, []).append(k)
        for metric, ks in metrics.items():
            samples: list[Sample] = []
            for k in ks:
                labels = self._labels(k)
                n = bisect.bisect_left(self._us[k], before_us)
                samples.extend(
                    Sample(labels, v, us // 1000)
                    for us, v in zip(self._us[k][:n], self._values[k][:n], strict=True)
                )
            yield self._family(metric, samples)


def write_history(live: LiveFleet, before: datetime, fh: TextIO) -> int:
    """Write every point before ``before`` as OpenMetrics text (for promtool); return the sample count."""
    total = 0
    for fam in live.history_families(before):
        text = render([fam], openmetrics=True)
        fh.write(text[: -len("# EOF\n")])
        total += len(fam.samples)
    fh.write("# EOF\n")
    return total
