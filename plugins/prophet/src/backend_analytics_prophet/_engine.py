"""``ProphetEngine``: Prophet fitted on the history, each later point scored by its standardised residual.

Method. The first ``train_points`` points of a series are its history: Prophet
(Taylor & Letham 2018, "Forecasting at scale") is fitted on them by MAP
(L-BFGS in CmdStan, deterministic: Prophet sets the initial values itself).
Every later point is forecast from that fit (``yhat``), and its standardised
residual is ``z = |y - yhat| / sigma`` with ``sigma = sigma_obs * y_scale``:
Prophet's fitted observation-noise standard deviation in the series' units.
The forecast interval of width ``p`` is ``yhat +- Phi^-1((1 + p) / 2) * sigma``,
so ``z`` says how many interval half-widths per unit quantile a point lies
out; ``z_threshold = 3`` is a 99.73 % interval. This is the observation-noise
part of Prophet's own ``yhat_lower``/``yhat_upper``; the trend-change part,
which Prophet samples at random (``uncertainty_samples``), is left out so the
result is deterministic and a thousand draws cheaper. ``sigma`` is floored at
``1e-6 * y_scale`` so a noise-free history does not make every rounding
error an anomaly.

The forecast of a point is Prophet's ``yhat`` evaluated from the fitted
parameters at that point's timestamp alone (piecewise-linear trend plus the
Fourier seasonalities, additive or multiplicative, exactly as
``Prophet.predict`` computes them; the tests compare the two). So a point is
scored the moment it arrives, the same way whether it comes in a batch or one
at a time: the engine is a :class:`~backend.analytics.scoring.PointScorer`
like any other, causal, with a live ``.stream()`` that gives exactly
``detect``'s results.

Refitting. By default Prophet is fitted once and forecasts the whole rest of
the series, which suits a short series: on a long one the forecast drifts away
and every later point looks anomalous. With ``refit_points = R`` the points
from index ``train_points`` on are cut into blocks of ``R``, and when the
first point of a block arrives Prophet is fitted again on the
``train_points`` points just before it (a sliding history): each point is
forecast at most ``R`` points ahead, from the latest history. The block
borders are fixed by ``train_points`` and ``R`` alone, so the result stays
causal.

Scores. A point's score is ``z / (z + z_threshold)``: 0.5, the alarm line, at
``z == z_threshold``. The points of the first history score 0 (the engine's
``min_history_points`` is ``train_points``). Windows, labels, magnitudes and
sentences come from :class:`~backend.analytics.scoring.PointScoringEngine`.

Numerics. Values are divided by the largest absolute value of the first history
before fitting (Prophet rescales anyway), and later values more than 1e6 times
that scale are held at +-1e6 (an outlier by any measure), so data anywhere
from 1e-300 to 1e308 stays finite. A constant history is not fitted: a point
equal to the constant has score 0, any other score 1.

Cost. One Prophet fit per series (one per block with ``refit_points``): about
0.1-1 s for a few hundred to a few thousand history points on one core (plus
about 1 s to import Prophet once); a forecast is a few dozen floating-point
operations per point. See ``BENCHMARKS.md``. Seasonality settings pass through
to Prophet: ``daily_seasonality``, ``weekly_seasonality``,
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
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from backend.analytics.scoring import PointScorer, PointScoringEngine, z_score_to_unit
from backend.analytics.validators import check_positive_int, check_positive_real, fail_type, fail_value

if importlib.util.find_spec("prophet") is None:  # fail at load time, so the registry reports it
    raise ModuleNotFoundError(
        "No module named 'prophet': install the plugin's dependencies with pip install 'prophet>=1.1.5'",
        name="prophet",
    )

__all__ = ["ProphetEngine", "ProphetForecast", "ProphetScorer"]

_OWNER = "ProphetEngine"
_SATURATION = 1e6
_SIGMA_FLOOR = 1e-6
_MIN_TRAIN = 32
_DAY_US = 86_400_000_000.0
_SEASONALITY_EXPECTED = "'auto', a bool or a positive int"


def _seasonality(name: str, value: object) -> str | bool | int:
    if isinstance(value, bool) or (isinstance(value, str) and value == "auto"):
        return value
    if isinstance(value, int):
        if value <= 0:
            fail_value(_OWNER, name, _SEASONALITY_EXPECTED, value)
        return value
    fail_type(_OWNER, name, _SEASONALITY_EXPECTED, value)


@dataclass(frozen=True)
class ProphetForecast:
    """A fitted Prophet model's ``yhat`` as a function of one timestamp (epoch microseconds).

    Built by :meth:`from_model` from the fitted parameters; :meth:`yhat`
    evaluates, for one point, what ``Prophet.predict`` evaluates for a frame
    (linear growth, seasonalities without conditions, no holidays or extra
    regressors: what :class:`ProphetEngine` configures).
    """

    start_us: float
    t_scale_us: float
    y_scale: float
    floor: float
    k: float
    m: float
    changepoints: tuple[tuple[float, float], ...]  # (t, delta) in ascending t
    #: (period in days, Fourier order, additive?) per seasonality, in Prophet's column order.
    seasons: tuple[tuple[float, int, bool], ...]
    beta: tuple[float, ...]
    sigma: float

    @classmethod
    def from_model(cls, model: Any) -> ProphetForecast:
        """The forecast of a fitted ``prophet.Prophet`` (linear growth, plain seasonalities)."""
        import numpy as np

        if model.growth != "linear" or model.holidays is not None or model.extra_regressors:
            raise RuntimeError(
                "ProphetForecast: only linear growth without holidays or regressors is supported"
            )
        seasons = []
        for name, props in model.seasonalities.items():
            if props["condition_name"] is not None:
                raise RuntimeError(f"ProphetForecast: conditional seasonality {name!r} is not supported")
            seasons.append((float(props["period"]), int(props["fourier_order"]), props["mode"] == "additive"))
        beta = [float(b) for b in np.nanmean(model.params["beta"], axis=0)]
        width = sum(2 * order for _, order, _ in seasons)
        if len(beta) != max(width, 1):  # Prophet adds one all-zero column when there is no seasonality
            raise RuntimeError(f"ProphetForecast: {len(beta)} coefficients for {width} seasonal features")
        deltas = np.nanmean(model.params["delta"], axis=0)
        y_scale = float(model.y_scale)
        sigma_obs = float(np.nanmean(model.params["sigma_obs"]))
        return cls(
            start_us=model.start.value / 1000.0,
            t_scale_us=model.t_scale.value / 1000.0,
            y_scale=y_scale,
            floor=float(model.y_min) if model.scaling == "minmax" else 0.0,
            k=float(np.nanmean(model.params["k"])),
            m=float(np.nanmean(model.params["m"])),
            changepoints=tuple(
                (float(c), float(d)) for c, d in zip(model.changepoints_t, deltas, strict=True)
            ),
            seasons=tuple(seasons),
            beta=tuple(beta[:width]),
            sigma=max(sigma_obs, _SIGMA_FLOOR) * y_scale,
        )

    def yhat(self, t_us: int) -> float:
        """Prophet's point forecast at ``t_us``: ``trend * (1 + multiplicative) + additive``."""
        t = (t_us - self.start_us) / self.t_scale_us
        k, m = self.k, self.m
        for c, delta in self.changepoints:
            if c > t:
                break
            k += delta
            m -= c * delta
        trend = (k * t + m) * self.y_scale + self.floor
        additive = multiplicative = 0.0
        x = 2.0 * math.pi * (t_us / _DAY_US)
        j = 0
        beta = self.beta
        for period, order, is_additive in self.seasons:
            part = 0.0
            for i in range(order):
                c = (i + 1) / period * x
                part += math.sin(c) * beta[j] + math.cos(c) * beta[j + 1]
                j += 2
            if is_additive:
                additive += part
            else:
                multiplicative += part
        return trend * (1.0 + multiplicative) + additive * self.y_scale


