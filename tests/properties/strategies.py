"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from backend.analytics import MetricSeries

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)

ids = st.text(alphabet="abcxyz-0123", min_size=1, max_size=6)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
moderate = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def epoch_offsets(draw: st.DrawFn, min_size: int = 0, max_size: int = 60) -> list[int]:
    """Strictly ascending second offsets with irregular gaps."""
    gaps = draw(st.lists(st.integers(1, 600), min_size=min_size, max_size=max_size))
    out, t = [], 0
    for g in gaps:
        t += g
        out.append(t)
    return out


@st.composite
def series(
    draw: st.DrawFn,
    min_size: int = 0,
    max_size: int = 60,
    values: st.SearchStrategy[float] = moderate,
    tenant: st.SearchStrategy[str] | None = None,
) -> MetricSeries:
    """A valid MetricSeries with irregular timestamps and (by default) moderate values."""
    offsets = draw(epoch_offsets(min_size, max_size))
    vals = draw(st.lists(values, min_size=len(offsets), max_size=len(offsets)))
    return MetricSeries(
        draw(tenant) if tenant is not None else draw(ids),
        draw(ids),
        draw(ids),
        draw(ids),
        [T0 + timedelta(seconds=o) for o in offsets],
        vals,
    )
