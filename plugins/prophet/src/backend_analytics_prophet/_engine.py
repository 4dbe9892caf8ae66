"""``ProphetEngine``: Prophet fitted on the history, windows scored by standardised forecast residuals.

Method. The first ``train_points`` points of a series are its history: Prophet
(Taylor & Letham 2018, "Forecasting at scale") is fitted on them by MAP
(L-BFGS in CmdStan, deterministic: Prophet sets the initial values itself).
Every later point is forecast from that fit (``yhat``), and its standardised
residual is ``r = (y - yhat) / sigma`` with ``sigma = sigma_obs * y_scale``:
Prophet's fitted observation-noise standard deviation in the series' units.
The forecast interval of width ``p`` is ``yhat +- Phi^-1((1 + p) / 2) * sigma``,
so ``|r|`` says how many interval half-widths per unit quantile a point lies
out; ``threshold = 3`` is a 99.73 % interval. This is the observation-noise
part of Prophet's own ``yhat_lower``/``yhat_upper``; the trend-change part,
which Prophet samples at random (``uncertainty_samples``), is left out so the
result is deterministic and a thousand draws cheaper. ``sigma`` is floored at
``1e-6 * y_scale`` so a noise-free history does not make every rounding
error an anomaly.

Refitting. By default Prophet is fitted once and forecasts the whole rest of
the series, which suits a short series: on a long one the forecast drifts away
and every later point looks anomalous. With ``refit_points = R`` the forecast
part is cut into blocks of ``R`` points from index ``train_points`` on, and
before each block Prophet is fitted again on the ``train_points`` points just
before it (a sliding history): each point is forecast at most ``R`` points
ahead, from the latest history. The block borders are fixed by
``train_points`` and ``R`` alone, so the result stays causal.

Windows and calibration. Windows of ``window_size_points`` advance by
``stride_points`` over the forecast part only (they start at index
``train_points``). A window's ``z`` is its largest ``|r|`` and
``anomaly_score = z / (z + threshold)``: 0.5 at ``z == threshold``, and
``score_threshold = 0.5`` (the label is not NORMAL exactly when the score is at
least 0.5). Anomalous windows are ``SPIKE`` when fewer than half their points
reach ``threshold``, else ``TREND``. ``magnitude = d / (d + y_range)`` with
``d`` the largest ``|y - yhat|`` and ``y_range`` the max - min of the history
its first point was forecast from: 0.5 means the window missed the forecast by
as much as that history's whole range.

Causal: a forecast depends only on its history and the point's timestamp, so
cutting the series after a window leaves its result unchanged. A series
shorter than ``train_points + window_size_points`` gives ``[]``.

Numerics. Values are divided by the largest absolute value of the first history
before fitting (Prophet rescales anyway), and later values more than 1e6 times
that scale are held at +-1e6 (an outlier by any measure), so data anywhere
from 1e-300 to 1e308 stays finite. A constant history is not fitted: a point
equal to the constant has ``z = 0``, any other ``z = inf`` (score 1.0).

Cost. One Prophet fit per ``detect`` call (one per block with
``refit_points``): about 0.1-1 s for a few hundred to a few thousand history
points on one core (plus about 1 s to import Prophet once), then a vectorised
forecast; see ``BENCHMARKS.md``. Seasonality settings
pass through to Prophet: ``daily_seasonality``, ``weekly_seasonality``,
``yearly_seasonality`` (``"auto"``, ``True``/``False`` or a Fourier order),
``seasonality_mode`` and ``changepoint_prior_scale``.
"""

# Prophet, pandas and numpy are imported inside functions on purpose: the registry imports this
# module only to list engines, and loading Prophet takes about a second.
# ruff: noqa: PLC0415

from __future__ import annotations

import importlib.util
import logging
import math
import warnings
from typing import ClassVar

from backend.analytics import AnomalyDetectionEngine, AnomalyResult, AnomalyType, MetricSeries
from backend.analytics.scoring import windows_from_z
from backend.analytics.windows import locate_window

if importlib.util.find_spec("prophet") is None:  # fail at load time, so the registry reports it
    raise ModuleNotFoundError(
        "No module named 'prophet': install the plugin's dependencies with pip install 'prophet>=1.1.5'",
        name="prophet",
    )

