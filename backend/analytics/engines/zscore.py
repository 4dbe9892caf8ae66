"""The built-in ``zscore`` engine: each point against what its time of day and its recent level expect.

Method
------
Each point ``v`` gets a robust z-score (its residual over a robust scale of
past residuals) from two kinds of model, and the score ``z / (z +
z_threshold)`` (0.5, the alarm line, at ``z == z_threshold``, default 5.5).

**Local models**, fixed at the start of each block of 16 points (blocks are
aligned on the point index, so a live stream's chunking never matters):

- *level*: the median of the last ``level_points`` values (default 32);
- *local line*: the medians of the two halves of those values, joined by a
  line and extrapolated over the block, so that a smooth daily cycle is
  expected where it is going, not where it was.

The local z is the smaller of the two (the models must agree: a steep stretch
of the cycle fools only the level).

**Daily cycle.** The day (UTC) is cut into slots of ``max(step, 1 minute)``
(``step``: the median step of the warm-up; 1,440 slots a day at 1 minute, 288
at 5 minutes; any step from 1 second to 1 hour works). A slot's value on a
day is the mean of its points that day, and each slot keeps its values of the
last ``season_days`` days (default 5). Where the slot has three days or more,
the expectation is their median; with one or two, each day's value is first
de-spiked (the median of it and its two neighbouring slots that day), and
two days are combined with the local line as a third vote (their median);
with none, the cycle has no say. One odd day (yesterday's incident) never
makes today look odd, and a spike as large as yesterday's is still a spike
today; a spike that recurs at the same time on most of the last days
becomes part of the profile. Where the cycle has a say (once it has had 16
residuals to learn its scale from), ``z = max(min(z_local, |v - e| /
s_line), z_cycle)`` (``e`` the cycle's expectation, ``s_line`` the local
line's scale): the local models count only as far as the point's distance
from the cycle bears them out on their own scale, so a sharp daily edge is
no news, neither the edge nor the half hour after it, while the local line
still extrapolates the hour before. That cap holds only where the cycle has
been about as good a model as the line (its scale ``s_cycle`` at most 4
times ``s_line``); a much looser cycle, such as an every-day profile that
lags a drifting series (a disk filling up) by days, vetoes nothing: ``z =
max(z_local, z_cycle)`` (before those 16 residuals, ``z = z_local``).
Where it has no say (no day of history at that slot yet), ``z = 0.75 *
z_local``: a fresh series' scales are young and its daily edges look like
shifts.

**Drift.** A profile of the last days lags a metric that grows or drifts
(traffic after a launch, a disk filling up) by about as many days' worth as
its median reaches back: the cycle's residuals run high (or low) by that
much, its scale grows to match, and a spike of 10 noise sd on a cycle
growing 3% a day scored under the line. A third model takes the cycle's
residual net of the residuals' own recent level (their median over the last
``level_points``, fixed at each block's start), in a scale of its own
(learnt as the others, skipping the same incidents), and ``z`` is the larger
of it and the rest. It speaks where the expectation is settled: three days
of the every-day profile, or two of the point's own kind of day, and not on
a first weekend day (whose departure from the weekdays the cycle's scale
learns as it goes). Its residuals start over wherever their level is not
the one they will have: where the expectation's source changes (another
kind of profile, or one holding another number of days, as at each
midnight while the profile fills up), and where the expectation jumps by
more than 4 of its scales from one point to the next (the profile's median
taking in a lasting step of days ago, or a sharp daily edge); it is then
silent until a block has gathered 16 of them.

**Jitter: periodic jobs.** A job that runs every hour or every 15 minutes
(a cron job, a backup, a compaction) and starts a few minutes late or runs
longer on some days makes the profile's median flip between "running" and
"idle" at every run's edge: the edges would alarm all week and inflate the
cycle's scale until spikes between the runs were missed. So a point more
than 3 cycle scales from an expectation (the cycle's, the drift model's or
a sustained channel's) is judged against the *band* of its time of day: the
values that the slots within 5 minutes of it (two steps at coarser steps,
at most 15 minutes; the slot alone from 30-minute steps) reached on three
or more of the last days its expectation is made of (the weekdays, the
weekend days, or all of them; two of two while the profile holds two days;
a weekend judged against too few weekend days borrows all of the last days
only where its expectation lies within their band). The residual counts
only beyond how far the band reaches past the expectation, less 3 cycle
scales (all of the reach from 6): a job's run is no news where the last
days' runs have been, give or take 5 minutes, while a spike as large as one
seen at that time on one or two of the last days still is.

**Recent levels (``recent_levels=True``, off by default).** The band asks
three of the last days to have reached a value near this time of day: a
nightly job that lasts 20 to 60 minutes and starts up to 45 minutes late ends
earlier than three of the last five days on about every other night, and the
series, back at rest, alarms. With ``recent_levels`` a point that would
alarm and is more than 3 cycle scales from an expectation is also judged
against a wider band: the values that both the last hour's points that were
no news on their own (at most 4,096 points) and one or more of the last days
of its kind (weekdays or weekend days) within 5 minutes of its time of day
reached (up to the lower of their highs, down to the higher of their lows).
Where that band reaches the point further than the band does, the point's
``z`` is at most its residual net of the wider band's slack (as above), on the
cycle's scale (or the drift model's, measured from the residuals' level,
where that model spoke). The scales, the tail and the channels learn as
without it. A spike above anything of the last hour, or above anything those
days reached, is judged as before, and so is a level the series took at this
time yesterday but not in the last hour (a repeated incident), or one that
only an incident's own points took; a spike near a job's runs and no higher
than them is hidden more often.

**Beat: periodic jobs before the band.** In the first days the band has no
days to stand on. Once six runs of alarms in a row began on one beat of at
most 6 hours (their gaps within a twentieth of it or two steps of their
median) with the series calm between them (no point at half the line or more
away from the runs), a run that begins on that beat, lasts no longer than the
job's runs usually do and goes no higher than 1.5 times their highest scores
low (z 1); a run off the beat, a longer one or a higher one alarms as before.
The beat lapses after a day without a run on it. A repeated incident at
irregular times never keeps a beat; a crash loop on a steady one goes quiet
after its sixth restart.

**Weekly rhythm.** On a Saturday or Sunday (UTC, or the local time of
``utc_offset_minutes``: see *Local time*) whose slot has weekdays in
its profile, the expectation comes from the weekend days instead: their
median with three or more; with two, the median of those two and the
every-day expectation; with one, the median of it, the every-day expectation
and the local line (each of those one or two days despiked across its
neighbouring slots first, as the every-day profile's first days are: a
spike on the first Saturday is no expectation for the first Sunday). A
metric whose weekends run lower (or higher) than its weekdays alarms on its
first weekend, which nothing has shown yet, and not on
the next ones; a weekend that breaks the weekend's own cycle is still found.
On the first weekend day (its slot has only weekdays in its profile) the
cycle's scale learns the day's departure from the weekdays as it goes, so a
quieter weekend does not alarm all day; once the weekend has a day of its own
to be judged against, the scale is put back as it was before the weekend, so
the first Sunday is judged as sharply as a weekday (on a series first seen on
a Friday, whose cycle had not spoken before the weekend, there is nothing to
put back: the scale restarts from the local line's). The cost: a lasting step
that begins on the first weekend is news again on Monday (the weekday profile
has not seen it, and what the weekend taught the scale was put back), until
the scale grows.
Weekdays keep the every-day profile (they are the majority of any five days),
except while it holds at most ``season_days`` days and half of them or more
are a weekend's (a series first seen late in the week: on its first Monday,
Thursday, Friday, Saturday and Sunday): then a weekday is judged against the
weekdays, as a weekend day is against the weekend days (their median with
three or more; with two, the median of those two and the every-day
expectation; with one, the median of it, the every-day expectation and the
local line). After that, with three days or more in both profiles, a
weekday's expectation is the median of the every-day one, the weekdays'
among the last ``season_days`` days (the median of the latest three, or
four on a Friday, profiled) and the local line: of the two, the one nearer
the local line. A holiday is a third weekend-like day in five, and the
every-day median of the three days after it is a weekend day's value; the
weekdays among those days are not fooled.

**Heavy tails.** The 99th percentile of the points' ``|z|`` is tracked by
stochastic approximation (up about 2% for each point above it, down as much
per 100 points below, between 2.576, the Gaussian value, and twice that; a
block with more than two points above is an event and counts as none), and
every ``z`` is multiplied by ``2.576 / q99``: a heavy-tailed series alarms
as rarely as Gaussian noise would.

**Sustained channel.** A second profile per slot, kept separately for
weekdays and for weekend days (UTC), gives each point the median of the last
days *of the same kind* once it has three or more. On a weekday whose slot
has one or two days, all of them weekdays, the point's own expectation (made
of those days, as above) stands in. On a weekend day with one or two weekend
days (the first Sunday), their mean does, but only as far as the point's own
expectation (their vote with the weekdays and the local line, from the days
as they were, not despiked) agrees: if the
two departures differ in sign the point adds nothing, else the smaller
counts, so a Saturday that was itself odd leaves no echo; and it is weighted
by ``1 / sqrt(1 + 1/m)`` for ``m`` days, whose noise it carries. The first
weekend day has no weekend day before it, and the channel is silent there
(a Saturday night is not a Friday night). The point's departure, clipped at 4 scales (so a
spike cannot pass for a sustained departure), is averaged over the last 16
points, in its own scale, and ``z`` is the larger of the two channels. It
speaks once 8 blocks have been compared with their kind of day throughout
and a day has passed since the first of them (its scale is the mean absolute
of such blocks' means), so that its scale knows the day's busy hours as well
as its quiet ones, at any step: a departure too small for any one point but
held over 16 points adds up, and a weekly rhythm never makes a Saturday look
like a broken Friday.

**Long channel.** The same clipped departures averaged over the last 64
points, in a scale of their own (the mean absolute of such 64-point means,
one sample a block once 64 points in a row were compared with their kind of
day), speaking on the same terms (8 samples, a day after the first): a swing
cut to a third, or a flattened peak, whose departures average 1.5-2 noise sd
stays under the line over 16 points and crosses it over 64. It is for
departures no point shows, so it does not trail an event: it speaks only
where no point of the last 64 alarmed on its own, and counts only as far as
twice the 16-point channel's z (the ratio of the two averages' noise). It
stands down after ``incident_points`` points at or above the line (its own,
and those that alarm on their own; net of its points below the line since):
a departure that lasts longer is the new normal, as for the cycle's scale, so
a lasting step goes quiet as soon as it did without this channel.

**Scales.** Each model's scale is an exponentially weighted mean of its
absolute residuals, each clipped at 4 times the current scale (a Huber-style
robust update: one outlier moves it by at most a few per cent), updated at
the end of each block; ``scale_points`` (default 512) is its memory. A block
in which most points lie more than 4 scales from the daily cycle is an
*incident*: the cycle's scale skips it, for up to ``incident_points``
(default 128) points in a row; a departure that lasts longer is taken as the
new normal and learnt from then on. Without this, a few hours' incident
would grow the scale several-fold (up to ~9% a block) and blunt the next
day's detection; with it, a permanent shift alarms for longer (the hold,
then the scale's growth) before it goes quiet. ``z =
|residual| / (1.2533 * scale)`` (1.2533 turns a mean absolute deviation into
a standard deviation for Gaussian noise). No scale falls below the series'
*resolution*: half the 10th percentile of its non-zero steps in the warm-up
(nor below ``1e-12 * |level|``), so that a noise-free or quantised series (a
square wave, integer counts) does not make every small departure infinitely
unlikely. A warm-up without a single move (a constant gauge, a count of rare
errors that stayed 0) gives none: the resolution is then learnt by the same
rule from the level buffer at the end of the first block in whose points the
series moves. That block's points are scored without it (the first move of a
constant series is news); the same move again is not (rare errors, about 29
a day at 1-minute steps, alarmed at every error: 4.3 false-alarm episodes a
series-day on such series, `bench_audit.py --part counts`; now 0.03).
A block in which the series does not move at all (its points and the one
before them all equal: a metric at exactly 0 all night, CPU pinned at 100)
teaches no scale: residuals of exactly 0 say nothing of the noise the series
has when it moves, and a night of them wore the scales down until the busy
hours alarmed all day (`bench_audit.py --part shapes`, *zero-nights*: 6.7
false-alarm episodes per series-day, 0.21 since). For the same reason, after
a warm-up that did not move the level's and the line's scales start as a
running mean of the first blocks that do (as the other scales always start),
not from 0.

**Noise by hour.** A request rate's noise grows with its level: its busy
hours can be ten times noisier than its night, and a scale that remembers
the last ``scale_points`` points is too small for the morning's rise (false
alarms) and too large for the night (spikes missed). So every scale is
multiplied, block by block, by how loud the hours of the day that the block
spans usually are against the whole day, and the scales learn each block's
residuals divided by the same multiplier (:class:`_HourNoise`). A block's
*wobble* (the median absolute second difference of its values: the cycle's
slope and any slow bias cancel out, noise does not; a spike or a step moves a
median of 16 by little) is its sample for each hour it spans, unless the
block is an incident or does not move. An hour's value on a day is the mean
of its samples; each hour of the day keeps its last ``season_days`` values.
Once a day, with 20 hours of the day holding two days or more, each hour's
loudness is refitted: the median of the logs of its days' values (averaged
with its two neighbouring hours') against the mean of all hours', shrunk
towards the day's by the weight ``max(0, 1 - within / between)``
(James-Stein): ``between`` is the variance of the hours' medians, ``within``
how much a median of that many days varies from day to day alone. Noise that
is the same at every hour keeps every multiplier at 1 or within a per cent of
it (its hours differ no more than their days do); a request rate's night is
read at a third of the day's noise or less. A multiplier stays within
``[1/4, 4]``. It needs two days: before that, and on series without a daily
rhythm to their noise, the scales are as they were.

**Warm-up.** The first ``warmup_points`` points (default 64) score 0; they
fix the value scaling, the slot width and the initial scales, and they enter
the profiles. Before a day of history the cycle has no say (the local
models, at three quarters); the cycle model speaks from the second day on;
the sustained channel, on a series that starts on a weekday, from about the
third day on at steps up to 10 minutes (it learns its scale for a day, and
for at least 8 blocks, from the second day), and on weekends from the fourth
weekend day (it needs three before); the long channel a few blocks after it;
the drift model from the fourth day (two blocks after the third midnight).

**Local time.** Days of the week are UTC unless ``utc_offset_minutes`` says
otherwise (a fleet in UTC-8 passes -480): a point's day of the week is that of
its slot's start in that local time. Times of day (the slots) need no fixed
offset. A fixed offset cannot follow daylight saving, which moves a local
clock's daily edges by an hour in UTC twice a year (the profile then needs
days to learn them again). ``timezone`` (an IANA zone, instead of the offset)
does: the points are placed in the slots of the zone's clock (UTC shifted by
the zone's daylight-saving amount, read at the last point of the block
before, so a change takes effect at the first block after it), and their
days of the week are read at its standard offset. Around the change the
slots of the skipped hour go without a point that day, or the repeated
hour's get twice as many.

Windows of ``window_size_points`` points advance by ``stride_points``; a
window scores its highest point and is anomalous exactly when that score is
at or above 0.5. Labels, magnitudes, sentences and the live form come from
:class:`~backend.analytics.scoring.PointScoringEngine`. The engine is causal.

Cost and numerics
-----------------
Per point, a constant amount of work: one pass of a single loop over the
chunk (:meth:`ZScoreScorer._run`) that updates the profiles in place; per
slot and day, two medians of at most ``season_days`` values; per block, three
medians of the level buffer, one of the drift model's residuals and one of the
block's 16 second differences (the hours' loudness is refitted once a day,
from 24 hours of at most ``season_days`` values); per point
more than 3 cycle scales from an expectation (rare on a quiet series), the
band: at most ``season_days`` values of at most 11 slots. Memory
per series: ``level_points`` values and as many residuals, the
16 and 64 latest departures of the two sustained channels, three
numbers per slot of the day (the day being summed), and per slot of each of
the three profiles ``season_days`` day values and two numbers, and
``season_days`` values for each hour of the day (about 280 KB
at 1-minute steps, 55 KB at 5 minutes), whatever the length of the series;
with ``recent_levels``, also the points of the last hour (trimmed at each
block's end, at most 4,096), and per point that reads the band, one pass over
them and the every-day slots near it.
Values are multiplied by a power of two fixed at warm-up (the warm-up's
largest becomes about 2**-10), so residuals of values near 1e308 never
overflow; a value that leaves the float range once scaled
(a jump by hundreds of orders of magnitude) scores 1.

References: P. J. Huber, "Robust estimation of a location parameter" (1964);
R. B. Cleveland et al., "STL: a seasonal-trend decomposition procedure based
on loess" (1990), for judging a point against its season's robust profile.
"""

