"""Unit tests of the data contracts in backend.analytics.types."""

from __future__ import annotations

import json
import math
import pickle
import re
from array import array
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.analytics import (
    AggregatedAnomalyScore,
    AggregationStrategy,
    AnomalyResult,
    AnomalyType,
    MetricSeries,
)
from backend.analytics.types import datetime_to_epoch_us, epoch_us_to_datetime

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)


def stamps(n: int, step: int = 60) -> list[datetime]:
    return [T0 + timedelta(seconds=step * i) for i in range(n)]


def make(values: list[float], **kw: object) -> MetricSeries:
    return MetricSeries("acme", "c-1", "n-1", "cpu", stamps(len(values)), values, **kw)  # type: ignore[arg-type]


class TestMetricSeriesValid:
    def test_access_gives_datetime_and_float(self) -> None:
        """Indexing hands out UTC datetimes and floats, whatever went in."""
        s = make([1, Fraction(1, 2), Decimal("2.5")])  # type: ignore[list-item]
        assert s.values[0] == 1.0 and type(s.values[0]) is float
        assert s.values.tolist() == [1.0, 0.5, 2.5]
        assert s.timestamps[2] == T0 + timedelta(minutes=2)
        assert s.timestamps[2].tzinfo is not None
        assert list(s.timestamps) == stamps(3)
        assert len(s) == 3

    def test_empty_series(self) -> None:
        """A series may be empty when both sequences are."""
        s = MetricSeries("t", "c", "n", "m", [], [])
        assert len(s) == 0 and list(s.timestamps) == []

    def test_copies_its_input(self) -> None:
        """Later changes to the caller's lists do not reach the series."""
        ts, vals = stamps(3), [1.0, 2.0, 3.0]
        s = MetricSeries("t", "c", "n", "m", ts, vals)
        vals[0] = 99.0
        ts[0] = T0 - timedelta(days=1)
        assert s.values[0] == 1.0 and s.timestamps[0] == T0

    def test_is_immutable(self) -> None:
        """Fields and the value views cannot be reassigned or mutated."""
        s = make([1.0, 2.0])
        with pytest.raises(AttributeError):
            s.tenant_id = "other"  # type: ignore[misc]
        with pytest.raises(TypeError):
            s.values[0] = 5.0  # type: ignore[index]
        with pytest.raises(AttributeError):
            s.values._data = array("d")
        with pytest.raises(TypeError):
            s.epoch_us[0] = 1

    def test_offsets_normalised_to_utc_and_compared_as_instants(self) -> None:
        """Equal instants with different offsets are duplicates; order is by instant."""
        plus2 = timezone(timedelta(hours=2))
        same_instant = (T0 + timedelta(minutes=1)).astimezone(plus2)
        with pytest.raises(ValueError, match=r"timestamps\[1\]: expected strictly ascending"):
            MetricSeries("t", "c", "n", "m", [T0 + timedelta(minutes=1), same_instant], [1, 2])
        s = MetricSeries("t", "c", "n", "m", [T0, same_instant], [1, 2])
        assert s.timestamps[1] == same_instant and s.timestamps[1].utcoffset() == timedelta(0)

    def test_extreme_values_are_valid(self) -> None:
        """Finite values over the whole double range are accepted exactly."""
        vals = [1e-300, -1.7976931348623157e308, 5e-324, 0.0]
        assert make(vals).values.tolist() == vals

    def test_from_arrays_matches_constructor(self) -> None:
        """The fast path builds an equal series from epoch microseconds."""
        s = make([1.0, 2.0, 3.0])
        us = array("q", s.epoch_us)
        fast = MetricSeries.from_arrays("acme", "c-1", "n-1", "cpu", us, array("d", [1, 2, 3]))
        assert fast == s and hash(fast) == hash(s)
        us[0] = 0
        assert fast.epoch_us[0] != 0

    def test_slice(self) -> None:
        """slice() cuts like Python slicing and keeps ids."""
        s = make([1.0, 2.0, 3.0, 4.0])
        cut = s.slice(1, 3)
        assert cut.values.tolist() == [2.0, 3.0] and cut.ids == s.ids
        assert cut.timestamps[0] == s.timestamps[1]

    def test_metadata_is_read_only_copy(self) -> None:
        """Metadata is copied and exposed read-only."""
        meta = {"unit": "%", "host_count": 3}
        s = make([1.0], metadata=meta)
        meta["unit"] = "ms"
        assert s.metadata == {"unit": "%", "host_count": 3}
        with pytest.raises(TypeError):
            s.metadata["unit"] = "x"  # type: ignore[index]

    def test_pickle_round_trip(self) -> None:
        """A series survives pickling (for multiprocessing users)."""
        s = make([1.0, 2.5])
        assert pickle.loads(pickle.dumps(s)) == s