__all__ = ["ProphetEngine"]

_SATURATION = 1e6
_SIGMA_FLOOR = 1e-6
_MIN_TRAIN = 32
_SEASONALITY = ("daily_seasonality", "weekly_seasonality", "yearly_seasonality")


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"ProphetEngine: {name} must be a positive int, got {value!r} ({type(value).__name__})"
        )
    if value <= 0:
        raise ValueError(f"ProphetEngine: {name} must be a positive int, got {value!r}")
    return value


def _positive_real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"ProphetEngine: {name} must be a positive finite number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"ProphetEngine: {name} must be a positive finite number, got {value!r}")
    return float(value)


def _seasonality(name: str, value: object) -> str | bool | int:
    if isinstance(value, bool) or (isinstance(value, str) and value == "auto"):
        return value
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"ProphetEngine: {name} must be 'auto', a bool or a positive int, got {value!r}")
        return value
    raise TypeError(f"ProphetEngine: {name} must be 'auto', a bool or a positive int, got {value!r}")


class ProphetEngine(AnomalyDetectionEngine):
    """Prophet fitted on the first ``train_points`` points; later windows scored by residual; causal.

    Keywords: ``window_size_points`` (10), ``stride_points`` (5),
    ``train_points`` (120, at least 32), ``threshold`` (3.0: the standardised
    residual at which a window is anomalous), ``daily_seasonality``,
    ``weekly_seasonality``, ``yearly_seasonality`` (each ``"auto"``, a bool or
    a positive Fourier order; default ``"auto"``), ``seasonality_mode``
    (``"additive"`` or ``"multiplicative"``), ``changepoint_prior_scale``
    (0.05), ``refit_points`` (None: fit once; a positive int R: refit every R
    points on the ``train_points`` points before). See the module docstring
    for the method, calibration and cost.
    """

    name: ClassVar[str] = "prophet"
    causal: ClassVar[bool] = True
    score_threshold: ClassVar[float] = 0.5

    def __init__(
        self,
        *,
        window_size_points: int = 10,
        stride_points: int = 5,
        train_points: int = 120,
        threshold: float = 3.0,
        daily_seasonality: str | bool | int = "auto",
        weekly_seasonality: str | bool | int = "auto",
        yearly_seasonality: str | bool | int = "auto",
        seasonality_mode: str = "additive",
        changepoint_prior_scale: float = 0.05,
        refit_points: int | None = None,
    ) -> None:
        self.window_size_points = _positive_int("window_size_points", window_size_points)
        self.stride_points = _positive_int("stride_points", stride_points)
        self.train_points = _positive_int("train_points", train_points)
        if self.train_points < _MIN_TRAIN:
            raise ValueError(f"ProphetEngine: train_points must be >= {_MIN_TRAIN}, got {train_points!r}")
        self.threshold = _positive_real("threshold", threshold)
        self.daily_seasonality = _seasonality("daily_seasonality", daily_seasonality)
        self.weekly_seasonality = _seasonality("weekly_seasonality", weekly_seasonality)
        self.yearly_seasonality = _seasonality("yearly_seasonality", yearly_seasonality)
        modes = "'additive' or 'multiplicative'"
        if not isinstance(seasonality_mode, str):
            raise TypeError(f"ProphetEngine: seasonality_mode must be {modes}, got {seasonality_mode!r}")
        if seasonality_mode not in ("additive", "multiplicative"):
            raise ValueError(f"ProphetEngine: seasonality_mode must be {modes}, got {seasonality_mode!r}")
        self.seasonality_mode = seasonality_mode
        self.changepoint_prior_scale = _positive_real("changepoint_prior_scale", changepoint_prior_scale)
        self.refit_points = None if refit_points is None else _positive_int("refit_points", refit_points)

    def residuals(self, time_series: MetricSeries) -> tuple[list[float], list[float], list[float]]:
        """``(z, d, y_range)`` for the points after the first history, one entry each.

        ``z``: standardised absolute residuals (>= 0, ``inf`` allowed); ``d``:
        absolute residuals as a fraction of the first history's largest
        absolute value; ``y_range``: the (max - min) of the history each point
        was forecast from, in the same unit.
        """
        values = time_series.values.tolist()
        first = values[: self.train_points]
        peak = max(abs(min(first)), abs(max(first)))
        if peak == 0.0:  # an all-zero first history: any later value is its own scale
            peak = 1.0
        scaled = [min(_SATURATION, max(-_SATURATION, v / peak)) for v in values]
        stamps = list(time_series.epoch_us)
        n, train = len(values), self.train_points
        block = self.refit_points or n
        z: list[float] = []
        d: list[float] = []
        ranges: list[float] = []
        for a in range(train, n, block):
            b = min(n, a + block)
            history = scaled[a - train : a]
            later = scaled[a:b]
            lo, hi = min(history), max(history)
            if lo == hi:  # a constant history: Prophet's noise estimate would be degenerate
                z.extend(0.0 if v == lo else math.inf for v in later)
                d.extend(abs(v - lo) for v in later)
            else:
                yhat, sigma = self._fit_forecast(stamps[a - train : a], history, stamps[a:b])
                miss = [abs(y - f) for y, f in zip(later, yhat, strict=True)]
                z.extend(x / sigma for x in miss)
                d.extend(miss)
            ranges.extend([hi - lo] * (b - a))
        return z, d, ranges

    def _fit_forecast(
        self, history_us: list[int], history: list[float], future_us: list[int]
    ) -> tuple[list[float], float]:
        """Fit on ``history`` (scaled units); return the forecast at ``future_us`` and sigma."""
        import pandas as pd
        from prophet import Prophet

        def stamps(us: list[int]) -> object:
            return pd.to_datetime(pd.Series(us, dtype="int64"), unit="us").to_numpy()

        frame = pd.DataFrame({"ds": stamps(history_us), "y": history})
        future = pd.DataFrame({"ds": stamps(future_us)})
        quiet = logging.getLogger("cmdstanpy")
        level = quiet.level
        quiet.setLevel(logging.WARNING)  # one INFO line per fit otherwise
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                model = Prophet(
                    daily_seasonality=self.daily_seasonality,
                    weekly_seasonality=self.weekly_seasonality,
                    yearly_seasonality=self.yearly_seasonality,
                    seasonality_mode=self.seasonality_mode,
                    changepoint_prior_scale=self.changepoint_prior_scale,
                    uncertainty_samples=0,
                )
                model.fit(frame)
                forecast = model.predict(future)
        finally:
            quiet.setLevel(level)
        sigma_obs = float(model.params["sigma_obs"].reshape(-1)[0])
        sigma = max(sigma_obs, _SIGMA_FLOOR) * float(model.y_scale)
        return [float(v) for v in forecast["yhat"].to_numpy()], sigma

    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        """Score the windows after the history; ``[]`` when the series is too short."""
        n, size, first = len(time_series), self.window_size_points, self.train_points
        if n < first + size:
            return []
        z, d, y_range = self.residuals(time_series)

        def magnitude(start: int, stop: int) -> float:
            miss = max(d[start - first : stop - first])
            span = y_range[start - first]
            if span > 0.0:
                return miss / (miss + span)
            return 0.0 if miss == 0.0 else 1.0  # flat history: any miss is as large as it gets

        return windows_from_z(
            time_series,
            z,
            first=first,
            window_size_points=size,
            stride_points=self.stride_points,
            threshold=self.threshold,
            score_threshold=self.score_threshold,
            magnitude=magnitude,
        )

    def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
        """One sentence: how far the window's worst point missed Prophet's forecast, in noise units."""
        # Raises ValueError when the result's window holds no point of the series.
        locate_window(time_series, result.window_start, result.window_end)
        s = result.anomaly_score
        z_text = "infinitely many" if s >= 1.0 else f"{s * self.threshold / (1.0 - s):.3g}"
        verdict = "normal" if result.anomaly_label is AnomalyType.NORMAL else str(result.anomaly_label)
        return (
            f"{time_series.metric_name} on {time_series.node_id} between "
            f"{result.window_start.isoformat()} and {result.window_end.isoformat()} is {verdict}: "
            f"its worst point was {z_text} noise standard deviations from Prophet's forecast, "
            f"fitted on {self._history_text()} (alarm at {self.threshold:g})."
        )

    def _history_text(self) -> str:
        if self.refit_points is None:
            return f"the first {self.train_points} points"
        return f"the {self.train_points} points before each block of {self.refit_points}"
