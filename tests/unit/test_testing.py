"""Tests for backend.analytics.testing: the kit passes good engines and catches each kind of breakage."""

from __future__ import annotations

import itertools
import math
import re
import statistics
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, ClassVar

import pytest

from backend.analytics import AnomalyDetectionEngine, AnomalyResult, AnomalyType, MetricSeries
from backend.analytics.scoring import PointScorer, PointScoringEngine
from backend.analytics.testing import (
    CHECK_NAMES,
    CheckOutcome,
    EngineConformanceError,
    check_engine,
    engine_threshold,
    make_test_series,
    run_checks,
)


class GoodEngine(AnomalyDetectionEngine):
    """Minimal conforming engine: a window's largest robust z against the 30 points before it."""

    name: ClassVar[str] = "good"
    causal: ClassVar[bool] = True

    def __init__(self, *, window_size_points: int = 10, stride_points: int = 5) -> None:
        for key, value in (("window_size_points", window_size_points), ("stride_points", stride_points)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"GoodEngine: {key} must be a positive int, got {value!r}")
            if value <= 0:
                raise ValueError(f"GoodEngine: {key} must be a positive int, got {value!r}")
        self.window_size_points = window_size_points
        self.stride_points = stride_points

    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        values = time_series.values.tolist()
        out = []
        for start in range(0, len(values) - self.window_size_points + 1, self.stride_points):
            end = start + self.window_size_points
            ref = values[max(0, start - 30) : start] or values[start : start + 1]
            peak = max(abs(v) for v in ref + values[start:end]) or 1.0  # work in units of the largest value
            med = statistics.median(v / peak for v in ref)
            mad = statistics.median(abs(v / peak - med) for v in ref) * 1.4826
            dev = max(abs(v / peak - med) for v in values[start:end])
            z = 0.0 if dev == 0.0 else (dev / mad if mad > 0.0 else math.inf)
            score = 1.0 if z == math.inf else z / (z + 6.0)
            out.append(
                AnomalyResult(
                    *time_series.ids,
                    window_start=time_series.timestamps[start],
                    window_end=time_series.timestamps[end - 1],
                    anomaly_score=score,
                    anomaly_label=AnomalyType.NORMAL if score < 0.5 else AnomalyType.SPIKE,
                    magnitude=score,
                )
            )
        return out

    def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
        return f"window from {result.window_start.isoformat()} scored {result.anomaly_score}"


def _status(outcomes: list[CheckOutcome]) -> dict[str, str]:
    return {o.check: o.status for o in outcomes}


def _failed(factory: Callable[..., Any], check: str, **kwargs: Any) -> CheckOutcome:
    """Run the kit, assert ``check`` failed, and return its outcome."""
    outcomes = {o.check: o for o in run_checks(factory, **kwargs)}
    assert outcomes[check].status == "failed", outcomes[check]
    with pytest.raises(EngineConformanceError) as info:
        check_engine(factory, **kwargs)
    assert f"- {check}: " in str(info.value)
    assert check in {f.check for f in info.value.failures}
    return outcomes[check]


# --- passing engines -----------------------------------------------------------


def test_good_engine_passes_every_check() -> None:
    """A conforming engine passes all checks and check_engine returns the outcomes."""
    outcomes = check_engine(GoodEngine)
    assert [o.check for o in outcomes] == list(CHECK_NAMES)
    skipped = {"stream": "skipped", "update_many": "skipped", "checkpoint": "skipped"}  # (no stream)
    assert {o.check: o.status for o in outcomes if o.status != "passed"} == skipped


def test_zscore_engine_passes_every_check() -> None:
    """The built-in zscore engine conforms; nothing is skipped (it is causal and streams)."""
    from backend.analytics.engines.zscore import ZScoreEngine

    outcomes = check_engine(ZScoreEngine)
    assert [o for o in outcomes if o.status != "passed"] == []


def test_zscore_labels_agree_with_its_documented_threshold() -> None:
    """zscore documents 'anomalous exactly when score >= 0.5'; the threshold check confirms it."""
    from backend.analytics.engines.zscore import ZScoreEngine

    class WithThreshold(ZScoreEngine):
        score_threshold: ClassVar[float] = 0.5

    outcomes = run_checks(WithThreshold, checks=["threshold"])
    assert _status(outcomes) == {"construct": "passed", "threshold": "passed"}


