"""read_csv / write_csv: column mapping, timestamps, duplicate policies and the load report."""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from backend.analytics import MetricSeries
from backend.analytics.io import LoadError, read_csv, write_csv

HEADER = "tenant_id,cluster_id,node_id,metric_name,timestamp,value\n"
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
DOCS_EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "metrics.csv"


def _csv(*rows: str, header: str = HEADER) -> io.StringIO:
    return io.StringIO(header + "".join(r + "\n" for r in rows))


def test_default_columns_read_simulator_layout() -> None:
    """The default columns are the simulator's header; values and UTC instants come back exactly."""
    series, report = read_csv(
        _csv("a,c,n,cpu,2024-05-01T10:00:00+00:00,1.5", "a,c,n,cpu,2024-05-01T12:01:00+02:00,2")
    )
    assert len(series) == 1
    assert series[0].ids == ("a", "c", "n", "cpu")
    assert series[0].values.tolist() == [1.5, 2.0]
    assert series[0].timestamps[1] == T0 + timedelta(minutes=1)
    assert report.clean and report.rows == 2 and report.points == 2 and report.series == 1


def test_any_column_names_and_constant_ids() -> None:
    """columns= maps roles to header names; ids= gives constants for roles the file lacks."""
    text = "when;host;load;extra\n2024-05-01T10:00:00Z;web-1;0.5;x\n2024-05-01T10:00:00Z;web-2;0.7;y\n"
    series, report = read_csv(
        io.StringIO(text),
        columns={"timestamp": "when", "node": "host", "value": "load"},
        ids={"tenant": "acme", "cluster": "eu", "metric": "load1"},
        delimiter=";",
    )
    assert [s.ids for s in series] == [("acme", "eu", "web-1", "load1"), ("acme", "eu", "web-2", "load1")]
    assert [s.values.tolist() for s in series] == [[0.5], [0.7]]
    assert report.clean


def test_missing_column_names_the_role_and_lists_the_header() -> None:
    """A header without a mapped column raises ValueError naming the column, the role and the header."""
    with pytest.raises(ValueError, match=r"no column 'node_id' for the node; columns: tenant_id, cluster_id"):
        read_csv(io.StringIO("tenant_id,cluster_id,metric_name,timestamp,value\n"))


def test_role_given_twice_is_refused() -> None:
    """A role cannot be both a column and a constant."""
    with pytest.raises(ValueError, match="tenant given both as a column and as a constant id"):
        read_csv(_csv(), columns={"tenant": "tenant_id"}, ids={"tenant": "acme"})


def test_unknown_role_is_refused() -> None:
    """An unknown role in columns= is a ValueError listing the roles."""
    with pytest.raises(ValueError, match="unknown role 'host'; roles: tenant, cluster"):
        read_csv(_csv(), columns={"host": "node_id"})


def test_bad_rows_are_refused_with_their_line_numbers() -> None:
    """Every unusable row is reported with its line (header is line 1) and reason; good rows load."""
    series, report = read_csv(
        _csv(
            "a,c,n,cpu,2024-05-01T10:00:00Z,1",  # line 2: fine
            "a,c,n,cpu,2024-05-01T10:01:00Z,",  # line 3: empty value
            "a,c,n,cpu,yesterday,3",  # line 4: bad timestamp
            "a,,n,cpu,2024-05-01T10:03:00Z,4",  # line 5: empty cluster id
            "a,c,n,cpu,2024-05-01T10:04:00Z,nan",  # line 6: not finite
            "a,c,n,cpu,2024-05-01T10:05:00Z",  # line 7: too few fields
            "a,c,n,cpu,2024-05-01T10:06:00Z,1e999",  # line 8: overflows a float
            "a,c,n,cpu,2024-05-01T10:07:00,8",  # line 9: naive
            "a,c,n,cpu,2024-05-01T10:08:00Z,1_000",  # line 10: grouped digits
            "a,c,n,cpu,2024-05-01T10:09:00Z,10",  # line 11: fine
        )
    )
    assert series[0].values.tolist() == [1.0, 10.0]
    got = [(i.row, i.action) for i in report.issues]
    assert got == [(r, "refused") for r in (3, 4, 5, 6, 7, 8, 9, 10)]
    reasons = [i.reason for i in report.refused]
    assert reasons[0] == "empty value"
    assert "timestamp 'yesterday' is not ISO 8601" in reasons[1]
    assert reasons[2] == "empty cluster id"
    assert reasons[3] == "value 'nan' is not a finite number"
    assert reasons[4] == "expected 6 fields as in the header, got 5"
    assert reasons[5] == "value '1e999' is too large for a float"
    assert "has no UTC offset; pass timezone=" in reasons[6]
    assert reasons[7] == "value '1_000' is not a number"
    assert str(report.refused[0]) == "line 3: refused: empty value"
    assert report.rows == 10 and report.points == 2


