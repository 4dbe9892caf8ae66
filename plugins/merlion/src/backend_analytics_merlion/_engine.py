"""Merlion detectors as ``backend.analytics`` engines: ``merlion`` (in-sample) and ``merlion_causal``.

Models (``model=``)
    ``"zms"``: Merlion's ``ZMS`` (multi-lag z-score of differences; fast).
    ``"isolation_forest"``: Merlion's ``IsolationForest`` (sklearn forest on
    shingled differences; Merlion fixes ``random_state=0``).
    ``"default"``: Merlion's ``DefaultDetector`` (ensemble of AutoETS, random cut
    forest and ZMS). Its random cut forest runs in Java (needs ``java`` on PATH)
    and is unseeded in Merlion; this plugin subclasses ``DefaultDetector`` only to
    pass ``seed=`` to that forest, so results are reproducible.

Two engines, because ``causal`` is a class attribute that the registry and the
conformance kit read from the class:

* ``merlion`` (:class:`MerlionEngine`, ``causal = False``) trains on the whole
  series it scores and scores every point in-sample: a point's score depends
  on points after it (through the fitted model and the calibration).
* ``merlion_causal`` (:class:`MerlionCausalEngine`, ``causal = True``) trains
  on the first ``train_points`` points only and scores the rest as a
  continuation (Merlion's ``time_series_prev``); results are given for windows
  of the scored part only, which start at index ``train_points``. Cutting the
  series after such a window leaves its result unchanged.

Conversion. ``MetricSeries`` epoch microseconds become a pandas
``DatetimeIndex`` (UTC, naive) and the values one column of a Merlion
``TimeSeries``. Values are first divided by the largest absolute value of the
training part (an exact rescaling that the models' own normalisation undoes),
so that 1e-300 and 1e308 data neither underflow nor overflow inside numpy; in
causal mode a later value more than 1e6 times that scale is held at +-1e6
(such a point is an outlier by any measure and scores near 1 anyway). Merlion
scores come back per timestamp and are mapped to the series' points by
timestamp (the last score at or before each point, as Merlion may resample);
a point before any score has score 0.

Calibration to [0, 1]. Merlion's own calibrator (``AnomScoreCalibrator``,
trained on the training scores) maps raw scores to ``z``, the absolute value of
a standard-normal quantile; its alarm rule (``alm_threshold``) is not used. A
window's ``z`` is the largest over its points, and
``anomaly_score = z / (z + threshold)`` (``threshold`` default 3.0, Merlion's
``alm_threshold``), so the score is 0.5 at ``z == threshold``;
``score_threshold = 0.5``: the label is not NORMAL exactly when the score is at
least 0.5. Anomalous windows are ``SPIKE`` when fewer than half their points
reach ``threshold``, else ``TREND``. ``magnitude`` is not computed (``None``).

Degenerate input. When the training part is constant (all Merlion normalisers
divide by its zero spread), Merlion is not called: a point equal to the
constant has ``z = 0`` and any other point ``z = inf`` (score 1.0). A series
too short to train on (fewer than ``min_train_points`` points for
``merlion``; fewer than ``train_points + window_size_points`` for
``merlion_causal``) gives ``[]``.

Cost. ``zms`` and ``isolation_forest`` train and score a few thousand points in
well under a second; ``default`` takes seconds (AutoETS model selection plus a
100-tree forest in a JVM); see ``BENCHMARKS.md``. Merlion's pandas/numpy
deprecation warnings are silenced inside these calls only.
"""

# Merlion, pandas and numpy are imported inside functions on purpose: the registry imports this
# module only to list engines, and loading Merlion takes about a second and warns.
# ruff: noqa: PLC0415

from __future__ import annotations

import bisect
import importlib.util
import math
import warnings
from typing import Any, ClassVar

from backend.analytics import AnomalyDetectionEngine, AnomalyResult, AnomalyType, MetricSeries
from backend.analytics.scoring import windows_from_z
from backend.analytics.windows import locate_window