class TestMetricSeriesInvalid:
    @pytest.mark.parametrize("field", ["tenant_id", "cluster_id", "node_id", "metric_name"])
    def test_empty_id(self, field: str) -> None:
        """An empty id is a ValueError naming the field."""
        args = {"tenant_id": "t", "cluster_id": "c", "node_id": "n", "metric_name": "m"}
        args[field] = ""
        with pytest.raises(ValueError, match=f"MetricSeries: {field} must be a non-empty str, got ''"):
            MetricSeries(**args, timestamps=[], values=[])  # type: ignore[arg-type]

    def test_non_str_id(self) -> None:
        """A non-str id is a TypeError naming the field."""
        with pytest.raises(TypeError, match="MetricSeries: node_id must be a non-empty str, got 5"):
            MetricSeries("t", "c", 5, "m", [], [])  # type: ignore[arg-type]

    def test_string_timestamp(self) -> None:
        """A timestamp given as a string is a TypeError with its index."""
        with pytest.raises(
            TypeError, match=r"MetricSeries.timestamps\[1\]: expected a timezone-aware datetime, got '2024"
        ):
            MetricSeries("t", "c", "n", "m", [T0, "2024-05-01T10:01:00+00:00"], [1, 2])  # type: ignore[list-item]

    def test_number_timestamp(self) -> None:
        """A timestamp given as a number is a TypeError with its index."""
        with pytest.raises(
            TypeError, match=r"timestamps\[0\]: expected a timezone-aware datetime, got 1714557600"
        ):
            MetricSeries("t", "c", "n", "m", [1714557600], [1])  # type: ignore[list-item]

    def test_naive_timestamp(self) -> None:
        """A naive datetime is a ValueError with its index."""
        with pytest.raises(
            ValueError, match=r"timestamps\[2\]: expected a timezone-aware datetime, got naive"
        ):
            MetricSeries("t", "c", "n", "m", [*stamps(2), datetime(2025, 1, 1)], [1, 2, 3])

    def test_not_a_time_timestamp(self) -> None:
        """A datetime whose utcoffset() fails (as pandas' NaT's does): a ValueError naming field and index."""

        class NotATime(datetime):  # mimics pandas.NaT: a datetime that holds no time
            def utcoffset(self) -> timedelta | None:
                raise ValueError("NotATime does not support utcoffset")

            def __repr__(self) -> str:
                return "NaT"

        nat = NotATime(2024, 1, 1)
        with pytest.raises(
            ValueError,
            match=r"^MetricSeries.timestamps\[2\]: expected a timezone-aware datetime, got NaT \(NotATime\), "
            r"whose utcoffset\(\) fails: NotATime does not support utcoffset$",
        ):
            MetricSeries("t", "c", "n", "m", [*stamps(2), nat], [1, 2, 3])
        with pytest.raises(ValueError, match=r"^AnomalyResult: window_end must be a timezone-aware datetime"):
            AnomalyResult("t", "c", "n", "m", T0, nat, 0.5, "spike")

    def test_pandas_nat_timestamp(self) -> None:
        """pandas' own NaT, where pandas is installed."""
        pd = pytest.importorskip("pandas")
        expected = r"^MetricSeries.timestamps\[{}\]: expected a timezone-aware datetime, got NaT \(NaTType\)"
        with pytest.raises(ValueError, match=expected.format(0)):
            MetricSeries("t", "c", "n", "m", [pd.NaT], [1.0])
        with pytest.raises(ValueError, match=expected.format(1)):
            MetricSeries("t", "c", "n", "m", [pd.Timestamp(T0), pd.NaT], [1.0, 2.0])

    def test_descending_timestamp(self) -> None:
        """Out-of-order timestamps name the first offending index and both times."""
        ts = stamps(5)
        ts[4] = ts[1]
        with pytest.raises(ValueError) as info:
            MetricSeries("t", "c", "n", "m", ts, [0] * 5)
        assert str(info.value) == (
            "MetricSeries.timestamps[4]: expected strictly ascending, "
            "got 2024-05-01 10:01:00+00:00 after 2024-05-01 10:03:00+00:00"
        )

    @pytest.mark.parametrize(
        ("bad", "text"), [(float("nan"), "nan"), (float("inf"), "inf"), (-float("inf"), "-inf")]
    )
    def test_non_finite_value(self, bad: float, text: str) -> None:
        """nan and inf are ValueErrors naming the index."""
        with pytest.raises(
            ValueError, match=rf"MetricSeries.values\[17\]: expected a finite number, got {text}$"
        ):
            make([0.0] * 17 + [bad])

    def test_too_large_value(self) -> None:
        """An int too large for a float is invalid, not rounded to inf."""
        with pytest.raises(
            ValueError, match=r"values\[1\]: expected a finite real number, got 1000.*too large for a float"
        ):
            make([1.0, 10**400])

    def test_string_value(self) -> None:
        """A string value is a TypeError naming the index."""
        with pytest.raises(TypeError, match=r"values\[1\]: expected a finite real number, got '2' \(str\)"):
            make([1.0, "2"])  # type: ignore[list-item]

    @pytest.mark.parametrize(
        ("values", "index"),
        [
            ([True, False, 1], 0),
            ([0.5, 2.0, False], 2),
            ((1.0, 0.0, True), 2),  # 1.0 and 0.0 are fine: the bool's index is named
            ([1, 2, True, "x"], 2),  # the first offending item, on the slow path too
        ],
    )
    def test_bool_value(self, values: object, index: int) -> None:
        """A bool is not a number (as for anomaly_score): a TypeError naming the index, not a silent 1.0."""
        expected = rf"^MetricSeries.values\[{index}\]: expected a finite real number, got (True|False) \("
        n = 4 if isinstance(values, list) and len(values) == 4 else 3
        with pytest.raises(TypeError, match=expected):
            MetricSeries("t", "c", "n", "m", stamps(n), values)  # type: ignore[arg-type]

    @given(
        st.lists(st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([0.0, 1.0, 1])),
        st.data(),
    )
    def test_first_bool_is_named_wherever_it_is(self, values: list[float], data: st.DataObject) -> None:
        """Bools spliced into any valid values (0.0 and 1.0 included): the first one's index is named."""
        at = sorted(data.draw(st.sets(st.integers(0, len(values)), min_size=1, max_size=3)), reverse=True)
        mixed: list[object] = list(values)
        for k in at:
            mixed.insert(k, data.draw(st.booleans()))
        first = next(i for i, v in enumerate(mixed) if type(v) is bool)
        with pytest.raises(TypeError, match=rf"^MetricSeries.values\[{first}\]: expected a finite real"):
            MetricSeries("t", "c", "n", "m", stamps(len(mixed)), mixed)  # type: ignore[arg-type]

    def test_numpy_bool_value(self) -> None:
        """numpy's bool (not a bool subclass, but it converts to 1.0) is refused too, alone or as an array."""
        np = pytest.importorskip("numpy")
        with pytest.raises(TypeError, match=r"^MetricSeries.values\[1\]: expected a finite real number, got"):
            make([0.0, np.True_])
        with pytest.raises(TypeError, match=r"MetricSeries.values\[0\]: expected a finite real number"):
            make(np.array([True, False]))
        with pytest.raises(TypeError, match=r"MetricSeries.epoch_us\[1\]: expected an int, got .*True"):
            MetricSeries.from_arrays("t", "c", "n", "m", [0, np.True_], [1.0, 2.0])
        assert make(np.array([0.0, 1.0])).values.tolist() == [0.0, 1.0]

    def test_numpy_complex_array(self) -> None:
        """An array of complex numbers is refused: array("d") kept the real parts with only a warning."""
        np = pytest.importorskip("numpy")
        with pytest.raises(TypeError, match=r"^MetricSeries.values\[0\]: .*complex numbers \(dtype complex1"):
            make(np.array([1.0, 2 + 5j]))
        with pytest.raises(TypeError, match=r"complex numbers \(dtype complex64\)"):
            MetricSeries.from_arrays("t", "c", "n", "m", [0, 1], np.array([1, 2], dtype=np.complex64))

    def test_from_dict_json_true_value(self) -> None:
        """JSON ``true`` among the values of a stored series is refused with its index."""
        data = json.loads(json.dumps(make([1.0, 2.0]).to_dict()).replace("2.0", "true"))
        with pytest.raises(TypeError, match=r"^MetricSeries.values\[1\]: expected a finite real number, go"):
            MetricSeries.from_dict(data)

    def test_from_arrays_bool_epoch_us(self) -> None:
        """Bools are not epoch microseconds either; 0 and 1 (ints) still are."""
        with pytest.raises(TypeError, match=r"^MetricSeries.epoch_us\[0\]: expected an int, got True \(bool"):
            MetricSeries.from_arrays("t", "c", "n", "m", [True, 2], [1.0, 2.0])
        with pytest.raises(TypeError, match=r"^MetricSeries.epoch_us\[1\]: expected an int, got False \("):
            MetricSeries.from_arrays("t", "c", "n", "m", [0, False, 1.5], [1.0, 2.0, 3.0])  # type: ignore[list-item]
        assert MetricSeries.from_arrays("t", "c", "n", "m", [0, 1], [0, 1]).values.tolist() == [0.0, 1.0]

    def test_length_mismatch(self) -> None:
        """Different lengths are a ValueError giving both lengths."""
        with pytest.raises(ValueError, match="same length, got 2 timestamps and 3 values"):
            MetricSeries("t", "c", "n", "m", stamps(2), [1, 2, 3])

    def test_scalar_instead_of_sequence(self) -> None:
        """A scalar where a sequence belongs is a TypeError."""
        with pytest.raises(TypeError, match="MetricSeries: values must be a sequence"):
            MetricSeries("t", "c", "n", "m", stamps(1), 1.0)  # type: ignore[arg-type]

    def test_from_arrays_rejects_floats_and_out_of_range(self) -> None:
        """Epoch microseconds must be ints within the datetime range."""
        with pytest.raises(TypeError, match=r"epoch_us\[1\]: expected an int, got 1.5"):
            MetricSeries.from_arrays("t", "c", "n", "m", [1, 1.5], [1, 2])  # type: ignore[list-item]
        with pytest.raises(ValueError, match=r"within years 1\.\.9999"):
            MetricSeries.from_arrays("t", "c", "n", "m", [0, 10**18], [1, 2])

    def test_metadata_must_be_json_safe(self) -> None:
        """Metadata values must be JSON scalars."""
        with pytest.raises(TypeError, match=r"metadata\['x'\] must be a str, int, float, bool or None"):
            make([1.0], metadata={"x": [1]})