def test_strict_raises_on_the_first_bad_row() -> None:
    """strict=True raises LoadError (a ValueError) naming the source, the line and the reason."""
    with pytest.raises(LoadError, match=r"^<stream>: line 3: refused: value 'x' is not a number$") as info:
        read_csv(_csv("a,c,n,cpu,2024-05-01T10:00:00Z,1", "a,c,n,cpu,2024-05-01T10:01:00Z,x"), strict=True)
    assert isinstance(info.value, ValueError)
    assert info.value.issue.row == 3


def test_refused_rows_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A load that refused rows logs its summary as a warning."""
    with caplog.at_level(logging.WARNING, logger="backend.analytics.io._csv"):
        read_csv(_csv("a,c,n,cpu,2024-05-01T10:00:00Z,x"))
    assert "1 refused" in caplog.text


DUPS = (
    "a,c,n,cpu,2024-05-01T10:00:00Z,1",  # line 2
    "a,c,n,cpu,2024-05-01T10:01:00Z,2",  # line 3
    "a,c,n,cpu,2024-05-01T12:01:00+02:00,4",  # line 4: the same instant as line 3
    "a,c,n,cpu,2024-05-01T10:01:00Z,9",  # line 5: and again
)


def test_duplicates_error_names_both_lines() -> None:
    """duplicates='error' (the default) raises LoadError naming the repeated line and the first one."""
    with pytest.raises(
        LoadError,
        match=r"line 4: refused: duplicate timestamp 2024-05-01T10:01:00\+00:00 "
        r"for series a/c/n/cpu, also at line 3; pass duplicates=",
    ):
        read_csv(_csv(*DUPS))


def test_duplicates_first_keeps_the_first_row() -> None:
    """duplicates='first' keeps the first row of the instant and reports the others as merged."""
    series, report = read_csv(_csv(*DUPS), duplicates="first")
    assert series[0].values.tolist() == [1.0, 2.0]
    assert [(i.row, i.action) for i in report.issues] == [(4, "merged"), (5, "merged")]
    assert "value 4.0 dropped, 2.0 kept (duplicates='first')" in report.issues[0].reason


def test_duplicates_last_keeps_the_last_row() -> None:
    """duplicates='last' keeps the last row in file order and reports the earlier ones as merged."""
    series, report = read_csv(_csv(*DUPS), duplicates="last")
    assert series[0].values.tolist() == [1.0, 9.0]
    assert [(i.row, i.action) for i in report.issues] == [(3, "merged"), (4, "merged")]
    assert report.issues[0].reason.startswith("same series and timestamp as line 5")


def test_duplicates_mean_averages_and_reports_every_row() -> None:
    """duplicates='mean' averages the rows of an instant; each of them is reported as merged."""
    series, report = read_csv(_csv(*DUPS), duplicates="mean")
    assert series[0].values.tolist() == [1.0, 5.0]
    assert [(i.row, i.action) for i in report.issues] == [(3, "merged"), (4, "merged"), (5, "merged")]
    assert report.issues[0].timestamp == T0 + timedelta(minutes=1)
    assert "averaged into 5.0" in report.issues[2].reason


def test_duplicates_mean_of_huge_values_does_not_overflow() -> None:
    """The mean of values whose sum overflows a float is still the finite mean."""
    series, _ = read_csv(
        _csv("a,c,n,m,2024-05-01T10:00:00Z,1.5e308", "a,c,n,m,2024-05-01T10:00:00Z,1.5e308"),
        duplicates="mean",
    )
    assert series[0].values.tolist() == [1.5e308]


def test_bad_duplicate_policy() -> None:
    """An unknown duplicates= value is a ValueError listing the policies."""
    with pytest.raises(
        ValueError, match="duplicates must be one of 'error', 'first', 'last', 'mean', got 'max'"
    ):
        read_csv(_csv(), duplicates="max")


def test_out_of_order_rows_are_sorted_and_reported() -> None:
    """Rows are put in time order per series; each row that came after a later one is reported changed."""
    series, report = read_csv(
        _csv(
            "a,c,n,cpu,2024-05-01T10:02:00Z,3",
            "a,c,n,cpu,2024-05-01T10:00:00Z,1",
            "b,c,n,cpu,2024-05-01T10:00:00Z,7",
            "a,c,n,cpu,2024-05-01T10:01:00Z,2",
        )
    )
    assert [s.ids[0] for s in series] == ["a", "b"]
    assert series[0].values.tolist() == [1.0, 2.0, 3.0]
    assert [(i.row, i.action) for i in report.issues] == [(3, "changed"), (5, "changed")]
    assert (
        "is earlier than 2024-05-01T10:02:00+00:00 (line 2), which the file gives before it; "
        "moved into time order"
    ) in report.issues[0].reason


def test_naive_timestamps_need_a_timezone() -> None:
    """timezone= applies to naive timestamps only; aware ones keep their own offset."""
    rows = ("a,c,n,cpu,2024-05-01 12:00:00,1", "a,c,n,cpu,2024-05-01T10:01:00+00:00,2")
    series, report = read_csv(_csv(*rows), timezone="Europe/Paris")
    assert report.clean
    assert list(series[0].timestamps) == [T0, T0 + timedelta(minutes=1)]


def test_local_times_that_repeat_or_do_not_exist_are_refused() -> None:
    """A naive time in a DST fold or gap of the given zone is refused: either reading would be a guess."""
    _, report = read_csv(
        _csv(
            "a,c,n,cpu,2024-03-31 02:30:00,1",  # clocks went forward: 02:30 never happened in Paris
            "a,c,n,cpu,2024-10-27 02:30:00,2",  # clocks went back: 02:30 happened twice
            "a,c,n,cpu,2024-10-27 04:30:00,3",
        ),
        timezone="Europe/Paris",
    )
    assert [i.row for i in report.refused] == [2, 3]
    assert "does not exist in Europe/Paris (clocks went forward)" in report.refused[0].reason
    assert "happens twice in Europe/Paris (clocks went back)" in report.refused[1].reason


def test_unknown_timezone_name() -> None:
    """An unknown zone name is a ValueError naming it."""
    with pytest.raises(ValueError, match=r"timezone must be an IANA zone name .* got 'Mars/Olympus'"):
        read_csv(_csv(), timezone="Mars/Olympus")


@pytest.mark.parametrize("name", ["America", "Etc", "America/"])
def test_timezone_folder_name_is_an_unknown_zone(name: str) -> None:
    """A tz folder ('America', which zoneinfo opens as a directory) is refused like an unknown zone."""
    with pytest.raises(ValueError, match=rf"timezone must be an IANA zone name .* got '{name}'"):
        read_csv(_csv(), timezone=name)


@pytest.mark.parametrize(
    ("fmt", "text"),
    [("epoch_s", "1714557600"), ("epoch_ms", "1714557600000"), ("epoch_us", "1714557600000000")],
)
def test_epoch_formats(fmt: str, text: str) -> None:
    """Epoch seconds, milliseconds and microseconds are UTC instants."""
    series, report = read_csv(_csv(f"a,c,n,cpu,{text},1"), timestamp_format=fmt)
    assert series[0].timestamps[0] == T0 and report.clean


def test_epoch_finer_than_a_microsecond_is_rounded_and_reported() -> None:
    """A sub-microsecond epoch is rounded (half to even) and the row reported as changed."""
    series, report = read_csv(_csv("a,c,n,cpu,1714557600.0000015,1"), timestamp_format="epoch_s")
    assert series[0].epoch_us[0] == 1714557600000002
    assert [i.action for i in report.issues] == ["changed"]
    assert "finer than a microsecond; rounded to 2024-05-01T10:00:00.000002+00:00" in report.issues[0].reason


def test_iso_finer_than_a_microsecond_is_rounded_and_reported() -> None:
    """ISO seconds with more than 6 digits are rounded (half to even) and reported, as the epoch formats are.

    fromisoformat alone would drop the 7th digit on: .1234567 would load as .123456 without a word.
    """
    series, report = read_csv(
        _csv(
            "a,c,n,cpu,2024-05-01T10:00:00.1234567Z,1",  # up
            "a,c,n,cpu,2024-05-01T10:00:01.0000025Z,2",  # a half: to the even microsecond, .000002
            "a,c,n,cpu,2024-05-01T10:00:02.0000035Z,3",  # a half: to the even microsecond, .000004
            "a,c,n,cpu,2024-05-01 12:00:03.999999900+02:00,4",  # up into the next second, offset kept
            "a,c,n,cpu,2024-05-01T10:00:05.123456000Z,5",  # exact: not changed
        )
    )
    us = 1714557600_000000
    assert series[0].epoch_us.tolist() == [
        us + 123457, us + 1_000002, us + 2_000004, us + 4_000000, us + 5_123456
    ]
    assert [(i.row, i.action) for i in report.issues] == [(r, "changed") for r in (2, 3, 4, 5)]
    assert report.issues[0].reason == (
        "timestamp '2024-05-01T10:00:00.1234567Z' is finer than a microsecond; "
        "rounded to 2024-05-01T10:00:00.123457+00:00"
    )
    assert "rounded to 2024-05-01T10:00:04+00:00" in report.issues[3].reason
    # Two nanosecond stamps in one microsecond round to the same instant: a duplicate, named as such.
    with pytest.raises(LoadError, match=r"line 3: refused: duplicate timestamp .* also at line 2"):
        read_csv(_csv("a,c,n,cpu,2024-05-01T10:00:00.1234561Z,1", "a,c,n,cpu,2024-05-01T10:00:00.1234564Z,2"))
    # Stamps a microsecond apart stay apart (they used to be truncated onto one microsecond).
    series, _ = read_csv(
        _csv("a,c,n,cpu,2024-05-01T10:00:00.1234564Z,1", "a,c,n,cpu,2024-05-01T10:00:00.1234566Z,2")
    )
    assert series[0].epoch_us.tolist() == [us + 123456, us + 123457]
    # An offset finer than a microsecond is refused rather than cut.
    _, report = read_csv(_csv("a,c,n,cpu,2024-05-01T10:00:00+01:00:00.1234567,1"))
    assert [i.reason for i in report.refused] == [
        "timestamp '2024-05-01T10:00:00+01:00:00.1234567' has a UTC offset finer than a microsecond"
    ]


def test_strptime_format() -> None:
    """Any other format string is a strptime format; naive results take timezone=."""
    series, _ = read_csv(
        _csv("a,c,n,cpu,01/05/2024 10h00,1"), timestamp_format="%d/%m/%Y %Hh%M", timezone="UTC"
    )
    assert series[0].timestamps[0] == T0


def test_bad_timestamp_format_argument() -> None:
    """A format that is neither a known name nor a strptime format is refused up front."""
    with pytest.raises(ValueError, match=r"timestamp_format must be 'iso', 'epoch_s'.* got 'epoch_days'"):
        read_csv(_csv(), timestamp_format="epoch_days")


def test_blank_lines_are_skipped_and_line_numbers_stay_physical() -> None:
    """Blank lines are not rows; line numbers still count them, as an editor does."""
    _, report = read_csv(io.StringIO(HEADER + "\na,c,n,cpu,2024-05-01T10:00:00Z,1\n\na,c,n,cpu,bad,1\n"))
    assert report.rows == 2
    assert [i.row for i in report.refused] == [5]


def test_multiline_quoted_field_reports_its_first_line() -> None:
    """A record spanning lines is named by the line where it starts."""
    text = HEADER + 'a,c,"n\nx",cpu,2024-05-01T10:00:00Z,1\na,c,n,cpu,2024-05-01T10:00:00Z,oops\n'
    series, report = read_csv(io.StringIO(text))
    assert series[0].node_id == "n\nx"
    assert [i.row for i in report.refused] == [4]


def test_empty_file_and_repeated_header() -> None:
    """An empty file and a header that repeats a name are ValueErrors."""
    with pytest.raises(ValueError, match="is empty; expected a header line"):
        read_csv(io.StringIO(""))
    with pytest.raises(ValueError, match="the header repeats 'value'"):
        read_csv(io.StringIO("tenant_id,cluster_id,node_id,metric_name,timestamp,value,value\n"))


def test_write_csv_then_read_csv_gives_equal_series(tmp_path: Path) -> None:
    """write_csv output reads back to equal series, also with custom column names."""
    s1 = MetricSeries("a", "c", "n", "cpu", [T0, T0 + timedelta(seconds=1)], [0.1, -3e-300])
    s2 = MetricSeries("b", "c", "n", "mem", [T0], [1e308])
    path = tmp_path / "out.csv"
    cols = {"tenant": "t", "timestamp": "time"}
    assert write_csv([s1, s2], path, columns=cols) == 3
    assert path.read_text().splitlines()[0] == "t,cluster_id,node_id,metric_name,time,value"
    series, report = read_csv(path, columns=cols)
    assert series == [s1, s2] and report.clean
    assert report.source == str(path)


def test_docs_example_file_loads_as_documented() -> None:
    """docs/examples/metrics.csv loads with the options docs/sources.md shows, and its report says why."""
    series, report = read_csv(
        DOCS_EXAMPLE,
        columns={
            "cluster": "region",
            "node": "host",
            "metric": "metric",
            "timestamp": "time",
            "value": "value",
        },
        ids={"tenant": "acme"},
        timezone="Europe/Paris",
        duplicates="last",
    )
    assert {s.node_id for s in series} == {"web-1", "web-2"}
    assert len(report.refused) == 2 and len(report.merged) == 1 and len(report.changed) == 1


LATIN1_ROWS = HEADER + "a,c,n,cpu,2024-05-01T10:00:00Z,1\na,c,n,café,2024-05-01T10:01:00Z,2\n"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_a_latin1_file_names_the_file_the_line_and_utf8(tmp_path: Path, newline: str) -> None:
    """Bytes that are not UTF-8: a LoadError naming the file, the line and the bytes; UTF-8 is expected."""
    path = tmp_path / "latin1.csv"
    path.write_bytes(LATIN1_ROWS.replace("\n", newline).encode("latin-1"))
    expected = (
        f"{path}: line 3: refused: not UTF-8 text: byte 0xe9 after 'a,c,n,caf' cannot be decoded; "
        "convert it to UTF-8, or pass encoding= (e.g. 'latin-1') to read_csv (--encoding latin-1)"
    )
    with pytest.raises(LoadError) as caught:
        read_csv(path)
    assert str(caught.value) == expected and caught.value.issue.row == 3
    # A file the caller opened: read again by name to find the line.
    with path.open(encoding="utf-8", newline="") as fh, pytest.raises(LoadError) as caught:
        read_csv(fh)
    assert str(caught.value) == expected
    # A stream that cannot be read again: the lines read so far, and the bytes with what precedes them.
    stream = io.TextIOWrapper(io.BytesIO(LATIN1_ROWS.encode("latin-1")), encoding="utf-8", newline="")
    with pytest.raises(LoadError, match=r"<stream>: line 1 or later: refused: not UTF-8 text: byte 0xe9 aft"):
        read_csv(stream)
    series, report = read_csv(path, encoding="latin-1")
    assert series[1].metric_name == "café" and report.clean


def test_a_utf16_file_says_it_is_utf16(tmp_path: Path) -> None:
    """A UTF-16 file (a byte-order mark FF FE first): named as such at line 1, with the encoding to pass."""
    path = tmp_path / "utf16.csv"
    path.write_text(LATIN1_ROWS, encoding="utf-16")
    with pytest.raises(LoadError) as caught:
        read_csv(path)
    assert str(caught.value) == (
        f"{path}: line 1: refused: not UTF-8 text: it starts with a UTF-16 byte-order mark; "
        "convert it to UTF-8, or pass encoding='utf-16' to read_csv (--encoding utf-16)"
    )
    assert read_csv(path, encoding="utf-16").series[1].metric_name == "café"
    with pytest.raises(LoadError, match=r"line 1: refused: not 'ascii' text: byte 0xff at the start of"):
        read_csv(path, encoding="ascii")


@pytest.mark.parametrize("first", ["tenant_id", '"tenant_id"'])
def test_a_text_stream_starting_with_a_byte_order_mark_reads_its_header(first: str) -> None:
    """A stream (not a path) keeps a byte-order mark as U+FEFF: it is not part of the first column's name."""
    text = "\ufeff" + first + HEADER[len("tenant_id") :] + "a,c,n,cpu,2024-05-01T10:00:00Z,1\n"
    series, report = read_csv(io.StringIO(text))
    assert series[0].ids == ("a", "c", "n", "cpu") and report.clean


