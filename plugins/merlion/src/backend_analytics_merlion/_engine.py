"""Merlion detectors as ``backend.analytics`` engines: ``merlion`` (in-sample) and ``merlion_causal``.

Models (``model=``)
    ``"zms"``: Merlion's ``ZMS`` (multi-lag z-score of differences; fast).
    ``"isolation_forest"``: Merlion's ``IsolationForest`` (sklearn forest on
    shingled differences; Merlion fixes ``random_state=0``).
    ``"default"``: Merlion's ``DefaultDetector`` (ensemble of AutoETS, random cut
    forest and ZMS). Its random cut forest runs in Java (needs ``java`` on PATH)
    and is unseeded in Merlion; this plugin subclasses ``DefaultDetector`` only to
    pass ``seed=`` to that forest, so results are reproducible.

Both engines are :class:`~backend.analytics.scoring.PointScoringEngine`\\ s: a
scorer turns a series' values into one score per point, and the base class
gives windows (a window scores its highest point), the 0.5 alarm line, labels,
magnitudes and sentences. Two engines, because ``causal`` is a class attribute
that the registry and the conformance kit read from the class:

* ``merlion`` (:class:`MerlionEngine`, ``causal = False``) is a batch model:
  its scorer trains on the whole series it is given and scores every point
  in-sample, so a point's score depends on points after it (through the fitted
  model and the calibration). ``detect`` gives the scorer the whole series in
  one call; there is no live form (``.stream()`` raises ``TypeError``), and a
  series shorter than ``min_train_points`` is not scored (every point 0).
* ``merlion_causal`` (:class:`MerlionCausalEngine`, ``causal = True``) trains
  on the first ``train_points`` points only (they score 0: its
  ``min_history_points``) and scores the rest as a continuation (Merlion's
  ``time_series_prev``, all earlier points), in chunks of ``chunk_points``
  whose borders are fixed from ``train_points`` on. A point is scored as soon
  as it arrives, with the points of its chunk up to it: Merlion's score of a
  point does not depend on later points of its chunk, bit for bit (the tests
  feed series in uneven pieces and one point at a time), so ``.stream()``
  gives exactly ``detect``'s results. For that the ensemble averages its
  members element by element (Merlion's ``Mean`` uses ``np.dot``, whose
  rounding depends on the chunk's length; the two agree to about 1e-16). A
  live stream keeps every point it has seen, because Merlion reads them all
  as context.

Conversion. ``MetricSeries`` epoch microseconds become a pandas
``DatetimeIndex`` (UTC, naive) and the values one column of a Merlion
``TimeSeries``. Values are first divided by the largest absolute value of the
training part (an exact rescaling that the models' own normalisation undoes),
so that 1e-300 and 1e308 data neither underflow nor overflow inside numpy; in
causal mode a later value more than 1e6 times that scale is held at +-1e6
(such a point is an outlier by any measure and scores near 1 anyway). Merlion
scores come back per timestamp and are mapped to the series' points by
timestamp (the last score at or before each point, as Merlion may resample);
a point before any score takes the score of the point before it (0 at first).

Calibration to [0, 1]. Merlion's own calibrator (``AnomScoreCalibrator``,
trained on the training scores) maps raw scores to ``z``, the absolute value of
a standard-normal quantile; its alarm rule (``alm_threshold``) is not used.
A point's score is ``z / (z + z_threshold)`` (``z_threshold`` default 3.0,
Merlion's ``alm_threshold``): 0.5, the alarm line, at ``z == z_threshold``.

Degenerate input. When the training part is constant (all Merlion normalisers
divide by its zero spread), Merlion is not called: a point equal to the
constant scores 0 and any other point 1.

Cost. ``zms`` and ``isolation_forest`` train and score a few thousand points in
well under a second; ``default`` takes seconds (AutoETS model selection plus a
100-tree forest in a JVM); see ``BENCHMARKS.md``. A live ``merlion_causal``
stream calls Merlion once per chunk that an update touches. Merlion's
pandas/numpy deprecation warnings are silenced inside these calls only.
"""

# Merlion, pandas and numpy are imported inside functions on purpose: the registry imports this
# module only to list engines, and loading Merlion takes about a second and warns.
# ruff: noqa: PLC0415