class TestRoundTrips:
    def test_series_json_round_trip(self) -> None:
        """to_dict is JSON-safe and from_dict inverts it."""
        s = make([1.5, -2.0], metadata={"unit": "%"})
        data = json.loads(json.dumps(s.to_dict()))
        assert data["timestamps"][0] == "2024-05-01T10:00:00+00:00"
        assert MetricSeries.from_dict(data) == s

    def test_from_dict_rejects_unknown_and_missing_keys(self) -> None:
        """Unknown keys are rejected rather than ignored; missing keys are named."""
        data = make([1.0]).to_dict()
        with pytest.raises(ValueError, match="unknown key\\(s\\) 'colour'"):
            MetricSeries.from_dict({**data, "colour": "red"})
        del data["values"]
        with pytest.raises(ValueError, match="missing key\\(s\\) 'values'"):
            MetricSeries.from_dict(data)

    def test_from_dict_accepts_z_suffix_and_rejects_naive(self) -> None:
        """'Z' means UTC; a string without offset is rejected with its index."""
        data = make([1.0, 2.0]).to_dict()
        data["timestamps"][0] = "2024-05-01T10:00:00Z"
        assert MetricSeries.from_dict(data).timestamps[0] == T0
        data["timestamps"][1] = "2024-05-01T10:01:00"
        with pytest.raises(ValueError, match=r"timestamps\[1\] must be an ISO 8601 str with a UTC offset"):
            MetricSeries.from_dict(data)

    def test_result_and_score_round_trip(self) -> None:
        """AnomalyResult and AggregatedAnomalyScore round-trip through JSON."""
        r = AnomalyResult("t", "c", "n", "m", T0, T0 + timedelta(minutes=5), 0.75, "spike", 0.2, "why")
        assert AnomalyResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r
        a = AggregatedAnomalyScore("t", "c", None, "p95", 0.5, 3, 1)
        assert AggregatedAnomalyScore.from_dict(json.loads(json.dumps(a.to_dict()))) == a