class ProphetScorer(PointScorer):
    """Prophet fitted on the first ``train_points`` values (and refitted every ``refit_points``)."""

    def __init__(self, engine: ProphetEngine) -> None:
        self.engine = engine
        self.train_points = engine.train_points
        self.warmup_points = engine.train_points
        self.z_threshold = engine.z_threshold
        self.refit_points = engine.refit_points
        self._n = 0
        self._peak = 0.0
        self._raw: list[tuple[int, float]] = []  # the first history, before its scale is known
        self._history: deque[tuple[int, float]] = deque(maxlen=engine.train_points)  # scaled
        self._forecast: ProphetForecast | None = None
        self._level: float | None = None  # a constant history's value (not fitted)

    def update(self, x: float, t: int) -> float:
        """The score of ``x`` at ``t``: 0 during the first history, then its residual's."""
        n, train = self._n, self.train_points
        self._n = n + 1
        if n < train:
            self._raw.append((t, x))
            if n + 1 == train:
                peak = max(abs(v) for _, v in self._raw)
                self._peak = peak if peak > 0.0 else 1.0  # an all-zero history: later values set the scale
                self._history.extend((s, self._scale(v)) for s, v in self._raw)
                self._raw = []
            return 0.0
        if n == train or (self.refit_points is not None and (n - train) % self.refit_points == 0):
            self._fit()
        y = self._scale(x)
        self._history.append((t, y))
        if self._level is not None:
            return 0.0 if y == self._level else 1.0
        forecast = self._forecast
        assert forecast is not None  # fitted above
        return z_score_to_unit(abs(y - forecast.yhat(t)) / forecast.sigma, self.z_threshold)

    def update_many(self, values: Sequence[float], stamps: Sequence[int]) -> list[float]:
        """The scores of ``values`` (the same loop as :meth:`update`: one fit per block)."""
        update = self.update
        return [update(x, t) for x, t in zip(values, stamps, strict=True)]

    def _scale(self, x: float) -> float:
        return min(_SATURATION, max(-_SATURATION, x / self._peak))

    def _fit(self) -> None:
        stamps = [t for t, _ in self._history]
        values = [v for _, v in self._history]
        lo, hi = min(values), max(values)
        if lo == hi:  # a constant history: Prophet's noise estimate would be degenerate
            self._level, self._forecast = lo, None
            return
        self._level = None
        self._forecast = ProphetForecast.from_model(self.engine.fit(stamps, values))