def test_zscore_engine_passes_with_custom_config() -> None:
    """Configuration is passed to the factory for every engine the kit builds."""
    from backend.analytics.engines.zscore import ZScoreEngine

    check_engine(ZScoreEngine, config={"window_size_points": 20, "stride_points": 7}, seed=3)


def test_zero_arg_factory_skips_bad_config_with_reason() -> None:
    """A factory without keyword arguments works; the bad-config check is skipped and says why."""
    outcomes = {o.check: o for o in check_engine(lambda: GoodEngine(window_size_points=12))}
    assert outcomes["bad_config"].status == "skipped"
    assert "takes no keyword arguments" in outcomes["bad_config"].message


def test_config_for_zero_arg_factory_is_a_failure() -> None:
    """Passing config to a factory that takes none fails 'construct' with a message."""

    def factory() -> GoodEngine:
        return GoodEngine()

    outcome = _failed(factory, "construct", config={"window_size_points": 3})
    assert "takes no keyword arguments" in outcome.message


def test_threshold_fails_unless_the_alarm_line_is_half() -> None:
    """An engine whose score_threshold is missing or not 0.5 fails 'threshold', saying so."""

    class NoThreshold(GoodEngine):
        score_threshold = None  # type: ignore[assignment]

    class OwnLine(GoodEngine):
        score_threshold: ClassVar[float] = 0.37

    assert "every engine alarms at anomaly_score >= 0.5" in _failed(NoThreshold, "threshold").message
    assert "0.37" in _failed(OwnLine, "threshold").message