class TestAnomalyResult:
    def test_label_string_is_converted(self) -> None:
        """The str value of a label is accepted and converted to AnomalyType."""
        r = AnomalyResult("t", "c", "n", "m", T0, T0, 0.1, "normal")
        assert r.anomaly_label is AnomalyType.NORMAL and not r.is_anomalous

    @pytest.mark.parametrize("score", [-0.01, 1.01, float("nan")])
    def test_score_out_of_range(self, score: float) -> None:
        """Scores outside [0, 1] are rejected, not clipped."""
        with pytest.raises(ValueError, match="AnomalyResult: anomaly_score must be"):
            AnomalyResult("t", "c", "n", "m", T0, T0, score, "spike")

    def test_bool_score_rejected(self) -> None:
        """A bool is not a score."""
        with pytest.raises(TypeError, match="anomaly_score must be a finite real number, got True"):
            AnomalyResult("t", "c", "n", "m", T0, T0, True, "spike")

    @pytest.mark.parametrize(
        ("score", "label"),
        [(0.9, "normal"), (0.5, AnomalyType.NORMAL), (1, "normal"), (0.1, "spike"), (0.0, "trend"),
         (0.49999999999999994, AnomalyType.SEASONAL)],
    )
    def test_label_contradicting_the_score_is_refused(self, score: float, label: str) -> None:
        """NORMAL exactly when the score is below 0.5 (CONTRACT.md): a contradiction names both fields."""
        shown = label.value if isinstance(label, AnomalyType) else label
        expected = (
            "AnomalyResult: anomaly_label must be 'normal' exactly when anomaly_score < 0.5 "
            f"(the alarm line), got anomaly_label {shown!r} with anomaly_score {float(score)!r}"
        )
        with pytest.raises(ValueError) as caught:
            AnomalyResult("t", "c", "n", "m", T0, T0, score, label)
        assert str(caught.value) == expected
        data = AnomalyResult("t", "c", "n", "m", T0, T0, 0.5, "spike").to_dict()
        with pytest.raises(ValueError, match="anomaly_label must be 'normal' exactly when"):
            AnomalyResult.from_dict({**data, "anomaly_score": score, "anomaly_label": shown})

    def test_label_agreeing_with_the_score_either_side_of_the_line(self) -> None:
        """0.5 is anomalous, the largest float below it is not."""
        assert AnomalyResult("t", "c", "n", "m", T0, T0, 0.5, "spike").is_anomalous
        assert not AnomalyResult("t", "c", "n", "m", T0, T0, 0.49999999999999994, "normal").is_anomalous

    def test_magnitude_range(self) -> None:
        """magnitude must be in [0, 1] when given."""
        with pytest.raises(ValueError, match="magnitude must be in \\[0, 1\\], got 2"):
            AnomalyResult("t", "c", "n", "m", T0, T0, 0.5, "spike", 2)

    def test_window_order(self) -> None:
        """window_start after window_end is rejected."""
        with pytest.raises(ValueError, match="window_start must be <= window_end"):
            AnomalyResult("t", "c", "n", "m", T0 + timedelta(1), T0, 0.5, "spike")

    def test_unknown_label(self) -> None:
        """An unknown label lists the allowed ones."""
        with pytest.raises(
            ValueError, match="anomaly_label must be one of 'spike', 'trend', 'seasonal', 'normal'"
        ):
            AnomalyResult("t", "c", "n", "m", T0, T0, 0.5, "weird")