class ProphetEngine(PointScoringEngine):
    """Prophet fitted on the first ``train_points`` points; later points scored by residual; causal.

    Keywords: ``window_size_points`` (10), ``stride_points`` (5),
    ``train_points`` (120, at least 32), ``z_threshold`` (3.0: the
    standardised residual that lands on the alarm line 0.5),
    ``daily_seasonality``, ``weekly_seasonality``, ``yearly_seasonality``
    (each ``"auto"``, a bool or a positive Fourier order; default ``"auto"``),
    ``seasonality_mode`` (``"additive"`` or ``"multiplicative"``),
    ``changepoint_prior_scale`` (0.05), ``refit_points`` (None: fit once; a
    positive int R: refit every R points on the ``train_points`` points
    before), ``classify`` (True: label and explain anomalous windows with the
    ``ExplanationClassifier``). See the module docstring for the method.

    .. versionchanged:: 0.2.0
       A :class:`~backend.analytics.scoring.PointScoringEngine` with a live
       ``.stream()``; ``threshold`` is now ``z_threshold``; windows cover the
       whole series (those of the first history score 0).
    """

    name: ClassVar[str] = "prophet"
    causal: ClassVar[bool] = True

    def __init__(
        self,
        *,
        window_size_points: int = 10,
        stride_points: int = 5,
        train_points: int = 120,
        z_threshold: float = 3.0,
        daily_seasonality: str | bool | int = "auto",
        weekly_seasonality: str | bool | int = "auto",
        yearly_seasonality: str | bool | int = "auto",
        seasonality_mode: str = "additive",
        changepoint_prior_scale: float = 0.05,
        refit_points: int | None = None,
        classify: bool = True,
    ) -> None:
        self.train_points = check_positive_int(_OWNER, "train_points", train_points)
        if self.train_points < _MIN_TRAIN:
            fail_value(_OWNER, "train_points", f"an int >= {_MIN_TRAIN}", train_points)
        self.z_threshold = check_positive_real(_OWNER, "z_threshold", z_threshold)
        self.daily_seasonality = _seasonality("daily_seasonality", daily_seasonality)
        self.weekly_seasonality = _seasonality("weekly_seasonality", weekly_seasonality)
        self.yearly_seasonality = _seasonality("yearly_seasonality", yearly_seasonality)
        modes = "'additive' or 'multiplicative'"
        if not isinstance(seasonality_mode, str):
            fail_type(_OWNER, "seasonality_mode", modes, seasonality_mode)
        if seasonality_mode not in ("additive", "multiplicative"):
            fail_value(_OWNER, "seasonality_mode", modes, seasonality_mode)
        self.seasonality_mode = seasonality_mode
        self.changepoint_prior_scale = check_positive_real(
            _OWNER, "changepoint_prior_scale", changepoint_prior_scale
        )
        self.refit_points = (
            None if refit_points is None else check_positive_int(_OWNER, "refit_points", refit_points)
        )
        super().__init__(
            window_size_points=window_size_points, stride_points=stride_points, classify=classify
        )

    def scorer(self) -> ProphetScorer:
        """A fresh scorer for one series."""
        return ProphetScorer(self)

    def fit(self, stamps_us: list[int], values: list[float]) -> Any:
        """A ``prophet.Prophet`` with this engine's settings, fitted on ``values`` at ``stamps_us``."""
        import pandas as pd
        from prophet import Prophet

        ds = pd.to_datetime(pd.Series(stamps_us, dtype="int64"), unit="us")
        frame = pd.DataFrame({"ds": ds, "y": values})
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
        finally:
            quiet.setLevel(level)
        return model