from __future__ import annotations

import collections
import functools
import itertools
import math
from array import array
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

from .._sequences import _EPOCH
from .._validate import (
    check_bool,
    check_points,
    check_positive_int,
    check_real,
    check_utc_offset,
    fail_type,
    fail_value,
)
from ..scoring import PointScorer, PointScoringEngine

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

__all__ = ["ZScoreEngine", "ZScoreScorer"]

_DAY_US = 86_400_000_000
_SLOT_US = 60_000_000  # 1 minute: the finest slot of the daily profile
_BLOCK = 16  # points scored with one state; state is updated at block boundaries
_CLIP = 4.0  # residuals are clipped at this many scales when they update the scale
_MAD_TO_SD = 1.2533141373155003  # sqrt(pi / 2): mean absolute deviation -> sd, Gaussian noise
_MAX_SETTING = 1 << 20  # upper bound of the size settings: buffers stay bounded
_INF = math.inf
_FRESH = 0.75  # before a day of history, the local models' z counts three quarters
_VETO = 4.0  # the cycle caps the local models only where its scale is within this many times the line's
_Q99 = 2.5758293035489  # the 99th percentile of |z| for Gaussian noise
_TAIL_RATE = 0.02  # each point above the tracked percentile raises it by about 2%
_NAN = math.nan
_ONE_US = timedelta(microseconds=1)
# The weight of a weekend point's departure in the sustained channels when its kind of day has only
# one or two finished days (index: their count): 1 / sqrt(1 + 1/m). The departure from the mean of
# m days carries their noise too, (1 + 1/m) times the point's own variance, and the channels' scales
# were learned against days whose median is far steadier.
_FEW_DAYS = (0.0, math.sqrt(0.5), math.sqrt(2.0 / 3.0))
_LONG = 64  # points: the long sustained channel's span (4 blocks)
# A daily pattern may come a few minutes early or late (a job that starts late, or runs longer, on
# some days). A point more than _SLACK cycle scales from its expectation counts only beyond the
# slack of the band of values that the slots within _JITTER_US of its time of day reached on
# _BAND_DAYS of the last days (see _band, _slack): a job's run is no news where its runs have been,
# a spike as large as one seen there on one or two of the last days still is.
_JITTER_US = 300_000_000
_SLACK = 3.0
_BAND_DAYS = 3  # days that must have reached a value for it to be in the band
# The layout of the scorer's state (its slots and their meaning): 2 since a kept scale may be nan.
_LAYOUT = 2


# How loud each hour of the day is (_HourNoise): every scale is multiplied, block by block, by the
# loudness of the hours the block spans, once _NOISE_HOURS hours of the day have two days of it.
_HOUR_US = 3_600_000_000
_NOISE_HOURS = 20
_NOISE_BOUND = 4.0  # a multiplier stays within [1 / 4, 4]
# recent_levels: a point is also judged against the values the series took in the last _RECENT_US
# (at most _RECENT_MAX points) that some of the last days took near its time of day (_recent_band).
_RECENT_US = _HOUR_US
_RECENT_MAX = 4096


class _HourNoise:
    """How loud each hour of the day is against the whole day (a scorer's, one per series).

    A request rate's noise grows with its level: its busy hours can be ten times noisier than
    its night. A scale learnt over the last hours is then too small for the busy hours (false
    alarms in the morning's rise) and too large for the quiet ones (spikes missed at night).
    Each block that moved and is no incident gives one *sample*, its wobble (:func:`_wobble`),
    to each hour (of the scorer's clock) that it spans. An hour's value on a day is the mean of
    its samples that day, and each hour of the day keeps its last ``days`` values. Once a day
    (at the first hour that ends in it) the multipliers are refitted: with
    :data:`_NOISE_HOURS` hours of the day or more holding two days, an hour's loudness is the
    median of the logs of its days' values, averaged with its two neighbouring hours' (the
    neighbours alone for an hour without two days), less the mean of all those medians; it is
    shrunk towards 0 by the weight ``w = max(0, 1 - within / between)`` (James-Stein):
    ``between`` is the variance of the hours' medians, ``within`` what a median of that many
    days varies by from day to day alone (``pi / 2`` times the mean, over the hours, of the
    variance of an hour's days over their number). Noise that is the same at every hour has the
    two about equal and keeps every multiplier at or near 1 (``w`` near 0); a request rate's
    hours differ far beyond their day-to-day noise (``w`` near 1). A block's multiplier is the
    mean of ``exp(w * loudness)``, bounded to ``[1/4, 4]``, over the hours it spans (taken as
    long as the block before).

    One odd day (an incident, which gives no samples anyway, or a first weekend) moves no
    hour's median: a spike as large as yesterday's at the same hour is still news.
    """

    __slots__ = ("end", "fitted", "hour", "keep", "known", "mult", "open", "span", "values")

    def __init__(self, days: int, span_us: int) -> None:
        self.values: list[list[float]] = [[] for _ in range(24)]  # per hour: its last days' values
        self.open: dict[int, tuple[float, int]] = {}  # per hour being summed (hours since 1970): sum, count
        self.mult = [1.0] * 24  # per hour: its multiplier (1: not known yet)
        self.known = False  # whether any multiplier is known
        self.fitted = -1  # the day of the latest fit (clock days since 1970; -1: none yet)
        self.end = -1  # the clock time of the latest block's last point (-1: none yet)
        self.span = span_us  # how long the latest block lasted
        self.hour = -1  # the hour (since 1970) in which the latest block began
        self.keep = days

    def block(self, end: int, sample: float | None) -> None:
        """A block whose last point is at clock time ``end`` ended, with its ``sample`` (None: none)."""
        before = self.end
        if 0 <= before < end:
            start = before + 1
            self.span = end - before
        else:  # (the first block, or one that does not end later than the last: taken as long)
            start = end - self.span + 1
        self.end = end
        first, last = start // _HOUR_US, end // _HOUR_US
        if first != self.hour:
            # An hour is over once a block begins after it: its mean joins that hour of the day's
            # days. The multipliers are refitted once a day, at the first hour that ends in it.
            self.hour = first
            done = sorted(at for at in self.open if at < first)
            for at in done:
                total, count = self.open.pop(at)
                kept = self.values[at % 24]
                kept.append(total / count)
                if len(kept) > self.keep:
                    del kept[0]
            if done and end // _DAY_US != self.fitted:
                self.fitted = end // _DAY_US
                self._fit()
        if sample is not None:
            hours = self.open
            for at in range(max(first, last - 23), last + 1):  # (at most a day of hours)
                cell = hours.get(at)
                hours[at] = (sample, 1) if cell is None else (cell[0] + sample, cell[1] + 1)

    def _fit(self) -> None:
        """Every hour's multiplier from the days each hour keeps (the class docstring says how)."""
        medians: list[float] = [_NAN] * 24
        within = 0.0
        known: list[float] = []
        for hour, kept in enumerate(self.values):
            logs = [math.log(v) for v in kept if v > 0.0]
            if len(logs) < 2:
                continue
            mean = math.fsum(logs) / len(logs)
            spread = math.fsum((x - mean) ** 2 for x in logs) / (len(logs) - 1)
            within += spread * (math.pi / 2) / len(logs)
            medians[hour] = _median(logs)
            known.append(medians[hour])
        mult = self.mult
        self.known = len(known) >= _NOISE_HOURS
        if not self.known:
            mult[:] = [1.0] * 24
            return
        centre = math.fsum(known) / len(known)
        between = math.fsum((x - centre) ** 2 for x in known) / (len(known) - 1)
        w = max(0.0, 1.0 - within / len(known) / between) if between > 0.0 else 0.0
        for hour in range(24):
            around = (medians[hour - 1], medians[hour], medians[(hour + 1) % 24])
            near = [x for x in around if not math.isnan(x)]
            if not near:
                mult[hour] = 1.0
            else:
                loud = math.exp(w * (math.fsum(near) / len(near) - centre))
                mult[hour] = min(_NOISE_BOUND, max(1.0 / _NOISE_BOUND, loud))

    def multiplier(self) -> float:
        """The multiplier of the scales for the next block (1 before any block, or while not known)."""
        if not self.known:
            return 1.0
        first, last = (self.end + 1) // _HOUR_US, (self.end + self.span) // _HOUR_US
        mult = self.mult
        if first == last:
            return mult[first % 24]
        ms = [mult[at % 24] for at in range(max(first, last - 23), last + 1)]
        return math.fsum(ms) / len(ms)