def test_a_quote_that_never_closes_names_every_line_it_took_in() -> None:
    """A stray opening quote takes in the lines after it: the issue names them all, not line 5 alone."""
    rows = [f"a,c,n,cpu,2024-05-01T10:{m:02d}:00Z,{m}" for m in range(40)]
    rows[3] = 'a,c,"n,cpu,2024-05-01T10:03:00Z,3'
    series, report = read_csv(io.StringIO(HEADER + "\n".join(rows) + "\n"))
    [issue] = report.refused
    assert issue.row == 5 and issue.where == "lines 5-41"
    assert "lines 5-41 were read as one field" in issue.reason
    assert len(series[0]) == 3


def test_repeated_header_names_matter_only_in_columns_the_load_reads() -> None:
    """A spreadsheet export ending in ",," (two empty names) loads; a repeated name the load reads is
    refused; blank lines before the header are skipped."""
    text = "\n\n" + HEADER.rstrip("\n") + ",,\n" + "a,c,n,cpu,2024-05-01T10:00:00Z,1,,\n"
    series, report = read_csv(io.StringIO(text))
    assert [s.values.tolist() for s in series] == [[1.0]] and report.clean
    with pytest.raises(ValueError, match="the header repeats 'value'"):
        read_csv(io.StringIO(HEADER.rstrip("\n") + ",value\n"))