from __future__ import annotations

import atexit
import bisect
import contextlib
import functools
import importlib.util
import math
import subprocess
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from backend.analytics.scoring import PointScorer, PointScoringEngine, z_score_to_unit
from backend.analytics.validators import check_positive_int, check_positive_real, fail_type, fail_value

if importlib.util.find_spec("merlion") is None:  # fail at load time, so the registry reports it
    raise ModuleNotFoundError(
        "No module named 'merlion': install the plugin's dependencies with "
        "pip install 'salesforce-merlion==2.0.4' 'numpy<2' 'pandas<2.2' 'scipy<1.16'",
        name="merlion",
    )

__all__ = ["MODELS", "MerlionCausalEngine", "MerlionCausalScorer", "MerlionEngine", "MerlionInSampleScorer"]

MODELS: tuple[str, ...] = ("zms", "default", "isolation_forest")
_SATURATION = 1e6
_MIN_TRAIN = 32


def _stop_merlion_jvm() -> None:
    """Shut down the JVM that Merlion's random cut forest started, if it did.

    Merlion launches it through py4j without ``die_on_exit``, so it outlived
    the Python process that used ``model="default"`` (a JVM of about 800 MB
    left running after each such process, found after a CI run).
    """
    from merlion.models.anomaly.random_cut_forest import JVMSingleton

    gateway = JVMSingleton._gateway  # (Merlion keeps its one gateway there)
    if gateway is None:
        return
    JVMSingleton._gateway = None
    process = getattr(gateway, "java_process", None)
    with contextlib.suppress(Exception):  # (a JVM already gone: nothing to shut down)
        gateway.shutdown()
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a JVM that ignores SIGTERM is killed
            process.kill()


@functools.cache
def _stop_merlion_jvm_at_exit() -> None:
    """Register :func:`_stop_merlion_jvm` to run at interpreter exit (once)."""
    atexit.register(_stop_merlion_jvm)