# A job that runs every few minutes or hours (a batch, a backup, a cron task) makes the series leave
# its expectation on a beat. Its runs are no news once six alarms in a row began on one beat (_Beat).
_BEAT_MAX_US = 6 * 3_600_000_000  # the longest beat: a rhythm slower than this is the daily cycle's
_BEAT_QUIET_US = 600_000_000  # an alarm after 10 minutes without one (and 3 slots) begins a new run
_BEAT_RUNS = 6  # runs in a row on a beat before the next one is no news
_BEAT_HIGH = 1.5  # a run is the job's only while its z stays within this many times its last runs' peak
_BEAT_Z = 1.0  # the z of a point of a run that is no news


class _Beat:
    """The beat of a periodic job, from the times its alarms begin (a scorer's, one per series).

    A *run* is a stretch of alarming points (final z at or above the line) with less than
    ``max(_BEAT_QUIET_US, 3 slots)`` between them. _BEAT_RUNS runs in a row make a beat
    when their gaps lie within twice the tolerance (``max(2 slots, a twentieth)``) of their
    median, itself at most _BEAT_MAX_US, and no point came near the line (half of it or
    more) away from the runs in between: a job leaves the series calm between its runs,
    a departure that grazes the line does not. The beat is the least-squares line through
    the times its runs began against their beat numbers. From then on a run that begins
    on it (at a later beat, from the tolerance early to the tolerance plus a usual run's
    length late: a run that began on time may alarm only where it outlasts the last ones)
    is the job's: its points score ``_BEAT_Z`` while the run has lasted no longer than the
    median of the beat's last three runs plus the tolerance, and their z stays within
    _BEAT_HIGH times the highest of those runs. A run off the beat alarms as usual and
    leaves the beat standing; a beat with no run on it for a day lapses. Only points at or
    above half the line reach it (:meth:`see`), so it costs nothing elsewhere.

    A spike as large as yesterday's is still news: a beat is at most six hours, needs six
    runs in a row on it, and a spike off it (or higher than the job goes) alarms. A
    crash loop that restarts on a steady beat is, after its sixth restart, the series'
    rhythm: its onset alarmed, and the daily band (:meth:`ZScoreScorer._band`) would make
    the same call after three days.
    """

    __slots__ = (
        "beats",
        "chain",
        "chained",
        "fit",
        "last",
        "on",
        "onset",
        "peak",
        "period",
        "phase",
        "restless",
        "runs",
        "tol",
        "unit",
    )

    def __init__(self, unit_us: int) -> None:
        self.unit = unit_us  # the series' slot (its step, at least a minute)
        self.chain: list[int] = []  # where the runs making a beat began (at most _BEAT_RUNS; [0]: beat 0)
        self.period = 0.0  # the beat in microseconds (0: none)
        self.beats = 0  # beats from the chain's first run to its latest on the beat
        self.phase = 0.0  # where the beat's line puts beat 0, from the chain's first run
        self.fit: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
        self.tol = 0
        self.last = -1  # the time of the latest alarming point (-1: none yet)
        self.onset = 0  # the beginning of the current run
        self.peak = 0.0  # the highest z of the current run
        self.chained = False  # whether the current run began on the chain (its length and peak are kept)
        self.on = False  # whether it began on a beat found before it (it may be the job's)
        self.runs: list[tuple[int, float]] = []  # (duration, peak) of the chain's latest runs, at most 3
        self.restless = 0  # points near the line away from any run since the latest run began

    def see(self, z: float, t: int, thr: float) -> float:
        """The z of a point at ``t`` whose ``z`` reaches half the line ``thr`` or more, after the beat."""
        quiet = t - self.last > max(_BEAT_QUIET_US, 3 * self.unit)
        if z < thr:
            # Restless: near the line, away from any run. A beat is a job's only if the series
            # is calm between its runs, not a departure whose points graze the line.
            self.restless += self.last < 0 or quiet
            return z
        if self.last < 0 or quiet:
            if self.chained:  # the run before ends: the chain keeps its length and its peak
                self.runs.append((self.last - self.onset, self.peak))
                del self.runs[:-3]
            self._begin(t)
        self.last = t
        runs = self.runs
        job = (
            self.on
            and len(runs) == 3
            and t - self.onset <= self._usual() + self.tol
            and z <= _BEAT_HIGH * max(p for _, p in runs)
        )
        self.peak = max(self.peak, z)
        return _BEAT_Z if job else z

    def _begin(self, t: int) -> None:
        """A run begins at ``t``: on the beat, off it, or as a link of the chain that may make one."""
        self.onset, self.peak, chain = t, 0.0, self.chain
        self.on = False
        if self.period:
            # The beat: the least-squares line through the times its runs began (from the chain's
            # first, beat 0) against their beat numbers (fit: n, sums of j, u, j*j, j*u).
            n, sj, su, sjj, sju = self.fit
            u = t - chain[0]
            beats = round((u - self.phase) / self.period)
            late = u - self.phase - beats * self.period
            if beats > self.beats and -self.tol <= late <= self.tol + self._usual():
                # (A run whose first alarm is up to a usual run's length late: one that began on time
                # and alarmed only where it outlasted the runs before it. Only runs on time move the line.)
                if late <= self.tol:
                    self._fit((n + 1, sj + beats, su + u, sjj + beats * beats, sju + beats * u), beats)
                self.beats = beats
                self.on = self.chained = True
                return
            if u - self.phase - self.beats * self.period <= _DAY_US:
                self.chained = False  # off the beat: it alarms, and the beat stands
                return
            self.period = 0.0  # no run on the beat for a day: it lapses
            chain.clear()
            self.runs.clear()
        if self.restless:  # (the series was not calm since the run before: the chain starts again)
            chain.clear()
            self.runs.clear()
            self.restless = 0
        chain.append(t)
        del chain[:-_BEAT_RUNS]
        self.chained = True
        if len(chain) == _BEAT_RUNS:
            # A beat: _BEAT_RUNS runs in a row, their gaps within twice the tolerance of their median.
            gaps = sorted(b - a for a, b in itertools.pairwise(chain))
            period = gaps[len(gaps) // 2]
            tol = max(2 * self.unit, period // 20)
            if period <= _BEAT_MAX_US and gaps[-1] - period <= 2 * tol and period - gaps[0] <= 2 * tol:
                js = range(_BEAT_RUNS)
                us = [b - chain[0] for b in chain]
                sju = sum(j * u for j, u in zip(js, us, strict=True))
                self._fit((_BEAT_RUNS, sum(js), sum(us), sum(j * j for j in js), sju), _BEAT_RUNS - 1)
                self.tol = tol

    def _usual(self) -> int:
        """The median length of the chain's kept runs (0: none yet)."""
        lengths = sorted(d for d, _ in self.runs)
        return lengths[len(lengths) // 2] if lengths else 0

    def _fit(self, fit: tuple[int, int, int, int, int], beats: int) -> None:
        """The beat's line through ``fit``'s runs (n, the sums of j, u, j*j, j*u); the latest at ``beats``."""
        n, sj, su, sjj, sju = fit
        self.period = (n * sju - sj * su) / (n * sjj - sj * sj)
        self.phase = (su - self.period * sj) / n
        self.fit, self.beats = fit, beats


def _bounded(owner: str, field: str, value: object, least: int) -> int:
    checked = check_positive_int(owner, field, value)
    if not least <= checked <= _MAX_SETTING:
        fail_value(owner, field, f"an int in [{least}, {_MAX_SETTING}]", value)
    return checked


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    m = len(ordered)
    return ordered[m // 2] if m % 2 else (ordered[m // 2 - 1] + ordered[m // 2]) * 0.5


def _resolution(values: Sequence[float]) -> float:
    """A series' resolution: half the 10th percentile of its non-zero steps in ``values`` (0: none)."""
    moves = sorted(abs(b - a) for a, b in itertools.pairwise(values) if a != b)
    return moves[len(moves) // 10] * 0.5 if moves else 0.0


def _grid_shift(stamps: Sequence[int], steps: Sequence[int], slot_us: int, slots: int, utc: bool) -> int:
    """What to add to a point's time so that points one slot apart fall in the middle of their slots.

    An agent stamps its points a little before or after the minute they
    stand for (12:00:00.291, 12:00:59.873): read where they fall, points on a
    slot's edge land in the slot before it or in their own by chance, and the
    profile of that time of day mixes two. When the warm-up's points are
    one slot apart (a median step within a quarter of the slot, the slots
    tiling the day), the shift puts their typical place in the slot (the
    median, around the first point's, of where in its slot each falls) in
    the slot's middle: ``slot_us // 2 - place``. Points exactly one slot
    apart keep their slots and days (each point is moved within its own
    slot), so exact timestamps are read as before. In a zone with daylight
    saving (``utc`` false) only steps that divide 30 minutes are moved (a
    change of the clock then moves the points by whole slots). Else 0.
    """
    step = steps[len(steps) // 2]
    if slots * slot_us != _DAY_US or abs(step - slot_us) * 4 > slot_us:
        return 0
    if not utc and 1_800_000_000 % slot_us:
        return 0
    half = slot_us // 2
    first = stamps[0] % slot_us
    places = sorted((u - first + half) % slot_us - half for u in stamps)
    place = (first + places[len(places) // 2]) % slot_us
    return half - place


def _near_slots(slot_us: int, slots: int) -> int:
    """The slots on each side of a time of day that the band (_band) reads: those within _JITTER_US,
    or two steps at coarser steps, at most 15 minutes (at 5-minute steps a run a few minutes late
    moves its edge by a whole step), and fewer than half a day's."""
    tolerance = min(max(_JITTER_US, 2 * slot_us), 3 * _JITTER_US)
    return min(tolerance // slot_us, (slots - 1) // 2)


def _slack(gap: float, firm: float) -> float:
    """The slack a band gives where it reaches ``gap`` beyond an expectation: none within ``firm``
    (_SLACK scales) of it, all of ``gap`` from twice that, in proportion between (no jump); 0 for a
    band that reaches nowhere (-inf) or an expectation that is not there (nan)."""
    x = gap - firm
    return (gap if x > firm else x + x) if x > 0.0 else 0.0


def _net(x: float, above: float, below: float, firm: float) -> float:
    """A departure ``x`` net of a band's slack (:func:`_slack`) on its side: the band reaches ``above``
    the expectation and ``below`` it; 0 inside the slack."""
    if x > 0.0:
        slack = _slack(above, firm)
        return x - slack if x > slack else 0.0
    slack = _slack(below, firm)
    return x + slack if -x > slack else 0.0


def _median3(p: float, q: float, r: float) -> float:
    """The median of the finite ones among ``p, q, r`` (nan if none; the mean of two), in this order."""
    if p - p == 0.0 and q - q == 0.0 and r - r == 0.0:
        # max(min(p, q), min(max(p, q), r)) by comparisons (no builtin calls: this is per point)
        if q < p:
            p, q = q, p
        return p if r < p else q if q < r else r
    vals = [v for v in (p, q, r) if v - v == 0.0]
    return vals[0] if len(vals) == 1 else (vals[0] + vals[1]) * 0.5 if vals else _NAN


_TRANSFORMS = ("none", "log")


@functools.cache
def _weekdays_latest(season_days: int) -> tuple[int, ...]:
    """Per day of the week (``day % 7`` of a day number since the epoch, a Thursday), how many of the
    latest weekdays profiled a weekday compares with: the weekdays among the ``season_days`` days
    before it, at least 3 and at most ``season_days``. (Cached: a live stream's every chunk reads it.)"""
    weekdays = [sum(1 for d in range(x - season_days, x) if (d + 3) % 7 < 5) for x in range(7)]
    return tuple(min(max(n, 3), season_days) for n in weekdays)


def _check_transform(owner: str, transform: object) -> str:
    """``transform`` if it is one of _TRANSFORMS, else the uniform error naming it."""
    if not isinstance(transform, str) or transform not in _TRANSFORMS:
        fail_value(owner, "transform", "'none' or 'log'", transform)
    return transform


def _logs(values: Sequence[float], stamps: Sequence[int]) -> list[float]:
    """The natural logs of ``values`` (``transform="log"``); ValueError at the first that is not positive.

    Checked for the whole chunk before any is scored, so a chunk that fails leaves the scorer as it was.
    """
    for x, t in zip(values, stamps, strict=True):
        if not x > 0.0:
            when = (_EPOCH + timedelta(microseconds=t)).isoformat()
            raise ValueError(
                f"ZScoreScorer(transform='log'): the value at {when} is {x!r}; the log transform takes "
                "values > 0 (use transform='none' for a metric that can reach 0 or go below it)"
            )
    return list(map(math.log, values))


class ZScoreScorer(PointScorer):
    """The streaming core of ``zscore`` for one series: ``update(x, t)`` -> score in [0, 1].

    Settings as in :class:`ZScoreEngine`. ``t`` is the point's time in
    microseconds since the Unix epoch; timestamps must increase.

    >>> scorer = ZScoreScorer()
    >>> minute = 60_000_000
    >>> quiet = scorer.update_many([10.0 + (i % 3) * 0.1 for i in range(200)], range(0, 200 * minute, minute))
    >>> max(quiet) < 0.5
    True
    >>> scorer.update(30.0, 200 * minute) > 0.5
    True
    """

    __slots__ = (
        "_beat",
        "_cycle_seen",
        "_grid_us",
        "_held",
        "_hold_blocks",
        "_kept_scale",
        "_last_t",
        "_layout",
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
        "_near",
        "_noise",
        "_norm",
        "_off_us",
        "_pending",
        "_prof_acc",
        "_prof_count",
        "_prof_day",
        "_prof_med",
        "_prof_n",
        "_prof_vals",
        "_recent",
        "_resid",
        "_resid_e",
        "_resid_seen",
        "_resid_src",
        "_resolution",
        "_ring",
        "_ring_sum",
        "_scale",
        "_scale_seen",
        "_shift_us",
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
        "incident_points",
        "level_points",
        "recent_levels",
        "scale_points",
        "season_days",
        "timezone",
        "transform",
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
        transform: str = "none",
        recent_levels: bool = False,
    ) -> None:
        owner = "ZScoreScorer"
        self.transform = _check_transform(owner, transform)
        self.recent_levels = check_bool(owner, "recent_levels", recent_levels)
        self.z_threshold = check_real(owner, "z_threshold", z_threshold)
        if self.z_threshold <= 0.0:
            fail_value(owner, "z_threshold", "a positive number", z_threshold)
        self.warmup_points = _bounded(owner, "warmup_points", warmup_points, 8)
        self.level_points = _bounded(owner, "level_points", level_points, 1)
        self.season_days = check_positive_int(owner, "season_days", season_days)
        if not 3 <= self.season_days <= 31:
            fail_value(owner, "season_days", "an int in [3, 31]", season_days)
        self.scale_points = _bounded(owner, "scale_points", scale_points, _BLOCK)
        self.incident_points = check_points(
            owner, "incident_points", incident_points, minimum=0, maximum=_MAX_SETTING
        )
        self._hold_blocks = -(-incident_points // _BLOCK)
        self.utc_offset_minutes = check_utc_offset(owner, utc_offset_minutes)
        self._off_us = self.utc_offset_minutes * 60_000_000
        # An IANA zone: days of the week and times of day follow its clock, daylight saving included.
        self.timezone = timezone
        self._tz = check_zone(owner, timezone, self.utc_offset_minutes)
        self._shift_us = 0  # the zone's daylight-saving shift, fixed per block
        self._grid_us = 0  # moves jittered points to the middle of their slots (_start: _grid_shift)
        self._n = 0
        self._warm: list[float] | None = []
        self._stamps: list[int] = []
        self._norm = 1.0  # values are multiplied by this (a power of two) before any arithmetic
        self._level_buf: list[float] = []  # the latest values
        # recent_levels: the points of the last hour (time, scaled value), oldest first (_recent_band).
        self._recent: collections.deque[tuple[int, float]] = collections.deque(maxlen=_RECENT_MAX)
        # Mean absolute residual of: the level model, the trend model, the cycle model (point by
        # point), the cycle model's residual averaged over _BLOCK points (the sustained channel)
        # and over _LONG points (the long sustained channel), and the cycle's residual net of its
        # recent level (the drift model).
        self._scale = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        # The drift model: the cycle's latest residuals (at most level_points) since the source of
        # its expectation last changed (_resid_src: the kind of profile and how many days it held),
        # and the residuals its scale has had.
        self._resid: list[float] = []
        self._resid_e = _NAN  # the cycle's expectation at the latest of them
        self._resid_src = 0
        self._resid_seen = 0
        self._cycle_seen = 0  # residuals the cycle model has had so far
        self._scale_seen = 0  # blocks the level's and the line's scales have had (see _start)
        self._sustained_seen = 0  # block means the sustained channel has had so far
        # It speaks from 8 of them and a day after the first (the time of the first; -1: none yet).
        self._sustained_from = -1
        self._last_t = 0  # the time of the latest point of the latest finished block
        # The 99th percentile of the points' |z|, tracked (2.58 for Gaussian residuals): a
        # heavy-tailed series' point z-scores are divided by how much heavier its tail is.
        self._tail_q = _Q99
        self._resolution = 0.0  # no scale falls below this (set at the end of the warm-up, or later)
        self._ring = [0.0] * _BLOCK  # the cycle model's latest residuals (0 where it had no say)
        self._ring_sum = 0.0
        # The same residuals over the last _LONG points (the long channel), written block by block
        # from _long_base; the blocks in a row wholly compared with their kind of day; the samples
        # its scale has had.
        self._long = [0.0] * _LONG
        self._long_sum = 0.0
        self._long_base = 0
        self._long_from = -1  # the time of its first sample (-1: none yet)
        # Points at or above the line (the long channel's, and those that alarmed on their own), net
        # of the long channel's points below it since: it stands down beyond incident_points.
        self._long_loud = 0
        self._long_calm = 0  # points since the latest that alarmed on its own (point channels)
        self._long_run = 0
        self._long_seen = 0
        # The cycle's scale as it was before the first weekend day (None otherwise): see _end_block.
        self._kept_scale: float | None = None
        self._layout = _LAYOUT  # the state's layout, for a checkpoint's migration (__setstate__)
        self._held = 0  # incident blocks in a row kept out of the cycle's scale
        # This block's clipped residuals (level, trend, cycle), its points with a cycle, with a typed
        # one, above the tail percentile, more than 4 scales from the cycle, and on a first weekend
        # day (a weekend day whose slot has only weekdays in its profile); the drift model's clipped
        # residuals and their count.
        self._sums = [0.0] * 10
        self._pending = 0  # points of the current block already taken
        self._state: tuple[float, ...] = (0.0,) * 10 + (_Q99, 0.0, _NAN, 0.0, _INF)
        self._slot_us = _SLOT_US
        self._slots = 1
        # Per slot of the day (every-day profile): the day being accumulated, its sum and count.
        # Per slot of the three profiles (every day, weekdays, weekend days; see _close): the
        # finished days' count and median (nan below 3).
        self._prof_day: array[int] = array("q")
        self._prof_acc: array[float] = array("d")
        self._prof_n: array[int] = array("q")
        self._prof_count: array[int] = array("q")
        self._prof_med: array[float] = array("d")
        self._near = 0  # slots within _JITTER_US of a slot, on each side
        # The finished days' values, season_days per slot, as a ring (latest at count % season_days).
        self._prof_vals: array[float] = array("d")
        self._beat = _Beat(_SLOT_US)  # the beat of a periodic job's runs (its slot set by the warm-up)
        # How loud each hour of the day is (its span set by the warm-up).
        self._noise = _HourNoise(self.season_days, _BLOCK * _SLOT_US)

    def __repr__(self) -> str:
        return (
            f"ZScoreScorer(z_threshold={self.z_threshold!r}, warmup_points={self.warmup_points}, "
            f"level_points={self.level_points}, season_days={self.season_days}, "
            f"scale_points={self.scale_points}, incident_points={self.incident_points}, "
            f"utc_offset_minutes={self.utc_offset_minutes}, timezone={self.timezone!r}, "
            f"transform={self.transform!r}, recent_levels={self.recent_levels!r})"
        )

    def __setstate__(self, state: tuple[None, dict[str, object]]) -> None:
        """Restore a pickled scorer (a live checkpoint's).

        A scorer pickled before the first-weekend rule (no ``_kept_scale``,
        seven block sums) is restored with that rule's empty state, so that a
        checkpoint taken by the previous version resumes instead of failing.
        A scorer of those versions (no ``_layout``) pickled on a first weekend
        whose cycle had not spoken before it kept a scale of exactly 0 (they
        put it back): that is read as nothing to put back. (A current one
        keeps 0 only when its residuals were exactly 0, and gets it back.)
        """
        slots = dict(state[1])
        slots.setdefault("_kept_scale", None)
        if "_layout" not in slots and slots["_kept_scale"] == 0.0:
            slots["_kept_scale"] = _NAN
        slots["_layout"] = _LAYOUT
        slots.setdefault("timezone", None)  # (an older scorer had no zone)
        slots.setdefault("transform", "none")  # (nor a transform)
        slots.setdefault("recent_levels", False)  # (nor recent levels)
        slots.setdefault("_recent", collections.deque(maxlen=_RECENT_MAX))
        slots.setdefault("_tz", None)
        slots.setdefault("_shift_us", 0)
        slots.setdefault("_grid_us", 0)  # (an older scorer read jittered points where they fell)
        # (An older scorer's channel spoke from 8 blocks: it keeps doing so.)
        slots.setdefault("_sustained_from", -_DAY_US)
        slots.setdefault("_last_t", 0)
        slots.setdefault("_scale_seen", 1 << 30)  # (an older scorer's level scales followed alpha throughout)
        if "_near" not in slots:  # (an older scorer judged no point against the band: see _band)
            slot_us, day_slots = slots["_slot_us"], slots["_slots"]
            if isinstance(slot_us, int) and isinstance(day_slots, int):
                slots["_near"] = _near_slots(slot_us, day_slots)
        if "_noise" not in slots:  # (an older scorer read every hour alike: it starts learning them)
            days, slot_us = slots["season_days"], slots["_slot_us"]
            if isinstance(days, int) and isinstance(slot_us, int):
                slots["_noise"] = _HourNoise(days, _BLOCK * slot_us)
        if "_beat" not in slots:  # (an older scorer knew no beat: it starts listening)
            slot_us = slots["_slot_us"]
            slots["_beat"] = _Beat(slot_us if isinstance(slot_us, int) else _SLOT_US)
        sums = slots["_sums"]
        if isinstance(sums, list) and len(sums) == 7:
            slots["_sums"] = [*sums, 0.0]
        # (An older scorer had no long channel: it starts empty, and silent until it has seen
        # 8 spans of _LONG points.)
        if "_long" not in slots:
            slots.update(_long=[0.0] * _LONG, _long_sum=0.0, _long_base=0, _long_run=0, _long_seen=0)
            slots["_long_loud"], slots["_long_from"], slots["_long_calm"] = 0, -1, 0
            scale, block_state = slots["_scale"], slots["_state"]
            if isinstance(scale, list) and len(scale) == 4:
                slots["_scale"] = [*scale, 0.0]
            if isinstance(block_state, tuple) and len(block_state) == 11:
                slots["_state"] = (*block_state, 0.0)
        # (An older scorer had no drift model: it starts empty, and silent until it has had a block.)
        if "_resid" not in slots:
            slots.update(_resid=[], _resid_e=_NAN, _resid_src=0, _resid_seen=0)
        scale, block_state, sums = slots["_scale"], slots["_state"], slots["_sums"]
        if isinstance(scale, list) and len(scale) == 5:
            slots["_scale"] = [*scale, 0.0]
        if isinstance(block_state, tuple) and len(block_state) == 12:
            slots["_state"] = (*block_state, _NAN, 0.0, _INF)
        if isinstance(sums, list) and len(sums) == 8:
            slots["_sums"] = [*sums, 0.0, 0.0]
        for name, value in slots.items():
            object.__setattr__(self, name, value)

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
                f"ZScoreScorer.update_many: got {len(values)} values and {len(stamps)} timestamps"
            )
        if self.transform == "log":
            values = _logs(values, stamps)
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
        if i < n:
            out.extend(self._run(values, stamps, i))
            self._n += n - i
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
        self._prof_day = array("q", [-1]) * slots
        self._prof_acc = array("d", [0.0]) * slots
        self._prof_n = array("q", [0]) * slots
        self._prof_count = array("q", [0]) * (3 * slots)
        self._prof_med = array("d", [math.nan]) * (3 * slots)
        self._near = _near_slots(self._slot_us, slots)
        self._beat = _Beat(self._slot_us)
        self._noise = _HourNoise(self.season_days, _BLOCK * max(1, steps[len(steps) // 2]))
        self._prof_vals = array("d", [0.0]) * (3 * slots * self.season_days)
        med = _median(xs)
        self._scale[0] = self._scale[1] = math.fsum(abs(v - med) for v in xs) / len(xs)
        # The series' resolution: the 10th percentile of its non-zero steps in the warm-up. No
        # scale falls below half of it, so a noise-free or quantised series (a square wave,
        # integer counts) does not make every small departure infinitely unlikely.
        self._resolution = _resolution(xs)
        # A warm-up that moved taught the level's and the line's scales, which from here on follow
        # each block at the rate of scale_points. One that did not move at all (a metric at 0 all
        # night) taught them nothing: they start from the first blocks that move, as a running mean
        # of them (as the other scales start), instead of creeping up from 0 while every point of
        # the first busy hours alarms.
        self._scale_seen = self.scale_points if self._resolution > 0.0 else 0
        self._level_buf = xs[-self.level_points :]
        if self.recent_levels:
            self._recent.extend(zip(stamps, xs, strict=True))
        if self._tz is not None:
            self._off_us, self._shift_us = _zone_at(self._tz, stamps[-1])
        self._grid_us = _grid_shift(stamps, steps, self._slot_us, slots, self._tz is None)
        shift = self._shift_us + self._grid_us
        for v, u in zip(xs, stamps, strict=True):
            t = u + shift
            day = t // _DAY_US
            slot = (t % _DAY_US) // self._slot_us
            self._expected(v, day, slot, v)
        self._warm = None
        self._stamps = []

    def _begin_block(self) -> None:
        """Fix the level, its trend and the four scales for the next block of points."""
        if self._tz is not None and self._last_t:
            # The zone's offsets at the latest point of the block before: a daylight-saving change
            # takes effect at the first block boundary after it.
            self._off_us, self._shift_us = _zone_at(self._tz, self._last_t)
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
        # Every scale, at the loudness of the hours this block spans (_HourNoise; 1 until it is known).
        m = self._noise.multiplier()
        s_level, s_trend, s_cycle, s_sustained, s_long, s_drift = [max(v * m, floor) for v in self._scale]
        # The cycle model speaks once it has had a block of residuals to learn its scale from
        # (its first residuals are not clipped: there is no scale to clip them to yet); the
        # sustained channel once it has seen 8 block means over at least a day (from the end of the
        # first), so that its scale knows the day's busy hours as well as its quiet ones.
        if self._cycle_seen >= _BLOCK:
            k_cycle, clip_cycle = 1.0 / (_MAD_TO_SD * s_cycle), _CLIP * s_cycle
        else:
            k_cycle, clip_cycle = 0.0, math.inf
        speaks = self._sustained_seen >= 8 and self._last_t - self._sustained_from >= _DAY_US
        k_sustained = 1.0 / (_MAD_TO_SD * s_sustained) if speaks else 0.0
        # The long channel on the same terms, from its own samples (it may have started later:
        # a checkpoint from before it).
        long_speaks = self._long_seen >= 8 and self._last_t - self._long_from >= _DAY_US
        k_long = 1.0 / (_MAD_TO_SD * s_long) / _LONG if speaks and long_speaks else 0.0
        # The drift model: the cycle's residual net of their recent level (their median since the
        # expectation's source last changed), once the cycle speaks and a block of them is there;
        # it scores once its scale has had a block of them.
        base, k_drift, clip_drift = _NAN, 0.0, math.inf
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

    def _run(self, values: Sequence[float], stamps: Sequence[int], i: int) -> list[float]:
        """Score ``values[i:]`` (at ``stamps[i:]``), the blocks' boundaries included.

        The hot loop: it does what :meth:`_expected` (twice), :meth:`_despiked`
        and :meth:`_past` describe, inlined, with the same operations in the
        same order, so the scores are bit for bit theirs. Points are scored in
        blocks of ``_BLOCK`` with the state fixed at the block's start
        (:meth:`_begin_block`), folded in at its end (:meth:`_end_block`).
        """
        n = len(values)
        out: list[float] = []
        norm, thr = self._norm, self.z_threshold
        half = thr * 0.5
        level_buf, ring = self._level_buf, self._ring
        slot_us, slots, k = self._slot_us, self._slots, self.season_days
        p_day, p_acc, p_n = self._prof_day, self._prof_acc, self._prof_n
        p_count, p_med, p_vals = self._prof_count, self._prof_med, self._prof_vals
        band = self._band
        early = self._early
        latest = _weekdays_latest(k)
        beat = self._beat.see
        append = out.append
        pos = self._pending  # the point's place in its block
        if pos == 0:
            self._begin_block()
        # (the zone's, as the block's start fixed them; and the slots' grid: _grid_shift)
        off, shift = self._off_us, self._shift_us + self._grid_us
        level, k_level, clip_level, trend, slope, k_trend, clip_trend = self._state[:7]
        k_cycle, clip_cycle, k_sustained, q99, k_long, base, k_drift, clip_drift = self._state[7:]
        veto = _VETO * k_cycle >= k_trend  # the cycle may cap the local models (see below)
        firm, firm_drift = clip_cycle * (_SLACK / _CLIP), clip_drift * (_SLACK / _CLIP)  # (inf: silent)
        tail = _Q99 / q99  # <= 1: never more sensitive than Gaussian noise allows
        sums = self._sums
        sum_level, sum_trend, sum_cycle = sums[0], sums[1], sums[2]
        n_cycle, n_typed, above, n_far = int(sums[3]), int(sums[4]), int(sums[5]), int(sums[6])
        n_first = int(sums[7])
        sum_drift, n_drift = sums[8], int(sums[9])
        resid, src, last_e = self._resid, self._resid_src, self._resid_e
        ring_sum = self._ring_sum
        long_buf, long_sum, lb = self._long, self._long_sum, self._long_base
        loud, hold, calm = self._long_loud, self.incident_points, self._long_calm
        recent = self._recent if self.recent_levels else None
        for x, t in zip(values[i:], stamps[i:], strict=True):
            i += 1
            v = x * norm
            if v - v == 0.0:  # else beyond the float range once scaled (a jump of ~600 orders)
                r = abs(v - level)
                sum_level += r if r < clip_level else clip_level
                z = r * k_level
                line = trend + slope * pos  # the local line at this point of the block
                r = abs(v - line)
                sum_trend += r if r < clip_trend else clip_trend
                # The local models must agree: a steep stretch of the cycle fools only the level.
                r *= k_trend
                if r < z:  # noqa: PLR1730 - min/max calls cost more here
                    z = r
                tt = t + shift  # (the zone's clock, daylight saving included: see timezone)
                day = tt // _DAY_US
                s = (tt % _DAY_US) // slot_us
                # The every-day profile at slot s (_expected): close its latest day when today is new.
                if p_day[s] != day:
                    c = p_count[s]
                    m = p_n[s]
                    if m:
                        # The slot's latest day ends: its value joins the slot's finished days, in
                        # the every-day profile and in the profile of its kind of day (_close).
                        val = p_acc[s] / m
                        at = s * k
                        p_vals[at + c % k] = val
                        c += 1
                        p_count[s] = c
                        if c >= 3:
                            m = c if c < k else k
                            o = sorted(p_vals[at : at + m])
                            p_med[s] = o[m // 2] if m % 2 else (o[m // 2 - 1] + o[m // 2]) * 0.5
                        wd = p_day[s] if not off else (p_day[s] * _DAY_US + s * slot_us + off) // _DAY_US
                        u = s + (2 * slots if (wd + 3) % 7 >= 5 else slots)
                        cu = p_count[u]
                        at = u * k
                        p_vals[at + cu % k] = val
                        cu += 1
                        p_count[u] = cu
                        if cu >= 3:
                            m = cu if cu < k else k
                            o = sorted(p_vals[at : at + m])
                            p_med[u] = o[m // 2] if m % 2 else (o[m // 2 - 1] + o[m // 2]) * 0.5
                    p_day[s] = day
                    p_acc[s] = 0.0 + v
                    p_n[s] = 1
                else:
                    p_acc[s] += v
                    p_n[s] += 1
                    c = p_count[s]
                e = p_med[s] if c >= 3 or c == 0 else early(s, day, c, line)
                # On a weekend day (in UTC + off) whose every-day profile holds weekdays too, the point is
                # judged against the weekend days (_weekly): a weekly rhythm never makes a Saturday
                # look broken. A weekday is, against the weekdays, while its every-day profile holds
                # at most season_days days and half of them or more are a weekend's (a series first
                # seen late in the week); after that weekdays outnumber weekend days in any five.
                wd = day if not off else (day * _DAY_US + s * slot_us + off) // _DAY_US
                if (wd + 3) % 7 >= 5:
                    u = s + 2 * slots
                    cu = p_count[u]
                    own_kind = cu and cu != c
                    if not cu and c:
                        n_first += 1
                        kind = 3  # a first weekend day: no drift model (see below)
                    else:
                        kind = 2 if own_kind else 0
                else:
                    u = s + slots
                    cu = p_count[u]
                    own_kind = cu and c <= k and c <= 2 * (c - cu)
                    kind = 1 if own_kind else 0
                    if not own_kind and c >= 3 and cu >= 3:
                        # Of the two expectations a weekday has, the last season_days days' (e) and the
                        # weekdays' among them (the latest m profiled), the one nearer the local line:
                        # a holiday makes a third weekend-like day of five, and the days after it are
                        # not judged against it (the module docstring, *Weekly rhythm*).
                        m = latest[wd % 7]
                        if m > cu:  # noqa: PLR1730 - min/max calls cost more here
                            m = cu
                        at = u * k
                        if m == 3:  # (the usual case, by comparisons)
                            a = p_vals[at + (cu - 1) % k]
                            w = _median3(a, p_vals[at + (cu - 2) % k], p_vals[at + (cu - 3) % k])
                        else:  # (four on a Friday)
                            w = _median([p_vals[at + (cu - 1 - j) % k] for j in range(m)])
                        e = _median3(e, w, line)
                # The drift model's residuals have a level only as long as the expectation comes from
                # the same source: the same kind of profile, holding as many days (up to season_days).
                # Where it changes (a midnight while the profile fills up, a weekend's start), they
                # start over and the model is silent until the next block with 16 of them.
                banded = False  # the band (hi, lo: _band) is read only for a point far from an expectation
                key = kind + 4 * ((c if c < k else k) + 64 * (cu if cu < k else k) * (0 < kind < 3))
                if key != src:
                    src = key
                    base = self._restart_drift()
                if own_kind:
                    if cu >= 3:
                        e = p_med[u]
                    else:
                        # Its one or two days despiked across neighbouring slots, as the every-day
                        # profile's first days are (_early): a spike on the first Saturday is no
                        # expectation for the first Sunday. The sustained channel's check on a
                        # weekend day (own, below) reads the days as they were: a departure that
                        # lasts is what it lets through, and one point of a spike is not one.
                        at = u * k
                        a = p_vals[at + (cu - 1) % k]
                        own = _median3(a, p_vals[at + (cu - 2) % k], e) if cu == 2 else _median3(a, e, line)
                        a, b = self._early_kind(s, day, cu, kind)
                        e = _median3(a, b, e) if cu == 2 else _median3(a, e, line)
                ec = e  # (the cycle's expectation: the band's, for every channel)
                if e - e == 0.0:  # finite (not nan): the cycle has a say
                    r = v - e
                    if r > firm or -r > firm:
                        # The point counts only beyond the band's slack on its side (_net).
                        hi, lo = band(s, day, kind, ec, firm)
                        banded = True
                        r = _net(r, hi - e, e - lo, firm)
                    if r <= 0.0:
                        r = 0.0 - r  # (+0.0 for -0.0, as abs gives: the veto below may make z of it)
                    if r < clip_cycle:
                        sum_cycle += r
                    else:
                        sum_cycle += clip_cycle
                        n_far += 1
                    n_cycle += 1
                    if k_cycle:
                        # Where the cycle knows this time of day and has been a model about as good as
                        # the local line (its scale within _VETO times the line's), the local models count
                        # only as far as the point's distance from the cycle bears them out on their own
                        # scale: on a sharp daily edge the local line is far from the point and the cycle
                        # is not. A cycle much looser than the line (an every-day profile lagging a
                        # drift by days) vetoes nothing.
                        zc = r * k_cycle
                        if veto:
                            r *= k_trend
                            if r < z:  # noqa: PLR1730 - min/max calls cost more here
                                z = r
                        if zc > z:  # noqa: PLR1730 - min/max calls cost more here
                            z = zc
                        # The drift model: the point's residual net of the residuals' recent level, so that
                        # a profile lagging a drift or a growth by days blunts no spike. Only where the
                        # expectation is settled (three days of the every-day profile, or two of the
                        # point's own kind) and not on a first weekend day, whose departure from the
                        # weekdays the cycle's scale learns as it goes.
                        # The expectation may jump from one point to the next by more than 4 of the drift
                        # model's scales: where the profile's median takes in a lasting step of days
                        # ago (its days disagree there), or at a sharp daily edge. Its residuals then
                        # start over: the level they had is not the level they will have.
                        r = e - last_e
                        if r > clip_drift or -r > clip_drift:
                            base = self._restart_drift()
                        r = v - e - base
                        if r - r == 0.0 and kind != 3 and (cu + 1 if kind else c) >= 3:
                            if r > firm_drift or -r > firm_drift:  # (the band's slack on the cycle's scale)
                                if not banded:
                                    hi, lo = band(s, day, kind, ec, firm)
                                    banded = True
                                r = _net(r, hi - e, e - lo, firm)
                            if r < 0.0:
                                r = -r
                            sum_drift += r if r < clip_drift else clip_drift
                            n_drift += 1
                            r *= k_drift
                            if r > z:  # noqa: PLR1730 - min/max calls cost more here
                                z = r
                    resid.append(v - e)
                    last_e = e
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
                # The sustained channel compares with days of the same kind (weekday or weekend) only:
                # their median once there are three. On a weekday whose slot has one or two finished
                # days, all of them weekdays, the point's own expectation (made of those days) stands
                # in. On a weekend day with one or two weekend days, their mean does, weighted by
                # _FEW_DAYS (so a phase shift that runs into Sunday shows there); the first weekend
                # day has none and the channel is silent. (cu: the count of slot u, read above.)
                few = 0.0
                if cu >= 3:
                    e = p_med[u]
                elif not cu or (cu != c) == (u < 2 * slots):
                    # (None of its kind; a weekday slot whose days are not all weekdays; or a weekend
                    # slot with no weekday beside its days, as on a series that began on a weekend.)
                    e = _NAN
                elif cu != c:  # (a weekend day; own, its raw days' expectation, was set above)
                    at = u * k
                    e = p_vals[at + (cu - 1) % k]
                    if cu == 2:
                        e = (e + p_vals[at + (cu - 2) % k]) * 0.5
                    few = _FEW_DAYS[cu]
                if e - e == 0.0:
                    # Clipped like the scales' inputs: a spike is not a sustained departure.
                    d = v - e
                    if d > firm or -d > firm:
                        if not banded:
                            hi, lo = band(s, day, kind, ec, firm)
                            banded = True
                        d = _net(d, hi - e, e - lo, firm)
                    if few:
                        # Only as far as the point's own expectation (which has a say for the weekdays
                        # and the local line) agrees: a day that was itself odd leaves no echo.
                        r = v - own
                        if (d > 0.0) != (r > 0.0):
                            d = 0.0
                        elif abs(r) < abs(d):
                            d = r
                        d *= few
                    if d > clip_cycle:
                        d = clip_cycle
                    elif d < -clip_cycle:
                        d = -clip_cycle
                    typed = 1
                else:
                    d, typed = 0.0, 0
                if d - d == 0.0:  # finite
                    n_typed += typed
                    ring_sum += d - ring[pos]
                    ring[pos] = d
                    zs = abs(ring_sum) * k_sustained
                    if zs > z:  # noqa: PLR1730 - min/max calls cost more here
                        z = zs
                    long_sum += d - long_buf[lb + pos]
                    long_buf[lb + pos] = d
                    calm += 1
                    # The long channel is for departures no point shows: it speaks only where no
                    # point of the last _LONG alarmed on its own, so it does not trail an incident.
                    if calm > _LONG:
                        r = abs(long_sum) * k_long
                        # It counts only as far as the last 16 points bear it out (twice their z:
                        # the ratio of the two averages' noise), so it does not trail a departure
                        # that has ended either.
                        zs += zs
                        if zs < r:  # noqa: PLR1730 - min/max calls cost more here
                            r = zs
                        if r < thr:
                            if loud:
                                loud -= 1
                            if r > z:  # noqa: PLR1730 - min/max calls cost more here
                                z = r
                        else:
                            # Above the line for at most incident_points points, net of those
                            # below it since: a departure that lasts longer is the new normal (as
                            # for the cycle's scale), and a dip below the line does not start it
                            # afresh.
                            loud += 1
                            if loud <= hold and r > z:
                                z = r
                    level_buf.append(v)
                    if recent is not None:
                        if z < thr:  # (only levels that were no news on their own: an incident's are not)
                            recent.append((t, v))
                        elif banded and k_cycle:
                            # A level the series took in the last hour, and near this time of day on
                            # one of the last days of its kind, is no news (recent_levels:
                            # _recent_band); the drift model's residual counts where it spoke here.
                            spoke = base - base == 0.0 and kind != 3 and (cu + 1 if kind else c) >= 3
                            r = self._recent_band(
                                v, t, s, day, u >= 2 * slots, ec, firm, hi, lo, k_cycle,
                                base if spoke else _NAN, k_drift,
                            )
                            r *= tail
                            if r < z:  # noqa: PLR1730 - min/max calls cost more here
                                z = r
                    if half <= z < _INF:  # (a run of a periodic job is no news once it keeps a beat: _Beat)
                        z = beat(z, t, thr)
                    append(z / (z + thr) if z < _INF else 1.0)  # an overflowed z is off the scale too
                else:
                    level_buf.append(v)
                    append(1.0)
                    calm = 0
            else:
                append(1.0)  # off the scale
                calm = 0
            pos += 1
            if pos == _BLOCK:
                sums[0], sums[1], sums[2] = sum_level, sum_trend, sum_cycle
                sums[3], sums[4], sums[5], sums[6] = n_cycle, n_typed, above, n_far
                sums[7], sums[8], sums[9] = n_first, sum_drift, n_drift
                self._resid_src, self._resid_e = src, last_e
                self._ring_sum = ring_sum
                self._long_sum = long_sum
                self._long_loud = loud
                self._long_calm = calm
                self._last_t = t
                self._end_block()
                if recent is not None:
                    self._trim_recent(t)
                pos = 0
                if i == n:
                    return out
                self._begin_block()
                level, k_level, clip_level, trend, slope, k_trend, clip_trend = self._state[:7]
                k_cycle, clip_cycle, k_sustained, q99, k_long, base, k_drift, clip_drift = self._state[7:]
                veto = _VETO * k_cycle >= k_trend
                firm, firm_drift = clip_cycle * (_SLACK / _CLIP), clip_drift * (_SLACK / _CLIP)
                off, shift = self._off_us, self._shift_us + self._grid_us
                tail = _Q99 / q99
                long_sum, lb = self._long_sum, self._long_base
                sums = self._sums
                sum_level = sum_trend = sum_cycle = sum_drift = 0.0
                n_cycle = n_typed = above = n_far = n_first = n_drift = 0
                ring_sum = self._ring_sum
        sums[0], sums[1], sums[2] = sum_level, sum_trend, sum_cycle
        sums[3], sums[4], sums[5], sums[6] = n_cycle, n_typed, above, n_far
        sums[7], sums[8], sums[9] = n_first, sum_drift, n_drift
        self._resid_src, self._resid_e = src, last_e
        self._ring_sum = ring_sum
        self._long_sum = long_sum
        self._long_loud = loud
        self._long_calm = calm
        self._pending = pos
        return out

    def _band(self, s: int, day: int, kind: int, e: float, firm: float) -> tuple[float, float]:
        """The values reached within _JITTER_US of every-day slot ``s``'s time of day on _BAND_DAYS or
        more of the last ``season_days`` days the expectation ``e`` is made of: the _BAND_DAYS-th
        highest of those days' highest values there, and the _BAND_DAYS-th lowest of their lowest
        (both of two while the slot has only two such days; -inf, inf: too few days; _near slots on
        each side: two steps at coarser steps than 2.5 minutes, at most 15 minutes, none from 30-minute
        steps). The days, by ``kind`` (as in :meth:`_run`): 1, the last weekdays;
        2, the last weekend days; else all of the last days (of which the days of the other kind, two
        at most in five, cannot make a band of _BAND_DAYS = 3). While there are too few weekend
        days, all of the last days, if ``e`` lies within their band widened by ``firm``: a weekday
        level is no band for a weekend that runs below or above it."""
        hi, lo = self._reached(s, day, kind)
        if hi == -_INF and kind == 2:
            hi, lo = self._reached(s, day, 3)
            if not lo - firm <= e <= hi + firm:
                return -_INF, _INF
        return hi, lo

    def _trim_recent(self, t: int) -> collections.deque[tuple[int, float]]:
        """``recent_levels``: the points of the hour before ``t`` (older ones dropped)."""
        recent, since = self._recent, t - _RECENT_US
        while recent and recent[0][0] < since:
            recent.popleft()
        return recent

    def _recent_band(
        self,
        v: float,
        t: int,
        s: int,
        day: int,
        weekend: bool,
        e: float,
        firm: float,
        hi: float,
        lo: float,
        k_cycle: float,
        base: float,
        k_drift: float,
    ) -> float:
        """``recent_levels``: the cycle's residual of ``v`` (at ``t``) net of the band :meth:`_band` gave
        (``hi``, ``lo`` around the cycle's expectation ``e``) widened by the values that both the last
        hour's points kept (those that were no news on their own) and one or more of the last days
        of the point's kind (weekend days if ``weekend``, else weekdays) near this time of day
        (:meth:`_reached` with one day) reached: up to the lower of the two highs, down to the higher
        of the two lows; as a z (times ``k_cycle``). Where the drift model spoke at this point
        (``base``, its residuals' level, finite), the larger of that and its residual ``v - e - base``
        net of the same band measured from ``e + base``, as a z (times ``k_drift``), so that a spike
        on a series that has drifted since the last days stays news. inf where the wider band does
        not bring the point closer (no point in the last hour, no such day, ranges that do not meet,
        or a band widened on the other side): the point is judged as without ``recent_levels``.

        A job that ended early, or starts late, leaves the series at a level it held before the run
        and that another day held at this time; a two-level metric is at a level it took minutes
        ago and on other days. A spike above both is judged as before, and so is a level the series
        held yesterday at this time but not in the last hour (a repeated incident)."""
        recent = self._trim_recent(t)
        if not recent or e - e != 0.0:  # (no expectation to widen around: the point is judged as it was)
            return _INF
        day_hi, day_lo = self._reached(s, day, 2 if weekend else 1, 1)
        if day_hi == -_INF:
            return _INF
        seen = [u for _, u in recent]
        top, bottom = max(seen), min(seen)
        top = top if top < day_hi else day_hi
        bottom = bottom if bottom > day_lo else day_lo
        if bottom > top or (top <= hi and bottom >= lo):
            return _INF
        top = max(top, hi)
        bottom = min(bottom, lo)
        r = abs(_net(v - e, top - e, e - bottom, firm))
        if not r < abs(_net(v - e, hi - e, e - lo, firm)):
            return _INF  # (the band widened on the other side, or not as far as this point)
        z = r * k_cycle
        if base - base == 0.0:
            e += base
            z = max(z, abs(_net(v - e, top - e, e - bottom, firm)) * k_drift)
        return z

    def _reached(self, s: int, day: int, kind: int, least: int = _BAND_DAYS) -> tuple[float, float]:
        """:meth:`_band`'s values from the days of ``kind``: the ``least``-th highest of the days' highs
        and the ``least``-th lowest of their lows (-inf, inf: fewer than ``least`` days). ``least`` is
        _BAND_DAYS by default (two while the kind has only two days, as :meth:`_band` says); 1 asks
        for the highest and the lowest that any of the days reached (``recent_levels``)."""
        slots, near, k = self._slots, self._near, self.season_days
        # Each slot near s: its values on its last k days of the kind, latest first (_latest).
        typed = kind if kind in {1, 2} else 0
        columns = [self._latest((s + j) % slots, day, typed) for j in range(-near, near + 1)]
        highs: list[float] = []
        lows: list[float] = []
        for back in range(k):
            seen = [x for column in columns if back < len(column) and (x := column[back]) - x == 0.0]
            if seen:
                highs.append(max(seen))
                lows.append(min(seen))
        # (Two days while the kind has only two: both must have reached the band, as on a series' third day.)
        if least < _BAND_DAYS:
            need = least
        else:
            need = _BAND_DAYS if len(highs) >= _BAND_DAYS or len(columns[near]) > 2 else 2
        if len(highs) < need:
            return -_INF, _INF
        highs.sort()
        lows.sort()
        return highs[-need], lows[need - 1]

    def _latest(self, n: int, day: int, typed: int) -> list[float]:
        """Every-day slot ``n``'s values on its last ``season_days`` finished days before ``day``, latest
        first: of every kind (``typed`` 0), weekdays (1) or weekend days (2). A day still in the
        accumulator (slot ``n`` not reached today) comes first."""
        k = self.season_days
        first: list[float] = []
        # Slot n not reached today: its latest day is in the accumulator (counted if of the kind asked for).
        open_day = self._prof_day[n]
        if open_day != day and self._prof_n[n] and (not typed or self._weekend(open_day, n) == (typed == 2)):
            first.append(self._prof_acc[n] / self._prof_n[n])
        u = n + typed * self._slots
        count = self._prof_count[u]
        ring = self._prof_vals[u * k : u * k + k].tolist()
        pos = count % k  # (the next day's place: the latest is just before it, around the ring)
        return first + (ring[pos - 1 :: -1] + ring[: pos - 1 : -1])[: min(count, k - len(first))]

    def _restart_drift(self) -> float:
        """The drift model's residuals start over: none kept, and no level for the rest of the block
        (in the block's state too, which the rest of the block may read in another chunk); nan."""
        del self._resid[:]
        if self._state[12] == self._state[12]:
            self._state = (*self._state[:12], _NAN, *self._state[13:])
        return _NAN

    def _profile(self) -> tuple[array[int], array[float], array[int], array[int], array[float]]:
        """The profile's slots: the day each was last reached, its accumulator and point count for that
        day, its count of finished days and its ring of their values."""
        return self._prof_day, self._prof_acc, self._prof_n, self._prof_count, self._prof_vals

    def _early(self, s: int, day: int, count: int, line: float) -> float:
        """:meth:`_expected` of every-day slot ``s`` (reached today) with ``count`` of 1 or 2 finished days.

        :meth:`_despiked` and :meth:`_past` unrolled: the same values, in the same order.
        """
        slots, k = self._slots, self.season_days
        p_day, p_acc, p_n, p_count, p_vals = self._profile()
        lo, hi = (s - 1) % slots, (s + 1) % slots
        # Slot s was reached today: its latest finished days are in the ring.
        mid = p_vals[s * k + (count - 1) % k]
        # A neighbour not reached today still holds its latest day in the accumulator.
        open_lo = p_day[lo] != day and p_n[lo] > 0
        open_hi = p_day[hi] != day and p_n[hi] > 0
        c_lo, c_hi = p_count[lo], p_count[hi]
        left = p_vals[lo * k + (c_lo - 1) % k] if c_lo >= 1 else _NAN
        if open_lo:
            left = p_acc[lo] / p_n[lo]
        right = p_vals[hi * k + (c_hi - 1) % k] if c_hi >= 1 else _NAN
        if open_hi:
            right = p_acc[hi] / p_n[hi]
        a = _median3(left, mid, right)
        if count == 1:
            return a
        mid = p_vals[s * k + (count - 2) % k]
        if open_lo:
            left = p_vals[lo * k + (c_lo - 1) % k] if c_lo >= 1 else _NAN
        else:
            left = p_vals[lo * k + (c_lo - 2) % k] if c_lo >= 2 else _NAN
        if open_hi:
            right = p_vals[hi * k + (c_hi - 1) % k] if c_hi >= 1 else _NAN
        else:
            right = p_vals[hi * k + (c_hi - 2) % k] if c_hi >= 2 else _NAN
        b = _median3(left, mid, right)
        return max(min(a, b), min(max(a, b), line))

    def _early_kind(self, s: int, day: int, count: int, kind: int) -> tuple[float, float]:
        """Slot ``s``'s latest and second latest days (``count`` of 1 or 2) among weekdays (``kind`` 1) or
        weekend days (2), each despiked across its neighbouring slots (nan: no second day).

        As :meth:`_despiked` does for every day (each day of the kind the median of it and its two
        neighbouring slots on that day, from their days of the kind as :meth:`_latest` reads them),
        without its lists: it runs at every point of a weekend's first days.
        """
        slots, k = self._slots, self.season_days
        l1, l2 = self._kind_days((s - 1) % slots, day, kind)
        r1, r2 = self._kind_days((s + 1) % slots, day, kind)
        p_vals, at = self._prof_vals, (s + kind * slots) * k
        a = _median3(l1, p_vals[at + (count - 1) % k], r1)
        if count < 2:
            return a, _NAN
        return a, _median3(l2, p_vals[at + (count - 2) % k], r2)

    def _kind_days(self, n: int, day: int, kind: int) -> tuple[float, float]:
        """Every-day slot ``n``'s latest two days of ``kind`` (1 weekdays, 2 weekend days) before ``day``
        (nan: none): a day still in its accumulator (not reached today, and of the kind) comes before
        those in its ring, as in :meth:`_latest`."""
        k, u = self.season_days, n + kind * self._slots
        c, p_vals = self._prof_count[u], self._prof_vals
        first = p_vals[u * k + (c - 1) % k] if c >= 1 else _NAN
        second = p_vals[u * k + (c - 2) % k] if c >= 2 else _NAN
        d = self._prof_day[n]
        if d != day and self._prof_n[n] and self._weekend(d, n) == (kind == 2):
            return self._prof_acc[n] / self._prof_n[n], first
        return first, second

    def _end_block(self) -> None:
        """Fold the block into the scales; trim the level buffer."""
        sum_level, sum_trend, sum_cycle, n_cycle, n_typed, above, n_far, n_first = self._sums[:8]
        sum_drift, n_drift = self._sums[8:]
        # The block's residuals were judged at its hours' loudness (_begin_block; nothing changes
        # it before the block() call below): the scales learn them at the day's.
        m = self._noise.multiplier()
        sum_level, sum_trend, sum_cycle = sum_level / m, sum_trend / m, sum_cycle / m
        sum_drift /= m
        # The first weekend day is judged against weekdays only: a weekly rhythm makes it depart
        # from them all day, and the cycle's scale learns that as it goes, so that a quieter
        # weekend does not alarm all day. Once the weekend has a day of its own to be judged
        # against, the scale is put back as it was before: the first weekend's novelty does not
        # blunt the days after it. If the cycle had not spoken before the weekend (a series first
        # seen on a Friday), there is no weekday scale to put back (nan): the scale starts over
        # instead, from the points judged against the weekend (what the first weekend day taught
        # it was its departure from the weekdays, not noise).
        if n_first:
            if self._kept_scale is None:
                self._kept_scale = self._scale[2] if self._cycle_seen >= _BLOCK else _NAN
        elif self._kept_scale is not None:
            if self._kept_scale == self._kept_scale:
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
        # A block in which the series did not move at all (its points and the one before them all
        # equal: a metric at exactly 0 all night, a gauge that holds, CPU pinned at 100) teaches no
        # scale: residuals of exactly 0 say nothing of the noise the series has when it moves, and
        # a night of them would leave the day judged on a scale worn down to nothing.
        buf = self._level_buf
        moved = len(buf) <= _BLOCK or buf[-1] != buf[-_BLOCK - 1]  # (the block's ends: they differ in most)
        if not moved:
            recent = buf[-_BLOCK - 1 :]
            moved = max(recent) != min(recent)
        if moved:
            rate = max(alpha, 1.0 / (self._scale_seen + 1))  # (alpha once a block has been seen: _start)
            scale[0] += rate * (sum_level / _BLOCK - scale[0])
            scale[1] += rate * (sum_trend / _BLOCK - scale[1])
            self._scale_seen += 1
        # An incident (most of the block more than 4 scales from the cycle) does not teach the
        # cycle's scale what normal is, for up to incident_points points: the day after it is
        # judged as sharply as the day before. A departure that lasts longer is the new normal.
        incident = 2 * n_far > n_cycle
        held = incident and self._held < self._hold_blocks
        self._noise.block(self._last_t + self._shift_us, _wobble(buf) if moved and not incident else None)
        # The drift model's scale skips the same incidents; its residuals keep their latest level_points.
        if n_drift and not held and moved:
            weight = int(n_drift)
            scale[5] = _fold(scale[5], sum_drift / weight, self._resid_seen, weight, alpha * weight / _BLOCK)
            self._resid_seen += weight
        resid = self._resid
        if held:
            # An incident's residuals do not teach the drift model its level either: once it ends,
            # the series is judged against the level from before it, not against the incident's.
            del resid[max(0, len(resid) - int(n_cycle)) :]
            self._held += 1
        elif n_cycle:
            if not incident:
                self._held = 0
            if moved:
                weight = int(n_cycle)
                rate = alpha * weight / _BLOCK
                scale[2] = _fold(scale[2], sum_cycle / weight, self._cycle_seen, weight, rate)
                self._cycle_seen += weight
        if len(resid) > self.level_points:
            del resid[: len(resid) - self.level_points]
        # Both running sums exact again: no rounding drift over a long stream.
        self._ring_sum = _resummed(self._ring, self._ring_sum)
        self._long_sum = _resummed(self._long, self._long_sum)
        # The long channel's ring is written block by block. Its scale takes one sample a block,
        # once _LONG points in a row were compared with their kind of day.
        self._long_base = (self._long_base + _BLOCK) % _LONG
        self._long_run = self._long_run + 1 if n_typed == _BLOCK else 0
        if self._long_run >= _LONG // _BLOCK and moved:
            scale[4] = _fold_mean(scale[4], self._long_sum / m, _LONG, self._long_seen, alpha)
            if not self._long_seen:
                self._long_from = self._last_t
            self._long_seen += 1
        if n_typed == _BLOCK and moved:  # a whole block compared with days of its kind: one sample
            scale[3] = _fold_mean(scale[3], self._ring_sum / m, _BLOCK, self._sustained_seen, alpha)
            if not self._sustained_seen:
                self._sustained_from = self._last_t
            self._sustained_seen += 1
        self._sums = [0.0] * 10
        self._pending = 0
        if self._resolution == 0.0:
            # A warm-up without a single move (a constant gauge, a sparse count that stayed 0) gave no
            # resolution: it is learnt, by the warm-up's rule, from the first block in which the series
            # moves (whose points were scored without it), so that the first move is news and the same
            # move again is not (a count of rare errors would otherwise alarm at every error).
            self._resolution = _resolution(self._level_buf)
        keep = self.level_points
        if len(self._level_buf) > keep:
            del self._level_buf[: len(self._level_buf) - keep]

    def _expected(self, v: float, day: int, s: int, line: float) -> float:
        """Every-day slot ``s``'s expectation on ``day`` (nan before a day there); adds ``v`` to it.

        With three days or more it is their median; with one or two, each
        day's value is first taken as the median of it and its neighbouring
        slots (:meth:`_despiked`), and two days are combined with ``line`` (the
        local line's expectation) as a third vote: one odd day, or a spike on
        it, cannot make a normal point look odd. :meth:`_run` does the same,
        inlined.
        """
        if self._prof_day[s] != day:
            if self._prof_n[s]:
                self._close(s)
            self._prof_day[s] = day
            self._prof_acc[s] = 0.0
            self._prof_n[s] = 0
        self._prof_acc[s] += v
        self._prof_n[s] += 1
        count = self._prof_count[s]
        if count >= 3 or count == 0:
            return self._prof_med[s]
        a = self._despiked(s, day, 1)
        if count == 1:
            return a
        b = self._despiked(s, day, 2)
        return max(min(a, b), min(max(a, b), line))

    def _close(self, s: int) -> None:
        """Every-day slot ``s``'s latest day ends: its value (the mean of its points) joins the finished days.

        Profile slots ``[0, slots)`` hold every day, ``[slots, 2 * slots)``
        weekdays and ``[2 * slots, 3 * slots)`` weekend days (UTC): the value
        joins slot ``s`` and slot ``s`` of its kind of day, so that a weekly
        rhythm never makes a Saturday look like a broken Friday to the
        sustained channel. Each keeps its last ``season_days`` values as a
        ring, and their median once it has three.
        """
        value = self._prof_acc[s] / self._prof_n[s]
        kind = s + (2 * self._slots if self._weekend(self._prof_day[s], s) else self._slots)
        k = self.season_days
        vals = self._prof_vals
        for u in (s, kind):
            count = self._prof_count[u]
            vals[u * k + count % k] = value
            count += 1
            self._prof_count[u] = count
            if count >= 3:
                self._prof_med[u] = _median(vals[u * k : u * k + min(count, k)].tolist())

    def _weekend(self, day: int, s: int) -> bool:
        """Whether slot ``s``'s start on ``day`` is a Saturday or Sunday in the local time of ``_off_us``
        (:meth:`_run` inlines it)."""
        return ((day * _DAY_US + s * self._slot_us + self._off_us) // _DAY_US + 3) % 7 >= 5

    def _despiked(self, s: int, day: int, back: int) -> float:
        """Slot ``s``'s value ``back`` days back, as the median of it and its two neighbouring slots.

        With only one or two days of history a median across days cannot
        outvote an odd day, so a past spike (one or two points) is outvoted
        across time instead; on a steep but steady stretch of the cycle the
        middle of three neighbours is the slot itself.
        """
        slots = self._slots
        got = [self._past((s + d) % slots, day, back) for d in (-1, 0, 1)]
        vals = [v for v in got if v - v == 0.0]
        if len(vals) == 3:
            p, q, r = vals
            return max(min(p, q), min(max(p, q), r))
        return vals[0] if len(vals) == 1 else (vals[0] + vals[1]) * 0.5 if vals else _NAN

    def _past(self, n: int, day: int, back: int) -> float:
        """Every-day slot ``n``'s value on its ``back``-th latest finished day before ``day`` (nan if
        none; ``back`` at most ``season_days``): :meth:`_latest`'s."""
        days = self._latest(n, day, 0)
        return days[back - 1] if back <= len(days) else _NAN


def check_zone(owner: str, name: object, utc_offset_minutes: object) -> ZoneInfo | None:
    """The IANA zone ``name`` (None: none); it excludes a fixed ``utc_offset_minutes`` (whose own
    checks are :func:`check_utc_offset`'s: any value but a non-zero int passes here)."""
    if name is None:
        return None
    if not isinstance(name, str):
        fail_type(owner, "timezone", "an IANA time zone name such as 'America/New_York', or None", name)
    if isinstance(utc_offset_minutes, int) and utc_offset_minutes:
        raise ValueError(
            f"{owner}: give timezone or utc_offset_minutes, not both (got {name!r} and {utc_offset_minutes})"
        )
    # Imported here: zoneinfo loads sysconfig's data, which only a zone needs.
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: PLC0415

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as 'America'
        fail_value(
            owner, "timezone", "an IANA time zone name known to zoneinfo, such as 'America/New_York'", name
        )


# The instants (epoch s) whose local time every zone can hold: two days inside years 1..9999 (a zone
# 14 hours east of 9999-12-31T23:00Z would be in year 10000). The zone's offset is read there beyond.
_ZONE_MIN_S = -62_135_596_800 + 2 * 86_400  # 0001-01-03T00:00Z
_ZONE_MAX_S = 253_402_300_800 - 2 * 86_400  # 9999-12-30T00:00Z


def _zone_at(zone: ZoneInfo, t_us: int) -> tuple[int, int]:
    """``zone``'s standard offset and daylight-saving shift at ``t_us`` (epoch µs), in µs.

    Within two days of the ends of years 1..9999 it is read two days inside them (where a local
    time exists in every zone; Go's zero time, 0001-01-01T00:00Z, is not a time in New York).
    """
    local = datetime.fromtimestamp(min(max(t_us // 1_000_000, _ZONE_MIN_S), _ZONE_MAX_S), zone)
    dst = local.dst() or timedelta(0)
    offset = local.utcoffset() or timedelta(0)
    return (offset - dst) // _ONE_US, dst // _ONE_US


def standard_offset_minutes(zone: ZoneInfo | None, utc_offset_minutes: int) -> int:
    """The offset in which explanations read days of the week: ``zone``'s standard offset (its offset
    less daylight saving) in 2024, in minutes, or without a zone ``utc_offset_minutes``."""
    if zone is None:
        return utc_offset_minutes
    return _zone_at(zone, 1_704_067_200_000_000)[0] // 60_000_000


def _wobble(buf: list[float]) -> float | None:
    """How much the latest block's points wobble: the median absolute second difference of its values
    (None without two values before it, or where it leaves the float range). A cycle's slope and a
    slow bias cancel out; noise does not."""
    if len(buf) < _BLOCK + 2:
        return None
    v = buf[-_BLOCK - 2 :]
    wobble = _median([abs(c - b - b + a) for a, b, c in zip(v, v[1:], v[2:], strict=False)])
    return wobble if wobble < _INF else None


def _fold(scale: float, sample: float, seen: int, weight: int, alpha: float) -> float:
    """A running mean of the first samples, then an exponentially weighted one (rate ``alpha``)."""
    if seen == 0:
        return sample
    return scale + max(alpha, weight / (seen + weight)) * (sample - scale)


def _resummed(values: list[float], running: float) -> float:
    """The exact sum of ``values``, or ``running`` if that overflows (residuals near the float limit)."""
    try:
        return math.fsum(values)
    except OverflowError:
        return running


def _fold_mean(scale: float, total: float, points: int, seen: int, alpha: float) -> float:
    """A sustained channel's scale after one sample: the mean of its last ``points`` departures
    (their sum ``total``), in absolute value, clipped at 4 scales once it has a scale."""
    mean = abs(total) / points
    if seen:
        mean = min(mean, _CLIP * scale)
    return _fold(scale, mean, seen, 1, alpha)


class ZScoreEngine(PointScoringEngine):
    """Points against their time of day and recent level, in robust standard deviations; causal, streaming.

    Keyword-only settings (all validated; unknown keywords raise ``TypeError``):

    - ``window_size_points`` (default 10), ``stride_points`` (default 10): the
      windows; a window scores its highest point.
    - ``z_threshold`` (default 5.5, > 0): the robust z-score (in standard
      deviations of past residuals) that lands on the alarm line 0.5.
    - ``warmup_points`` (default 64, >= 8): points that score 0 and set the scale.
    - ``level_points`` (default 32): the recent points whose median is the level.
    - ``season_days`` (default 5, 3..31): the previous days whose median at
      the same time of day is the daily-cycle expectation.
    - ``scale_points`` (default 512, >= 16): the memory of the residual scale.
    - ``incident_points`` (default 128, >= 0): how long a departure from the
      daily cycle is kept out of the cycle's scale (an incident, not the new
      normal); 0 learns from everything.
    - ``utc_offset_minutes`` (default 0, -840..840): the local time the
      fleet's week follows, as an offset from UTC: Saturdays and Sundays are
      read in it (the weekly rhythm, and the explanations' days of the same
      kind). A fixed offset: daylight saving time moves the weekend's edges
      by an hour for half the year.
    - ``timezone`` (default None): instead of ``utc_offset_minutes``, an IANA
      zone (``"America/New_York"``): days of the week and the times of day of
      the daily profile follow its clock, daylight saving included (a change
      takes effect at the first block of 16 points after it). The
      explanations read days of the week at the zone's standard offset.
    - ``transform`` (default ``"none"``): ``"log"`` scores the natural log of
      each value, for a metric whose noise grows with its level and has a
      heavy upper tail (a latency, a size): its excursions of a few times the
      median are its noise, and in logs they are Gaussian-like. Values must
      be positive (``ValueError`` naming the first that is not, before any of
      its chunk is scored). Labels and sentences stay in the metric's units.
    - ``recent_levels`` (default False): a point that would alarm far from its
      expectation is no news where it lies among the values the series took in
      the last hour (where they were no news) *and* near this time of day
      (within 5 minutes) on one or more of the last days of its kind (weekdays
      or weekend days). For a series whose periodic jobs vary in start and length
      (a nightly backup that ends early or starts late), and for a metric on
      two levels: far fewer false alarms, but spikes no higher than the job's
      runs, near them, are missed more often (README, *Periodic jobs*).
    - ``classify`` (default True), ``classifier_history_points`` (default
      None: 12288): label and explain anomalous windows with the
      :class:`~backend.analytics.explain.ExplanationClassifier`.

    See the module docs for the method. History needed: ``warmup_points``
    points before anything can alarm; one day before the daily cycle is used.

    >>> from datetime import datetime, timedelta, timezone
    >>> from backend.analytics import MetricSeries
    >>> t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> vals = [10.0 + (i % 3) * 0.1 for i in range(200)]
    >>> vals[150] = 30.0
    >>> s = MetricSeries("acme", "c-1", "n-1", "cpu", [t0 + timedelta(minutes=i) for i in range(200)], vals)
    >>> [(r.window_start - t0, r.anomaly_label.value) for r in ZScoreEngine().detect(s) if r.is_anomalous]
    [(datetime.timedelta(seconds=9000), 'spike')]
    """

    name: ClassVar[str] = "zscore"
    causal: ClassVar[bool] = True

    def __init__(
        self,
        *,
        window_size_points: int = 10,
        stride_points: int = 10,
        z_threshold: float = 5.5,
        warmup_points: int = 64,
        level_points: int = 32,
        season_days: int = 5,
        scale_points: int = 512,
        incident_points: int = 128,
        utc_offset_minutes: int = 0,
        timezone: str | None = None,
        transform: str = "none",
        recent_levels: bool = False,
        classify: bool = True,
        classifier_history_points: int | None = None,
    ) -> None:
        zone = check_zone("ZScoreEngine", timezone, utc_offset_minutes)
        self.transform = transform  # (checked by the scorer built below, as the other settings)
        self.z_threshold = z_threshold
        self.warmup_points = warmup_points
        self.level_points = level_points
        self.season_days = season_days
        self.scale_points = scale_points
        self.incident_points = incident_points
        self.utc_offset_minutes = utc_offset_minutes
        self.timezone = timezone
        self.recent_levels = recent_levels
        super().__init__(
            window_size_points=window_size_points,
            stride_points=stride_points,
            classify=classify,
            classifier_history_points=classifier_history_points,
            utc_offset_minutes=standard_offset_minutes(zone, utc_offset_minutes),
        )
        self.z_threshold = float(z_threshold)

    def accepts_value(self, x: float) -> bool:
        """Every finite value, but with ``transform="log"`` only values > 0."""
        return self.transform != "log" or x > 0.0

    def scorer(self) -> ZScoreScorer:
        """A fresh scorer with this engine's settings, for one series."""
        try:
            return ZScoreScorer(
                z_threshold=self.z_threshold,
                warmup_points=self.warmup_points,
                level_points=self.level_points,
                season_days=self.season_days,
                scale_points=self.scale_points,
                incident_points=self.incident_points,
                utc_offset_minutes=self.utc_offset_minutes,
                timezone=self.timezone,
                transform=self.transform,
                recent_levels=self.recent_levels,
            )
        except (TypeError, ValueError) as exc:
            raise type(exc)(str(exc).replace("ZScoreScorer", "ZScoreEngine", 1)) from None