if importlib.util.find_spec("merlion") is None:  # fail at load time, so the registry reports it
    raise ModuleNotFoundError(
        "No module named 'merlion': install the plugin's dependencies with "
        "pip install 'salesforce-merlion==2.0.4' 'numpy<2' 'pandas<2.2' 'scipy<1.16'",
        name="merlion",
    )

__all__ = ["MODELS", "MerlionCausalEngine", "MerlionEngine"]

MODELS: tuple[str, ...] = ("zms", "default", "isolation_forest")
_SATURATION = 1e6


def _positive_int(owner: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}: {name} must be a positive int, got {value!r} ({type(value).__name__})")
    if value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return value


def _make_model(model: str, seed: int) -> Any:
    """A fresh, untrained Merlion detector for ``model``."""
    if model == "zms":
        from merlion.models.anomaly.zms import ZMS, ZMSConfig

        return ZMS(ZMSConfig())
    if model == "isolation_forest":
        from merlion.models.anomaly.isolation_forest import IsolationForest, IsolationForestConfig

        return IsolationForest(IsolationForestConfig())
    from merlion.models.defaults import DefaultDetector, DefaultDetectorConfig
    from merlion.models.factory import ModelFactory

    class SeededDefaultDetector(DefaultDetector):  # type: ignore[misc]
        """DefaultDetector whose univariate ensemble passes ``seed`` to the random cut forest."""

        def train(self, train_data: Any, *args: Any, **kwargs: Any) -> Any:
            if train_data.dim > 1:
                return super().train(train_data, *args, **kwargs)
            resample = dict(name="TemporalResample", granularity=self.granularity)
            self.model = ModelFactory.create(
                "DetectorEnsemble",
                models=[
                    ModelFactory.create("AutoETS", model=dict(name="ETSDetector"), transform=resample),
                    ModelFactory.create(
                        "RandomCutForest",
                        online_updates=True,
                        parallel=False,
                        n_estimators=100,
                        max_n_samples=512,
                        seed=seed,
                    ),
                    ModelFactory.create("ZMS", n_lags=3, transform=resample),
                ],
                **self.config.model_kwargs,
            )
            # Skip DefaultDetector.train (it would rebuild an unseeded ensemble).
            return super(DefaultDetector, self).train(train_data, *args, **kwargs)

    return SeededDefaultDetector(DefaultDetectorConfig())


