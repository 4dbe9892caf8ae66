"""from_frame / to_frame: long-format pandas frames in and out (the [pandas] extra)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from backend.analytics import MetricSeries
from backend.analytics.io import LoadError, from_frame, to_frame

pd = pytest.importorskip("pandas")

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)


def _frame(**cols: object) -> object:
    base: dict[str, object] = {
        "tenant_id": ["a", "a", "a"],
        "cluster_id": ["c", "c", "c"],
        "node_id": ["n", "n", "n"],
        "metric_name": ["cpu", "cpu", "cpu"],
        "timestamp": pd.to_datetime(
            ["2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z", "2024-05-01T10:02:00Z"], utc=True
        ),
        "value": [1.0, 2.0, 3.0],
    }
    base.update(cols)
    return pd.DataFrame(base)


def test_round_trip_through_a_frame() -> None:
    """to_frame then from_frame gives back equal series, including times outside pandas' ns range."""
    far = datetime(3000, 1, 1, tzinfo=timezone.utc)
    s1 = MetricSeries("a", "c", "n", "cpu", [T0, T0 + timedelta(microseconds=1)], [0.5, -1e-300])
    s2 = MetricSeries("b", "c", "n", "mem", [far], [7.0])
    frame = to_frame([s1, s2])
    assert list(frame.columns) == ["tenant_id", "cluster_id", "node_id", "metric_name", "timestamp", "value"]
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    series, report = from_frame(frame)
    assert series == [s1, s2] and report.clean and report.rows == 3


def test_custom_columns_and_constant_ids() -> None:
    """columns= and ids= work as for read_csv; a timestamp index named like the column is used."""
    df = pd.DataFrame(
        {"host": ["web-1", "web-1"], "load": [0.5, 0.7]},
        index=pd.DatetimeIndex(["2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z"], name="time"),
    )
    series, report = from_frame(
        df,
        columns={"node": "host", "timestamp": "time", "value": "load"},
        ids={"tenant": "acme", "cluster": "eu", "metric": "load1"},
    )
    assert series[0].ids == ("acme", "eu", "web-1", "load1")
    assert list(series[0].timestamps) == [T0, T0 + timedelta(minutes=1)]
    assert report.clean


def test_nan_values_and_bad_ids_are_refused_by_position() -> None:
    """A NaN value, a missing id and a non-str id are refused, each named by its 0-based position."""
    df = _frame(value=[1.0, float("nan"), 3.0])
    df = pd.concat([df, _frame(node_id=[None, 17, "n"], value=[4.0, 5.0, 6.0])], ignore_index=True)
    series, report = from_frame(df, duplicates="last")
    assert [(i.row, i.action) for i in report.refused] == [(1, "refused"), (3, "refused"), (4, "refused")]
    assert report.refused[0].reason == "missing value"
    assert report.refused[1].reason == "missing node id"
    assert report.refused[2].reason == "node id 17 is a int, expected a str"
    assert str(report.refused[0]).startswith("row 1: refused:")
    assert series[0].values.tolist() == [1.0, 6.0]  # row 5 repeats row 2's instant: the last wins
    assert [i.row for i in report.merged] == [2]


def test_naive_datetime_column_needs_a_timezone() -> None:
    """A naive datetime64 column is refused without timezone= and localised with it."""
    naive = pd.to_datetime(["2024-05-01 12:00", "2024-05-01 12:01", "2024-05-01 12:02"])
    _, report = from_frame(_frame(timestamp=naive))
    assert len(report.refused) == 3 and "has no UTC offset" in report.refused[0].reason
    series, report = from_frame(_frame(timestamp=naive), timezone="Europe/Paris")
    assert series[0].timestamps[0] == T0 and report.clean


def test_nanoseconds_are_rounded_and_reported() -> None:
    """A timestamp with nanoseconds is rounded to the microsecond and reported as changed."""
    ts = pd.to_datetime(
        ["2024-05-01T10:00:00.000000500Z", "2024-05-01T10:01:00.000000000Z", "2024-05-01T10:02:00.000000000Z"]
    )
    series, report = from_frame(_frame(timestamp=ts.as_unit("ns")))
    assert series[0].epoch_us[0] == 1714557600000000  # 0.5 us rounds half to even
    assert [(i.row, i.action) for i in report.issues] == [(0, "changed")]


def test_nat_is_refused() -> None:
    """A missing timestamp (NaT) is refused."""
    ts = pd.to_datetime(["2024-05-01T10:00:00Z", None, "2024-05-01T10:02:00Z"], utc=True)
    _, report = from_frame(_frame(timestamp=ts))
    assert [(i.row, i.reason) for i in report.refused] == [(1, "missing timestamp (NaT)")]