class TestAggregatedAnomalyScore:
    def test_levels(self) -> None:
        """The level follows which ids are present."""
        assert AggregatedAnomalyScore("t", "c", "n", "max", 0.1, 1, 0).level == "node"
        assert AggregatedAnomalyScore("t", "c", None, "max", 0.1, 1, 0).level == "cluster"
        tenant = AggregatedAnomalyScore("t", None, None, AggregationStrategy.MEAN, 0.1, 1, 0)
        assert tenant.level == "tenant" and tenant.aggregation_strategy is AggregationStrategy.MEAN

    def test_node_without_cluster(self) -> None:
        """A node_id without a cluster_id is invalid."""
        with pytest.raises(ValueError, match="node_id 'n' given without a cluster_id"):
            AggregatedAnomalyScore("t", None, "n", "max", 0.1, 1, 0)

    def test_negative_count(self) -> None:
        """Counts are non-negative ints."""
        with pytest.raises(
            ValueError, match=r"num_anomalies_detected must be a non-negative int below 2\*\*63, got -1"
        ):
            AggregatedAnomalyScore("t", "c", "n", "max", 0.1, 1, -1)
        with pytest.raises(TypeError, match="num_metrics_analyzed must be a non-negative int"):
            AggregatedAnomalyScore("t", "c", "n", "max", 0.1, 1.0, 0)  # type: ignore[arg-type]


def test_views_compare_with_lists_and_tuples() -> None:
    """values/timestamps equal a list or tuple of the same items (and hash like the tuple)."""
    s = make([1.0, 2.5, 3.0])
    assert s.values == [1.0, 2.5, 3.0] and s.values == (1, 2.5, 3)
    assert s.values != [1.0, 2.5]
    assert s.values != [1.0, 2.5, 4.0]
    assert s.timestamps == stamps(3) and s.timestamps == tuple(stamps(3))
    assert hash(s.values) == hash((1.0, 2.5, 3.0))
    assert hash(s.timestamps) == hash(tuple(stamps(3)))


# -- issue 14: hostile input (each measured failure, reproduced) -----------------------------------

PLUS14 = timezone(timedelta(hours=14))
MINUS14 = timezone(timedelta(hours=-14))
IDS = ("acme", "c-1", "n-1", "cpu")


ID_NAMES = ("tenant_id", "cluster_id", "node_id", "metric_name")


def _series_dict(stamp: str) -> dict[str, object]:
    return dict(zip(ID_NAMES, IDS, strict=True), timestamps=[stamp], values=[1.0])


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-14:00"])
def test_from_dict_outside_utc_range_is_a_value_error(stamp: str) -> None:
    """from_dict refuses a timestamp whose UTC instant is outside years 1..9999 (to_dict used to overflow)."""
    with pytest.raises(
        ValueError,
        match=rf"MetricSeries.timestamps\[0\]: expected an instant within years "
        rf"1..9999 in UTC, got {re.escape(stamp)}",
    ):
        MetricSeries.from_dict(_series_dict(stamp))


def test_constructor_outside_utc_range_names_the_index() -> None:
    """A datetime pushed past 9999 by its offset is a ValueError naming its index, not an OverflowError."""
    ok = datetime(9999, 12, 31, 9, tzinfo=MINUS14)  # 23:00 UTC: still inside
    late = datetime(9999, 12, 31, 23, tzinfo=MINUS14)
    assert MetricSeries(*IDS, [ok], [1.0]).to_dict()["timestamps"] == ["9999-12-31T23:00:00+00:00"]
    with pytest.raises(ValueError, match=r"timestamps\[1\]: expected an instant within years 1..9999"):
        MetricSeries(*IDS, [ok, late], [1.0, 2.0])


