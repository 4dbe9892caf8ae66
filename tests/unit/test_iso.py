"""backend.analytics._iso: ISO 8601 read the same on Python 3.10 as on 3.11 and later."""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.analytics._iso import parse_iso, rewrite_for_310

# What Python 3.10's fromisoformat reads: isoformat()'s own output.
STRICT_310 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:.[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?"
    r"(?:[+-][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{6})?)?)?)?",
    re.DOTALL,
)

FORMS = [
    "2024-05-01",
    "20240501",
    "2024-W18-3",
    "2024W183",
    "2024-W18",
    "2024-05-01T10",
    "2024-05-01T1000",
    "2024-05-01T100000",
    "20240501T100000Z",
    "20240501T10:00:00",
    "2024-05-01 10:00:00",
    "2024-05-01T10:00:00.1Z",
    "2024-05-01T10:00:00.12Z",
    "2024-05-01T10:00:00.1234+02:00",
    "2024-05-01T10:00:00.12345-05:30",
    "2024-05-01T10:00:00,5",
    "2024-05-01T10:00:00.1234567",
    "2024-05-01T10:00:00+01",
    "2024-05-01T10:00:00+0130",
    "2024-05-01T10:00:00-00:00",
    "2024-05-01T10:00:00+01:30:15",
    "2024-05-01T10:00:00+01:30:15.25",
    "2024-05-01T10:00+01:00",
]


@pytest.mark.parametrize("text", FORMS)
def test_each_form_reads_as_python_311_reads_it(text: str) -> None:
    rewritten = rewrite_for_310(text)
    assert STRICT_310.fullmatch(rewritten), rewritten
    assert datetime.fromisoformat(rewritten) == parse_iso(text)
    if sys.version_info >= (3, 11):
        assert parse_iso(text) == datetime.fromisoformat(text)


def test_a_lowercase_z_is_utc() -> None:
    assert parse_iso("2024-05-01T10:00:00.12z") == datetime(2024, 5, 1, 10, 0, 0, 120000, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text", ["", "2024-05", "2024-0501", "202405-01", "2024-05-01T10:0000", "2024-05-01T", "yesterday"]
)
def test_text_311_refuses_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_iso(text)
    with pytest.raises(ValueError):
        datetime.fromisoformat(rewrite_for_310(text))


@pytest.mark.parametrize("text", ["2024-13-01", "2024-05-01T24:00", "2024-05-01T10:00:60", "2024-W54-1"])
def test_values_out_of_range_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_iso(text)
    with pytest.raises(ValueError):
        datetime.fromisoformat(rewrite_for_310(text))


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.sampled_from([None, 0, 90, -330, 14 * 60]),
    st.sampled_from(["T", " "]),
    st.booleans(),
    st.integers(min_value=1, max_value=9),
    st.booleans(),
)
def test_generated_times_read_alike(
    when: datetime, minutes: int | None, sep: str, basic: bool, digits: int, comma: bool
) -> None:
    """Any instant written in the extended or the basic format, with 1 to 9 digits of a second's
    fraction and a comma or a point, reads as 3.11 reads it."""
    fraction = f"{when.microsecond:06d}000"[:digits]
    point = "," if comma else "."
    w = when
    if basic:
        text = f"{w.year:04d}{w.month:02d}{w.day:02d}{sep}{w.hour:02d}{w.minute:02d}{w.second:02d}"
    else:
        text = f"{w.year:04d}-{w.month:02d}-{w.day:02d}{sep}{w.hour:02d}:{w.minute:02d}:{w.second:02d}"
    text += point + fraction
    if minutes is not None:
        zone = timezone(timedelta(minutes=minutes))
        text += "Z" if minutes == 0 else datetime(2000, 1, 1, tzinfo=zone).strftime("%z")
    rewritten = rewrite_for_310(text)
    assert STRICT_310.fullmatch(rewritten), rewritten
    if sys.version_info >= (3, 11):
        assert datetime.fromisoformat(rewritten) == datetime.fromisoformat(text)