def test_a_zone_name_in_the_format_is_read_as_utc_or_refused() -> None:
    """strptime reads %Z and drops it: "00:00:00 UTC" was read in timezone= (two hours off in Paris) or
    refused as having no offset. UTC and GMT are UTC; another zone name is refused, not guessed."""
    text = (
        "node_id,time,value\nn,2024-05-01 00:00:00 UTC,1\nn,2024-05-01 00:05:00 GMT,2\n"
        "n,2024-05-01 00:10:00 CET,3\n"
    )
    ids = {"tenant": "t", "cluster": "c", "metric": "m"}
    for zone in (None, "Europe/Paris"):
        series, report = read_csv(
            io.StringIO(text),
            columns={"timestamp": "time"},
            ids=ids,
            timestamp_format="%Y-%m-%d %H:%M:%S %Z",
            timezone=zone,
        )
        stamps = [t.isoformat() for t in series[0].timestamps]
        assert stamps == ["2024-05-01T00:00:00+00:00", "2024-05-01T00:05:00+00:00"], zone
        [issue] = report.refused  # (CET: strptime knows only UTC, GMT and this machine's zone names)
        assert issue.row == 4 and "CET" in issue.reason


def test_utf16_without_a_byte_order_mark_says_so_and_the_cli_takes_an_encoding(tmp_path: Path) -> None:
    """UTF-16 without a BOM decodes as UTF-8 with a NUL beside every letter: named, with the encoding to
    pass; the command line takes --encoding (its hint told a CLI user to "pass encoding= to read_csv")."""
    from backend.analytics.cli import main

    path = tmp_path / "u16le.csv"
    path.write_bytes(LATIN1_ROWS.encode("utf-16-le"))
    with pytest.raises(ValueError, match=r"looks like UTF-16 .*pass encoding='utf-16-le'"):
        read_csv(path)  # (a byte that is not UTF-8: é is e9 00)
    ascii_only = tmp_path / "ascii16.csv"
    ascii_only.write_bytes(HEADER.encode("utf-16-le"))
    with pytest.raises(ValueError, match=r"the header holds NUL characters: the file looks like UTF-16"):
        read_csv(ascii_only)  # (valid UTF-8, with a NUL beside every letter)
    assert read_csv(path, encoding="utf-16-le").series[1].metric_name == "café"
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(LATIN1_ROWS.encode("latin-1"))
    db = tmp_path / "s.db"
    assert main(["load", "csv", str(latin), "--store", str(db), "--encoding", "latin-1"]) == 0
    assert main(["load", "csv", str(path), "--store", str(db), "--encoding", "utf-16-le"]) == 0


def test_a_row_holding_a_nul_character_is_refused_on_every_python() -> None:
    """A NUL in an id (Python 3.11's csv reads it in) or anywhere in a line (3.10's csv refuses the line)
    refuses that row, named; the other rows load."""
    header = "tenant_id,cluster_id,node_id,metric_name,timestamp,value\n"
    rows = (
        "t,c,n\x00x,m,2024-05-01T00:00:00Z,1\n"
        "t,c,n,m,2024-05-01T00:01:00Z,2\x00\n"
        "t,c,n,m,2024-05-01T00:02:00Z,3\n"
    )
    loaded = read_csv(io.StringIO(header + rows))
    assert loaded.report.points == 1 and [s.node_id for s in loaded.series] == ["n"]
    issues = loaded.report.issues
    assert [(i.row, i.action) for i in issues] == [(2, "refused"), (3, "refused")]
    assert "NUL character" in issues[0].reason
    assert "NUL character" in issues[1].reason or "'2\\x00' is not a number" in issues[1].reason