def test_extreme_valid_instants_round_trip() -> None:
    """The first and last instants a datetime holds are valid and round-trip through to_dict."""
    first = datetime.min.replace(tzinfo=timezone.utc)
    last = datetime.max.replace(tzinfo=timezone.utc)
    s = MetricSeries(*IDS, [first, last], [1.0, 2.0])
    assert MetricSeries.from_dict(s.to_dict()) == s
    assert MetricSeries.from_arrays(*IDS, s.epoch_us, [1.0, 2.0]) == s


@pytest.mark.parametrize("us", [2**62, -(2**62), 2**63 - 1, 2**70])
def test_from_arrays_far_epoch_is_a_value_error(us: int) -> None:
    """from_arrays with an epoch beyond years 1..9999 (or beyond 64 bits) is a ValueError naming the index."""
    with pytest.raises(
        ValueError, match=r"MetricSeries.epoch_us\[1\]: expected an instant within years 1..9999"
    ):
        MetricSeries.from_arrays(*IDS, [0, us], [1.0, 2.0])


@pytest.mark.parametrize(
    "bound", [datetime(1, 1, 1, tzinfo=PLUS14), datetime(9999, 12, 31, 23, tzinfo=MINUS14)]
)
def test_anomaly_result_outside_utc_range_is_a_value_error(bound: datetime) -> None:
    """An AnomalyResult window outside years 1..9999 in UTC is refused at construction."""
    start, end = (
        (bound, bound + timedelta(hours=1)) if bound.year == 1 else (bound - timedelta(hours=1), bound)
    )
    with pytest.raises(ValueError, match=r"must be a datetime within years 1\.\.9999 once converted to UTC"):
        AnomalyResult(*IDS, start, end, 0.5, "spike")
    with pytest.raises(ValueError, match=r"within years 1\.\.9999"):
        AnomalyResult.from_dict(
            AnomalyResult(*IDS, T0, T0, 0.5, "spike").to_dict() | {"window_start": start.isoformat()}
        )


def test_anomaly_result_at_year_one_utc_round_trips() -> None:
    """A result at the very first UTC instant is valid and round-trips through to_dict."""
    first = datetime.min.replace(tzinfo=timezone.utc)
    r = AnomalyResult(*IDS, first, first + timedelta(minutes=5), 0.5, "spike")
    assert AnomalyResult.from_dict(r.to_dict()) == r


@pytest.mark.parametrize("count", [2**63, 10**30])
def test_counts_must_fit_64_bits(count: int) -> None:
    """A count of 2**63 or more is a ValueError (a store's integer column could not hold it)."""
    with pytest.raises(ValueError, match="num_metrics_analyzed must be a non-negative int below 2\\*\\*63"):
        AggregatedAnomalyScore("t", None, None, "max", 0.5, count, 0)
    assert AggregatedAnomalyScore("t", None, None, "max", 0.5, 2**63 - 1, 0).num_metrics_analyzed == 2**63 - 1


@pytest.mark.parametrize("field", ["values", "timestamps"])
@pytest.mark.parametrize("container", [set, frozenset, dict.fromkeys])
def test_unordered_containers_are_type_errors(field: str, container: object) -> None:
    """A set (or a dict) as values or timestamps is a TypeError: its order is not the caller's."""
    data: dict[str, object] = {"values": [1.0], "timestamps": [T0]}
    data[field] = container(data[field])  # type: ignore[operator]
    with pytest.raises(
        TypeError, match=rf"MetricSeries: {field} must be .*an ordered sequence, not an unordered"
    ):
        MetricSeries(*IDS, data["timestamps"], data["values"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="epoch_us must be a sequence of ints"):
        MetricSeries.from_arrays(*IDS, {0}, [1.0])


def _nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("field", ["tenant_id", "cluster_id", "node_id", "metric_name"])
def test_deeply_nested_id_gives_a_short_type_error(field: str) -> None:
    """An id nested 100,000 lists deep is a short TypeError (the message's repr is bounded)."""
    ids: dict[str, object] = dict(zip(ID_NAMES, IDS, strict=True))
    ids[field] = _nested(100_000)
    with pytest.raises(
        TypeError, match=rf"{field} must be a non-empty str, got \[\[\[\[\.\.\.\]\]\]\] \(list\)"
    ):
        MetricSeries(**ids, timestamps=[], values=[])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=rf"{field} must be a non-empty str"):
        AnomalyResult(**ids, window_start=T0, window_end=T0, anomaly_score=0.5, anomaly_label="spike")  # type: ignore[arg-type]


def test_deeply_nested_value_gives_a_short_type_error() -> None:
    """A value nested 100,000 lists deep is a TypeError naming its index, with a bounded repr."""
    with pytest.raises(
        TypeError, match=r"values\[1\]: expected a finite real number, got \[\[\[\[\.\.\.\]\]\]\]"
    ):
        MetricSeries(*IDS, stamps(2), [1.0, _nested(100_000)])  # type: ignore[list-item]


