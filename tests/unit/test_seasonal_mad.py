"""robust_sd's median absolute deviation by bisection, not by sorting every deviation.

The deviations ``abs(v - med)`` of sorted values fall towards ``med`` and rise
after it: :func:`_middle_deviation` picks an order statistic of them from those
two sorted runs. It must be the very float that sorting them all gives, ties,
zeros and centres between the values included.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics._seasonal import _middle_deviation, robust_sd

# Finite floats, often repeated (quantised metrics) and with both zeros.
_VALUES = st.lists(
    st.one_of(
        st.floats(allow_nan=False, allow_infinity=False, width=64),
        st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.1, 0.3, 2.5]),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=500, deadline=None)
@given(_VALUES, st.data())
def test_middle_deviation_is_that_of_the_sorted_deviations(values: list[float], data: st.DataObject) -> None:
    s = sorted(values)
    n = len(s)
    median = (s[(n - 1) // 2] + s[n // 2]) / 2.0
    centre = data.draw(st.one_of(st.just(median), st.sampled_from(s), st.floats(min(s), max(s))))
    i = data.draw(st.integers(0, n - 1))
    dev = sorted(abs(v - centre) for v in s)
    assert _middle_deviation(s, centre, i).hex() == dev[i].hex()


def test_ints_whose_total_passes_the_float_range_are_no_error() -> None:
    # (The check for nan and inf sums as floats: an int total would not convert.)
    values = [0, 1, 2, 3] * 300 + [10**306] * 500
    assert robust_sd(values) == robust_sd([float(v) for v in values]) > 0.0
