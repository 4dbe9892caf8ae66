"""Property tests of the explanation classifier: total, causal, bounded, scale-free, explainable."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics import AnomalyResult, AnomalyType, ExplanationClassifier, MetricSeries, TimeWindow
from backend.analytics._seasonal import robust_sd

from .strategies import finite, moderate, series

CLF = ExplanationClassifier(history_points=24)
# Long periods (up to the default max_period, 336) with a history bound shorter than the series.
LONG = ExplanationClassifier(history_points=700)


def _window(s: MetricSeries, start: int, end: int) -> TimeWindow:
    return TimeWindow(start, end, s.timestamps[start], s.timestamps[end - 1])


@st.composite
def series_and_window(
    draw: st.DrawFn, values: st.SearchStrategy[float] = finite
) -> tuple[MetricSeries, TimeWindow]:
    s = draw(series(min_size=1, max_size=60, values=values))
    start = draw(st.integers(0, len(s) - 1))
    end = draw(st.integers(start + 1, len(s)))
    return s, _window(s, start, end)


@settings(max_examples=80)
@given(series_and_window())
def test_classify_never_raises_at_any_scale(case: tuple[MetricSeries, TimeWindow]) -> None:
    """Any valid series and window (values anywhere in the float range) get a kind."""
    s, w = case
    assert isinstance(CLF.classify(s, w), AnomalyType)
    assert isinstance(ExplanationClassifier().classify(s, w), AnomalyType)


def _edited(s: MetricSeries, cut: int, before: list[float], since: int, after: list[float]) -> MetricSeries:
    """``s`` with its first points (up to ``cut``) replaced by ``before`` and those from ``since`` by
    ``after`` (as many of each as fit)."""
    values = s.values.tolist()
    for i, b in enumerate(before[:cut]):
        values[i] = b
    for i, a in enumerate(after[: len(values) - since]):
        values[since + i] = a
    return MetricSeries.from_arrays(*s.ids, list(s.epoch_us), values)


@settings(max_examples=60)
@given(series_and_window(moderate), st.lists(moderate, max_size=10), st.lists(moderate, max_size=10))
def test_classify_reads_only_the_window_and_bounded_history(
    case: tuple[MetricSeries, TimeWindow], after: list[float], before: list[float]
) -> None:
    """Changing points after the window, or more than history_points before it, changes nothing."""
    s, w = case
    kind = CLF.classify(s, w)
    cut = max(0, w.start_index - CLF.history_points)
    assert CLF.classify(_edited(s, cut, before, w.end_index, after), w) is kind
    # The slice an engine passes, with the window re-indexed.
    sub = s.slice(cut, w.end_index)
    assert CLF.classify(sub, _window(sub, w.start_index - cut, w.end_index - cut)) is kind


@settings(max_examples=60)
@given(series_and_window(moderate), st.integers(-60, 60))
def test_verdict_is_the_same_at_every_power_of_two_scale(
    case: tuple[MetricSeries, TimeWindow], exponent: int
) -> None:
    """Scaling every value by 2**k (exact in floating point) keeps the verdict."""
    s, w = case
    factor = 2.0**exponent
    scaled = MetricSeries.from_arrays(*s.ids, list(s.epoch_us), [v * factor for v in s.values.tolist()])
    assert CLF.classify(scaled, w) is CLF.classify(s, w)


@settings(max_examples=80)
@given(
    series(min_size=1, max_size=60, values=finite),
    st.integers(-5, 65),
    st.integers(0, 70),
    st.sampled_from(list(AnomalyType)),
)
def test_explain_never_raises_and_gives_one_sentence(
    s: MetricSeries, first: int, span: int, kind: AnomalyType
) -> None:
    """Any result on the series (even a window between or beyond its points) gets one sentence."""
    t0 = s.timestamps[0]
    start = t0 + timedelta(seconds=97 * first)
    score = 0.49 if kind is AnomalyType.NORMAL else 0.5  # either side of the alarm line, as the label says
    result = AnomalyResult(*s.ids, start, start + timedelta(seconds=97 * span), score, kind)
    text = ExplanationClassifier().explain(s, result)
    assert isinstance(text, str)
    assert text.startswith(f"{s.metric_name} on node {s.node_id} (cluster {s.cluster_id}")
    assert text.endswith(".") and "\n" not in text
    assert "nan" not in text.split()


@st.composite
def periodic_case(draw: st.DrawFn) -> tuple[MetricSeries, TimeWindow]:
    """A noisy cycle of 2..336 points (often 288) over 900-1100 points, maybe shifted; a window at the end."""
    period = draw(st.one_of(st.just(288), st.just(336), st.integers(2, 336)))
    n = draw(st.integers(900, 1100))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    noise = draw(st.sampled_from([0.0, 0.05, 0.3]))
    values = [10.0 + math.sin(2 * math.pi * i / period) + rng.gauss(0.0, noise) for i in range(n)]
    width = draw(st.integers(1, 300))
    start = draw(st.integers(n - width - 100, n - width))
    kick = draw(st.sampled_from([0.0, 5.0, -3.0]))
    for i in range(start + width // 2, start + width):
        values[i] += kick  # a level shift to the window's end, or nothing
    us = [1_704_067_200_000_000 + i * 300_000_000 for i in range(n)]
    s = MetricSeries.from_arrays("t", "c", "n", "m", us, values)
    return s, _window(s, start, start + width)


@settings(max_examples=15)
@given(periodic_case(), st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False))
def test_long_period_verdict_reads_only_the_bounded_history(
    case: tuple[MetricSeries, TimeWindow], junk: float
) -> None:
    """With periods up to 336: points before the history bound or after the window change nothing."""
    s, w = case
    kind = LONG.classify(s, w)
    cut = max(0, w.start_index - LONG.history_points)
    values = s.values.tolist()
    edited = [junk if (i < cut or i >= w.end_index) else v for i, v in enumerate(values)]
    assert LONG.classify(MetricSeries.from_arrays(*s.ids, list(s.epoch_us), edited), w) is kind
    sub = s.slice(cut, w.end_index)
    assert LONG.classify(sub, _window(sub, w.start_index - cut, w.end_index - cut)) is kind


@settings(max_examples=15)
@given(periodic_case(), st.integers(-1000, 1000))
def test_long_period_verdict_is_the_same_at_every_scale(
    case: tuple[MetricSeries, TimeWindow], exponent: int
) -> None:
    """Scaling a long-period series by 2**k (values from about 1e-300 to 1e302) keeps the verdict."""
    s, w = case
    factor = 2.0**exponent
    scaled = MetricSeries.from_arrays(*s.ids, list(s.epoch_us), [v * factor for v in s.values.tolist()])
    clf = ExplanationClassifier()
    assert clf.classify(scaled, w) is clf.classify(s, w)
    assert isinstance(clf.explain(scaled, _result(scaled, w)), str)


def _result(s: MetricSeries, w: TimeWindow) -> AnomalyResult:
    return AnomalyResult(*s.ids, w.start_time, w.end_time, 0.9, AnomalyType.SEASONAL)


@st.composite
def labelled_stream(draw: st.DrawFn) -> tuple[MetricSeries, list[tuple[int, int]], int]:
    """A series with a cycle (from timestamps or by points), noise, spikes and a shift, windows in order;
    its timestamps exact or jittered, with points missed or not."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    step_s = draw(st.sampled_from([60, 300, 900, 3600, 7]))
    n = draw(st.integers(40, 1600))
    period = draw(st.sampled_from([None, 24, 96, 86_400 // step_s]))
    values = []
    for i in range(n):
        cyc = 10.0 * math.sin(2 * math.pi * i / period) if period else 0.0
        values.append(100.0 + cyc + rng.gauss(0.0, 1.0))
    for _ in range(draw(st.integers(0, 6))):
        values[rng.randrange(n)] += rng.choice((-1, 1)) * rng.uniform(5, 15)
    if draw(st.booleans()):
        at = rng.randrange(n)
        values[at:] = [v + 12.0 for v in values[at:]]
    # (timestamps exact, or wandering up to a tenth of a step about it, as an agent stamps them)
    jitter = draw(st.sampled_from([0, 0, step_s * 100_000]))
    us = [1_700_000_000_000_000 + i * step_s * 1_000_000 + rng.randint(-jitter, jitter) for i in range(n)]
    # (and points missed: a few here and there, or a run of them, or none)
    missed = set(rng.sample(range(n), min(n // 4, draw(st.sampled_from([0, 0, 3, 12])))))
    if draw(st.booleans()):
        at = rng.randrange(n)
        missed |= set(range(at, min(n - 2, at + rng.randint(2, 300))))
    keep = [i for i in range(n) if i not in missed]
    us, values = [us[i] for i in keep], [values[i] for i in keep]
    n = len(keep)
    s = MetricSeries.from_arrays("t", "c", "n", "m", us, values)
    stride = draw(st.integers(1, 40))
    width = draw(st.integers(1, 40))
    windows = [(a, min(n, a + width)) for a in range(2, n - 1, stride)]
    history = draw(st.sampled_from([24, 300, 12288]))
    return s, windows, history


@settings(max_examples=25, deadline=None)
@given(labelled_stream())
def test_the_memo_gives_the_labels_and_sentences_of_the_slow_path(
    case: tuple[MetricSeries, list[tuple[int, int]], int],
) -> None:
    """Labelling windows in order with a per-series memo (as a stream or detect does) gives the same
    labels and sentences as classify then explain on a fresh classifier for every window."""
    from backend.analytics._labels import label_and_explain, new_memo

    s, windows, history = case
    fast = ExplanationClassifier(history_points=history)
    memo = new_memo(fast)
    for a, b in windows:
        w = _window(s, a, b)
        result = AnomalyResult(*s.ids, w.start_time, w.end_time, 0.9, AnomalyType.SPIKE)
        got, _, _, _ = label_and_explain(fast, s, a, b, result, AnomalyType.SPIKE, None, memo)
        slow = ExplanationClassifier(history_points=history)
        kind = slow.classify(s, w)
        label = AnomalyType.SPIKE if kind is AnomalyType.NORMAL else kind
        expected = AnomalyResult(*s.ids, w.start_time, w.end_time, 0.9, label)
        assert got.anomaly_label is label
        assert got.explanation == slow.explain(s, expected)


def _robust_sd_by_definition(values: list[float]) -> float:
    """:func:`robust_sd` as its docstring defines it, written plainly (the reference)."""
    n = len(values)
    if n < 2:
        return 0.0
    s = sorted(values)
    med = (s[(n - 1) // 2] + s[n // 2]) / 2.0
    dev = sorted(abs(v - med) for v in values)
    mad = (dev[(n - 1) // 2] + dev[n // 2]) / 2.0
    kept = [v for v in values if abs(v - med) <= 4.0 * mad * 1.482602218505602] if mad > 0.0 else values
    if len(kept) < 2:
        return 0.0
    mean = math.fsum(kept) / len(kept)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in kept) / (len(kept) - 1))


@settings(max_examples=300)
@given(
    st.lists(
        st.one_of(
            st.floats(-1e6, 1e6, allow_nan=False),
            st.sampled_from([0.0, -0.0, 1.0, 2.0, 1e-300, -1e-300]),
        ),
        max_size=80,
    )
)
def test_robust_sd_is_its_definition_bit_for_bit(values: list[float]) -> None:
    """The fast robust_sd (one sort, the fence by bisection, C-level sums) gives the plain one's value."""
    assert robust_sd(values) == _robust_sd_by_definition(values)


@settings(max_examples=200)
@given(
    st.lists(st.floats(-100.0, 100.0, allow_nan=False), min_size=5, max_size=60),
    st.lists(st.floats(3.0, 5.0), min_size=1, max_size=4),
)
def test_robust_sd_fences_like_its_definition(values: list[float], distances: list[float]) -> None:
    """Values placed 3-5 MAD-sd from the median (around the fence at 4) are kept or dropped alike."""
    s = sorted(values)
    n = len(s)
    med = (s[(n - 1) // 2] + s[n // 2]) / 2.0
    dev = sorted(abs(v - med) for v in values)
    mad_sd = (dev[(n - 1) // 2] + dev[n // 2]) / 2.0 * 1.482602218505602
    near = values + [med + (c if i % 2 else -c) * mad_sd for i, c in enumerate(distances)]
    assert robust_sd(near) == _robust_sd_by_definition(near)


_DAY_US = 86_400_000_000


def _same_phase_by_definition(
    vals: list[float], us: list[int], j: int, period: int, lo: int, before: int, scale: float, offset: int
) -> float | None:
    """:func:`_same_phase` as its docstring defines it, day by day (the reference)."""
    day = (us[j] + offset * 60_000_000 - 4 * _DAY_US) // _DAY_US
    weekend = day % 7 >= 5
    same: list[float] = []
    other: list[float] = []
    i, day = j - period, day - 1
    while i >= before:
        i, day = i - period, day - 1
    stop = i - 8 * period
    while i >= lo and i > stop and len(same) < 5:
        v = vals[i] / scale
        if (day % 7 >= 5) is weekend:
            same.append(v)
        if len(other) < 5:
            other.append(v)
        i, day = i - period, day - 1
    got = sorted(same if len(same) >= 2 else other)
    if len(got) < 2:
        return None
    m = len(got)
    return got[(m - 1) // 2] / 2.0 + got[m // 2] / 2.0


@st.composite
def calendar_case(draw: st.DrawFn) -> tuple[list[float], list[int], int, int]:
    """Regular steps that divide a day (2 to 10 days of them), values with weekends, and a time offset."""
    period = draw(st.sampled_from([4, 6, 24, 96, 288]))
    step = _DAY_US // period
    n = draw(st.integers(2 * period + 10, 10 * period + 10))
    t0 = draw(st.integers(0, 10**16 // step)) * step + draw(st.sampled_from([0, 0, step // 3]))
    us = [t0 + i * step for i in range(n)]
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    weekend = draw(st.floats(0.0, 5.0))
    noise = draw(st.sampled_from([0.0, 0.5, 3.0]))
    vals = [
        10.0 * (i % period) / period
        + (weekend if ((us[i] - 4 * _DAY_US) // _DAY_US) % 7 >= 5 else 0.0)
        + rng.gauss(0.0, noise)
        for i in range(n)
    ]
    return vals, us, period, draw(st.sampled_from([0, 60, -300, 330, 840, -840]))


@settings(max_examples=100, deadline=None)
@given(calendar_case(), st.data())
def test_the_calendar_cycle_reads_the_days_its_definition_reads(
    case: tuple[list[float], list[int], int, int], data: st.DataObject
) -> None:
    """_same_phase (days picked from a table) and _calendar_model (a run of points a column at a
    time) give the values of reading the earlier days one by one, bit for bit."""
    from backend.analytics.explain import _same_phase

    vals, us, period, offset = case
    n = len(vals)
    for _ in range(10):
        j = data.draw(st.integers(0, n - 1))
        lo = data.draw(st.integers(0, j))
        before = data.draw(st.one_of(st.just(j), st.integers(lo, n)))
        got = _same_phase(vals, us, j, period, lo, before, 3.0, offset)
        assert got == _same_phase_by_definition(vals, us, j, period, lo, before, 3.0, offset)
    clf = ExplanationClassifier(utc_offset_minutes=offset)
    c = data.draw(st.integers(2, n))
    lo = data.draw(st.integers(0, c - 2))
    scale = max(map(abs, vals[lo:c])) or 1.0
    model = clf._calendar_model(vals, us, lo, c, scale)
    # The reference: the last day's points (every stride-th, up to 384 of them) one by one.
    first = max(lo + 2 * period, c - period)
    stride = max(1, (c - first) // 384)
    raw: list[float] = []
    resid: list[float] = []
    idle: list[bool] = []  # a residual of exactly 0 at a point equal to the two before it
    if c - lo >= 2 * period + 8:
        for j in reversed(range(c - 1, first - 1, -stride)):
            e = _same_phase_by_definition(vals, us, j, period, lo, j, scale, offset)
            if e is not None:
                raw.append(vals[j] / scale)
                resid.append(vals[j] / scale - e)
                idle.append(vals[j] == vals[j - 1] == vals[j - 2] and resid[-1] == 0.0)
    if len(resid) < 8:
        assert model is None
        return
    sd = robust_sd(resid)
    mean = math.fsum(raw) / len(raw)
    spread2 = math.fsum((v - mean) ** 2 for v in raw) / len(raw)
    if sd * sd > (1.0 - clf.min_strength) * spread2:
        assert model is None
        return
    assert model is not None and model.route == "calendar" and model.fit == sd
    # Its spread: the residuals less the lag before each (the median of the m before it, where 90%
    # of them share a side), without the idle ones (unless fewer than 8 would be left).
    m = max(8, -(-32 // stride))
    net = []
    for i, r in enumerate(resid):
        prior = resid[i - m : i] if i >= m else []
        shared = max(sum(x > 0.0 for x in prior), sum(x < 0.0 for x in prior)) >= 0.9 * m
        ordered = sorted(prior)
        middle = ordered[(m - 1) // 2] / 2.0 + ordered[m // 2] / 2.0 if prior else 0.0  # (halves summed)
        net.append(r - middle if prior and shared else r)
    moving = [x for x, held in zip(net, idle, strict=True) if not held]
    assert model.sd == robust_sd(moving if any(idle) and len(moving) >= 8 else net)


@settings(max_examples=60)
@given(series_and_window(moderate), st.lists(moderate, max_size=10), st.lists(moderate, max_size=10))
def test_the_expected_band_reads_only_the_history_before_it(
    case: tuple[MetricSeries, TimeWindow], after: list[float], before: list[float]
) -> None:
    """The band of points [start, end) is the same whatever the points from start on, or more than
    history_points before start, are; and on the slice an engine would pass."""
    s, w = case
    band = CLF.expected_band(s, w.start_index, w.end_index)
    cut = max(0, w.start_index - CLF.history_points)
    changed = _edited(s, cut, before, w.start_index, after)
    assert CLF.expected_band(changed, w.start_index, w.end_index) == band
    sub = s.slice(cut, w.end_index)
    assert CLF.expected_band(sub, w.start_index - cut, w.end_index - cut) == band
    if w.start_index - cut < 2:
        assert band is None


@settings(max_examples=60)
@given(series_and_window(moderate), st.floats(0.5, 8.0))
def test_the_expected_band_is_its_expectation_give_or_take_width_spreads(
    case: tuple[MetricSeries, TimeWindow], width: float
) -> None:
    """Width 0 is the expectation itself; a wider band is wider in proportion, around the same middle."""
    s, w = case
    middle = CLF.expected_band(s, w.start_index, w.end_index, width_sd=0.0)
    band = CLF.expected_band(s, w.start_index, w.end_index, width_sd=width)
    wider = CLF.expected_band(s, w.start_index, w.end_index, width_sd=2.0 * width)
    if middle is None:
        assert band is None and wider is None
        return
    assert band is not None and wider is not None
    assert middle[0] == middle[1]
    assert len(middle[0]) == w.end_index - w.start_index
    for e, lo, hi, lo2, hi2 in zip(middle[0], *band, *wider, strict=True):
        assert lo <= e <= hi and lo2 <= lo and hi <= hi2
        assert math.isclose(hi2 - lo2, 2.0 * (hi - lo), rel_tol=1e-9, abs_tol=1e-9 * max(1.0, abs(e)))


@st.composite
def shifted_cycle(draw: st.DrawFn) -> tuple[MetricSeries, list[int], int]:
    """A daily sine at 15-minute steps over 6 days from a random hour, its fifth day late by 2-10 hours
    or damped, with random chunk sizes and an offset for a checkpoint: the episodes' sides across both."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    late = draw(st.sampled_from([0.0, 2.0, 4.0, 6.0, 10.0])) / 24.0
    damp = draw(st.sampled_from([1.0, 0.3]))
    t0 = draw(st.integers(0, 95))  # the first point's quarter hour
    n = 6 * 96
    values = []
    for i in range(n):
        t = (t0 + i) / 96.0  # days
        today = 4.0 <= t - t0 / 96.0 < 5.0
        swing = 30.0 * (damp if today else 1.0)
        phase = 2.0 * math.pi * (t - (late if today else 0.0))
        values.append(100.0 + swing * math.sin(phase) + rng.gauss(0.0, 2.0))
    start = datetime(2024, 5, 6, tzinfo=timezone.utc) + timedelta(minutes=15 * t0)
    s = MetricSeries("acme", "c", "n", "m", [start + timedelta(minutes=15 * i) for i in range(n)], values)
    chunks = draw(st.lists(st.integers(1, 200), min_size=1, max_size=12))
    return s, chunks, draw(st.integers(0, 9))


@settings(max_examples=20, deadline=None)
@given(shifted_cycle())
def test_a_stream_labels_shifted_cycles_as_detect_does_across_chunks_and_a_checkpoint(
    case: tuple[MetricSeries, list[int], int],
) -> None:
    """The sides an episode held (and the latest episode's, carried to the next) live in the stream's
    state: fed in any chunks, and rebuilt from a pickled checkpoint at any point, a stream gives
    detect's results, labels and sentences included (the both-sides SEASONAL rule is causal)."""
    import pickle

    from backend.analytics.engines import ZScoreEngine
    from backend.analytics.scoring import ScoreStream

    s, chunks, offset = case
    engine = ZScoreEngine()
    expected = engine.detect(s)
    # The checkpoint: inside the first not anomalous window after an episode on the changed day (where
    # the earlier side is only in the stream's memory of the latest side held), else anywhere on it.
    stamps = list(s.timestamps)
    cut = 4 * 96 + offset * 9
    for k in range(len(expected) - 1):
        if expected[k].is_anomalous and not expected[k + 1].is_anomalous:
            at = stamps.index(expected[k + 1].window_start)
            if at >= 4 * 96:
                cut = at + offset
                break
    stream = engine.stream(*s.ids)
    got: list[AnomalyResult] = []
    lo, k = 0, 0
    while lo < len(s):
        hi = min(len(s), lo + chunks[k % len(chunks)], cut if lo < cut else len(s))
        got.extend(stream.update(s.slice(lo, hi)))
        if hi == cut:
            stream = ScoreStream.from_state(engine, pickle.loads(pickle.dumps(stream.export_state())))
        lo, k = hi, k + 1
    assert got == expected