def test_huge_unknown_key_is_shown_briefly() -> None:
    """from_dict with a megabyte-long unknown key gives a message of bounded length."""
    data = _series_dict("2024-01-01T00:00:00Z") | {"x" * 1_000_000: 1}
    with pytest.raises(ValueError, match="unknown key") as info:
        MetricSeries.from_dict(data)
    assert len(str(info.value)) < 400


@pytest.mark.parametrize("field", ["tenant_id", "cluster_id", "node_id", "metric_name"])
def test_lone_surrogate_in_an_id_is_a_value_error(field: str) -> None:
    """An id no UTF-8 store can hold is refused by every contract, naming the field and index."""
    ids = dict.fromkeys(("tenant_id", "cluster_id", "node_id", "metric_name"), "ok-é")
    ids[field] = "é\ud800"
    expected = rf"{field} must be Unicode text that encodes as UTF-8, got .*index 1\)"
    t, c, n, m = ids.values()
    with pytest.raises(ValueError, match=expected):
        MetricSeries(t, c, n, m, [], [])
    with pytest.raises(ValueError, match=expected):
        AnomalyResult(t, c, n, m, T0, T0, 0.1, AnomalyType.NORMAL)
    with pytest.raises(ValueError, match="explanation must be Unicode text"):
        AnomalyResult("t", "c", "n", "m", T0, T0, 0.9, AnomalyType.SPIKE, None, "jump \udcff")


def test_trusted_result_equals_the_validated_one_field_by_field() -> None:
    """``AnomalyResult._trusted`` (the engines' fast path: slot setters by field order) sets every field."""
    values = ("t", "c", "n", "m", T0, T0 + timedelta(minutes=5), 0.75, AnomalyType.TREND, 0.25, "it rose")
    fast = AnomalyResult._trusted(("t", "c", "n", "m"), *values[4:])
    assert fast == AnomalyResult(*values)
    assert [getattr(fast, name) for name in AnomalyResult.__slots__] == list(values)


@pytest.mark.parametrize(
    "us",
    [0, 1, -1, 1_714_557_600_123_456, -62_135_596_800_000_000, 253_402_300_799_999_999],
)
def test_epoch_microseconds_to_datetime_is_exact(us: int) -> None:
    """Epoch microseconds -> datetime -> epoch microseconds is the identity, to the first and last instant.

    (-62135596800000000 is 0001-01-01T00:00:00Z, 253402300799999999 is 9999-12-31T23:59:59.999999Z.)
    """
    stamp = epoch_us_to_datetime(us)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert stamp == epoch + timedelta(microseconds=us) and stamp.tzinfo is timezone.utc
    assert datetime_to_epoch_us(stamp) == us


def test_result_windows_across_a_dst_fold_compare_as_instants_and_round_trip(tmp_path: Path) -> None:
    """Two times of one zone compare by wall clock (PEP 495): a result keeps its window in UTC.

    01:50 EDT -> 01:10 EST is a valid 20-minute window; 01:30 EST -> 01:30 EDT ends an hour
    before it starts. A time in the fold (fold=1) reads back equal, with the same hash.
    """
    import json
    from zoneinfo import ZoneInfo

    from backend.analytics import TimeWindow
    from backend.analytics.store import SQLiteMetricStore

    ny = ZoneInfo("America/New_York")
    start = datetime(2024, 11, 3, 1, 50, fold=0, tzinfo=ny)
    end = datetime(2024, 11, 3, 1, 10, fold=1, tzinfo=ny)
    r = AnomalyResult("t", "c", "n", "m", start, end, 0.9, "spike")
    # (Times in the fold compare unequal to any time of another zone, PEP 495: hence astimezone.)
    assert (r.window_start, r.window_end) == (start.astimezone(timezone.utc), end.astimezone(timezone.utc))
    assert r.window_start.tzinfo is timezone.utc and r.window_end - r.window_start == timedelta(minutes=20)
    window = TimeWindow(0, 2, start, end)
    assert window.end_time - window.start_time == timedelta(minutes=20)
    late = datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=ny)
    early = datetime(2024, 11, 3, 1, 30, fold=0, tzinfo=ny)
    with pytest.raises(ValueError, match="window_start must be <= window_end"):
        AnomalyResult("t", "c", "n", "m", late, early, 0.9, "spike")
    with pytest.raises(ValueError, match="start_time must be <= end_time"):
        TimeWindow(0, 2, late, early)
    in_fold = AnomalyResult("t", "c", "n", "m", late, late, 0.9, "spike")
    back = AnomalyResult.from_dict(json.loads(json.dumps(in_fold.to_dict())))
    assert back == in_fold and hash(back) == hash(in_fold)
    with SQLiteMetricStore(tmp_path / "s.db") as store:  # a query range across the fold is a range
        with pytest.raises(KeyError):
            store.get_metric_series("t", "c", "n", "m", start, end)
        with pytest.raises(ValueError, match="start must be <= end"):
            store.get_metric_series("t", "c", "n", "m", late, early)