def _merlion_z(
    epoch_us: list[int], scaled: list[float], model_name: str, seed: int, train_n: int, chunk_points: int
) -> list[float]:
    """Calibrated |z| for the points ``[train_n or 0, n)`` (in-sample when ``train_n == n``)."""
    import pandas as pd
    from merlion.utils import TimeSeries, UnivariateTimeSeries

    n = len(scaled)
    index = pd.to_datetime(pd.Series(epoch_us, dtype="int64"), unit="us")
    frame = pd.DataFrame({"value": scaled}, index=pd.DatetimeIndex(index))
    model = _make_model(model_name, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        if train_n >= n:
            first = 0
            raw = model.train(TimeSeries.from_pd(frame))
            model.config.enable_threshold = False  # keep Merlion's calibration, drop its alarm rule
            rule = model.post_rule
            if rule is None or not getattr(model.config, "enable_calibrator", False):
                # Ensembles (model="default") leave their in-sample output uncalibrated: fit Merlion's
                # calibrator on it, as the single models do on theirs.
                from merlion.post_process.calibrate import AnomScoreCalibrator

                rule = AnomScoreCalibrator(max_score=1000)
                rule.train(raw)
            calibrated = rule(raw)
        else:
            first = train_n
            model.train(TimeSeries.from_pd(frame.iloc[:train_n]))
            model.config.enable_threshold = False
            rule = model.post_rule
            parts = []
            # Score in chunks, each a continuation of everything before it (time_series_prev), as
            # Merlion's own evaluator does: forecasting members (AutoETS) then forecast a chunk
            # ahead instead of the whole remainder. Chunk borders are fixed from train_n on, and no
            # point's score depends on later points of its chunk, so the result stays causal.
            for a in range(train_n, n, chunk_points):
                b = min(n, a + chunk_points)
                prev = TimeSeries.from_pd(frame.iloc[:a])
                parts.append(
                    model.get_anomaly_score(TimeSeries.from_pd(frame.iloc[a:b]), time_series_prev=prev)
                )
            joined = pd.concat([p.to_pd().iloc[:, 0] for p in parts])
            raw = UnivariateTimeSeries.from_pd(joined, name="anom_score").to_ts()
            calibrated = rule(raw) if rule is not None else raw
        scores = calibrated.to_pd().iloc[:, 0]
    stamps = [int(t) for t in scores.index.asi8 // 1000] if len(scores) else []
    values = [abs(float(v)) for v in scores.to_numpy()]
    out = []
    for us in epoch_us[first:]:
        k = bisect.bisect_right(stamps, us) - 1
        z = values[k] if k >= 0 else 0.0
        out.append(z if math.isfinite(z) else math.inf)
    return out


class _MerlionBase(AnomalyDetectionEngine):
    """Shared configuration, windows and calibration of the two Merlion engines (not registered)."""

    score_threshold: ClassVar[float] = 0.5
    _owner: ClassVar[str] = "MerlionEngine"

    def __init__(
        self,
        *,
        window_size_points: int = 10,
        stride_points: int = 5,
        model: str = "zms",
        threshold: float = 3.0,
        seed: int = 0,
    ) -> None:
        owner = self._owner
        self.window_size_points = _positive_int(owner, "window_size_points", window_size_points)
        self.stride_points = _positive_int(owner, "stride_points", stride_points)
        if not isinstance(model, str):
            raise TypeError(f"{owner}: model must be one of {', '.join(MODELS)}, got {model!r}")
        if model not in MODELS:
            raise ValueError(f"{owner}: model must be one of {', '.join(MODELS)}, got {model!r}")
        self.model = model
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise TypeError(f"{owner}: threshold must be a positive finite number, got {threshold!r}")
        if not (math.isfinite(threshold) and threshold > 0):
            raise ValueError(f"{owner}: threshold must be a positive finite number, got {threshold!r}")
        self.threshold = float(threshold)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"{owner}: seed must be an int, got {seed!r}")
        self.seed = seed

    # -- subclass hooks ----------------------------------------------------
    def _train_points(self, n: int) -> int:
        """How many leading points train the model (``n``: train on all, score in-sample)."""
        raise NotImplementedError

    def _too_short(self, n: int) -> bool:
        raise NotImplementedError

    def _chunk_points(self) -> int:
        return 1

    # -- scoring -----------------------------------------------------------
    def point_scores(self, time_series: MetricSeries) -> tuple[int, list[float]]:
        """``(first, z)``: calibrated |z| (>= 0, ``inf`` allowed) for points ``first..n-1``."""
        values = time_series.values.tolist()
        n = len(values)
        train_n = self._train_points(n)
        reference = values[:train_n]
        first = 0 if train_n >= n else train_n
        lo, hi = min(reference), max(reference)
        if lo == hi:  # flat training data: Merlion's normalisers would divide by zero
            return first, [0.0 if v == lo else math.inf for v in values[first:]]
        peak = max(abs(lo), abs(hi))
        scaled = [min(_SATURATION, max(-_SATURATION, v / peak)) for v in values]
        return first, _merlion_z(
            list(time_series.epoch_us), scaled, self.model, self.seed, train_n, self._chunk_points()
        )

    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        """Score windows (see the module docstring); ``[]`` when the series is too short."""
        n = len(time_series)
        if self._too_short(n):
            return []
        first, z = self.point_scores(time_series)
        return windows_from_z(
            time_series,
            z,
            first=first,
            window_size_points=self.window_size_points,
            stride_points=self.stride_points,
            threshold=self.threshold,
            score_threshold=self.score_threshold,
        )

    def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
        """One sentence: the window's largest calibrated Merlion score and where it was."""
        # Raises ValueError when the result's window holds no point of the series.
        locate_window(time_series, result.window_start, result.window_end)
        # Invert the calibration rather than refit: score = z / (z + threshold).
        s = result.anomaly_score
        z_text = "infinitely many" if s >= 1.0 else f"{s * self.threshold / (1.0 - s):.3g}"
        verdict = "normal" if result.anomaly_label is AnomalyType.NORMAL else str(result.anomaly_label)
        return (
            f"{time_series.metric_name} on {time_series.node_id} between "
            f"{result.window_start.isoformat()} and {result.window_end.isoformat()} is {verdict}: "
            f"Merlion {self.model} scored its most unusual point {z_text} standard-normal units "
            f"(alarm at {self.threshold:g})."
        )


class MerlionEngine(_MerlionBase):
    """Merlion detector trained on the series it scores (in-sample); ``causal = False``.

    Keywords: ``window_size_points`` (10), ``stride_points`` (5), ``model``
    (``"zms"``, ``"default"`` or ``"isolation_forest"``), ``threshold`` (3.0,
    calibrated z at which a window is anomalous), ``seed`` (0, the random cut
    forest's seed for ``model="default"``), ``min_train_points`` (32: shorter
    series give ``[]``).
    """

    name: ClassVar[str] = "merlion"
    causal: ClassVar[bool] = False
    _owner: ClassVar[str] = "MerlionEngine"

    def __init__(
        self,
        *,
        window_size_points: int = 10,
        stride_points: int = 5,
        model: str = "zms",
        threshold: float = 3.0,
        seed: int = 0,
        min_train_points: int = 32,
    ) -> None:
        super().__init__(
            window_size_points=window_size_points,
            stride_points=stride_points,
            model=model,
            threshold=threshold,
            seed=seed,
        )
        self.min_train_points = _positive_int(self._owner, "min_train_points", min_train_points)

    def _train_points(self, n: int) -> int:
        return n

    def _too_short(self, n: int) -> bool:
        return n < max(self.window_size_points, self.min_train_points)


class MerlionCausalEngine(_MerlionBase):
    """Merlion detector trained on the first ``train_points`` points, scoring the rest; causal.

    Keywords as :class:`MerlionEngine` (without ``min_train_points``), plus
    ``train_points`` (default 120, at least 32): the leading points used for
    training only, and ``chunk_points`` (default 24): the scored part is fed to
    Merlion in chunks of this many points, each with all earlier points as
    history, so forecasting models predict at most this far ahead. Results cover the
    windows of the scored part, which start at index ``train_points``; a series
    shorter than ``train_points + window_size_points`` gives ``[]``.
    """

    name: ClassVar[str] = "merlion_causal"
    causal: ClassVar[bool] = True
    _owner: ClassVar[str] = "MerlionCausalEngine"

    def __init__(
        self,
        *,
        window_size_points: int = 10,
        stride_points: int = 5,
        model: str = "zms",
        threshold: float = 3.0,
        seed: int = 0,
        train_points: int = 120,
        chunk_points: int = 24,
    ) -> None:
        super().__init__(
            window_size_points=window_size_points,
            stride_points=stride_points,
            model=model,
            threshold=threshold,
            seed=seed,
        )
        self.train_points = _positive_int(self._owner, "train_points", train_points)
        if self.train_points < 32:
            raise ValueError(f"{self._owner}: train_points must be >= 32, got {train_points!r}")
        self.chunk_points = _positive_int(self._owner, "chunk_points", chunk_points)

    def _chunk_points(self) -> int:
        return self.chunk_points

    def _train_points(self, n: int) -> int:
        return self.train_points

    def _too_short(self, n: int) -> bool:
        return n < self.train_points + self.window_size_points
