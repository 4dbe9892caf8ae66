"""Round-trip and order-independence properties of the CSV loader."""

from __future__ import annotations

import csv
import io
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics import MetricSeries
from backend.analytics.io import read_csv, write_csv

from .strategies import finite, series


def _distinct(items: list[MetricSeries]) -> list[MetricSeries]:
    seen: dict[tuple[str, str, str, str], MetricSeries] = {}
    for s in items:
        if len(s):
            seen.setdefault(s.ids, s)
    return list(seen.values())


fleets = st.lists(series(min_size=1, max_size=25, values=finite), max_size=4).map(_distinct)


@settings(max_examples=60, deadline=None)
@given(fleets)
def test_series_to_csv_to_series(items: list[MetricSeries]) -> None:
    """write_csv then read_csv gives back the same series, in order, with a clean report."""
    buf = io.StringIO()
    rows = write_csv(items, buf)
    buf.seek(0)
    back, report = read_csv(buf)
    assert back == items
    assert report.clean and report.rows == rows == sum(len(s) for s in items)


@settings(max_examples=60, deadline=None)
@given(fleets)
def test_csv_to_series_to_csv(items: list[MetricSeries]) -> None:
    """A file written by write_csv, read and written again, is the same text."""
    first = io.StringIO()
    write_csv(items, first)
    back, _ = read_csv(io.StringIO(first.getvalue()))
    second = io.StringIO()
    write_csv(back, second)
    assert second.getvalue() == first.getvalue()


@settings(max_examples=60, deadline=None)
@given(fleets, st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(items: list[MetricSeries], seed: int) -> None:
    """Shuffled rows give the same points; every row that came after a later one is reported changed."""
    buf = io.StringIO()
    write_csv(items, buf)
    header, *rows = buf.getvalue().splitlines()
    random.Random(seed).shuffle(rows)
    back, report = read_csv(io.StringIO("\n".join([header, *rows]) + "\n"))
    assert sorted(back, key=lambda s: s.ids) == sorted(items, key=lambda s: s.ids)
    latest: dict[tuple[str, ...], str] = {}
    descents = set()
    for line, row in enumerate(csv.reader(rows), start=2):
        key = tuple(row[:4])
        if key in latest and row[4] < latest[key]:  # same offset everywhere: text order is time order
            descents.add(line)
        latest[key] = max(latest.get(key, row[4]), row[4])
    assert {i.row for i in report.changed} == descents
    assert not report.refused and not report.merged


@settings(max_examples=60, deadline=None)
@given(series(min_size=1, max_size=20, values=finite), st.data())
def test_duplicates_last_keeps_the_last_written_value(s: MetricSeries, data: st.DataObject) -> None:
    """Appending rows that repeat instants with new values: duplicates='last' gives the new values."""
    picks = data.draw(st.lists(st.integers(0, len(s) - 1), min_size=1, max_size=5, unique=True))
    new = {i: data.draw(finite) for i in picks}
    buf = io.StringIO()
    write_csv([s], buf)
    extra = io.StringIO()
    order = sorted(new)
    write_csv([MetricSeries(*s.ids, [s.timestamps[i] for i in order], [new[i] for i in order])], extra)
    text = buf.getvalue() + "".join(extra.getvalue().splitlines(keepends=True)[1:])
    back, report = read_csv(io.StringIO(text), duplicates="last")
    expected = [new.get(i, v) for i, v in enumerate(s.values)]
    assert back[0].values.tolist() == expected
    assert len(report.merged) == len(new) and not report.refused