def test_the_first_offending_index_is_named_whatever_the_kind_of_fault() -> None:
    """A NaN at 1 before a str at 3 is named at 1; a time out of order at 1 before a naive one at 3, at 1."""
    t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    stamps = [t0 + timedelta(minutes=i) for i in range(5)]
    cases: list[tuple[list[Any], list[Any], type[Exception], str]] = [
        (stamps, [1.0, math.nan, 2.0, "x", 3.0], ValueError, r"values\[1\]: expected a finite number, got n"),
        (stamps, [math.inf, 1.0, 2.0, 3.0, None], ValueError, r"values\[0\]: expected a finite number"),
        (
            [stamps[1], stamps[0], stamps[2], stamps[3].replace(tzinfo=None), stamps[4]],
            [1.0] * 5,
            ValueError,
            r"timestamps\[1\]: expected strictly ascending",
        ),
        ([stamps[0], stamps[0], *stamps[2:4], "2024"], [1.0] * 5, ValueError, r"timestamps\[1\]: expected"),
        (stamps, [1.0, 2.0, "x", math.nan, 3.0], TypeError, r"values\[2\]: expected a finite real number"),
    ]
    for timestamps, values, error, message in cases:
        with pytest.raises(error, match=message):
            MetricSeries("t", "c", "n", "m", timestamps, values)


def test_a_score_of_minus_zero_is_kept_as_zero() -> None:
    """-0.0 passed [0, 1] and was kept: aggregates then serialised "-0.0" or "0.0" by input order."""
    t = datetime(2024, 5, 1, tzinfo=timezone.utc)
    r = AnomalyResult("t", "c", "n", "m", t, t, -0.0, "normal", magnitude=-0.0)
    assert math.copysign(1.0, r.anomaly_score) == 1.0 and math.copysign(1.0, r.magnitude or 0.0) == 1.0
    a = AggregatedAnomalyScore("t", "c", "n", "max", -0.0, 1, 0)
    assert json.dumps(a.to_dict()["aggregate_score"]) == "0.0"
    assert json.dumps(r.to_dict()["anomaly_score"]) == "0.0"


def test_decimals_are_numbers_everywhere_and_named_when_out_of_range() -> None:
    """A Decimal (a NUMERIC column) is a value, a score and a weight alike; 1e400 is "too large", sNaN
    a ValueError; the classifier takes any ordered iterable of numbers."""
    from backend.analytics import AggregationPipeline, ExplanationClassifier

    t = datetime(2024, 5, 1, tzinfo=timezone.utc)
    stamps = [t, t + timedelta(minutes=1)]
    d: Any = Decimal  # (typed as float where the API is: a Decimal is taken as one)
    assert MetricSeries("t", "c", "n", "m", stamps, [d("41.5"), d("42")]).values.tolist() == [41.5, 42]
    assert AnomalyResult("a", "c", "n", "m", t, t, d("0.7"), "spike").anomaly_score == 0.7
    assert AggregationPipeline("weighted", weights={"cpu": d("2")}).weights == {"cpu": 2.0}
    with pytest.raises(ValueError, match=r"values\[1\]: .*Decimal\('1E\+400'\) \(too large for a float\)"):
        MetricSeries("t", "c", "n", "m", stamps, [1.0, d("1e400")])
    with pytest.raises(ValueError, match=r"values\[1\]: expected a finite number, got Decimal\('sNaN'\)"):
        MetricSeries("t", "c", "n", "m", stamps, [1.0, d("sNaN")])
    with pytest.raises(ValueError, match="anomaly_score must be a finite real number"):
        AnomalyResult("a", "c", "n", "m", t, t, d("NaN"), "spike")
    clf = ExplanationClassifier()
    history = [10.0 + (i % 3) * 0.1 for i in range(100)]
    window = [10.0] * 5 + [30.0] + [10.0] * 4
    expected = clf.classify_values(history, window)
    assert clf.classify_values(iter(history), (v for v in window)) == expected
    assert clf.classify_values(array("d", history), tuple(window)) == expected
    with pytest.raises(TypeError, match=r"window must be a sequence of finite real numbers .*not an unord"):
        clf.classify_values(history, set(window))


def test_pandas_timestamps_finer_than_a_microsecond_are_refused_not_floored() -> None:
    """Nanoseconds were dropped silently: two instants 800 ns apart became one, refused as "not
    ascending" with two equal times shown. Whole microseconds (a DatetimeIndex's usual case) pass."""
    pd = pytest.importorskip("pandas")
    fine = pd.DatetimeIndex(["2024-05-01T00:00:00.000000100Z", "2024-05-01T00:00:00.000000900Z"])
    with pytest.raises(ValueError, match=r"timestamps\[0\]: .* is finer than a microsecond, which a series"):
        MetricSeries("t", "c", "n", "m", fine, [1.0, 2.0])
    whole = pd.date_range("2024-05-01", periods=3, freq="min", tz="UTC")
    assert MetricSeries("t", "c", "n", "m", whole, [1.0, 2.0, 3.0]).timestamps[2].minute == 2