def test_detects_fails_for_an_engine_that_scores_nothing() -> None:
    """An engine whose scores ignore the data (all 0, or 0.25 on every moving window) fails 'detects'."""

    class Blind(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            return [
                replace(
                    r, anomaly_score=0.0 if r.anomaly_score == 0.0 else 0.25, anomaly_label=AnomalyType.NORMAL
                )
                for r in super().detect(time_series)
            ]

    assert "does not see them" in _failed(Blind, "detects").message


def test_detects_sizes_the_series_from_the_warm_up() -> None:
    """An engine declaring a long warm-up is checked on a series whose anomalies come after it."""

    class SlowStart(GoodEngine):
        min_history_points = 500

        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            out = super().detect(time_series)
            stamps = time_series.timestamps
            cut = stamps[min(499, len(stamps) - 1)] if len(stamps) else None
            return [
                r
                if cut is not None and r.window_start > cut
                else replace(r, anomaly_score=0.0, anomaly_label=AnomalyType.NORMAL)
                for r in out
            ]

    outcomes = {o.check: o for o in check_engine(SlowStart)}
    assert outcomes["detects"].status == "passed"


def test_stream_fails_when_chunks_change_results() -> None:
    """An engine whose stream differs from detect fails 'stream'."""

    class Stream:
        def __init__(self, engine: GoodEngine) -> None:
            self.engine = engine

        def update(self, chunk: MetricSeries) -> list[AnomalyResult]:
            return self.engine.detect(chunk)  # forgets the history: differs from detect

    class Forgetful(GoodEngine):
        def stream(self, *ids: str) -> Stream:
            return Stream(self)

    assert "differs from detect" in _failed(Forgetful, "stream").message


def test_non_causal_engine_skips_causality_with_reason() -> None:
    """causal = False skips the causality check and says so."""

    class NonCausal(GoodEngine):
        causal: ClassVar[bool] = False

    outcomes = {o.check: o for o in check_engine(NonCausal)}
    assert outcomes["causality"].status == "skipped"
    assert "causal = False" in outcomes["causality"].message


def test_checks_argument_selects_checks() -> None:
    """checks= runs only the named checks (plus construct)."""
    outcomes = run_checks(GoodEngine, checks=["ids", "ordered"])
    assert [o.check for o in outcomes] == ["construct", "ids", "ordered"]


def test_run_checks_rejects_bad_arguments() -> None:
    """The kit validates its own arguments, naming them."""
    with pytest.raises(ValueError, match="checks must be names"):
        run_checks(GoodEngine, checks=["nope"])
    with pytest.raises(TypeError, match="series must be a MetricSeries"):
        run_checks(GoodEngine, series=[1.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="causal_windows"):
        run_checks(GoodEngine, causal_windows=0)
    with pytest.raises(TypeError, match=r"bad_configs\[0\]"):
        run_checks(GoodEngine, bad_configs=[("x", "y")])  # type: ignore[list-item]


def test_make_test_series_is_deterministic() -> None:
    """Same seed, same series; another seed, other values."""
    assert make_test_series(50, seed=1) == make_test_series(50, seed=1)
    assert make_test_series(50, seed=1).values.tolist() != make_test_series(50, seed=2).values.tolist()
    assert len(make_test_series(50)) == 50
    with pytest.raises(ValueError, match="step_seconds must be >= 1, got 0"):
        make_test_series(10, step_seconds=0)
    with pytest.raises(TypeError, match="n must be an int"):
        make_test_series(10.0)  # type: ignore[arg-type]


def test_engine_threshold_validates_attribute() -> None:
    """engine_threshold returns the float, None, or raises for a bad attribute."""
    assert engine_threshold(GoodEngine()) == 0.5
    assert engine_threshold(object()) is None

    class Bad:
        score_threshold = 2.0

    with pytest.raises(ValueError, match="score_threshold"):
        engine_threshold(Bad())


def test_all_failures_are_reported_together() -> None:
    """Two independent breakages give one error listing both."""

    class TwoBugs(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            return list(reversed(super().detect(time_series)))

        def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
            return ""

    with pytest.raises(EngineConformanceError) as info:
        check_engine(TwoBugs)
    assert {f.check for f in info.value.failures} == {"ordered", "explain"}
    assert "2 conformance check(s)" in str(info.value)
    assert isinstance(info.value, AssertionError)


# --- each check can fail ---------------------------------------------------------


def test_construct_fails_for_non_engine() -> None:
    """A factory that returns something other than an engine fails 'construct'."""
    outcome = _failed(lambda **kw: object(), "construct")
    assert "AnomalyDetectionEngine" in outcome.message


def test_construct_fails_for_raising_factory() -> None:
    """A factory that raises fails 'construct' and names the exception."""

    def factory(**kw: Any) -> AnomalyDetectionEngine:
        raise RuntimeError("boom")

    outcome = _failed(factory, "construct")
    assert "RuntimeError: boom" in outcome.message


def test_construct_fails_for_bad_class_attributes() -> None:
    """An empty name or a non-bool causal fails 'construct'."""

    class Nameless(GoodEngine):
        name: ClassVar[str] = ""
        causal = "yes"  # type: ignore[assignment]

    outcome = _failed(Nameless, "construct")
    assert "name must be a non-empty str" in outcome.message
    assert "causal must be a bool" in outcome.message


def test_results_fails_when_detect_returns_tuple() -> None:
    """detect must return a list."""

    class Tuple(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            return tuple(super().detect(time_series))  # type: ignore[return-value]

    assert "must return a list" in _failed(Tuple, "results").message


def test_results_fails_when_detect_raises() -> None:
    """An exception inside detect is reported with its type and message."""

    class Raises(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            raise ZeroDivisionError("oops")

    assert "ZeroDivisionError: oops" in _failed(Raises, "results").message


def test_ids_fails_for_wrong_ids() -> None:
    """Results must carry the series' ids."""

    class WrongIds(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            return [replace(r, node_id="other") for r in super().detect(time_series)]

    assert "'other'" in _failed(WrongIds, "ids").message


def test_ordered_fails_for_reversed_results() -> None:
    """Results must be ordered by window_start."""

    class Reversed(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            return list(reversed(super().detect(time_series)))

    assert "is before" in _failed(Reversed, "ordered").message


def test_within_series_fails_for_window_outside_series() -> None:
    """Windows must lie inside the series."""

    class Outside(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            day = timedelta(days=1)
            return [
                replace(r, window_start=r.window_start - day, window_end=r.window_end - day)
                for r in super().detect(time_series)
            ]

    assert "not inside the series" in _failed(Outside, "within_series").message


def test_scores_fails_for_out_of_range_score() -> None:
    """A score outside [0, 1] (forced past AnomalyResult's validation) fails 'scores'."""

    class TooHigh(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            out = super().detect(time_series)
            if out:
                object.__setattr__(out[0], "anomaly_score", 1.5)
            return out

    assert "anomaly_score: expected a finite float in [0, 1], got 1.5" in _failed(TooHigh, "scores").message


def test_scores_fails_for_nan_magnitude() -> None:
    """A NaN magnitude fails 'scores'."""

    class NanMagnitude(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            out = super().detect(time_series)
            if out:
                object.__setattr__(out[-1], "magnitude", float("nan"))
            return out

    assert "magnitude" in _failed(NanMagnitude, "scores").message


def test_labels_fails_for_plain_string_label() -> None:
    """A label that is a str, not an AnomalyType, fails 'labels'."""

    class StrLabel(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            out = super().detect(time_series)
            for r in out:
                object.__setattr__(r, "anomaly_label", "normal")
            return out

    assert "expected an AnomalyType" in _failed(StrLabel, "labels").message


def _rescored(result: AnomalyResult, score: float) -> AnomalyResult:
    """``result`` with another score, and the label that goes with it (NORMAL exactly below 0.5)."""
    label = result.anomaly_label
    if (score < 0.5) is not (label is AnomalyType.NORMAL):
        label = AnomalyType.NORMAL if score < 0.5 else AnomalyType.SPIKE
    return replace(result, anomaly_score=score, anomaly_label=label)


def test_threshold_fails_when_label_disagrees_with_score() -> None:
    """A non-NORMAL label under score_threshold fails 'threshold'."""

    class Disagrees(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            # AnomalyResult() refuses such a result; an engine's unchecked fast path (_trusted) does not.
            return [
                AnomalyResult._trusted(
                    (r.tenant_id, r.cluster_id, r.node_id, r.metric_name),
                    r.window_start,
                    r.window_end,
                    r.anomaly_score,
                    AnomalyType.SPIKE,
                    r.magnitude,
                    r.explanation,
                )
                for r in super().detect(time_series)
            ]

    message = _failed(Disagrees, "threshold").message
    assert "the alarm line 0.5" in message
    assert "SPIKE" in message


def test_determinism_fails_for_unseeded_engine() -> None:
    """Different output on a second call fails 'determinism'."""
    counter = itertools.count()

    class Drifts(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            bump = next(counter) % 2 * 0.1
            return [_rescored(r, min(1.0, r.anomaly_score + bump)) for r in super().detect(time_series)]

    assert "differs" in _failed(Drifts, "determinism").message


def test_causality_fails_for_engine_that_looks_ahead() -> None:
    """A 'causal' engine whose scores depend on later points fails 'causality'."""

    class LooksAhead(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            last = time_series.values[-1] if len(time_series) else 0.0
            bump = 0.2 if last > 12.0 else 0.0
            return [_rescored(r, min(1.0, r.anomaly_score + bump)) for r in super().detect(time_series)]

    assert "changed on the series cut after" in _failed(LooksAhead, "causality").message


def test_causality_fails_when_window_disappears() -> None:
    """A window that vanishes when the series is cut after it fails 'causality'."""

    class DropsLast(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            return super().detect(time_series)[:-1]

    assert "is missing" in _failed(DropsLast, "causality").message


def test_empty_series_fails_when_engine_raises() -> None:
    """An engine that raises on an empty series fails 'empty_series'."""

    class HatesEmpty(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            if len(time_series) == 0:
                raise IndexError("no points")
            return super().detect(time_series)

    assert "IndexError: no points" in _failed(HatesEmpty, "empty_series").message


def test_short_series_fails_for_partial_window() -> None:
    """A result on a series shorter than a window fails 'short_series'."""

    class EmitsPartial(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            out = super().detect(time_series)
            n = len(time_series)
            if 0 < n < self.window_size_points:
                ts = time_series.timestamps
                out = [AnomalyResult(*time_series.ids, ts[0], ts[n - 1], 0.0, AnomalyType.NORMAL)]
            return out

    assert "must give []" in _failed(EmitsPartial, "short_series").message


def test_constant_series_fails_when_flagged() -> None:
    """A constant series labelled anomalous fails 'constant_series'."""

    class FlagsFlat(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            flagged = {"anomaly_score": 0.9, "anomaly_label": AnomalyType.SPIKE}
            return [
                replace(r, **flagged) if r.anomaly_score == 0.0 else r  # type: ignore[arg-type]
                for r in super().detect(time_series)
            ]

    assert "expected NORMAL" in _failed(FlagsFlat, "constant_series").message


def test_extreme_scales_fails_on_overflow() -> None:
    """An engine that breaks on huge values fails 'extreme_scales'."""

    class Overflows(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            total = sum(v * v for v in time_series.values)
            if total == float("inf"):
                raise OverflowError("sum of squares overflowed")
            return super().detect(time_series)

    message = _failed(Overflows, "extreme_scales").message
    assert "OverflowError" in message
    assert "1e+308" in message


def test_explain_fails_for_empty_text() -> None:
    """explain must return a non-empty str."""

    class Mute(GoodEngine):
        def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
            return "  "

    assert "non-empty str" in _failed(Mute, "explain").message


def test_bad_config_fails_when_accepted_silently() -> None:
    """An engine that accepts window_size_points=0 and unknown keywords fails 'bad_config'."""

    class Lenient(GoodEngine):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__()

    message = _failed(Lenient, "bad_config").message
    assert "{'window_size_points': 0} was accepted" in message
    assert "no_such_option_xyz" in message


def test_bad_config_fails_when_message_omits_argument() -> None:
    """A rejection whose message does not name the argument fails 'bad_config'."""

    class Vague(GoodEngine):
        def __init__(self, *, window_size_points: int = 10, stride_points: int = 5) -> None:
            if window_size_points <= 0 if isinstance(window_size_points, int) else True:
                raise ValueError("invalid")
            super().__init__(window_size_points=window_size_points, stride_points=stride_points)

    assert "does not name 'window_size_points'" in _failed(Vague, "bad_config").message


def test_extra_bad_configs_are_checked() -> None:
    """bad_configs adds engine-specific rejections."""
    outcome = _failed(GoodEngine, "bad_config", bad_configs=[({"stride_points": 3}, "stride_points")])
    assert "{'stride_points': 3} was accepted" in outcome.message


def test_kit_imports_only_the_standard_library() -> None:
    """Importing backend.analytics.testing loads no test runner and nothing outside the stdlib."""
    import subprocess
    import sys

    code = (
        "import sys; before = set(sys.modules); import backend.analytics.testing; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "print(','.join(sorted(t for t in new if t not in sys.stdlib_module_names and t != 'backend')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_detects_sizes_the_series_from_a_warm_up_in_time() -> None:
    """An engine quiet for its first two days (min_history_span) is checked on a series whose anomalies
    come after them (at the kit's 1-minute steps, 2,880 points); a span that is not a timedelta fails."""

    class Sleepy(GoodEngine):
        min_history_span = timedelta(days=2)

        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            out = super().detect(time_series)
            if not len(time_series):
                return out
            cut = time_series.timestamps[0] + self.min_history_span
            return [
                r
                if r.window_start >= cut
                else replace(r, anomaly_score=0.0, anomaly_label=AnomalyType.NORMAL)
                for r in out
            ]

    outcomes = {o.check: o for o in check_engine(Sleepy)}
    assert outcomes["detects"].status == "passed"

    class Muddled(GoodEngine):
        min_history_span = 86_400  # type: ignore[assignment]  # (seconds, not a timedelta)

    assert "min_history_span must be a timedelta" in _failed(Muddled, CHECK_NAMES[0]).message


# --- the scorer's own checks (PointScoringEngine) -------------------------------


class StepScorer(PointScorer):
    """Distance from the previous point, in units of 2: alarms (0.5) at a jump of 2."""

    warmup_points = 1

    def __init__(self) -> None:
        self.last: float | None = None

    def update(self, x: float, t: int) -> float:
        prev, self.last = self.last, x
        if prev is None:
            return 0.0
        d = abs(x / 4.0 - prev / 4.0)  # (halved first: finite from -1e308 to 1e308)
        return d / (d + 1.0)


class StepEngine(PointScoringEngine):
    name: ClassVar[str] = "step"
    causal: ClassVar[bool] = True

    def __init__(self, *, window_size_points: int = 5, stride_points: int = 5) -> None:
        super().__init__(window_size_points=window_size_points, stride_points=stride_points)

    def scorer(self) -> PointScorer:
        return StepScorer()


def test_a_point_scoring_engine_passes_the_scorer_checks() -> None:
    status = _status(check_engine(StepEngine))
    assert status["update_many"] == status["checkpoint"] == status["detects"] == "passed"


def test_update_many_that_reads_the_next_point_fails() -> None:
    """A batch path that reads the next point escapes the cuts at a few windows; update_many catches it."""

    class PeekingScorer(StepScorer):
        def update_many(self, values: Sequence[float], stamps: Sequence[int]) -> list[float]:
            own = [self.update(x, t) for x, t in zip(values, stamps, strict=True)]
            return [max(a, b) for a, b in zip(own, [*own[1:], 0.0], strict=True)]

    class Peeking(StepEngine):
        def scorer(self) -> PointScorer:
            return PeekingScorer()

    message = _failed(Peeking, "update_many").message
    assert "update_many and update differ at point" in message and "not causal" in message


def test_a_stream_that_does_not_pickle_fails_checkpoint() -> None:
    class LockedScorer(StepScorer):
        def __init__(self) -> None:
            super().__init__()
            self.lock = threading.Lock()

    class Locked(StepEngine):
        def scorer(self) -> PointScorer:
            return LockedScorer()

    assert "does not pickle" in _failed(Locked, "checkpoint").message


def test_an_engine_that_never_alarms_fails_detects() -> None:
    """Scores halved: the planted events still rank first, but never reach the alarm line."""

    class HalvedScorer(StepScorer):
        def update(self, x: float, t: int) -> float:
            return super().update(x, t) / 2.0

    class Halved(StepEngine):
        def scorer(self) -> PointScorer:
            return HalvedScorer()

    assert "below the alarm line 0.5: the engine never alarms on them" in _failed(Halved, "detects").message


def test_short_series_fails_for_an_engine_that_raises_below_its_fitting_length() -> None:
    """Prefixes of every order of length are tried: a fit that needs 30 points must not raise on 20."""

    class NeedsThirty(GoodEngine):
        causal: ClassVar[bool] = False

        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            if 10 <= len(time_series) < 30:
                raise ValueError("need 30 points to fit")
            return super().detect(time_series)

    message = _failed(NeedsThirty, "short_series").message
    assert message == "detect() raised on a 10-point series: ValueError: need 30 points to fit"


def test_causality_compares_the_explanation_too() -> None:
    """A sentence built from points after the window changes when the series is cut there."""

    class TellsTheFuture(GoodEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            n = len(time_series)
            return [replace(r, explanation=f"{n} points in all") for r in super().detect(time_series)]

    message = _failed(TellsTheFuture, "causality").message
    assert "changed on the series cut after" in message and "explanation '" in message


def test_a_setting_kept_under_another_name_fails_construct() -> None:
    """repr, checkpoints and the MAX_POINTS bound read settings by their keywords: a renamed one fails."""

    class Renames(StepEngine):
        def __init__(self, *, lookback_points: int = 40, window_size_points: int = 5) -> None:
            self._lb = lookback_points
            super().__init__(window_size_points=window_size_points)

    assert "lookback_points=40" not in repr(Renames())
    message = _failed(Renames, "construct").message
    assert message.startswith(
        "setting 'lookback_points' (a keyword of Renames.__init__) is not kept as engine.lookback_points"
    )


def test_a_difference_from_detect_names_the_fields() -> None:
    """The stream, checkpoint and determinism checks name the field that differs, not two whole reprs."""

    class Relabels(GoodEngine):
        calls = 0

        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            Relabels.calls += 1
            out = super().detect(time_series)
            return [replace(r, explanation=str(Relabels.calls)) for r in out]

    message = _failed(Relabels, "determinism").message
    assert message.startswith("a second detect() on the same engine differs: results[0] (window ")
    assert re.search(r"\): explanation '\d+' -> '\d+'$", message), message
    assert "AnomalyResult(" not in message
