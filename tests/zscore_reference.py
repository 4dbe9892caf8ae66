"""A straightforward reference for ``backend.analytics.engines.zscore.ZScoreScorer`` (tests only).

This is the scorer as it read before its hot loop was inlined for speed (main
at ac2ebc2): each point goes through ``_expected`` (twice), ``_despiked`` and
``_past`` one call at a time, in blocks of 16 cut by ``update_many``. The
engine's scorer must give the same scores bit for bit, whatever the chunking;
``tests/unit/test_zscore_reference.py`` checks that on generated, simulated and
real (NAB) series, comparing with scores computed here in the same run.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from array import array
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from backend.analytics._validate import check_positive_int, check_real, fail_value
from backend.analytics.engines.zscore import _Beat, _HourNoise, _wobble
from backend.analytics.scoring import PointScorer

__all__ = ["ReferenceZScoreScorer"]

_DAY_US = 86_400_000_000
_SLOT_US = 60_000_000  # 1 minute: the finest slot of the daily profile
_BLOCK = 16  # points scored with one state; state is updated at block boundaries
_CLIP = 4.0  # residuals are clipped at this many scales when they update the scale
_MAD_TO_SD = 1.2533141373155003  # sqrt(pi / 2): mean absolute deviation -> sd, Gaussian noise
_MAX_SETTING = 1 << 20  # upper bound of the size settings: buffers stay bounded
_INF = math.inf
_FRESH = 0.75  # before a day of history, the local models' z counts three quarters
_Q99 = 2.5758293035489  # the 99th percentile of |z| for Gaussian noise
_TAIL_RATE = 0.02  # each point above the tracked percentile raises it by about 2%
_NAN = math.nan
_LONG = 64  # points: the long sustained channel's span
_JITTER_US = 300_000_000  # a daily pattern may come this early or late (at least two steps, at most 15 min)
_SLACK = 3.0  # cycle scales: a point this far from an expectation is judged against the band


def _bounded(owner: str, field: str, value: object, least: int) -> int:
    checked = check_positive_int(owner, field, value)
    if not least <= checked <= _MAX_SETTING:
        fail_value(owner, field, f"an int in [{least}, {_MAX_SETTING}]", value)
    return checked


def _median_finite(values: list[float]) -> float:
    """The median of the finite ones among ``values`` (nan if none)."""
    finite = [v for v in values if math.isfinite(v)]
    return _median(finite) if finite else _NAN


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    m = len(ordered)
    return ordered[m // 2] if m % 2 else (ordered[m // 2 - 1] + ordered[m // 2]) * 0.5


class ReferenceZScoreScorer(PointScorer):
    """The scorer of ``zscore`` as it read before its hot loop was inlined (ac2ebc2), kept as written."""

    __slots__ = (
        "_beat",
        "_cycle_seen",
        "_grid",
        "_held",
        "_kept_scale",
        "_last_t",
        "_level_buf",
        "_long",
        "_long_base",
        "_long_calm",
        "_long_from",
        "_long_loud",
        "_long_run",
        "_long_seen",
        "_long_sum",
        "_n",
        "_noise",
        "_norm",
        "_pending",
        "_prof_acc",
        "_prof_count",
        "_prof_day",
        "_prof_med",
        "_prof_n",
        "_prof_vals",
        "_resid",
        "_resid_e",
        "_resid_seen",
        "_resid_src",
        "_resolution",
        "_ring",
        "_ring_sum",
        "_scale",
        "_scale_seen",
        "_slot_us",
        "_slots",
        "_stamps",
        "_state",
        "_sums",
        "_sustained_from",
        "_sustained_seen",
        "_tail_q",
        "_tz",
        "_warm",
        "_zone",
        "incident_points",
        "level_points",
        "scale_points",
        "season_days",
        "utc_offset_minutes",
        "warmup_points",
        "z_threshold",
    )

    def __init__(
        self,
        *,
        z_threshold: float = 5.5,
        warmup_points: int = 64,
        level_points: int = 32,
        season_days: int = 5,
        scale_points: int = 512,
        incident_points: int = 128,
        utc_offset_minutes: int = 0,
        timezone: str | None = None,
    ) -> None:
        owner = "ReferenceZScoreScorer"
        self.z_threshold = check_real(owner, "z_threshold", z_threshold)
        if self.z_threshold <= 0.0:
            fail_value(owner, "z_threshold", "a positive number", z_threshold)
        self.warmup_points = _bounded(owner, "warmup_points", warmup_points, 8)
        self.level_points = _bounded(owner, "level_points", level_points, 1)
        self.season_days = check_positive_int(owner, "season_days", season_days)
        if not 3 <= self.season_days <= 31:
            fail_value(owner, "season_days", "an int in [3, 31]", season_days)
        self.scale_points = _bounded(owner, "scale_points", scale_points, _BLOCK)
        self.incident_points = incident_points
        self.utc_offset_minutes = utc_offset_minutes
        # An IANA zone: its standard offset and daylight-saving shift (µs), read at the latest point of
        # the block before (at the warm-up's last point for the first block).
        self._tz = None if timezone is None else ZoneInfo(timezone)
        self._zone = (utc_offset_minutes * 60_000_000, 0)
        self._grid = 0  # added to every time: points one slot apart fall in their slots' middle
        self._held = 0
        self._kept_scale: float | None = None
        self._n = 0
        self._warm: list[float] | None = []
        self._stamps: list[int] = []
        self._norm = 1.0  # values are multiplied by this (a power of two) before any arithmetic
        self._level_buf: list[float] = []  # the latest values
        # Mean absolute residual of: the level model, the trend model, the cycle model (point by
        # point), and the cycle model's residual averaged over _BLOCK points (the sustained channel)
        # and over _LONG points (the long channel).
        # And of the drift model: the cycle's residual net of their recent level.
        self._scale = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        # The drift model's residuals since the expectation's source changed (kind, days), and the
        # residuals its scale has had.
        self._resid: list[float] = []
        self._resid_e = math.nan  # the cycle's expectation at the latest of them
        self._resid_src: tuple[int, int, int] = (0, 0, 0)
        self._resid_seen = 0
        self._cycle_seen = 0  # residuals the cycle model has had so far
        self._scale_seen = 0  # blocks the level scales have had (see _start)
        self._sustained_seen = 0  # block means the sustained channel has had so far
        # It speaks from 8 of them and a day after the first (the time of the first; -1: none yet).
        self._sustained_from = -1
        self._last_t = 0  # the time of the latest point of the latest finished block
        # The 99th percentile of the points' |z|, tracked (2.58 for Gaussian residuals): a
        # heavy-tailed series' point z-scores are divided by how much heavier its tail is.
        self._tail_q = _Q99
        self._resolution = 0.0  # no scale falls below this (set at the end of the warm-up)
        self._ring = [0.0] * _BLOCK  # the cycle model's latest residuals (0 where it had no say)
        self._ring_sum = 0.0
        # The long channel: the same residuals over the last _LONG points (slot _long_base + the
        # point's place in its block), the blocks in a row wholly compared with their kind of
        # day, the samples its scale has had, and the points above the line (its own, and those that
        # alarmed on their own), net of its points below it.
        self._long = [0.0] * _LONG
        self._long_sum = 0.0
        self._long_base = 0
        self._long_from = -1  # the time of its first sample (-1: none yet)
        self._long_run = 0
        self._long_seen = 0
        self._long_loud = 0
        self._long_calm = 0
        # This block's clipped residuals (level, trend, cycle), its points with a cycle, with a typed one.
        # (And the drift model's clipped residuals and their count.)
        self._sums = [0.0] * 10
        self._pending = 0  # points of the current block already taken
        self._state: tuple[float, ...] = (0.0,) * 10 + (_Q99, 0.0, _NAN, 0.0, _INF)
        self._slot_us = _SLOT_US
        self._slots = 1
        # Per slot of a weekday and of a weekend day: the day being accumulated, its sum and
        # count, the finished days' values (latest last), their count and median (nan below 3).
        self._prof_day: array[int] = array("q")
        self._prof_acc: array[float] = array("d")
        self._prof_n: array[int] = array("q")
        self._prof_count: array[int] = array("q")
        self._prof_med: array[float] = array("d")
        self._near = 0  # slots within the jitter tolerance of a slot, on each side
        # A periodic job's beat (the engine's own _Beat, shared, not mirrored: it sees the final z of
        # the points at or above half the line, one call each, and nothing else).
        self._beat = _Beat(_SLOT_US)
        # How loud each hour of the day is (the engine's own _HourNoise, shared, not mirrored: it sees
        # each block's wobble, one call a block), whose multiplier of every scale holds for a block.
        self._noise = _HourNoise(season_days, _BLOCK * _SLOT_US)
        # The finished days' values, season_days per slot, as a ring (latest at count % season_days).
        self._prof_vals: array[float] = array("d")

    def __repr__(self) -> str:
        return (
            f"ReferenceZScoreScorer(z_threshold={self.z_threshold!r}, warmup_points={self.warmup_points}, "
            f"level_points={self.level_points}, season_days={self.season_days}, "
            f"scale_points={self.scale_points})"
        )

    @property
    def points_seen(self) -> int:
        """How many values the scorer has taken."""
        return self._n

    def update(self, x: float, t: int) -> float:
        """Take value ``x`` at time ``t`` (epoch microseconds); return its score in [0, 1]."""
        return self.update_many([x], [t])[0]

    def update_many(self, values: Sequence[float], stamps: Sequence[int]) -> list[float]:
        """Take ``values`` at ``stamps`` (epoch microseconds) in order; return their scores."""
        if len(values) != len(stamps):
            raise ValueError(
                f"ReferenceZScoreScorer.update_many: got {len(values)} values and {len(stamps)} timestamps"
            )
        out: list[float] = []
        i, n = 0, len(values)
        warm = self._warm
        if warm is not None:
            take = min(self.warmup_points - len(warm), n)
            warm.extend(values[:take])
            self._stamps.extend(stamps[:take])
            out.extend([0.0] * take)
            self._n += take
            i = take
            if len(warm) < self.warmup_points:
                return out
            self._start(warm, self._stamps)
        while i < n:
            if self._pending == 0:
                self._begin_block()
            take = min(_BLOCK - self._pending, n - i)
            out.extend(self._score(values[i : i + take], stamps[i : i + take]))
            self._pending += take
            self._n += take
            i += take
            if self._pending == _BLOCK:
                self._last_t = stamps[i - 1]
                self._end_block()
        return out

    # -- internals -----------------------------------------------------------------

    def _start(self, warm: list[float], stamps: list[int]) -> None:
        """Fix the normalisation, the slots and the level's scale from the warm-up."""
        # Values are scaled so the warm-up's largest is about 2**-10: sums of a slot's points and
        # differences of opposite extremes stay finite, and the scale is the same at any level.
        biggest = max(map(abs, warm))
        if biggest > 0.0:
            # (At most 2**1023, a finite float: a warm-up of subnormal values is scaled as far as
            # it can be, not to infinity.)
            self._norm = math.ldexp(1.0, min(-10 - math.frexp(biggest)[1], 1023))
        norm = self._norm
        xs = [v * norm for v in warm]
        steps = sorted(b - a for a, b in itertools.pairwise(stamps))
        slot = max(_SLOT_US, steps[len(steps) // 2])
        slots = max(1, round(_DAY_US / slot))
        self._slots = slots
        self._slot_us = -(-_DAY_US // slots)
        self._prof_day = array("q", [-1]) * (3 * slots)
        self._prof_acc = array("d", [0.0]) * (3 * slots)
        self._prof_n = array("q", [0]) * (3 * slots)
        self._prof_count = array("q", [0]) * (3 * slots)
        self._prof_med = array("d", [math.nan]) * (3 * slots)
        self._prof_vals = array("d", [0.0]) * (3 * slots * self.season_days)
        tolerance = min(max(_JITTER_US, 2 * self._slot_us), 3 * _JITTER_US)
        self._near = min(tolerance // self._slot_us, (slots - 1) // 2)
        self._beat = _Beat(self._slot_us)
        self._noise = _HourNoise(self.season_days, _BLOCK * max(1, steps[len(steps) // 2]))
        med = _median(xs)
        self._scale[0] = self._scale[1] = math.fsum(abs(v - med) for v in xs) / len(xs)
        # The series' resolution: the 10th percentile of its non-zero steps in the warm-up. No
        # scale falls below half of it, so a noise-free or quantised series (a square wave,
        # integer counts) does not make every small departure infinitely unlikely.
        moves = sorted(abs(b - a) for a, b in itertools.pairwise(xs) if a != b)
        self._resolution = moves[len(moves) // 10] * 0.5 if moves else 0.0
        # A warm-up that did not move taught the level scales nothing: a running mean of the first
        # blocks that move, then alpha.
        self._scale_seen = self.scale_points if moves else 0
        self._level_buf = xs[-self.level_points :]
        self._read_zone(stamps[-1])
        self._grid = _grid_of(stamps, self._slot_us, slots, self._tz is None)
        for v, u in zip(xs, stamps, strict=True):
            t = u + self._zone[1] + self._grid
            day = t // _DAY_US
            slot = (t % _DAY_US) // self._slot_us
            self._expected(v, day, slot, v)
            self._expected(v, day, slot + (2 * slots if self._weekend(day, slot) else slots), v)
        self._warm = None
        self._stamps = []

    def _begin_block(self) -> None:
        """Fix the level, its trend and the four scales for the next block of points."""
        if self._last_t:
            self._read_zone(self._last_t)
        buf = self._level_buf
        level = _median(buf)
        half = len(buf) // 2
        if half >= 2:
            # A robust local line: the medians of the buffer's two halves, extrapolated, so
            # that a smooth daily cycle is expected where it is going, not where it was.
            m1, m2 = _median(buf[:half]), _median(buf[half:])
            c1, c2 = (half - 1) / 2.0, half + (len(buf) - half - 1) / 2.0
            slope = (m2 - m1) / (c2 - c1)
            trend0 = m2 + slope * (len(buf) - c2)
        else:
            slope, trend0 = 0.0, level
        floor = max(abs(level) * 1e-12, self._resolution, 1e-300)
        m = self._noise.multiplier()  # (the loudness of the block's hours)
        s_level, s_trend, s_cycle, s_sustained, s_long, s_drift = (max(v * m, floor) for v in self._scale)
        # The cycle model speaks once it has had a block of residuals to learn its scale from
        # (its first residuals are not clipped: there is no scale to clip them to yet); the
        # sustained channel once it has seen 8 block means over at least a day (from the first).
        if self._cycle_seen >= _BLOCK:
            k_cycle, clip_cycle = 1.0 / (_MAD_TO_SD * s_cycle), _CLIP * s_cycle
        else:
            k_cycle, clip_cycle = 0.0, math.inf
        speaks = self._sustained_seen >= 8 and self._last_t - self._sustained_from >= _DAY_US
        k_sustained = 1.0 / (_MAD_TO_SD * s_sustained) if speaks else 0.0
        # The long channel speaks with it, on the same terms from its own samples.
        long_speaks = self._long_seen >= 8 and self._last_t - self._long_from >= _DAY_US
        k_long = 1.0 / (_MAD_TO_SD * s_long) / _LONG if speaks and long_speaks else 0.0
        # The drift model: the residuals' median once the cycle speaks and 16 of them are there; its
        # scale once it has had 16.
        base, k_drift, clip_drift = math.nan, 0.0, math.inf
        if k_cycle and len(self._resid) >= _BLOCK:
            base = _median(self._resid)
            if self._resid_seen >= _BLOCK:
                k_drift, clip_drift = 1.0 / (_MAD_TO_SD * s_drift), _CLIP * s_drift
        self._state = (
            level,
            1.0 / (_MAD_TO_SD * s_level),
            _CLIP * s_level,
            trend0,
            slope,
            1.0 / (_MAD_TO_SD * s_trend),
            _CLIP * s_trend,
            k_cycle,
            clip_cycle,
            k_sustained / _BLOCK,
            self._tail_q,
            k_long,
            base,
            k_drift,
            clip_drift,
        )

    def _score(self, xs: Sequence[float], ts: Sequence[int]) -> list[float]:
        level, k_level, clip_level, trend, slope, k_trend, clip_trend = self._state[:7]
        k_cycle, clip_cycle, k_sustained, q99, k_long, base, k_drift, clip_drift = self._state[7:]
        firm, firm_drift = clip_cycle * (_SLACK / _CLIP), clip_drift * (_SLACK / _CLIP)
        sum_drift, n_drift = self._sums[8], int(self._sums[9])
        tail = _Q99 / q99  # <= 1: never more sensitive than Gaussian noise allows
        norm, thr = self._norm, self.z_threshold
        long_buf, long_sum, lb, loud = self._long, self._long_sum, self._long_base, self._long_loud
        calm = self._long_calm
        sums = self._sums
        sum_level, sum_trend, sum_cycle = sums[0], sums[1], sums[2]
        n_cycle, n_typed, above, n_far = int(sums[3]), int(sums[4]), int(sums[5]), int(sums[6])
        n_first = int(sums[7])
        out: list[float] = []
        level_buf, ring = self._level_buf, self._ring
        ring_sum, pos = self._ring_sum, self._pending  # pos: the point's place in its block
        slot_us, slots, expected, prof_count = self._slot_us, self._slots, self._expected, self._prof_count
        for x, t in zip(xs, ts, strict=True):
            v = x * norm
            if v - v != 0.0:  # beyond the float range once scaled (a jump of ~600 orders): off the scale
                out.append(1.0)
                pos += 1
                calm = 0
                continue
            r = abs(v - level)
            sum_level += r if r < clip_level else clip_level
            z = r * k_level
            line = trend + slope * pos  # the local line at this point of the block
            r = abs(v - line)
            sum_trend += r if r < clip_trend else clip_trend
            # The local models must agree: a steep stretch of the cycle fools only the level.
            z = min(z, r * k_trend)
            local = t + self._zone[1] + self._grid  # the zone's clock, daylight saving included
            day = local // _DAY_US
            slot = (local % _DAY_US) // slot_us
            e = expected(v, day, slot, line)
            typed = slot + (2 * slots if self._weekend(day, slot) else slots)
            e_typed = expected(v, day, typed, line)
            # A first weekend day: a weekend slot with no weekend day in its profile, weekdays only.
            n_first += typed >= 2 * slots and not prof_count[typed] and prof_count[slot] > 0
            own = self._weekly(e, slot, typed, line, day, despiked=False)  # (the sustained channel's check)
            e = self._weekly(e, slot, typed, line, day)
            source, settled = self._source(slot, typed)
            band: list[float] = []  # (hi, lo), read when first needed

            def beyond(x: float, ref: float, firm: float, band: list[float] = band, day: int = day,
                       slot: int = slot, kind: int = source[0], e: float = e) -> float:
                """The departure ``x`` of a point from ``ref``, net of the band's slack on its side."""
                if not band:
                    band.extend(self._band(slot, day, kind, e, clip_cycle * (_SLACK / _CLIP)))
                hi, lo = band
                slack = _slack(hi - ref, firm) if x > 0.0 else _slack(ref - lo, firm)
                return max(abs(x) - slack, 0.0) if x > 0.0 else -max(abs(x) - slack, 0.0)

            if source != self._resid_src:  # the drift model's residuals start over
                self._resid_src = source
                self._resid.clear()
                base = math.nan
                self._state = (*self._state[:12], base, *self._state[13:])
            if e - e == 0.0:  # finite (not nan): the cycle has a say
                r = v - e
                r = abs(beyond(r, e, firm)) if abs(r) > firm else abs(r)
                sum_cycle += r if r < clip_cycle else clip_cycle
                n_far += r >= clip_cycle
                n_cycle += 1
                zc = r * k_cycle
                if k_cycle:
                    # Where the cycle has been about as good a model as the local line, the local models
                    # count only as far as the point's distance from the cycle bears them out on their
                    # scale (a sharp daily edge is no news); a much looser cycle vetoes nothing.
                    z = max(min(z, r * k_trend) if 4.0 * k_cycle >= k_trend else z, zc)
                    if abs(e - self._resid_e) > clip_drift:  # the expectation jumped: they start over
                        self._resid.clear()
                        base = math.nan
                        self._state = (*self._state[:12], base, *self._state[13:])
                    drift = v - e - base
                    if settled and math.isfinite(drift) and abs(drift) > firm_drift:
                        drift = beyond(drift, e, firm)  # (the slack on the cycle's scale)
                    drift = abs(drift)
                    if settled and math.isfinite(drift):
                        sum_drift += min(drift, clip_drift)
                        n_drift += 1
                        z = max(z, drift * k_drift)
                self._resid.append(v - e)
                self._resid_e = e
            else:
                # No day of history here yet: the local models alone, with the caution of a
                # fresh series (its scales are young, and a daily edge looks like a shift).
                z *= _FRESH
            if z > q99:
                above += 1
            z *= tail
            if z >= thr:  # the point alarms on its own: a departure's point for the long channel too
                calm = 0
                loud += 1
            # The sustained channel compares with days of the same kind (weekday or weekend) only: their
            # median from three days; on a weekday whose slot has one or two days, all weekdays, the
            # point's expectation (made of those days); on a weekend day with one or two weekend days,
            # their mean, as far as the point's expectation agrees, weighted by 1 / sqrt(1 + 1/days).
            count = prof_count[typed]
            ref, weight = _NAN, 0.0
            if count >= 3:
                ref = e_typed
            elif count and count == prof_count[slot] and typed < 2 * slots:
                ref = e
            elif count and count != prof_count[slot] and typed >= 2 * slots:
                k = self.season_days
                days = [self._prof_vals[typed * k + (count - 1 - j) % k] for j in range(count)]
                ref = days[0] if count == 1 else (days[0] + days[1]) * 0.5
                weight = math.sqrt(1.0 / (1.0 + 1.0 / count))
            d = v - ref if ref - ref == 0.0 else 0.0
            if ref - ref == 0.0 and abs(d) > firm:
                d = beyond(d, ref, firm)
            if weight:
                r = v - own
                if (d > 0.0) != (r > 0.0):
                    d = 0.0
                elif abs(r) < abs(d):
                    d = r
                d *= weight
            # Clipped like the scales' inputs, so a spike cannot pass for a sustained departure.
            d = clip_cycle if d > clip_cycle else -clip_cycle if d < -clip_cycle else d
            if d - d == 0.0:  # finite
                if ref - ref == 0.0:
                    n_typed += 1
                ring_sum += d - ring[pos]
                ring[pos] = d
                zs = abs(ring_sum) * k_sustained
                z = max(z, zs)
                long_sum += d - long_buf[lb + pos]
                long_buf[lb + pos] = d
                calm += 1
                if calm > _LONG:  # no point of the last _LONG alarmed on its own
                    # The long average counts only as far as the last 16 points bear it out.
                    zl = min(abs(long_sum) * k_long, 2.0 * zs)
                    # At or above the line for at most incident_points points, net of those below.
                    loud = loud + 1 if zl >= thr else max(loud - 1, 0)
                    if zl < thr or loud <= self.incident_points:
                        z = max(z, zl)
            else:
                z = _INF
                calm = 0
            pos += 1
            level_buf.append(v)
            if thr * 0.5 <= z < _INF:  # a run of a periodic job on its beat is no news
                z = self._beat.see(z, t, thr)
            out.append(z / (z + thr) if z < _INF else 1.0)  # an overflowed z is off the scale too
        sums[0], sums[1], sums[2], sums[3], sums[4], sums[5], sums[6], sums[7], sums[8], sums[9] = (
            sum_level,
            sum_trend,
            sum_cycle,
            n_cycle,
            n_typed,
            above,
            n_far,
            n_first,
            sum_drift,
            n_drift,
        )
        self._ring_sum = ring_sum
        self._long_sum, self._long_loud, self._long_calm = long_sum, loud, calm
        return out

    def _end_block(self) -> None:
        """Fold the block into the scales; trim the level buffer."""
        sum_level, sum_trend, sum_cycle, n_cycle, n_typed, above, n_far, n_first = self._sums[:8]
        sum_drift, n_drift = self._sums[8:]
        # The scales learn the block's residuals at the day's loudness, not its hours'.
        m = self._noise.multiplier()  # (the same as at the block's start: block() below moves it on)
        sum_level, sum_trend, sum_cycle = sum_level / m, sum_trend / m, sum_cycle / m
        sum_drift /= m
        # While the first weekend day is judged against weekdays, the cycle's scale learns its
        # departures; once the weekend has a day of its own, the scale is put back as it was.
        # (Nothing to put back when the cycle had not spoken before the weekend, nan: the scale
        # starts over instead.)
        if n_first and self._kept_scale is None:
            self._kept_scale = self._scale[2] if self._cycle_seen >= _BLOCK else math.nan
        elif not n_first and self._kept_scale is not None:
            if not math.isnan(self._kept_scale):
                self._scale[2] = self._kept_scale
            else:
                self._scale[2] = self._scale[1]
            self._kept_scale = None
        # Stochastic approximation of the 99th percentile of isolated excursions: up by ~2% per
        # point above it, down by as much per 100 points below, between the Gaussian value and
        # twice it. A block with more than two points above is an event, not the noise's tail.
        if above > 2:
            above = 0
        q = self._tail_q * math.exp(_TAIL_RATE * (above - 0.01 * _BLOCK))
        self._tail_q = min(2.0 * _Q99, max(_Q99, q))
        alpha = _BLOCK / self.scale_points
        scale = self._scale
        # A block in which the series did not move (its points and the one before, all equal)
        # teaches no scale.
        recent = self._level_buf[-_BLOCK - 1 :]
        moved = len(recent) <= _BLOCK or len(set(recent)) > 1
        if moved:
            rate = max(alpha, 1.0 / (self._scale_seen + 1))
            scale[0] += rate * (sum_level / _BLOCK - scale[0])
            scale[1] += rate * (sum_trend / _BLOCK - scale[1])
            self._scale_seen += 1
        # An incident block (most points more than 4 scales from the cycle) is kept out of the
        # cycle's scale for up to incident_points points in a row.
        incident = n_far * 2 > n_cycle
        sample = _wobble(self._level_buf) if moved and not incident else None
        self._noise.block(self._last_t + self._zone[1], sample)
        # The drift model's scale skips the same incidents; its residuals keep their latest level_points.
        if n_drift and not (incident and self._held * _BLOCK < self.incident_points) and moved:
            weight = int(n_drift)
            scale[5] = _fold(scale[5], sum_drift / weight, self._resid_seen, weight, alpha * weight / _BLOCK)
            self._resid_seen += weight
        if incident and self._held * _BLOCK < self.incident_points:  # nor its level: the block's go
            self._resid = self._resid[: max(0, len(self._resid) - int(n_cycle))]
        self._resid = self._resid[-self.level_points :]
        if incident and self._held * _BLOCK < self.incident_points:
            self._held += 1
        elif n_cycle:
            if not incident:
                self._held = 0
            if moved:
                weight = int(n_cycle)
                rate = alpha * weight / _BLOCK
                scale[2] = _fold(scale[2], sum_cycle / weight, self._cycle_seen, weight, rate)
                self._cycle_seen += weight
        # Exact again: no rounding drift over a long stream (residuals near the float limit can
        # overflow an exact sum: then the running sum stays).
        with contextlib.suppress(OverflowError):
            self._ring_sum = math.fsum(self._ring)
        if n_typed == _BLOCK and moved:  # a whole block compared with days of its kind: one sample
            mean = abs(self._ring_sum) / m / _BLOCK
            if self._sustained_seen:
                mean = min(mean, _CLIP * scale[3])
            scale[3] = _fold(scale[3], mean, self._sustained_seen, 1, alpha)
            if not self._sustained_seen:
                self._sustained_from = self._last_t
            self._sustained_seen += 1
        # The long channel: exact again; one sample of its mean once _LONG points in a row were
        # compared with their kind of day.
        with contextlib.suppress(OverflowError):
            self._long_sum = math.fsum(self._long)
        self._long_base = (self._long_base + _BLOCK) % _LONG
        self._long_run = self._long_run + 1 if n_typed == _BLOCK else 0
        if self._long_run * _BLOCK >= _LONG and moved:
            mean = abs(self._long_sum) / m / _LONG
            if self._long_seen:
                mean = min(mean, _CLIP * scale[4])
            scale[4] = _fold(scale[4], mean, self._long_seen, 1, alpha)
            if not self._long_seen:
                self._long_from = self._last_t
            self._long_seen += 1
        self._sums = [0.0] * 10
        self._pending = 0
        if self._resolution == 0.0:
            # A warm-up without a single move (a constant gauge, a sparse count that stayed 0) gave no
            # resolution: it is learnt, by the warm-up's rule, from the first block in which the series
            # moves (whose points were scored without it), so that the first move is news and the same
            # move again is not (a count of rare errors would otherwise alarm at every error).
            moves = sorted(abs(b - a) for a, b in itertools.pairwise(self._level_buf) if a != b)
            if moves:
                self._resolution = moves[len(moves) // 10] * 0.5
        keep = self.level_points
        if len(self._level_buf) > keep:
            del self._level_buf[: len(self._level_buf) - keep]

    def _expected(self, v: float, day: int, s: int, line: float) -> float:
        """Profile slot ``s``'s expectation on ``day`` (nan before a day there); adds ``v`` to it.

        With three days or more it is their median; with one or two, each
        day's value is first taken as the median of it and its neighbouring
        slots (:meth:`_despiked`), and two days are combined with ``line`` (the
        local line's expectation) as a third vote: one odd day, or a spike on
        it, cannot make a normal point look odd.

        Slots ``[0, slots)`` profile every day, ``[slots, 2 * slots)`` weekdays
        and ``[2 * slots, 3 * slots)`` weekend days (UTC), so that a weekly
        rhythm never makes a Saturday look like a broken Friday to the
        sustained channel.
        """
        if self._prof_day[s] != day:
            if self._prof_n[s]:
                k = self.season_days
                count = self._prof_count[s]
                vals = self._prof_vals
                vals[s * k + count % k] = self._prof_acc[s] / self._prof_n[s]
                count += 1
                self._prof_count[s] = count
                if count >= 3:
                    self._prof_med[s] = _median(vals[s * k : s * k + min(count, k)].tolist())
            self._prof_day[s] = day
            self._prof_acc[s] = 0.0
            self._prof_n[s] = 0
        self._prof_acc[s] += v
        self._prof_n[s] += 1
        count = self._prof_count[s]
        if count >= 3 or count == 0:
            return self._prof_med[s]
        if s >= self._slots:  # a day-kind profile with one or two days: not used
            return _NAN
        a = self._despiked(s, day, 1)
        if count == 1:
            return a
        b = self._despiked(s, day, 2)
        return max(min(a, b), min(max(a, b), line))

    def _weekend(self, day: int, slot: int) -> bool:
        """Whether slot ``slot``'s start on UTC day ``day`` is a Saturday or Sunday in local time."""
        start = day * _DAY_US + slot * self._slot_us + self._zone[0]
        return (start // _DAY_US + 3) % 7 >= 5

    def _read_zone(self, t_us: int) -> None:
        """With a zone, its standard offset and daylight-saving shift at ``t_us``."""
        if self._tz is not None:
            local = datetime.fromtimestamp(t_us // 1_000_000, tz=self._tz)
            dst = local.dst() or timedelta(0)
            std = (local.utcoffset() or timedelta(0)) - dst
            self._zone = (std // timedelta(microseconds=1), dst // timedelta(microseconds=1))

    def _weekly(self, e: float, slot: int, typed: int, line: float, day: int, despiked: bool = True) -> float:
        """The cycle's expectation ``e`` at ``slot``; on a weekend day, against the weekend days.

        On a weekend day (``typed`` a weekend slot) whose every-day profile
        holds weekdays too (the counts differ), once a weekend day is
        profiled: the weekend days' median with three or more; with two, the
        median of those two and ``e``; with one, the median of it, ``e`` and
        ``line``. The same on a weekday against the weekdays, once one is
        profiled, while the every-day profile holds at most ``season_days``
        days and half of them or more are weekend days. Otherwise, on a
        weekday with three days or more in both profiles, the median of ``e``,
        the weekdays among the last ``season_days`` days (the latest that
        many profiled, at least 3) and ``line``; else ``e``. The one or two
        days of the kind are each despiked across their neighbouring slots
        (:meth:`_despiked`), unless ``despiked`` is false (the sustained
        channel's check on a weekend day reads them as they were).
        """
        count, typed_count = self._prof_count[slot], self._prof_count[typed]
        if typed < 2 * self._slots:
            weekend_days = count - typed_count
            if not typed_count or count > self.season_days or count > 2 * weekend_days:
                if count < 3 or typed_count < 3:
                    return e
                k = self.season_days
                local = (day * _DAY_US + slot * self._slot_us + self._zone[0]) // _DAY_US
                weekdays = sum(1 for d in range(local - k, local) if (d + 3) % 7 < 5)
                m = min(max(weekdays, 3), k, typed_count)
                at = typed * k
                recent = sorted(self._prof_vals[at + (typed_count - 1 - j) % k] for j in range(m))
                w = recent[m // 2] if m % 2 else (recent[m // 2 - 1] + recent[m // 2]) * 0.5
                return _median_finite([e, w, line])
        elif not typed_count or typed_count == count:
            return e
        if typed_count >= 3:
            return self._prof_med[typed]
        if despiked:
            latest, second = self._despiked(typed, day, 1), self._despiked(typed, day, 2)
        else:
            latest, second = self._past(typed, day, 1), self._past(typed, day, 2)
        if typed_count == 2:
            return _median_finite([latest, second, e])
        return _median_finite([latest, e, line])

    def _source(self, slot: int, typed: int) -> tuple[tuple[int, int, int], bool]:
        """The source of the cycle's expectation at ``slot`` for the drift model, and whether it is settled.

        The source: which profile (0 every day, 1 weekdays, 2 weekend days, 3
        a first weekend day: every day, weekdays only) and how many days it
        holds, up to ``season_days``. Settled: three days of the every-day
        profile, or two of the point's own kind; never a first weekend day.
        """
        k = self.season_days
        count, typed_count = self._prof_count[slot], self._prof_count[typed]
        if typed >= 2 * self._slots:
            kind = 3 if not typed_count and count else 2 if typed_count and typed_count != count else 0
        else:
            own = typed_count and count <= k and count <= 2 * (count - typed_count)
            kind = 1 if own else 0
        days = min(typed_count, k) if kind in (1, 2) else 0
        settled = kind != 3 and (typed_count + 1 if kind else count) >= 3
        return (kind, min(count, k), days), settled

    def _despiked(self, s: int, day: int, back: int) -> float:
        """Slot ``s``'s value ``back`` days back, as the median of it and its two neighbouring slots.

        With only one or two days of history a median across days cannot
        outvote an odd day, so a past spike (one or two points) is outvoted
        across time instead; on a steep but steady stretch of the cycle the
        middle of three neighbours is the slot itself.
        """
        slots = self._slots
        offset = s - s % slots  # (a day-kind profile's slot: its neighbours in the same profile)
        got = [self._past(offset + (s + d) % slots, day, back) for d in (-1, 0, 1)]
        vals = [v for v in got if v - v == 0.0]
        if len(vals) == 3:
            p, q, r = vals
            return max(min(p, q), min(max(p, q), r))
        return vals[0] if len(vals) == 1 else (vals[0] + vals[1]) * 0.5 if vals else _NAN

    def _band(self, slot: int, day: int, kind: int, e: float, firm: float) -> tuple[float, float]:
        """The values reached within the jitter tolerance of ``slot``'s time of day on three or more of
        the last ``season_days`` days the expectation ``e`` was made of (the source's ``kind``: 1, the
        weekday slots; 2, the weekend slots; else the every-day slots): the third highest of those days'
        highest values and the third lowest of their lowest (the second, of two, while the profile at
        ``slot`` has two days). With too few weekend days, the every-day slots' band, if ``e`` lies within
        it widened by ``firm``."""
        slots = self._slots
        offset = slots if kind == 1 else 2 * slots if kind == 2 else 0
        highs, lows = [], []
        for back in range(1, self.season_days + 1):
            near = range(-self._near, self._near + 1)
            seen = [x for j in near if math.isfinite(x := self._past(offset + (slot + j) % slots, day, back))]
            if seen:
                highs.append(max(seen))
                lows.append(min(seen))
        backs = range(1, self.season_days + 1)
        days_here = sum(1 for back in backs if math.isfinite(self._past(offset + slot, day, back)))
        need = 3 if len(highs) >= 3 or days_here > 2 else 2  # (both days while the profile has two)
        if len(highs) >= need:
            return sorted(highs)[-need], sorted(lows)[need - 1]
        if kind == 2:
            hi, lo = self._band(slot, day, 0, e, firm)
            if lo - firm <= e <= hi + firm:
                return hi, lo
        return -_INF, _INF

    def _past(self, n: int, day: int, back: int) -> float:
        """Profile slot ``n``'s value on its ``back``-th latest finished day before ``day`` (nan if none)."""
        if self._prof_day[n] != day and self._prof_n[n]:
            # Slot n has not been reached today: its latest day is still in the accumulator.
            if back == 1:
                return self._prof_acc[n] / self._prof_n[n]
            back -= 1
        count = self._prof_count[n]
        if count < back:
            return _NAN
        k = self.season_days
        return self._prof_vals[n * k + (count - back) % k]


def _slack(gap: float, firm: float) -> float:
    """The slack of a band reaching ``gap`` beyond an expectation: 0 up to ``firm``, all of it from twice
    ``firm``, linear between."""
    if not gap > firm:  # (also a band that reaches nowhere, -inf, or an expectation that is nan)
        return 0.0
    return gap if gap - firm > firm else 2.0 * (gap - firm)


def _fold(scale: float, sample: float, seen: int, weight: int, alpha: float) -> float:
    """A running mean of the first samples, then an exponentially weighted one (rate ``alpha``)."""
    if seen == 0:
        return sample
    return scale + max(alpha, weight / (seen + weight)) * (sample - scale)


def _grid_of(stamps: list[int], slot_us: int, slots: int, utc: bool) -> int:
    """The time to add to every point so that points one slot apart fall in the middle of their slots.

    Only when the warm-up's median step is within a quarter of a slot of the slot, the slots tile
    the day, and (in a zone with daylight saving) the slot divides 30 minutes; else 0. The place in
    its slot where the points typically fall: the median of each point's place, taken within half
    a slot of the first point's place.
    """
    steps = sorted(b - a for a, b in itertools.pairwise(stamps))
    step = steps[len(steps) // 2]
    if slots * slot_us != _DAY_US or 4 * abs(step - slot_us) > slot_us:
        return 0
    if not utc and 1_800_000_000 % slot_us != 0:
        return 0
    first = stamps[0] % slot_us
    around = []
    for u in stamps:
        d = u % slot_us - first
        if d >= slot_us / 2:
            d -= slot_us
        elif d < -slot_us / 2:
            d += slot_us
        around.append(d)
    around.sort()
    place = (first + around[len(around) // 2]) % slot_us
    return slot_us // 2 - place