def _make_model(model: str, seed: int) -> Any:
    """A fresh, untrained Merlion detector for ``model``."""
    if model == "zms":
        from merlion.models.anomaly.zms import ZMS, ZMSConfig

        return ZMS(ZMSConfig())
    if model == "isolation_forest":
        from merlion.models.anomaly.isolation_forest import IsolationForest, IsolationForestConfig

        return IsolationForest(IsolationForestConfig())
    _stop_merlion_jvm_at_exit()  # (its random cut forest starts a JVM that would outlive the process)
    import numpy as np
    from merlion.models.defaults import DefaultDetector, DefaultDetectorConfig
    from merlion.models.ensemble.combine import Mean
    from merlion.models.factory import ModelFactory
    from merlion.utils import UnivariateTimeSeries

    class ElementwiseMean(Mean):  # type: ignore[misc]
        """Merlion's ``Mean(abs_score=True)``, summed element by element instead of by ``np.dot``.

        ``np.dot`` (BLAS) may add the members' scores in a different order for a
        different number of points, so a chunk scored in pieces came out about
        1e-16 apart from the whole chunk; an elementwise weighted sum is the same
        for each point whatever the length, which lets ``merlion_causal`` stream.
        """

        def _combine_univariates(self, univariates: list[Any]) -> Any:
            non_none = [var for var in univariates if var is not None]
            weights = np.asarray(
                [w for w, var in zip(self.weights, univariates, strict=True) if var is not None]
            )
            weights = weights / weights.sum()
            rows = [var.np_values for var in non_none]
            signs = None
            if self.abs_score and sum(self.models_used) > 1:
                signs = np.median(np.sign(rows), axis=0)
                signs[signs == 0] = -1
                rows = [np.abs(row) for row in rows]
            total = weights[0] * rows[0]
            for w, row in zip(weights[1:], rows[1:], strict=True):
                total = total + w * row
            values = total if signs is None else signs * total
            return UnivariateTimeSeries(non_none[0].time_stamps, values, non_none[0].name)

    class SeededDefaultDetector(DefaultDetector):  # type: ignore[misc]
        """DefaultDetector whose univariate ensemble seeds the random cut forest and sums elementwise."""

        def train(self, train_data: Any, *args: Any, **kwargs: Any) -> Any:
            if train_data.dim > 1:
                return super().train(train_data, *args, **kwargs)
            resample = dict(name="TemporalResample", granularity=self.granularity)
            ensemble = ModelFactory.create(
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
            if type(ensemble.config.combiner) is Mean:  # Merlion's default Mean(abs_score=True)
                ensemble.config.combiner = ElementwiseMean(abs_score=ensemble.config.combiner.abs_score)
            self.model = ensemble
            # Skip DefaultDetector.train (it would rebuild an unseeded ensemble).
            return super(DefaultDetector, self).train(train_data, *args, **kwargs)

    return SeededDefaultDetector(DefaultDetectorConfig())


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence Merlion's pandas/numpy deprecation and runtime warnings inside its calls."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _frame(epoch_us: Sequence[int], scaled: Sequence[float]) -> Any:
    """A one-column pandas frame on a naive UTC ``DatetimeIndex``."""
    import pandas as pd

    index = pd.to_datetime(pd.Series(list(epoch_us), dtype="int64"), unit="us")
    return pd.DataFrame({"value": list(scaled)}, index=pd.DatetimeIndex(index))


def _to_z(calibrated: Any, epoch_us: Sequence[int], before: float) -> list[float]:
    """|calibrated score| at each of ``epoch_us``: the last score at or before it (else the one before)."""
    scores = calibrated.to_pd().iloc[:, 0]
    stamps = [int(t) for t in scores.index.asi8 // 1000] if len(scores) else []
    values = [abs(float(v)) for v in scores.to_numpy()]
    out = []
    for us in epoch_us:
        k = bisect.bisect_right(stamps, us) - 1
        z = values[k] if k >= 0 else before
        before = z if math.isfinite(z) else math.inf
        out.append(before)
    return out


def _scale(values: Sequence[float], reference: Sequence[float]) -> tuple[float, float, list[float]]:
    """``(lo, hi, scaled)``: the reference's range and ``values`` over its peak, held within +-1e6."""
    lo, hi = min(reference), max(reference)
    peak = max(abs(lo), abs(hi)) or 1.0
    return lo, hi, [min(_SATURATION, max(-_SATURATION, v / peak)) for v in values]


def _check_model(owner: str, model: object) -> str:
    expected = f"one of {', '.join(map(repr, MODELS))}"
    if not isinstance(model, str):
        fail_type(owner, "model", expected, model)
    if model not in MODELS:
        fail_value(owner, "model", expected, model)
    return model


def _check_seed(owner: str, seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        fail_type(owner, "seed", "an int", seed)
    return seed


class MerlionInSampleScorer(PointScorer):
    """Trains a Merlion model on a whole series and scores it in-sample: one ``update_many`` call.

    A batch scorer: it cannot score a value without the values after it, so
    :meth:`update` raises ``TypeError`` and a second :meth:`update_many`
    ``RuntimeError``. A series shorter than ``warmup_points``
    (``min_train_points``) scores 0 everywhere.
    """

    def __init__(self, model: str, z_threshold: float, seed: int, min_train_points: int) -> None:
        self.model = model
        self.z_threshold = z_threshold
        self.seed = seed
        self.warmup_points = min_train_points
        self._used = False

    def update(self, x: float, t: int) -> float:
        """Refused: an in-sample score depends on the whole series."""
        raise TypeError(
            "MerlionInSampleScorer.update: merlion trains on the whole series it scores (not causal), so "
            "it cannot score one value at a time; give the whole series to update_many"
        )

    def update_many(self, values: Sequence[float], stamps: Sequence[int]) -> list[float]:
        """Train on ``values`` and return their in-sample scores (once per scorer)."""
        if self._used:
            raise RuntimeError(
                "MerlionInSampleScorer.update_many: this scorer already scored a series; merlion scores "
                "one whole series per scorer (engine.scorer() gives a fresh one)"
            )
        self._used = True
        n = len(values)
        if n < self.warmup_points:
            return [0.0] * n
        lo, hi, scaled = _scale(values, values)
        if lo == hi:  # constant: Merlion's normalisers would divide by zero, and nothing is anomalous
            return [0.0] * n
        from merlion.post_process.calibrate import AnomScoreCalibrator
        from merlion.utils import TimeSeries

        model = _make_model(self.model, self.seed)
        with _quiet():
            raw = model.train(TimeSeries.from_pd(_frame(stamps, scaled)))
            model.config.enable_threshold = False  # keep Merlion's calibration, drop its alarm rule
            rule = model.post_rule
            if rule is None or not getattr(model.config, "enable_calibrator", False):
                # Ensembles (model="default") leave their in-sample output uncalibrated: fit Merlion's
                # calibrator on it, as the single models do on theirs.
                rule = AnomScoreCalibrator(max_score=1000)
                rule.train(raw)
            z = _to_z(rule(raw), stamps, 0.0)
        thr = self.z_threshold
        return [z_score_to_unit(v, thr) for v in z]


class MerlionCausalScorer(PointScorer):
    """Trains on the first ``train_points`` values, then scores each later value as it arrives.

    Later values are scored by chunks of ``chunk_points`` (borders fixed from
    ``train_points`` on), each a continuation of every value before it; a value
    is scored with the values of its chunk up to it, so :meth:`update` and
    :meth:`update_many` give the same scores however the values are split.
    """

    def __init__(
        self, model: str, z_threshold: float, seed: int, train_points: int, chunk_points: int
    ) -> None:
        self.model = model
        self.z_threshold = z_threshold
        self.seed = seed
        self.warmup_points = train_points
        self.chunk_points = chunk_points
        self._us: list[int] = []
        self._values: list[float] = []  # raw while training, then scaled
        self._merlion: Any = None
        self._rule: Any = None
        self._level: float | None = None  # a constant training part's value (Merlion not called)
        self._peak = 1.0  # the training part's largest |value|: the unit of the scaled values
        self._last_z = 0.0

    def update(self, x: float, t: int) -> float:
        """The score of ``x`` at ``t`` (0 while training)."""
        return self.update_many((x,), (t,))[0]

    def update_many(self, values: Sequence[float], stamps: Sequence[int]) -> list[float]:
        """The scores of ``values``: 0 for the training part, then Merlion's, chunk by chunk."""
        train, first = self.warmup_points, len(self._values)
        out: list[float] = []
        for x, t in zip(values, stamps, strict=True):
            self._us.append(t)
            if len(self._values) < train:
                self._values.append(x)
                out.append(0.0)
                if len(self._values) == train:
                    self._train()
            else:
                self._values.append(min(_SATURATION, max(-_SATURATION, x / self._peak)))
        scored_from = max(first, train)
        n = len(self._values)
        if scored_from >= n:
            return out
        if self._level is not None:
            level = self._level
            return out + [0.0 if v == level else 1.0 for v in self._values[scored_from:]]
        z: list[float] = []
        frame = _frame(self._us, self._values)
        p = scored_from
        while p < n:
            a = train + (p - train) // self.chunk_points * self.chunk_points  # this chunk's start
            b = min(n, a + self.chunk_points)
            z.extend(self._score(frame, a, p, b))
            p = b
        thr = self.z_threshold
        return out + [z_score_to_unit(v, thr) for v in z]

    def _train(self) -> None:
        from merlion.utils import TimeSeries

        lo, hi, scaled = _scale(self._values, self._values)
        self._peak = max(abs(lo), abs(hi)) or 1.0
        if lo == hi:  # constant: Merlion's normalisers would divide by zero
            self._level = scaled[0]
        else:
            self._merlion = _make_model(self.model, self.seed)
            with _quiet():
                self._merlion.train(TimeSeries.from_pd(_frame(self._us, scaled)))
            self._merlion.config.enable_threshold = False  # keep the calibration, drop the alarm rule
            self._rule = self._merlion.post_rule
        self._values = scaled

    def _score(self, frame: Any, a: int, p: int, b: int) -> list[float]:
        """|z| of points ``p..b-1``, scoring chunk points ``a..b-1`` after all points before ``a``."""
        from merlion.utils import TimeSeries

        with _quiet():
            raw = self._merlion.get_anomaly_score(
                TimeSeries.from_pd(frame.iloc[a:b]), time_series_prev=TimeSeries.from_pd(frame.iloc[:a])
            )
            calibrated = self._rule(raw) if self._rule is not None else raw
        z = _to_z(calibrated, self._us[p:b], self._last_z)
        self._last_z = z[-1]
        return z


class _MerlionSettings:
    """The settings both engines share, validated (not registered)."""

    def _settings(self, owner: str, model: object, z_threshold: object, seed: object) -> None:
        self.model = _check_model(owner, model)
        self.z_threshold = check_positive_real(owner, "z_threshold", z_threshold)
        self.seed = _check_seed(owner, seed)


class MerlionEngine(_MerlionSettings, PointScoringEngine):
    """Merlion detector trained on the series it scores (in-sample); ``causal = False``, no live form.

    Keywords: ``window_size_points`` (10), ``stride_points`` (5), ``model``
    (``"zms"``, ``"default"`` or ``"isolation_forest"``), ``z_threshold`` (3.0,
    the calibrated z that lands on the alarm line 0.5), ``seed`` (0, the random
    cut forest's seed for ``model="default"``), ``min_train_points`` (32:
    shorter series are not scored, every point 0), ``classify`` (True: label
    and explain anomalous windows with the ``ExplanationClassifier``).

    .. versionchanged:: 0.2.0
       A :class:`~backend.analytics.scoring.PointScoringEngine`; ``threshold``
       is now ``z_threshold``.
    """

    name: ClassVar[str] = "merlion"
    causal: ClassVar[bool] = False

    def __init__(
        self,
        *,
        window_size_points: int = 10,
        stride_points: int = 5,
        model: str = "zms",
        z_threshold: float = 3.0,
        seed: int = 0,
        min_train_points: int = _MIN_TRAIN,
        classify: bool = True,
    ) -> None:
        self._settings("MerlionEngine", model, z_threshold, seed)
        self.min_train_points = check_positive_int("MerlionEngine", "min_train_points", min_train_points)
        super().__init__(
            window_size_points=window_size_points, stride_points=stride_points, classify=classify
        )

    def scorer(self) -> MerlionInSampleScorer:
        """A fresh in-sample scorer for one whole series."""
        return MerlionInSampleScorer(self.model, self.z_threshold, self.seed, self.min_train_points)


class MerlionCausalEngine(_MerlionSettings, PointScoringEngine):
    """Merlion detector trained on the first ``train_points`` points, scoring the rest; causal.

    Keywords as :class:`MerlionEngine` (without ``min_train_points``), plus
    ``train_points`` (default 120, at least 32): the leading points used for
    training only (they score 0), and ``chunk_points`` (default 24): the later
    points are scored by Merlion in chunks of this many, each with all earlier
    points as history, so forecasting models predict at most this far ahead.
    ``.stream()`` gives ``detect``'s results live.

    .. versionchanged:: 0.2.0
       A :class:`~backend.analytics.scoring.PointScoringEngine` with a live
       ``.stream()``; ``threshold`` is now ``z_threshold``; windows cover the
       whole series (those of the training part score 0).
    """

    name: ClassVar[str] = "merlion_causal"
    causal: ClassVar[bool] = True

    def __init__(
        self,
        *,
        window_size_points: int = 10,
        stride_points: int = 5,
        model: str = "zms",
        z_threshold: float = 3.0,
        seed: int = 0,
        train_points: int = 120,
        chunk_points: int = 24,
        classify: bool = True,
    ) -> None:
        owner = "MerlionCausalEngine"
        self._settings(owner, model, z_threshold, seed)
        self.train_points = check_positive_int(owner, "train_points", train_points)
        if self.train_points < _MIN_TRAIN:
            fail_value(owner, "train_points", f"an int >= {_MIN_TRAIN}", train_points)
        self.chunk_points = check_positive_int(owner, "chunk_points", chunk_points)
        super().__init__(
            window_size_points=window_size_points, stride_points=stride_points, classify=classify
        )

    def scorer(self) -> MerlionCausalScorer:
        """A fresh scorer for one series."""
        return MerlionCausalScorer(
            self.model, self.z_threshold, self.seed, self.train_points, self.chunk_points
        )