def test_nat_in_an_object_column_is_refused() -> None:
    """NaT among Timestamps in an object column is refused with its row, not a bare ValueError."""
    ts = pd.Series([pd.Timestamp("2024-05-01T10:00:00Z"), pd.NaT, pd.Timestamp("2024-05-01T10:02:00Z")])
    _, report = from_frame(_frame(timestamp=ts.astype(object)))
    assert [(i.row, i.reason) for i in report.refused] == [
        (1, "timestamp 'NaT' is not a usable datetime (NaTType does not support utcoffset)")
    ]


def test_epoch_numbers_and_duplicates() -> None:
    """Epoch numbers follow timestamp_format; duplicate policies apply as for CSV."""
    df = _frame(timestamp=[1714557600, 1714557600, 1714557660], value=[1.0, 3.0, 5.0])
    with pytest.raises(LoadError, match="row 1: refused: duplicate timestamp"):
        from_frame(df, timestamp_format="epoch_s")
    series, report = from_frame(df, timestamp_format="epoch_s", duplicates="mean")
    assert series[0].values.tolist() == [2.0, 5.0]
    assert [i.row for i in report.merged] == [0, 1]


def test_strict_raises() -> None:
    """strict=True raises on the first refused row."""
    with pytest.raises(LoadError, match="row 2: refused: value 'x' is not a number"):
        from_frame(_frame(value=[1.0, 2.0, "x"]), strict=True)


def test_not_a_frame() -> None:
    """Anything but a DataFrame is a TypeError."""
    with pytest.raises(TypeError, match="from_frame: df must be a pandas DataFrame, got dict"):
        from_frame({"value": [1]})


def test_io_import_does_not_load_pandas() -> None:
    """Importing backend.analytics.io leaves pandas unloaded until from_frame/to_frame is called."""
    code = "import sys, backend.analytics.io; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_frames_with_numbered_or_repeated_columns() -> None:
    """pd.read_csv(header=None) numbers its columns 0, 1, 2: named by their text ("0"), where from_frame
    failed with a bare KeyError; two columns of one label are a ValueError naming it (an AttributeError)."""
    frame = pd.DataFrame([["n1", "2024-05-01T00:00:00Z", 1.0], ["n1", "2024-05-01T00:01:00Z", 2.0]])
    ids = {"tenant": "t", "cluster": "c", "metric": "m"}
    series, report = from_frame(frame, columns={"node": "0", "timestamp": "1", "value": "2"}, ids=ids)
    assert [s.values.tolist() for s in series] == [[1.0, 2.0]] and report.clean
    twice = pd.DataFrame([[1.0, 2.0]], columns=["value", "value"])
    with pytest.raises(ValueError, match="the DataFrame's columns repeat 'value'"):
        from_frame(twice)


def test_two_roles_in_one_column_are_refused_when_writing() -> None:
    """to_frame lost a column, and write_csv wrote a header its own read_csv refuses."""
    s = MetricSeries("t", "c", "n", "m", [datetime(2024, 5, 1, tzinfo=timezone.utc)], [1.0])
    with pytest.raises(ValueError, match="gives roles 'metric' and 'value' the same name 'value'"):
        to_frame([s], columns={"metric": "value"})


def test_nanoseconds_in_an_object_column_are_rounded_and_reported() -> None:
    """A column of Timestamps (what mixed offsets give) dropped nanoseconds silently, where a datetime64
    column rounds and reports; a naive ns column's note names the instant stored, not its wall time."""
    ids = {"tenant": "t", "cluster": "c", "node": "n", "metric": "m"}
    stamps = [pd.Timestamp("2024-05-01T08:00:00.123456789Z"), pd.Timestamp("2024-05-01T10:00:00.5+02:00")]
    frame = pd.DataFrame({"timestamp": pd.Series(stamps, dtype=object), "value": [1.0, 2.0]})
    series, report = from_frame(frame, ids=ids)
    assert series[0].timestamps[0].isoformat() == "2024-05-01T08:00:00.123457+00:00"
    [issue] = [i for i in report.changed if "finer than a microsecond" in i.reason]
    assert issue.row == 0 and issue.reason.endswith("rounded to 2024-05-01T08:00:00.123457+00:00")
    naive = pd.DataFrame({"timestamp": [pd.Timestamp("2024-05-01T10:00:00.123456789")], "value": [1.0]})
    _, report = from_frame(naive, ids=ids, timezone="Europe/Paris")
    [note] = report.changed
    assert note.reason.endswith("rounded to 2024-05-01T08:00:00.123457+00:00"), note.reason
